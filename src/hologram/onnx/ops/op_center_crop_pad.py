"""CenterCropPad: the input centred in a new shape, cropped or zero-padded along each axis."""

from hologram.compiler.context import OpContext
from hologram.onnx.ops._index_kernels import PAD_MODES, normalize_axis, pad_into
from hologram.onnx.registry import onnx_op


@onnx_op("CenterCropPad", since=18)
def center_crop_pad(ctx: OpContext) -> None:
    """Target sizes from input 1, for `axes` (all by default); an odd difference leaves the
    extra element at the end."""
    x = ctx.input(0)
    sizes = ctx.ints(1)
    axes = [int(a) for a in ctx.attr("axes", range(x.rank))]
    axes = [normalize_axis(ctx, a, x.rank, "axes entry") for a in axes]
    if len(sizes) != len(axes):
        raise ctx.error(f"{len(sizes)} sizes for {len(axes)} axes")
    shape = list(x.shape)
    begins = [0] * x.rank
    for axis, size in zip(axes, sizes, strict=True):
        if size < 0:
            raise ctx.error(f"negative size {size}")
        shape[axis] = size
        grow = size - x.shape[axis]
        begins[axis] = grow // 2 if grow > 0 else -(-grow // 2)
    out = ctx.output(0, shape, x.elem)
    pad_into(ctx, x, out, begins, PAD_MODES["constant"])
