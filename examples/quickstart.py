"""Quick start: an Executor, a program made with the Builder, and `hologram.ops`.

    python examples/quickstart.py [--backend cpu]

Every result is checked against NumPy computing in float64; the script exits with status 1
if one is off.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence

import numpy as np

import hologram
import hologram.ops as hops
from hologram.isa import Builder, LaunchConfig, Program


def saxpy_program() -> Program:
    """y[i] = a * x[i] + y[i] for every i < n: one lane per element."""
    b = Builder("saxpy")
    a = b.scalar("a", "f32")
    x = b.buffer("x", "f32")
    y = b.buffer("y", "f32", access="readwrite")
    n = b.scalar("n", "u32")
    i = b.global_id()
    with b.if_(b.setp("lt", i, n)):  # the last block may have lanes past the end
        b.stg(y, i, b.fma(a, b.ldg(x, i), b.ldg(y, i)))
    return b.build()


def check(name: str, got: object, expected: np.ndarray, rtol: float = 1e-5) -> bool:
    """Print how far `got` is from `expected` and whether that is within `rtol` of its scale."""
    error = float(np.max(np.abs(np.asarray(got, dtype=np.float64) - expected)))
    ok = error <= rtol * max(1.0, float(np.max(np.abs(expected))))
    print(f"{name:<28} max error {error:.2e}  {'ok' if ok else 'WRONG'}")
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    """Run the three steps on one backend; 0 when every result matches NumPy."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="auto", help="auto, reference, cpu, ...")
    args = parser.parse_args(argv)

    ex = hologram.Executor(args.backend)
    print(f"backend: {ex.backend_name} ({ex.backend.device_name()})")
    rng = np.random.default_rng(2024)
    n = 10_000
    x = rng.standard_normal(n, dtype=np.float32)
    y = rng.standard_normal(n, dtype=np.float32)
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    results = []

    # 1. A program of your own: build it once, launch it on Buffers.
    xb = ex.from_numpy(x)  # on host backends: no copy, the buffer is the array's memory
    yb = ex.from_numpy(y.copy())
    ex.launch(saxpy_program(), LaunchConfig.for_elements(n), args=[2.5, xb, yb, n])
    results.append(check("saxpy (Builder program)", yb.to_numpy(), 2.5 * x64 + y64))

    # 2. The standard ops on Buffers: results stay in the executor's memory as Buffers.
    hidden = hops.gelu(hops.add(xb, ex.from_numpy(y)))
    z = x64 + y64
    gelu = 0.5 * z * (1 + np.vectorize(math.erf)(z / math.sqrt(2)))
    results.append(check("gelu(x + y) (ops on Buffers)", hidden.to_numpy(), gelu))

    # 3. The standard ops on NumPy arrays: NumPy in, NumPy out.
    logits = x.reshape(100, 100)
    probs = hops.softmax(logits, axis=-1, executor=ex)
    e = np.exp(x64.reshape(100, 100) - x64.reshape(100, 100).max(axis=-1, keepdims=True))
    results.append(check("softmax (ops on arrays)", probs, e / e.sum(axis=-1, keepdims=True)))
    product = hops.matmul(logits, logits.T, executor=ex)
    results.append(check("matmul", product, x64.reshape(100, 100) @ x64.reshape(100, 100).T))
    results.append(check("sum", hops.sum(probs, executor=ex), np.float64(100.0)))

    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
