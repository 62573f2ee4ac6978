"""Reductions, normalisations, softmax, losses and TopK beyond the node tests: axes that are
not adjacent, rows split into chunks, half-precision inputs, integers and bools, empty
reductions, the opset-11 softmax semantics, ties, optional outputs and errors.

Every model runs on the cpu and the reference backends, checked against NumPy in float64 or
onnx's reference evaluator.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from onnx.reference import ReferenceEvaluator

import hologram
from hologram.errors import ModelError
from onnx import helper, numpy_helper

BACKENDS = ("cpu", "reference")


def _elem(dtype: np.dtype) -> int:
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def make_model(op, feeds, outputs, opset=18, initializers=None, **attrs):
    """A one-node model of `op`: `feeds` are graph inputs (name -> array), `initializers`
    constant inputs after them, `outputs` maps output names to (dtype, shape)."""
    initializers = initializers or {}
    names = [*feeds, *initializers]
    node = helper.make_node(op, names, list(outputs), **attrs)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info(n, _elem(a.dtype), a.shape) for n, a in feeds.items()],
        [helper.make_tensor_value_info(n, _elem(d), s) for n, (d, s) in outputs.items()],
        [numpy_helper.from_array(a, n) for n, a in initializers.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def run_both(model, feeds, check=True) -> list[list[np.ndarray]]:
    """The outputs of `model` on each backend, in output order (`check`: run onnx.checker)."""
    compiled = hologram.compile(model, check=check)
    names = [o.name for o in model.graph.output]
    results = []
    for backend in BACKENDS:
        outputs = hologram.Model(compiled, backend).run(feeds)
        results.append([np.asarray(outputs[name]) for name in names])
    return results


def oracle(model, feeds) -> list[np.ndarray]:
    """onnx's reference evaluator on `model`."""
    return ReferenceEvaluator(model).run(None, feeds)


def assert_close(got, want, rtol, atol=0.0):
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape)
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol, atol)


# ----------------------------------------------------------------------- Reduce*
NUMPY_REDUCE = {
    "ReduceSum": lambda x, a: x.sum(a, keepdims=True),
    "ReduceMean": lambda x, a: x.mean(a, keepdims=True),
    "ReduceMax": lambda x, a: x.max(a, keepdims=True),
    "ReduceMin": lambda x, a: x.min(a, keepdims=True),
    "ReduceProd": lambda x, a: x.prod(a, keepdims=True),
    "ReduceL1": lambda x, a: np.abs(x).sum(a, keepdims=True),
    "ReduceL2": lambda x, a: np.sqrt((x * x).sum(a, keepdims=True)),
    "ReduceSumSquare": lambda x, a: (x * x).sum(a, keepdims=True),
    "ReduceLogSum": lambda x, a: np.log(x.sum(a, keepdims=True)),
    "ReduceLogSumExp": lambda x, a: np.log(np.exp(x).sum(a, keepdims=True)),
}


CASES = [
    *((op, (3, 4, 5, 6), (0, 2), np.float32) for op in sorted(NUMPY_REDUCE)),
    # Long rows are split into chunks, combined by a second launch.
    *((op, (3, 9000), (1,), np.float32) for op in ("ReduceSum", "ReduceMax", "ReduceLogSumExp")),
    # Half precision accumulates in f32.
    ("ReduceMean", (70, 5, 3), (0, 2), np.float16),
    ("ReduceL2", (70, 5, 3), (0,), np.float16),
    ("ReduceSum", (70, 5, 3), (1, 2), ml_dtypes.bfloat16),
]


@pytest.mark.parametrize(("op", "shape", "axes", "dtype"), CASES)
def test_reduce_matches_float64(op, shape, axes, dtype):
    rng = np.random.default_rng(1)
    x = rng.uniform(0.5, 1.5, shape).astype(dtype)  # positive: log-sum is defined
    if op == "ReduceProd":
        x = rng.uniform(0.999, 1.001, shape).astype(dtype)  # a product that stays finite
    want = NUMPY_REDUCE[op](x.astype(np.float64), axes)
    model = make_model(
        op, {"x": x}, {"y": (dtype, want.shape)}, initializers={"axes": np.array(axes, np.int64)}
    )
    rtol = 1e-5 if dtype == np.float32 else 1e-2
    for (got,) in run_both(model, {"x": x}):
        assert_close(got, want.astype(dtype), rtol)


