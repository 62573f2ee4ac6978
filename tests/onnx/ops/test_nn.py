"""Matrix products, convolutions and pooling beyond the ONNX node tests: broadcast batches,
1-D operands, half precision, every Conv layout path (several groups of several images,
depthwise, pointwise, 1-D and 3-D), ConvTranspose with groups and output shapes, quantized
convolutions with per-filter parameters, pooling with indices, ceil mode and dilations,
general Einsum equations, Det and DeformConv, and malformed nodes.

Every model runs on the cpu and the reference backends, which must agree; the oracles are
onnxruntime, onnx's reference evaluator and NumPy in float64.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import onnxruntime as ort
import pytest
from onnx.reference import ReferenceEvaluator

import hologram
from hologram.errors import ModelError, UnsupportedOpError
from hologram.onnx.ops._nn_kernels import onnx_batched_matmul
from onnx import helper

BACKENDS = ("cpu", "reference")


def node_model(op, feeds, outputs, opset=19, **attrs):
    """A one-node model of `op` over graph inputs `feeds` (name -> array; "" skips an
    input); `outputs` are (dtype, rank) pairs."""
    names = list(feeds)
    inputs = [
        helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
        for n, a in feeds.items()
        if n
    ]
    outs = [
        helper.make_tensor_value_info(
            f"y{i}", helper.np_dtype_to_tensor_dtype(np.dtype(d)), [f"d{i}_{k}" for k in range(r)]
        )
        for i, (d, r) in enumerate(outputs)
    ]
    node = helper.make_node(op, names, [f"y{i}" for i in range(len(outputs))], **attrs)
    graph = helper.make_graph([node], "g", inputs, outs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=10)


def run(model, feeds, rtol=1e-5):
    """The outputs (a list) on the cpu backend; the reference backend must agree."""
    feeds = {n: a for n, a in feeds.items() if n}
    compiled = hologram.compile(model)
    cpu, ref = (list(hologram.Model(compiled, b).run(feeds).values()) for b in BACKENDS)
    for got, want in zip(cpu, ref, strict=True):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol, 1e-6)
    return cpu


def oracle(model, feeds, engine="ort"):
    """The outputs of onnxruntime or onnx's reference evaluator."""
    feeds = {n: a for n, a in feeds.items() if n}
    if engine == "ort":
        session = ort.InferenceSession(
            model.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        return session.run(None, feeds)
    return ReferenceEvaluator(model).run(None, feeds)


def check(op, feeds, outputs, engine="ort", rtol=1e-5, atol=1e-5, opset=19, **attrs):
    """`op` on both backends against `engine`."""
    model = node_model(op, feeds, outputs, opset, **attrs)
    for got, want in zip(run(model, feeds, rtol), oracle(model, feeds, engine), strict=True):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol, atol)


def normal(rng, shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


# ---------------------------------------------------------------- MatMul and Gemm
@pytest.mark.parametrize(
    ("a_shape", "b_shape"),
    [((2, 1, 3, 4), (5, 4, 2)), ((4,), (3, 4, 5)), ((2, 3, 4), (4,)), ((3, 4), (2, 4, 6))],
)
def test_matmul_broadcasts_batches(a_shape, b_shape):
    rng = np.random.default_rng(0)
    a, b = normal(rng, a_shape), normal(rng, b_shape)
    want = np.matmul(a.astype(np.float64), b.astype(np.float64))
    (got,) = run(
        node_model("MatMul", {"a": a, "b": b}, [(np.float32, want.ndim)]), {"a": a, "b": b}
    )
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16, np.int32])
def test_matmul_narrow_and_integer_types(dtype):
    rng = np.random.default_rng(1)
    a, b = (rng.integers(-4, 4, s).astype(dtype) for s in ((2, 3, 8), (8, 5)))
    want = np.matmul(a.astype(np.float64), b.astype(np.float64))
    (got,) = run(node_model("MatMul", {"a": a, "b": b}, [(dtype, 3)]), {"a": a, "b": b})
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got.astype(np.float64), want)


def test_matmul_of_empty_inner_dimension_is_zeros():
    a, b = np.zeros((3, 0), np.float32), np.zeros((0, 2), np.float32)
    (got,) = run(node_model("MatMul", {"a": a, "b": b}, [(np.float32, 2)]), {"a": a, "b": b})
    assert got.shape == (3, 2) and not got.any()


