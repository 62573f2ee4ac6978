"""A corpus of ISA programs with independent NumPy oracles, shared by every backend's tests.

Each `Case` builds a program, draws its arguments from a seeded generator, names the launch
config and the parameters to compare, and carries an oracle that computes the expected contents
of those parameters from the inputs in float64 (or exact Python integers). `run_case` runs a case
on any backend through the public `Backend` memory API; `assert_outputs_match` compares with the
per-dtype tolerances of `tolerance`.

    for case in CORPUS:
        inputs, outputs = run_case(get_backend("cpu"), case, seed=0)
        assert_outputs_match(case, outputs, case.expected(inputs))
"""

from __future__ import annotations

from programs.case import Case, assert_outputs_match, run_case, tolerance
from programs.compute import COMPUTE_CASES
from programs.flow import FLOW_CASES
from programs.tensor import TENSOR_CASES

CORPUS: list[Case] = [*COMPUTE_CASES, *FLOW_CASES, *TENSOR_CASES]
"""Every corpus case, in a stable order with unique names."""


def case_by_name(name: str) -> Case:
    """The corpus case called `name`."""
    for case in CORPUS:
        if case.name == name:
            return case
    raise KeyError(name)


__all__ = ["CORPUS", "Case", "assert_outputs_match", "case_by_name", "run_case", "tolerance"]
