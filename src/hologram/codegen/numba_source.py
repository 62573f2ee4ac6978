"""ISA program -> the Python source of a Numba module, for the cpu backend.

Pure text: nothing here imports Numba or touches a device. The generated module defines

    kernel(first_block, last_block, gdx, gdy, gdz, bdx, bdy, bdz, <one argument per param>)

which runs blocks `first_block <= b < last_block` (linear block ids, x fastest) of a launch with
grid (gdx, gdy, gdz) and block (bdx, bdy, bdz), and returns 0, or instruction index + 1 of a
barrier or block reduction that some lane did not reach. Arguments: buffers and pools as 1-D
arrays of `memory_dtype(param.dtype)` (float16 and bfloat16 as their uint16 bits), scalars as
NumPy scalars of their type (float16 and bfloat16 as float32).

Programs without atomics also get `kernel_parallel(chunks, <the same arguments>)`, which splits
the block range over Numba's thread pool (`prange`); it is compiled only when first called.
Programs with atomics must run their blocks one after another (`NumbaSource.serial`): the
kernel updates memory with plain read-modify-writes.

Two strategies (see `numba_lane` and `numba_lockstep`): lane mode when lanes never interact,
lockstep mode otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from hologram.codegen.numba_exprs import (
    RUNTIME_IMPORTS,
    Lines,
    param_name,
)
from hologram.codegen.numba_lane import block_guard, render_lane_body
from hologram.codegen.numba_lockstep import BLOCK_ARGS, render_block_function
from hologram.isa.opcodes import Op
from hologram.isa.program import Program

RENDERER_VERSION = 2
"""Bump when the generated code or the way the backend imports it changes: it is written into
every module's header, so the source files change and Numba's cache, keyed on them, starts over."""

ENTRY = "kernel"
LAUNCH_ARGS = "first_block, last_block, gdx, gdy, gdz, bdx, bdy, bdz"
PARALLEL_ENTRY = "kernel_parallel"
JIT_DECORATOR = '@njit(cache=True, nogil=True, error_model="numpy")'
PARALLEL_DECORATOR = '@njit(cache=True, parallel=True, error_model="numpy")'


@dataclass(frozen=True)
class NumbaSource:
    """A rendered module: its text, the strategy used, and how it must be launched."""

    text: str
    mode: str  # "lane" or "lockstep"
    serial: bool  # True: run all blocks in one call (the program uses atomics)
    entry: str = ENTRY


def render_numba(program: Program, runtime_tag: str = "") -> NumbaSource:
    """Render `program` (verified, not intrinsic) as a Numba module.

    `runtime_tag` identifies the runtime helpers' version; it goes into the header so that a
    changed runtime changes the source text, and with it every cache keyed on that text.
    """
    if program.is_intrinsic:
        raise ValueError(f"program {program.name!r} is intrinsic: it has no per-lane code")
    lockstep = program.uses_block_features
    serial = any(inst.op is Op.ATOM for inst in program.instructions)
    out = Lines()
    _header(program, runtime_tag, lockstep, out)
    params = ", ".join(param_name(program, i) for i in range(len(program.params)))
    if lockstep:
        out.add(JIT_DECORATOR)
        render_block_function(program, "run_block", params, out)
        out.add("", "")
    out.add(JIT_DECORATOR)
    out.add(f"def {ENTRY}({LAUNCH_ARGS}{', ' if params else ''}{params}):")
    out.indent += 1
    out.add(
        "for blk in range(first_block, last_block):",
        "    bx = blk % gdx",
        "    byz = blk // gdx",
        "    by = byz % gdy",
        "    bz = byz // gdy",
    )
    out.indent += 1
    if lockstep:
        out.add(f"status = run_block({BLOCK_ARGS}{', ' if params else ''}{params})")
        out.add("if status != 0:", "    return status")
    else:
        guard = block_guard(program)
        if guard is None:
            _lane_loops(program, out, None)
        else:
            out.add(f"if {guard.condition}:")
            out.indent += 1
            _lane_loops(program, out, guard.if_index)
            out.indent -= 1
            out.add("else:")
            out.indent += 1
            _lane_loops(program, out, None)
            out.indent -= 1
    out.indent -= 1
    out.add("return np.int64(0)")
    if not serial:
        _parallel_entry(params, out)
    return NumbaSource(out.text(), "lockstep" if lockstep else "lane", serial)


def _parallel_entry(params: str, out: Lines) -> None:
    """`kernel_parallel(chunks, <kernel's arguments>)`: the block range cut into `chunks`
    pieces run by Numba's thread pool; returns the first non-zero status."""
    args = f"{LAUNCH_ARGS.split(', ', 2)[2]}{', ' if params else ''}{params}"
    out.indent = 0
    out.add(
        "",
        "",
        PARALLEL_DECORATOR,
        f"def {PARALLEL_ENTRY}(chunks, {LAUNCH_ARGS}{', ' if params else ''}{params}):",
        "    status = np.zeros(chunks, np.int64)",
        "    span = last_block - first_block",
        "    for chunk in prange(chunks):",
        "        low = first_block + span * chunk // chunks",
        "        high = first_block + span * (chunk + 1) // chunks",
        f"        status[chunk] = {ENTRY}(low, high, {args})",
        "    for chunk in range(chunks):",
        "        if status[chunk] != 0:",
        "            return status[chunk]",
        "    return np.int64(0)",
    )


def _lane_loops(program: Program, out: Lines, taken_if: int | None) -> None:
    out.add("for lz in range(bdz):", "    for ly in range(bdy):", "        for lx in range(bdx):")
    out.indent += 3
    render_lane_body(program, out, taken_if)
    out.indent -= 3


def _header(program: Program, runtime_tag: str, lockstep: bool, out: Lines) -> None:
    mode = "lockstep" if lockstep else "lane"
    out.add(
        f'"""cpu kernel for ISA program {program.name!r}, generated by hologram: do not edit."""',
        f"# digest {program.digest}, renderer {RENDERER_VERSION}, runtime {runtime_tag or '-'}",
        f"# mode {mode}",
        "# ruff: noqa",
        "import math",
        "",
        "import numpy as np",
        "from numba import njit, prange",
        "",
    )
    for module, names in RUNTIME_IMPORTS.items():
        listed = "".join(f"\n    {theirs} as {ours}," for ours, theirs in names.items())
        out.add(f"from {module} import ({listed}\n)")
    out.add("", "")