@pytest.mark.parametrize("c_shape", [None, (), (1, 5), (4, 1), (4, 5)])
def test_gemm_transposes_scales_and_broadcasts_c(c_shape):
    rng = np.random.default_rng(2)
    feeds = {"a": normal(rng, (3, 4)), "b": normal(rng, (5, 3))}
    if c_shape is not None:
        feeds["c"] = normal(rng, c_shape)
    check("Gemm", feeds, [(np.float32, 2)], transA=1, transB=1, alpha=0.5, beta=-2.0)


def test_gemm_rejects_mismatched_inner_dimensions():
    feeds = {"a": np.ones((3, 4), np.float32), "b": np.ones((5, 6), np.float32)}
    with pytest.raises(ModelError, match="inner dimensions"):
        run(node_model("Gemm", feeds, [(np.float32, 2)]), feeds)


# ---------------------------------------------------------------- Conv
CONV_CASES = {
    "group-major": ((2, 4, 7, 8), (6, 2, 3, 3), dict(group=2, pads=[1, 0, 2, 1], strides=[2, 1])),
    "groups of one image": ((1, 4, 7, 8), (6, 2, 3, 3), dict(group=2, dilations=[2, 1])),
    "images of one group": (
        (3, 4, 7, 8),
        (5, 4, 3, 2),
        dict(auto_pad="SAME_LOWER", strides=[2, 2]),
    ),
    "depthwise": ((2, 6, 9, 10), (12, 1, 3, 3), dict(group=6, pads=[1, 1, 1, 1], strides=[1, 2])),
    "pointwise": ((2, 6, 5, 6), (4, 6, 1, 1), {}),
    "1-D": ((2, 3, 11), (4, 3, 3), dict(pads=[2, 1], dilations=[2])),
    "3-D": ((2, 3, 5, 6, 7), (4, 3, 2, 3, 2), dict(pads=[1, 0, 1, 0, 1, 1], strides=[1, 2, 1])),
}


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_layouts(case):
    x_shape, w_shape, attrs = CONV_CASES[case]
    rng = np.random.default_rng(3)
    feeds = {"x": normal(rng, x_shape), "w": normal(rng, w_shape), "b": normal(rng, w_shape[0])}
    check("Conv", feeds, [(np.float32, len(x_shape))], atol=1e-4, **attrs)


