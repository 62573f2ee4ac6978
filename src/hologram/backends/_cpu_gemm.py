"""A packed, register-blocked float32 matrix product for the cpu backend.

NumPy's BLAS may run narrower vector kernels than the host has (an `OPENBLAS_CORETYPE` setting
is respected); this product is compiled by Numba for the host itself. It follows the usual
BLAS layout: a micro-kernel keeps a `MR` x `NR` tile of C in vector registers over a block of
`KC` steps of k, reading A one scalar per row (broadcast) and B one `NR`-wide row per step.

- The micro-kernel is emitted as LLVM IR with explicit 16-lane vectors and `llvm.fma`,
  because LLVM's vectorisers do not keep a tile of scalar accumulators in registers.
- A row-major A is read where it lies (its `MR` rows stream through the cache); a column-major
  A is packed into `MR`-row panels. B is packed into `NR`-column panels when C has enough rows
  to reuse them, or when its rows are not contiguous; otherwise it is read in place too. Edge
  tiles are padded with zeros, computed into a scratch tile and copied.
- Every operand is a flat buffer with an element offset, row and column strides (one of them
  1), and a batch stride, so that transposed and batched operands need no view or copy.
- Its multi-thread form (`_cpu_split`) runs disjoint parts of C, each a product of its own,
  on several threads, each with its own packing buffers.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

LANES = 16
"""float32 lanes of one 512-bit vector register."""
MR = 12
"""Rows of a C tile."""
NR = 2 * LANES
"""Columns of a C tile: 12 x 2 accumulators, 2 B vectors and a broadcast fill 27 of the 32
vector registers."""
KC = 256
"""Steps of k per tile pass: a packed B panel (KC x NR, 32 KiB) stays in the L1 cache."""
MC = 480
"""Rows of A per block: a packed A block (MC x KC, 480 KiB) stays in the L2 cache."""
NC = 1024
"""Columns of B packed at once (KC x NC, 1 MiB)."""
PACK_B_ROWS = 2048
"""C with at least this many rows (per thread) packs its B panels: enough reuse to pay."""


@intrinsic
def _tile(typingctx, kc, a, a_at, a_rs, a_cs, b, b_at, b_rs, c, c_at, ldc, accumulate):  # type: ignore[no-untyped-def]
    """C[c_at + i*ldc + j] (+)= sum_p A[a_at + i*a_rs + p*a_cs] * B[b_at + p*b_rs + j] over an
    MR x NR tile and kc steps; the tile of C must lie inside its buffer."""
    if any(not isinstance(x, types.Array) or x.dtype != types.float32 for x in (a, b, c)):
        return None  # float32 only: the IR below loads and stores 32-bit floats
    sig = types.void(kc, a, a_at, a_rs, a_cs, b, b_at, b_rs, c, c_at, ldc, accumulate)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        kc, a, a_at, a_rs, a_cs, b, b_at, b_rs, c, c_at, ldc, accumulate = args
        i64, i32 = ir.IntType(64), ir.IntType(32)
        vector = ir.VectorType(ir.FloatType(), LANES)
        pointer = vector.as_pointer()
        fma = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vector, [vector] * 3), f"llvm.fma.v{LANES}f32"
        )

        def data(index: int, value):  # type: ignore[no-untyped-def]
            return context.make_array(signature.args[index])(context, builder, value).data

        a0 = builder.gep(data(1, a), [a_at])
        b0 = builder.gep(data(5, b), [b_at])
        c0 = builder.gep(data(8, c), [c_at])
        rows = [builder.gep(a0, [builder.mul(a_rs, ir.Constant(i64, i))]) for i in range(MR)]
        zero = ir.Constant(vector, [0.0] * LANES)
        undef = ir.Constant(vector, ir.Undefined)
        splat = ir.Constant(ir.VectorType(i32, LANES), [0] * LANES)
        entry = builder.basic_block
        loop = builder.append_basic_block("tile.loop")
        done = builder.append_basic_block("tile.done")
        builder.cbranch(builder.icmp_signed(">", kc, ir.Constant(i64, 0)), loop, done)

        builder.position_at_end(loop)
        step = builder.phi(i64)
        step.add_incoming(ir.Constant(i64, 0), entry)
        sums = []
        for _ in range(MR * 2):
            phi = builder.phi(vector)
            phi.add_incoming(zero, entry)
            sums.append(phi)
        column = builder.mul(step, a_cs)
        b_row = builder.gep(b0, [builder.mul(step, b_rs)])
        b_vectors = [
            builder.load(
                builder.bitcast(builder.gep(b_row, [ir.Constant(i64, v * LANES)]), pointer), align=4
            )
            for v in range(2)
        ]
        updated = []
        for i in range(MR):
            scalar = builder.load(builder.gep(rows[i], [column]))
            broadcast = builder.shuffle_vector(
                builder.insert_element(undef, scalar, ir.Constant(i32, 0)), undef, splat
            )
            for v in range(2):
                updated.append(builder.call(fma, [broadcast, b_vectors[v], sums[i * 2 + v]]))
        following = builder.add(step, ir.Constant(i64, 1))
        end = builder.basic_block
        step.add_incoming(following, end)
        for phi, value in zip(sums, updated, strict=True):
            phi.add_incoming(value, end)
        builder.cbranch(builder.icmp_signed("<", following, kc), loop, done)

        builder.position_at_end(done)
        results = []
        for value in updated:  # the phis first: LLVM wants them at the top of the block
            result = builder.phi(vector)
            result.add_incoming(zero, entry)
            result.add_incoming(value, end)
            results.append(result)
        targets = []
        for i in range(MR):
            row = builder.gep(c0, [builder.mul(ldc, ir.Constant(i64, i))])
            for v in range(2):
                place = builder.gep(row, [ir.Constant(i64, v * LANES)])
                targets.append(builder.bitcast(place, pointer))
        adding = builder.icmp_signed("!=", accumulate, ir.Constant(accumulate.type, 0))
        with builder.if_else(adding) as (then, otherwise):
            with then:
                for target, result in zip(targets, results, strict=True):
                    total = builder.fadd(builder.load(target, align=4), result)
                    builder.store(total, target, align=4)
            with otherwise:
                for target, result in zip(targets, results, strict=True):
                    builder.store(result, target, align=4)
        return context.get_dummy_value()

    return sig, codegen


@numba.njit(cache=True, nogil=True)
def _pack_a(a, at, rs, cs, rows, kc, panel, base):  # type: ignore[no-untyped-def]
    """Rows [0, rows) of the A block at `at` into panel[base + p*MR + i], zero-padded to MR."""
    if rs == 1:
        for p in range(kc):
            source, target = at + p * cs, base + p * MR
            for i in range(rows):
                panel[target + i] = a[source + i]
            for i in range(rows, MR):
                panel[target + i] = 0.0
    else:
        for i in range(rows):
            source = at + i * rs
            for p in range(kc):
                panel[base + p * MR + i] = a[source + p * cs]
        for p in range(kc):
            for i in range(rows, MR):
                panel[base + p * MR + i] = 0.0


@numba.njit(cache=True, nogil=True)
def _pack_b(b, at, rs, cs, cols, kc, panel, base):  # type: ignore[no-untyped-def]
    """Columns [0, cols) of the B block at `at` into panel[base + p*NR + j], zero-padded."""
    if cs == 1:
        for p in range(kc):
            source, target = at + p * rs, base + p * NR
            for j in range(cols):
                panel[target + j] = b[source + j]
            for j in range(cols, NR):
                panel[target + j] = 0.0
    else:
        for j in range(cols):
            source = at + j * cs
            for p in range(kc):
                panel[base + p * NR + j] = b[source + p * rs]
        for p in range(kc):
            for j in range(cols, NR):
                panel[base + p * NR + j] = 0.0


@numba.njit(cache=True, nogil=True)
def _rows(first, last, n, k, a, ao, ars, acs, b, bo, brs, bcs, c, co, ldc):  # type: ignore[no-untyped-def]
    """Rows [first, last) of one product C = A @ B (no batch)."""
    if k == 0:
        for i in range(first, last):
            c[co + i * ldc : co + i * ldc + n] = 0.0
        return
    pack_b = bcs != 1 or last - first >= PACK_B_ROWS
    stream_a = acs == 1
    a_panels = np.empty(MC * KC, np.float32)
    b_panels = np.empty(min(NC, n + NR - 1) // NR * NR * KC, np.float32)
    scratch = np.empty(MR * NR, np.float32)
    for jc in range(0, n, NC):
        nc = min(NC, n - jc)
        for pc in range(0, k, KC):
            kc = min(KC, k - pc)
            accumulate = pc > 0
            for jp in range(0, nc, NR):
                if pack_b or nc - jp < NR:
                    at = bo + pc * brs + (jc + jp) * bcs
                    _pack_b(b, at, brs, bcs, min(NR, nc - jp), kc, b_panels, jp * kc)
            for ic in range(first, last, MC):
                mc = min(MC, last - ic)
                if not stream_a:
                    for ip in range(0, mc, MR):
                        at = ao + (ic + ip) * ars + pc * acs
                        _pack_a(a, at, ars, acs, min(MR, mc - ip), kc, a_panels, ip * kc)
                for jp in range(0, nc, NR):
                    cols = min(NR, nc - jp)
                    if pack_b or cols < NR:
                        bm, b_at, b_rs = b_panels, jp * kc, NR
                    else:
                        bm, b_at, b_rs = b, bo + pc * brs + jc + jp, brs
                    for ip in range(0, mc, MR):
                        rows = min(MR, mc - ip)
                        row = ic + ip
                        if stream_a and rows == MR:
                            am, a_at, a_rs, a_cs = a, ao + row * ars + pc, ars, 1
                        elif stream_a:  # the last rows: pad them through a panel
                            _pack_a(a, ao + row * ars + pc, ars, 1, rows, kc, a_panels, 0)
                            am, a_at, a_rs, a_cs = a_panels, 0, 1, MR
                        else:
                            am, a_at, a_rs, a_cs = a_panels, ip * kc, 1, MR
                        c_at = co + row * ldc + jc + jp
                        if rows == MR and cols == NR:
                            _tile(
                                kc, am, a_at, a_rs, a_cs, bm, b_at, b_rs, c, c_at, ldc, accumulate
                            )
                            continue
                        _tile(kc, am, a_at, a_rs, a_cs, bm, b_at, b_rs, scratch, 0, NR, False)
                        for i in range(rows):
                            for j in range(cols):
                                if accumulate:
                                    c[c_at + i * ldc + j] += scratch[i * NR + j]
                                else:
                                    c[c_at + i * ldc + j] = scratch[i * NR + j]


@numba.njit(cache=True, nogil=True)
def _refused(a, b, c, dims):  # type: ignore[no-untyped-def]
    """1 where `sgemm` cannot run (see there), else 0."""
    batch, m, n, k = dims[0], dims[1], dims[2], dims[3]
    ao, sa, ars, acs = dims[4], dims[5], dims[6], dims[7]
    bo, sb, brs, bcs = dims[8], dims[9], dims[10], dims[11]
    co, sc = dims[12], dims[13]
    if a.strides[0] != 4 or b.strides[0] != 4 or c.strides[0] != 4:
        return 1
    last_a = ao + (batch - 1) * sa + (m - 1) * ars + (k - 1) * acs
    last_b = bo + (batch - 1) * sb + (k - 1) * brs + (n - 1) * bcs
    last_c = co + (batch - 1) * sc + m * n - 1
    if min(ao, bo, co) < 0 or last_a >= a.size or last_b >= b.size or last_c >= c.size:
        return 1
    c_start = c.ctypes.data
    c_end = c_start + 4 * c.size
    a_start, b_start = a.ctypes.data, b.ctypes.data
    if a_start < c_end and c_start < a_start + 4 * a.size:
        return 1
    if b_start < c_end and c_start < b_start + 4 * b.size:
        return 1
    return 0


@numba.njit(cache=True, nogil=True)
def sgemm_serial(a, b, c, dims):  # type: ignore[no-untyped-def]
    """`sgemm` as a compiled function: 0 when done, 1 when refused."""
    m, n, k = dims[1], dims[2], dims[3]
    if m <= 0 or n <= 0:
        return 0
    if _refused(a, b, c, dims):
        return 1
    for entry in range(dims[0]):
        _rows(
            0, m, n, k,
            a, dims[4] + entry * dims[5], dims[6], dims[7],
            b, dims[8] + entry * dims[9], dims[10], dims[11],
            c, dims[12] + entry * dims[13], n,
        )  # fmt: skip
    return 0


def sgemm_dims(
    batch: int,
    m: int,
    n: int,
    k: int,
    a_at: tuple[int, int, int, int],
    b_at: tuple[int, int, int, int],
    c_at: tuple[int, int],
) -> np.ndarray:
    """The shape record `sgemm` takes: `a_at` and `b_at` are (offset, batch stride, row stride,
    column stride) in elements, one of the two strides 1; `c_at` is (offset, batch stride) of
    row-major m x n outputs."""
    return np.array([batch, m, n, k, *a_at, *b_at, *c_at], dtype=np.int64)


def sgemm(a: np.ndarray, b: np.ndarray, c: np.ndarray, dims: np.ndarray) -> bool:
    """C[i] = A[i] @ B[i] for the float32 products that `dims` (see `sgemm_dims`) describes,
    on flat buffers, on one thread. False, with nothing written, where it cannot run: a buffer
    that is not contiguous, an operand beyond its buffer, or C sharing memory with A or B (the
    caller then takes the general path, which reports or copies). Output matrices of one call
    must not overlap each other."""
    return sgemm_serial(a, b, c, dims) == 0
