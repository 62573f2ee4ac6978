"""Training optimizers and ai.onnx.ml ops beyond the ONNX node tests.

Momentum, Adagrad and Adam on float64 and on several tensors, with a learning rate and a step
count that change between runs; ArrayFeatureExtractor on other ranks; LabelEncoder with NaN,
repeated and unrepresentable keys; TfIdfVectorizer in every mode on random rows; random
TreeEnsemble forests with every mode, aggregate and post transform; malformed nodes.

Every model runs on the cpu and the reference backends; both are checked against
onnxruntime, onnx's reference evaluator or NumPy in float64.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx.reference import ReferenceEvaluator

import hologram
from hologram.errors import HologramError, UnsupportedOpError
from onnx import TensorProto, helper, numpy_helper

BACKENDS = ("cpu", "reference")
ML = "ai.onnx.ml"
TRAINING = "ai.onnx.preview.training"


def model_of(node, inputs, outputs, domain="", version=1):
    """A one-node model; `inputs` and `outputs` are (name, elem, shape) triples."""
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info(*i) for i in inputs],
        [helper.make_tensor_value_info(*o) for o in outputs],
    )
    opsets = [helper.make_opsetid("", 21)]
    if domain:
        opsets.append(helper.make_opsetid(domain, version))
    return helper.make_model(graph, opset_imports=opsets, ir_version=10)


def run_both(model, feeds, rtol=1e-6, atol=0.0):
    """The cpu backend's outputs, in order; the reference backend must agree."""
    compiled = hologram.compile(model)
    cpu, ref = (hologram.Model(compiled, b).run(feeds) for b in BACKENDS)
    names = [o.name for o in model.graph.output]
    for name in names:
        assert cpu[name].dtype == ref[name].dtype
        np.testing.assert_allclose(cpu[name], ref[name], rtol=rtol, atol=atol)
    return [cpu[name] for name in names]


def check(got, want, rtol, atol=0.0):
    """Every output matches its oracle in dtype, shape and value."""
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64), rtol, atol)


def reference(model, feeds):
    return ReferenceEvaluator(model).run(None, feeds)


def onnxruntime(model, feeds):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


# ------------------------------------------------------------------ optimizers
OPTIMIZERS = {
    "Momentum": (["V"], {"alpha": 0.9, "beta": 0.3, "norm_coefficient": 0.01}),
    "Adagrad": (["H"], {"decay_factor": 0.1, "epsilon": 1e-5, "norm_coefficient": 0.02}),
    "Adam": (
        ["V", "H"],
        {"alpha": 0.8, "beta": 0.9, "epsilon": 1e-4, "norm_coefficient": 0.01,
         "norm_coefficient_post": 0.05},
    ),
}  # fmt: skip


def optimizer_model(op, shapes, elem, **extra):
    states, attrs = OPTIMIZERS[op]
    roles = ["X", "G", *states]
    names = [f"{role}{k}" for role in roles for k in range(len(shapes))]
    outs = [f"{role}{k}_new" for role in ["X", *states] for k in range(len(shapes))]
    node = helper.make_node(op, ["R", "T", *names], outs, domain=TRAINING, **attrs, **extra)
    shape_of = {name: shapes[int(name[-1])] for name in names}
    inputs = [("R", elem, []), ("T", TensorProto.INT64, [])]
    inputs += [(name, elem, shape_of[name]) for name in names]
    outputs = [(name, elem, shapes[int(name.split("_")[0][-1])]) for name in outs]
    return model_of(node, inputs, outputs, TRAINING), names


