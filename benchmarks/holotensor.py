"""HoloTensor on real trained weights: BitPlane against round-to-nearest quantizers and the
transform encodings at equal bytes, the model's accuracy at each prefix, and throughput.

    python benchmarks/holotensor.py [--hidden 512,512] [--epochs 8] [--repeats 5]

The weights are an MLP trained here on scikit-learn's bundled digits data (NumPy, Adam,
He-normal initialisation). Figures:
- per prefix of BitPlane fragments: bytes as % of float32, relative Frobenius error over the
  model, test accuracy;
- peers at their sizes: int8 per-channel and int4 groups-of-64 round-to-nearest; byte-grouped
  zstd-19 (lossless);
- Spectral, RandomProjection and LowRankDistributed on the largest matrix, at the bytes of
  BitPlane's prefixes (they lose);
- encode and decode MB/s (of float32 input) on the CPU, medians of `--repeats`, with NumPy's
  int8 round-to-nearest measured in the same run as the reference point (ratio = ours / int8);
- a compiled `.holo` of the MLP: `Model.refine()` from quality 0.9 to lossless against a fresh
  lossless `hologram.load` (decoded) of the same file, and a run of the HoloTensor model (which
  takes the refine lock) against the same model stored raw; interleaved, medians of ratios;
- a `HotReloadController` updating one 1024x1024 tensor after every fragment: the total of
  the updates against one decode of all the fragments (interleaved, median of ratios), for
  Gaussian weights (no stage) and heavy-tailed ones with a rank-8 part (both stages).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import zstandard

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "holotensor"))
from digits_mlp import accuracy, digits, train  # noqa: E402

from hologram.holotensor import (  # noqa: E402
    HoloTensorDecoder,
    HoloTensorEncoder,
    HotReloadController,
    encode_tensors,
    relative_error,
)


def int8_per_channel(w: np.ndarray) -> tuple[np.ndarray, int]:
    scale = np.abs(w).max(axis=0, keepdims=True) / 127
    scale[scale == 0] = 1
    return np.round(w / scale) * scale, w.size + 4 * w.shape[1]


def int4_groups(w: np.ndarray) -> tuple[np.ndarray, int]:
    flat = np.zeros(-(-w.size // 64) * 64)
    flat[: w.size] = w.ravel()
    g = flat.reshape(-1, 64)
    s = np.abs(g).max(axis=1, keepdims=True) / 7
    s[s == 0] = 1
    return (np.clip(np.round(g / s), -8, 7) * s).ravel()[: w.size].reshape(w.shape), (
        w.size // 2 + 2 * g.shape[0]
    )


def byte_grouped_zstd(w: np.ndarray) -> int:
    planes = np.ascontiguousarray(w).view(np.uint8).reshape(-1, w.itemsize)
    c = zstandard.ZstdCompressor(level=19)
    return sum(len(c.compress(planes[:, k].tobytes())) for k in range(w.itemsize))


def model_error(ref: dict, approx: dict) -> float:
    num = sum(np.sum((ref[n].astype(np.float64) - approx[n]) ** 2) for n in ref)
    den = sum(np.sum(ref[n].astype(np.float64) ** 2) for n in ref)
    return float(np.sqrt(num / den))


def decode_prefix(encoded, k: int) -> np.ndarray:
    decoder = HoloTensorDecoder(encoded.header)
    for fragment in encoded.fragments[: max(1, min(k, encoded.header.fragments))]:
        decoder.add_fragment(fragment)
    return decoder.reconstruct()


def median_seconds(fn, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hidden", default="512,512")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    hidden = tuple(int(h) for h in args.hidden.split(","))
    weights = train(0, epochs=args.epochs, hidden=hidden)
    _, _, x, y = digits()
    fp32 = sum(w.nbytes for w in weights.values())
    print(f"MLP 64-{'-'.join(map(str, hidden))}-10, {fp32 // 4:,} parameters, "
          f"float32 test accuracy {accuracy(weights, x, y):.4f}\n")  # fmt: skip

    encoded = encode_tensors(weights, "bitplane")
    print("| BitPlane prefix | % of fp32 | rel. error | accuracy |\n| --- | --- | --- | --- |")
    prefixes = []
    for k in range(1, 10):
        approx = {n: decode_prefix(e, k) for n, e in encoded.items()}
        size = sum(e.header.quality.sizes[min(k, e.header.fragments)] for e in encoded.values())
        prefixes.append((k, size))
        print(f"| {k} | {100 * size / fp32:.1f} | {model_error(weights, approx):.4f} | "
              f"{accuracy(approx, x, y):.4f} |")  # fmt: skip

    print("\n| peer | % of fp32 | rel. error | accuracy |\n| --- | --- | --- | --- |")
    mats = [n for n, w in weights.items() if w.ndim == 2]
    for label, quantize in (("int8 per channel", int8_per_channel), ("int4 g64", int4_groups)):
        approx, size = dict(weights), 0
        for n in weights:
            if n in mats:
                approx[n], nbytes = quantize(weights[n])
                size += nbytes
            else:
                size += weights[n].nbytes
        print(f"| {label} | {100 * size / fp32:.1f} | {model_error(weights, approx):.4f} | "
              f"{accuracy(approx, x, y):.4f} |")  # fmt: skip
    lossless = sum(byte_grouped_zstd(w) for w in weights.values())
    full = sum(e.nbytes for e in encoded.values())
    print(f"| byte-grouped zstd-19 (lossless) | {100 * lossless / fp32:.1f} | 0 | exact |")
    print(f"| BitPlane, all fragments (lossless) | {100 * full / fp32:.1f} | 0 | exact |")
    print(f"\nBitPlane full set / byte-grouped zstd: {full / lossless:.3f}x")

    big = max(mats, key=lambda n: weights[n].size)
    w = weights[big]
    print(f"\nTransform encodings on {big} {w.shape} at BitPlane's bytes (8 fragments each):")
    print(
        "| encoding | % of fp32 | rel. error | BitPlane at that size |\n| --- | --- | --- | --- |"
    )
    plane = encoded[big].header.quality
    for name in ("spectral", "random_projection", "low_rank"):
        curve = HoloTensorEncoder(name).with_fragments(8).encode(w).header.quality
        for k in (2, 4):
            share = curve.sizes[k] / w.nbytes
            j = plane.fragments_within(curve.sizes[k])
            print(f"| {name}, {k} fragments | {100 * share:.1f} | {curve.error(k):.3f} | "
                  f"{plane.error(j):.4f} ({j} planes) |")  # fmt: skip

    mb = w.nbytes / 1e6
    encoder = HoloTensorEncoder("bitplane")
    enc = encoder.encode(w)
    t_int8_enc = median_seconds(lambda: int8_per_channel(w), args.repeats)
    print("\n| operation | MB/s (float32 in/out) | time / int8 RTN |\n| --- | --- | --- |")
    for label, fn in (
        ("bitplane encode (9 fragments)", lambda: encoder.encode(w)),
        ("bitplane decode, all fragments", lambda: decode_prefix(enc, 9)),
        ("bitplane decode, 7 planes", lambda: decode_prefix(enc, 7)),
        ("int8 per-channel quantize (peer)", lambda: int8_per_channel(w)),
    ):
        seconds = median_seconds(fn, args.repeats)
        print(f"| {label} | {mb / seconds:.1f} | {seconds / t_int8_enc:.1f} |")
    check = relative_error(w, decode_prefix(enc, 9))
    assert check == 0.0
    refine_section(weights, x, args.repeats)
    hot_reload_section(args.repeats)


def mlp_onnx(weights: dict[str, np.ndarray], batch: int) -> bytes:
    """The MLP as an ONNX model (MatMul, Add, Relu per layer) for a fixed batch."""
    from onnx import TensorProto, helper, numpy_helper

    layers, nodes, current = len(weights) // 2, [], "x"
    for k in range(layers):
        nodes += [helper.make_node("MatMul", [current, f"w{k}"], [f"m{k}"]),
                  helper.make_node("Add", [f"m{k}", f"b{k}"], [f"a{k}"])]  # fmt: skip
        current = f"a{k}"
        if k < layers - 1:
            nodes.append(helper.make_node("Relu", [current], [f"r{k}"]))
            current = f"r{k}"
    graph = helper.make_graph(
        nodes, "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 64])],
        [helper.make_tensor_value_info(current, TensorProto.FLOAT, [batch, 10])],
        [numpy_helper.from_array(v, k) for k, v in weights.items()],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return model.SerializeToString()


def refine_section(weights: dict[str, np.ndarray], x: np.ndarray, repeats: int) -> None:
    """`Model.refine` against a fresh load, and the run lock's cost (see the docstring)."""
    import hologram

    batch = 64
    folder = Path(tempfile.mkdtemp())
    held, plain = folder / "held.holo", folder / "plain.holo"
    hologram.compile(mlp_onnx(weights, batch), output=held, holotensor="bitplane")
    hologram.compile(mlp_onnx(weights, batch), output=plain)
    feed = {"x": x[:batch]}
    refine, fresh = [], []
    for _ in range(max(repeats, 5)):
        draft = hologram.load(held, "cpu", quality=0.9)
        draft.run(feed)  # decoded at 0.9 and its plan bound: what refine starts from
        start = time.perf_counter()
        draft.refine()
        refine.append(time.perf_counter() - start)
        start = time.perf_counter()
        hologram.load(held, "cpu").compiled  # noqa: B018 (decodes every fragment)
        fresh.append(time.perf_counter() - start)
        assert draft.quality.exact
    ratios = [a / b for a, b in zip(refine, fresh, strict=True)]
    print("\n| `.holo` MLP, cpu backend | median ms | ratio |\n| --- | --- | --- |")
    print(f"| refine() from quality 0.9 to lossless | {1e3 * statistics.median(refine):.2f} "
          f"| {statistics.median(ratios):.3f} |")  # fmt: skip
    print(f"| fresh lossless load, decoded (peer) | {1e3 * statistics.median(fresh):.2f} | 1 |")

    models = {"held": hologram.load(held, "cpu"), "plain": hologram.load(plain, "cpu")}
    for model in models.values():
        model.run(feed)
    samples: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(20 * max(repeats, 5)):
        for name, model in models.items():
            start = time.perf_counter()
            for _ in range(50):
                model.run(feed)
            samples[name].append(time.perf_counter() - start)
    ratio = statistics.median(a / b for a, b in zip(samples["held"], samples["plain"], strict=True))
    print(f"| run, HoloTensor model (refine lock) / raw model | "
          f"{1e3 * statistics.median(samples['held']) / 50:.3f} | {ratio:.3f} |")  # fmt: skip


