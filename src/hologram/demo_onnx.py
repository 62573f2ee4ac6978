"""The main demo: build a small ONNX model, compile it to `.holo`, run it on the best backend.

    python -m hologram.demo_onnx [--batch N] [--backend NAME] [--runs R]

The model is a small image classifier built with `onnx.helper` and seeded random weights:
Conv-BatchNorm-Relu, MaxPool, Conv-Relu, GlobalAveragePool, Flatten, Gemm, Softmax, with a
symbolic batch dimension. The demo compiles it (printing the compile report), loads the
artifact on the best backend here, runs a batch, prints the top classes, checks the
probabilities against the `reference` backend (the executable spec of the ISA) and against
NumPy in float64, and prints load time, first-run time and the median of `runs` runs.
Exit status 0 when both checks pass.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

import hologram
from onnx import TensorProto, helper, numpy_helper

CLASSES = 10
TOLERANCE = 1e-4


def build_model(seed: int = 0) -> tuple[object, dict[str, np.ndarray]]:
    """The demo classifier as an ONNX ModelProto, and its weights by name."""
    rng = np.random.default_rng(seed)
    weights = {
        "w1": rng.standard_normal((16, 3, 3, 3)) * 0.3,
        "scale": rng.uniform(0.5, 1.5, 16),
        "shift": rng.standard_normal(16) * 0.1,
        "mean": rng.standard_normal(16) * 0.1,
        "var": rng.uniform(0.5, 1.5, 16),
        "w2": rng.standard_normal((32, 16, 3, 3)) * 0.1,
        "b2": rng.standard_normal(32) * 0.1,
        "fc": rng.standard_normal((CLASSES, 32)) * 0.3,
        "fc_bias": rng.standard_normal(CLASSES),
    }
    weights = {k: v.astype(np.float32) for k, v in weights.items()}
    nodes = [
        helper.make_node("Conv", ["image", "w1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "scale", "shift", "mean", "var"], ["n1"]),
        helper.make_node("Relu", ["n1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "fc", "fc_bias"], ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "demo_classifier",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 32, 32])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", CLASSES])],
        [numpy_helper.from_array(v, k) for k, v in weights.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), weights


def numpy_reference(image: np.ndarray, w: dict[str, np.ndarray]) -> np.ndarray:
    """The classifier in NumPy float64: an independent check of the compiled model."""

    def conv(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
        windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(2, 3))
        return np.einsum("nchwij,kcij->nkhw", windows, kernel)

    x = image.astype(np.float64)
    w = {k: v.astype(np.float64) for k, v in w.items()}
    y = conv(x, w["w1"])
    shape = (1, -1, 1, 1)
    y = (y - w["mean"].reshape(shape)) / np.sqrt(w["var"].reshape(shape) + 1e-5)
    y = np.maximum(y * w["scale"].reshape(shape) + w["shift"].reshape(shape), 0)
    n, c, h, width = y.shape
    y = y.reshape(n, c, h // 2, 2, width // 2, 2).max(axis=(3, 5))
    y = np.maximum(conv(y, w["w2"]) + w["b2"].reshape(shape), 0)
    logits = y.mean(axis=(2, 3)) @ w["fc"].T + w["fc_bias"]
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    console = Console()
    model, weights = build_model()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "demo_classifier.holo"
        compiled = hologram.compile(model, output=path)
        report = compiled.metadata["report"]
        console.print(
            f"[bold]compiled[/bold] {path.name}: {report['nodes_in']} ONNX nodes -> "
            f"{report['nodes_out']} after the passes, {path.stat().st_size:,} bytes"
        )
        hologram.Executor(None if args.backend == "auto" else args.backend)  # import it first
        start = time.perf_counter()
        loaded = hologram.load(path, backend=args.backend)
        load_seconds = time.perf_counter() - start
        reference = hologram.load(path, backend="reference")
        image = np.random.default_rng(1).standard_normal((args.batch, 3, 32, 32))
        image = image.astype(np.float32)
        start = time.perf_counter()
        probabilities = loaded.run({"image": image})["probabilities"]
        first_seconds = time.perf_counter() - start
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            loaded.run({"image": image})
            times.append(time.perf_counter() - start)
        spec = reference.run({"image": image})["probabilities"]
    exact = numpy_reference(image, weights)
    table = Table(title=f"demo classifier on {loaded.backend}, batch {args.batch}")
    for column in ("image", "top class", "probability", "reference backend", "NumPy float64"):
        table.add_column(column, justify="right")
    for row in range(min(args.batch, 8)):
        top = int(np.argmax(probabilities[row]))
        table.add_row(
            str(row),
            str(top),
            f"{probabilities[row, top]:.6f}",
            f"{spec[row, top]:.6f}",
            f"{exact[row, top]:.6f}",
        )
    console.print(table)
    error_spec = float(np.abs(probabilities - spec).max())
    error_exact = float(np.abs(probabilities - exact).max())
    ok = error_spec <= TOLERANCE and error_exact <= TOLERANCE
    verdict = "[green]pass[/green]" if ok else "[red]FAIL[/red]"
    console.print(
        f"check: max |difference| vs the reference backend {error_spec:.2e}, "
        f"vs NumPy float64 {error_exact:.2e} (tolerance {TOLERANCE:g}): {verdict}"
    )
    console.print(
        f"timing: load {load_seconds * 1e3:.2f} ms, first run (plans and compiles "
        f"kernels for this shape) {first_seconds * 1e3:.1f} ms, then median "
        f"{statistics.median(times) * 1e3:.3f} ms over {args.runs} runs"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
