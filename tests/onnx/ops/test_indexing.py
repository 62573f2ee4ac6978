"""Shape and indexing ops beyond the ONNX node tests: other dtypes, bigger random shapes,
negative steps, repeated indices, data-dependent shapes and errors.

Each model runs on the cpu and the reference backends; both must agree with an independent
oracle (NumPy or onnx's reference evaluator).
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from onnx.reference import ReferenceEvaluator

import hologram
from hologram.errors import HologramError
from onnx import TensorProto, helper, numpy_helper

OPSET = 21


def make_model(
    op: str,
    inputs: dict[str, np.ndarray],
    outputs: int = 1,
    initializers: dict[str, np.ndarray] | None = None,
    opset: int = OPSET,
    out_shapes: list[tuple] | None = None,
    **attrs,
):
    """A one-node model of `op` taking `inputs` (graph inputs) then `initializers`. Its
    outputs are declared with the types the reference evaluator gives them, or (for
    malformed nodes, which it cannot run) as tensors of the first input's type and
    `out_shapes`."""
    initializers = initializers or {}
    names = [*inputs, *initializers]
    node = helper.make_node(op, names, [f"y{k}" for k in range(outputs)], **attrs)

    def build(declared):
        graph = helper.make_graph(
            [node],
            "g",
            [helper.make_tensor_value_info(name, _elem(a), a.shape) for name, a in inputs.items()],
            [helper.make_tensor_value_info(f"y{k}", e, s) for k, (e, s) in enumerate(declared)],
            [numpy_helper.from_array(a, name) for name, a in initializers.items()],
        )
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])

    if out_shapes is not None:
        first = _elem(next(iter(inputs.values())))
        return build([(first, shape) for shape in out_shapes])
    results = ReferenceEvaluator(build([(TensorProto.FLOAT, None)] * outputs)).run(None, inputs)
    return build([(_elem(r), r.shape) for r in results])


def _elem(array: np.ndarray) -> int:
    return helper.np_dtype_to_tensor_dtype(array.dtype)


def run(model, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The outputs on the cpu backend, checked to equal the reference backend's."""
    compiled = hologram.compile(model)
    results = []
    for backend in ("cpu", "reference"):
        outputs = hologram.Model(compiled, backend).run(feeds)
        results.append([np.asarray(outputs[f"y{k}"]) for k in range(len(outputs))])
    for cpu, reference in zip(*results, strict=True):
        np.testing.assert_array_equal(cpu, reference)
    return results[0]


def oracle(model, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """onnx's reference evaluator on the same model."""
    return ReferenceEvaluator(model).run(None, feeds)


def test_transpose_float16_matches_numpy():
    x = np.random.default_rng(1).standard_normal((3, 4, 5, 6)).astype(np.float16)
    perm = [2, 0, 3, 1]
    (y,) = run(make_model("Transpose", {"x": x}, perm=perm), {"x": x})
    np.testing.assert_array_equal(y, x.transpose(perm))


@pytest.mark.parametrize(
    ("starts", "ends", "axes", "steps"),
    [
        ([-1, 10], [-100, 0], [0, 2], [-2, -3]),  # negative steps, clamped bounds
        ([1, -4], [2**62, 1000], [-1, 1], [2, 1]),  # huge ends, negative start
    ],
)
def test_slice_bfloat16_matches_numpy(starts, ends, axes, steps):
    x = np.random.default_rng(2).standard_normal((7, 6, 11)).astype(ml_dtypes.bfloat16)
    bounds = {
        "starts": np.array(starts, np.int64),
        "ends": np.array(ends, np.int64),
        "axes": np.array(axes, np.int64),
        "steps": np.array(steps, np.int64),
    }
    (y,) = run(make_model("Slice", {"x": x}, initializers=bounds), {"x": x})
    window = [slice(None)] * 3
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        window[axis] = slice(start, end, step)
    np.testing.assert_array_equal(y, x[tuple(window)])


def test_concat_with_an_empty_input_and_split_uneven():
    rng = np.random.default_rng(3)
    a = rng.random((2, 3, 4)) > 0.5
    b = np.zeros((2, 3, 0), bool)
    c = rng.random((2, 3, 5)) > 0.5
    (y,) = run(make_model("Concat", {"a": a, "b": b, "c": c}, axis=-1), {"a": a, "b": b, "c": c})
    np.testing.assert_array_equal(y, np.concatenate([a, b, c], axis=-1))

    x = rng.standard_normal((4, 11)).astype(np.float32)
    model = make_model("Split", {"x": x}, outputs=3, opset=18, axis=1, num_outputs=3)
    parts = run(model, {"x": x})
    for got, want in zip(parts, np.split(x, [4, 8], axis=1), strict=True):
        np.testing.assert_array_equal(got, want)


def test_expand_and_tile_match_numpy():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 1, 5)).astype(np.float32)
    shape = np.array([2, 1, 4, 1], np.int64)
    (y,) = run(make_model("Expand", {"x": x}, initializers={"shape": shape}), {"x": x})
    np.testing.assert_array_equal(y, x * np.ones((2, 1, 4, 1), np.float32))

    repeats = np.array([2, 3, 1], np.int64)
    (y,) = run(make_model("Tile", {"x": x}, initializers={"repeats": repeats}), {"x": x})
    np.testing.assert_array_equal(y, np.tile(x, repeats))


