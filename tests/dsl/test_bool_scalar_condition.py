"""Bool values used as conditions: scalar parameters, locals, loads of bool arrays, func
arguments and `and`/`or`/`not` of them, in `if`, `while`, `a if c else b` and `hg.select`.

A bool scalar parameter is a value operand, not a predicate register; every condition must
still verify and give the same result on every backend.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from dsl_helpers import launch

import hologram as hg

N = 37


@hg.kernel
def flag_guard(x: hg.Array[hg.float32], flag: hg.bool_):
    """The brief's case: a bare bool parameter as the `if` condition."""
    if flag:
        x[0] = 1.0


@hg.kernel
def flag_mix(
    mask: hg.Array[hg.bool_],
    out: hg.Array[hg.int32],
    flag: hg.bool_,
    other: hg.bool_,
    n: hg.int32,
):
    """Every kind of bool condition, one result column each (8 per item)."""
    i = hg.global_id()
    if i < n:
        m = mask[i]
        local = flag
        row = i * 8
        out[row] = 1 if flag and m else 0
        out[row + 1] = hg.select(flag or m, 1, 0)
        if not flag:
            out[row + 2] = 1
        else:
            out[row + 2] = 0
        if local:
            out[row + 3] = 1
        if m:
            out[row + 4] = 1
        if not (m or other):
            out[row + 5] = 1
        out[row + 6] = bool_condition_count(flag, m)
        steps = 0
        keep = flag
        while keep:
            steps += 1
            keep = steps < 3 and other
        out[row + 7] = steps


@hg.func
def bool_condition_count(a, b):
    """1 for each of two bools that holds (a func taking a bool parameter)."""
    count = 0
    if a:
        count += 1
    if b:
        count += 1
    return count


def _expected(mask: np.ndarray, flag: bool, other: bool) -> np.ndarray:
    steps = 0
    if flag:
        steps = 1
        while steps < 3 and other:
            steps += 1
    expected = np.zeros((mask.size, 8), np.int32)
    for i, m in enumerate(mask.tolist()):
        expected[i] = [
            flag and m,
            flag or m,
            not flag,
            flag,
            m,
            not (m or other),
            int(flag) + int(m),
            steps,
        ]
    return expected


@pytest.mark.parametrize("flag", [True, False])
def test_bool_parameter_as_if_condition(executor: Any, flag: bool) -> None:
    x = np.zeros(2, np.float32)
    flag_guard[1, 1](x, flag, executor=executor)
    assert x.tolist() == ([1.0, 0.0] if flag else [0.0, 0.0])


@pytest.mark.parametrize(("flag", "other"), [(True, True), (True, False), (False, True)])
def test_bool_conditions_of_every_kind(
    executor: Any, rng: np.random.Generator, flag: bool, other: bool
) -> None:
    mask = rng.integers(0, 2, N).astype(bool)
    out = np.zeros(N * 8, np.int32)
    launch(executor, flag_mix, N, mask, out, flag, other, N)
    np.testing.assert_array_equal(out.reshape(N, 8), _expected(mask, flag, other))


def test_bool_parameter_condition_reads_a_predicate() -> None:
    program = flag_guard.specialize()
    conditions = [ins.srcs[0] for ins in program.instructions if ins.op.value == "if"]
    assert len(conditions) == 1
    assert type(conditions[0]).__name__ == "Pred"
