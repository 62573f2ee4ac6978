"""The intrinsic tensor instructions of the cuda backend: MATMUL and CONV2D on cuBLAS.

Float matrix products call cuBLAS's strided-batched GEMM directly (CuPy's binding), which
takes the ISA's batch strides, transposes and zero strides (broadcast) as they are: no copy
of any operand. float16 and bfloat16 run on the tensor cores and accumulate in float32;
float32 computes in float32 (`CUBLAS_COMPUTE_32F`: no TF32); float64 in float64. Integer
products go through `cupy.matmul` (modular arithmetic, as the ISA's integers wrap).

CONV2D is im2col (one gather kernel) and one batched GEMM per group, accumulating onto the
bias (beta = 1), so that the bias is added before the single rounding into the output type.

Inside a CUDA graph capture (`capturing`), CuPy's cuBLAS wrappers cannot be used: each sets the
handle's stream first, and CuPy refuses that while the stream captures. So the capture binds
the handle to the capture stream before it begins, gives it a workspace of this module's own
(kept for the life of the process, since graphs point into it; `cublasSetStream` would have
reset it to cuBLAS's default pool), and the GEMMs captured call `cublasGemmStridedBatchedEx`
from the library CuPy loaded, through ctypes, with nothing else in between.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
from collections.abc import Iterator
from functools import cache
from typing import Any

import numpy as np

from hologram.errors import MemoryAccessError, ProgramError
from hologram.isa.dtypes import DType
from hologram.isa.opcodes import Op
from hologram.isa.program import Instruction, Program

# cudaDataType and cublasComputeType_t values (cuBLAS's library_types.h / cublas_api.h).
_CUDA_TYPES = {DType.F16: 2, DType.BF16: 14, DType.F32: 0, DType.F64: 1}
_COMPUTE_32F, _COMPUTE_64F = 68, 70
_OP_N, _OP_T = 0, 1
_GEMM_DEFAULT = -1  # CUBLAS_GEMM_DEFAULT
WORKSPACE_BYTES = 32 * 2**20
"""cuBLAS's recommended workspace for Hopper (and more than enough for older GPUs)."""
_workspaces: dict[int, Any] = {}
"""cuBLAS handle -> the workspace memory set on it for captures, kept while the process lives."""
_capture = threading.local()


@contextlib.contextmanager
def capturing(stream_ptr: int) -> Iterator[None]:
    """Set this thread's cuBLAS handle up for a capture on stream `stream_ptr` (entered before
    the capture begins), and route GEMMs to the capture-safe call until the block ends."""
    import cupy
    from cupy_backends.cuda.libs import cublas

    handle = cupy.cuda.device.get_cublas_handle()
    cublas.setStream(handle, stream_ptr)
    memory = _workspaces.get(handle)
    if memory is None:
        memory = _workspaces[handle] = cupy.cuda.memory.alloc(WORKSPACE_BYTES)
    set_workspace = _cublas().cublasSetWorkspace_v2  # CuPy has no binding of its own
    set_workspace.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
    cublas.check_status(set_workspace(handle, memory.ptr, WORKSPACE_BYTES))
    _capture.active = True
    try:
        yield
    finally:
        _capture.active = False


@cache
def _cublas() -> Any:
    """The cuBLAS library this process has loaded (CuPy's), through ctypes."""
    path = "libcublas.so"
    with contextlib.suppress(OSError), open("/proc/self/maps", encoding="utf-8") as maps:
        path = next((ln.split()[-1] for ln in maps if "/libcublas.so" in ln), path)
    return ctypes.CDLL(path)


@cache
def _raw_gemm() -> Any:
    """`cublasGemmStridedBatchedEx`, called without CuPy's wrapper."""
    function = _cublas().cublasGemmStridedBatchedEx
    ptr, i32, i64 = ctypes.c_void_p, ctypes.c_int, ctypes.c_longlong
    operand = [ptr, i32, i32, i64]  # pointer, data type, leading dimension, batch stride
    function.argtypes = [ptr, i32, i32, i32, i32, i32, ptr, *operand, *operand, ptr, *operand,
                         i32, i32, i32]  # fmt: skip
    function.restype = i32
    return function


def run_intrinsic(program: Program, index: int, instruction: Instruction, args: list) -> None:
    """Execute intrinsic instruction `index` of `program` on device arrays `args`."""
    buffers = [args[src.index] for src in instruction.srcs]  # type: ignore[union-attr]
    if instruction.op is Op.MATMUL:
        _matmul(program, index, instruction, buffers)
    elif instruction.op is Op.CONV2D:
        _conv2d(program, index, instruction, buffers)
    else:
        raise ProgramError(f"{instruction.op.value} is not an intrinsic", index, program.name)


