"""The ONNX operator registry: one file per op under `onnx/ops/`, registered by decorator.

    @onnx_op("Relu", since=6)
    def relu(ctx: OpContext) -> None:
        ...

An op function lowers one node for concrete input types (see `compiler.context.OpContext`):
it declares its outputs and records the kernel launches that compute them. `since` and
`until` bound the opset versions the function implements (both inclusive), so an op whose
semantics changed is two registrations in the same file.

Ops are found by file name: `load_all()` imports every `ops/op_*.py` once.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hologram.errors import UnsupportedOpError

if TYPE_CHECKING:
    from hologram.compiler.context import OpContext

OpFunction = Callable[["OpContext"], None]

HOLOGRAM_DOMAIN = "ai.hologram"
"""The domain of the compiler's own nodes (fused kernels)."""


@dataclass(frozen=True)
class OpEntry:
    """One registration: an op of a domain, for opsets `since` to `until`."""

    op_type: str
    domain: str
    since: int
    until: int | None
    function: OpFunction
    pure: bool
    """False for ops whose result is not a function of the inputs (random numbers): never
    folded at compile time."""


_REGISTRY: dict[tuple[str, str], list[OpEntry]] = {}
_LOADED = False


def onnx_op(
    op_type: str,
    since: int = 1,
    until: int | None = None,
    domain: str = "",
    pure: bool = True,
) -> Callable[[OpFunction], OpFunction]:
    """Register the decorated function as `op_type`'s lowering for opsets since..until."""

    def register(function: OpFunction) -> OpFunction:
        entries = _REGISTRY.setdefault((domain, op_type), [])
        for entry in entries:
            overlaps = entry.since <= (until or 10**6) and since <= (entry.until or 10**6)
            if overlaps and entry.function is not function:
                raise ValueError(
                    f"{op_type} is registered twice for overlapping opsets "
                    f"({entry.since}..{entry.until} and {since}..{until})"
                )
        entries.append(OpEntry(op_type, domain, since, until, function, pure))
        return function

    return register


def load_all() -> None:
    """Import every `hologram/onnx/ops/op_*.py` (once)."""
    global _LOADED
    if _LOADED:
        return
    from hologram.onnx import ops

    for info in sorted(pkgutil.iter_modules(ops.__path__), key=lambda m: m.name):
        if info.name.startswith("op_"):
            importlib.import_module(f"hologram.onnx.ops.{info.name}")
    _LOADED = True


def lookup(op_type: str, domain: str, opset: int, where: str = "") -> OpEntry:
    """The registration of `op_type` for `opset` of `domain`, or UnsupportedOpError."""
    load_all()
    domain = "" if domain == "ai.onnx" else domain
    entries = _REGISTRY.get((domain, op_type))
    at = f"{where}: " if where else ""
    shown = f"{domain}.{op_type}" if domain else op_type
    if not entries:
        raise UnsupportedOpError(f"{at}operator {shown} is not supported")
    best = None
    for entry in entries:
        if entry.since <= opset and (entry.until is None or opset <= entry.until):
            best = entry
    if best is None:
        covered = ", ".join(f"{e.since}..{e.until or ''}" for e in entries)
        raise UnsupportedOpError(
            f"{at}operator {shown} is not supported at opset {opset} (supported: {covered})"
        )
    return best


def registered() -> list[OpEntry]:
    """Every registration, sorted by domain and op."""
    load_all()
    return sorted(
        (e for entries in _REGISTRY.values() for e in entries),
        key=lambda e: (e.domain, e.op_type, e.since),
    )
