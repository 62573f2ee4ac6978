"""The padded-input convolution kernels (`onnx/ops/_conv_padded.py`): the 3x3 depthwise
kernel with every stride, padding and dilation it meets, odd sizes, several images, a
channel multiplier and its fused epilogue (residual and activation); the patch matrix from a
padded, phase-split input (strided, dilated, asymmetric and ceil-like end padding, 1-D, 2-D,
groups, chunks of images). Each runs on the cpu and reference backends, which must agree,
against onnxruntime (float64: onnx's reference evaluator)."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx.reference import ReferenceEvaluator

import hologram
import onnx
from hologram.compiler.compile import compile_model
from hologram.onnx.ops import _conv_padded, _convolve
from onnx import TensorProto, helper, numpy_helper

BACKENDS = ("cpu", "reference")


@pytest.fixture(autouse=True)
def _patch_matrix_path(monkeypatch):
    """These tests cover the patch-matrix kernels: float32 convolutions stay off CONV2D
    (tested in tests/backends/test_cpu_conv.py)."""
    monkeypatch.setattr(_convolve, "IMPLICIT", False)


def _conv_model(x_shape, w, bias, attrs, tail=(), residual_shape=None) -> onnx.ModelProto:
    """Conv(x, w, bias) then `tail` (node makers taking the conv output's name)."""
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)]
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(bias, "b")]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], **attrs)]
    last = "c"
    if residual_shape is not None:
        inputs.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, residual_shape))
        nodes.append(helper.make_node("Add", [last, "z"], ["s"]))
        last = "s"
    for i, make in enumerate(tail):
        nodes.append(make(last, f"t{i}"))
        last = f"t{i}"
    out = helper.make_tensor_value_info(last, TensorProto.FLOAT, None)
    graph = helper.make_graph(nodes, "g", inputs, [out], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    return onnx.shape_inference.infer_shapes(model)


def _check(model: onnx.ModelProto, feeds: dict, atol: float = 1e-4) -> list:
    """Both backends against onnxruntime (onnx's reference evaluator for float64, which
    onnxruntime's Conv lacks); the kernel of each launch of the plan."""
    compiled = compile_model(model)
    if feeds["x"].dtype == np.float64:
        (want,) = ReferenceEvaluator(model).run(None, feeds)
    else:
        options = ["CPUExecutionProvider"]
        (want,) = ort.InferenceSession(model.SerializeToString(), providers=options).run(
            None, feeds
        )
    results = []
    for backend in BACKENDS:
        (got,) = hologram.Model(compiled, backend).run(feeds).values()
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=atol)
        results.append(got)
    np.testing.assert_allclose(results[0], results[1], rtol=1e-5, atol=1e-5)
    (plan,) = compiled.plans
    programs = [plan.programs[step.program] for step in plan.steps if hasattr(step, "program")]
    return [program.name.split("__")[0] for program in programs]


DEPTHWISE = {
    "stride 1": ((2, 6, 9, 10), 1, dict(pads=[1, 1, 1, 1])),
    "stride 2": ((3, 5, 11, 12), 1, dict(pads=[1, 1, 1, 1], strides=[2, 2])),
    "stride 2x1, uneven pads": ((2, 4, 10, 7), 1, dict(pads=[0, 2, 1, 1], strides=[2, 1])),
    "stride 3, no pads": ((1, 3, 13, 14), 1, dict(strides=[3, 3])),
    "dilation 2": ((2, 4, 9, 11), 1, dict(pads=[2, 2, 2, 2], dilations=[2, 2])),
    "dilated and strided": (
        (2, 3, 12, 13),
        1,
        dict(pads=[1, 2, 0, 1], dilations=[1, 2], strides=[1, 2]),
    ),  # fmt: skip
    "multiplier 2": ((2, 3, 8, 8), 2, dict(pads=[1, 1, 1, 1], strides=[2, 2])),
    "same upper": ((1, 4, 7, 9), 1, dict(auto_pad="SAME_UPPER", strides=[2, 2])),
    "one by one plane": ((3, 4, 1, 1), 1, dict(pads=[1, 1, 1, 1])),
    "long rows in chunks": ((1, 2, 70, 33), 1, dict(pads=[1, 1, 1, 1])),
    "stride 2, odd width, uneven pads": (
        (2, 3, 9, 15),
        1,
        dict(pads=[0, 2, 1, 0], strides=[2, 2]),
    ),  # fmt: skip
    "stride 4, odd width": ((2, 3, 13, 19), 1, dict(pads=[1, 2, 1, 2], strides=[4, 4])),
    "stride 5": ((1, 2, 12, 23), 1, dict(pads=[2, 2, 2, 2], strides=[5, 5])),
}


