"""Transformer fusions: MatMul/Gemm epilogues and attention become single fused nodes that
compute what onnx's reference evaluator computes; near misses stay unfused and still agree."""

from __future__ import annotations

import numpy as np
import pytest
from onnx.reference import ReferenceEvaluator

import hologram
import onnx
from hologram.compiler.compile import compile_model
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT
BACKENDS = ["reference", "cpu"]


def _model(nodes, inputs, outputs, initializers=(), opset=17) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _info(name: str, shape: list) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, F, shape)


def _check(model: onnx.ModelProto, feeds: dict, backend: str, rtol: float = 1e-5) -> list[str]:
    """Compile `model`, run it on `backend`, compare every output with onnx's reference
    evaluator (float64 tolerance for float32 data); the compiled graph's op types."""
    compiled = compile_model(model)
    got = hologram.Model(compiled, backend).run(feeds)
    want = ReferenceEvaluator(model).run(None, feeds)
    for info, expected in zip(model.graph.output, want, strict=True):
        np.testing.assert_allclose(got[info.name], expected, rtol=rtol, atol=1e-6)
    return [node.op_type for node in compiled.graph.nodes]


def _rand(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("backend", BACKENDS)
def test_matmul_bias_relu_is_one_node(backend: str) -> None:
    rng = np.random.default_rng(11)
    w, bias = _rand(rng, 24, 40), _rand(rng, 40)
    model = _model(
        [
            helper.make_node("MatMul", ["x", "w"], ["p"]),
            helper.make_node("Add", ["p", "b"], ["s"]),
            helper.make_node("Relu", ["s"], ["out"]),
        ],
        [_info("x", [2, 3, 24])],
        [_info("out", [2, 3, 40])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(bias, "b")],
    )
    ops = _check(model, {"x": _rand(rng, 2, 3, 24)}, backend)
    assert ops == ["FusedMatMul"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_gemm_reshape_residual_and_gelu(backend: str) -> None:
    """Gemm (transB, C) -> Reshape -> erf GELU -> residual Add: the GPT/BERT MLP shapes."""
    rng = np.random.default_rng(12)
    w, c = _rand(rng, 16, 8), _rand(rng, 16)
    consts = {
        "sqrt2": np.array(np.sqrt(2.0), np.float32),
        "one": np.array(1.0, np.float32),
        "half": np.array(0.5, np.float32),
        "shape": np.array([2, 3, 16], np.int64),
    }
    model = _model(
        [
            helper.make_node("Gemm", ["x", "w", "c"], ["p"], transB=1),
            helper.make_node("Reshape", ["p", "shape"], ["v"]),
            helper.make_node("Div", ["v", "sqrt2"], ["d"]),
            helper.make_node("Erf", ["d"], ["e"]),
            helper.make_node("Add", ["e", "one"], ["a"]),
            helper.make_node("Mul", ["v", "a"], ["m"]),
            helper.make_node("Mul", ["m", "half"], ["g"]),
            helper.make_node("Add", ["res", "g"], ["out"]),
        ],
        [_info("x", [6, 8]), _info("res", [2, 3, 16])],
        [_info("out", [2, 3, 16])],
        [numpy_helper.from_array(v, k) for k, v in {"w": w, "c": c, **consts}.items()],
    )
    feeds = {"x": _rand(rng, 6, 8), "res": _rand(rng, 2, 3, 16)}
    ops = _check(model, feeds, backend)
    assert ops.count("FusedMatMul") == 1
    assert "Gemm" not in ops and "Erf" not in ops


def _bias_model(bias_shape: list[int], *, twice: bool = False) -> onnx.ModelProto:
    rng = np.random.default_rng(13)
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["p"]),
        helper.make_node("Add", ["p", "b"], ["out"]),
    ]
    outputs = [_info("out", [5, 6])]
    if twice:
        nodes.append(helper.make_node("Relu", ["p"], ["other"]))
        outputs.append(_info("other", [5, 6]))
    inits = [
        numpy_helper.from_array(_rand(rng, 4, 6), "w"),
        numpy_helper.from_array(_rand(rng, *bias_shape), "b"),
    ]
    return _model(nodes, [_info("x", [5, 4])], outputs, inits)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("bias_shape", "twice", "fused"),
    [
        ([6], False, True),
        ([1, 6], False, True),
        ([5, 1], False, False),  # broadcast along the other axis
        ([2, 5, 6], False, False),  # broadcasts the product up
        ([6], True, False),  # the product is read twice
    ],
)
def test_epilogue_near_misses(backend: str, bias_shape: list, twice: bool, fused: bool) -> None:
    rng = np.random.default_rng(14)
    ops = _check(_bias_model(bias_shape, twice=twice), {"x": _rand(rng, 5, 4)}, backend)
    assert ("FusedMatMul" in ops) == fused
    assert ("MatMul" in ops) != fused


