"""Normalisation activation fusion (`passes/fuse_norm_activation.py`): InstanceNormalization
or a fused GroupNorm followed by an activation becomes one GroupNorm with the activation,
which matches onnxruntime and the unoptimised model on rows long enough for a block each
(activation before the store) and on short rows (a pass of its own); near misses stay
apart; the fused kernel's CUDA source compiles."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import hologram
import onnx
from hologram.codegen.cuda import render_cuda
from hologram.compiler.compile import compile_model
from hologram.onnx.ops._conv_kernels import ACTIVATIONS
from hologram.onnx.ops._reduce_norm import BLOCK_ROWS_FROM
from hologram.onnx.ops._reduce_norm_block import onnx_normalize_rows_block_act
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT
C = 4


def _model(x_shape, activation: str, *, group: bool = False, opset: int = 17,
           shared: bool = False) -> onnx.ModelProto:  # fmt: skip
    """x -> InstanceNormalization (or the exported GroupNorm chain, 2 groups) -> activation
    -> y (with `shared`, the normalisation's output is a second graph output)."""
    rng = np.random.default_rng()
    channels = x_shape[1]
    groups = 2 if group else channels
    inits = [
        numpy_helper.from_array(rng.uniform(0.5, 2, groups).astype(np.float32), "s"),
        numpy_helper.from_array(rng.standard_normal(groups).astype(np.float32), "b"),
        numpy_helper.from_array(np.array(-0.5, np.float32), "low"),
        numpy_helper.from_array(np.array(0.75, np.float32), "high"),
    ]
    nodes = []
    if group:
        inits.append(numpy_helper.from_array(np.array([0, groups, -1], np.int64), "target"))
        gamma = rng.standard_normal((channels, 1, 1)).astype(np.float32)
        inits.append(numpy_helper.from_array(gamma, "gamma"))
        nodes += [
            helper.make_node("Reshape", ["x", "target"], ["r"]),
            helper.make_node("InstanceNormalization", ["r", "s", "b"], ["i"], epsilon=1e-3),
            helper.make_node("Shape", ["x"], ["xs"]),
            helper.make_node("Reshape", ["i", "xs"], ["g"]),
            helper.make_node("Mul", ["g", "gamma"], ["n"]),
        ]
    else:
        nodes.append(helper.make_node("InstanceNormalization", ["x", "s", "b"], ["n"]))
    if activation == "SiLU":
        nodes.append(helper.make_node("Sigmoid", ["n"], ["sig"]))
        nodes.append(helper.make_node("Mul", ["sig", "n"], ["y"]))
    elif activation == "Clip":
        nodes.append(helper.make_node("Clip", ["n", "low", "high"], ["y"]))
    elif activation == "LeakyRelu":
        nodes.append(helper.make_node("LeakyRelu", ["n"], ["y"], alpha=0.2))
    else:
        nodes.append(helper.make_node(activation, ["n"], ["y"]))
    outputs = [helper.make_tensor_value_info("y", F, None)]
    if shared:
        outputs.append(helper.make_tensor_value_info("n", F, None))
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", F, x_shape)], outputs, inits
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return onnx.shape_inference.infer_shapes(model)


def _check(model: onnx.ModelProto, x: np.ndarray, fused: bool) -> None:
    """Compile with and without passes; both match onnxruntime on both backends; the
    optimised graph has one GroupNorm with an activation when `fused`."""
    ort = pytest.importorskip("onnxruntime")
    optimised = compile_model(model)
    plain = compile_model(model, optimize=False)
    norms = [n for n in optimised.graph.nodes if n.op_type == "GroupNorm"]
    assert any(n.attrs.get("activation") for n in norms) == fused
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in model.graph.output]
    want = dict(zip(names, session.run(None, {"x": x}), strict=True))
    for compiled in (optimised, plain):
        for backend in ("reference", "cpu"):
            got = hologram.Model(compiled, backend).run({"x": x})
            for name in names:
                np.testing.assert_allclose(got[name], want[name], rtol=1e-4, atol=1e-5)


LONG = (2, C, 32, BLOCK_ROWS_FROM // 32 + 3)  # a block per row, with a partial pass
SHORT = (3, C, 5, 7)  # a lane per row, then the activation's own pass


@pytest.mark.parametrize(
    ("shape", "activation", "group"),
    [
        (LONG, "Relu", False),
        (LONG, "SiLU", True),
        (LONG, "Clip", False),
        (SHORT, "LeakyRelu", False),
        (SHORT, "SiLU", True),
        (SHORT, "Tanh", False),
    ],
)
def test_activation_fuses(shape, activation: str, group: bool) -> None:
    x = np.random.default_rng().standard_normal(shape).astype(np.float32) * 3
    _check(_model(list(shape), activation, group=group), x, fused=True)


def test_shared_normalisation_stays_apart() -> None:
    """The normalisation's output is also a graph output: the activation stays a node."""
    x = np.random.default_rng().standard_normal(SHORT).astype(np.float32)
    _check(_model(list(SHORT), "Relu", shared=True), x, fused=False)


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc (the CUDA compiler) is not on PATH")
def test_fused_kernel_cuda_source_compiles(tmp_path: Path) -> None:
    program = onnx_normalize_rows_block_act.specialize(
        {name: "float32" for name in ("x", "scale", "bias", "out")},
        eps="float32",
        compute="float32",
        has_bias=True,
        aligned=False,
        act=ACTIVATIONS["SiLU"],
    )
    source = tmp_path / "norm.cu"
    source.write_text(render_cuda(program, lanes_per_thread=1).text, encoding="utf-8")
    flags = ["--ptx", "-arch=sm_90", "--std=c++17", "-diag-suppress=177"]
    result = subprocess.run(
        [shutil.which("nvcc") or "nvcc", *flags, "-o", str(tmp_path / "n.ptx"), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "warning" not in result.stderr, result.stderr[-4000:]