def test_gather_out_of_range_index_is_clamped_not_a_crash():
    rng = np.random.default_rng(5)
    data = rng.standard_normal((5, 4, 3)).astype(np.float32)
    indices = np.array([[0, -1], [3, 7], [-4, -9]], np.int32)
    feeds = {"data": data, "indices": indices}
    model = make_model("Gather", feeds, out_shapes=[(5, 3, 2, 3)], axis=1)
    (y,) = run(model, {"data": data, "indices": indices})
    normalised = np.where(indices < 0, indices + 4, indices)
    np.testing.assert_array_equal(y, np.take(data, np.clip(normalised, 0, 3), axis=1))


def test_gather_nd_with_batch_dims_matches_reference():
    rng = np.random.default_rng(6)
    data = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    indices = np.stack([rng.integers(-3, 3, (2, 6)), rng.integers(0, 4, (2, 6))], -1)
    feeds = {"data": data, "indices": indices.astype(np.int64)}
    model = make_model("GatherND", feeds, batch_dims=1)
    (y,) = run(model, feeds)
    np.testing.assert_array_equal(y, oracle(model, feeds)[0])


@pytest.mark.parametrize("reduction", ["add", "mul", "max"])
def test_scatters_with_repeated_indices_match_reference(reduction):
    rng = np.random.default_rng(7)
    data = rng.standard_normal((6, 5)).astype(np.float32)
    indices = rng.integers(-6, 6, (9, 5)).astype(np.int64)
    updates = rng.standard_normal((9, 5)).astype(np.float32)
    feeds = {"data": data, "indices": indices, "updates": updates}
    model = make_model("ScatterElements", feeds, axis=0, reduction=reduction)
    (y,) = run(model, feeds)
    np.testing.assert_allclose(y, oracle(model, feeds)[0], rtol=1e-6)

    rows = rng.integers(0, 6, (7, 1)).astype(np.int64)
    updates = rng.standard_normal((7, 5)).astype(np.float32)
    feeds = {"data": data, "indices": rows, "updates": updates}
    model = make_model("ScatterND", feeds, reduction=reduction)
    (y,) = run(model, feeds)
    np.testing.assert_allclose(y, oracle(model, feeds)[0], rtol=1e-6)


@pytest.mark.parametrize("mode", ["reflect", "edge", "wrap", "constant"])
def test_pad_modes_match_numpy(mode):
    x = np.random.default_rng(8).standard_normal((3, 4, 5)).astype(np.float32)
    pads = np.array([2, 0, 9, 1, 0, 4], np.int64)  # 9 > 5: reflect and wrap go round again
    value = np.array(1.5, np.float32)
    inputs = {"pads": pads, "value": value}
    model = make_model("Pad", {"x": x}, initializers=inputs, mode=mode)
    (y,) = run(model, {"x": x})
    widths = [(2, 1), (0, 0), (9, 4)]
    extra = {"constant_values": 1.5} if mode == "constant" else {}
    np.testing.assert_array_equal(y, np.pad(x, widths, mode=mode, **extra))


def test_pad_with_negative_pads_crops():
    x = np.random.default_rng(13).standard_normal((6, 7)).astype(np.float32)
    pads = np.array([-2, 1, 0, -3], np.int64)
    model = make_model("Pad", {"x": x}, initializers={"pads": pads}, out_shapes=[(4, 5)])
    (y,) = run(model, {"x": x})
    np.testing.assert_array_equal(y, np.pad(x[2:, :4], [(0, 0), (1, 0)]))


def test_nonzero_and_compress_over_many_chunks():
    rng = np.random.default_rng(9)
    x = (rng.random((37, 29)) > 0.7).astype(np.float32)
    (y,) = run(make_model("NonZero", {"x": x}), {"x": x})
    np.testing.assert_array_equal(y, np.array(np.nonzero(x), np.int64))

    data = rng.standard_normal((4, 1000)).astype(np.float32)
    condition = rng.random(900) > 0.5
    feeds = {"data": data, "condition": condition}
    (y,) = run(make_model("Compress", feeds, axis=1), feeds)
    np.testing.assert_array_equal(y, np.compress(condition, data, axis=1))


