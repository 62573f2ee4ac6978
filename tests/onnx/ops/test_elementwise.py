"""Elementwise ONNX ops beyond the node tests: accuracy of the math functions in float32 and
float64, integer semantics (Mod, Pow, BitShift, Div), half-precision inputs, broadcasting,
variadic ops, attributes and errors.

Every model runs on the cpu and the reference backends; both are checked against an
independent oracle (NumPy, in float64 where it matters, or onnx's reference evaluator).
"""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest
from onnx.reference import ReferenceEvaluator

import hologram
from hologram.errors import ModelError, UnsupportedOpError
from onnx import helper

OPSET = 22
BACKENDS = ("cpu", "reference")


def _elem(dtype: np.dtype) -> int:
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def graph_model(nodes, inputs, outputs, opset=OPSET, domains=()):
    """A model of `nodes`; `inputs` and `outputs` map names to (dtype, shape)."""
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(n, _elem(d), s) for n, (d, s) in inputs.items()],
        [helper.make_tensor_value_info(n, _elem(d), s) for n, (d, s) in outputs.items()],
    )
    imports = [helper.make_opsetid("", opset), *(helper.make_opsetid(d, 1) for d in domains)]
    return helper.make_model(graph, opset_imports=imports)


def node_model(op, feeds, out_dtype, out_shape=None, opset=OPSET, domain="", **attrs):
    """A one-node model of `op` over the graph inputs `feeds`, output `y`."""
    node = helper.make_node(op, list(feeds), ["out"], domain=domain, **attrs)
    if out_shape is None:
        out_shape = np.broadcast_shapes(*(a.shape for a in feeds.values()))
    inputs = {name: (a.dtype, a.shape) for name, a in feeds.items()}
    domains = (domain,) if domain else ()
    return graph_model([node], inputs, {"out": (out_dtype, out_shape)}, opset, domains)


def run_all(model, feeds) -> dict[str, np.ndarray]:
    """The outputs on the cpu backend, checked against the reference backend's: equal, but
    for the few units in the last place that their transcendental functions may differ by
    (relative, or absolute where a formula cancels, as Gelu's `1 + erf(x)` for x << 0)."""
    compiled = hologram.compile(model)
    results = [hologram.Model(compiled, b).run(feeds) for b in BACKENDS]
    for name, cpu in results[0].items():
        cpu, reference = np.asarray(cpu), np.asarray(results[1][name])
        if cpu.dtype.kind == "f":
            eps = float(np.finfo(cpu.dtype).eps)
            np.testing.assert_allclose(cpu, reference, rtol=4 * eps, atol=4 * eps)
        else:
            np.testing.assert_array_equal(cpu, reference)
    return {name: np.asarray(value) for name, value in results[0].items()}


def run(model, feeds) -> np.ndarray:
    """Output `out` (see `run_all`)."""
    return run_all(model, feeds)["out"]


def assert_ulps(got: np.ndarray, want: np.ndarray, ulps: float) -> None:
    """`got` (of a float dtype) is within `ulps` units of its precision of float64 `want`
    (relative), and NaN and infinite exactly where `want` is in that dtype."""
    eps = float(np.finfo(got.dtype).eps)
    rounded = want.astype(got.dtype)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(rounded))
    finite = np.isfinite(rounded)
    np.testing.assert_array_equal(got[~finite], rounded[~finite])
    g, w = got[finite].astype(np.float64), want[finite]
    tiny = float(np.finfo(got.dtype).tiny)
    error = np.abs(g - w) / np.maximum(np.abs(w), tiny)
    assert error.max(initial=0) <= ulps * eps, f"{error.max() / eps:.1f} ulps"


# ---------------------------------------------------------------- math functions
def _softplus(x):
    return np.logaddexp(0, x)


