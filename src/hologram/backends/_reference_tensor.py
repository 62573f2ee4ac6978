"""The intrinsic tensor instructions of the reference backend: MATMUL and CONV2D.

Both are computed in float64 (integers modulo 2**64) and rounded once into the instruction's
dtype, by the most direct NumPy formulation; they run once per launch.
"""

from __future__ import annotations

import numpy as np

from hologram.backends._reference_values import round_float64
from hologram.errors import MemoryAccessError, ProgramError
from hologram.isa.dtypes import DType
from hologram.isa.opcodes import Op
from hologram.isa.program import Instruction, Program


def run_intrinsic(program: Program, index: int, instruction: Instruction, args: list) -> None:
    """Execute intrinsic instruction `index` of `program` on the launch arguments."""
    buffers = [args[src.index] for src in instruction.srcs]  # type: ignore[union-attr]
    if instruction.op is Op.MATMUL:
        _matmul(program, index, instruction, buffers)
    elif instruction.op is Op.CONV2D:
        _conv2d(program, index, instruction, buffers)
    else:
        raise ProgramError(f"{instruction.op.value} is not an intrinsic", index, program.name)


def _int_attr(program: Program, index: int, instruction: Instruction, name: str) -> int:
    value = instruction.attr(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProgramError(f"attribute {name!r} must be an int, got {value!r}", index, program.name)
    return value


def _pair_attr(
    program: Program, index: int, instruction: Instruction, name: str, length: int
) -> tuple[int, ...]:
    value = instruction.attr(name)
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,) * length
    if not isinstance(value, tuple) or len(value) != length:
        raise ProgramError(
            f"attribute {name!r} must be {length} ints, got {value!r}", index, program.name
        )
    return tuple(int(v) for v in value)


def _dtype(program: Program, index: int, instruction: Instruction) -> DType:
    if instruction.dtype is None:
        raise ProgramError(f"{instruction.op.value} needs a dtype", index, program.name)
    return instruction.dtype


def _check_extent(
    program: Program, index: int, op: Op, which: str, buffer: np.ndarray, needed: int
) -> None:
    if needed > buffer.size:
        raise MemoryAccessError(
            f"program {program.name!r}, instruction {index} ({op.value}): operand {which} needs "
            f"{needed} elements but its buffer has {buffer.size}"
        )


def _round_into(values: np.ndarray, dtype: DType) -> np.ndarray:
    """float64 (or uint64 modular) results into the instruction dtype."""
    if dtype.is_float:
        return round_float64(values, dtype)
    return values.astype(dtype.numpy)  # keeps the low bits: integer results wrap


# ---------------------------------------------------------------- matmul
def _matmul(program: Program, index: int, instruction: Instruction, buffers: list) -> None:
    a, b, c = buffers
    get = lambda name: _int_attr(program, index, instruction, name)  # noqa: E731
    batch, m, n, k = get("batch"), get("m"), get("n"), get("k")
    stride_a, stride_b, stride_c = get("stride_a"), get("stride_b"), get("stride_c")
    if min(batch, m, n, k) < 1 or min(stride_a, stride_b, stride_c) < 0:
        raise ProgramError(
            f"matmul needs positive batch, m, n, k and non-negative strides, got "
            f"{instruction.attr_dict}",
            index,
            program.name,
        )
    trans_a, trans_b = bool(instruction.attr("trans_a")), bool(instruction.attr("trans_b"))
    for which, buffer, stride, size in (
        ("A", a, stride_a, m * k),
        ("B", b, stride_b, k * n),
        ("C", c, stride_c, m * n),
    ):
        _check_extent(program, index, Op.MATMUL, which, buffer, (batch - 1) * stride + size)
    dtype = _dtype(program, index, instruction)
    wide = np.float64 if dtype.is_float else np.uint64
    results = []
    for i in range(batch):
        block_a = a[i * stride_a : i * stride_a + m * k].astype(wide)
        block_b = b[i * stride_b : i * stride_b + k * n].astype(wide)
        left = block_a.reshape(k, m).T if trans_a else block_a.reshape(m, k)
        right = block_b.reshape(n, k).T if trans_b else block_b.reshape(k, n)
        with np.errstate(over="ignore"):
            results.append(_round_into(left @ right, dtype))
    # All products are formed before any store, so C may alias A or B.
    for i, result in enumerate(results):
        c[i * stride_c : i * stride_c + m * n] = result.reshape(-1)


# ---------------------------------------------------------------- conv2d
def _conv2d(program: Program, index: int, instruction: Instruction, buffers: list) -> None:
    get = lambda name: _int_attr(program, index, instruction, name)  # noqa: E731
    n, c, h, w = get("n"), get("c"), get("h"), get("w")
    k, r, s, groups = get("k"), get("r"), get("s"), get("groups")
    sh, sw = _pair_attr(program, index, instruction, "stride", 2)
    dh, dw = _pair_attr(program, index, instruction, "dilation", 2)
    top, left, bottom, right = _pair_attr(program, index, instruction, "pad", 4)
    oh = (h + top + bottom - dh * (r - 1) - 1) // sh + 1 if sh > 0 else 0
    ow = (w + left + right - dw * (s - 1) - 1) // sw + 1 if sw > 0 else 0
    problems = []
    if min(n, c, h, w, k, r, s, groups, sh, sw, dh, dw) < 1:
        problems.append("sizes, strides, dilations and groups must be positive")
    if min(top, left, bottom, right) < 0:
        problems.append("padding must be non-negative")
    if groups >= 1 and (c % groups or k % groups):
        problems.append(f"c={c} and k={k} must be multiples of groups={groups}")
    if oh < 1 or ow < 1:
        problems.append(f"the output would be {oh} x {ow}")
    if problems:
        raise ProgramError(f"conv2d: {'; '.join(problems)}", index, program.name)
    cg, kg = c // groups, k // groups
    x_buf, w_buf, y_buf = buffers[:3]
    extents = [
        ("X", x_buf, n * c * h * w),
        ("W", w_buf, k * cg * r * s),
        ("Y", y_buf, n * k * oh * ow),
    ]
    if len(buffers) > 3:
        extents.append(("bias", buffers[3], k))
    for which, buffer, needed in extents:
        _check_extent(program, index, Op.CONV2D, which, buffer, needed)

    x = x_buf[: n * c * h * w].astype(np.float64).reshape(n, c, h, w)
    weights = w_buf[: k * cg * r * s].astype(np.float64).reshape(k, cg, r, s)
    padded = np.zeros((n, c, h + top + bottom, w + left + right))
    padded[:, :, top : top + h, left : left + w] = x
    y = np.zeros((n, k, oh, ow))
    for ky in range(r):
        for kx in range(s):
            # The input pixels that kernel tap (ky, kx) meets, for every output pixel.
            rows = slice(ky * dh, ky * dh + sh * (oh - 1) + 1, sh)
            cols = slice(kx * dw, kx * dw + sw * (ow - 1) + 1, sw)
            taps = padded[:, :, rows, cols]
            for g in range(groups):
                y[:, g * kg : (g + 1) * kg] += np.einsum(
                    "nchw,kc->nkhw",
                    taps[:, g * cg : (g + 1) * cg],
                    weights[g * kg : (g + 1) * kg, :, ky, kx],
                )
    if len(buffers) > 3:
        y += buffers[3][:k].astype(np.float64).reshape(1, k, 1, 1)
    dtype = _dtype(program, index, instruction)
    y_buf[: n * k * oh * ow] = _round_into(y.reshape(-1), dtype)