def test_reduce_keepdims_zero_and_attribute_axes_before_opset_18():
    x = np.random.default_rng(2).standard_normal((4, 3, 5)).astype(np.float64)
    model = make_model(
        "ReduceMean", {"x": x}, {"y": (np.float64, (3,))}, opset=13, axes=[0, -1], keepdims=0
    )
    for (got,) in run_both(model, {"x": x}):
        assert_close(got, x.mean((0, 2)), 1e-12)


def test_reduce_integers_and_bools():
    rng = np.random.default_rng(3)
    x = rng.integers(-50, 50, (6, 7, 8)).astype(np.int32)
    for op, fn in (("ReduceSum", np.sum), ("ReduceMax", np.max), ("ReduceMin", np.min)):
        want = fn(x, axis=(0, 2), keepdims=True)
        model = make_model(
            op,
            {"x": x},
            {"y": (np.int32, want.shape)},
            initializers={"axes": np.array([0, 2], np.int64)},
        )
        for (got,) in run_both(model, {"x": x}):
            np.testing.assert_array_equal(got, want)
    # The mean of integers is truncated toward zero, as onnx's reference does.
    want = np.trunc(x.mean(1, keepdims=True)).astype(np.int32)
    model = make_model(
        "ReduceMean",
        {"x": x},
        {"y": (np.int32, want.shape)},
        initializers={"axes": np.array([1], np.int64)},
    )
    for (got,) in run_both(model, {"x": x}):
        np.testing.assert_array_equal(got, want)
    flags = rng.random((5, 9)) < 0.2
    for op, fn in (("ReduceMax", np.any), ("ReduceMin", np.all)):
        model = make_model(
            op,
            {"x": flags},
            {"y": (np.bool_, (5, 1))},
            opset=20,
            initializers={"axes": np.array([1], np.int64)},
        )
        for (got,) in run_both(model, {"x": flags}):
            np.testing.assert_array_equal(got, fn(flags, axis=1, keepdims=True))


@pytest.mark.parametrize(
    ("op", "identity"),
    [("ReduceMin", np.inf), ("ReduceProd", 1.0), ("ReduceLogSumExp", -np.inf)],
)
def test_empty_reduction_gives_the_identity(op, identity):
    x = np.zeros((2, 0, 3), np.float32)
    model = make_model(
        op, {"x": x}, {"y": (np.float32, (2, 1, 3))}, initializers={"axes": np.array([1], np.int64)}
    )
    for (got,) in run_both(model, {"x": x}):
        np.testing.assert_array_equal(got, np.full((2, 1, 3), identity, np.float32))


def test_noop_with_empty_axes_applies_the_element_term():
    x = np.random.default_rng(4).standard_normal((3, 4)).astype(np.float32)
    model = make_model(
        "ReduceSumSquare",
        {"x": x},
        {"y": (np.float32, (3, 4))},
        initializers={"axes": np.zeros(0, np.int64)},
        noop_with_empty_axes=1,
    )
    for (got,) in run_both(model, {"x": x}):
        assert_close(got, x * x, 1e-6)


def test_log_sum_exp_does_not_overflow():
    x = np.array([[1000.0, 1000.0], [-1000.0, -1001.0]], np.float32)
    want = np.logaddexp.reduce(x.astype(np.float64), axis=1, keepdims=True)
    model = make_model(
        "ReduceLogSumExp",
        {"x": x},
        {"y": (np.float32, (2, 1))},
        initializers={"axes": np.array([1], np.int64)},
    )
    for (got,) in run_both(model, {"x": x}):
        assert_close(got, want.astype(np.float32), 1e-6)


