"""The kernel language: compute kernels written in Python, compiled to the Atlas ISA.

    import hologram as hg

    @hg.kernel
    def saxpy(a: hg.float32, x: hg.Array[hg.float32], y: hg.Array[hg.float32], n: hg.uint32):
        i = hg.global_id()
        if i < n:
            y[i] = a * x[i] + y[i]

The path is Python syntax tree → JSON IR (`frontend.py`, `ir.py`) → ISA (`lower*.py`). The
language is documented in `docs/kernels.mdx`, the IR in `docs/kernel-ir.mdx`.
"""

from __future__ import annotations

from hologram.dsl.builtins import BUILTINS
from hologram.dsl.kernel import BoundLaunch, Func, Kernel, blocks, func, kernel
from hologram.dsl.types import (
    SCALAR_TYPES,
    Array,
    ArrayType,
    Const,
    ConstType,
    DTypeMarker,
    Scalar,
    ScalarType,
)

dtype = DTypeMarker
"""`hg.dtype`: the type of dtype values, for `hg.Const[hg.dtype]` parameters."""

globals().update(SCALAR_TYPES)
globals().update(BUILTINS)

__all__ = [
    "Array",
    "ArrayType",
    "BoundLaunch",
    "Const",
    "ConstType",
    "Func",
    "Kernel",
    "Scalar",
    "ScalarType",
    "blocks",
    "dtype",
    "func",
    "kernel",
    *SCALAR_TYPES,
    *BUILTINS,
]
