"""float32 CONV2D on the cpu backend (an implicit GEMM, `backends/_cpu_conv.py`) against
NumPy in float64 and the reference backend, on odd shapes; its two-thread launches against
its one-thread ones; which ONNX convolutions lower to it."""

from __future__ import annotations

from time import perf_counter

import numba
import numpy as np
import onnxruntime as ort
import pytest

import hologram
from hologram.backends import _cpu_conv, _cpu_intrinsics
from hologram.backends._reference_tensor import run_intrinsic
from hologram.compiler.compile import compile_model
from hologram.isa.builder import Builder
from onnx import TensorProto, helper, numpy_helper

pytestmark = pytest.mark.skipif(
    not _cpu_intrinsics._wide_vectors(), reason="the implicit GEMM needs AVX-512 and FMA"
)

# (n, c, h, w, k, r, s, stride, pad (top, left, bottom, right), dilation, bias)
CASES = {
    "1x1, pads": (2, 5, 6, 7, 9, 1, 1, (1, 1), (1, 0, 0, 1), (1, 1), True),
    "3x3 8 wide, several chunks": (9, 19, 8, 8, 13, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), True),
    "3x3 4 wide, stride 2": (5, 7, 8, 8, 7, 3, 3, (2, 2), (1, 1, 1, 1), (1, 1), False),
    "5x5 uneven pads, stride 2x3, dilation": (
        3,
        6,
        13,
        11,
        5,
        5,
        5,
        (2, 3),
        (2, 1, 0, 2),
        (1, 2),
        True,
    ),
    "7x7 stride 2, rows wider than a vector": (
        2,
        3,
        36,
        37,
        17,
        7,
        7,
        (2, 2),
        (3, 3, 3, 3),
        (1, 1),
        True,
    ),
    "3x3 6 and 3 wide, dilation 2": (4, 4, 10, 6, 6, 3, 3, (1, 1), (2, 0, 2, 1), (2, 2), False),
    # Tiles of 6 then of 4 filters (10 = 6 + 4, 32 = 4 x 6 + 2 x 4, 2 in one of 4).
    "3x3 20 wide, 10 filters": (2, 5, 7, 20, 10, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), True),
    "3x3 stride 2 from column 0, 32 filters": (
        3,
        4,
        12,
        17,
        32,
        3,
        3,
        (2, 2),
        (0, 0, 1, 1),
        (1, 1),
        True,
    ),
    "3x3 stride 4, 2 filters": (2, 3, 21, 37, 2, 3, 3, (4, 4), (0, 2, 1, 1), (1, 1), False),
}


def _program(n, c, h, w, k, r, s, stride, pad, dilation, bias):  # type: ignore[no-untyped-def]
    b = Builder("conv")
    x, wt, y = b.buffer("x", "f32"), b.buffer("w", "f32"), b.buffer("y", "f32", "write")
    extra = b.buffer("b", "f32") if bias else None
    attrs = dict(n=n, c=c, h=h, w=w, k=k, r=r, s=s, stride=stride, pad=pad, dilation=dilation)
    b.conv2d(x, wt, y, extra, groups=1, **attrs)
    return b.build()


def _numpy(x, w, bias, stride, pad, dilation):  # type: ignore[no-untyped-def]
    """The convolution in float64, one kernel tap at a time."""
    (sh, sw), (dh, dw) = stride, dilation
    top, left, bottom, right = pad
    x = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (top, bottom), (left, right)))
    k, _, r, s = w.shape
    oh = (x.shape[2] - dh * (r - 1) - 1) // sh + 1
    ow = (x.shape[3] - dw * (s - 1) - 1) // sw + 1
    y = np.zeros((x.shape[0], k, oh, ow))
    for i in range(r):
        for j in range(s):
            taps = x[:, :, i * dh : i * dh + sh * (oh - 1) + 1 : sh, j * dw :: sw][..., :ow]
            y += np.einsum("nchw,kc->nkhw", taps, w[:, :, i, j].astype(np.float64))
    return y if bias is None else y + bias.astype(np.float64).reshape(1, k, 1, 1)


@pytest.mark.parametrize("case", CASES)
def test_conv2d_agrees_with_numpy_and_reference(case, rng):
    n, c, h, w, k, r, s, stride, pad, dilation, with_bias = CASES[case]
    program = _program(*CASES[case])
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    wt = rng.standard_normal((k, c, r, s)).astype(np.float32)
    bias = rng.standard_normal(k).astype(np.float32) if with_bias else None
    expected = _numpy(x, wt, bias, stride, pad, dilation)
    outputs = []
    for run in ("cpu", "reference"):
        y = np.full(expected.size + 7, np.nan, np.float32)  # a tail that must stay untouched
        buffers = [x.reshape(-1), wt.reshape(-1), y] + ([bias] if with_bias else [])
        if run == "cpu":
            _cpu_intrinsics.run_intrinsics(program, buffers)
        else:
            run_intrinsic(program, 0, program.instructions[0], buffers)
        assert np.isnan(y[expected.size :]).all()
        outputs.append(y[: expected.size].reshape(expected.shape))
    scale = np.abs(expected).max()
    np.testing.assert_allclose(outputs[0], expected, rtol=0, atol=2e-6 * scale * np.sqrt(c * r * s))
    np.testing.assert_allclose(
        outputs[0], outputs[1], rtol=0, atol=2e-6 * scale * np.sqrt(c * r * s)
    )