# ----------------------------------------------------------------------- ArgMax, TopK
@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize("last", [0, 1])
def test_arg_extremes_with_ties(op, last):
    x = np.random.default_rng(5).integers(0, 3, (4, 6, 5)).astype(np.float32)
    x[1, 2, 3] = np.nan
    model = make_model(
        op,
        {"x": x},
        {"y": (np.int64, (4, 5))},
        opset=13,
        axis=1,
        keepdims=0,
        select_last_index=last,
    )
    (want,) = oracle(model, {"x": x})
    for (got,) in run_both(model, {"x": x}):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("largest", [0, 1])
def test_top_k_orders_ties_by_index(largest):
    x = np.random.default_rng(6).integers(0, 10, (5, 40, 3)).astype(np.float32)
    model = make_model(
        "TopK",
        {"x": x},
        {"v": (np.float32, (5, 7, 3)), "i": (np.int64, (5, 7, 3))},
        opset=11,
        initializers={"k": np.array([7], np.int64)},
        axis=1,
        largest=largest,
    )
    want_values, want_indices = oracle(model, {"x": x})
    for values, indices in run_both(model, {"x": x}):
        np.testing.assert_array_equal(values, want_values)
        np.testing.assert_array_equal(indices, want_indices)


def test_top_k_rejects_k_beyond_the_axis():
    x = np.zeros((2, 3), np.float32)
    model = make_model(
        "TopK",
        {"x": x},
        {"v": (np.float32, (2, 4)), "i": (np.int64, (2, 4))},
        opset=11,
        initializers={"k": np.array([4], np.int64)},
    )
    with pytest.raises(ModelError, match="k 4"):
        hologram.Model(hologram.compile(model), "cpu").run({"x": x})


# ----------------------------------------------------------------------- softmax family
@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax", "Hardmax"])
@pytest.mark.parametrize("opset", [11, 13])
def test_softmax_family_axis_semantics(op, opset):
    x = np.random.default_rng(7).standard_normal((2, 3, 4, 5)).astype(np.float32)
    model = make_model(op, {"x": x}, {"y": (np.float32, x.shape)}, opset=opset, axis=1)
    if opset == 13:
        (want,) = oracle(model, {"x": x})
    else:
        # Before opset 13 the op works on x as a matrix (N, C*H*W): the opset-13 op on the
        # flattened rows (onnx's reference evaluator applies the opset-13 semantics to both).
        rows = x.reshape(2, -1)
        flat = make_model(op, {"x": rows}, {"y": (np.float32, rows.shape)}, opset=13)
        want = oracle(flat, {"x": rows})[0].reshape(x.shape)
    for (got,) in run_both(model, {"x": x}):
        assert_close(got, want, 1e-5, 1e-6)


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16])
def test_softmax_half_precision(dtype):
    x = (np.random.default_rng(8).standard_normal((6, 50)) * 4).astype(dtype)
    shifted = x.astype(np.float64) - x.astype(np.float64).max(1, keepdims=True)
    want = np.exp(shifted) / np.exp(shifted).sum(1, keepdims=True)
    model = make_model("Softmax", {"x": x}, {"y": (dtype, x.shape)}, opset=13)
    for (got,) in run_both(model, {"x": x}):
        # Computed in f32 and rounded once: within half a unit of the output type.
        np.testing.assert_allclose(got.astype(np.float64), want, rtol=2**-8, atol=1e-6)


# ----------------------------------------------------------------------- normalisations
def test_layer_normalization_half_input_with_statistics():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((4, 3, 8)).astype(np.float16)
    scale = rng.standard_normal((8,)).astype(np.float16)  # broadcast to (3, 8)
    bias = rng.standard_normal((3, 1)).astype(np.float16)
    wide = x.astype(np.float64)
    mean = wide.mean((1, 2), keepdims=True)
    rstd = 1 / np.sqrt(wide.var((1, 2), keepdims=True) + 1e-5)
    want = (wide - mean) * rstd * scale + bias
    outputs = {
        "y": (np.float16, x.shape),
        "m": (np.float32, (4, 1, 1)),
        "r": (np.float32, (4, 1, 1)),
    }
    model = make_model(
        "LayerNormalization", {"x": x, "s": scale, "b": bias}, outputs, opset=17, axis=1
    )
    for y, m, r in run_both(model, {"x": x, "s": scale, "b": bias}):
        assert_close(y, want.astype(np.float16), 5e-3, 5e-3)
        assert_close(m, mean.astype(np.float32), 1e-5, 1e-6)
        assert_close(r, rstd.astype(np.float32), 1e-5)


