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
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from hologram.errors import KernelError

if TYPE_CHECKING:
    from hologram.dsl.kernel import Kernel

ROOT = Path(__file__).resolve().parent
"""The directory of the standard library's kernel files."""


@dataclass(frozen=True)
class KernelFile:
    """One kernel source file: `family/name.py` under a root, and the kernel it defines."""

    family: str
    name: str
    path: Path
    kernel: Kernel

    @property
    def key(self) -> str:
        """`family/name`, the kernel's path in the library and in bundles."""
        return f"{self.family}/{self.name}" if self.family else self.name


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

    Files and directories whose names start with `_` are helpers, not kernels. A file under
    another root is imported from its path (running its module code, as `python file.py`
    would); a file that defines no kernel named after it raises `KernelError`.
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
        key = f"{family}/{path.stem}" if family else path.stem
        kernel = load(key) if root is None else _load_file(path, key)
        found.append(KernelFile(family, path.stem, path, kernel))
    return found


def _load_file(path: Path, key: str) -> Kernel:
    module_name = "_hologram_user_kernels." + key.replace("/", ".")
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise KernelError(f"{path}: cannot import")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise KernelError(f"{path}: importing failed: {type(exc).__name__}: {exc}") from exc
    return _kernel_of(module, path.stem, key)


def _kernel_of(module: object, name: str, key: str) -> Kernel:
    from hologram.dsl.kernel import Kernel

    kernel = getattr(module, name, None)
    if not isinstance(kernel, Kernel):
        raise KernelError(f"kernel file {key!r} defines no @hg.kernel named {name!r}")
    return kernel


__all__ = ["ROOT", "KernelFile", "discover", "load"]