def _check(program: Program, index: int, op: Op, which: str, buffer: Any, needed: int) -> None:
    if needed > buffer.size:
        raise MemoryAccessError(
            f"program {program.name!r}, instruction {index} ({op.value}): operand {which} needs "
            f"{needed} elements but its buffer has {buffer.size}"
        )


def _ptr(array: Any) -> int:
    return int(array.data.ptr)


def gemm(
    dtype: DType,
    shape: tuple[int, int, int, int],
    a: tuple[int, int, bool],
    b: tuple[int, int, bool],
    c: tuple[int, int],
    beta: float = 0.0,
) -> None:
    """Row-major C[i] = op(A[i]) @ op(B[i]) (+ beta * C[i]) for i < batch, on cuBLAS.

    `shape` is (batch, m, n, k); `a` and `b` are (device pointer, element stride between
    batches, transposed); `c` is (device pointer, element stride).
    """
    import cupy
    from cupy_backends.cuda.libs import cublas

    batch, m, n, k = shape
    a_ptr, stride_a, trans_a = a
    b_ptr, stride_b, trans_b = b
    c_ptr, stride_c = c
    # Row-major C = A @ B is column-major C^T = B^T @ A^T: swap the operands.
    lda = m if trans_a else k
    ldb = k if trans_b else n
    scalar = np.float64 if dtype is DType.F64 else np.float32
    alpha_beta = np.array([1.0, beta], dtype=scalar)
    step = alpha_beta.itemsize
    handle = cupy.cuda.device.get_cublas_handle()
    kind = _CUDA_TYPES[dtype]
    args = (
        _OP_T if trans_b else _OP_N,
        _OP_T if trans_a else _OP_N,
        n,
        m,
        k,
        alpha_beta.ctypes.data,
        b_ptr,
        kind,
        ldb,
        stride_b,
        a_ptr,
        kind,
        lda,
        stride_a,
        alpha_beta.ctypes.data + step,
        c_ptr,
        kind,
        n,
        stride_c,
        batch,
        _COMPUTE_64F if dtype is DType.F64 else _COMPUTE_32F,
        _GEMM_DEFAULT,
    )
    if getattr(_capture, "active", False):
        # The handle is already on the capture stream (`capturing`); host-pointer scalars are
        # read now and recorded by value.
        cublas.check_status(_raw_gemm()(handle, *args))
        return
    cublas.setStream(handle, cupy.cuda.get_current_stream().ptr)
    cublas.gemmStridedBatchedEx(handle, *args)


def _overlaps(x: Any, y: Any) -> bool:
    x0, y0 = _ptr(x), _ptr(y)
    return x0 < y0 + y.nbytes and y0 < x0 + x.nbytes


def _matmul(program: Program, index: int, inst: Instruction, buffers: list) -> None:
    import cupy

    a, b, c = buffers
    attrs = inst.attr_dict
    batch, m, n, k = (int(attrs[name]) for name in ("batch", "m", "n", "k"))  # type: ignore[arg-type]
    sa, sb, sc = (int(attrs[name]) for name in ("stride_a", "stride_b", "stride_c"))  # type: ignore[arg-type]
    trans_a, trans_b = bool(attrs["trans_a"]), bool(attrs["trans_b"])
    for which, buffer, stride, size in (
        ("A", a, sa, m * k),
        ("B", b, sb, k * n),
        ("C", c, sc, m * n),
    ):
        _check(program, index, Op.MATMUL, which, buffer, (batch - 1) * stride + size)
    dtype = inst.dtype
    assert dtype is not None
    # cuBLAS needs outputs that neither overlap each other nor an input; else go through a copy.
    direct = (batch == 1 or sc >= m * n) and not (_overlaps(c, a) or _overlaps(c, b))
    if dtype in _CUDA_TYPES and direct:
        gemm(dtype, (batch, m, n, k), (_ptr(a), sa, trans_a), (_ptr(b), sb, trans_b), (_ptr(c), sc))
        return
    left = _batched(a, sa, batch, (k, m) if trans_a else (m, k), trans_a)
    right = _batched(b, sb, batch, (n, k) if trans_b else (k, n), trans_b)
    result = cupy.matmul(left, right)
    if result.ndim == 2:
        result = cupy.broadcast_to(result, (batch, m, n))
    # Batches in order, so that the last one wins where outputs overlap.
    for i in range(batch):
        c[i * sc : i * sc + m * n] = result[i].reshape(-1)


