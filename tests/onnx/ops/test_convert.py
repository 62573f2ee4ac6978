"""Casts, quantization, constants and generators beyond the ONNX node tests.

Every float8 and float4 code decoded and random values encoded (with and without saturation)
against ml_dtypes, FLOAT8E8M0's rounding modes, 2- and 4-bit integers, float64 and bfloat16
casts, quantization per axis and per block with remainders, the integer matrix products with
broadcast batches and per-row/column parameters, bit casts of random bits, the constant
generators, and the statistics of the random generators.

Every model runs on the cpu and the reference backends, which must agree; the oracles are
ml_dtypes, NumPy (in float64 where it matters) and onnx's reference evaluator.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from onnx.numpy_helper import to_float8e8m0
from onnx.reference import ReferenceEvaluator

import hologram
from hologram.errors import HologramError, UnsupportedOpError
from onnx import TensorProto, helper, numpy_helper

BACKENDS = ("cpu", "reference")
F32 = TensorProto.FLOAT

FLOAT_CODED = [
    (TensorProto.FLOAT8E4M3FN, ml_dtypes.float8_e4m3fn),
    (TensorProto.FLOAT8E4M3FNUZ, ml_dtypes.float8_e4m3fnuz),
    (TensorProto.FLOAT8E5M2, ml_dtypes.float8_e5m2),
    (TensorProto.FLOAT8E5M2FNUZ, ml_dtypes.float8_e5m2fnuz),
    (TensorProto.FLOAT4E2M1, ml_dtypes.float4_e2m1fn),
]


def model_of(nodes, inputs, outputs, opset=21, initializers=()):
    """A model of `nodes`; inputs and outputs are `(name, elem, shape)`."""
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(*spec) for spec in inputs],
        [helper.make_tensor_value_info(*spec) for spec in outputs],
        list(initializers),
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def run_both(model, feeds, rtol=0.0):
    """The outputs on the cpu backend (by name); the reference backend must give the same
    bits (or values within `rtol`, where transcendentals may differ by an ulp)."""
    compiled = hologram.compile(model)
    cpu, ref = (hologram.Model(compiled, backend).run(feeds) for backend in BACKENDS)
    for name, want in ref.items():
        got = cpu[name]
        assert got.dtype == want.dtype and got.shape == want.shape, name
        if rtol:
            np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol)
        else:
            assert np.array_equal(bits(got), bits(want)), name
    return cpu


def bits(array: np.ndarray) -> np.ndarray:
    """The raw bytes of `array` (exact comparison, NaN included)."""
    return np.ascontiguousarray(array).view(np.uint8)


def reference(model, feeds) -> dict:
    session = ReferenceEvaluator(model)
    names = [o.name for o in model.graph.output]
    return dict(zip(names, session.run(None, feeds), strict=True))


def ml_saturated(x: np.ndarray, dtype) -> np.ndarray:
    info = ml_dtypes.finfo(dtype)
    return np.clip(x, float(info.min), float(info.max)).astype(dtype)


# ------------------------------------------------------------------ Cast
@pytest.mark.parametrize(("elem", "dtype"), FLOAT_CODED, ids=lambda v: getattr(v, "__name__", ""))
def test_cast_float_codes_match_ml_dtypes(elem, dtype):
    rng = np.random.default_rng(1)
    count = 16 if dtype is ml_dtypes.float4_e2m1fn else 256
    codes = np.arange(count, dtype=np.uint8).view(dtype)
    values = codes.astype(np.float32)
    finite = values[np.isfinite(values)]
    x = np.concatenate(
        [
            rng.normal(size=3000).astype(np.float32) * np.exp2(rng.integers(-20, 20, 3000)),
            finite,
            finite * np.float32(1.0625),  # halfway between neighbours in the 3-bit formats
            finite * np.float32(1.125),
            [np.inf, -np.inf, np.nan, 0.0, -0.0, 1e30, -1e30],
        ]
    ).astype(np.float32)
    nodes = [
        helper.make_node("Cast", ["x"], ["sat"], to=elem),
        helper.make_node("Cast", ["x"], ["wrap"], to=elem, saturate=0),
        helper.make_node("Cast", ["codes"], ["decoded"], to=F32),
    ]
    model = model_of(
        nodes,
        [("x", F32, [x.size]), ("codes", elem, [count])],
        [("sat", elem, [x.size]), ("wrap", elem, [x.size]), ("decoded", F32, [count])],
    )
    out = run_both(model, {"x": x, "codes": codes})
    assert np.array_equal(out["decoded"], values, equal_nan=True)
    assert np.array_equal(np.signbit(out["decoded"]), np.signbit(values))
    assert np.array_equal(bits(out["sat"]), bits(ml_saturated(x, dtype)))
    assert np.array_equal(bits(out["wrap"]), bits(x.astype(dtype)))


def test_cast_from_double_and_float16_rounds_once():
    rng = np.random.default_rng(2)
    x64 = rng.normal(size=2000) * np.exp2(rng.integers(-16, 15, 2000))
    x16 = rng.normal(size=2000).astype(np.float16)
    nodes = [
        helper.make_node("Cast", ["x64"], ["a"], to=TensorProto.FLOAT8E4M3FN),
        helper.make_node("Cast", ["x16"], ["b"], to=TensorProto.FLOAT8E5M2),
        helper.make_node("Cast", ["x64"], ["c"], to=TensorProto.FLOAT16),
        helper.make_node("Cast", ["x64"], ["d"], to=TensorProto.BFLOAT16),
    ]
    model = model_of(
        nodes,
        [("x64", TensorProto.DOUBLE, [2000]), ("x16", TensorProto.FLOAT16, [2000])],
        [
            ("a", TensorProto.FLOAT8E4M3FN, [2000]),
            ("b", TensorProto.FLOAT8E5M2, [2000]),
            ("c", TensorProto.FLOAT16, [2000]),
            ("d", TensorProto.BFLOAT16, [2000]),
        ],
    )
    out = run_both(model, {"x64": x64, "x16": x16})
    assert np.array_equal(bits(out["a"]), bits(ml_saturated(x64, ml_dtypes.float8_e4m3fn)))
    assert np.array_equal(bits(out["b"]), bits(ml_saturated(x16, ml_dtypes.float8_e5m2)))
    assert np.array_equal(out["c"], x64.astype(np.float16))
    assert np.array_equal(bits(out["d"]), bits(x64.astype(np.float32).astype(ml_dtypes.bfloat16)))


@pytest.mark.parametrize("mode", ["up", "nearest", "down"])
def test_cast_e8m0_round_modes(mode):
    rng = np.random.default_rng(3)
    x = np.concatenate(
        [
            rng.normal(size=1000) * np.exp2(rng.integers(-130, 128, 1000)),
            np.exp2(np.arange(-127, 128)) * 1.5,
            [0.0, np.inf, -np.inf, np.nan, 3e38, 1e-40, 2.0**-127],
        ]
    ).astype(np.float32)
    elem = TensorProto.FLOAT8E8M0
    nodes = [
        helper.make_node("Cast", ["x"], ["sat"], to=elem, round_mode=mode),
        helper.make_node("Cast", ["x"], ["wrap"], to=elem, round_mode=mode, saturate=0),
        helper.make_node("Cast", ["sat"], ["back"], to=F32),
    ]
    shape = [x.size]
    model = model_of(
        nodes,
        [("x", F32, shape)],
        [("sat", elem, shape), ("wrap", elem, shape), ("back", F32, shape)],
        opset=25,
    )
    out = run_both(model, {"x": x})
    assert np.array_equal(bits(out["sat"]), bits(to_float8e8m0(x, True, mode)))
    assert np.array_equal(bits(out["wrap"]), bits(to_float8e8m0(x, False, mode)))
    back = out["sat"].astype(np.float32)
    assert np.array_equal(bits(out["back"]), bits(back))


def test_cast_narrow_integers_keep_low_bits():
    x = np.arange(-20, 20).astype(np.float32) + np.float32(0.75)
    narrow = [
        (TensorProto.INT4, ml_dtypes.int4),
        (TensorProto.UINT4, ml_dtypes.uint4),
        (TensorProto.INT2, ml_dtypes.int2),
        (TensorProto.UINT2, ml_dtypes.uint2),
    ]
    nodes, outputs = [], []
    for k, (elem, _) in enumerate(narrow):
        nodes.append(helper.make_node("Cast", ["x"], [f"n{k}"], to=elem))
        nodes.append(helper.make_node("Cast", [f"n{k}"], [f"w{k}"], to=TensorProto.INT64))
        outputs += [(f"n{k}", elem, [x.size]), (f"w{k}", TensorProto.INT64, [x.size])]
    out = run_both(model_of(nodes, [("x", F32, [x.size])], outputs), {"x": x})
    truncated = np.trunc(x).astype(np.int64)
    for k, (_, dtype) in enumerate(narrow):
        want = truncated.astype(dtype)
        assert np.array_equal(out[f"n{k}"], want)
        assert np.array_equal(out[f"w{k}"], want.astype(np.int64))


def test_cast_native_types_and_cast_like():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 50)).astype(np.float32) * 50
    nodes = [
        helper.make_node("Cast", ["x"], ["i8"], to=TensorProto.INT8),
        helper.make_node("Cast", ["x"], ["b"], to=TensorProto.BOOL),
        helper.make_node("Cast", ["b"], ["u16"], to=TensorProto.UINT16),
        helper.make_node("CastLike", ["x", "like"], ["bf"]),
        helper.make_node("Cast", ["x"], ["same"], to=F32),
    ]
    model = model_of(
        nodes,
        [("x", F32, [3, 50]), ("like", TensorProto.BFLOAT16, [1])],
        [
            ("i8", TensorProto.INT8, [3, 50]),
            ("b", TensorProto.BOOL, [3, 50]),
            ("u16", TensorProto.UINT16, [3, 50]),
            ("bf", TensorProto.BFLOAT16, [3, 50]),
            ("same", F32, [3, 50]),
        ],
    )
    out = run_both(model, {"x": x, "like": np.zeros(1, ml_dtypes.bfloat16)})
    want = reference(model, {"x": x, "like": np.zeros(1, ml_dtypes.bfloat16)})
    inside = np.abs(x) < 127
    assert np.array_equal(out["i8"][inside], want["i8"][inside])
    for name in ("b", "u16", "bf", "same"):
        assert np.array_equal(bits(out[name]), bits(want[name])), name


def test_cast_to_string_is_unsupported():
    model = model_of(
        [helper.make_node("Cast", ["x"], ["y"], to=TensorProto.STRING)],
        [("x", F32, [2])],
        [("y", TensorProto.STRING, [2])],
    )
    with pytest.raises(UnsupportedOpError, match="strings"):
        hologram.Model(hologram.compile(model), "cpu").run({"x": np.zeros(2, np.float32)})


# ------------------------------------------------------------------ quantization
def test_quantize_dequantize_per_axis_and_blocked():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 5, 3)).astype(np.float16) * 4
    scale = rng.uniform(0.02, 0.1, 5).astype(np.float16)
    zero = rng.integers(-20, 20, 5).astype(np.int8)
    block_scale = rng.uniform(0.05, 0.2, (2, 5, 2)).astype(np.float32)
    block_zero = rng.integers(0, 16, (2, 5, 2)).astype(ml_dtypes.uint4)
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "scale", "zero"], ["q"], axis=-2),
        helper.make_node("DequantizeLinear", ["q", "scale", "zero"], ["dq"], axis=1),
        helper.make_node("Cast", ["x"], ["x32"], to=F32),
        helper.make_node(
            "QuantizeLinear", ["x32", "bscale", "bzero"], ["bq"], axis=2, block_size=2
        ),
        helper.make_node(
            "DequantizeLinear", ["bq", "bscale", "bzero"], ["bdq"], axis=-1, block_size=2
        ),
    ]
    model = model_of(
        nodes,
        [("x", TensorProto.FLOAT16, [2, 5, 3])],
        [
            ("q", TensorProto.INT8, [2, 5, 3]),
            ("dq", TensorProto.FLOAT16, [2, 5, 3]),
            ("bq", TensorProto.UINT4, [2, 5, 3]),
            ("bdq", F32, [2, 5, 3]),
        ],
        initializers=[
            numpy_helper.from_array(scale, "scale"),
            numpy_helper.from_array(zero, "zero"),
            numpy_helper.from_array(block_scale, "bscale"),
            helper.make_tensor("bzero", TensorProto.UINT4, [2, 5, 2], block_zero.astype(np.int32)),
        ],
    )
    out = run_both(model, {"x": x})
    want = reference(model, {"x": x})
    for name in ("q", "dq", "bq", "bdq"):
        assert np.array_equal(bits(out[name]), bits(want[name])), name


def test_quantize_to_float8_and_dynamic_quantize():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(4, 33)).astype(np.float32) * 30
    nodes = [
        helper.make_node(
            "QuantizeLinear", ["x", "s"], ["f8"], output_dtype=TensorProto.FLOAT8E5M2, saturate=0
        ),
        helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "ys", "yz"]),
    ]
    model = model_of(
        nodes,
        [("x", F32, [4, 33])],
        [
            ("f8", TensorProto.FLOAT8E5M2, [4, 33]),
            ("y", TensorProto.UINT8, [4, 33]),
            ("ys", F32, []),
            ("yz", TensorProto.UINT8, []),
        ],
        initializers=[numpy_helper.from_array(np.array(0.01, np.float32), "s")],
    )
    out = run_both(model, {"x": x})
    assert np.array_equal(
        bits(out["f8"]), bits((x / np.float32(0.01)).astype(ml_dtypes.float8_e5m2))
    )
    want = reference(model, {"x": x})
    for name in ("y", "ys", "yz"):
        assert np.array_equal(out[name], want[name]), name


def test_quantize_rejects_mismatched_output_dtype():
    model = model_of(
        [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], output_dtype=3)],
        [("x", F32, [4]), ("s", F32, []), ("z", TensorProto.UINT8, [])],
        [("q", TensorProto.UINT8, [4])],
    )
    with pytest.raises(HologramError, match="output_dtype"):
        feeds = {"x": np.zeros(4, np.float32), "s": np.ones((), np.float32)}
        hologram.Model(hologram.compile(model), "cpu").run({**feeds, "z": np.zeros((), np.uint8)})


def test_integer_matmuls_broadcast_batches_and_per_row_parameters():
    rng = np.random.default_rng(7)
    a = rng.integers(-128, 128, (2, 1, 3, 6)).astype(np.int8)
    b = rng.integers(-128, 128, (4, 6, 5)).astype(np.int8)
    a_zero = rng.integers(-5, 5, 3).astype(np.int8)
    b_zero = rng.integers(-5, 5, 5).astype(np.int8)
    a_scale = rng.uniform(0.01, 0.02, 3).astype(np.float32)
    b_scale = rng.uniform(0.01, 0.02, 5).astype(np.float32)
    y_scale, y_zero = np.array([0.05], np.float32), np.array([3], np.int8)
    nodes = [
        helper.make_node("MatMulInteger", ["a", "b", "az", "bz"], ["c"]),
        helper.make_node("QLinearMatMul", ["a", "as", "az", "b", "bs", "bz", "ys", "yz"], ["q"]),
    ]
    inits = [
        numpy_helper.from_array(value, name)
        for name, value in [
            ("az", a_zero), ("bz", b_zero), ("as", a_scale), ("bs", b_scale),
            ("ys", y_scale), ("yz", y_zero),
        ]
    ]  # fmt: skip
    model = model_of(
        nodes,
        [("a", TensorProto.INT8, [2, 1, 3, 6]), ("b", TensorProto.INT8, [4, 6, 5])],
        [("c", TensorProto.INT32, [2, 4, 3, 5]), ("q", TensorProto.INT8, [2, 4, 3, 5])],
        initializers=inits,
    )
    out = run_both(model, {"a": a, "b": b})
    product = (a.astype(np.int64) - a_zero[:, None]) @ (b.astype(np.int64) - b_zero)
    assert np.array_equal(out["c"], product.astype(np.int32))
    multiplier = (a_scale[:, None] * b_scale[None, :] / y_scale[0]).astype(np.float32)
    requantized = np.rint(product * multiplier.astype(np.float64) + y_zero[0])
    assert np.array_equal(out["q"], np.clip(requantized, -128, 127).astype(np.int8))


# ------------------------------------------------------------------ BitCast
@pytest.mark.parametrize(
    ("float_type", "int_type"),
    [
        (np.float32, np.int32),
        (np.float64, np.int64),
        (np.float16, np.uint16),
        (ml_dtypes.bfloat16, np.int16),
    ],  # fmt: skip
    ids=["f32", "f64", "f16", "bf16"],
)
def test_bitcast_round_trips_random_bits(float_type, int_type):
    rng = np.random.default_rng(8)
    width = np.dtype(int_type).itemsize * 8
    raw = rng.integers(0, 2**width, 3000, dtype=np.uint64).astype(f"u{width // 8}")
    specials = np.array([0.0, -0.0, np.inf, -np.inf], float_type).view(raw.dtype)
    raw = np.concatenate([raw, specials])
    floats = raw.view(float_type)
    with np.errstate(invalid="ignore"):
        raw = raw[~np.isnan(floats)]
    ints = raw.view(int_type)
    float_elem = helper.np_dtype_to_tensor_dtype(np.dtype(float_type))
    int_elem = helper.np_dtype_to_tensor_dtype(np.dtype(int_type))
    nodes = [
        helper.make_node("BitCast", ["i"], ["f"], to=float_elem),
        helper.make_node("BitCast", ["f"], ["back"], to=int_elem),
    ]
    shape = [raw.size]
    model = model_of(
        nodes,
        [("i", int_elem, shape)],
        [("f", float_elem, shape), ("back", int_elem, shape)],
        opset=26,
    )
    out = run_both(model, {"i": ints})
    assert np.array_equal(bits(out["f"]), bits(raw))
    assert np.array_equal(out["back"], ints)


# ------------------------------------------------------------------ generators
def test_constants_and_generators():
    sparse = helper.make_sparse_tensor(
        numpy_helper.from_array(np.array([5, 7], np.int64), "values"),
        numpy_helper.from_array(np.array([1, 4], np.int64), "indices"),
        [6],
    )
    value = np.array([-2.5], ml_dtypes.bfloat16)
    nodes = [
        helper.make_node("Constant", [], ["floats"], value_floats=[1.5, -2.0]),
        helper.make_node("Constant", [], ["int"], value_int=-3),
        helper.make_node("Constant", [], ["sparse"], sparse_value=sparse),
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node(
            "ConstantOfShape",
            ["shape"],
            ["filled"],
            value=helper.make_tensor("v", TensorProto.BFLOAT16, [1], [-2.5]),
        ),
        helper.make_node("EyeLike", ["x"], ["eye"], k=-1, dtype=TensorProto.BOOL),
        helper.make_node("Size", ["x"], ["size"]),
        helper.make_node("Range", ["start", "limit", "delta"], ["range"]),
        helper.make_node("Dropout", ["x"], ["dropped", "mask"]),
    ]
    i64 = TensorProto.INT64
    model = model_of(
        nodes,
        [("x", F32, [3, 4]), ("start", i64, []), ("limit", i64, []), ("delta", i64, [])],
        [
            ("floats", F32, [2]),
            ("int", i64, []),
            ("sparse", i64, [6]),
            ("filled", TensorProto.BFLOAT16, [3, 4]),
            ("eye", TensorProto.BOOL, [3, 4]),
            ("size", i64, []),
            ("range", i64, [None]),
            ("dropped", F32, [3, 4]),
            ("mask", TensorProto.BOOL, [3, 4]),
        ],
    )
    x = np.random.default_rng(9).normal(size=(3, 4)).astype(np.float32)
    scalars = {"start": np.array(10), "limit": np.array(-3), "delta": np.array(-4)}
    out = run_both(model, {"x": x, **scalars})
    assert out["floats"].tolist() == [1.5, -2.0] and out["int"] == -3
    assert out["sparse"].tolist() == [0, 5, 0, 0, 7, 0]
    assert out["filled"].dtype == ml_dtypes.bfloat16 and np.all(out["filled"] == value[0])
    assert np.array_equal(out["eye"], np.eye(3, 4, k=-1, dtype=bool))
    assert out["size"] == 12 and out["range"].tolist() == list(range(10, -3, -4))
    assert np.array_equal(out["dropped"], x) and out["mask"].all()


def test_range_of_floats_and_empty_range():
    model = model_of(
        [
            helper.make_node("Range", ["s", "l", "d"], ["r"]),
            helper.make_node("Range", ["l", "s", "d"], ["empty"]),
        ],
        [("s", F32, []), ("l", F32, []), ("d", F32, [])],
        [("r", F32, [None]), ("empty", F32, [None])],
    )
    feeds = {"s": np.float32(0.25), "l": np.float32(7.1), "d": np.float32(0.3)}
    out = run_both(model, {k: np.array(v) for k, v in feeds.items()})
    want = np.arange(0.25, 7.1, 0.3, dtype=np.float64)
    np.testing.assert_allclose(out["r"], want, rtol=1e-6)
    assert out["empty"].shape == (0,)


def test_dropout_in_training_is_unsupported():
    model = model_of(
        [helper.make_node("Dropout", ["x", "r", "t"], ["y"])],
        [("x", F32, [4]), ("r", F32, []), ("t", TensorProto.BOOL, [])],
        [("y", F32, [4])],
    )
    feeds = {"x": np.ones(4, np.float32), "r": np.array(0.5, np.float32), "t": np.array(True)}
    with pytest.raises(UnsupportedOpError, match="training"):
        hologram.Model(hologram.compile(model), "cpu").run(feeds)


def test_random_generators_draw_the_right_distributions():
    nodes = [
        helper.make_node(
            "RandomUniform", [], ["u"], shape=[200, 100], low=-1.0, high=3.0, seed=1.0
        ),
        helper.make_node(
            "RandomNormal",
            [],
            ["n"],
            shape=[20000],
            mean=2.0,
            scale=0.5,
            dtype=TensorProto.DOUBLE,
            seed=2.0,
        ),  # fmt: skip
        helper.make_node("RandomUniformLike", ["x"], ["ul"], seed=1.0),
        helper.make_node("RandomNormalLike", ["x"], ["nl"], dtype=TensorProto.FLOAT16),
        helper.make_node("Bernoulli", ["p"], ["b"], seed=3.0),
        helper.make_node("Multinomial", ["logits"], ["m"], sample_size=20000, seed=4.0),
    ]
    model = model_of(
        nodes,
        [("x", F32, [200, 100]), ("p", F32, [3, 10000]), ("logits", F32, [2, 3])],
        [
            ("u", F32, [200, 100]),
            ("n", TensorProto.DOUBLE, [20000]),
            ("ul", F32, [200, 100]),
            ("nl", TensorProto.FLOAT16, [200, 100]),
            ("b", F32, [3, 10000]),
            ("m", TensorProto.INT32, [2, 20000]),
        ],
    )
    p = np.repeat(np.array([[0.0], [1.0], [0.3]], np.float32), 10000, axis=1)
    logits = np.log(np.array([[0.2, 0.3, 0.5], [0.7, 0.2, 0.1]], np.float32))
    feeds = {"x": np.zeros((200, 100), np.float32), "p": p, "logits": logits}
    out = run_both(model, feeds, rtol=1e-6)
    u, n = out["u"], out["n"]
    assert u.min() >= -1 and u.max() < 3 and abs(u.mean() - 1.0) < 0.05
    assert abs(n.mean() - 2.0) < 0.02 and abs(n.std() - 0.5) < 0.02
    np.testing.assert_allclose(out["ul"], (u + 1) / 4, atol=1e-6)  # the same seed, the same draws
    assert out["nl"].dtype == np.float16 and abs(float(out["nl"].std()) - 1) < 0.05
    b = out["b"]
    assert b[0].sum() == 0 and b[1].sum() == 10000 and abs(b[2].mean() - 0.3) < 0.02
    for row, probabilities in enumerate(np.exp(logits)):
        frequencies = np.bincount(out["m"][row], minlength=3) / 20000
        np.testing.assert_allclose(frequencies, probabilities, atol=0.015)
    again = hologram.Model(hologram.compile(model), "cpu").run(feeds)
    assert np.array_equal(again["u"], u)
