"""Attention, resampling and signal ops beyond the ONNX node tests: bigger random shapes,
grouped heads with a KV cache and every extra output, half precision, integer images,
antialiased and cropped resizing, 3-D grids, data-dependent regions and box counts,
transforms of uneven lengths, recurrent attention and stateful convolution, and malformed
nodes.

Every model runs on the cpu and the reference backends, which must agree; the oracles are
onnx's reference evaluator, onnxruntime and NumPy in float64.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx.reference import ReferenceEvaluator

import hologram
from hologram.errors import ModelError
from onnx import TensorProto, helper

BACKENDS = ("cpu", "reference")


def node_model(op, feeds, n_outputs=1, opset=23, domain="", outputs=None, **attrs):
    """A one-node model of `op` over graph inputs `feeds` (name -> array; a name starting
    with "_" is an omitted input). `outputs` are arrays giving each output's element type
    and rank; without them, onnx's reference evaluator runs the node once to find them."""
    inputs = [
        helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
        for n, a in feeds.items()
        if not n.startswith("_")
    ]
    names = ["" if n.startswith("_") else n for n in feeds]
    results = [f"y{i}" for i in range(n_outputs)]
    node = helper.make_node(op, names, results, domain=domain, **attrs)
    imports = [helper.make_opsetid("", opset)]
    if domain:
        imports.append(helper.make_opsetid(domain, 1))
    if outputs is None:
        typeless = [helper.make_value_info(r, helper.TypeProto()) for r in results]
        probe = helper.make_model(
            helper.make_graph([node], "g", inputs, typeless), opset_imports=imports
        )
        given = {n: a for n, a in feeds.items() if not n.startswith("_")}
        outputs = ReferenceEvaluator(probe).run(None, given)
    outs = [
        helper.make_tensor_value_info(
            r, helper.np_dtype_to_tensor_dtype(o.dtype), [f"{r}_{k}" for k in range(o.ndim)]
        )
        for r, o in zip(results, outputs, strict=True)
    ]
    graph = helper.make_graph([node], "g", inputs, outs)
    return helper.make_model(graph, opset_imports=imports, ir_version=10)


def run(model, feeds, rtol=1e-5, atol=1e-6):
    """The outputs (a list) on the cpu backend; the reference backend must agree."""
    feeds = {n: a for n, a in feeds.items() if not n.startswith("_")}
    compiled = hologram.compile(model)
    cpu, ref = (list(hologram.Model(compiled, b).run(feeds).values()) for b in BACKENDS)
    for got, want in zip(cpu, ref, strict=True):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol, atol)
    return cpu