@pytest.mark.parametrize("group", [1, 4])
def test_conv_float16_rounds_once(group):
    rng = np.random.default_rng(4)
    x, w, b = normal(rng, (2, 4, 6, 6)), normal(rng, (4, 4 // group, 3, 3)), normal(rng, 4)
    feeds = {n: a.astype(np.float16) for n, a in (("x", x), ("w", w), ("b", b))}
    model = node_model("Conv", feeds, [(np.float16, 4)], group=group, pads=[1, 1, 1, 1])
    (got,) = run(model, feeds, rtol=1e-3)
    f32 = {n: a.astype(np.float32) for n, a in feeds.items()}
    want = oracle(node_model("Conv", f32, [(np.float32, 4)], group=group, pads=[1, 1, 1, 1]), f32)
    np.testing.assert_allclose(got.astype(np.float32), want[0], rtol=2e-3, atol=2e-3)


def test_conv_errors():
    feeds = {"x": np.ones((1, 4, 5, 5), np.float32), "w": np.ones((6, 3, 3, 3), np.float32)}
    with pytest.raises(ModelError, match="group"):
        run(node_model("Conv", feeds, [(np.float32, 4)], group=2), feeds)
    ints = {"x": np.ones((1, 2, 5, 5), np.int32), "w": np.ones((1, 2, 3, 3), np.int32)}
    with pytest.raises(UnsupportedOpError):
        run(node_model("Conv", ints, [(np.int32, 4)]), ints)


CONV_TRANSPOSE_CASES = {
    "groups of several images": ((2, 4, 5, 6), (4, 3, 3, 3), dict(group=2, strides=[2, 1])),
    "output_padding": ((1, 4, 5, 6), (4, 3, 3, 3), dict(strides=[2, 2], output_padding=[1, 1])),
    "output_shape": ((2, 3, 4, 4), (3, 2, 3, 3), dict(strides=[2, 2], output_shape=[10, 9])),
    "same_upper": ((1, 2, 5, 5), (2, 3, 2, 2), dict(strides=[2, 2], auto_pad="SAME_UPPER")),
    "1-D dilated": ((2, 3, 7), (3, 2, 4), dict(strides=[3], dilations=[2], pads=[1, 2])),
    "3-D": ((2, 3, 3, 4, 5), (3, 2, 2, 3, 2), dict(strides=[2, 1, 2], pads=[1, 1, 0, 1, 1, 0])),
}


@pytest.mark.parametrize("case", CONV_TRANSPOSE_CASES)
def test_conv_transpose(case):
    x_shape, w_shape, attrs = CONV_TRANSPOSE_CASES[case]
    rng = np.random.default_rng(5)
    filters = w_shape[1] * attrs.get("group", 1)
    feeds = {"x": normal(rng, x_shape), "w": normal(rng, w_shape), "b": normal(rng, filters)}
    check("ConvTranspose", feeds, [(np.float32, len(x_shape))], atol=1e-4, **attrs)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_conv_integer_per_filter_zero_points(dtype):
    rng = np.random.default_rng(6)
    low, high = np.iinfo(dtype).min, np.iinfo(dtype).max
    feeds = {
        "x": rng.integers(0, 255, (2, 4, 6, 7)).astype(np.uint8),
        "w": rng.integers(low, high, (6, 2, 3, 3)).astype(dtype),
        "xz": np.array(17, np.uint8),
        "wz": rng.integers(low, high, 6).astype(dtype),
    }
    attrs = dict(group=2, pads=[1, 0, 1, 2], strides=[1, 2])
    check("ConvInteger", feeds, [(np.int32, 4)], "reference", 0, 0, opset=10, **attrs)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_qlinear_conv_per_filter_scales(dtype):
    rng = np.random.default_rng(7)
    low, high = np.iinfo(dtype).min, np.iinfo(dtype).max
    feeds = {
        "x": rng.integers(low, high, (1, 4, 6, 6)).astype(dtype),
        "xs": np.array(0.02, np.float32),
        "xz": np.array(3, dtype),
        "w": rng.integers(low, high, (5, 4, 3, 3)).astype(dtype),
        "ws": (rng.random(5) * 0.01 + 0.001).astype(np.float32),
        "wz": np.array(0, dtype),
        "ys": np.array(0.25, np.float32),
        "yz": np.array(-5 if dtype == np.int8 else 120, dtype),
        "b": rng.integers(-2000, 2000, 5).astype(np.int32),
    }
    check("QLinearConv", feeds, [(dtype, 4)], "reference", 0, 0, opset=10, pads=[1, 1, 1, 1])


# ---------------------------------------------------------------- pooling
POOL_CASES = {
    "max ceil dilated": (
        "MaxPool",
        (2, 3, 9, 10),
        dict(kernel_shape=[3, 2], strides=[2, 3], ceil_mode=1, dilations=[1, 2]),
    ),  # noqa: E501
    "max 1-D": ("MaxPool", (2, 3, 11), dict(kernel_shape=[3], strides=[2], pads=[1, 2])),
    "max 3-D": ("MaxPool", (1, 2, 5, 6, 7), dict(kernel_shape=[2, 3, 2], pads=[1, 1, 0, 0, 1, 1])),
    "average include pad ceil": (
        "AveragePool",
        (2, 3, 9, 10),
        dict(
            kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1, ceil_mode=1
        ),
    ),  # noqa: E501
    "average exclude pad": (
        "AveragePool",
        (2, 3, 9, 10),
        dict(kernel_shape=[2, 3], dilations=[2, 1], pads=[1, 0, 1, 2]),
    ),  # noqa: E501
    "average same_lower": (
        "AveragePool",
        (1, 3, 7, 8),
        dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_LOWER", count_include_pad=1),
    ),  # noqa: E501
    "lp": ("LpPool", (2, 3, 9, 10), dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
    "global average": ("GlobalAveragePool", (2, 3, 9, 10), {}),
    "global max 3-D": ("GlobalMaxPool", (2, 3, 4, 5, 3), {}),
    "global lp": ("GlobalLpPool", (2, 3, 9, 10), {}),
}


@pytest.mark.parametrize("case", POOL_CASES)
def test_pooling(case):
    op, shape, attrs = POOL_CASES[case]
    x = normal(np.random.default_rng(8), shape)
    check(op, {"x": x}, [(np.float32, len(shape))], rtol=1e-5, **attrs)


@pytest.mark.parametrize("storage_order", [0, 1])
def test_max_pool_indices_and_unpool(storage_order):
    x = normal(np.random.default_rng(9), (2, 3, 8, 9))
    attrs = dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    check(
        "MaxPool", {"x": x}, [(np.float32, 4), (np.int64, 4)], storage_order=storage_order, **attrs
    )
    model = node_model("MaxPool", {"x": x}, [(np.float32, 4), (np.int64, 4)], **attrs)
    values, indices = run(model, {"x": x})
    feeds = {"v": values, "i": indices, "s": np.array([2, 3, 10, 12], np.int64)}
    attrs.pop("pads")
    check("MaxUnpool", feeds, [(np.float32, 4)], "reference", 0, 0, **attrs)


@pytest.mark.parametrize(
    ("op", "dtype"), [("MaxPool", np.float16), ("MaxPool", np.int8), ("AveragePool", np.float16)]
)  # noqa: E501
def test_pooling_narrow_types(op, dtype):
    x = np.random.default_rng(10).integers(-100, 100, (2, 3, 7, 8)).astype(dtype)
    attrs = dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    check(op, {"x": x}, [(dtype, 4)], "reference", rtol=1e-3, atol=1e-3, **attrs)


# ---------------------------------------------------------------- Einsum, Det, DeformConv
EINSUM_CASES = [
    ("ij,kj->ik", (3, 4), (5, 4)),
    ("bhqd,bhkd->bhqk", (2, 3, 5, 4), (2, 3, 6, 4)),
    ("...ij,...jk->...ik", (2, 1, 3, 4), (5, 4, 2)),
    ("iij->ji", (3, 3, 5)),
    ("abc,cd,de->ae", (2, 3, 4), (4, 5), (5, 6)),
    ("ijk,jil->kl", (3, 4, 2), (4, 3, 5)),
    ("i,j", (3,), (4,)),
]


@pytest.mark.parametrize("case", EINSUM_CASES, ids=[c[0] for c in EINSUM_CASES])
def test_einsum_equations(case):
    equation, *shapes = case
    rng = np.random.default_rng(11)
    feeds = {f"x{i}": normal(rng, s) for i, s in enumerate(shapes)}
    want = np.einsum(equation, *(a.astype(np.float64) for a in feeds.values()))
    model = node_model("Einsum", feeds, [(np.float32, want.ndim)], 12, equation=equation)
    (got,) = run(model, feeds)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_einsum_rejects_unknown_output_label():
    feeds = {"x": np.ones((2, 3), np.float32)}
    with pytest.raises(ModelError, match="output label"):
        run(node_model("Einsum", feeds, [(np.float32, 1)], 12, equation="ij->k"), feeds)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_det_of_batches(dtype):
    x = normal(np.random.default_rng(12), (2, 3, 5, 5), dtype)
    x[0, 0, 1] = x[0, 0, 3]  # singular
    (got,) = run(node_model("Det", {"x": x}, [(dtype, 2)], 11), {"x": x})
    want = np.linalg.det(x.astype(np.float64))
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=2e-3, atol=1e-3)


def test_deform_conv_groups_and_offset_groups():
    rng = np.random.default_rng(13)
    feeds = {
        "x": normal(rng, (2, 4, 6, 7)),
        "w": normal(rng, (6, 2, 3, 3)),
        "offset": normal(rng, (2, 2 * 9 * 2, 3, 5)) * 1.5,
        "b": normal(rng, 6),
        "mask": rng.random((2, 2 * 9, 3, 5)).astype(np.float32),
    }
    attrs = dict(group=2, offset_group=2, pads=[1, 1, 1, 1], strides=[2, 1], dilations=[1, 2])
    check("DeformConv", feeds, [(np.float32, 4)], "reference", 1e-4, 1e-4, **attrs)


@pytest.mark.parametrize("backend", BACKENDS)
def test_matmul_builtin_batch_strides(backend):
    """hg.matmul's optional strides: a stride of 0 repeats one matrix for the whole batch."""
    rng = np.random.default_rng(14)
    a, b = normal(rng, (3, 4)), normal(rng, (2, 4, 5))
    c = np.zeros((2, 3, 5), np.float32)
    executor = hologram.Executor(backend)
    args = [a.reshape(-1), b.reshape(-1), c.reshape(-1), 3, 5, 4, 2, False, False, 0, 20, 15]
    executor.launch(onnx_batched_matmul, 1, 1, args)
    np.testing.assert_allclose(c, np.matmul(a.astype(np.float64), b), rtol=1e-5, atol=1e-5)
