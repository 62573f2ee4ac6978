"""The CUDA renderer: every program it may meet renders, and the CUDA C compiles with nvcc.

Needs no GPU: `nvcc --ptx` checks the generated source wherever the CUDA compiler is installed
(CI has it); without it the compile tests skip. Sources are compiled in a few large batches
(each kernel renamed, the shared prelude guarded) so that the check stays fast.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cuda_programs import example_programs, kernel_programs, opcode_programs

from hologram.codegen.cuda import ENTRY, render_cuda
from hologram.codegen.cuda_prelude import PRELUDE
from hologram.isa.opcodes import Op
from hologram.isa.program import Program
from programs import CORPUS

NVCC = shutil.which("nvcc")
BATCH = 200
"""Kernels per nvcc run."""


def _all_programs() -> dict[str, list[Program]]:
    groups = {
        "opcodes": list(opcode_programs()),
        "corpus": [case.build() for case in CORPUS],
        "stdlib": list(kernel_programs(None)),
        "examples": example_programs(),
    }
    return {name: [p for p in group if not p.is_intrinsic] for name, group in groups.items()}


PROGRAMS = _all_programs()


def test_every_group_has_programs_and_every_opcode_is_rendered() -> None:
    assert all(PROGRAMS.values()), {k: len(v) for k, v in PROGRAMS.items()}
    seen = {i.op for group in PROGRAMS.values() for p in group for i in p.instructions}
    assert seen >= set(Op) - {Op.MATMUL, Op.CONV2D}


def test_intrinsics_are_left_to_the_backend() -> None:
    intrinsic = next(case.build() for case in CORPUS if case.build().is_intrinsic)
    with pytest.raises(Exception, match="intrinsic"):
        render_cuda(intrinsic)


def test_rendering_is_deterministic_and_header_free() -> None:
    program = PROGRAMS["corpus"][0]
    first, second = render_cuda(program), render_cuda(program)
    assert first == second
    assert "#include" not in first.text and program.digest in first.text
    assert render_cuda(program, 1024).text.count("__launch_bounds__(1024)") == 1


def _compile_batch(name: str, programs: list[Program], tmp_path: Path) -> None:
    parts = []
    for index, program in enumerate(programs):
        text = render_cuda(program).text.replace(f"{ENTRY}(", f"{ENTRY}_{index}(")
        parts.append(f"// ---- {program.name}\n{text}")
    source = tmp_path / f"{name}.cu"
    source.write_text("\n".join(parts), encoding="utf-8")
    ptx = tmp_path / f"{name}.ptx"
    flags = ["--ptx", "-arch=sm_90", "--std=c++17", "-diag-suppress=177"]
    result = subprocess.run(
        [NVCC, *flags, "-o", str(ptx), str(source)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"nvcc failed on {name}:\n{result.stderr[-4000:]}"
    # Unused registers (diagnostic 177) are normal in generated code; nothing else may warn.
    assert "warning" not in result.stderr, result.stderr[-4000:]
    assert ptx.read_text(encoding="utf-8").count(".entry") == len(programs)


@pytest.mark.skipif(NVCC is None, reason="nvcc (the CUDA compiler) is not on PATH")
@pytest.mark.parametrize("group", sorted(PROGRAMS))
def test_generated_cuda_compiles_with_nvcc(group: str, tmp_path: Path) -> None:
    programs = PROGRAMS[group]
    for start in range(0, len(programs), BATCH):
        _compile_batch(f"{group}_{start}", programs[start : start + BATCH], tmp_path)


def test_loops_unrolled_by_hand_are_not_unrolled_again() -> None:
    from hologram.isa import DType
    from hologram.ops.reduce import column_reduce_program

    f32 = DType.F32
    # The fold's loop of eight loads is left as written; its tail loop of one load is not.
    text = render_cuda(column_reduce_program("sum", f32, f32, f32)).text
    assert text.count("#pragma unroll 1") == 1 and text.count("for (;;)") == 2


def test_prelude_is_guarded_so_sources_concatenate() -> None:
    assert PRELUDE.strip().startswith("#ifndef") and PRELUDE.strip().endswith("#endif")
