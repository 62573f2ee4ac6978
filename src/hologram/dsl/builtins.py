"""The kernel language's built-in functions, as Python objects the frontend recognises.

Inside a kernel, `hg.exp(x)` is the ISA's `exp`; outside one, calling a builtin raises
`KernelError`. Each builtin has a stable name that the JSON IR uses (`"exp"`, `"block_sum"`).
"""

from __future__ import annotations

import builtins
import math
from dataclasses import dataclass
from typing import Any

from hologram.errors import KernelError


@dataclass(frozen=True)
class Builtin:
    """A function that only has meaning inside a kernel."""

    name: str
    doc: str

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise KernelError(f"hg.{self.name}() can only be called inside a @hg.kernel or @hg.func")

    def __repr__(self) -> str:
        return f"hg.{self.name}"


_DOCS = {
    # ids and sizes: i32 values along axis 0, 1 or 2
    "global_id": "block_id * block_dim + lane_id along an axis",
    "lane_id": "this lane's index in its block",
    "block_id": "this block's index in the grid",
    "block_dim": "lanes per block",
    "grid_dim": "blocks in the grid",
    # math: float functions (integer arguments are converted to float32)
    "exp": "e ** x",
    "log": "the natural logarithm",
    "sqrt": "the square root",
    "rsqrt": "1 / sqrt(x)",
    "sin": "the sine",
    "cos": "the cosine",
    "tanh": "the hyperbolic tangent",
    "sigmoid": "1 / (1 + exp(-x))",
    "erf": "the error function",
    "floor": "round toward -inf",
    "ceil": "round toward +inf",
    "round": "round half to even",
    "trunc": "round toward zero",
    "pow": "x ** y",
    "fma": "x * y + z, rounded once",
    # math on any number
    "abs": "the absolute value",
    "min": "the smaller of two values (NaN if either is NaN)",
    "max": "the larger of two values (NaN if either is NaN)",
    "select": "select(c, a, b): a where c holds, else b",
    # memory and synchronisation
    "shared": "shared(shape, dtype): a per-block shared array",
    "barrier": "wait for every lane of the block",
    "fence": "order this lane's global-memory writes",
    # block reductions: every lane gets the result
    "block_sum": "the sum over the block's lanes",
    "block_prod": "the product over the block's lanes",
    "block_min": "the minimum over the block's lanes",
    "block_max": "the maximum over the block's lanes",
    # atomics on a global array element: return the old value
    "atomic_add": "atomic_add(a, i, v): a[i] += v, atomically",
    "atomic_min": "atomic_min(a, i, v): a[i] = min(a[i], v), atomically",
    "atomic_max": "atomic_max(a, i, v): a[i] = max(a[i], v), atomically",
    "atomic_exch": "atomic_exch(a, i, v): a[i] = v, atomically",
    # intrinsics: a kernel that uses one consists of intrinsics only
    "matmul": (
        "matmul(a, b, c, m, n, k[, batch, trans_a, trans_b, stride_a, stride_b, stride_c]): "
        "c = a @ b, sizes constant"
    ),
}

BUILTINS: dict[str, Builtin] = {name: Builtin(name, doc) for name, doc in _DOCS.items()}
"""Every builtin, by its IR name."""

ID_BUILTINS = ("global_id", "lane_id", "block_id", "block_dim", "grid_dim")
FLOAT_UNARY = (
    "exp", "log", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid", "erf",
    "floor", "ceil", "round", "trunc",
)  # fmt: skip
BLOCK_REDUCTIONS = {"block_sum": "add", "block_prod": "mul", "block_min": "min", "block_max": "max"}
ATOMICS = {"atomic_add": "add", "atomic_min": "min", "atomic_max": "max", "atomic_exch": "exch"}

PYTHON_ALIASES: dict[int, str] = {
    id(builtins.abs): "abs",
    id(builtins.min): "min",
    id(builtins.max): "max",
    id(builtins.round): "round",
    **{
        id(getattr(math, name)): name
        for name in ("exp", "log", "sqrt", "sin", "cos", "tanh", "erf", "floor", "ceil", "trunc")
    },
    id(math.pow): "pow",
    id(math.fma) if hasattr(math, "fma") else -1: "fma",
}
"""Python builtins and `math` functions that mean the same builtin inside a kernel."""
