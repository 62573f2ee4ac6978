"""ISA program -> the Python source of a Numba module, for the cpu backend.

Pure text: nothing here imports Numba or touches a device. The generated module defines

    kernel(first_block, last_block, gdx, gdy, gdz, bdx, bdy, bdz, <one argument per param>)

which runs blocks `first_block <= b < last_block` (linear block ids, x fastest) of a launch with
grid (gdx, gdy, gdz) and block (bdx, bdy, bdz), and returns 0, or instruction index + 1 of a
barrier or block reduction that some lane did not reach. Arguments: buffers and pools as 1-D
arrays of `memory_dtype(param.dtype)` (float16 and bfloat16 as their uint16 bits), scalars as
NumPy scalars of their type (float16 and bfloat16 as float32).

Every program also gets `kernel_parallel(chunks, <the same arguments>)`, which splits the block
range over Numba's thread pool (`prange`); it is compiled only when first called. Programs with
atomics get a second block loop, `kernel_atomic`, that the parallel entry calls: its atomics
are compare-and-swap loops, while `kernel` keeps plain read-modify-writes, which are atomic
while one thread runs the blocks and apply in lane order, as in the reference.

Three strategies: lane mode (`numba_lane`) when lanes never interact; region mode
(`numba_regions`) when they do, but every barrier and block reduction sits at the top level;
lockstep mode (`numba_lockstep`) otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from hologram.codegen.numba_exprs import (
    RUNTIME_IMPORTS,
    Lines,
    param_name,
)
from hologram.codegen.numba_lane import (
    block_guard,
    flat_launch_applies,
    render_flat_lanes,
    render_lane_loops,
)
from hologram.codegen.numba_lockstep import BLOCK_ARGS, render_block_function
from hologram.codegen.numba_regions import (
    RegionPlan,
    plan_regions,
    region_mode_applies,
    render_region_block,
    render_region_setup,
)
from hologram.isa.opcodes import Op
from hologram.isa.program import Program

RENDERER_VERSION = 7
"""Bump when the generated code or the way the backend imports it changes: it is written into
every module's header, so the source files change and Numba's cache, keyed on them, starts over."""

ENTRY = "kernel"
LAUNCH_ARGS = "first_block, last_block, gdx, gdy, gdz, bdx, bdy, bdz"
PARALLEL_ENTRY = "kernel_parallel"
ATOMIC_ENTRY = "kernel_atomic"
JIT_DECORATOR = '@njit(cache=True, nogil=True, error_model="numpy")'
PARALLEL_DECORATOR = '@njit(cache=True, parallel=True, error_model="numpy")'


@dataclass(frozen=True)
class NumbaSource:
    """A rendered module: its text, the strategy used, and whether it has atomics."""

    text: str
    mode: str  # "lane", "regions" or "lockstep"
    atomics: bool  # True: `kernel_parallel` runs `kernel_atomic`, not `kernel`
    entry: str = ENTRY


def render_mode(program: Program) -> str:
    """The strategy `render_numba` uses for `program`: lane, regions or lockstep."""
    if not program.uses_block_features:
        return "lane"
    return "regions" if region_mode_applies(program) else "lockstep"


def render_numba(program: Program, runtime_tag: str = "") -> NumbaSource:
    """Render `program` (verified, not intrinsic) as a Numba module.

    `runtime_tag` identifies the runtime helpers' version; it goes into the header so that a
    changed runtime changes the source text, and with it every cache keyed on that text.
    """
    if program.is_intrinsic:
        raise ValueError(f"program {program.name!r} is intrinsic: it has no per-lane code")
    mode = render_mode(program)
    atomics = any(inst.op is Op.ATOM for inst in program.instructions)
    out = Lines()
    _header(program, runtime_tag, mode, out)
    params = ", ".join(param_name(program, i) for i in range(len(program.params)))
    plan = plan_regions(program) if mode == "regions" else None
    _block_loop(program, mode, plan, ENTRY, params, False, out)
    if atomics:
        out.add("", "")
        _block_loop(program, mode, plan, ATOMIC_ENTRY, params, True, out)
    _parallel_entry(ATOMIC_ENTRY if atomics else ENTRY, params, out)
    return NumbaSource(out.text(), mode, atomics)


def _block_loop(
    program: Program,
    mode: str,
    plan: RegionPlan | None,
    name: str,
    params: str,
    atomic: bool,
    out: Lines,
) -> None:
    """`def name(<LAUNCH_ARGS>, params)`: run blocks first_block <= b < last_block."""
    comma = ", " if params else ""
    runner = f"run_block{'_atomic' if atomic else ''}"
    if mode == "lockstep":
        out.add(JIT_DECORATOR)
        render_block_function(program, runner, params, out, atomic)
        out.add("", "")
    out.add(JIT_DECORATOR, f"def {name}({LAUNCH_ARGS}{comma}{params}):")
    out.indent += 1
    guard = block_guard(program) if mode == "lane" else None
    if plan is not None:
        render_region_setup(plan, out)
    elif mode == "lane" and flat_launch_applies(program):
        render_flat_lanes(program, guard, out, atomic)
    # The block's coordinates step along with it: two divisions per block cost a 16-lane
    # block a third of its time.
    out.add(
        "nbx = first_block % gdx",
        "nby = (first_block // gdx) % gdy",
        "nbz = first_block // gdx // gdy",
        "for blk in range(first_block, last_block):",
        "    bx = nbx",
        "    by = nby",
        "    bz = nbz",
        "    nbx += 1",
        "    if nbx == gdx:",
        "        nbx = 0",
        "        nby += 1",
        "        if nby == gdy:",
        "            nby = 0",
        "            nbz += 1",
    )
    out.indent += 1
    if mode == "lockstep":
        out.add(f"status = {runner}({BLOCK_ARGS}{comma}{params})")
        out.add("if status != 0:", "    return status")
    elif plan is not None:
        render_region_block(plan, out, atomic)
    else:
        if guard is None:
            render_lane_loops(program, out, None, atomic)
        else:
            out.add(f"if {guard.condition}:")
            out.indent += 1
            render_lane_loops(program, out, guard.if_index, atomic)
            out.indent -= 1
            out.add("else:")
            out.indent += 1
            render_lane_loops(program, out, None, atomic)
            out.indent -= 1
    out.indent -= 1
    out.add("return np.int64(0)")
    out.indent -= 1


def _parallel_entry(entry: str, params: str, out: Lines) -> None:
    """`kernel_parallel(chunks, <kernel's arguments>)`: the block range cut into `chunks`
    pieces, each run by `entry` on Numba's thread pool; returns the first non-zero status."""
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
        f"        status[chunk] = {entry}(low, high, {args})",
        "    for chunk in range(chunks):",
        "        if status[chunk] != 0:",
        "            return status[chunk]",
        "    return np.int64(0)",
    )


def _header(program: Program, runtime_tag: str, mode: str, out: Lines) -> None:
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