def _attention_model(
    pre: list[str], *, axis: int = -1, scores_out: bool = False, causal: bool = False
) -> onnx.ModelProto:
    """Q (B,H,L,D) @ Kt (B,H,D,S), then `pre` ("div", "mul", "mask", "mask_first"), softmax
    along `axis`, @ V (B,H,S,D). The mask is (B,1,1,S) from an input, or with `causal` the
    (1,1,L,S) Where of a constant lower triangle."""
    b, h, length, d = 2, 3, 5, 4
    nodes = [helper.make_node("MatMul", ["q", "kt"], ["s0"])]
    inits = [numpy_helper.from_array(np.array(np.sqrt(d), np.float32), "scale")]
    inputs = [_info("q", [b, h, length, d]), _info("kt", [b, h, d, length])]
    inputs.append(_info("v", [b, h, length, d]))
    current = "s0"
    for k, step in enumerate(pre):
        nxt = f"s{k + 1}"
        if step in ("div", "mul"):
            nodes.append(helper.make_node(step.title(), [current, "scale"], [nxt]))
        elif causal:
            tri = np.tril(np.ones((length, length), bool)).reshape(1, 1, length, length)
            inits += [
                numpy_helper.from_array(tri, "tri"),
                numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
                numpy_helper.from_array(np.array(np.finfo(np.float32).min, np.float32), "low"),
            ]
            nodes.append(helper.make_node("Where", ["tri", "zero", "low"], ["mask"]))
            nodes.append(helper.make_node("Add", [current, "mask"], [nxt]))
        else:
            inputs.append(_info("mask", [b, 1, 1, length]))
            nodes.append(helper.make_node("Add", ["mask", current], [nxt]))
        current = nxt
    nodes.append(helper.make_node("Softmax", [current], ["p"], axis=axis))
    nodes.append(helper.make_node("MatMul", ["p", "v"], ["out"]))
    outputs = [_info("out", [b, h, length, d])]
    if scores_out:
        outputs.append(_info("s0", [b, h, length, length]))
    return _model(nodes, inputs, outputs, inits)


def _attention_feeds(model: onnx.ModelProto, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    feeds = {}
    for info in model.graph.input:
        shape = [d.dim_value for d in info.type.tensor_type.shape.dim]
        if info.name == "mask":
            feeds["mask"] = np.where(rng.random(shape) < 0.3, -1e4, 0.0).astype(np.float32)
        else:
            feeds[info.name] = _rand(rng, *shape)
    return feeds


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("pre", "causal"),
    [([], False), (["div"], False), (["mul", "mask"], True), (["div", "mask"], False)],
)
def test_attention_fuses(backend: str, pre: list[str], causal: bool) -> None:
    model = _attention_model(pre, causal=causal)
    ops = _check(model, _attention_feeds(model, 21), backend)
    assert "FusedAttention" in ops
    assert "Softmax" not in ops and "MatMul" not in ops


@pytest.mark.parametrize("backend", BACKENDS)
def test_attention_through_fused_elementwise(backend: str) -> None:
    """A scale and mask that `fuse_elementwise` made one node (as in GPT-2) still fuse."""
    model = _attention_model(["mul", "mask"])
    ops = _check(model, _attention_feeds(model, 22), backend)
    assert ops == ["FusedAttention"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "case",
    ["softmax_axis", "scores_read_twice", "mask_before_scale"],
)
def test_attention_near_misses(backend: str, case: str) -> None:
    if case == "softmax_axis":
        model = _attention_model(["div"], axis=2)
    elif case == "scores_read_twice":
        model = _attention_model(["div"], scores_out=True)
    else:
        model = _attention_model(["mask", "mul"])
    ops = _check(model, _attention_feeds(model, 23), backend)
    assert "FusedAttention" not in ops
    assert "Softmax" in ops


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("shape", "axis"), [([7, 33], -1), ([2, 3, 130], 2), ([4, 5, 6], 1)])
def test_softmax_rows(backend: str, shape: list[int], axis: int) -> None:
    rng = np.random.default_rng(24)
    model = _model(
        [helper.make_node("Softmax", ["x"], ["out"], axis=axis)],
        [_info("x", shape)],
        [_info("out", shape)],
    )
    _check(model, {"x": 10 * _rand(rng, *shape)}, backend, rtol=1e-6)