UNARY = {
    # op: (NumPy float64 oracle, low, high)
    "Tan": (np.tan, -10, 10),
    "Atan": (np.arctan, -1e4, 1e4),
    "Asin": (np.arcsin, -1, 1),
    "Acos": (np.arccos, -1, 1),
    "Sinh": (np.sinh, -20, 20),
    "Cosh": (np.cosh, -20, 20),
    "Asinh": (np.arcsinh, -1e6, 1e6),
    "Acosh": (np.arccosh, 1, 1e6),
    "Atanh": (np.arctanh, -1, 1),
    "Softplus": (_softplus, -50, 50),
    "Elu": (lambda x: np.where(x >= 0, x, np.expm1(x)), -20, 5),
    "Mish": (lambda x: x * np.tanh(_softplus(x)), -20, 20),
}
SPECIAL = [np.inf, -np.inf, np.nan, 0.0, 1.0, -1.0, 2.0, -2.0, 1e30]
"""Appended to every op's samples: infinities, NaN, the ends of domains, huge values."""


def _samples(rng: np.random.Generator, low: float, high: float) -> np.ndarray:
    """Uniform values over [low, high], small magnitudes of both signs, and the edges."""
    scale = max(abs(low), abs(high))
    small = np.geomspace(1e-7, scale, 200)
    values = np.concatenate([rng.uniform(low, high, 600), small, -small, [low, high, 0.0]])
    return np.concatenate([values[(values >= low) & (values <= high)], SPECIAL])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_math_functions_are_accurate_to_a_few_ulps(dtype):
    rng = np.random.default_rng(7)
    feeds, nodes, outputs, oracles = {}, [], {}, {}
    for op, (oracle, low, high) in UNARY.items():
        x = _samples(rng, low, high).astype(dtype)
        feeds[f"x_{op}"] = x
        nodes.append(helper.make_node(op, [f"x_{op}"], [f"y_{op}"]))
        outputs[f"y_{op}"] = (dtype, x.shape)
        with np.errstate(all="ignore"):
            oracles[op] = oracle(x.astype(np.float64))
    inputs = {name: (a.dtype, a.shape) for name, a in feeds.items()}
    got = run_all(graph_model(nodes, inputs, outputs), feeds)
    for op in UNARY:
        assert_ulps(got[f"y_{op}"], oracles[op], ulps=8)


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16])
def test_half_precision_computes_in_float32_and_rounds_once(dtype):
    rng = np.random.default_rng(3)
    a = rng.uniform(-3, 3, (4, 1, 6)).astype(dtype)
    b = rng.uniform(0.5, 3, (5, 1)).astype(dtype)
    nodes = [
        helper.make_node("Sub", ["a", "b"], ["sub"]),
        helper.make_node("Pow", ["b", "a"], ["pow"]),
        helper.make_node("Atan", ["a"], ["atan"]),
    ]
    shape = (4, 5, 6)
    outputs = {"sub": (dtype, shape), "pow": (dtype, shape), "atan": (dtype, a.shape)}
    inputs = {"a": (a.dtype, a.shape), "b": (b.dtype, b.shape)}
    got = run_all(graph_model(nodes, inputs, outputs), {"a": a, "b": b})
    x, y = a.astype(np.float64), b.astype(np.float64)
    oracles = {"sub": x - y, "pow": y**x, "atan": np.arctan(x)}
    eps = float(ml_dtypes.finfo(dtype).eps)
    for name, want in oracles.items():
        assert got[name].dtype == np.dtype(dtype)
        # Computed in float32 and rounded once: within one unit of the half-precision type.
        np.testing.assert_allclose(got[name].astype(np.float64), want, rtol=eps, atol=1e-6)