def test_group_normalization_opset_18_scales_per_group():
    rng = np.random.default_rng(10)
    x = rng.standard_normal((2, 6, 3, 2)).astype(np.float32)
    scale, bias = (
        rng.standard_normal(3).astype(np.float32),
        rng.standard_normal(3).astype(np.float32),
    )
    groups = x.astype(np.float64).reshape(2, 3, -1)
    normal = (groups - groups.mean(2, keepdims=True)) / np.sqrt(groups.var(2, keepdims=True) + 1e-5)
    want = (normal * scale[:, None] + bias[:, None]).reshape(x.shape)
    model = make_model(
        "GroupNormalization",
        {"x": x, "s": scale, "b": bias},
        {"y": (np.float32, x.shape)},
        opset=18,
        num_groups=3,
    )
    # onnx.checker refuses opset 18's GroupNormalization as deprecated; hologram runs it.
    for (got,) in run_both(model, {"x": x, "s": scale, "b": bias}, check=False):
        assert_close(got, want.astype(np.float32), 1e-5, 1e-5)


def test_instance_and_rms_normalization_match_reference():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 3, 17)).astype(np.float32)
    scale, bias = (
        rng.standard_normal(3).astype(np.float32),
        rng.standard_normal(3).astype(np.float32),
    )
    feeds = {"x": x, "s": scale, "b": bias}
    model = make_model("InstanceNormalization", feeds, {"y": (np.float32, x.shape)})
    (want,) = oracle(model, feeds)
    for (got,) in run_both(model, feeds):
        assert_close(got, want, 1e-5, 1e-5)
    rms_scale = rng.standard_normal((3, 17)).astype(np.float32)
    feeds = {"x": x, "s": rms_scale}
    model = make_model("RMSNormalization", feeds, {"y": (np.float32, x.shape)}, opset=23, axis=1)
    (want,) = oracle(model, feeds)
    for (got,) in run_both(model, feeds):
        assert_close(got, want, 1e-5, 1e-5)


def test_batch_normalization_training_outputs_before_opset_14():
    rng = np.random.default_rng(12)
    x = rng.standard_normal((3, 4, 5)).astype(np.float32)
    s, b, m = (rng.standard_normal(4).astype(np.float32) for _ in range(3))
    v = rng.uniform(0.5, 2, 4).astype(np.float32)
    feeds = {"x": x, "s": s, "b": b, "m": m, "v": v}
    outputs = {name: (np.float32, (4,)) for name in ("rm", "rv", "sm", "sv")}
    model = make_model(
        "BatchNormalization", feeds, {"y": (np.float32, x.shape), **outputs}, opset=9, momentum=0.8
    )
    wide = x.astype(np.float64)
    mean, var = wide.mean((0, 2)), wide.var((0, 2))
    want_y = (wide - mean[:, None]) / np.sqrt(var[:, None] + 1e-5) * s[:, None] + b[:, None]
    for y, rm, rv, sm, sv in run_both(model, feeds):
        assert_close(y, want_y.astype(np.float32), 1e-5, 1e-5)
        assert_close(rm, (m * 0.8 + mean * 0.2).astype(np.float32), 1e-5, 1e-6)
        assert_close(rv, (v * 0.8 + var * 0.2).astype(np.float32), 1e-5)
        assert_close(sm, mean.astype(np.float32), 1e-5, 1e-6)
        assert_close(sv, var.astype(np.float32), 1e-5)