@pytest.mark.parametrize(
    ("op", "extra"),
    [("Momentum", {"mode": "standard"}), ("Momentum", {"mode": "nesterov"}),
     ("Adagrad", {}), ("Adam", {})],
)  # fmt: skip
def test_optimizer_float64_with_rate_and_step_changing(op, extra) -> None:
    rng = np.random.default_rng(11)
    model, names = optimizer_model(op, [(5, 3)], TensorProto.DOUBLE, **extra)
    compiled = hologram.compile(model)
    for step, rate in ((0, 0.1), (3, 0.05), (7, 0.2)):
        feeds = {"R": np.array(rate), "T": np.array(step, np.int64)}
        feeds |= {n: rng.normal(0, 1, (5, 3)) for n in names}
        if op != "Momentum":  # accumulated squares are never negative
            feeds |= {n: np.abs(v) for n, v in feeds.items() if n.startswith("H")}
        got = [hologram.Model(compiled, b).run(feeds) for b in BACKENDS]
        want = reference(model, feeds)
        for outputs in got:
            # The evaluator rounds some intermediates to float32 (the attributes are float32).
            check([outputs[o.name] for o in model.graph.output], want, 1e-7, 1e-12)


def test_optimizer_several_float32_tensors() -> None:
    rng = np.random.default_rng(12)
    shapes = [(4,), (2, 3), (1,)]
    model, names = optimizer_model("Adam", shapes, TensorProto.FLOAT)
    feeds = {"R": np.array(0.1, np.float32), "T": np.array(4, np.int64)}
    for name in names:
        values = rng.normal(0, 1, shapes[int(name[-1])]).astype(np.float32)
        feeds[name] = np.abs(values) if name.startswith("H") else values
    check(run_both(model, feeds), reference(model, feeds), 1e-5, 1e-6)


def test_optimizer_rejects_mismatched_groups() -> None:
    model, _ = optimizer_model("Adagrad", [(3,)], TensorProto.FLOAT)
    model.graph.node[0].input.append("H0")  # five tensors after R and T: not 3 groups
    with pytest.raises(HologramError, match="groups"):
        hologram.compile(model)


# ------------------------------------------------------------------ ArrayFeatureExtractor
@pytest.mark.parametrize(
    ("x_shape", "index_shape", "dtype"),
    [((2, 3, 5), (2, 2), np.int64), ((6,), (3,), np.float64), ((4, 7), (1, 4), np.int32)],
)
def test_array_feature_extractor(x_shape, index_shape, dtype) -> None:
    rng = np.random.default_rng(13)
    x = rng.integers(-50, 50, x_shape).astype(dtype)
    indices = rng.integers(0, x_shape[-1], index_shape).astype(np.int64)
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    node = helper.make_node("ArrayFeatureExtractor", ["X", "Y"], ["Z"], domain=ML)
    inputs = [("X", elem, x_shape), ("Y", TensorProto.INT64, index_shape)]
    out_shape = (*(x_shape[:-1] or (1,)), int(np.prod(index_shape)))
    model = model_of(node, inputs, [("Z", elem, out_shape)], ML)
    feeds = {"X": x, "Y": indices}
    check(run_both(model, feeds), reference(model, feeds), 0)


def test_array_feature_extractor_rejects_a_known_bad_index() -> None:
    node = helper.make_node("ArrayFeatureExtractor", ["X", "Y"], ["Z"], domain=ML)
    model = model_of(node, [("X", TensorProto.FLOAT, (2, 3))], [("Z", TensorProto.FLOAT, (2, 2))])
    model.opset_import.append(helper.make_opsetid(ML, 1))
    model.graph.initializer.append(helper.make_tensor("Y", TensorProto.INT64, [2], [0, 3]))
    with pytest.raises(HologramError, match="out of range"):
        hologram.compile(model)


# ------------------------------------------------------------------ LabelEncoder
def label_model(x_elem, y_elem, shape, version=2, **attrs):
    node = helper.make_node("LabelEncoder", ["X"], ["Y"], domain=ML, **attrs)
    return model_of(node, [("X", x_elem, shape)], [("Y", y_elem, shape)], ML, version)