# ---------------------------------------------------------------- integer semantics
@pytest.mark.parametrize("dtype", [np.int8, np.uint16, np.int64])
@pytest.mark.parametrize("fmod", [0, 1])
def test_integer_mod_matches_numpy(dtype, fmod):
    rng = np.random.default_rng(11)
    info = np.iinfo(dtype)
    a = rng.integers(info.min, info.max, 200, dtype=dtype, endpoint=True)
    b = rng.integers(info.min // 2**4, info.max // 2**4, 200, dtype=dtype, endpoint=True)
    a[:3] = [info.min, info.max, 0]
    b[:3] = [3, 7, 5]
    b[b == 0] = 1
    got = run(node_model("Mod", {"a": a, "b": b}, dtype, fmod=fmod), {"a": a, "b": b})
    np.testing.assert_array_equal(got, np.fmod(a, b) if fmod else np.mod(a, b))


@pytest.mark.parametrize("fmod", [0, 1])
def test_float_mod_special_cases(fmod):
    inf, nan = np.inf, np.nan
    a = np.array([5.5, -5.5, 5.5, -5.5, 3.0, -3.0, inf, 1.0, nan, 0.0, 1e30], np.float64)
    b = np.array([2.0, 2.0, -2.0, -2.0, inf, inf, 2.0, 0.0, 2.0, -2.0, 3.0], np.float64)
    got = run(node_model("Mod", {"a": a, "b": b}, np.float64, fmod=fmod), {"a": a, "b": b})
    with np.errstate(all="ignore"):
        want = np.fmod(a, b) if fmod else np.mod(a, b)
    np.testing.assert_array_equal(got, want)
    if not fmod:
        assert np.signbit(got[9])  # 0 mod -2 is -0, the divisor's sign


def test_integer_pow_wraps_and_truncates_negative_exponents():
    rng = np.random.default_rng(5)
    base = rng.integers(-9, 10, (6, 7)).astype(np.int32)
    exponent = rng.integers(-3, 40, (1, 7)).astype(np.int64)
    got = run(node_model("Pow", {"a": base, "b": exponent}, np.int32), {"a": base, "b": exponent})
    want = [
        [_int_power(int(x), int(e), 32) for x, e in zip(row, exponent[0], strict=True)]
        for row in base
    ]
    np.testing.assert_array_equal(got, np.array(want, np.int32))


def _int_power(x: int, e: int, bits: int) -> int:
    if e < 0:
        return 1 if x == 1 else ((-1) ** e if x == -1 else 0)
    value = pow(x, e, 2**bits)
    return value - 2**bits if value >= 2 ** (bits - 1) else value


def test_pow_of_integer_base_and_float_exponent_truncates():
    base = np.array([2, 3, 10, -8, 7], np.int64)
    exponent = np.array([0.5, 2.5, -1.0, 1.0 / 3.0, 1.5], np.float32)
    got = run(node_model("Pow", {"a": base, "b": exponent}, np.int64), {"a": base, "b": exponent})
    with np.errstate(invalid="ignore"):
        want = np.power(base.astype(np.float64), exponent.astype(np.float64))
    np.testing.assert_array_equal(got[[0, 1, 2, 4]], want[[0, 1, 2, 4]].astype(np.int64))


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.uint64])
@pytest.mark.parametrize("direction", ["LEFT", "RIGHT"])
def test_bit_shift_matches_python_integers(dtype, direction):
    rng = np.random.default_rng(13)
    info = np.iinfo(dtype)
    bits = info.bits
    x = rng.integers(info.min, info.max, 300, dtype=dtype, endpoint=True)
    low = -bits if info.min < 0 else 0
    y = rng.integers(low, bits + 4, 300).astype(dtype)
    got = run(
        node_model("BitShift", {"x": x, "y": y}, dtype, direction=direction), {"x": x, "y": y}
    )
    want = []
    for value, shift in zip(x.tolist(), y.tolist(), strict=True):
        if not 0 <= shift < bits:
            want.append(-1 if direction == "RIGHT" and value < 0 else 0)
        elif direction == "LEFT":
            want.append(value << shift)
        else:
            want.append(value >> shift)
    wrapped = np.array([value % 2**bits for value in want], np.uint64)
    np.testing.assert_array_equal(got, wrapped.astype(dtype))