def _batched(buffer: Any, stride: int, batch: int, stored: tuple[int, int], trans: bool) -> Any:
    """A (batch, rows, cols) view of the operands (2-D when every batch shares one)."""
    rows, cols = stored
    if stride == 0 or batch == 1:
        view = buffer[: rows * cols].reshape(rows, cols)
        return view.T if trans else view
    from cupy.lib.stride_tricks import as_strided

    size = buffer.itemsize
    view = as_strided(buffer, (batch, rows, cols), (stride * size, cols * size, size))
    return view.transpose(0, 2, 1) if trans else view


# ---------------------------------------------------------------- conv2d
_IM2COL = r"""
extern "C" __global__ void im2col(const T* x, T* cols, int c, int h, int w, int r, int s,
    int oh, int ow, int sh, int sw, int pt, int pl, int dh, int dw, long long total) {
  long long step = (long long)gridDim.x * blockDim.x;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total; i += step) {
    long long p = i % ((long long)oh * ow), rest = i / ((long long)oh * ow);
    int kx = (int)(rest % s); rest /= s;
    int ky = (int)(rest % r); rest /= r;
    int ci = (int)(rest % c);
    long long nn = rest / c;
    int oy = (int)(p / ow), ox = (int)(p % ow);
    int iy = oy * sh - pt + ky * dh, ix = ox * sw - pl + kx * dw;
    cols[i] = (iy >= 0 && iy < h && ix >= 0 && ix < w)
        ? x[((nn * c + ci) * h + iy) * (long long)w + ix] : (T)0;
  }
}
"""


@cache
def _im2col_kernel(itemsize: int) -> Any:
    import cupy

    element = {2: "unsigned short", 4: "unsigned int", 8: "unsigned long long"}[itemsize]
    module = cupy.RawModule(code=f"typedef {element} T;\n{_IM2COL}", options=("--std=c++17",))
    return module.get_function("im2col")


def _conv2d(program: Program, index: int, inst: Instruction, buffers: list) -> None:
    import cupy

    attrs = inst.attr_dict
    n, c, h, w, k, r, s, groups = (
        int(attrs[name])  # type: ignore[arg-type]
        for name in ("n", "c", "h", "w", "k", "r", "s", "groups")
    )
    sh, sw = attrs["stride"]  # type: ignore[misc]
    dh, dw = attrs["dilation"]  # type: ignore[misc]
    top, left, bottom, right = attrs["pad"]  # type: ignore[misc]
    oh = (h + top + bottom - dh * (r - 1) - 1) // sh + 1
    ow = (w + left + right - dw * (s - 1) - 1) // sw + 1
    if min(oh, ow) < 1 or c % groups or k % groups:
        raise ProgramError(f"conv2d: bad geometry {attrs}", index, program.name)
    cg, kg, taps = c // groups, k // groups, r * s
    x, weights, y = buffers[:3]
    extents = [("X", x, n * c * h * w), ("W", weights, k * cg * taps), ("Y", y, n * k * oh * ow)]
    if len(buffers) > 3:
        extents.append(("bias", buffers[3], k))
    for which, buffer, needed in extents:
        _check(program, index, Op.CONV2D, which, buffer, needed)
    dtype = inst.dtype
    assert dtype is not None
    pixels = oh * ow
    # Bits are moved, never computed on, until the GEMM: work on unsigned views.
    raw = np.dtype(f"u{x.itemsize}")
    cols = cupy.empty(n * c * taps * pixels, dtype=raw)
    total = cols.size
    block = 256
    geometry = np.array([c, h, w, r, s, oh, ow, sh, sw, top, left, dh, dw], dtype=np.int32)
    _im2col_kernel(x.itemsize)(
        (min(-(-total // block), 65535 * 8),),
        (block,),
        (np.uint64(_ptr(x)), np.uint64(_ptr(cols)), *geometry, np.int64(total)),
    )
    out = y[: n * k * pixels]
    beta = 0.0
    if len(buffers) > 3:
        bias = buffers[3][:k].view(raw)
        out.view(raw).reshape(n, k, pixels)[...] = bias.reshape(1, k, 1)
        beta = 1.0
    size = x.itemsize
    depth = cg * taps
    for g in range(groups):
        gemm(
            dtype,
            (n, kg, pixels, depth),
            (_ptr(weights) + g * kg * depth * size, 0, False),
            (_ptr(cols) + g * depth * pixels * size, c * taps * pixels, False),
            (_ptr(out) + g * kg * pixels * size, k * pixels),
            beta,
        )
