"""Random numbers for the generator ops (RandomUniform, RandomNormal, their -Like forms,
Bernoulli, Multinomial).

Counter-based: a draw is SplitMix64's mix of `seed + (counter + 1) * golden`, the counter
derived from the element's index (`i` for a uniform number, `2i` and `2i + 1` for the two
of a normal one), so each lane computes its own numbers without state and a seed gives the
same numbers on every run and backend (normal ones up to the last bits of `log` and `cos`).
A node without a `seed` attribute gets a fixed one derived from its output names.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Sequence

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext

BLOCK = 256
GOLDEN = 0x9E3779B97F4A7C15
TWO_PI = 2.0 * math.pi
UNIT = 2.0**-53

UNIFORM = 0
NORMAL = 1


def seed_of(ctx: OpContext) -> int:
    """The 64-bit key of the node's `seed` attribute (a float), or of its output names."""
    seed = ctx.attr("seed", None)
    if seed is None:
        return zlib.crc32("\0".join(ctx.node.outputs).encode()) * GOLDEN % 2**64
    return int.from_bytes(struct.pack("<d", float(seed)), "little")


@hg.func
def onnx_random_uniform01(seed, counter):
    """A float64 in [0, 1) from the 64-bit `seed` and `counter` (SplitMix64's mix)."""
    z = seed + (hg.uint64(counter) + hg.uint64(1)) * hg.uint64(GOLDEN)
    z = (z ^ (z >> 30)) * hg.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> 27)) * hg.uint64(0x94D049BB133111EB)
    z = z ^ (z >> 31)
    return hg.float64(z >> 11) * UNIT


@hg.func
def onnx_random_normal01(seed, counter):
    """A standard normal float64 (Box-Muller of draws `2 * counter` and `2 * counter + 1`)."""
    u = 1.0 - onnx_random_uniform01(seed, hg.uint64(counter) * hg.uint64(2))
    v = onnx_random_uniform01(seed, hg.uint64(counter) * hg.uint64(2) + hg.uint64(1))
    return hg.sqrt(-2.0 * hg.log(u)) * hg.cos(TWO_PI * v)


@hg.kernel
def onnx_random_fill(
    out: hg.Array,
    n: hg.uint32,
    seed: hg.uint64,
    low: hg.float64,
    width: hg.float64,
    distribution: hg.Const[int],
):
    """out[i] = low + width * u, u uniform in [0, 1) (UNIFORM) or standard normal (NORMAL):
    `low, width` are `low, high - low` or `mean, scale`."""
    i = hg.uint32(hg.global_id())
    if i < n:
        if distribution == UNIFORM:
            out[i] = low + width * onnx_random_uniform01(seed, i)
        else:
            out[i] = low + width * onnx_random_normal01(seed, i)


@hg.kernel
def onnx_bernoulli(p: hg.Array, out: hg.Array, n: hg.uint32, seed: hg.uint64):
    """out[i] = 1 with probability p[i], else 0."""
    i = hg.uint32(hg.global_id())
    if i < n:
        out[i] = hg.select(onnx_random_uniform01(seed, i) < hg.float64(p[i]), 1, 0)


@hg.kernel
def onnx_multinomial(
    logits: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    classes: hg.uint32,
    samples: hg.uint32,
    seed: hg.uint64,
):
    """out[b * samples + s]: a class drawn for row b of `logits` (unnormalized log
    probabilities), by inverting the cumulative distribution."""
    i = hg.uint32(hg.global_id())
    if i < n:
        row = (i // samples) * classes
        top = hg.float64(logits[row])
        for c in range(classes):
            top = max(top, hg.float64(logits[row + c]))
        total = hg.float64(0.0)
        for c in range(classes):
            total += hg.exp(hg.float64(logits[row + c]) - top)
        threshold = onnx_random_uniform01(seed, i) * total
        chosen = classes - 1
        running = hg.float64(0.0)
        for c in range(classes):
            running += hg.exp(hg.float64(logits[row + c]) - top)
            if running > threshold and chosen == classes - 1:
                chosen = c
        out[i] = chosen


FLOAT_OUTPUTS = frozenset({types.FLOAT, types.DOUBLE, types.FLOAT16, types.BFLOAT16})


def random_fill(
    ctx: OpContext, shape: Sequence[int], elem: int, distribution: int, low: float, width: float
) -> None:
    """Output 0: a tensor of `shape` and float type `elem` from `onnx_random_fill`."""
    if elem not in FLOAT_OUTPUTS:
        raise ctx.unsupported(f"draws floats, not {types.elem_name(elem)}")
    out = ctx.output(0, shape, elem)
    if out.size:
        args = [out, out.size, seed_of(ctx), float(low), float(width), distribution]
        ctx.launch(onnx_random_fill, hg.blocks(out.size, BLOCK), BLOCK, args)
