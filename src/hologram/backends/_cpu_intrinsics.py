"""The cpu backend's intrinsic tensor instructions: MATMUL and CONV2D through NumPy and BLAS.

Operands are strided views of the launch buffers (no copies for float32 and float64 matmul);
float16 and bfloat16 are computed in float32 and rounded once into their type on the store.
Integer types use NumPy's integer matmul, which wraps like the ISA asks.

On hosts with AVX-512, float32 products run on kernels compiled for the host's widest vectors
(NumPy's BLAS may run narrower ones). `_float32_kernel` picks one per product: the direct
kernels of `_cpu_direct` for row-major B and for thin products with B transposed, the packed
product of `_cpu_gemm` for tall ones with B transposed, NumPy for what neither wins. Products
of at least `SPLIT_PRODUCT_FLOPS` run in parts on the configured threads (`_cpu_split`), and
back off to one thread while that loses. Compiled kernels raise no floating-point warnings;
only NumPy's products run under `np.errstate`.

The BLAS library's own thread pool is sized per product (`blas_threads`): small products run
on one thread, because waking BLAS worker threads costs more than they save there and their
spinning competes with the backend's own threads; large ones use the configured count. After
a product on several BLAS threads, other multi-thread work waits `BLAS_QUIET_SECONDS`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from time import perf_counter
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

from hologram.errors import MemoryAccessError
from hologram.isa.dtypes import DType
from hologram.isa.opcodes import Op
from hologram.isa.program import Instruction, Program

_NARROW = (DType.F16, DType.BF16)

SMALL_PRODUCT_FLOPS = 1 << 27
"""Products of fewer floating-point operations (about a millisecond on one core) run on one
BLAS thread."""
SPLIT_PRODUCT_FLOPS = 1 << 23
"""Compiled products of fewer floating-point operations (about 35 us on one core) run on one
thread; larger ones are cut into parts (`_cpu_split`), which gained 1.5x at this size on two
cores (their threads answer within microseconds, unlike BLAS's)."""
BLAS_QUIET_SECONDS = 0.2
"""After an intrinsic (BLAS) launch on several BLAS threads, other work runs on one thread for
this long: BLAS worker threads keep spinning after a call, and a parallel kernel competing with
them for the cores ran 20-50x slower than on one thread (and slowed the next BLAS call too).
A product on one BLAS thread, or on the compiled kernels, leaves no workers spinning and
starts no quiet time."""


class _BlasThreads:
    """The BLAS libraries' thread count, set only when a product wants a different one."""

    def __init__(self) -> None:
        self._controllers: list[Any] | None = None
        self._current = 0
        self._wide = False  # a product asked for several threads since `finished`
        self._quiet_until = float("-inf")

    def _libraries(self) -> list[Any]:
        if self._controllers is None:
            try:
                from threadpoolctl import ThreadpoolController

                found = ThreadpoolController().select(user_api="blas").lib_controllers
            except Exception:  # no threadpoolctl or an unknown BLAS: leave the pool alone
                found = []
            self._controllers = list(found)
        return self._controllers

    @property
    def current(self) -> int:
        """The thread count the last product asked for (0 before the first)."""
        return self._current

    def use(self, flops: int) -> None:
        """Size the pool for a product of `flops` operations."""
        wanted = 1 if flops < SMALL_PRODUCT_FLOPS else _configured_threads()
        if wanted != self._current:
            for controller in self._libraries():
                controller.set_num_threads(wanted)
            self._current = wanted
        self._wide = self._wide or wanted > 1

    def finished(self) -> bool:
        """Whether a product ran on several BLAS threads since the last call (called after
        each intrinsic launch): its workers may spin for a while, so the quiet time starts."""
        if not self._wide:
            return False
        self._wide = False
        self._quiet_until = perf_counter() + BLAS_QUIET_SECONDS
        return True

    def spinning(self) -> bool:
        """Whether BLAS workers may still be spinning on the cores (the quiet time runs)."""
        return perf_counter() < self._quiet_until


def _configured_threads() -> int:
    from hologram.config import settings

    return settings().threads or os.cpu_count() or 1


blas_threads = _BlasThreads()
"""The process's BLAS thread control (BLAS thread pools are per process)."""


def run_intrinsics(program: Program, args: list) -> None:
    """Run every instruction of an intrinsic-only program once, in order."""
    for index, inst in enumerate(program.instructions):
        buffers = [args[src.index] for src in inst.srcs]  # type: ignore[union-attr]
        where = f"program {program.name!r}, instruction {index} ({inst.op.value})"
        if inst.op is Op.MATMUL:
            matmul(inst, buffers, where)
        else:
            conv2d(inst, buffers, where)


def prepare_intrinsics(program: Program) -> Callable[[list], None]:
    """`run_intrinsics` for one program with its attributes read once: a launch then only
    slices its buffers (a single float32/float64 MATMUL takes plain reshaped views)."""
    steps = []
    for index, inst in enumerate(program.instructions):
        where = f"program {program.name!r}, instruction {index} ({inst.op.value})"
        sources = [src.index for src in inst.srcs]  # type: ignore[union-attr]
        if inst.op is Op.MATMUL:
            steps.append(_prepare_matmul(inst, sources, where))
        else:
            steps.append(_prepare_conv2d(inst, sources, where))
    if len(steps) == 1:
        return steps[0]

    def run(args: list) -> None:
        for step in steps:
            step(args)

    return run


def _run_conv2d(inst: Instruction, sources: list[int], where: str, args: list) -> None:
    conv2d(inst, [args[i] for i in sources], where)


def _prepare_conv2d(inst: Instruction, sources: list[int], where: str) -> Callable[[list], None]:
    """`conv2d` for one instruction: a float32 convolution of one group goes to the implicit
    GEMM prepared once (its tables and what its launches learn), a launch checking only the
    buffers' extents and overlap (tens of microseconds less a launch, a third of a small
    convolution's time)."""
    general = functools.partial(_run_conv2d, inst, sources, where)
    groups = int(inst.attr("groups"))  # type: ignore[arg-type]
    if inst.dtype is not DType.F32 or groups != 1 or not _wide_vectors():
        return general
    from hologram.backends._cpu_conv import geometry_of, implicit

    geo = geometry_of(inst)
    conv = implicit(geo, _configured_threads())
    oh, ow = geo.out
    sizes = (geo.n * geo.c * geo.h * geo.w, geo.k * geo.c * geo.r * geo.s, geo.n * geo.k * oh * ow)
    needed = (*sizes, geo.k)[: len(sources)]
    zeros = np.zeros(geo.k, np.float32)

    def run(args: list) -> None:
        buffers = [args[i] for i in sources]
        fits = all(b.size >= size for b, size in zip(buffers, needed, strict=True))
        if not fits or not _apart(buffers[2], buffers):
            general(args)  # the extent error, or NumPy's product for overlapping buffers
            return
        conv(buffers[0], buffers[1], buffers[2], buffers[3] if len(buffers) > 3 else zeros)

    return run


def _prepare_matmul(inst: Instruction, sources: list[int], where: str) -> Callable[[list], None]:
    batch, m, n, k, stride_a, stride_b, stride_c = _ints(
        inst, "batch", "m", "n", "k", "stride_a", "stride_b", "stride_c"
    )
    if inst.dtype in _NARROW or (batch > 1 and stride_c < m * n):

        def general(args: list) -> None:
            matmul(inst, [args[i] for i in sources], where)

        return general
    trans_a, trans_b = bool(inst.attr("trans_a")), bool(inst.attr("trans_b"))
    kernel = _float32_kernel(inst.dtype, m, n, k, trans_a, trans_b)  # type: ignore[arg-type]
    if kernel is not None:
        return _prepare_compiled(kernel, inst, sources, where)
    ia, ib, ic = sources
    shape_a, shape_b = ((k, m) if trans_a else (m, k)), ((n, k) if trans_b else (k, n))
    need_a, need_b, need_c = (
        (batch - 1) * stride + size
        for stride, size in ((stride_a, m * k), (stride_b, k * n), (stride_c, m * n))
    )

    def operand(buffer: np.ndarray, stride: int, shape: tuple[int, int], trans: bool) -> Any:
        rows, cols = shape
        if batch == 1:
            matrix = buffer[: rows * cols].reshape(rows, cols)
            return matrix.T if trans else matrix
        if stride == rows * cols:  # dense batches: a plain view
            stacked = buffer[: batch * rows * cols].reshape(batch, rows, cols)
        else:
            stacked = _batched(buffer, batch, stride, rows, cols)
        return stacked.swapaxes(1, 2) if trans else stacked

    def output(c: np.ndarray) -> np.ndarray:
        if batch == 1:
            return c[: m * n].reshape(m, n)
        if stride_c == m * n:
            return c[: batch * m * n].reshape(batch, m, n)
        return _writable(c, batch, stride_c, m, n)

    def left_of(a: np.ndarray) -> Any:
        return operand(a, stride_a, shape_a, trans_a)

    def right_of(b: np.ndarray) -> Any:
        return operand(b, stride_b, shape_b, trans_b)

    flops = 2 * batch * m * n * k
    # Each operand's view is kept with the buffer it was made of: a plan passes the same arena
    # and weight buffers launch after launch, while feeds and outputs are fresh arrays whose
    # views are made again (a reshape, far cheaper than `as_strided`).
    seen: list[Any] = [(None, None), (None, None), (None, None)]

    def view(slot: int, buffer: np.ndarray, make: Callable[[np.ndarray], Any]) -> Any:
        kept = seen[slot]
        if kept[0] is buffer:
            return kept[1]
        made = make(buffer)
        seen[slot] = (buffer, made)  # one tuple, replaced whole: thread-safe
        return made

    def run(args: list) -> None:
        a, b, c = args[ia], args[ib], args[ic]
        if a.size < need_a or b.size < need_b or c.size < need_c:
            matmul(inst, [a, b, c], where)  # raises the out-of-bounds error
            return
        blas_threads.use(flops)
        left = view(0, a, left_of)
        right = view(1, b, right_of)
        out = view(2, c, output)
        with np.errstate(all="ignore"):
            np.matmul(left, right, out=out)

    return run


def _float32_kernel(
    dtype: DType, m: int, n: int, k: int, trans_a: bool, trans_b: bool
) -> Callable[..., Any] | None:
    """The compiled function (taking A, B, C and `sgemm_dims`, returning 0 when done) that
    runs this product best here, or None where NumPy's BLAS does (or it is not float32). The
    bounds come from benchmarks/gemm_cpu.py on an AVX-512 host."""
    if dtype is not DType.F32 or not _wide_vectors():
        return None
    if not trans_b:
        # One row of A times a large B, and thin Bs with long rows of A, only stream memory:
        # there BLAS's matrix-vector kernels keep up and the direct tile's spare lanes cost.
        if (m == 1 and k * n >= 1 << 18) or (n < 16 and m * k > 1 << 13):
            return None
        from hologram.backends._cpu_direct import direct

        return direct
    # The dot kernel reads A's rows along k; with fewer than 16 steps of k its final sums
    # across lanes dominate, and past ~100 rows the packed product's one packing of B pays.
    if (not trans_a or m == 1) and m < 96 and (k >= 16 or m <= 4):
        from hologram.backends._cpu_direct import direct

        return direct
    if _packed_product_wins(m, n, k):
        from hologram.backends._cpu_gemm import sgemm_serial

        return sgemm_serial
    return None


def _packed_product_wins(m: int, n: int, k: int) -> bool:
    """Whether the packed float32 product (`_cpu_gemm`) beats BLAS here: C at least a couple
    of its tiles tall and most of one wide (thinner products waste most of a tile), on a
    processor with AVX-512 and FMA (its tile fills 24 of the 32 zmm registers; with 16
    narrower registers it would spill, and BLAS's own kernels for them are better)."""
    from hologram.backends._cpu_gemm import MR, NR

    return m >= 2 * MR and n >= NR // 2 and k >= 8 and _wide_vectors()


@functools.cache
def _wide_vectors() -> bool:
    import llvmlite.binding as llvm

    features = llvm.get_host_cpu_features()
    return bool(features.get("avx512f")) and bool(features.get("fma"))


def _sgemm_dims(inst: Instruction) -> Any:
    from hologram.backends._cpu_gemm import sgemm_dims

    batch, m, n, k, stride_a, stride_b, stride_c = _ints(
        inst, "batch", "m", "n", "k", "stride_a", "stride_b", "stride_c"
    )
    a_at = (0, stride_a, 1, m) if inst.attr("trans_a") else (0, stride_a, k, 1)
    b_at = (0, stride_b, 1, k) if inst.attr("trans_b") else (0, stride_b, n, 1)
    return sgemm_dims(batch, m, n, k, a_at, b_at, (0, stride_c))


def _prepare_compiled(
    kernel: Callable[..., Any], inst: Instruction, sources: list[int], where: str
) -> Callable[[list], None]:
    ia, ib, ic = sources
    dims = _sgemm_dims(inst)
    split = _split_product(kernel, dims)
    if split is not None:

        def run_split(args: list) -> None:
            a, b, c = args[ia], args[ib], args[ic]
            if split(a, b, c):
                matmul(inst, [a, b, c], where, packed=False)

        return run_split

    def run(args: list) -> None:
        a, b, c = args[ia], args[ib], args[ic]
        if kernel(a, b, c, dims):
            matmul(inst, [a, b, c], where, packed=False)  # reports, or copies what overlaps

    return run


def _split_product(kernel: Callable[..., Any], dims: Any) -> Callable[..., int] | None:
    """The product run in parts on the configured threads, where it is large enough to pay
    and can be cut (`_cpu_split`); None where it stays on one thread."""
    threads = _configured_threads()
    batch, m, n, k = (int(x) for x in dims[:4])
    if threads < 2 or 2 * batch * m * n * k < SPLIT_PRODUCT_FLOPS:
        return None
    from hologram.backends._cpu_split import SplitProduct

    split = SplitProduct(kernel, dims, threads, blas_threads.spinning)
    return split if split.parts > 1 else None


def _ints(inst: Instruction, *names: str) -> list[int]:
    return [int(inst.attr(name)) for name in names]  # type: ignore[arg-type]


def _check_extent(where: str, which: str, buffer: np.ndarray, needed: int) -> None:
    if needed > buffer.size:
        raise MemoryAccessError(
            f"{where}: operand {which} needs {needed} elements but its buffer has {buffer.size}"
        )


def _compute(array: np.ndarray, dtype: DType) -> np.ndarray:
    return array.astype(np.float32) if dtype in _NARROW else array


def _batched(buffer: np.ndarray, batch: int, stride: int, rows: int, cols: int) -> np.ndarray:
    """Matrix i of `batch` (rows x cols, row-major) starting at element i * stride; 0 repeats."""
    size = buffer.itemsize
    return as_strided(
        buffer, (batch, rows, cols), (stride * size, cols * size, size), writeable=False
    )


def matmul(inst: Instruction, buffers: list[np.ndarray], where: str, packed: bool = True) -> None:
    """C[i] = op(A[i]) @ op(B[i]) for each batch entry i (see docs/isa.mdx). float32 products
    run on the compiled kernel `_float32_kernel` picks unless `packed` is False."""
    a, b, c = buffers
    batch, m, n, k, stride_a, stride_b, stride_c = _ints(
        inst, "batch", "m", "n", "k", "stride_a", "stride_b", "stride_c"
    )
    trans_a, trans_b = bool(inst.attr("trans_a")), bool(inst.attr("trans_b"))
    dtype: DType = inst.dtype  # type: ignore[assignment]
    kernel = _float32_kernel(dtype, m, n, k, trans_a, trans_b) if packed else None
    # A compiled kernel refuses (1) what it cannot run; the checks below then report it.
    if (
        kernel is not None
        and (batch == 1 or stride_c >= m * n)
        and not kernel(a, b, c, _sgemm_dims(inst))
    ):
        return
    for which, buffer, stride, size in (
        ("A", a, stride_a, m * k),
        ("B", b, stride_b, k * n),
        ("C", c, stride_c, m * n),
    ):
        _check_extent(where, which, buffer, (batch - 1) * stride + size)
    blas_threads.use(2 * batch * m * n * k)
    left = (
        _batched(a, batch, stride_a, k, m).swapaxes(1, 2)
        if trans_a
        else (_batched(a, batch, stride_a, m, k))
    )
    right = (
        _batched(b, batch, stride_b, n, k).swapaxes(1, 2)
        if trans_b
        else (_batched(b, batch, stride_b, k, n))
    )
    if batch == 1:
        left, right = left[0], right[0]
    left, right = _compute(left, dtype), _compute(right, dtype)
    if dtype not in _NARROW and (batch == 1 or stride_c >= m * n):
        # Disjoint output matrices: BLAS writes straight into C (NumPy copies if C overlaps A/B).
        out = c[: m * n].reshape(m, n) if batch == 1 else _writable(c, batch, stride_c, m, n)
        with np.errstate(all="ignore"):
            np.matmul(left, right, out=out)
        return
    with np.errstate(all="ignore"):
        result = np.matmul(left, right).reshape(batch, m * n)
    for i in range(batch):  # in order, so that overlapping outputs keep the last batch entry
        c[i * stride_c : i * stride_c + m * n] = result[i]


def _writable(c: np.ndarray, batch: int, stride: int, rows: int, cols: int) -> np.ndarray:
    size = c.itemsize
    return as_strided(c, (batch, rows, cols), (stride * size, cols * size, size))


def conv2d(inst: Instruction, buffers: list[np.ndarray], where: str) -> None:
    """ONNX-style 2-D cross-correlation, NCHW input and KCRS weights, by im2col and matmul."""
    n, c, h, w, k, r, s, groups = _ints(inst, "n", "c", "h", "w", "k", "r", "s", "groups")
    sh, sw = inst.attr("stride")  # type: ignore[misc]
    dh, dw = inst.attr("dilation")  # type: ignore[misc]
    top, left, bottom, right = inst.attr("pad")  # type: ignore[misc]
    oh = (h + top + bottom - dh * (r - 1) - 1) // sh + 1
    ow = (w + left + right - dw * (s - 1) - 1) // sw + 1
    cg, kg = c // groups, k // groups
    x_buf, w_buf, y_buf = buffers[:3]
    extents = [("X", x_buf, n * c * h * w), ("W", w_buf, k * cg * r * s)]
    extents.append(("Y", y_buf, n * k * oh * ow))
    if len(buffers) > 3:
        extents.append(("bias", buffers[3], k))
    for which, buffer, needed in extents:
        _check_extent(where, which, buffer, needed)
    dtype: DType = inst.dtype  # type: ignore[assignment]
    if dtype is DType.F32 and groups == 1 and _wide_vectors() and _apart(y_buf, buffers):
        from hologram.backends._cpu_conv import conv2d_f32

        conv2d_f32(inst, buffers, _configured_threads())  # an implicit GEMM: no patch matrix
        return
    x = _compute(x_buf[: n * c * h * w], dtype).reshape(n, c, h, w)
    weights = _compute(w_buf[: k * cg * r * s], dtype).reshape(groups, kg, cg * r * s)
    if top or left or bottom or right:
        x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    windows = sliding_window_view(x, (dh * (r - 1) + 1, dw * (s - 1) + 1), axis=(2, 3))
    windows = windows[:, :, : sh * (oh - 1) + 1 : sh, : sw * (ow - 1) + 1 : sw, ::dh, ::dw]
    # im2col: (groups, output pixels, cg * r * s), one copy of the input's windows.
    columns = windows.reshape(n, groups, cg, oh, ow, r, s).transpose(1, 0, 3, 4, 2, 5, 6)
    columns = columns.reshape(groups, n * oh * ow, cg * r * s)
    out = _grouped_product(dtype, columns, weights)  # (groups, n*oh*ow, kg)
    y = out.reshape(groups, n, oh, ow, kg).transpose(1, 0, 4, 2, 3).reshape(n, k, oh, ow)
    if len(buffers) > 3:
        y = y + _compute(buffers[3][:k], dtype).reshape(1, k, 1, 1)
    y_buf[: n * k * oh * ow] = y.reshape(-1)


def _apart(out: np.ndarray, buffers: list[np.ndarray]) -> bool:
    """Whether `out` shares no memory with the other buffers, all flat contiguous float32."""
    flat = all(b.ndim == 1 and b.flags.c_contiguous and b.dtype == np.float32 for b in buffers)
    return flat and not any(np.may_share_memory(out, b) for b in buffers if b is not out)


def _grouped_product(dtype: DType, columns: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """columns[g] @ weights[g].T for each group g: a compiled kernel for float32."""
    groups, rows, depth = columns.shape
    kg = weights.shape[1]
    kernel = _float32_kernel(dtype, rows, kg, depth, False, True)
    if kernel is not None:
        from hologram.backends._cpu_gemm import sgemm_dims

        out = np.empty(groups * rows * kg, np.float32)
        a = np.ascontiguousarray(columns).reshape(-1)
        b = np.ascontiguousarray(weights).reshape(-1)
        dims = sgemm_dims(
            groups,
            rows,
            kg,
            depth,
            (0, rows * depth, depth, 1),
            (0, kg * depth, 1, depth),
            (0, rows * kg),
        )
        if kernel(a, b, out, dims) == 0:
            return out.reshape(groups, rows, kg)
    with np.errstate(all="ignore"):
        return np.matmul(columns, weights.transpose(0, 2, 1))