@pytest.mark.parametrize(("axis", "ordered"), [(None, 0), (None, 1), (1, 1), (1, 0)])
def test_unique_outputs_match_numpy(axis, ordered):
    x = np.random.default_rng(10).integers(0, 3, (4, 6, 2)).astype(np.int32)
    attrs = {"sorted": ordered} if axis is None else {"sorted": ordered, "axis": axis}
    shapes = [(None,), (None,), (None,), (None,)]
    model = make_model("Unique", {"x": x}, outputs=4, out_shapes=shapes, **attrs)
    model.graph.output[1].type.tensor_type.elem_type = TensorProto.INT64
    model.graph.output[2].type.tensor_type.elem_type = TensorProto.INT64
    model.graph.output[3].type.tensor_type.elem_type = TensorProto.INT64
    got = run(model, {"x": x})
    values, first, inverse, counts = np.unique(
        x.reshape(-1) if axis is None else x, True, True, True, axis=axis
    )
    if not ordered:  # in order of first occurrence
        order = np.argsort(first)
        rank = np.argsort(order)
        values = np.take(x.reshape(-1) if axis is None else x, first[order], axis=axis or 0)
        first, inverse, counts = first[order], rank[inverse.reshape(-1)], counts[order]
    for mine, want in zip(got, [values, first, inverse.reshape(-1), counts], strict=True):
        np.testing.assert_array_equal(mine, want)


def test_cumsum_float16_reverse_exclusive_matches_float64():
    x = np.random.default_rng(11).standard_normal((3, 40, 2)).astype(np.float16)
    axis = np.array(1, np.int64)
    model = make_model("CumSum", {"x": x}, initializers={"axis": axis}, reverse=1, exclusive=1)
    (y,) = run(model, {"x": x})
    flipped = np.cumsum(x.astype(np.float64)[:, ::-1], axis=1)[:, ::-1]
    want = np.concatenate([flipped[:, 1:], np.zeros((3, 1, 2))], axis=1)
    assert y.dtype == np.float16
    np.testing.assert_allclose(y.astype(np.float64), want, rtol=2e-3, atol=2e-3)


def test_col2im_matches_reference():
    rng = np.random.default_rng(12)
    image = np.array([6, 7], np.int64)
    block = np.array([2, 3], np.int64)
    attrs = {"dilations": [1, 2], "pads": [1, 0, 0, 1], "strides": [2, 1]}
    positions = [(6 + 1 - 1 - 1) // 2 + 1, (7 + 1 - 2 * 2 - 1) // 1 + 1]
    x = rng.standard_normal((2, 3 * 6, positions[0] * positions[1])).astype(np.float32)
    model = make_model("Col2Im", {"x": x}, initializers={"image": image, "block": block}, **attrs)
    (y,) = run(model, {"x": x})
    np.testing.assert_allclose(y, oracle(model, {"x": x})[0], rtol=1e-5, atol=1e-6)


def test_constant_inputs_fold_at_compile_time():
    data = np.arange(24, dtype=np.int64).reshape(2, 3, 4)
    x = np.ones((4, 2), np.int64)
    node = helper.make_node("Transpose", ["data"], ["t"], perm=[2, 0, 1])
    flat = helper.make_node("Flatten", ["t"], ["f"], axis=1)
    add = helper.make_node("Add", ["f", "x"], ["y0"])
    graph = helper.make_graph(
        [node, flat, add],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.INT64, (4, 6))],
        [helper.make_tensor_value_info("y0", TensorProto.INT64, (4, 6))],
        [numpy_helper.from_array(data, "data")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    x = np.ones((4, 6), np.int64)
    (y,) = run(model, {"x": x})
    np.testing.assert_array_equal(y, data.transpose(2, 0, 1).reshape(4, 6) + 1)


@pytest.mark.parametrize(
    ("op", "attrs", "message"),
    [
        ("Transpose", {"perm": [0, 0, 1]}, "not a permutation"),
        ("DepthToSpace", {"blocksize": 2}, "does not divide"),
        ("Flatten", {"axis": 5}, "out of range"),
    ],
)
def test_malformed_nodes_raise_errors_naming_the_problem(op, attrs, message):
    x = np.zeros((3, 3, 3), np.float32)
    with pytest.raises(HologramError, match=message):
        hologram.Model(
            hologram.compile(make_model(op, {"x": x}, out_shapes=[(3, 3, 3)], **attrs)), "cpu"
        ).run({"x": x})
