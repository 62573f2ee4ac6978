"""Box blur of an H x W float32 image: a 2-D launch, and a shared-memory tiled version.

    python examples/kernels/blur.py [--backend cpu] [--size 256x384] [--radius 1]

Every output pixel is the mean of the (2r+1) x (2r+1) pixels around it (3 x 3 for r = 1);
pixels past the border repeat the edge ("clamp to edge").

What it shows of the kernel language:
- A 2-D launch: `grid` and `block` are (x, y) tuples, and `hg.global_id(0)`, `hg.global_id(1)`
  are this lane's column and row. Arrays are flat, so pixel (y, x) is `img[y * w + x]`.
- An `@hg.func` helper (`clamp`), inlined wherever it is called.
- A compile-time parameter, `radius: hg.Const[int] = 1`: each radius is its own program, its
  loops have constant bounds, and `1 / (2r+1)**2` is a constant.
- An early `return`: lanes past the image's right or bottom edge just exit.
- `blur_tiled`: each block first copies the (TILE_Y + 2r) x (TILE_X + 2r) pixels it reads into
  `hg.shared(...)` memory, waits at `hg.barrier()`, then reads its neighbours from the tile
  instead of global memory. A barrier must be reached by every lane of the block, so it sits
  outside any `if`: lanes past the edge load clamped pixels like the others and only skip the
  final store.

Both kernels are compared with NumPy computing in float64 (`numpy_blur`).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np

import hologram
import hologram as hg

TILE_X = 16
"""Lanes per block along x (columns)."""
TILE_Y = 16
"""Lanes per block along y (rows): 16 x 16 = 256 lanes, a square tile for blur_tiled."""
TOLERANCE = 1e-6
"""Largest error allowed: pixels are in [0, 1) and a mean of float32 values rounds a few times."""


@hg.func
def clamp(v, lo, hi):
    """`v` limited to [lo, hi]."""
    return min(max(v, lo), hi)


@hg.kernel
def blur(
    img: hg.Array[hg.float32],
    out: hg.Array[hg.float32],
    h: hg.int32,
    w: hg.int32,
    radius: hg.Const[int] = 1,
):
    """out = img blurred with a (2r+1) x (2r+1) box, one lane per pixel, reading global memory."""
    x = hg.global_id(0)
    y = hg.global_id(1)
    if x >= w or y >= h:
        return
    acc = hg.float32(0.0)
    for dy in range(-radius, radius + 1):
        row = clamp(y + dy, 0, h - 1) * w
        for dx in range(-radius, radius + 1):
            acc += img[row + clamp(x + dx, 0, w - 1)]
    out[y * w + x] = acc * (1.0 / ((2 * radius + 1) * (2 * radius + 1)))


@hg.kernel
def blur_tiled(
    img: hg.Array[hg.float32],
    out: hg.Array[hg.float32],
    h: hg.int32,
    w: hg.int32,
    radius: hg.Const[int] = 1,
):
    """The same blur as `blur`, each block reading its pixels once into shared memory."""
    tile = hg.shared((TILE_Y + 2 * radius, TILE_X + 2 * radius), hg.float32)
    lx = hg.lane_id(0)
    ly = hg.lane_id(1)
    # The tile's top-left pixel, `radius` rows and columns before the block's own pixels.
    x0 = hg.block_id(0) * TILE_X - radius
    y0 = hg.block_id(1) * TILE_Y - radius
    # The tile has more cells than the block has lanes: each lane loads every 256th cell.
    width = TILE_X + 2 * radius
    for cell in range(ly * TILE_X + lx, (TILE_Y + 2 * radius) * width, TILE_X * TILE_Y):
        ty = cell // width
        tx = cell % width
        tile[ty, tx] = img[clamp(y0 + ty, 0, h - 1) * w + clamp(x0 + tx, 0, w - 1)]
    hg.barrier()
    x = x0 + radius + lx
    y = y0 + radius + ly
    if x < w and y < h:
        acc = hg.float32(0.0)
        for dy in range(2 * radius + 1):
            for dx in range(2 * radius + 1):
                acc += tile[ly + dy, lx + dx]
        out[y * w + x] = acc * (1.0 / ((2 * radius + 1) * (2 * radius + 1)))


def launch_config(h: int, w: int) -> hologram.LaunchConfig:
    """One lane per pixel: (TILE_X, TILE_Y) blocks covering w columns and h rows."""
    return hologram.LaunchConfig((hg.blocks(w, TILE_X), hg.blocks(h, TILE_Y)), (TILE_X, TILE_Y))


def run(
    executor: hologram.Executor, image: np.ndarray, radius: int = 1, tiled: bool = False
) -> np.ndarray:
    """The blurred float32 `image` (H x W), computed by `blur` or `blur_tiled` on `executor`."""
    h, w = image.shape
    out = np.empty_like(image)
    kernel = blur_tiled if tiled else blur
    kernel[launch_config(h, w)](image, out, h, w, radius, executor=executor)
    return out


def numpy_blur(image: np.ndarray, radius: int = 1) -> np.ndarray:
    """The same blur with NumPy slices of an edge-padded copy, in the image's dtype."""
    h, w = image.shape
    padded = np.pad(image, radius, mode="edge")
    acc = np.zeros_like(image)
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            acc += padded[dy : dy + h, dx : dx + w]
    return acc * image.dtype.type(1.0 / (2 * radius + 1) ** 2)


def check(executor: hologram.Executor, h: int, w: int, radius: int = 1, seed: int = 0) -> bool:
    """Run both kernels on a random image on `executor`; print two lines; True when both match."""
    image = np.random.default_rng(seed).random((h, w), dtype=np.float32)
    expected = numpy_blur(image.astype(np.float64), radius)
    results = []
    for tiled in (False, True):
        got = run(executor, image, radius, tiled)
        error = float(np.max(np.abs(got - expected)))
        ok = error <= TOLERANCE
        name = "blur_tiled" if tiled else "blur"
        print(
            f"{executor.backend_name:<10} {name} {h}x{w} r={radius:<4} max error {error:.2e} "
            f"(tolerance {TOLERANCE:.1e})  {'ok' if ok else 'FAIL'}"
        )
        results.append(ok)
    return all(results)


def image_size(text: str) -> tuple[int, int]:
    """`HxW` (or one number for a square) as (H, W)."""
    parts = text.lower().split("x")
    try:
        h, w = (int(parts[0]), int(parts[-1])) if len(parts) <= 2 else (0, 0)
    except ValueError:
        h = w = 0
    if h < 1 or w < 1:
        raise argparse.ArgumentTypeError(f"expected HxW or N with positive sides, got {text!r}")
    return h, w


def main(argv: Sequence[str] | None = None) -> int:
    """Check both blurs on each chosen backend; 0 when every one matches NumPy."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backend",
        action="append",
        help="a backend to run on (repeatable; default: every available backend)",
    )
    parser.add_argument(
        "--size", type=image_size, default=(256, 384), help="HxW or N (default 256x384)"
    )
    parser.add_argument("--radius", type=int, default=1, help="blur radius (default 1: 3x3)")
    args = parser.parse_args(argv)
    if args.radius < 0:
        parser.error("--radius must be at least 0")
    backends = args.backend or hologram.available_backends()
    h, w = args.size
    results = [check(hologram.Executor(name), h, w, args.radius) for name in backends]
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
