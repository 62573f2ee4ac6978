"""Corpus cases for the intrinsic tensor instructions: MATMUL and CONV2D."""

from __future__ import annotations

import numpy as np

from hologram.isa import Builder, DType, LaunchConfig
from programs.case import Case
from programs.compute import as_ints, wrap

_INTRINSIC_CONFIG = LaunchConfig(1, 1)


def _draw(rng: np.random.Generator, dtype: str, size: int) -> np.ndarray:
    dt = DType.of(dtype)
    if dt.is_float:
        return rng.uniform(-1, 1, size).astype(dt.numpy)
    info = np.iinfo(dt.numpy)
    return rng.integers(int(info.min), int(info.max), size, endpoint=True, dtype=dt.numpy)


# ---------------------------------------------------------------- matmul
def _matmul_case(
    name: str,
    dtype: str,
    m: int,
    n: int,
    k: int,
    batch: int = 1,
    trans_a: bool = False,
    trans_b: bool = False,
    broadcast_a: bool = False,
    broadcast_b: bool = False,
) -> Case:
    stride_a = 0 if broadcast_a else m * k
    stride_b = 0 if broadcast_b else k * n
    size_a = m * k * (1 if broadcast_a else batch)
    size_b = k * n * (1 if broadcast_b else batch)

    def build():
        b = Builder(name)
        a = b.buffer("a", dtype)
        bb = b.buffer("b", dtype)
        c = b.buffer("c", dtype, access="write")
        b.matmul(
            a,
            bb,
            c,
            batch=batch,
            m=m,
            n=n,
            k=k,
            trans_a=trans_a,
            trans_b=trans_b,
            stride_a=stride_a,
            stride_b=stride_b,
            stride_c=m * n,
        )
        return b.build()

    def make_args(rng: np.random.Generator) -> list:
        c = np.zeros(m * n * batch, DType.of(dtype).numpy)
        return [_draw(rng, dtype, size_a), _draw(rng, dtype, size_b), c]

    def expected(args: list) -> list[np.ndarray]:
        outs = []
        for i in range(batch):
            a = args[0][i * stride_a : i * stride_a + m * k]
            b = args[1][i * stride_b : i * stride_b + k * n]
            a = a.reshape(k, m).T if trans_a else a.reshape(m, k)
            b = b.reshape(n, k).T if trans_b else b.reshape(k, n)
            if DType.of(dtype).is_float:
                outs.append(a.astype(np.float64) @ b.astype(np.float64))
            else:
                exact = as_ints(a.reshape(-1)).reshape(a.shape) @ as_ints(b.reshape(-1)).reshape(
                    b.shape
                )
                outs.append(wrap(exact.reshape(-1), dtype))
        return [np.concatenate([o.reshape(-1) for o in outs])]

    rtol = 1e-4 if dtype == "f32" else None
    return Case(name, build, make_args, _INTRINSIC_CONFIG, [2], expected, rtol=rtol)


# ---------------------------------------------------------------- conv2d
def conv2d_oracle(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray | None,
    stride: tuple[int, int],
    pad: tuple[int, int, int, int],
    dilation: tuple[int, int],
    groups: int,
) -> np.ndarray:
    """ONNX Conv (cross-correlation, NCHW/KCRS) by direct summation, one output pixel at a time."""
    n, c, h, wd = x.shape
    k, cg, r, s = w.shape
    top, left, bottom, right = pad
    oh = (h + top + bottom - dilation[0] * (r - 1) - 1) // stride[0] + 1
    ow = (wd + left + right - dilation[1] * (s - 1) - 1) // stride[1] + 1
    kg = k // groups
    y = np.zeros((n, k, oh, ow))
    for oy in range(oh):
        for ox in range(ow):
            for ky in range(r):
                for kx in range(s):
                    iy = oy * stride[0] - top + ky * dilation[0]
                    ix = ox * stride[1] - left + kx * dilation[1]
                    if not (0 <= iy < h and 0 <= ix < wd):
                        continue
                    for g in range(groups):
                        pixels = x[:, g * cg : (g + 1) * cg, iy, ix]  # n x cg
                        taps = w[g * kg : (g + 1) * kg, :, ky, kx]  # kg x cg
                        y[:, g * kg : (g + 1) * kg, oy, ox] += pixels @ taps.T
    if bias is not None:
        y += bias.reshape(1, k, 1, 1)
    return y