@pytest.mark.parametrize("case", DEPTHWISE)
def test_depthwise3(case, rng):
    x_shape, multiplier, attrs = DEPTHWISE[case]
    channels = x_shape[1]
    w = rng.standard_normal((channels * multiplier, 1, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(channels * multiplier).astype(np.float32)
    model = _conv_model(x_shape, w, bias, dict(group=channels, **attrs))
    kernels = _check(model, {"x": rng.standard_normal(x_shape).astype(np.float32)})
    assert "onnx_conv_depthwise3" in kernels


PAD_KERNELS = {
    # stride, input width, side pads: the pad kernels that copy the input.
    "stride 1": (1, 12, 1, ["onnx_conv_pad_copy"]),
    "stride 2, even width": (2, 12, 1, ["onnx_conv_pad_runs"]),
    "stride 2, odd width": (2, 13, 1, ["onnx_conv_pad_runs", "onnx_conv_pad_copy"]),
    "stride 3, two columns left": (3, 14, 2, ["onnx_conv_pad_runs"] + ["onnx_conv_pad_copy"] * 2),
    "stride 5: phase by phase": (5, 23, 2, ["onnx_conv_pad_copy"] * 5),
}


@pytest.mark.parametrize("case", PAD_KERNELS)
def test_pad_copies_runs_then_the_rest(case, rng):
    """Runs of `stride` input columns go to the phases in one pass; the columns left over
    (and every column past `MAX_GROUPED_PHASES` phases) are copied phase by phase."""
    stride, width, side, want = PAD_KERNELS[case]
    x_shape = (2, 3, 7, width)
    w = rng.standard_normal((3, 1, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(3).astype(np.float32)
    attrs = dict(group=3, pads=[1, side, 1, side], strides=[1, stride])
    model = _conv_model(x_shape, w, bias, attrs)
    kernels = _check(model, {"x": rng.standard_normal(x_shape).astype(np.float32)})
    assert [k for k in kernels if k.startswith("onnx_conv_pad")] == want


def test_depthwise3_of_one_input_channel(rng):
    """A convolution of a single-channel input is a depthwise one with a multiplier."""
    w = rng.standard_normal((5, 1, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(5).astype(np.float32)
    model = _conv_model((2, 1, 9, 8), w, bias, dict(pads=[1, 1, 1, 1], strides=[2, 1]))
    kernels = _check(model, {"x": rng.standard_normal((2, 1, 9, 8)).astype(np.float32)})
    assert "onnx_conv_depthwise3" in kernels


EPILOGUES = {
    "relu": (False, [lambda a, b: helper.make_node("Relu", [a], [b])]),
    "residual and relu": (True, [lambda a, b: helper.make_node("Relu", [a], [b])]),
    "leaky relu": (False, [lambda a, b: helper.make_node("LeakyRelu", [a], [b], alpha=0.3)]),
    "residual and sigmoid": (True, [lambda a, b: helper.make_node("Sigmoid", [a], [b])]),
    "residual": (True, []),
}


@pytest.mark.parametrize("case", EPILOGUES)
@pytest.mark.parametrize("stride", [1, 2])
def test_depthwise3_fused_epilogue(case, stride, rng):
    with_residual, tail = EPILOGUES[case]
    x_shape = (3, 6, 11, 10)
    out_shape = (3, 6, (11 + 2 - 3) // stride + 1, (10 + 2 - 3) // stride + 1)
    w = rng.standard_normal((6, 1, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(6).astype(np.float32)
    attrs = dict(group=6, pads=[1, 1, 1, 1], strides=[stride, stride])
    model = _conv_model(x_shape, w, bias, attrs, tail, out_shape if with_residual else None)
    feeds = {"x": rng.standard_normal(x_shape).astype(np.float32)}
    if with_residual:
        feeds["z"] = rng.standard_normal(out_shape).astype(np.float32)
    kernels = _check(model, feeds)
    assert "onnx_conv_depthwise3" in kernels
    assert not {"onnx_relu", "onnx_add", "onnx_sigmoid"} & set(kernels)


PATCHES = {
    "stride 2, pads": ((2, 5, 11, 12), (7, 5, 3, 3), dict(pads=[1, 1, 1, 1], strides=[2, 2])),
    "stride 1x3, uneven pads": (
        (1, 4, 9, 13),
        (6, 4, 3, 2),
        dict(pads=[0, 2, 1, 0], strides=[1, 3]),
    ),  # fmt: skip
    "dilation, no pads": ((2, 6, 10, 11), (8, 6, 2, 3), dict(dilations=[2, 3])),
    "end pad never read": ((1, 4, 8, 8), (5, 4, 3, 3), dict(pads=[0, 0, 2, 2], strides=[3, 3])),
    "1x1 stride 2": ((3, 8, 7, 9), (5, 8, 1, 1), dict(strides=[2, 2])),
    "groups of several images": (
        (2, 8, 7, 8),
        (10, 4, 3, 3),
        dict(group=2, pads=[1, 1, 1, 1], strides=[2, 1]),
    ),  # fmt: skip
    "groups of one image": ((1, 12, 7, 6), (6, 6, 3, 3), dict(group=2, pads=[1, 0, 1, 0])),
    "1-D": ((3, 4, 17), (5, 4, 3), dict(pads=[2, 1], dilations=[2], strides=[2])),
    # Rows wider than a few lanes, strided columns in phases.
    "wide rows, stride 1x2": ((2, 8, 6, 40), (8, 8, 3, 3), dict(pads=[1, 1, 1, 1], strides=[1, 2])),
    "wide 1-D": ((2, 8, 37), (8, 8, 3), dict(pads=[1, 1], strides=[2])),
}


@pytest.mark.parametrize("case", PATCHES)
def test_padded_patch_matrix(case, rng):
    x_shape, w_shape, attrs = PATCHES[case]
    w = rng.standard_normal(w_shape).astype(np.float32)
    bias = rng.standard_normal(w_shape[0]).astype(np.float32)
    model = _conv_model(x_shape, w, bias, attrs)
    kernels = _check(model, {"x": rng.standard_normal(x_shape).astype(np.float32)})
    assert "onnx_im2col_padded" in kernels


def test_padded_patch_matrix_in_chunks_of_images(rng, monkeypatch):
    """Several chunks of images share one padded input; the last chunk is smaller."""
    monkeypatch.setattr(_convolve, "CHUNK_ELEMENTS", 2 * 27 * 25)
    x_shape = (7, 3, 10, 9)
    w = rng.standard_normal((6, 3, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(6).astype(np.float32)
    attrs = dict(pads=[1, 1, 1, 1], strides=[2, 2])
    model = _conv_model(x_shape, w, bias, attrs, [lambda a, b: helper.make_node("Relu", [a], [b])])
    kernels = _check(model, {"x": rng.standard_normal(x_shape).astype(np.float32)})
    assert kernels.count("onnx_im2col_padded") > 1


def test_float64_depthwise_and_patches(rng):
    """float64 convolutions take the same kernels, computing in float64."""
    x = rng.standard_normal((2, 4, 9, 8))
    for group, w_shape in ((4, (4, 1, 3, 3)), (1, (5, 4, 3, 3))):
        w = rng.standard_normal(w_shape)
        inputs = [helper.make_tensor_value_info("x", TensorProto.DOUBLE, x.shape)]
        attrs = dict(group=group, pads=[1, 1, 1, 1], strides=[2, 1])
        node = helper.make_node("Conv", ["x", "w"], ["y"], **attrs)
        out = helper.make_tensor_value_info("y", TensorProto.DOUBLE, None)
        graph = helper.make_graph([node], "g", inputs, [out], [numpy_helper.from_array(w, "w")])
        opsets = [helper.make_opsetid("", 17)]
        model = helper.make_model(graph, opset_imports=opsets, ir_version=8)
        model = onnx.shape_inference.infer_shapes(model)
        kernels = _check(model, {"x": x}, atol=1e-10)
        assert {"onnx_conv_depthwise3", "onnx_im2col_padded"} & set(kernels)


def test_small_planes_share_blocks_over_several_launches(rng, monkeypatch):
    """4x4 output planes, several to a block, the last block of each launch part full: every
    padded kernel (pad in phases, im2col, depthwise, pool) and the epilogue's shared blocks
    of short rows, with few blocks a launch so that the planes take several launches."""
    monkeypatch.setattr(_conv_padded, "MAX_PLANES", 3)
    x_shape = (2, 7, 8, 8)
    w = rng.standard_normal((9, 7, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(9).astype(np.float32)
    attrs = dict(pads=[1, 1, 1, 1], strides=[2, 2])
    tail = [lambda a, b: helper.make_node("MaxPool", [a], [b], kernel_shape=[2, 2], pads=[1] * 4)]
    model = _conv_model(x_shape, w, bias, attrs, tail)
    kernels = _check(model, {"x": rng.standard_normal(x_shape).astype(np.float32)})
    assert {"onnx_conv_pad_runs", "onnx_im2col_padded", "onnx_pool_padded"} <= set(kernels)
    dw = rng.standard_normal((7, 1, 3, 3)).astype(np.float32)
    model = _conv_model(x_shape, dw, bias[:7], dict(group=7, **attrs))
    kernels = _check(model, {"x": rng.standard_normal(x_shape).astype(np.float32)})
    assert "onnx_conv_depthwise3" in kernels


def test_launch_rows_fills_blocks_with_small_planes():
    """Blocks of small planes hold several of them: as many blocks as BLOCK_LANES lanes each
    would need, the planes split evenly over them; planes larger than a block keep one plane
    a block."""
    launches = []

    class Recorder:
        def launch(self, kernel, grid, block, args):
            launches.append((grid, block, args[-2:]))

    _conv_padded.launch_rows(Recorder(), None, (100, 4, 4), [])
    ((grid, block, (count, first)),) = launches
    assert block[:2] == (4, 4) and grid[:2] == (1, 1)
    assert grid[2] == -(-100 * 16 // _conv_padded.BLOCK_LANES)
    assert grid[2] * block[2] >= 100 > (grid[2] - 1) * block[2] and (count, first) == (100, 0)
    launches.clear()
    _conv_padded.launch_rows(Recorder(), None, (5, 40, 33), [])
    ((grid, block, _),) = launches
    assert block[2] == 1 and grid[2] == 5