def test_conv2d_repeated_launches_reuse_scratch(rng):
    """A second launch with other inputs (the scratch kept from the first) is right too."""
    args = (3, 4, 9, 10, 8, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), True)
    program = _program(*args)
    for _ in range(2):
        x = rng.standard_normal((3, 4, 9, 10)).astype(np.float32)
        wt = rng.standard_normal((8, 4, 3, 3)).astype(np.float32)
        bias = rng.standard_normal(8).astype(np.float32)
        y = np.empty(3 * 8 * 9 * 10, np.float32)
        _cpu_intrinsics.run_intrinsics(program, [x.reshape(-1), wt.reshape(-1), y, bias])
        expected = _numpy(x, wt, bias, (1, 1), (1, 1, 1, 1), (1, 1))
        np.testing.assert_allclose(y.reshape(expected.shape), expected, rtol=0, atol=1e-4)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="Numba's pool has one thread")
@pytest.mark.parametrize("n", [1, 7])
def test_split_launches_are_one_thread_bit_for_bit(n, rng, monkeypatch):
    """On two threads, parts of whole chunks (7 images, 2 a chunk, the last one short) or of
    one chunk's strips (1 image) give the one-thread result bit for bit."""
    monkeypatch.setattr(_cpu_conv, "SPLIT_FLOPS", 0)
    geo = _cpu_conv.ConvGeometry(n, 5, 24, 26, 14, 3, 3, (1, 2), (1, 1, 1, 0), (1, 1))
    conv = _cpu_conv.SplitConv(_cpu_conv.ImplicitConv(geo), 2, lambda: False)
    assert len(conv.table) == 2 and (conv.table[0, 0] < 0) == (n == 1)
    x = rng.standard_normal((n, 5, 24, 26)).astype(np.float32)
    wt = rng.standard_normal((14, 5, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(14).astype(np.float32)
    expected = _numpy(x, wt, bias, geo.stride, geo.pad, geo.dilation)
    outputs = []
    for _ in range(4):  # two one-thread launches are timed, then the split ones run
        y = np.full(expected.size, np.nan, np.float32)
        conv(x.reshape(-1), wt.reshape(-1), y, bias)
        outputs.append(y)
    assert conv.timing.serial_runs == 2 and conv.timing.parallel_runs == 2
    np.testing.assert_allclose(outputs[0].reshape(expected.shape), expected, rtol=0, atol=1e-4)
    for y in outputs[2:]:
        np.testing.assert_array_equal(y, outputs[0])


def test_held_convolution_runs_on_one_thread(rng, monkeypatch):
    """While a lost split launch holds it, a convolution runs (and is timed) on one thread."""
    monkeypatch.setattr(_cpu_conv, "SPLIT_FLOPS", 0)
    geo = _cpu_conv.ConvGeometry(4, 8, 16, 16, 8, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1))
    conv = _cpu_conv.SplitConv(_cpu_conv.ImplicitConv(geo), 2, lambda: False)
    conv.timing.serial_runs, conv.timing.held_until = 2, perf_counter() + 3600.0
    x = rng.standard_normal(4 * 8 * 16 * 16).astype(np.float32)
    wt = rng.standard_normal(8 * 8 * 9).astype(np.float32)
    y = np.empty(4 * 8 * 16 * 16, np.float32)
    conv(x, wt, y, np.zeros(8, np.float32))
    assert conv.timing.held() and conv.timing.serial_runs == 3
    assert conv.timing.parallel_runs == 0


@pytest.mark.parametrize(
    ("x_shape", "stride", "implicit"),
    [((2, 6, 9, 11), 1, True), ((2, 6, 9, 11), 2, True), ((2, 6, 7, 7), 2, False)],
)
def test_onnx_conv_lowers_to_conv2d_where_it_wins(x_shape, stride, implicit, rng):
    """A float32 Conv of one group with a fused residual and Relu: with outputs at least 5
    wide it lowers to CONV2D and an in-place epilogue, with 4 wide ones of two images to the
    patch matrix (measured faster there); both backends agree with onnxruntime."""
    w_shape = (10, 6, 3, 3)
    out_shape = (2, 10, (x_shape[2] - 1) // stride + 1, (x_shape[3] - 1) // stride + 1)
    inits = [
        numpy_helper.from_array(rng.standard_normal(w_shape).astype(np.float32), "w"),
        numpy_helper.from_array(rng.standard_normal(10).astype(np.float32), "b"),
    ]
    attrs = dict(pads=[1, 1, 1, 1], strides=[stride, stride])
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], **attrs),
        helper.make_node("Add", ["c", "z"], ["s"]),
        helper.make_node("Relu", ["s"], ["y"]),
    ]
    inputs = [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape),
        helper.make_tensor_value_info("z", TensorProto.FLOAT, out_shape),
    ]
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)
    graph = helper.make_graph(nodes, "g", inputs, [out], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    feeds = {
        "x": rng.standard_normal(x_shape).astype(np.float32),
        "z": rng.standard_normal(out_shape).astype(np.float32),
    }
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (want,) = session.run(None, feeds)
    compiled = compile_model(model)
    for backend in ("cpu", "reference"):
        (got,) = hologram.Model(compiled, backend).run(feeds).values()
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    (plan,) = compiled.plans
    names = {
        plan.programs[s.program].name.split("__")[0] for s in plan.steps if hasattr(s, "program")
    }
    assert ("onnx_conv2d" in names) == implicit
