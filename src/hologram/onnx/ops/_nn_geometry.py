"""Sliding-window geometry of convolutions and pooling, from a node's attributes.

`window(ctx, spatial, kernel)` reads `strides`, `dilations`, `pads` and `auto_pad` (and, for
pooling, `ceil_mode`) and gives the padding and output extent of every spatial axis. Kernels
see every window as 3-D: `Window.table3()` puts the axes behind leading axes of extent 1, so
one compiled kernel serves 1-D, 2-D and 3-D inputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from hologram.compiler.context import OpContext

AUTO_PADS = ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER")
AXES = 3
"""The spatial rank every kernel works in (lower ranks get leading axes of extent 1)."""


@dataclass(frozen=True)
class Window:
    """Where a window of `kernel` (dilated by `dilations`) visits `spatial`, moving by
    `strides` over the input padded by `pads_begin` / `pads_end`: `out` positions per axis."""

    spatial: tuple[int, ...]
    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    pads_begin: tuple[int, ...]
    pads_end: tuple[int, ...]
    out: tuple[int, ...]

    @property
    def rank(self) -> int:
        """Spatial axes."""
        return len(self.spatial)

    @property
    def kernel_size(self) -> int:
        """Taps of the window."""
        return math.prod(self.kernel)

    @property
    def out_size(self) -> int:
        """Output positions per image and channel."""
        return math.prod(self.out)

    @property
    def in_size(self) -> int:
        """Input positions per image and channel."""
        return math.prod(self.spatial)

    def table3(self) -> list[int]:
        """Per axis (3 of them, leading ones of extent 1): input extent, kernel extent, stride,
        dilation, begin padding, output extent, end padding; 21 ints."""
        lead = AXES - self.rank
        rows = [(1, 1, 1, 1, 0, 1, 0)] * lead
        for axis in range(self.rank):
            rows.append(
                (
                    self.spatial[axis],
                    self.kernel[axis],
                    self.strides[axis],
                    self.dilations[axis],
                    self.pads_begin[axis],
                    self.out[axis],
                    self.pads_end[axis],
                )
            )
        return [v for row in rows for v in row]

    def is_pointwise(self) -> bool:
        """True for a 1x1 window at stride 1 without padding (the input is its own im2col)."""
        return (
            all(k == 1 for k in self.kernel)
            and all(s == 1 for s in self.strides)
            and not any(self.pads_begin)
            and not any(self.pads_end)
        )


def ints_attr(ctx: OpContext, name: str, rank: int, default: int) -> tuple[int, ...]:
    """Attribute `name` as `rank` ints (`default` each when absent); ModelError otherwise."""
    value = ctx.attr(name, None)
    if value is None or len(value) == 0:
        return (default,) * rank
    if len(value) != rank:
        raise ctx.error(f"{name} has {len(value)} values for {rank} spatial axes")
    return tuple(int(v) for v in value)


def window(
    ctx: OpContext,
    spatial: Sequence[int],
    kernel: Sequence[int],
    ceil_mode: bool = False,
    dilations: bool = True,
) -> Window:
    """The window of the node's attributes over `spatial` (see the module docstring).

    `dilations=False` is for ops without that attribute (dilation 1).
    """
    rank = len(spatial)
    spatial, kernel = tuple(spatial), tuple(int(k) for k in kernel)
    if len(kernel) != rank:
        raise ctx.error(f"kernel has {len(kernel)} axes for {rank} spatial axes")
    if any(k < 1 for k in kernel):
        raise ctx.error(f"kernel extents must be positive, got {kernel}")
    strides = ints_attr(ctx, "strides", rank, 1)
    dilation = ints_attr(ctx, "dilations", rank, 1) if dilations else (1,) * rank
    if any(s < 1 for s in strides) or any(d < 1 for d in dilation):
        raise ctx.error(f"strides {strides} and dilations {dilation} must be positive")
    auto_pad = ctx.attr("auto_pad", "NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else str(auto_pad)
    if auto_pad not in AUTO_PADS:
        raise ctx.error(f"auto_pad {auto_pad!r} is not one of {', '.join(AUTO_PADS)}")
    extents = [dilation[a] * (kernel[a] - 1) + 1 for a in range(rank)]
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        out = tuple(-(-spatial[a] // strides[a]) for a in range(rank))
        total = [max(0, (out[a] - 1) * strides[a] + extents[a] - spatial[a]) for a in range(rank)]
        small = [t // 2 for t in total]
        large = [t - t // 2 for t in total]
        begin, end = (small, large) if auto_pad == "SAME_UPPER" else (large, small)
        return Window(spatial, kernel, strides, dilation, tuple(begin), tuple(end), out)
    if auto_pad == "VALID":
        begin = end = (0,) * rank
    else:
        pads = ints_attr(ctx, "pads", 2 * rank, 0)
        if any(p < 0 for p in pads):
            raise ctx.error(f"pads {pads} must not be negative")
        begin, end = pads[:rank], pads[rank:]
    out_dims = []
    for a in range(rank):
        room = spatial[a] + begin[a] + end[a] - extents[a]
        if room < 0:
            raise ctx.error(
                f"the window ({extents[a]} wide) is larger than the padded input "
                f"({spatial[a] + begin[a] + end[a]}) along spatial axis {a}"
            )
        size = -(-room // strides[a]) + 1 if ceil_mode else room // strides[a] + 1
        if ceil_mode and (size - 1) * strides[a] >= spatial[a] + begin[a]:
            size -= 1  # the last window must start inside the input or its begin padding
        out_dims.append(size)
    return Window(spatial, kernel, strides, dilation, tuple(begin), tuple(end), tuple(out_dims))


def transposed_window(ctx: OpContext, spatial: Sequence[int], kernel: Sequence[int]) -> Window:
    """ConvTranspose's window: `spatial` is its input, `out` its output, and the pads are
    those of the convolution it transposes (from `output_shape`, `auto_pad` or `pads`, with
    `output_padding` added at the end)."""
    rank = len(spatial)
    spatial, kernel = tuple(spatial), tuple(int(k) for k in kernel)
    strides = ints_attr(ctx, "strides", rank, 1)
    dilation = ints_attr(ctx, "dilations", rank, 1)
    extra = ints_attr(ctx, "output_padding", rank, 0)
    auto_pad = str(ctx.attr("auto_pad", "NOTSET"))
    if auto_pad not in AUTO_PADS:
        raise ctx.error(f"auto_pad {auto_pad!r} is not one of {', '.join(AUTO_PADS)}")
    if any(s < 1 for s in strides) or any(d < 1 for d in dilation) or any(k < 1 for k in kernel):
        raise ctx.error(
            f"kernel {kernel}, strides {strides}, dilations {dilation} must be positive"
        )
    full = [
        strides[a] * (spatial[a] - 1) + extra[a] + dilation[a] * (kernel[a] - 1) + 1
        for a in range(rank)
    ]
    requested = ctx.attr("output_shape", None)
    if requested or auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        if requested:
            out = tuple(int(v) for v in requested[-rank:])
            if len(requested) < rank:
                raise ctx.error(f"output_shape {list(requested)} has fewer than {rank} values")
        else:
            out = tuple(spatial[a] * strides[a] for a in range(rank))
        total = [full[a] - out[a] for a in range(rank)]
        if auto_pad == "SAME_UPPER":
            begin = tuple(t // 2 for t in total)
        else:
            begin = tuple(t - t // 2 for t in total)
        end = tuple(total[a] - begin[a] for a in range(rank))
    else:
        if auto_pad == "VALID":
            begin = end = (0,) * rank
        else:
            pads = ints_attr(ctx, "pads", 2 * rank, 0)
            begin, end = pads[:rank], pads[rank:]
        out = tuple(full[a] - begin[a] - end[a] for a in range(rank))
    if any(o < 1 for o in out):
        raise ctx.error(f"the output would have spatial shape {out}")
    return Window(spatial, kernel, strides, dilation, begin, end, out)