def test_label_encoder_floats_to_ints_like_onnxruntime() -> None:
    # A repeated key keeps its first value, NaN matches a NaN key, -0.0 matches 0.0.
    keys = [1.5, float("nan"), 0.0, 1.5, -3.25, 7.0]
    model = label_model(
        TensorProto.FLOAT, TensorProto.INT64, (4, 9), 4,
        keys_floats=keys, values_int64s=[10, 20, 30, 40, 50, 60], default_int64=-7,
    )  # fmt: skip
    rng = np.random.default_rng(14)
    x = rng.choice(np.array([*keys, -0.0, 2.0, np.inf], np.float32), (4, 9))
    check(run_both(model, {"X": x}), onnxruntime(model, {"X": x}), 0)


def test_label_encoder_ints_to_floats_with_default() -> None:
    model = label_model(
        TensorProto.INT64, TensorProto.FLOAT, (25,),
        keys_int64s=[5, -2, 2**40, 9], values_floats=[0.5, 1.5, 2.5, 3.5], default_float=9.0,
    )  # fmt: skip
    x = np.random.default_rng(15).choice(np.array([5, -2, 2**40, 9, 0, 2**40 + 1]), 25)
    check(run_both(model, {"X": x}), onnxruntime(model, {"X": x}), 0)


def test_label_encoder_tensor_attributes() -> None:
    # int32 elements: the key 2**40 cannot be one and never matches.
    keys = helper.make_tensor("k", TensorProto.INT64, [3], [4, 2**40, -1])
    values = helper.make_tensor("v", TensorProto.DOUBLE, [3], [0.25, 0.5, 0.75])
    default = helper.make_tensor("d", TensorProto.DOUBLE, [1], [-2.0])
    model = label_model(
        TensorProto.INT32, TensorProto.DOUBLE, (2, 3), 4,
        keys_tensor=keys, values_tensor=values, default_tensor=default,
    )  # fmt: skip
    x = np.array([[4, 0, -1], [2**30, 4, 7]], np.int32)
    (got,) = run_both(model, {"X": x})
    np.testing.assert_array_equal(got, [[0.25, -2.0, 0.75], [-2.0, 0.25, -2.0]])


def test_label_encoder_strings_are_unsupported() -> None:
    model = label_model(
        TensorProto.INT64, TensorProto.STRING, (3,), keys_int64s=[1], values_strings=["a"]
    )
    with pytest.raises(UnsupportedOpError):
        hologram.compile(model)


# ------------------------------------------------------------------ TfIdfVectorizer
@pytest.mark.parametrize(
    ("mode", "shortest", "longest", "skips", "shape"),
    [("TF", 1, 3, 2, (3, 11)), ("IDF", 2, 2, 1, (17,)), ("TFIDF", 1, 2, 0, (2, 8))],
)
def test_tfidf_vectorizer_like_onnxruntime(mode, shortest, longest, skips, shape) -> None:
    rng = np.random.default_rng(16)
    pool = [1, 2, 3, 4, 1, 2, 2, 3, 3, 1, 4, 2, 4, 4, 1, 2, 3, 3, 2, 1]  # 1-, 2-, 3-grams
    counts = [0, 4, 14]
    grams = 4 + 5 + 2
    indexes = rng.permutation(grams).tolist()
    node = helper.make_node(
        "TfIdfVectorizer", ["X"], ["Y"], mode=mode, min_gram_length=shortest,
        max_gram_length=longest, max_skip_count=skips, ngram_counts=counts,
        ngram_indexes=indexes, pool_int64s=pool, weights=rng.uniform(0.5, 2, grams).tolist(),
    )  # fmt: skip
    model = model_of(
        node, [("X", TensorProto.INT32, shape)], [("Y", TensorProto.FLOAT, (*shape[:-1], grams))]
    )
    x = rng.integers(1, 5, shape).astype(np.int32)
    check(run_both(model, {"X": x}), onnxruntime(model, {"X": x}), 1e-6)


def test_tfidf_vectorizer_rejects_a_repeated_ngram() -> None:
    node = helper.make_node(
        "TfIdfVectorizer", ["X"], ["Y"], mode="TF", min_gram_length=2, max_gram_length=2,
        max_skip_count=0, ngram_counts=[0, 0], ngram_indexes=[0, 1], pool_int64s=[3, 4, 3, 4],
    )  # fmt: skip
    model = model_of(node, [("X", TensorProto.INT64, (5,))], [("Y", TensorProto.FLOAT, (2,))])
    with pytest.raises(HologramError, match="listed twice"):
        hologram.compile(model)


