"""The standard kernel library, written in the kernel language: `kernels/<family>/<name>.py`.

Each file defines one `@hg.kernel` named after the file (`kernels/vector/vector_add.py`
defines `vector_add`), plus the `@hg.func` helpers it owns. `hologram.ops` dispatches to these
kernels; `hologram kernels list` and `hologram kernels compile` walk the same files.

    from hologram import kernels
    add = kernels.load("vector/vector_add")
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from hologram.errors import HologramError, KernelError

if TYPE_CHECKING:
    from hologram.dsl.kernel import Kernel

ROOT = Path(__file__).resolve().parent
"""The directory of the standard library's kernel files."""


@dataclass(frozen=True)
class KernelFile:
    """One kernel source file, `family/name.py` under `root`; `load()` imports its kernel."""

    root: Path
    family: str
    name: str
    path: Path
    stdlib: bool

    @property
    def key(self) -> str:
        """`family/name`, the kernel's path in the library and in bundles."""
        return f"{self.family}/{self.name}" if self.family else self.name

    @property
    def relative(self) -> str:
        """The file's path under its root."""
        return self.path.relative_to(self.root).as_posix()

    def load(self) -> Kernel:
        """The kernel this file defines.

        A standard-library file is imported as its module; another file is imported from its
        path (running its module code, as `python file.py` would). A failed import raises
        `KernelError` located at the line of this file that raised.
        """
        if self.stdlib:
            return load(self.key)
        module_name = "_hologram_user_kernels." + self.key.replace("/", ".")
        try:
            spec = importlib.util.spec_from_file_location(module_name, self.path)
            if spec is None or spec.loader is None:
                raise KernelError("cannot import", file=str(self.path))
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
        except HologramError:
            raise
        except Exception as exc:
            raise _import_error(self.path, exc) from exc
        return _kernel_of(module, self.name, self.key)


@cache
def load(key: str) -> Kernel:
    """The standard-library kernel `family/name` (imported on first use)."""
    family, _, name = key.rpartition("/")
    module_name = "hologram.kernels." + ".".join(p for p in (*family.split("/"), name) if p)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        raise KernelError(f"no standard kernel {key!r}") from None
    return _kernel_of(module, name, key)


def discover(root: Path | str | None = None) -> list[KernelFile]:
    """Every kernel file under `root` (default: the standard library), sorted by path.

    Files and directories whose names start with `_` are helpers, not kernels. Nothing is
    imported: each file's `load()` does that, so one broken file does not hide the others.
    """
    base = ROOT if root is None else Path(root).resolve()
    if not base.is_dir():
        raise KernelError(f"{base} is not a directory")
    found = []
    for path in sorted(base.rglob("*.py")):
        rel = path.relative_to(base)
        if any(part.startswith("_") for part in rel.parts):
            continue
        family = rel.parent.as_posix() if rel.parent != Path(".") else ""
        found.append(KernelFile(base, family, path.stem, path, root is None))
    return found


def _import_error(path: Path, exc: Exception) -> KernelError:
    """`exc` from importing `path`, located at the line of `path` that raised it."""
    line = col = None
    if isinstance(exc, SyntaxError) and exc.filename and Path(exc.filename) == path:
        line, col = exc.lineno, exc.offset
    else:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == path]
        line = frames[-1].lineno if frames else None
    return KernelError(f"importing failed: {type(exc).__name__}: {exc}", str(path), line, col)


def _kernel_of(module: object, name: str, key: str) -> Kernel:
    from hologram.dsl.kernel import Kernel

    kernel = getattr(module, name, None)
    if not isinstance(kernel, Kernel):
        raise KernelError(f"kernel file {key!r} defines no @hg.kernel named {name!r}")
    return kernel


__all__ = ["ROOT", "KernelFile", "discover", "load"]