def _conv2d_case(
    name: str,
    dtype: str,
    shape: tuple[int, int, int, int],
    kernel: tuple[int, int, int],
    stride: tuple[int, int] = (1, 1),
    pad: tuple[int, int, int, int] = (0, 0, 0, 0),
    dilation: tuple[int, int] = (1, 1),
    groups: int = 1,
    bias: bool = False,
) -> Case:
    n, c, h, w = shape
    k, r, s = kernel
    cg = c // groups
    top, left, bottom, right = pad
    oh = (h + top + bottom - dilation[0] * (r - 1) - 1) // stride[0] + 1
    ow = (w + left + right - dilation[1] * (s - 1) - 1) // stride[1] + 1
    np_dtype = DType.of(dtype).numpy

    def build():
        b = Builder(name)
        x = b.buffer("x", dtype)
        wt = b.buffer("w", dtype)
        y = b.buffer("y", dtype, access="write")
        bias_arg = b.buffer("bias", dtype) if bias else None
        b.conv2d(
            x,
            wt,
            y,
            bias_arg,
            n=n,
            c=c,
            h=h,
            w=w,
            k=k,
            r=r,
            s=s,
            stride=stride,
            pad=pad,
            dilation=dilation,
            groups=groups,
        )
        return b.build()

    def make_args(rng: np.random.Generator) -> list:
        args = [
            rng.uniform(-1, 1, n * c * h * w).astype(np_dtype),
            rng.uniform(-1, 1, k * cg * r * s).astype(np_dtype),
            np.zeros(n * k * oh * ow, np_dtype),
        ]
        if bias:
            args.append(rng.uniform(-1, 1, k).astype(np_dtype))
        return args

    def expected(args: list) -> list[np.ndarray]:
        x = args[0].astype(np.float64).reshape(n, c, h, w)
        wt = args[1].astype(np.float64).reshape(k, cg, r, s)
        b = args[3].astype(np.float64) if bias else None
        return [conv2d_oracle(x, wt, b, stride, pad, dilation, groups).reshape(-1)]

    rtol, atol = (1e-4, 1e-5) if dtype == "f32" else (None, None)
    return Case(name, build, make_args, _INTRINSIC_CONFIG, [2], expected, rtol=rtol, atol=atol)


def _all_cases() -> list[Case]:
    return [
        _matmul_case("matmul_f32", "f32", 7, 5, 9),
        _matmul_case("matmul_f32_trans_a", "f32", 6, 4, 3, trans_a=True),
        _matmul_case("matmul_f32_trans_b", "f32", 5, 8, 7, trans_b=True),
        _matmul_case("matmul_f64_trans_ab_batch", "f64", 4, 3, 5, 3, True, True),
        _matmul_case("matmul_f32_broadcast_b", "f32", 3, 6, 4, batch=4, broadcast_b=True),
        _matmul_case("matmul_f16_broadcast_a", "f16", 5, 3, 6, batch=2, broadcast_a=True),
        _matmul_case("matmul_bf16", "bf16", 4, 4, 8),
        _matmul_case("matmul_i32_wrap", "i32", 3, 4, 5, batch=2),
        _matmul_case("matmul_u8_wrap", "u8", 4, 2, 3),
        _conv2d_case("conv2d_f32", "f32", (2, 3, 7, 6), (4, 3, 3)),
        _conv2d_case("conv2d_stride_pad", "f32", (1, 2, 9, 8), (3, 3, 3), (2, 2), (1, 1, 1, 1)),
        _conv2d_case(
            "conv2d_asym_pad_dilation", "f64", (2, 2, 8, 9), (2, 3, 2), (1, 2), (2, 0, 1, 3), (2, 2)
        ),
        _conv2d_case(
            "conv2d_groups_bias",
            "f32",
            (2, 4, 6, 6),
            (6, 3, 3),
            (1, 1),
            (1, 1, 1, 1),
            groups=2,
            bias=True,
        ),
        _conv2d_case("conv2d_depthwise", "f32", (1, 3, 5, 5), (3, 3, 3), groups=3, bias=True),
        _conv2d_case("conv2d_f16", "f16", (1, 2, 5, 5), (2, 2, 2), (1, 1), (1, 0, 0, 1)),
    ]


TENSOR_CASES: list[Case] = _all_cases()