def test_tfidf_vectorizer_strings_are_unsupported() -> None:
    node = helper.make_node(
        "TfIdfVectorizer", ["X"], ["Y"], mode="TF", min_gram_length=1, max_gram_length=1,
        max_skip_count=0, ngram_counts=[0], ngram_indexes=[0], pool_strings=["a"],
    )  # fmt: skip
    model = model_of(node, [("X", TensorProto.STRING, (3,))], [("Y", TensorProto.FLOAT, (1,))])
    with pytest.raises(UnsupportedOpError):
        hologram.compile(model)


# ------------------------------------------------------------------ TreeEnsemble
def random_forest(rng, trees, depth, features, n_targets, elem):
    """TreeEnsemble attributes of `trees` random trees of `depth` levels, every mode used."""
    nodes: dict[str, list] = {k: [] for k in ("feature", "mode", "split", "true", "true_leaf",
                                               "false", "false_leaf", "nan_true")}  # fmt: skip
    leaf_targets, leaf_weights, members, roots = [], [], [], []

    def grow(level):
        if level == depth or (level > 0 and rng.random() < 0.2):
            leaf_targets.append(int(rng.integers(0, n_targets)))
            leaf_weights.append(float(rng.normal()))
            return len(leaf_targets) - 1, 1
        index = len(nodes["mode"])
        mode = int(rng.integers(0, 7))
        for key, value in (("feature", int(rng.integers(0, features))), ("mode", mode),
                           ("split", float(rng.integers(-2, 3))),
                           ("nan_true", int(rng.integers(0, 2)))):  # fmt: skip
            nodes[key].append(value)
        if mode == 6:
            members.extend([*rng.choice(np.arange(-2.0, 3.0), 2, replace=False), np.nan])
        for key in ("true", "true_leaf", "false", "false_leaf"):
            nodes[key].append(0)
        for side in ("true", "false"):
            child, is_leaf = grow(level + 1)
            nodes[side][index], nodes[f"{side}_leaf"][index] = child, is_leaf
        return index, 0

    for _ in range(trees):
        roots.append(grow(0)[0])
    attrs = {
        "nodes_featureids": nodes["feature"],
        "nodes_modes": helper.make_tensor(
            "m", TensorProto.UINT8, [len(nodes["mode"])], nodes["mode"]
        ),
        "nodes_splits": helper.make_tensor("s", elem, [len(nodes["split"])], nodes["split"]),
        "nodes_truenodeids": nodes["true"],
        "nodes_trueleafs": nodes["true_leaf"],
        "nodes_falsenodeids": nodes["false"],
        "nodes_falseleafs": nodes["false_leaf"],
        "nodes_missing_value_tracks_true": nodes["nan_true"],
        "leaf_targetids": leaf_targets,
        "leaf_weights": helper.make_tensor("w", elem, [len(leaf_weights)], leaf_weights),
        "tree_roots": roots,
        "n_targets": n_targets,
    }
    if members:
        attrs["membership_values"] = helper.make_tensor("mv", elem, [len(members)], members)
    return attrs


def tree_model(attrs, elem, shape, **extra):
    node = helper.make_node("TreeEnsemble", ["X"], ["Y"], domain=ML, **attrs, **extra)
    outputs = [("Y", elem, (shape[0], attrs["n_targets"]))]
    return model_of(node, [("X", elem, shape)], outputs, ML, 5)


def tree_inputs(rng, rows, features, dtype):
    x = rng.integers(-3, 4, (rows, features)).astype(dtype)
    x[rng.random(x.shape) < 0.1] = np.nan
    return x


