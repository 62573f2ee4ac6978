"""Resize (opsets 11 to 19): nearest, linear and cubic interpolation.

Interpolation is separable: the leading resized axes are one launch of `onnx_resize_axis`
each, over the tensor resized so far, then the last two axes one launch of
`onnx_resize_plane` (a gather for nearest neighbours; `onnx_resize_repeat` when each axis
repeats every element a whole number of times, as upsampling by integer factors does); crops
(`tf_crop_and_resize`) resize every axis on its own. Which source elements an output
position mixes, and with what weights, depends only on the sizes, scales and attributes:
`axis_taps` computes that table while planning (nearest and linear take 2 taps, cubic 4,
antialiased downsampling more).
Floating-point data is interpolated in float32 (float64 for double); integer data in
float64, rounded half to even and saturated at the end. Opsets 11 and 12 also have the
`tf_half_pixel_for_nn` coordinate transformation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext, TensorRef
from hologram.onnx.ops._conv_padded import launch_rows
from hologram.onnx.ops._nn_kernels import BLOCK
from hologram.onnx.ops._resize_kernels import (
    onnx_resize_axis,
    onnx_resize_plane,
    onnx_resize_repeat,
)
from hologram.onnx.registry import onnx_op

_MODES = ("nearest", "linear", "cubic")
_NEAREST = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")
_TRANSFORMS = (
    "half_pixel",
    "half_pixel_symmetric",
    "pytorch_half_pixel",
    "align_corners",
    "asymmetric",
    "tf_crop_and_resize",
    "tf_half_pixel_for_nn",
)


@dataclass(frozen=True)
class ResizeSpec:
    """The attributes that decide the interpolation weights."""

    mode: str
    transform: str
    nearest: str
    cubic_a: float
    exclude_outside: bool
    antialias: bool


def source_coordinates(
    spec: ResizeSpec, in_width: int, out_width: int, scale: float, roi: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray | None]:
    """Where each output position samples the input, and (for tf_crop_and_resize) which
    positions fall outside it."""
    y = np.arange(out_width, dtype=np.float64)
    width = scale * in_width
    outside = None
    if spec.transform == "align_corners":
        x = np.zeros(out_width) if width == 1 else y * (in_width - 1) / (width - 1)
    elif spec.transform == "asymmetric":
        x = y / scale
    elif spec.transform == "tf_crop_and_resize":
        start, end = roi
        if width == 1:
            x = np.full(out_width, (end - start) * (in_width - 1) / 2)
        else:
            x = y * (end - start) * (in_width - 1) / (width - 1)
        x = x + start * (in_width - 1)
        outside = (x < 0) | (x > in_width - 1)
    elif spec.transform == "pytorch_half_pixel":
        x = np.full(out_width, -0.5) if width == 1 else (y + 0.5) / scale - 0.5
    elif spec.transform == "half_pixel":
        x = (y + 0.5) / scale - 0.5
    elif spec.transform == "tf_half_pixel_for_nn":
        x = (y + 0.5) / scale
    else:  # half_pixel_symmetric
        offset = in_width / 2 * (1 - out_width / width)
        x = offset + (y + 0.5) / scale - 0.5
    return x, outside


def _coefficients(spec: ResizeSpec, ratio: float, scale: float) -> np.ndarray:
    """The weights of the neighbours of a point `ratio` in (0, 1] past its left neighbour."""
    a = spec.cubic_a
    if spec.mode == "nearest":
        if ratio == 1:
            return np.array([0.0, 1.0])
        up = {
            "round_prefer_floor": ratio > 0.5,
            "round_prefer_ceil": ratio >= 0.5,
            "floor": False,
            "ceil": True,
        }[spec.nearest]
        return np.array([0.0, 1.0] if up else [1.0, 0.0])
    if spec.mode == "linear" and not spec.antialias:
        return np.array([1 - ratio, ratio])
    if spec.mode == "linear":
        scale = min(scale, 1.0)
        start = int(np.floor(-1 / scale) + 1)
        args = (np.arange(start, 2 - start) - ratio) * scale
        coeffs = np.clip(1 - np.abs(args), 0, 1)
        return coeffs / coeffs.sum()
    if not spec.antialias:
        r, s = ratio, 1 - ratio
        return np.array(
            [
                ((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a,
                ((a + 2) * r - (a + 3)) * r * r + 1,
                ((a + 2) * s - (a + 3)) * s * s + 1,
                ((a * (s + 1) - 5 * a) * (s + 1) + 8 * a) * (s + 1) - 4 * a,
            ]
        )
    scale = min(scale, 1.0)
    start = int(np.floor(-2 / scale) + 1)
    d = np.abs(scale * (np.arange(start, 2 - start) - ratio))
    near = (a + 2) * d**3 - (a + 3) * d**2 + 1
    far = a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a
    coeffs = np.where(d <= 1, near, np.where(d < 2, far, 0.0))
    return coeffs / coeffs.sum()


def axis_taps(
    spec: ResizeSpec, in_width: int, out_width: int, scale: float, roi: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(source index, weight) per output position and tap, both `(out_width, taps)`, and
    the positions outside the input (tf_crop_and_resize only)."""
    x, outside = source_coordinates(spec, in_width, out_width, scale, roi)
    floor = np.floor(x)
    # The neighbour on the left is preferred: an exact integer has ratio 1, not 0.
    ratios = np.where(x == floor, 1.0, x - floor)
    coeffs = np.stack([_coefficients(spec, float(r), scale) for r in ratios])
    taps = coeffs.shape[1]
    pad = math.ceil(taps / 2)
    padded = x + pad
    nearest = np.floor(padded).astype(np.int64)
    frac = padded - nearest
    if taps % 2 == 0:
        shift = np.where(frac == 0, -(taps // 2), -(taps // 2) + 1)
    else:
        base = -((taps - 1) // 2)
        shift = np.where(frac <= 0.5, base, base + 1)
    index = (nearest + shift)[:, None] + np.arange(taps)[None, :] - pad
    if spec.exclude_outside:
        coeffs = np.where((index < 0) | (index >= in_width), 0.0, coeffs)
        sums = coeffs.sum(axis=-1, keepdims=True)
        coeffs = coeffs / np.where(sums == 0, 1.0, sums)
    # Edge padding is clamping the neighbours into the input.
    index = np.clip(index, 0, in_width - 1)
    return index.astype(np.int64), coeffs.astype(np.float64), outside


def _targets(
    ctx: OpContext, x: TensorRef, spec: ResizeSpec
) -> tuple[list[float], list[int], list[int], list[float]]:
    """(scale, output size) per dimension, the resized axes, and the roi (starts then ends)."""
    rank = x.rank
    axes = [a + rank if a < 0 else a for a in ctx.attr("axes", list(range(rank)))]
    if sorted(set(axes)) != sorted(axes) or any(not 0 <= a < rank for a in axes):
        raise ctx.error(f"axes {axes} are not distinct axes of a rank-{rank} tensor")
    roi = [0.0] * rank + [1.0] * rank
    if spec.transform == "tf_crop_and_resize" and ctx.has_input(1) and ctx.input(1).size:
        given = [float(v) for v in np.asarray(ctx.value(1), np.float64).reshape(-1)]
        if len(given) != 2 * len(axes):
            raise ctx.error(f"roi has {len(given)} values, expected {2 * len(axes)}")
        for i, axis in enumerate(axes):
            roi[axis], roi[rank + axis] = given[i], given[len(axes) + i]
    scales_given = ctx.has_input(2) and ctx.input(2).size > 0
    sizes_given = ctx.has_input(3) and ctx.input(3).size > 0
    if scales_given == sizes_given:
        raise ctx.error("exactly one of scales and sizes must be given")
    scales = [1.0] * rank
    sizes = list(x.shape)
    if scales_given:
        values = [float(v) for v in np.asarray(ctx.value(2)).reshape(-1)]
        if len(values) != len(axes) or any(v <= 0 for v in values):
            raise ctx.error(f"scales {values} must be {len(axes)} positive numbers")
        for axis, value in zip(axes, values, strict=True):
            scales[axis] = value
        sizes = [int(s * d) for s, d in zip(scales, x.shape, strict=True)]
        return scales, sizes, axes, roi
    values = ctx.ints(3)
    if len(values) != len(axes) or any(v < 0 for v in values):
        raise ctx.error(f"sizes {values} must be {len(axes)} non-negative sizes")
    for axis, value in zip(axes, values, strict=True):
        sizes[axis] = value
    scales = [s / d if d else 1.0 for s, d in zip(sizes, x.shape, strict=True)]
    policy = ctx.attr("keep_aspect_ratio_policy", "stretch")
    if policy != "stretch":
        if policy not in ("not_larger", "not_smaller"):
            raise ctx.error(f"unknown keep_aspect_ratio_policy {policy!r}")
        pick = min if policy == "not_larger" else max
        scale = pick(scales[a] for a in axes)
        scales = [scale if a in axes else 1.0 for a in range(rank)]
        sizes = [int(scale * x.shape[a] + 0.5) if a in axes else x.shape[a] for a in range(rank)]
    return scales, sizes, axes, roi


@onnx_op("Resize", since=11)
def resize(ctx: OpContext) -> None:
    """Resize input 0 to the sizes (or by the scales) given (see the module docstring)."""
    x = ctx.input(0)
    spec = ResizeSpec(
        mode=ctx.attr("mode", "nearest"),
        transform=ctx.attr("coordinate_transformation_mode", "half_pixel"),
        nearest=ctx.attr("nearest_mode", "round_prefer_floor"),
        cubic_a=float(ctx.attr("cubic_coeff_a", -0.75)),
        exclude_outside=bool(ctx.attr("exclude_outside", 0)),
        antialias=bool(ctx.attr("antialias", 0)),
    )
    if spec.mode not in _MODES or spec.nearest not in _NEAREST:
        raise ctx.error(f"unknown mode {spec.mode!r} / nearest_mode {spec.nearest!r}")
    if spec.transform not in _TRANSFORMS:
        raise ctx.error(f"unknown coordinate_transformation_mode {spec.transform!r}")
    if spec.mode == "nearest" and spec.antialias:
        raise ctx.error("antialias does not apply to nearest mode")
    if x.elem == types.STRING or types.is_byte_coded(x.elem) or x.elem == types.BOOL:
        raise ctx.unsupported(f"cannot interpolate {types.elem_name(x.elem)} tensors")
    scales, sizes, axes, roi = _targets(ctx, x, spec)
    out = ctx.output(0, sizes, x.elem)
    if out.size == 0:
        return
    if x.size == 0:
        raise ctx.error(f"cannot resize the empty tensor {x.shape} to {sizes}")
    rank = x.rank
    work = [
        a
        for a in axes
        if not (
            math.isclose(scales[a], 1.0)
            and sizes[a] == x.shape[a]
            and math.isclose(roi[a], 0.0)
            and math.isclose(roi[rank + a], 1.0)
        )
    ]
    tables = {
        axis: axis_taps(
            spec, x.shape[axis], sizes[axis], scales[axis], (roi[axis], roi[rank + axis])
        )
        for axis in work
    }
    is_int = x.elem not in (types.FLOAT, types.FLOAT16, types.BFLOAT16, types.DOUBLE)
    compute = (
        types.FLOAT if x.elem in (types.FLOAT, types.FLOAT16, types.BFLOAT16) else types.DOUBLE
    )
    # The last two axes go in one pass unless positions fall outside the input (crops).
    plane = not any(table[2] is not None for table in tables.values())
    early = [a for a in work if a < rank - 2] if plane else work
    current = x
    shape = list(x.shape)
    for axis in early:
        shape[axis] = sizes[axis]
        last = not plane and axis == early[-1]
        target = out if last else ctx.scratch(shape, compute)
        fill = float(ctx.attr("extrapolation_value", 0.0))
        _resize_axis(ctx, current, target, tables[axis], axis, fill, compute, last and is_int)
        current = target
    if plane:
        _resize_plane(ctx, current, out, tables, compute, is_int)


def _resize_axis(
    ctx: OpContext,
    x: TensorRef,
    out: TensorRef,
    table: tuple,
    axis: int,
    fill: float,
    compute: int,
    round_int: bool,
) -> None:
    """Resize one axis of `x` into `out` by its (index, weight, outside) table."""
    index, weight, outside = table
    flags = np.zeros(1, np.bool_) if outside is None else outside
    args = [
        x,
        out,
        out.size,
        math.prod(out.shape[axis + 1 :]),
        x.shape[axis],
        out.shape[axis],
        index.shape[1],
        ctx.constant(index.reshape(-1)),
        ctx.constant(weight.reshape(-1)),
        ctx.constant(flags),
        fill,
        types.storage_dtype(compute),
        round_int,
        outside is not None,
    ]
    ctx.launch(onnx_resize_axis, hg.blocks(out.size, BLOCK), BLOCK, args)


def _plane_taps(tables: dict[int, tuple], axis: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Axis `axis`'s (index, weight) table with the zero weights dropped (the identity when
    the axis is not resized, a width of 1 when the tensor has no such axis)."""
    if axis not in tables:
        return np.arange(width, dtype=np.int64)[:, None], np.ones((width, 1))
    index, weight = tables[axis][:2]
    keep = weight != 0
    taps = max(1, int(keep.sum(axis=1).max()))
    # A stable sort puts the kept taps first in their order: the sums add in the same order.
    order = np.argsort(~keep, axis=1, kind="stable")[:, :taps]
    kept = np.take_along_axis(keep, order, axis=1)
    index = np.where(kept, np.take_along_axis(index, order, axis=1), 0)
    weight = np.where(kept, np.take_along_axis(weight, order, axis=1), 0.0)
    return index, weight


def _repeat_factor(index: np.ndarray, in_width: int, out_width: int) -> int:
    """f when a one-tap table sends output position i to input position i // f (so that
    out_width is f * in_width), else 0."""
    if in_width == 0 or out_width % in_width:
        return 0
    factor = out_width // in_width
    expected = np.arange(out_width, dtype=np.int64) // factor
    return factor if np.array_equal(index[:, 0], expected) else 0


def _resize_plane(
    ctx: OpContext,
    x: TensorRef,
    out: TensorRef,
    tables: dict[int, tuple],
    compute: int,
    is_int: bool,
) -> None:
    """Resize the last two axes of `x` (the others done) into `out` in one launch."""
    rank = x.rank
    in_h, out_h = (x.shape[-2], out.shape[-2]) if rank > 1 else (1, 1)
    in_w, out_w = (x.shape[-1], out.shape[-1]) if rank else (1, 1)
    index_h, weight_h = _plane_taps(tables, rank - 2, out_h)
    index_w, weight_w = _plane_taps(tables, rank - 1, out_w)
    gather = index_h.shape[1] == index_w.shape[1] == 1
    gather = gather and bool(np.all(weight_h == 1) and np.all(weight_w == 1))
    repeat_h, repeat_w = _repeat_factor(index_h, in_h, out_h), _repeat_factor(index_w, in_w, out_w)
    if gather and repeat_h and repeat_w:
        shape = (x.size // (in_h * in_w), in_h, in_w)
        launch_rows(ctx, onnx_resize_repeat, shape, [x, out, in_h, in_w, repeat_h, repeat_w])
        return
    rows = out.size // out_w
    args = [
        x,
        out,
        rows,
        in_h,
        in_w,
        out_h,
        out_w,
        index_h.shape[1],
        index_w.shape[1],
        ctx.constant(index_h.reshape(-1)),
        ctx.constant(weight_h.reshape(-1)),
        ctx.constant(index_w.reshape(-1)),
        ctx.constant(weight_w.reshape(-1)),
        types.storage_dtype(compute),
        is_int,
        gather,
    ]
    ctx.launch(onnx_resize_plane, hg.blocks(rows, BLOCK), BLOCK, args)
