"""ai.onnx.ml LabelEncoder: map each element through a table of keys and values.

An element equal to a key becomes that key's value, any other the default. Keys and values
are attributes: `keys_int64s`/`keys_floats` (opset 2), `keys_tensor` (opset 4), the same for
values, and `default_int64` (-1), `default_float` (-0.0) or `default_tensor`. A key given
twice maps to its first value, a NaN key matches NaN elements, and -0.0 matches 0.0.
String keys or values (every opset-1 encoder) cannot be computed with.

The keys are sorted while planning and each lane finds its element by binary search.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.registry import onnx_op

BLOCK = 256


@hg.kernel
def onnx_label_encode(
    x: hg.Array,
    keys: hg.Array,
    values: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    count: hg.int32,
    nan_slot: hg.int32,
):
    """Lane `i < n` looks `x[i]` up in the `count` sorted `keys`: `out[i]` is the value at
    the key's position, else `values[nan_slot]` for a NaN (the NaN key's value or the
    default), else the default `values[count]`."""
    i = hg.uint32(hg.global_id())
    if i < n:
        key = x[i]
        low = 0
        high = count
        while low < high:
            middle = (low + high) // 2
            if keys[middle] < key:
                low = middle + 1
            else:
                high = middle
        slot = count
        if low < count and keys[low] == key:
            slot = low
        elif key != key:
            slot = nan_slot
        out[i] = values[slot]


@onnx_op("LabelEncoder", since=1, domain="ai.onnx.ml")
def label_encoder(ctx: OpContext) -> None:
    """Numeric keys and values (see the module docstring)."""
    x = ctx.input(0)
    if x.elem == types.STRING or "classes_strings" in ctx.node.attrs:
        raise ctx.unsupported("string labels cannot be computed with")
    keys = _table(ctx, "keys")
    values = _table(ctx, "values")
    if keys.size != values.size:
        raise ctx.error(f"has {keys.size} keys but {values.size} values")
    out_elem = types.elem_of_numpy(values.dtype)
    default = _default(ctx, values.dtype)
    out = ctx.output(0, x.shape, out_elem)
    if out.size == 0:
        return
    keys_in_x, firsts, nan_first = _lookup_order(keys, types.numpy_dtype(x.elem))
    table = np.concatenate([values[firsts], default])
    nan_slot = len(firsts)
    if nan_first is not None:
        table = np.concatenate([table, values[nan_first : nan_first + 1]])
        nan_slot += 1
    search = keys_in_x if keys_in_x.size else np.zeros(1, keys_in_x.dtype)
    args = [
        x,
        ctx.constant(search, x.elem),
        ctx.constant(table, out_elem),
        out,
        out.size,
        len(firsts),
        nan_slot,
    ]
    ctx.launch(onnx_label_encode, hg.blocks(out.size, BLOCK), BLOCK, args)


def _table(ctx: OpContext, role: str) -> np.ndarray:
    """The keys or values attribute (exactly one of its forms) as a 1-D array."""
    given = {
        name: ctx.attr(f"{role}_{name}")
        for name in ("int64s", "floats", "strings", "tensor")
        if f"{role}_{name}" in ctx.node.attrs
    }
    if len(given) != 1:
        raise ctx.error(f"needs exactly one {role}_* attribute, got {sorted(given) or 'none'}")
    ((name, value),) = given.items()
    if name == "strings":
        raise ctx.unsupported(f"string {role} cannot be computed with")
    if name == "int64s":
        return np.asarray(value, np.int64)
    if name == "floats":
        return np.asarray(value, np.float32)
    array = np.asarray(value).reshape(-1)
    if array.dtype.kind in "OUS":
        raise ctx.unsupported(f"string {role} cannot be computed with")
    return array


def _default(ctx: OpContext, dtype: np.dtype) -> np.ndarray:
    """The one-element default value, in the values' dtype."""
    value: Any
    if "default_tensor" in ctx.node.attrs:
        value = np.asarray(ctx.attr("default_tensor")).reshape(-1)
        if value.size != 1 or value.dtype.kind in "OUS":
            raise ctx.error("default_tensor must hold one number")
        value = value[0]
    elif dtype.kind == "f":
        value = ctx.attr("default_float", -0.0)
    else:
        value = ctx.attr("default_int64", -1)
    return np.array([value]).astype(dtype)


def _lookup_order(keys: np.ndarray, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, int | None]:
    """The distinct keys as `dtype`, sorted, with the index of each one's first occurrence,
    and the first NaN key's index (None without one). Keys `dtype` cannot hold exactly can
    match no element and are dropped."""
    converted = keys.astype(dtype)
    with np.errstate(invalid="ignore"):
        exact = converted.astype(np.float64) == keys.astype(np.float64)
    nan = np.isnan(keys.astype(np.float64))
    nan_first = int(np.flatnonzero(nan)[0]) if nan.any() and dtype.kind == "f" else None
    kept = np.flatnonzero(exact & ~nan)
    distinct, first = np.unique(converted[kept], return_index=True)
    return distinct, kept[first], nan_first