def test_integer_div_truncates_and_bitwise_ops():
    dtype = np.int8
    rng = np.random.default_rng(17)
    info = np.iinfo(dtype)
    a = rng.integers(info.min, info.max, (3, 40), dtype=dtype, endpoint=True)
    b = rng.integers(info.min, info.max, (1, 40), dtype=dtype, endpoint=True)
    b[b == 0] = 3
    ops = {"Div": None, "BitwiseAnd": np.bitwise_and, "BitwiseXor": np.bitwise_xor}
    nodes = [helper.make_node(op, ["a", "b"], [op]) for op in ops]
    nodes.append(helper.make_node("BitwiseNot", ["a"], ["BitwiseNot"]))
    outputs = {name: (dtype, a.shape) for name in [*ops, "BitwiseNot"]}
    inputs = {"a": (a.dtype, a.shape), "b": (b.dtype, b.shape)}
    got = run_all(graph_model(nodes, inputs, outputs, opset=18), {"a": a, "b": b})
    pairs = zip(a.ravel().tolist(), np.broadcast_to(b, a.shape).ravel().tolist(), strict=True)
    quotient = np.array([abs(x) // abs(y) * (1 if (x < 0) == (y < 0) else -1) for x, y in pairs])
    np.testing.assert_array_equal(got["Div"].ravel(), quotient.astype(dtype))
    np.testing.assert_array_equal(got["BitwiseAnd"], a & b)
    np.testing.assert_array_equal(got["BitwiseXor"], a ^ b)
    np.testing.assert_array_equal(got["BitwiseNot"], ~a)


# ---------------------------------------------------------------- variadic and selection
def test_variadic_ops_broadcast_three_inputs():
    rng = np.random.default_rng(19)
    a = rng.standard_normal((2, 1, 4)).astype(np.float32)
    b = rng.standard_normal((3, 1)).astype(np.float32)
    c = rng.standard_normal((4,)).astype(np.float32)
    a[0, 0, 1] = np.nan
    shape = (2, 3, 4)
    ops = ("Sum", "Mean", "Max", "Min")
    nodes = [helper.make_node(op, ["a", "b", "c"], [op]) for op in ops]
    inputs = {k: (v.dtype, v.shape) for k, v in {"a": a, "b": b, "c": c}.items()}
    feeds = {"a": a, "b": b, "c": c}
    got = run_all(graph_model(nodes, inputs, {op: (np.float32, shape) for op in ops}), feeds)
    x, y, z = (v.astype(np.float64) for v in (a, b, c))
    wanted = (
        x + y + z,
        (x + y + z) / 3,
        np.maximum(np.maximum(x, y), z),
        np.minimum(np.minimum(x, y), z),
    )
    for op, want in zip(ops, wanted, strict=True):
        np.testing.assert_allclose(got[op], want, rtol=1e-6, atol=1e-6)


def test_sum_of_one_int_input_copies_it():
    x = np.arange(-5, 7, dtype=np.int16).reshape(3, 4)
    np.testing.assert_array_equal(run(node_model("Sum", {"x": x}, np.int16), {"x": x}), x)


@pytest.mark.parametrize("dtype", [np.bool_, np.float16])
def test_where_broadcasts_condition_and_values(dtype):
    rng = np.random.default_rng(23)
    condition = rng.random((3, 1, 5)) > 0.5
    x = rng.integers(-100, 100, (4, 5)).astype(dtype)
    y = rng.integers(-100, 100, (1,)).astype(dtype)
    feeds = {"c": condition, "x": x, "y": y}
    got = run(node_model("Where", feeds, dtype), feeds)
    np.testing.assert_array_equal(got, np.where(condition, x, y))


@pytest.mark.parametrize("dtype", [np.int8, np.uint32, np.float64])
def test_clip_with_only_one_bound(dtype):
    rng = np.random.default_rng(29)
    x = rng.integers(0, 100, (5, 6)).astype(dtype)
    high = np.array(40, dtype)
    node = helper.make_node("Clip", ["x", "", "high"], ["out"])
    inputs = {"x": (x.dtype, x.shape), "high": (high.dtype, ())}
    got = run(graph_model([node], inputs, {"out": (dtype, x.shape)}), {"x": x, "high": high})
    np.testing.assert_array_equal(got, np.minimum(x, high))


def test_clip_opset_6_attributes():
    x = np.linspace(-3, 3, 13).astype(np.float32)
    model = node_model("Clip", {"x": x}, np.float32, opset=6, min=-1.5, max=0.5)
    np.testing.assert_array_equal(run(model, {"x": x}), np.clip(x, -1.5, 0.5))


# ---------------------------------------------------------------- activations and predicates
ACTIVATIONS = [
    ("LeakyRelu", {"alpha": 0.3}),
    ("ThresholdedRelu", {"alpha": 0.7}),
    ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}),
    ("HardSwish", {}),
    ("Selu", {"alpha": 1.5, "gamma": 2.0}),
    ("Celu", {"alpha": 0.5}),
    ("Shrink", {"lambd": 0.8, "bias": 0.3}),
    ("Gelu", {"approximate": "none"}),
    ("Gelu", {"approximate": "tanh"}),
    ("Swish", {"alpha": 0.7}),
    ("Round", {}),
    ("Sign", {}),
    ("Reciprocal", {}),
]