def check(op, feeds, n_outputs=1, rtol=1e-4, atol=1e-5, engine="reference", **kw):
    """`op` on both backends against onnx's reference evaluator (or onnxruntime)."""
    model = node_model(op, feeds, n_outputs, **kw)
    given = {n: a for n, a in feeds.items() if not n.startswith("_")}
    if engine == "ort":
        session = ort.InferenceSession(
            model.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        expected = session.run(None, given)
    else:
        expected = ReferenceEvaluator(model).run(None, given)
    got = run(model, feeds, rtol, atol)
    for mine, want in zip(got, expected, strict=True):
        assert mine.dtype == want.dtype and mine.shape == want.shape
        np.testing.assert_allclose(mine.astype(np.float64), want.astype(np.float64), rtol, atol)
    return got


def normal(rng, shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


# ---------------------------------------------------------------- attention


def test_attention_gqa_cache_mask_and_all_outputs():
    """Grouped heads, a past cache, a broadcast float mask shorter than the keys, causal,
    softcap and the biased scores as the fourth output."""
    rng = np.random.default_rng(1)
    feeds = {
        "q": normal(rng, (2, 6, 5, 16)),
        "k": normal(rng, (2, 2, 5, 16)),
        "v": normal(rng, (2, 2, 5, 12)),
        "mask": normal(rng, (1, 5, 9)),
        "past_k": normal(rng, (2, 2, 7, 16)),
        "past_v": normal(rng, (2, 2, 7, 12)),
    }
    check("Attention", feeds, 4, is_causal=1, softcap=3.0, qk_matmul_output_mode=2)


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_attention_3d_bool_mask(dtype):
    """3-D inputs with multi-query heads and a boolean mask, in half and double precision
    (probabilities as the fourth output)."""
    rng = np.random.default_rng(2)
    feeds = {
        "q": normal(rng, (2, 7, 4 * 8), dtype),
        "k": normal(rng, (2, 9, 8), dtype),
        "v": normal(rng, (2, 9, 6), dtype),
        "mask": rng.random((2, 1, 7, 9)) > 0.3,
    }
    tol = 2e-3 if dtype == np.float16 else 1e-10
    check("Attention", feeds, 4, tol, tol, q_num_heads=4, kv_num_heads=1, qk_matmul_output_mode=3)


def test_attention_padding_lengths_and_window():
    """An external cache with per-batch lengths (opset 24) and a sliding window (25)."""
    rng = np.random.default_rng(3)
    feeds = {
        "q": normal(rng, (3, 2, 4, 8)),
        "k": normal(rng, (3, 2, 10, 8)),
        "v": normal(rng, (3, 2, 10, 8)),
        "_mask": None,
        "_past_k": None,
        "_past_v": None,
        "lengths": np.array([10, 6, 3], np.int64),
    }
    check("Attention", feeds, 1, opset=25, is_causal=1, left_window_size=3)


def test_attention_rejects_uneven_heads():
    rng = np.random.default_rng(4)
    feeds = {"q": normal(rng, (1, 3, 2, 4)), "k": normal(rng, (1, 2, 2, 4))}
    feeds["v"] = feeds["k"]
    with pytest.raises(ModelError, match="multiple"):
        hologram.compile(node_model("Attention", feeds, outputs=[feeds["q"]]))


def test_flex_attention_grouped_with_score_graph():
    """FlexAttention with grouped heads and a score_mod graph adding a bias."""
    rng = np.random.default_rng(5)
    bias = helper.make_tensor("bias", TensorProto.FLOAT, [], [0.25])
    score_mod = helper.make_graph(
        [helper.make_node("Add", ["s", "bias"], ["t"])],
        "score_mod",
        [helper.make_tensor_value_info("s", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("t", TensorProto.FLOAT, None)],
        [bias],
    )
    feeds = {
        "q": normal(rng, (1, 4, 6, 8)),
        "k": normal(rng, (1, 2, 5, 8)),
        "v": normal(rng, (1, 2, 5, 4)),
    }
    check("FlexAttention", feeds, opset=26, domain="ai.onnx.preview", score_mod=score_mod)


def test_linear_attention_gated_delta_with_past():
    rng = np.random.default_rng(6)
    feeds = {
        "q": normal(rng, (2, 5, 4 * 6)),
        "k": normal(rng, (2, 5, 2 * 6)) * 0.3,
        "v": normal(rng, (2, 5, 2 * 3)),
        "past": normal(rng, (2, 2, 6, 3)),
        "decay": -rng.random((2, 5, 2)).astype(np.float32),
        "beta": rng.random((2, 5, 2)).astype(np.float32),
    }
    check("LinearAttention", feeds, 2, opset=27, q_num_heads=4, kv_num_heads=2)


def test_causal_conv_with_state_silu():
    rng = np.random.default_rng(7)
    feeds = {
        "x": normal(rng, (2, 3, 11)),
        "w": normal(rng, (3, 1, 4)),
        "b": normal(rng, (3,)),
        "past": normal(rng, (2, 3, 3)),
    }
    check("CausalConvWithState", feeds, 2, opset=27, activation="silu")


def test_rotary_embedding_3d_interleaved_partial():
    rng = np.random.default_rng(8)
    feeds = {
        "x": normal(rng, (2, 5, 3 * 12)),
        "cos": normal(rng, (20, 4)),
        "sin": normal(rng, (20, 4)),
        "pos": rng.integers(0, 20, (2, 5)).astype(np.int64),
    }
    check("RotaryEmbedding", feeds, num_heads=3, interleaved=1, rotary_embedding_dim=8)


# ---------------------------------------------------------------- resampling


@pytest.mark.parametrize(
    ("mode", "attrs"),
    [
        ("linear", {"antialias": 1}),
        ("cubic", {"exclude_outside": 1, "cubic_coeff_a": -0.5}),
        ("nearest", {"coordinate_transformation_mode": "asymmetric", "nearest_mode": "ceil"}),
    ],
)
def test_resize_random_scales(mode, attrs):
    rng = np.random.default_rng(9)
    feeds = {
        "x": normal(rng, (2, 3, 9, 14)),
        "_roi": None,
        "scales": np.array([1, 1, 0.6, 1.7], np.float32),
    }
    check("Resize", feeds, opset=19, mode=mode, **attrs)


def test_resize_opset_11_tf_half_pixel_for_nn():
    """Opset 11's roi input (empty here) and its nearest-neighbour transformation."""
    rng = np.random.default_rng(18)
    feeds = {
        "x": normal(rng, (1, 2, 5, 4)),
        "roi": np.zeros(0, np.float32),
        "scales": np.array([1, 1, 2.5, 0.75], np.float32),
    }
    check(
        "Resize", feeds, opset=11, engine="ort", outputs=[np.zeros((1, 2, 12, 3), np.float32)],
        mode="nearest", coordinate_transformation_mode="tf_half_pixel_for_nn",
    )  # fmt: skip


def test_resize_uint8_rounds_and_saturates():
    """Integer images are interpolated, rounded half to even and saturated (cubic
    overshoots past 255)."""
    rng = np.random.default_rng(10)
    feeds = {
        "x": rng.integers(0, 256, (1, 1, 6, 7)).astype(np.uint8),
        "_roi": None,
        "_scales": None,
        "sizes": np.array([1, 1, 13, 5], np.int64),
    }
    check("Resize", feeds, opset=19, rtol=0, atol=0, mode="cubic")


def test_resize_crop_with_axes_half_precision():
    rng = np.random.default_rng(11)
    feeds = {
        "x": normal(rng, (1, 2, 8, 8), np.float16),
        "roi": np.array([0.1, -0.2, 0.9, 1.1], np.float32),
        "_scales": None,
        "sizes": np.array([5, 7], np.int64),
    }
    check(
        "Resize", feeds, opset=19, rtol=2e-3, atol=2e-3, mode="linear", axes=[3, 2],
        coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=-1.0,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("mode", "padding", "shape"),
    [("cubic", "reflection", (2, 3, 5, 6)), ("linear", "border", (1, 2, 4, 3, 5))],
)
def test_grid_sample_random(mode, padding, shape):
    rng = np.random.default_rng(12)
    rank = len(shape) - 2
    grid = rng.uniform(-1.3, 1.3, (shape[0], *(range(4, 4 + rank)), rank)).astype(np.float32)
    feeds = {"x": normal(rng, shape), "grid": grid}
    check("GridSample", feeds, opset=22, mode=mode, padding_mode=padding, align_corners=0)


def test_affine_grid_feeds_grid_sample():
    """AffineGrid's grid of a rotation, then GridSample at it (against onnxruntime)."""
    rng = np.random.default_rng(13)
    angle = 0.3
    theta = np.array(
        [[[np.cos(angle), -np.sin(angle), 0.1], [np.sin(angle), np.cos(angle), -0.2]]],
        np.float32,
    )
    feeds = {"theta": theta, "size": np.array([1, 2, 7, 9], np.int64)}
    grid = check("AffineGrid", feeds, opset=20, engine="ort", align_corners=1)[0]
    sample = {"x": normal(rng, (1, 2, 6, 6)), "grid": grid}
    check("GridSample", sample, opset=20, engine="ort", rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mode", ["avg", "max"])
def test_roi_align_adaptive_sampling(mode):
    """sampling_ratio 0: each region picks its own number of samples."""
    rng = np.random.default_rng(14)
    corners = rng.uniform(0, 12, (5, 2, 2)).astype(np.float32)
    rois = np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1)
    feeds = {
        "x": normal(rng, (2, 3, 12, 12)),
        "rois": rois,
        "batch": rng.integers(0, 2, 5).astype(np.int64),
    }
    check(
        "RoiAlign", feeds, opset=16, mode=mode, output_height=3, output_width=4,
        sampling_ratio=0, spatial_scale=0.9,
    )  # fmt: skip


def test_non_max_suppression_random_boxes():
    rng = np.random.default_rng(15)
    centre = rng.uniform(0, 10, (2, 30, 2))
    size = rng.uniform(1, 4, (2, 30, 2))
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=2).astype(np.float32)
    feeds = {
        "boxes": boxes,
        "scores": rng.random((2, 3, 30)).astype(np.float32),
        "limit": np.array([6], np.int64),
        "iou": np.array([0.3], np.float32),
        "floor": np.array([0.2], np.float32),
    }
    check("NonMaxSuppression", feeds, opset=11, engine="ort", rtol=0, atol=0)


# ---------------------------------------------------------------- signal


def _complex(x):
    return x[..., 0] + 1j * x[..., 1] if x.shape[-1] == 2 else x[..., 0]


@pytest.mark.parametrize(
    ("shape", "axis", "length", "inverse", "onesided"),
    [
        ((2, 11, 3, 1), 1, 16, 0, 1),
        ((3, 7, 2), 1, None, 1, 0),
        ((2, 3, 9, 2), 2, 14, 1, 1),
    ],
)
def test_dft_against_numpy(shape, axis, length, inverse, onesided):
    rng = np.random.default_rng(16)
    x = normal(rng, shape)
    feeds = {"x": x}
    if length is not None:
        feeds["length"] = np.array(length, np.int64)
    else:
        feeds["_length"] = None
    feeds["axis"] = np.array(axis, np.int64)
    model = node_model("DFT", feeds, opset=20, inverse=inverse, onesided=onesided)
    got = run(model, feeds)[0]
    signal = _complex(x.astype(np.float64))
    if not inverse:
        want = (np.fft.rfft if onesided else np.fft.fft)(signal, n=length, axis=axis)
    elif onesided:
        want = np.fft.irfft(signal, n=length, axis=axis)[..., None]
    else:
        want = np.fft.ifft(signal, n=length, axis=axis)
    if want.dtype.kind == "c":
        want = np.stack([want.real, want.imag], axis=-1)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_stft_with_window_against_numpy():
    rng = np.random.default_rng(17)
    signal = normal(rng, (2, 50, 1))
    window = np.hanning(12).astype(np.float32)
    feeds = {"signal": signal, "step": np.array(5, np.int64), "window": window}
    got = run(node_model("STFT", feeds, opset=17), feeds)[0]
    frames = np.stack([signal[:, f * 5 : f * 5 + 12, 0] for f in range(1 + (50 - 12) // 5)], 1)
    want = np.fft.rfft(frames.astype(np.float64) * window, axis=-1)
    np.testing.assert_allclose(got, np.stack([want.real, want.imag], -1), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("op", ["HannWindow", "HammingWindow", "BlackmanWindow"])
def test_windows_in_double(op):
    feeds = {"size": np.array(33, np.int32)}
    check(op, feeds, opset=17, rtol=1e-12, atol=1e-12, output_datatype=TensorProto.DOUBLE)


def test_mel_weight_matrix_larger():
    feeds = {
        "bins": np.array(20, np.int64),
        "length": np.array(256, np.int64),
        "rate": np.array(16000, np.int64),
        "low": np.array(20.0, np.float32),
        "high": np.array(7600.0, np.float32),
    }
    check("MelWeightMatrix", feeds, opset=17)
