"""Control flow, sequences, optionals and recurrent layers beyond the ONNX node tests.

Recurrent layers with every option the node tests leave out (sequence lengths, both layouts,
initial states, peepholes, clip, activations, float64 and float16), conditions and trip counts
that change between runs (the guards make the model plan again), scans along other axes and
in reverse, sequences and optionals as graph inputs and outputs, and malformed nodes.

Every model runs on the cpu and the reference backends; both are checked against
onnxruntime or onnx's reference evaluator.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx.reference import ReferenceEvaluator

import hologram
from hologram.errors import HologramError
from onnx import TensorProto, helper, numpy_helper

F32 = TensorProto.FLOAT
BACKENDS = ("cpu", "reference")


def tensor(name: str, elem: int, shape) -> object:
    return helper.make_tensor_value_info(name, elem, shape)


def model_of(nodes, inputs, outputs, opset=21, initializers=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=10)


def run_both(model, feeds, rtol=1e-6, atol=0.0):
    """The outputs on the cpu backend (by name); the reference backend must agree."""
    compiled = hologram.compile(model)
    cpu, ref = (hologram.Model(compiled, b).run(feeds) for b in BACKENDS)
    _agree(cpu, ref, rtol, atol)
    return cpu


def _agree(got, want, rtol, atol=0.0):
    if isinstance(want, dict):
        for name in want:
            _agree(got[name], want[name], rtol, atol)
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            _agree(g, w, rtol, atol)
    elif want is None:
        assert got is None
    else:
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_allclose(
            got.astype(np.float64), want.astype(np.float64), rtol=rtol, atol=atol
        )


def onnxruntime(model, feeds) -> dict:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, feeds), strict=True))


# ------------------------------------------------------------------ recurrent layers
def recurrent_model(op, gates, dirs, hidden, x, layout, opset=14, dtype=np.float32, **attrs):
    """A one-node model of `op` with every optional input; weights are initializers."""
    rng = np.random.default_rng(7)
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    size = x.shape[2]
    batch = x.shape[1] if layout == 0 else x.shape[0]
    weights = {
        "W": rng.normal(0, 0.5, (dirs, gates * hidden, size)),
        "R": rng.normal(0, 0.5, (dirs, gates * hidden, hidden)),
        "B": rng.normal(0, 0.5, (dirs, 2 * gates * hidden)),
    }
    state = (dirs, batch, hidden) if layout == 0 else (batch, dirs, hidden)
    feeds = {
        "X": x.astype(dtype),
        "initial_h": rng.normal(0, 1, state).astype(dtype),
        "sequence_lens": rng.integers(1, x.shape[0 if layout == 0 else 1] + 1, batch).astype(
            np.int32
        ),
    }
    inputs = ["X", "W", "R", "B", "sequence_lens", "initial_h"]
    outputs = ["Y", "Y_h"]
    if op == "LSTM":
        feeds["initial_c"] = rng.normal(0, 1, state).astype(dtype)
        weights["P"] = rng.normal(0, 0.5, (dirs, 3 * hidden))
        inputs += ["initial_c", "P"]
        outputs.append("Y_c")
    direction = {1: "forward", 2: "bidirectional"}[dirs]
    attrs.setdefault("direction", direction)
    node = helper.make_node(op, inputs, outputs, hidden_size=hidden, layout=layout, **attrs)
    graph_inputs = [tensor(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
                    for n, a in feeds.items()]  # fmt: skip
    inits = [numpy_helper.from_array(a.astype(dtype), n) for n, a in weights.items()]
    graph_outputs = [tensor(n, elem, [f"{n}_{k}" for k in range(rank)])
                     for n, rank in zip(outputs, (4, 3, 3), strict=False)]  # fmt: skip
    return model_of([node], graph_inputs, graph_outputs, opset, inits), feeds


@pytest.mark.parametrize(
    ("op", "gates", "dirs", "layout", "attrs"),
    [
        ("LSTM", 4, 2, 0, {}),
        ("LSTM", 4, 1, 1, {"direction": "reverse", "input_forget": 1, "clip": 0.8}),
        ("GRU", 3, 2, 1, {"linear_before_reset": 1,
                          "activations": ["HardSigmoid", "LeakyRelu", "Sigmoid", "Tanh"],
                          "activation_alpha": [0.3, 0.05], "activation_beta": [0.4]}),
        ("RNN", 1, 2, 0, {"activations": ["Relu", "Tanh"]}),
    ],
)  # fmt: skip
def test_recurrent_layers_match_onnxruntime(op, gates, dirs, layout, attrs):
    x = np.random.default_rng(1).normal(0, 1, (5, 3, 4))
    model, feeds = recurrent_model(op, gates, dirs, 6, x, 0, **attrs)
    want = onnxruntime(model, feeds)
    if layout == 1:
        # onnxruntime has no batch-first layout: the same layer with every input and output
        # transposed is the oracle.
        model, _ = recurrent_model(op, gates, dirs, 6, x.transpose(1, 0, 2), 1, **attrs)
        feeds = {k: v if v.ndim == 1 else v.transpose(1, 0, 2) for k, v in feeds.items()}
        want = {k: v.transpose(2, 0, 1, 3) if v.ndim == 4 else v.transpose(1, 0, 2)
                for k, v in want.items()}  # fmt: skip
    # Hidden states are O(1) sums that can cancel to near zero, where a last-bit difference
    # in a float32 tanh or sigmoid is large relative to the result: atol of a few ulps of 1.
    got = run_both(model, feeds, rtol=1e-5, atol=1e-6)
    _agree(got, want, rtol=1e-4, atol=1e-5)


def test_lstm_float64_and_omitted_inputs():
    """float64 end to end, with no bias, lengths or initial states (zeros and full length)."""
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, (4, 2, 3))
    w, r = rng.normal(0, 0.5, (1, 20, 3)), rng.normal(0, 0.5, (1, 20, 5))
    node = helper.make_node("LSTM", ["X", "W", "R"], ["Y", "Y_h", "Y_c"], hidden_size=5)
    double = TensorProto.DOUBLE
    model = model_of(
        [node],
        [tensor("X", double, x.shape)],
        [
            tensor("Y", double, [4, 1, 2, 5]),
            tensor("Y_h", double, [1, 2, 5]),
            tensor("Y_c", double, [1, 2, 5]),
        ],
        initializers=[numpy_helper.from_array(w, "W"), numpy_helper.from_array(r, "R")],
    )
    got = run_both(model, {"X": x}, rtol=1e-12)
    want = dict(
        zip(("Y", "Y_h", "Y_c"), ReferenceEvaluator(model).run(None, {"X": x}), strict=True)
    )
    _agree(got, want, rtol=1e-10, atol=1e-12)


def test_gru_float16_is_close_to_float32():
    x = np.random.default_rng(5).normal(0, 1, (3, 2, 4))
    model16, feeds16 = recurrent_model("GRU", 3, 2, 4, x, 0, dtype=np.float16)
    model32, _ = recurrent_model("GRU", 3, 2, 4, x, 0)
    got = run_both(model16, feeds16, rtol=1e-3)
    want = onnxruntime(model32, {k: v.astype(np.float32) if v.dtype == np.float16 else v
                                 for k, v in feeds16.items()})  # fmt: skip
    assert got["Y"].dtype == np.float16
    np.testing.assert_allclose(got["Y"].astype(np.float32), want["Y"], atol=2e-2)


def test_recurrent_layer_rejects_bad_weights():
    node = helper.make_node("RNN", ["X", "W", "R"], ["Y"], hidden_size=3)
    model = model_of(
        [node],
        [tensor("X", F32, (2, 1, 4))],
        [tensor("Y", F32, [2, 1, 1, 3])],
        initializers=[
            numpy_helper.from_array(np.zeros((1, 3, 5), np.float32), "W"),
            numpy_helper.from_array(np.zeros((1, 3, 3), np.float32), "R"),
        ],
    )
    with pytest.raises(HologramError, match="W must be"):
        hologram.compile(model)


# ------------------------------------------------------------------ If and Loop
def test_if_follows_a_runtime_condition_across_runs():
    then_graph = helper.make_graph(
        [helper.make_node("Add", ["x", "x"], ["t"])], "then", [], [tensor("t", F32, [3])]
    )
    else_graph = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["e"])], "else", [], [tensor("e", F32, [3])]
    )
    node = helper.make_node("If", ["c"], ["y"], then_branch=then_graph, else_branch=else_graph)
    model = model_of(
        [node],
        [tensor("c", TensorProto.BOOL, []), tensor("x", F32, [3])],
        [tensor("y", F32, [3])],
    )
    compiled = hologram.compile(model)
    x = np.random.default_rng(0).normal(size=3).astype(np.float32)
    for backend in BACKENDS:
        runner = hologram.Model(compiled, backend)
        for flag in (True, False, True):
            got = runner.run({"c": np.array(flag), "x": x})["y"]
            np.testing.assert_array_equal(got, x + x if flag else -x)


def loop_model():
    """`Loop(M, cond, s)`: s += i * x while `i < M` and `s < limit`; scan output `s * i`."""
    body = helper.make_graph(
        [
            helper.make_node("Cast", ["i"], ["i_f"], to=F32),
            helper.make_node("Mul", ["i_f", "x"], ["step"]),
            helper.make_node("Add", ["s_in", "step"], ["s_out"]),
            helper.make_node("ReduceSum", ["s_out"], ["total"], keepdims=0),
            helper.make_node("Less", ["total", "limit"], ["cond_out"]),
            helper.make_node("Mul", ["s_out", "i_f"], ["scan"]),
        ],
        "body",
        [tensor("i", TensorProto.INT64, []), tensor("cond", TensorProto.BOOL, []),
         tensor("s_in", F32, [2])],
        [tensor("cond_out", TensorProto.BOOL, []), tensor("s_out", F32, [2]),
         tensor("scan", F32, [2])],
    )  # fmt: skip
    node = helper.make_node("Loop", ["M", "cond", "s"], ["s_final", "scans"], body=body)
    return model_of(
        [node],
        [tensor("M", TensorProto.INT64, []), tensor("cond", TensorProto.BOOL, []),
         tensor("s", F32, [2]), tensor("x", F32, [2]), tensor("limit", F32, [])],
        [tensor("s_final", F32, [2]), tensor("scans", F32, ["n", 2])],
    )  # fmt: skip


def test_loop_replans_when_trip_count_or_condition_changes():
    model = loop_model()
    compiled = hologram.compile(model)
    rng = np.random.default_rng(2)
    s, x = rng.uniform(0, 1, 2).astype(np.float32), rng.uniform(0, 1, 2).astype(np.float32)
    cases = [(5, True, 100.0), (2, True, 100.0), (8, True, 6.0), (3, False, 100.0)]
    for backend in BACKENDS:
        runner = hologram.Model(compiled, backend)
        for trips, cond, limit in cases:
            feeds = {"M": np.array(trips, np.int64), "cond": np.array(cond), "s": s, "x": x,
                     "limit": np.array(limit, np.float32)}  # fmt: skip
            runner.run(feeds)
            got = runner.run(feeds)  # the second run replays the plan the first one made
            want = onnxruntime(model, feeds)
            np.testing.assert_allclose(got["s_final"], want["s_final"], rtol=1e-6)
            assert got["scans"].shape == want["scans"].shape
            np.testing.assert_allclose(got["scans"], want["scans"], rtol=1e-6)


# ------------------------------------------------------------------ Scan
def test_scan_along_other_axes_and_backwards():
    """Running sums of the rows of `x` (scanned along axis 1, backwards), stacked along axis
    1 of the output in reverse order."""
    body = helper.make_graph(
        [helper.make_node("Add", ["acc", "row"], ["acc_out"]),
         helper.make_node("Identity", ["acc_out"], ["out"])],
        "body",
        [tensor("acc", F32, [4]), tensor("row", F32, [4])],
        [tensor("acc_out", F32, [4]), tensor("out", F32, [4])],
    )  # fmt: skip
    node = helper.make_node(
        "Scan", ["init", "x"], ["final", "ys"], body=body, num_scan_inputs=1,
        scan_input_axes=[1], scan_input_directions=[1], scan_output_axes=[-1],
        scan_output_directions=[1],
    )  # fmt: skip
    model = model_of(
        [node],
        [tensor("init", F32, [4]), tensor("x", F32, [4, 6])],
        [tensor("final", F32, [4]), tensor("ys", F32, [4, 6])],
    )
    rng = np.random.default_rng(4)
    feeds = {"init": rng.normal(size=4).astype(np.float32),
             "x": rng.normal(size=(4, 6)).astype(np.float32)}  # fmt: skip
    got = run_both(model, feeds)
    want = onnxruntime(model, feeds)
    np.testing.assert_allclose(got["final"], want["final"], rtol=1e-6)
    np.testing.assert_allclose(got["ys"], want["ys"], rtol=1e-6)


def test_scan_opset8_with_sequence_lengths():
    body = helper.make_graph(
        [helper.make_node("Add", ["acc", "v"], ["acc_out"]),
         helper.make_node("Identity", ["acc_out"], ["out"])],
        "body",
        [tensor("acc", F32, [2]), tensor("v", F32, [2])],
        [tensor("acc_out", F32, [2]), tensor("out", F32, [2])],
    )  # fmt: skip
    node = helper.make_node("Scan", ["lens", "init", "x"], ["final", "ys"], body=body,
                            num_scan_inputs=1, directions=[1])  # fmt: skip
    model = model_of(
        [node],
        [tensor("lens", TensorProto.INT32, [3]), tensor("init", F32, [3, 2]),
         tensor("x", F32, [3, 4, 2])],
        [tensor("final", F32, [3, 2]), tensor("ys", F32, [3, 4, 2])],
        opset=8,
    )  # fmt: skip
    rng = np.random.default_rng(6)
    feeds = {"lens": np.array([4, 2, 0], np.int32),
             "init": rng.normal(size=(3, 2)).astype(np.float32),
             "x": rng.normal(size=(3, 4, 2)).astype(np.float32)}  # fmt: skip
    got = run_both(model, feeds)
    # Entry b runs backwards over its first lens[b] rows; outputs past its length are zero.
    final = feeds["init"].copy()
    ys = np.zeros((3, 4, 2), np.float32)
    for b, length in enumerate(feeds["lens"]):
        for step, t in enumerate(range(length - 1, -1, -1)):
            final[b] += feeds["x"][b, t]
            ys[b, step] = final[b]
    np.testing.assert_allclose(got["final"], final, rtol=1e-6)
    np.testing.assert_allclose(got["ys"], ys, rtol=1e-6)


# ------------------------------------------------------------------ sequences, optionals
def seq(name: str, elem: int, rank: int | None = 1) -> object:
    shape = None if rank is None else [f"{name}_{k}" for k in range(rank)]
    return helper.make_tensor_sequence_value_info(name, elem, shape)


@pytest.mark.parametrize("dtype", [np.float16, np.int64, np.bool_])
def test_split_then_concat_from_sequence(dtype):
    """SplitToSequence and ConcatFromSequence (both forms) against onnxruntime."""
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    nodes = [
        helper.make_node("SplitToSequence", ["x", "split"], ["parts"], axis=1),
        helper.make_node("ConcatFromSequence", ["parts"], ["joined"], axis=-2),
        helper.make_node("SplitToSequence", ["x"], ["rows"], axis=0, keepdims=0),
        helper.make_node("ConcatFromSequence", ["rows"], ["stacked"], axis=2, new_axis=1),
        helper.make_node("SequenceLength", ["parts"], ["count"]),
    ]
    model = model_of(
        nodes,
        [tensor("x", elem, [3, 7, 2]), tensor("split", TensorProto.INT64, [3])],
        [seq("parts", elem, 3), tensor("joined", elem, [3, 7, 2]),
         tensor("stacked", elem, [7, 2, 3]),
         tensor("count", TensorProto.INT64, [])],
    )  # fmt: skip
    x = (np.random.default_rng(8).normal(size=(3, 7, 2)) * 4).astype(dtype)
    feeds = {"x": x, "split": np.array([2, 0, 5], np.int64)}
    got = run_both(model, feeds)
    want = onnxruntime(model, feeds)
    _agree(got, want, rtol=0)
    np.testing.assert_array_equal(got["joined"], x)


def test_sequence_graph_inputs_outputs_and_positions():
    """A sequence fed as a list and returned: erase, insert and read back by position."""
    nodes = [
        helper.make_node("SequenceErase", ["items", "at"], ["erased"]),
        helper.make_node("SequenceInsert", ["erased", "extra", "at"], ["inserted"]),
        helper.make_node("SequenceAt", ["inserted", "at"], ["picked"]),
        helper.make_node("SequenceLength", ["inserted"], ["count"]),
    ]
    model = model_of(
        nodes,
        [seq("items", F32, None), tensor("extra", F32, [5]), tensor("at", TensorProto.INT64, [])],
        [seq("inserted", F32, None), tensor("picked", F32, ["n"]),
         tensor("count", TensorProto.INT64, [])],
    )  # fmt: skip
    rng = np.random.default_rng(9)
    items = [rng.normal(size=shape).astype(np.float32) for shape in ((2,), (3, 1), (4,))]
    extra = rng.normal(size=(5,)).astype(np.float32)
    for at in (-1, 0, 1):
        feeds = {"items": items, "extra": extra, "at": np.array(at, np.int64)}
        got = run_both(model, feeds)
        _agree(got, onnxruntime(model, feeds), rtol=0)


def test_optional_graph_input_present_or_absent():
    opt = helper.make_tensor_type_proto(F32, [2])
    nodes = [
        helper.make_node("OptionalHasElement", ["maybe"], ["has"]),
        helper.make_node("Optional", ["x"], ["wrapped"]),
        helper.make_node("OptionalGetElement", ["wrapped"], ["unwrapped"]),
    ]
    model = model_of(
        nodes,
        [helper.make_value_info("maybe", helper.make_optional_type_proto(opt)),
         tensor("x", F32, [2])],
        [tensor("has", TensorProto.BOOL, []),
         helper.make_value_info("wrapped", helper.make_optional_type_proto(opt)),
         tensor("unwrapped", F32, [2])],
    )  # fmt: skip
    x = np.array([1.5, -2.0], np.float32)
    for maybe, has in ((None, False), (x, True)):
        got = run_both(model, {"maybe": maybe, "x": x})
        assert bool(got["has"]) is has
        np.testing.assert_array_equal(got["wrapped"], x)
        np.testing.assert_array_equal(got["unwrapped"], x)


@pytest.mark.parametrize(
    ("node", "message"),
    [
        (helper.make_node("SequenceAt", ["items", "at"], ["y"]), "out of range"),
        (helper.make_node("OptionalGetElement", ["empty"], ["y"]), "empty"),
    ],
)
def test_malformed_sequence_and_optional_nodes(node, message):
    empty = helper.make_node("Optional", [], ["empty"], type=helper.make_tensor_type_proto(F32, []))
    model = model_of(
        [empty, node],
        [seq("items", F32), tensor("at", TensorProto.INT64, [])],
        [tensor("y", F32, [2])],
    )
    runner = hologram.Model(hologram.compile(model), "cpu")
    with pytest.raises(HologramError, match=message):
        runner.run({"items": [np.zeros(2, np.float32)], "at": np.array(3, np.int64)})