def hot_reload_section(repeats: int) -> None:
    """Per-fragment `HotReloadController` updates against one full decode (see the docstring)."""
    rng = np.random.default_rng(0)
    shape = (1024, 1024)
    gaussian = (rng.standard_normal(shape) * 0.02).astype(np.float32)
    heavy = rng.standard_t(3, shape) * 0.02
    heavy += np.outer(rng.standard_normal(shape[0]), rng.standard_normal(shape[1])) * 0.01
    cases = {
        "Gaussian": (gaussian, {}),
        "heavy-tailed + low rank": (heavy.astype(np.float32), {"low_rank": 8}),
    }
    print("\n| 1024x1024 float32, 9 fragments | stages | updates ms | full decode ms | ratio |")
    print("| --- | --- | --- | --- | --- |")
    for label, (w, options) in cases.items():
        encoded = HoloTensorEncoder("bitplane", **options).encode(w)
        params = encoded.header.params
        stages = f"rank {params['rank']}, rotation {params['rotation']}"

        def per_fragment(encoded=encoded, w=w) -> None:
            model = {"w": np.zeros(w.shape, np.float32)}
            controller = HotReloadController(model)
            decoder = HoloTensorDecoder(encoded.header)
            for fragment in encoded.fragments:
                decoder.add_fragment(fragment)
                controller.update("w", decoder)
            assert model["w"].tobytes() == w.tobytes()

        updates, full = [], []
        for _ in range(max(repeats, 5)):
            updates.append(median_seconds(per_fragment, 1))
            full.append(median_seconds(lambda e=encoded: decode_prefix(e, 9), 1))
        ratio = statistics.median(a / b for a, b in zip(updates, full, strict=True))
        print(f"| {label} | {stages} | {1e3 * statistics.median(updates):.1f} | "
              f"{1e3 * statistics.median(full):.1f} | {ratio:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
