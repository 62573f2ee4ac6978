"""Reductions, softmax, layer_norm, matmul and gemm planned once per signature: repeated calls
stay right, return new memory, keep checking, and plan apart what must differ."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from ops_helpers import as_numpy, assert_close, draw, f64

import hologram.ops as hops
from hologram.errors import DTypeError, ShapeError
from hologram.ops._plans import MAX_KEPT_SCRATCH, Plan

REDUCTIONS = {
    "sum": np.sum,
    "min": np.min,
    "max": np.max,
    "mean": np.mean,
}


def _plans(executor) -> list[Plan]:
    return [p for p in executor.plans.values() if isinstance(p, Plan)]


def _assert_replayed(executor) -> None:
    """Every plan made was replayed through its bound launches (the path under test)."""
    plans = _plans(executor)
    assert plans and all(p.bound is not None or not p.steps for p in plans)


def _planned(executor, buffers: bool) -> bool:
    """Whether calls are planned: Buffers always; NumPy inputs only on host backends (a
    device backend copies them in each call, which a plan cannot replay)."""
    return buffers or executor.backend.is_host


@pytest.mark.parametrize("kind", sorted(REDUCTIONS))
@pytest.mark.parametrize(
    ("shape", "axis", "keepdims"),
    [
        ((13, 7, 5), None, False),
        ((13, 7, 5), 1, True),
        ((13, 7, 5), (0, 2), False),  # two runs: an intermediate buffer between them
        ((3, 20000), -1, False),  # long rows: split into chunks and combined (scratch)
        ((50000,), None, True),
    ],
)
def test_reductions_repeat_right(executor, rng, kind, shape, axis, keepdims) -> None:
    kept = []
    for _ in range(6):  # per input kind, the first call plans, the others replay
        x = draw(rng, shape, "f32")
        source = x if len(kept) % 2 else executor.from_numpy(x)
        result = getattr(hops, kind)(source, axis=axis, keepdims=keepdims, executor=executor)
        assert isinstance(result, np.ndarray) == (source is x)
        kept.append((result, REDUCTIONS[kind](f64(x), axis=axis, keepdims=keepdims)))
    for result, expected in kept:  # no later call wrote over an earlier result
        assert_close(result, expected, "f32", scale=np.size(x) / max(np.size(expected), 1))
    _assert_replayed(executor)


@pytest.mark.parametrize("dtype", ["i32", "f16", "f64"])
def test_reduction_dtypes_repeat_right(executor, rng, dtype) -> None:
    for _ in range(3):
        x = draw(rng, (9, 1000), dtype)
        expected = np.sum(f64(x), axis=0)
        out_dtype = "i64" if dtype == "i32" else dtype
        assert_close(hops.sum(x, axis=0, executor=executor), expected, out_dtype, scale=100)


def test_axis_and_keepdims_are_planned_apart(executor, rng) -> None:
    x = draw(rng, (6, 5, 4), "f32")
    cases = [((1,), False), (1, False), (1, True), (1, 1), (-2, False), ((0, 1), False), (None, 0)]
    for _ in range(2):
        for axis, keepdims in cases:
            result = hops.sum(x, axis=axis, keepdims=keepdims, executor=executor)
            assert_close(result, np.sum(f64(x), axis=axis, keepdims=bool(keepdims)), "f32", 10)
    for _ in range(3):  # True == 1 and 1.0 == 1, but neither is an axis
        with pytest.raises(ShapeError, match="axis"):
            hops.sum(x, axis=True, executor=executor)
        with pytest.raises(ShapeError, match="axis"):
            hops.sum(x, axis=1.0, executor=executor)  # type: ignore[arg-type]
        with pytest.raises(ShapeError, match="axis"):
            hops.softmax(x, axis=True, executor=executor)


def test_reduction_errors_are_raised_every_call(executor, rng) -> None:
    for _ in range(3):
        with pytest.raises(ShapeError, match="identity"):
            hops.max(np.empty((3, 0), np.float32), axis=1, executor=executor)
        with pytest.raises(DTypeError, match="floating-point"):
            hops.mean(np.arange(6, dtype=np.int32), executor=executor)
        with pytest.raises(ShapeError, match="out of range"):
            hops.min(draw(rng, (4, 5), "f32"), axis=2, executor=executor)


def test_empty_reductions_repeat(executor) -> None:
    for _ in range(3):
        result = hops.sum(np.empty((0, 4), np.float32), axis=0, executor=executor)
        assert_close(result, np.zeros(4), "f32")
        result = hops.mean(np.empty((3, 0), np.float32), axis=0, executor=executor)
        assert result.shape == (0,)


def test_scratch_is_kept_when_small(executor, rng) -> None:
    x = draw(rng, (3, 20000), "f32")
    source = x if _planned(executor, False) else executor.from_numpy(x)
    for _ in range(3):
        hops.max(source, axis=-1, executor=executor)
    (plan,) = _plans(executor)
    assert plan.scratch and plan.kept is not None
    assert sum(np.prod(s) * d.itemsize for s, d in plan.scratch) <= MAX_KEPT_SCRATCH
    assert not any(b.allocation.owns_classes for b in plan.kept)  # held long: no classes


def test_threads_sharing_a_plan_get_right_results(executor, rng) -> None:
    draws = [draw(rng, (4, 30000), "f32") for _ in range(8)]
    hops.sum(draws[0], axis=1, executor=executor)  # plan it (with scratch to share)
    results: dict[int, np.ndarray] = {}

    def work(i: int) -> None:
        for _ in range(5):
            results[i] = hops.sum(draws[i], axis=1, executor=executor)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(draws))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, x in enumerate(draws):
        assert_close(results[i], np.sum(f64(x), axis=1), "f32", scale=300)


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_repeats_right(executor, rng, axis) -> None:
    kept = []
    for i in range(6):
        x = draw(rng, (5, 33, 4), "f32")
        source = executor.from_numpy(x) if i % 2 else x
        kept.append((hops.softmax(source, axis=axis, executor=executor), _softmax(f64(x), axis)))
    for result, expected in kept:
        assert_close(result, expected, "f32")
    _assert_replayed(executor)


def _layer_norm(x, weight, bias, axis, eps):
    axes = tuple(range(axis % x.ndim, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps)
    return y * (1 if weight is None else weight) + (0 if bias is None else bias)


@pytest.mark.parametrize("buffers", [False, True])
@pytest.mark.parametrize(
    ("weight_shape", "bias_shape", "axis", "param_dtype"),
    [
        ((64,), (64,), -1, "f32"),
        (None, (64,), -1, "f32"),
        ((1,), None, -1, "f32"),  # broadcast: converted through scratch
        ((10, 64), (64,), 1, "f64"),  # another dtype: converted to x's
    ],
)
def test_layer_norm_repeats_right(
    executor, rng, buffers, weight_shape, bias_shape, axis, param_dtype
) -> None:
    kept = []
    for _ in range(4):
        x = draw(rng, (3, 10, 64), "f32")
        weight = None if weight_shape is None else draw(rng, weight_shape, param_dtype)
        bias = None if bias_shape is None else draw(rng, bias_shape, param_dtype)
        expected = _layer_norm(
            f64(x),
            None if weight is None else f64(weight.astype(np.float32)),
            None if bias is None else f64(bias.astype(np.float32)),
            axis,
            1e-3,
        )
        args = [x, weight, bias]
        if buffers:
            args = [None if v is None else executor.from_numpy(v) for v in args]
        result = hops.layer_norm(*args, axis=axis, eps=1e-3, executor=executor)
        kept.append((result, expected))
    for result, expected in kept:
        assert_close(result, expected, "f32", scale=10)


def test_layer_norm_eps_is_planned_apart(executor, rng) -> None:
    x = draw(rng, (4, 8), "f32") * 1e-3
    for _ in range(2):
        for eps in (1e-5, 1e-2, 1):
            result = hops.layer_norm(x, eps=eps, executor=executor)
            assert_close(result, _layer_norm(f64(x), None, None, -1, eps), "f32", scale=10)


@pytest.mark.parametrize(
    ("a_shape", "b_shape"),
    [((33, 17), (17, 9)), ((4, 5, 6), (6, 3)), ((2, 1, 5, 6), (3, 6, 4)), ((6,), (6, 7))],
)
@pytest.mark.parametrize("buffers", [False, True])
def test_matmul_repeats_right(executor, rng, a_shape, b_shape, buffers) -> None:
    kept = []
    for _ in range(4):
        a, b = draw(rng, a_shape, "f32"), draw(rng, b_shape, "f32")
        args = (executor.from_numpy(a), executor.from_numpy(b)) if buffers else (a, b)
        kept.append((hops.matmul(*args, executor=executor), f64(a) @ f64(b)))
    for result, expected in kept:
        assert_close(result, expected, "f32", scale=10)
    assert bool(executor.plans) == _planned(executor, buffers)


def test_one_input_twice_is_planned_apart(executor, rng) -> None:
    for _ in range(3):
        a, b = draw(rng, (8, 8), "f32"), draw(rng, (8, 8), "f32")
        ba, bb = executor.from_numpy(a), executor.from_numpy(b)
        assert_close(hops.matmul(ba, ba, executor=executor), f64(a) @ f64(a), "f32", 10)
        assert_close(hops.matmul(ba, bb, executor=executor), f64(a) @ f64(b), "f32", 10)
        assert_close(hops.matmul(bb, ba, executor=executor), f64(b) @ f64(a), "f32", 10)


@pytest.mark.parametrize(
    ("alpha", "beta", "trans_a", "trans_b", "c_shape"),
    [
        (1.0, 1.0, False, False, None),
        (0.5, 2.0, False, True, (7,)),
        (2, -1.0, True, False, (5, 7)),
        (1.0, 0.0, True, True, (5, 1)),
    ],
)
@pytest.mark.parametrize("buffers", [False, True])
def test_gemm_repeats_right(executor, rng, alpha, beta, trans_a, trans_b, c_shape, buffers):
    kept = []
    for _ in range(4):
        a = draw(rng, (6, 5) if trans_a else (5, 6), "f32")
        b = draw(rng, (7, 6) if trans_b else (6, 7), "f32")
        c = None if c_shape is None else draw(rng, c_shape, "f32")
        expected = alpha * ((f64(a).T if trans_a else f64(a)) @ (f64(b).T if trans_b else f64(b)))
        if c is not None:
            expected = expected + beta * f64(c)
        args = [a, b, c]
        if buffers:
            args = [None if v is None else executor.from_numpy(v) for v in args]
        result = hops.gemm(*args, alpha, beta, trans_a, trans_b, executor=executor)
        kept.append((result, expected))
    for result, expected in kept:
        assert_close(result, expected, "f32", scale=10)
    if _planned(executor, buffers):
        _assert_replayed(executor)
    else:
        assert not _plans(executor)


def test_matmul_errors_are_raised_every_call(executor, rng) -> None:
    a = draw(rng, (4, 5), "f32")
    for _ in range(3):
        with pytest.raises(ShapeError, match="align"):
            hops.matmul(a, draw(rng, (4, 5), "f32"), executor=executor)
        with pytest.raises(DTypeError, match="whole number"):
            hops.gemm(a.astype(np.int32), a.T.astype(np.int32), alpha=0.5, executor=executor)
        result = hops.matmul(a, np.empty((5, 0), np.float32), executor=executor)
        assert result.shape == (4, 0)
        result = hops.matmul(np.empty((4, 0), np.float32), np.empty((0, 3), np.float32))
        np.testing.assert_array_equal(as_numpy(result), np.zeros((4, 3), np.float32))
