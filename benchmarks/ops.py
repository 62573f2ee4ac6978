"""hologram.ops against NumPy, per op and size: GB/s, ratios, PASS/FAIL against the targets.

    python benchmarks/ops.py --sizes 1e3,1e6,1e7 --ops add,exp,chain,matmul --repeats 11

Targets (from 1e6 elements, cpu backend): single elementwise ops >= 1.0x NumPy, the fused chain
of four ops >= 2x, matmul and gemm within 1.1x of numpy.matmul. See `hologram.bench`.
"""

from __future__ import annotations

import argparse

from rich.console import Console

from hologram.bench import OPS, render_table, run_ops_benchmark


def _sizes(text: str) -> list[int]:
    return [int(float(s)) for s in text.split(",") if s.strip()]


def _names(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def main() -> int:
    """Parse the flags, run the benchmark and print its table; 1 if any target failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=_sizes("1e3,1e4,1e5,1e6,1e7,1e8"),
        help="comma-separated element counts (default 1e3,...,1e8)",
    )
    parser.add_argument(
        "--ops",
        type=_names,
        default=None,
        help=f"comma-separated ops (default all: {','.join(OPS)})",
    )
    parser.add_argument(
        "--backends", type=_names, default=["cpu"], help="comma-separated backends (default cpu)"
    )
    parser.add_argument(
        "--repeats", type=int, default=11, help="samples per median, taken in turn (default 11)"
    )
    args = parser.parse_args()
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)  # a pipe or a log file: never squeeze the table
    with console.status("measuring") as status:
        rows = run_ops_benchmark(
            args.backends, args.sizes, args.ops, args.repeats,
            progress=lambda line: status.update(f"measuring {line}"),
        )  # fmt: skip
    console.print(render_table(rows))
    failed = [row for row in rows if row.passed is False]
    passed = [row for row in rows if row.passed]
    console.print(f"targets: {len(passed)} PASS, {len(failed)} FAIL")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
