"""The cpu backend's float32 math (exp, log, tanh, sigmoid, pow, erf) against NumPy, one thread.

    python benchmarks/cpu_math.py [--size 1e6] [--repeats 15] [--cpu-time]

Each op runs through its real cpu kernel (`hologram.ops.prepare(...).run()`) into a preallocated
output, on one thread; NumPy writes into a preallocated array too (`np.exp(x, out=y)`; sigmoid
as four in-place passes; erf as the Abramowitz-Stegun polynomial of `hologram.bench`, NumPy
having none). A third column runs the same float32 function of `backends/_cpu_math` in a plain
Numba loop (`for i in range(n): y[i] = f(x[i])`): the kernel's ratio to it is what the
generated lane loop costs or saves. Times are medians of samples taken in turn; ratios are
NumPy time / ours (above 1: ours is faster) and plain loop time / kernel time.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence

import numpy as np
from rich.console import Console
from rich.table import Table

import hologram.ops as hops
from hologram.bench import _np_erf
from hologram.runtime.executor import Executor

DOMAINS = {"log": (0.1, 4.0), "pow": (0.5, 2.0)}
"""Input ranges (default -3..3), as in `benchmarks/ops.py`."""
OPS = ("exp", "log", "tanh", "sigmoid", "pow", "erf")


def _sigmoid(x: np.ndarray, out: np.ndarray) -> None:
    np.negative(x, out=out)
    np.exp(out, out=out)
    out += np.float32(1.0)
    np.reciprocal(out, out=out)


def _numpy_peer(op: str) -> Callable[..., None]:
    """NumPy's fastest way to write `op` of the inputs into the last argument."""
    peers: dict[str, Callable[..., None]] = {
        "exp": lambda x, out: np.exp(x, out=out),
        "log": lambda x, out: np.log(x, out=out),
        "tanh": lambda x, out: np.tanh(x, out=out),
        "sigmoid": _sigmoid,
        "pow": lambda x, y, out: np.power(x, y, out=out),
        "erf": lambda x, out: np.copyto(out, _np_erf(x)),
    }
    return peers[op]


def _plain_loop(op: str) -> Callable[..., None]:
    """The op's `_cpu_math` function in a plain Numba loop over the elements."""
    from numba import njit

    from hologram.backends import _cpu_math as cm

    fn = {
        "exp": cm.exp_f32,
        "log": cm.log_f32,
        "tanh": cm.tanh_f32,
        "sigmoid": cm.sigmoid_f32,
        "erf": cm.erf_f32,
    }.get(op)
    if fn is None:
        pow_f32 = cm.pow_f32

        @njit(nogil=True, error_model="numpy")
        def binary(x, y, out):  # pragma: no cover - compiled
            for i in range(x.size):
                out[i] = pow_f32(x[i], y[i])

        return binary

    @njit(nogil=True, error_model="numpy")
    def unary(x, out):  # pragma: no cover - compiled
        for i in range(x.size):
            out[i] = fn(x[i])

    return unary


def _medians(calls: Sequence[Callable[[], object]], repeats: int, cpu_time: bool) -> list[float]:
    """Median seconds per call of each of `calls`, sampled in turn, ~20 ms a sample."""
    clock = time.thread_time if cpu_time else time.perf_counter
    counts = []
    for call in calls:
        call()  # compiles, faults pages in
        start = time.perf_counter()
        call()
        counts.append(max(1, int(0.02 / max(time.perf_counter() - start, 1e-9))))
    samples: list[list[float]] = [[] for _ in calls]
    for _ in range(repeats):
        for call, count, taken in zip(calls, counts, samples, strict=True):
            start = clock()
            for _ in range(count):
                call()
            taken.append((clock() - start) / count)
    return [statistics.median(taken) for taken in samples]


def measure(op: str, size: int, repeats: int, cpu_time: bool) -> tuple[float, float, float]:
    """(NumPy, kernel, plain loop) seconds per call of `op` on `size` float32 elements."""
    ex = Executor("cpu")
    ex.backend.threads = 1
    rng = np.random.default_rng(size)
    arity = 2 if op == "pow" else 1
    low, high = DOMAINS.get(op, (-3.0, 3.0))
    xs = [rng.uniform(low, high, size).astype(np.float32) for _ in range(arity)]
    out = ex.allocate((size,), "f32")
    prepared = hops.prepare(op, *(ex.from_numpy(x) for x in xs), executor=ex, out=out)
    peer, plain = _numpy_peer(op), _plain_loop(op)
    peer_out, plain_out = np.empty(size, np.float32), np.empty(size, np.float32)
    return tuple(  # type: ignore[return-value]
        _medians(
            [lambda: peer(*xs, peer_out), prepared.run, lambda: plain(*xs, plain_out)],
            repeats,
            cpu_time,
        )
    )


def main() -> int:
    """Parse the flags, measure every op and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=lambda s: int(float(s)), default=10**6)
    parser.add_argument("--repeats", type=int, default=15, help="samples per median")
    parser.add_argument("--ops", default=",".join(OPS), help="comma-separated subset of ops")
    parser.add_argument(
        "--cpu-time", action="store_true", help="time with the thread's CPU clock (busy hosts)"
    )
    args = parser.parse_args()
    table = Table(title=f"float32 math, {args.size:.0e} elements, one thread")
    for column in ("op", "NumPy ms", "kernel ms", "plain loop ms", "NumPy / kernel"):
        table.add_column(column, justify="right")
    table.add_column("plain / kernel", justify="right")
    for op in [name.strip() for name in args.ops.split(",") if name.strip()]:
        numpy_s, kernel_s, plain_s = measure(op, args.size, args.repeats, args.cpu_time)
        table.add_row(
            op,
            f"{numpy_s * 1e3:.3f}",
            f"{kernel_s * 1e3:.3f}",
            f"{plain_s * 1e3:.3f}",
            f"{numpy_s / kernel_s:.2f}",
            f"{plain_s / kernel_s:.2f}",
        )
    Console(width=120).print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