def test_mean_variance_normalization_matches_reference():
    x = np.random.default_rng(13).standard_normal((2, 5, 3, 4)).astype(np.float32)
    model = make_model(
        "MeanVarianceNormalization", {"x": x}, {"y": (np.float32, x.shape)}, opset=13, axes=[0, 2]
    )
    (want,) = oracle(model, {"x": x})
    for (got,) in run_both(model, {"x": x}):
        assert_close(got, want, 1e-5, 1e-5)


def test_lp_normalization_l1_divides_by_absolute_values():
    # onnx's reference evaluator sums x ** p without abs, so NumPy is the oracle here.
    x = np.random.default_rng(14).standard_normal((2, 5, 3)).astype(np.float32)
    x[1, :, 2] = 0  # a zero norm gives zeros
    norm = np.abs(x.astype(np.float64)).sum(1, keepdims=True)
    want = x / np.where(norm == 0, 1, norm)
    model = make_model("LpNormalization", {"x": x}, {"y": (np.float32, x.shape)}, axis=1, p=1)
    for (got,) in run_both(model, {"x": x}):
        assert_close(got, want.astype(np.float32), 1e-5, 1e-6)


@pytest.mark.parametrize("size", [3, 4])
def test_lrn_windows_of_odd_and_even_size(size):
    # onnx's reference evaluator loops over the batch instead of the channels: NumPy here.
    x = np.random.default_rng(15).standard_normal((2, 5, 3, 4)).astype(np.float32)
    wide = x.astype(np.float64)
    squares = np.zeros_like(wide)
    for c in range(5):
        window = slice(max(0, c - (size - 1) // 2), min(5, c + size // 2 + 1))
        squares[:, c] = (wide[:, window] ** 2).sum(1)
    want = wide / (2.0 + 0.1 / size * squares) ** 0.6
    model = make_model(
        "LRN",
        {"x": x},
        {"y": (np.float32, x.shape)},
        opset=13,
        size=size,
        alpha=0.1,
        beta=0.6,
        bias=2.0,
    )
    for (got,) in run_both(model, {"x": x}):
        assert_close(got, want.astype(np.float32), 1e-5, 1e-6)


# ----------------------------------------------------------------------- losses
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_softmax_cross_entropy_with_weights_and_ignored_targets(reduction):
    rng = np.random.default_rng(14)
    scores = rng.standard_normal((4, 6, 3)).astype(np.float32)
    labels = rng.integers(0, 6, (4, 3)).astype(np.int64)
    labels[0, 0] = labels[2, 1] = 5  # the ignored class
    weight = rng.uniform(0.1, 1, 6).astype(np.float32)
    feeds = {"x": scores, "t": labels, "w": weight}
    shape = (4, 3) if reduction == "none" else ()
    outputs = {"loss": (np.float32, shape), "logp": (np.float32, scores.shape)}
    model = make_model(
        "SoftmaxCrossEntropyLoss", feeds, outputs, opset=13, reduction=reduction, ignore_index=5
    )
    want_loss, want_logp = oracle(model, feeds)
    for loss, logp in run_both(model, feeds):
        assert_close(loss, np.asarray(want_loss, np.float32), 1e-5, 1e-6)
        assert_close(logp, want_logp, 1e-5, 1e-6)


def test_negative_log_likelihood_rejects_a_mismatched_target():
    x = np.zeros((2, 3, 4), np.float32)
    t = np.zeros((2, 5), np.int64)
    model = make_model(
        "NegativeLogLikelihoodLoss", {"x": x, "t": t}, {"y": (np.float32, ())}, opset=13
    )
    with pytest.raises(ModelError, match="target shape"):
        hologram.Model(hologram.compile(model), "cpu").run({"x": x, "t": t})


def test_reduce_rejects_a_repeated_axis():
    x = np.zeros((2, 3), np.float32)
    model = make_model(
        "ReduceSum",
        {"x": x},
        {"y": (np.float32, (1, 1))},
        opset=13,
        initializers={"axes": np.array([1, -1], np.int64)},
    )
    with pytest.raises(ModelError, match="repeat"):
        hologram.Model(hologram.compile(model), "cpu").run({"x": x})