@pytest.mark.parametrize("aggregate", [0, 1, 2, 3])
def test_tree_ensemble_aggregates_like_onnxruntime(aggregate) -> None:
    rng = np.random.default_rng(17 + aggregate)
    attrs = random_forest(rng, trees=6, depth=4, features=3, n_targets=3, elem=TensorProto.FLOAT)
    x = tree_inputs(rng, 40, 3, np.float32)
    model = tree_model(attrs, TensorProto.FLOAT, x.shape, aggregate_function=aggregate)
    check(run_both(model, {"X": x}), onnxruntime(model, {"X": x}), 1e-6, 1e-6)


@pytest.mark.parametrize("elem", [TensorProto.DOUBLE, TensorProto.FLOAT16])
def test_tree_ensemble_other_types(elem) -> None:
    rng = np.random.default_rng(18)
    dtype = helper.tensor_dtype_to_np_dtype(elem)
    attrs = random_forest(rng, trees=4, depth=3, features=2, n_targets=2, elem=elem)
    x = tree_inputs(rng, 30, 2, dtype)
    model = tree_model(attrs, elem, x.shape)
    float_attrs = dict(attrs, nodes_splits=_as_float(attrs["nodes_splits"]),
                       leaf_weights=_as_float(attrs["leaf_weights"]))  # fmt: skip
    if "membership_values" in attrs:
        float_attrs["membership_values"] = _as_float(attrs["membership_values"])
    oracle = tree_model(float_attrs, TensorProto.FLOAT, x.shape)
    (want,) = onnxruntime(oracle, {"X": x.astype(np.float32)})
    rtol = 1e-3 if dtype == np.float16 else 1e-6
    check(run_both(model, {"X": x}, rtol), [want.astype(dtype)], rtol, rtol)


def _as_float(tensor):
    array = numpy_helper.to_array(tensor).astype(np.float32)
    return helper.make_tensor(tensor.name, TensorProto.FLOAT, array.shape, array)


def _softmax(scores, skip_zeros=False):
    largest = scores.max(axis=1, keepdims=True)
    terms = np.exp(scores - largest)
    if skip_zeros:
        terms = np.where(np.abs(scores) <= 1e-7, scores * np.exp(-largest), terms)
    return terms / terms.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("transform", [1, 2, 3, 4])
def test_tree_ensemble_post_transforms(transform) -> None:
    rng = np.random.default_rng(19)
    attrs = random_forest(rng, trees=5, depth=3, features=2, n_targets=4, elem=TensorProto.FLOAT)
    x = tree_inputs(rng, 20, 2, np.float32)
    (raw,) = onnxruntime(tree_model(attrs, TensorProto.FLOAT, x.shape), {"X": x})
    raw = raw.astype(np.float64)
    if transform == 4:  # probit of scores in (0, 1), as onnxruntime approximates it
        attrs["aggregate_function"] = 0
        attrs["leaf_weights"] = helper.make_tensor(
            "w", TensorProto.FLOAT, [len(attrs["leaf_targetids"])],
            rng.uniform(0.05, 0.95, len(attrs["leaf_targetids"])),
        )  # fmt: skip
        (want,) = onnxruntime(
            tree_model(attrs, TensorProto.FLOAT, x.shape, post_transform=4), {"X": x}
        )
    else:
        want = {
            1: _softmax(raw),
            2: 1 / (1 + np.exp(-raw)),
            3: _softmax(raw, skip_zeros=True),
        }[transform].astype(np.float32)
    model = tree_model(attrs, TensorProto.FLOAT, x.shape, post_transform=transform)
    check(run_both(model, {"X": x}), [want], 1e-5, 1e-6)


def test_tree_ensemble_rejects_a_cycle() -> None:
    rng = np.random.default_rng(20)
    attrs = random_forest(rng, trees=1, depth=3, features=2, n_targets=1, elem=TensorProto.FLOAT)
    attrs["nodes_falseleafs"] = [0] * len(attrs["nodes_falseleafs"])
    attrs["nodes_falsenodeids"] = [0] * len(attrs["nodes_falsenodeids"])
    with pytest.raises(HologramError, match="leads back"):
        hologram.compile(tree_model(attrs, TensorProto.FLOAT, (3, 2)))