def test_activations_match_the_reference_evaluator():
    rng = np.random.default_rng(31)
    x = rng.uniform(-4, 4, (6, 50)).astype(np.float64)
    x[0, :6] = [0.5, 1.5, -2.5, 0.0, -0.0, np.nan]
    nodes, outputs = [], {}
    for k, (op, attrs) in enumerate(ACTIVATIONS):
        nodes.append(helper.make_node(op, ["x"], [f"y{k}"], **attrs))
        outputs[f"y{k}"] = (np.float64, x.shape)
    model = graph_model(nodes, {"x": (x.dtype, x.shape)}, outputs, opset=24)
    got = run_all(model, {"x": x})
    wanted = ReferenceEvaluator(model).run(None, {"x": x})
    # The evaluator rounds HardSwish's alpha (1/6) and Gelu's constants to float32; hologram
    # keeps them exact, as these float64 formulas do.
    erf = np.vectorize(math.erf, otypes=[np.float64])
    inner = np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)
    exact = {
        ("HardSwish", ()): x * np.clip(x / 6 + 0.5, 0, 1),
        ("Gelu", ("none",)): 0.5 * x * (1 + erf(x / np.sqrt(2))),
        ("Gelu", ("tanh",)): 0.5 * x * (1 + np.tanh(inner)),
    }
    for k, (op, attrs) in enumerate(ACTIVATIONS):
        wanted[k] = exact.get((op, tuple(attrs.values())), wanted[k])
    for k, want in enumerate(wanted):
        np.testing.assert_allclose(got[f"y{k}"], want, rtol=1e-12, atol=1e-14, err_msg=str(k))


def test_prelu_slope_per_channel_and_integer_input():
    rng = np.random.default_rng(37)
    x = rng.integers(-50, 50, (2, 3, 4)).astype(np.int32)
    slope = np.array([[1], [2], [3]], np.int32)
    got = run(node_model("PRelu", {"x": x, "s": slope}, np.int32, opset=16), {"x": x, "s": slope})
    np.testing.assert_array_equal(got, np.where(x >= 0, x, x * slope))


@pytest.mark.parametrize(("positive", "negative"), [(1, 1), (1, 0), (0, 1), (0, 0)])
def test_is_inf_flags_and_is_nan(positive, negative):
    x = np.array([np.inf, -np.inf, np.nan, 0.0, 1e38], np.float32)
    nodes = [
        helper.make_node(
            "IsInf", ["x"], ["inf"], detect_positive=positive, detect_negative=negative
        ),
        helper.make_node("IsNaN", ["x"], ["nan"]),
    ]
    outputs = {"inf": (np.bool_, x.shape), "nan": (np.bool_, x.shape)}
    got = run_all(graph_model(nodes, {"x": (x.dtype, x.shape)}, outputs), {"x": x})
    want = (np.isposinf(x) & bool(positive)) | (np.isneginf(x) & bool(negative))
    np.testing.assert_array_equal(got["inf"], want)
    np.testing.assert_array_equal(got["nan"], np.isnan(x))


