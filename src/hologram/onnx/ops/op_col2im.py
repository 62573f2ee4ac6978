"""Col2Im: sliding blocks (columns) summed back into an image, the inverse of im2col."""

import math

import hologram as hg
from hologram.compiler.context import OpContext
from hologram.onnx.ops._elementwise import widened
from hologram.onnx.ops._index_kernels import BLOCK, int64_table
from hologram.onnx.registry import onnx_op


@hg.kernel
def onnx_col2im(
    x: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    pixels: hg.uint32,
    blocks: hg.uint32,
    columns: hg.uint32,
    rank: hg.uint32,
    table: hg.Array[hg.int64],
    compute: hg.Const[hg.dtype],
):
    """Lane `i < n` sums, in `compute`, every column entry that lands on image element `i`
    (of `pixels` an image plane): `x` is `(planes, blocks, columns)`. Spatial axis `d` is
    described by `table[6d:6d + 6]`: image size, block size, dilation, padding before,
    stride and the number of block positions."""
    i = hg.uint32(hg.global_id())
    if i < n:
        plane = i // pixels
        pixel = hg.int64(i - plane * pixels)
        acc = compute(0)
        for offset in range(hg.int64(blocks)):
            rest_block = offset
            rest_pixel = pixel
            column = hg.int64(0)
            pitch = hg.int64(1)
            lands = True
            for e in range(rank):
                d = (rank - 1 - e) * 6
                k = rest_block % table[d + 1]
                rest_block = rest_block // table[d + 1]
                reach = rest_pixel % table[d] + table[d + 3] - k * table[d + 2]
                rest_pixel = rest_pixel // table[d]
                position = reach // table[d + 4]
                if reach < 0 or reach - position * table[d + 4] != 0 or position >= table[d + 5]:
                    lands = False
                column += position * pitch
                pitch *= table[d + 5]
            if lands:
                acc += compute(x[(hg.int64(plane) * blocks + offset) * columns + column])
        out[i] = acc


@onnx_op("Col2Im", since=18)
def col2im(ctx: OpContext) -> None:
    """`(N, C * prod(block_shape), L)` to `(N, C, *image_shape)`; `dilations`, `pads`
    (begins then ends) and `strides` attributes."""
    x = ctx.input(0)
    image = ctx.ints(1)
    block = ctx.ints(2)
    rank = len(image)
    dilations = list(ctx.attr("dilations", [1] * rank))
    pads = list(ctx.attr("pads", [0] * 2 * rank))
    strides = list(ctx.attr("strides", [1] * rank))
    if (
        len(block) != rank
        or len(dilations) != rank
        or len(strides) != rank
        or len(pads) != 2 * rank
    ):
        raise ctx.error("image_shape, block_shape, dilations, pads and strides disagree in rank")
    blocks = math.prod(block)
    if x.rank != 3 or blocks == 0 or x.shape[1] % blocks:
        raise ctx.error(f"input {x.shape} is not (N, C * {blocks}, L)")
    positions = [
        (image[d] + pads[d] + pads[rank + d] - dilations[d] * (block[d] - 1) - 1) // strides[d] + 1
        for d in range(rank)
    ]
    if math.prod(positions) != x.shape[2] or min(positions, default=1) < 1:
        raise ctx.error(f"{x.shape[2]} columns, but the blocks take {positions} positions")
    channels = x.shape[1] // blocks
    out = ctx.output(0, [x.shape[0], channels, *image], x.elem)
    if out.size == 0:
        return
    table: list[int] = []
    for d in range(rank):
        table += [image[d], block[d], dilations[d], pads[d], strides[d], positions[d]]
    args = [x, out, out.size, math.prod(image), blocks, x.shape[2], rank]
    args += [int64_table(ctx, table), widened(x.dtype)]
    ctx.launch(onnx_col2im, hg.blocks(out.size, BLOCK), BLOCK, args)
