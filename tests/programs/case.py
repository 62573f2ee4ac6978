"""The corpus `Case`, running a case on any backend, and comparing with its oracle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hologram.backends.base import Backend
from hologram.isa import DType, LaunchConfig, ParamKind, Program


@dataclass(frozen=True)
class Case:
    """One corpus program: how to build it, feed it, launch it and what it must produce."""

    name: str
    build: Callable[[], Program]
    make_args: Callable[[np.random.Generator], list]
    config: LaunchConfig
    outputs: list[int]
    expected: Callable[[list], list[np.ndarray]]
    rtol: float | None = None
    atol: float | None = None

    def __repr__(self) -> str:
        return f"Case({self.name!r})"


_FLOAT_TOLERANCE = {
    DType.F16: (4e-3, 1e-3),
    DType.BF16: (3e-2, 1e-2),
    DType.F32: (2e-5, 1e-6),
    DType.F64: (1e-12, 1e-13),
}


def tolerance(dtype: DType) -> tuple[float, float]:
    """(rtol, atol) for comparing a backend's `dtype` results with a float64 oracle."""
    return _FLOAT_TOLERANCE.get(dtype, (0.0, 0.0))


def assert_outputs_match(case: Case, got: list[np.ndarray], want: list[np.ndarray]) -> None:
    """Assert that each output of `case` matches the oracle (exactly for integers and bool)."""
    program = case.build()
    assert len(got) == len(want) == len(case.outputs)
    for index, actual, expected in zip(case.outputs, got, want, strict=True):
        dtype = program.params[index].dtype
        actual = np.asarray(actual)
        expected = np.asarray(expected)
        where = f"{case.name}: parameter {program.params[index].name!r}"
        assert actual.shape == expected.shape, f"{where}: shape {actual.shape} != {expected.shape}"
        if dtype.is_float:
            rtol, atol = tolerance(dtype)
            rtol = case.rtol if case.rtol is not None else rtol
            atol = case.atol if case.atol is not None else atol
            np.testing.assert_allclose(
                actual.astype(np.float64),
                expected.astype(np.float64),
                rtol=rtol,
                atol=atol,
                equal_nan=True,
                err_msg=where,
            )
        else:
            np.testing.assert_array_equal(actual, expected.astype(dtype.numpy), err_msg=where)


def run_case(backend: Backend, case: Case, seed: int = 0) -> tuple[list, list[np.ndarray]]:
    """Run `case` on `backend`; return (the inputs as drawn, the output parameters' contents)."""
    program = case.build()
    args = case.make_args(np.random.default_rng(seed))
    inputs = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    native: list = []
    handles: dict[int, tuple[object, np.ndarray]] = {}
    for index, (param, arg) in enumerate(zip(program.params, args, strict=True)):
        if param.kind is ParamKind.SCALAR:
            native.append(arg)
            continue
        data = np.ascontiguousarray(arg, dtype=param.dtype.numpy)
        if param.kind is ParamKind.POOL:
            handle = backend.allocate_pool(data.nbytes)
            backend.copy_to_pool(handle, data)
            native.append(handle)
        else:
            handle = backend.allocate(data.nbytes)
            backend.copy_in(handle, data)
            native.append(backend.view(handle, 0, data.size, param.dtype))
        handles[index] = (handle, data)
    backend.launch(program, case.config, native)
    backend.synchronize()
    outputs = []
    for index in case.outputs:
        handle, data = handles[index]
        raw = backend.copy_out(handle, data.nbytes)
        outputs.append(raw.view(data.dtype).copy())
    for index, (handle, _) in handles.items():
        if program.params[index].kind is ParamKind.POOL:
            backend.free_pool(handle)
        else:
            backend.free(handle)
    return inputs, outputs
