"""The standard library's row kernels (reduce/, normalization/), launched directly on every backend.

Each kernel runs as `kernel[grid, block](...)` against a NumPy float64 oracle, in f32 and one
other dtype, with the signatures `hologram.ops` uses (so they share its compiled programs).
Row lengths are not multiples of eight, so that both the eight-way loop and its tail run.
"""

from __future__ import annotations

import numpy as np
import pytest

import hologram as hg
from hologram import kernels
from hologram.isa import DType

TOLERANCE = {"f16": 2e-3, "bf16": 1.6e-2, "f32": 2e-5, "f64": 1e-12}
WIDE = {"f16": "f32", "bf16": "f32"}
"""The dtype a narrow float is computed in; others are computed in their own."""
REDUCTIONS = {"sum": np.sum, "min": np.min, "max": np.max, "mean": np.mean}


def numpy_dtype(dtype: str) -> np.dtype:
    return DType.of(dtype).numpy


def draw(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    if DType.of(dtype).is_int:
        return rng.integers(-100, 100, size=shape).astype(numpy_dtype(dtype))
    return rng.uniform(-3.0, 3.0, size=shape).astype(numpy_dtype(dtype))


def check(got: np.ndarray, expected: np.ndarray, dtype: str, scale: float = 1.0) -> None:
    assert got.dtype == numpy_dtype(dtype)
    if DType.of(dtype).is_int:
        np.testing.assert_array_equal(got, expected)
        return
    tol = TOLERANCE[dtype]
    np.testing.assert_allclose(got.astype(np.float64), expected, rtol=tol, atol=tol * scale)


def launch(key: str, lanes: int, *args: object, executor: object) -> None:
    kernels.load(key)[hg.blocks(lanes), 256](*args, executor=executor)


@pytest.mark.parametrize(
    ("kind", "dtype", "out_dtype", "columns"),
    [
        ("sum", "f32", "f32", False),
        ("sum", "i32", "i64", False),
        ("sum", "f32", "f32", True),
        ("min", "f32", "f32", False),
        ("min", "f64", "f64", False),
        ("max", "f32", "f32", True),
        ("min", "i32", "i32", False),
        ("mean", "f32", "f32", False),
        ("mean", "f32", "f32", True),
        ("mean", "f64", "f64", False),
    ],
)
def test_reduction_of_chunks(executor, rng, kind, dtype, out_dtype, columns):
    # Three chunks per row, the last of 11 elements. With `columns`, eight of the eleven rows
    # side by side go to one lane and the other three to the next.
    outer, r, chunk = 3, 37, 13
    inner = 11 if columns else 2
    chunks = -(-r // chunk)
    lanes = outer * chunks * (-(-inner // 8) if columns else inner)
    x = draw(rng, (outer, r, inner), dtype)
    out = executor.zeros(outer * chunks * inner, out_dtype)
    args = [executor.from_numpy(x.ravel()), out, lanes, r, inner, chunk, chunks]
    if kind == "mean":
        args.append(numpy_dtype(out_dtype).type(r))  # divide by the whole row's count
    launch(f"reduce/{kind}", lanes, *args, out_dtype, columns, executor=executor)
    wide = x.astype(np.int64 if DType.of(dtype).is_int else np.float64)
    parts = [wide[:, c * chunk : (c + 1) * chunk, :] for c in range(chunks)]
    oracle = np.sum if kind == "mean" else REDUCTIONS[kind]
    expected = np.stack([oracle(p, axis=1) for p in parts], axis=1)
    if kind == "mean":
        expected = expected / r
    check(out.to_numpy(), expected.ravel(), out_dtype, scale=10.0)


def test_reductions_of_half_floats_accumulate_in_f32(executor, rng):
    # Eight 2048s, then values in [0.25, 0.5): a sum in f16 at 2048 or more no longer changes
    # when a value below 1 is added, so accumulating in f16 would drop the small values (about
    # 190 in all, far beyond the tolerance); in f32 only the rounding of the result remains.
    r = 8 + 512
    x = rng.uniform(0.25, 0.5, size=(2, r)).astype(np.float16)
    x[:, :8] = 2048
    out = executor.zeros(2, "f16")
    args = [executor.from_numpy(x.ravel()), out, 2, r, 1, r, 1, "f32"]
    launch("reduce/sum", 2, *args, executor=executor)
    check(out.to_numpy(), x.astype(np.float64).sum(axis=1), "f16")


@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_softmax_rows(executor, rng, dtype):
    outer, r, inner = 2, 19, 3
    x = draw(rng, (outer, r, inner), dtype) * 5
    out = executor.zeros(x.size, dtype)
    compute = WIDE.get(dtype, dtype)
    stash = compute == dtype  # f16 results are computed in f32 and rounded once
    args = [executor.from_numpy(x.ravel()), out, outer * inner, r, inner, compute, stash]
    launch("normalization/softmax", outer * inner, *args, executor=executor)
    x64 = x.astype(np.float64)
    e = np.exp(x64 - x64.max(axis=1, keepdims=True))
    check(out.to_numpy(), (e / e.sum(axis=1, keepdims=True)).ravel(), dtype)


@pytest.mark.parametrize(("dtype", "affine"), [("f32", True), ("f64", False)])
def test_layer_norm_rows(executor, rng, dtype, affine):
    rows, r, eps = 4, 21, 1e-5
    x = draw(rng, (rows, r), dtype)
    weight, bias = draw(rng, (r,), dtype), draw(rng, (r,), dtype)
    out = executor.zeros(x.size, dtype)
    args = [
        executor.from_numpy(x.ravel()),
        executor.from_numpy(weight),
        executor.from_numpy(bias),
        out,
        rows,
        r,
        numpy_dtype(dtype).type(eps),
        dtype,
        affine,
        affine,
    ]
    launch("normalization/layer_norm", rows, *args, executor=executor)
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=1, keepdims=True)
    expected = (x64 - mean) / np.sqrt(x64.var(axis=1, keepdims=True) + eps)
    if affine:
        expected = expected * weight.astype(np.float64) + bias.astype(np.float64)
    check(out.to_numpy(), expected.ravel(), dtype, scale=10.0)


def test_every_listed_signature_lowers():
    found = [kf for kf in kernels.discover() if kf.family in ("reduce", "normalization")]
    assert {kf.key for kf in found} >= {
        "reduce/sum",
        "reduce/min",
        "reduce/max",
        "reduce/mean",
        "normalization/softmax",
        "normalization/layer_norm",
    }
    for kf in found:
        kernel = kf.load()
        assert kernel.signatures, f"{kf.key} lists no signatures to compile ahead of time"
        for signature in kernel.signatures:
            program = kernel.specialize(signature)
            assert not program.uses_block_features  # lane mode on the cpu backend
