"""Run onnx's backend node tests through hologram and print what passes, by op.

    python tests/onnx/node_status.py [PATTERN ...] [--failures] [--jobs N]

A development tool (the test suite runs the same cases through `onnx.backend.test.BackendTest`
in `test_node_conformance.py`): it reports each case as pass, fail (wrong values), unsupported
(UnsupportedOpError) or error, and the counts per op.
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
import traceback
import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np


def _cases(patterns: list[str]):
    from onnx.backend.test.loader import load_model_tests

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = load_model_tests(kind="node")
    if patterns:
        cases = [c for c in cases if any(re.search(p, c.name) for p in patterns)]
    return cases


def run_case(name: str) -> tuple[str, str, str]:
    """(name, status, message) of one node test."""
    import hologram.onnx.backend as backend
    from hologram.errors import UnsupportedOpError

    case = next(c for c in _cases([f"^{re.escape(name)}$"]))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rep = backend.prepare(case.model, "CPU")
            for inputs, expected in case.data_sets:
                # Some cases hold TensorProtos (float8, 4-bit); onnx's runner reads them too.
                inputs = [_array(item) for item in inputs]
                expected = [_array(item) for item in expected]
                outputs = rep.run(inputs)
                if len(outputs) != len(expected):
                    return name, "fail", f"{len(outputs)} outputs, expected {len(expected)}"
                for got, want in zip(outputs, expected, strict=True):
                    _compare(got, want, case.rtol, case.atol)
    except UnsupportedOpError as exc:
        return name, "unsupported", str(exc)[:300]
    except AssertionError as exc:
        return name, "fail", str(exc)[:300]
    except Exception as exc:
        tail = traceback.format_exc().strip().splitlines()[-3:]
        return name, "error", f"{type(exc).__name__}: {exc}"[:300] + " | " + " / ".join(tail)[:300]
    return name, "pass", ""


def _array(item):
    """A case's value as onnx's runner gives it to a backend (TensorProtos read)."""
    import onnx
    from onnx import numpy_helper

    return numpy_helper.to_array(item) if isinstance(item, onnx.TensorProto) else item


def _compare(got, want, rtol: float, atol: float) -> None:
    if isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"sequence {got!r} vs {want!r}"
        for g, w in zip(got, want, strict=True):
            _compare(g, w, rtol, atol)
        return
    if want is None:
        assert got is None, "expected an empty optional"
        return
    got = np.asarray(got)
    want = np.asarray(want)
    assert got.dtype == want.dtype, f"dtype {got.dtype} vs {want.dtype}"
    assert got.shape == want.shape, f"shape {got.shape} vs {want.shape}"
    if want.dtype.kind in "OUS":
        assert got.tolist() == want.tolist(), "strings differ"
        return
    np.testing.assert_allclose(
        got.astype(np.float64) if want.dtype.kind != "b" else got,
        want.astype(np.float64) if want.dtype.kind != "b" else want,
        rtol=rtol,
        atol=atol,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("patterns", nargs="*")
    parser.add_argument("--failures", action="store_true", help="print every non-passing case")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    names = [c.name for c in _cases(args.patterns)]
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(run_case, names, chunksize=4))
    counts = collections.Counter(status for _, status, _ in results)
    if args.failures:
        for name, status, message in results:
            if status != "pass":
                print(f"{status:12s} {name}: {message}")
    print(f"\n{len(results)} cases: " + ", ".join(f"{k} {v}" for k, v in counts.most_common()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