def test_comparisons_and_logic_of_unsigned_and_bool():
    rng = np.random.default_rng(41)
    a = rng.integers(0, 2**64, (4, 5), dtype=np.uint64)
    b = np.concatenate([a[:1, :2], rng.integers(0, 2**64, (1, 3), dtype=np.uint64)], axis=1)
    nodes = [
        helper.make_node("Greater", ["a", "b"], ["gt"]),
        helper.make_node("LessOrEqual", ["a", "b"], ["le"]),
        helper.make_node("Equal", ["a", "b"], ["eq"]),
    ]
    shape = (4, 5)
    outputs = {name: (np.bool_, shape) for name in ("gt", "le", "eq")}
    inputs = {"a": (a.dtype, a.shape), "b": (b.dtype, b.shape)}
    got = run_all(graph_model(nodes, inputs, outputs), {"a": a, "b": b})
    np.testing.assert_array_equal(got["gt"], a > b)
    np.testing.assert_array_equal(got["le"], a <= b)
    np.testing.assert_array_equal(got["eq"], a == b)
    p, q = got["gt"], got["eq"][:1]
    logic = {"And": p & q, "Or": p | q, "Xor": p ^ q}
    nodes = [helper.make_node(op, ["p", "q"], [op]) for op in logic]
    nodes.append(helper.make_node("Not", ["p"], ["Not"]))
    outputs = {name: (np.bool_, shape) for name in [*logic, "Not"]}
    inputs = {"p": (np.bool_, shape), "q": (np.bool_, (1, 5))}
    got = run_all(graph_model(nodes, inputs, outputs), {"p": p, "q": q})
    for op, want in {**logic, "Not": ~p}.items():
        np.testing.assert_array_equal(got[op], want)


def test_binarizer_of_integers_with_a_fractional_threshold():
    x = np.array([-3, -1, 0, 1, 2], np.int64)
    model = node_model("Binarizer", {"x": x}, np.int64, domain="ai.onnx.ml", threshold=-0.5)
    np.testing.assert_array_equal(run(model, {"x": x}), (x > -0.5).astype(np.int64))


def test_attribute_scalars_in_a_fused_chain():
    """Mul -> Mod(fmod=1) -> Gelu(tanh) -> LeakyRelu fuse into one kernel: each step's
    attributes must reach its func there too."""
    rng = np.random.default_rng(43)
    a = rng.uniform(-3, 3, (4, 5)).astype(np.float32)
    b = rng.uniform(0.5, 2, (5,)).astype(np.float32)
    nodes = [
        helper.make_node("Mul", ["a", "b"], ["m"]),
        helper.make_node("Mod", ["m", "b"], ["r"], fmod=1),
        helper.make_node("Gelu", ["r"], ["g"], approximate="tanh"),
        helper.make_node("LeakyRelu", ["g"], ["out"], alpha=0.25),
    ]
    inputs = {"a": (a.dtype, a.shape), "b": (b.dtype, b.shape)}
    model = graph_model(nodes, inputs, {"out": (np.float32, a.shape)}, opset=20)
    got = run(model, {"a": a, "b": b})
    r = np.fmod(a * b, b).astype(np.float64)
    g = 0.5 * r * (1 + np.tanh(np.sqrt(2 / np.pi) * (r + 0.044715 * r**3)))
    np.testing.assert_allclose(got, np.where(g >= 0, g, 0.25 * g), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- errors
def test_logical_op_on_floats_is_unsupported():
    x = np.ones(3, np.float32)
    with pytest.raises(UnsupportedOpError, match="bool"):
        hologram.compile(node_model("And", {"a": x, "b": x}, np.bool_))


def test_where_needs_a_bool_condition():
    x = np.ones(3, np.float32)
    with pytest.raises(ModelError, match="condition must be bool"):
        hologram.compile(node_model("Where", {"c": x, "x": x, "y": x}, np.float32))


def test_bit_shift_needs_a_known_direction():
    x = np.ones(3, np.uint8)
    with pytest.raises(ModelError, match="direction"):
        hologram.compile(node_model("BitShift", {"x": x, "y": x}, np.uint8, direction="UP"))


def test_clip_bounds_must_be_single_values():
    x = np.ones((2, 3), np.float32)
    low = np.zeros(3, np.float32)
    with pytest.raises(ModelError, match="min must be one value"):
        hologram.compile(node_model("Clip", {"x": x, "low": low}, np.float32))
