"""Random expressions, compiled and run by CPython: the kernel must compute what Python does.

Each seed writes a module of `@hg.func` helpers `f0 ... f{N-1}`, each returning one random
expression of `a`, `b` and `c` (operators, comparisons, `and`/`or`, ternaries, `min`, `max`,
`abs`, floor division and remainders with non-zero divisors, shifts), and a kernel storing
each one for every lane. The oracle is each helper's Python function, `f.fn(a, b, c)`.

Float literals are multiples of 1/4, exact in float32: a float literal that meets an integer
is float32 in kernels but float64 in Python, a difference this test is not about.
"""

from __future__ import annotations

import importlib.util
import random

import numpy as np
import pytest

import hologram as hg

EXPRESSIONS = 16
LANES = 24


def expression(rng: random.Random, depth: int, ints: bool) -> str:
    """A random expression of a, b and c."""
    if depth == 0 or rng.random() < 0.2:
        if rng.random() < 0.6:
            return rng.choice("abc")
        return f"({rng.randint(-6, 6)})" if ints else f"({rng.randint(-16, 16) / 4})"
    x, y, z = (expression(rng, depth - 1, ints) for _ in range(3))
    forms = [f"({x} + {y})", f"({x} - {y})", f"({x} * {y})", f"min({x}, {y})", f"max({x}, {y})",
             f"abs({x})", f"(-{x})", f"({x} // ({y} if {y} != 0 else 1))",
             f"({x} % ({y} if {y} != 0 else 1))", f"({x} if {z} > {y} else {y})",
             f"({x} {rng.choice(['<', '<=', '>', '>=', '==', '!='])} {y})",
             f"int(({x} > {y}) {rng.choice(['and', 'or'])} ({z} < 0))"]  # fmt: skip
    if ints:
        forms += [f"({x} & {y})", f"({x} | {y})", f"({x} ^ {y})", f"(~({x} + 0))",
                  f"({x} << ({y} & 3))", f"({x} >> ({y} & 3))"]  # fmt: skip
    return rng.choice(forms)


def module_source(seed: int, ints: bool) -> str:
    rng = random.Random(seed)
    dtype = "int64" if ints else "float64"
    lines = ["import hologram as hg", ""]
    for k in range(EXPRESSIONS):
        lines += ["", "@hg.func", f"def f{k}(a, b, c):", f"    return {expression(rng, 3, ints)}"]
    lines += ["", "", "@hg.kernel",
              f"def k(a: hg.Array[hg.{dtype}], b: hg.Array[hg.{dtype}], "
              f"c: hg.Array[hg.{dtype}], out: hg.Array[hg.{dtype}], n: hg.int32):",
              "    i = hg.global_id()", "    if i < n:"]  # fmt: skip
    lines += [f"        out[{k} * n + i] = f{k}(a[i], b[i], c[i])" for k in range(EXPRESSIONS)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("seed", "ints"), [(seed, seed % 2 == 1) for seed in range(1, 7)])
def test_random_expressions_compute_what_python_computes(tmp_path, seed, ints):
    path = tmp_path / f"random_{seed}.py"
    path.write_text(module_source(seed, ints))
    spec = importlib.util.spec_from_file_location(f"random_expressions_{seed}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rng = np.random.default_rng(seed)
    if ints:
        a, b, c = (rng.integers(-20, 21, LANES) for _ in range(3))
    else:
        a, b, c = (np.round(rng.uniform(-5, 5, LANES), 1) for _ in range(3))
    out = np.zeros(EXPRESSIONS * LANES, a.dtype)
    module.k[1, 32](a, b, c, out, LANES, executor=hg.Executor(backend="reference"))
    for k in range(EXPRESSIONS):
        func = getattr(module, f"f{k}")
        source = path.read_text().splitlines()[4 * k + 5].strip()
        for i in range(LANES):
            args = (a[i].item(), b[i].item(), c[i].item())
            expected, got = func.fn(*args), out[k * LANES + i].item()
            if ints:
                assert got == expected, f"{source} at {args}: {got}, expected {expected}"
            else:
                assert got == pytest.approx(float(expected), rel=1e-12, abs=1e-12, nan_ok=True), (
                    f"{source} at {args}: {got}, expected {expected}"
                )
