"""float32 products read where their operands lie, with no packing, for the cpu backend.

Two register-tiled kernels, each writing C once:

- **broadcast** (B row-major): a tile of up to `ROWS` rows of C and `WIDTH` columns (four
  16-lane vectors) held in registers; each step of k broadcasts one element of each row of A
  and multiplies it by a row of B. A may have any strides (it is read one element at a time).
  Column strips of B outside, row tiles inside: a strip is read by every row tile while it is
  still in the cache. On the AVX-512 hosts measured this beats the packed product of
  `_cpu_gemm` at every size, and NumPy's BLAS by about 2x (benchmarks/gemm_cpu.py).
- **dot** (B transposed: C = A @ W^T with W row-major, A's rows contiguous): each element of
  C is a dot product along k; a tile of up to `DOT_ROWS` rows of A and `DOT_COLS` rows of W
  keeps one 16-lane accumulator per pair, summed across lanes at the end by a tree of
  shuffles that leaves a row's `DOT_COLS` results side by side for one store. It wins for
  products with few rows (a vector times a weight matrix); for tall ones the packed product,
  which packs W once for many rows, does better.

Edges (columns past n, the last steps of k) use masked loads and stores, which touch no
memory in the lanes they leave out, so no tile reads or writes outside its operands. The
tiles are LLVM IR with explicit vectors and `llvm.fma`, like `_cpu_gemm._tile`. Compiled code
raises no NumPy floating-point warnings, so callers need no `np.errstate`.

Operands follow `_cpu_gemm.sgemm_dims`: flat buffers with element offsets and strides.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from hologram.backends._cpu_gemm import _refused

LANES = 16
"""float32 lanes of one 512-bit vector."""
VECTORS = 4
"""Vectors across a broadcast tile: four accumulator chains per row cover the FMA latency."""
WIDTH = VECTORS * LANES
"""Columns of C per broadcast tile."""
ROWS = 6
"""Most rows of a broadcast tile: 6 x 4 accumulators and 4 B vectors in 32 registers."""
DOT_COLS = 8
"""Rows of W (columns of C) per dot tile."""
DOT_ROWS = 2
"""Most rows of A per dot tile: 2 x 8 accumulators, 10 loads per 16 FMAs."""

_I32, _I64 = ir.IntType(32), ir.IntType(64)


class _Emit:
    """IR helpers for one tile: vector types, intrinsics, masks and pointers."""

    def __init__(self, context, builder, signature, args) -> None:  # type: ignore[no-untyped-def]
        self.context, self.builder = context, builder
        self.signature, self.args = signature, args
        self.vector = ir.VectorType(ir.FloatType(), LANES)
        self.pointer = self.vector.as_pointer()
        self.mask_type = ir.VectorType(ir.IntType(1), LANES)
        module = builder.module
        self.fma = cgutils.get_or_insert_function(
            module, ir.FunctionType(self.vector, [self.vector] * 3), f"llvm.fma.v{LANES}f32"
        )
        self.masked_load = cgutils.get_or_insert_function(
            module,
            ir.FunctionType(self.vector, [self.pointer, _I32, self.mask_type, self.vector]),
            f"llvm.masked.load.v{LANES}f32.p0",
        )
        self.zero = ir.Constant(self.vector, [0.0] * LANES)
        self.undef = ir.Constant(self.vector, ir.Undefined)

    def data(self, index: int):  # type: ignore[no-untyped-def]
        """The float pointer of array argument `index`."""
        array = self.context.make_array(self.signature.args[index])
        return array(self.context, self.builder, self.args[index]).data

    def at(self, base, *offsets):  # type: ignore[no-untyped-def]
        """`base` advanced by the sum of `offsets` (i64 values or ints) elements."""
        builder = self.builder
        for offset in offsets:
            if isinstance(offset, int):
                offset = ir.Constant(_I64, offset)
            base = builder.gep(base, [offset])
        return base

    def mask(self, count):  # type: ignore[no-untyped-def]
        """Lanes below `count` (an i64, any value): the lanes a vector at that place keeps."""
        builder = self.builder
        limit = builder.trunc(
            builder.select(
                builder.icmp_signed(">", count, ir.Constant(_I64, LANES)),
                ir.Constant(_I64, LANES),
                count,
            ),
            _I32,
        )
        lanes = ir.VectorType(_I32, LANES)
        spread = builder.shuffle_vector(
            builder.insert_element(ir.Constant(lanes, ir.Undefined), limit, ir.Constant(_I32, 0)),
            ir.Constant(lanes, ir.Undefined),
            ir.Constant(lanes, [0] * LANES),
        )
        return builder.icmp_signed("<", ir.Constant(lanes, list(range(LANES))), spread)

    def load(self, place, mask=None):  # type: ignore[no-untyped-def]
        """A vector at the float pointer `place`, through `mask` (zeros elsewhere) if given."""
        pointer = self.builder.bitcast(place, self.pointer)
        if mask is None:
            return self.builder.load(pointer, align=4)
        return self.builder.call(self.masked_load, [pointer, ir.Constant(_I32, 4), mask, self.zero])

    def store(self, value, place, mask) -> None:  # type: ignore[no-untyped-def]
        """The lanes of `value` that `mask` keeps, at the float pointer `place`."""
        kind = value.type
        function = cgutils.get_or_insert_function(
            self.builder.module,
            ir.FunctionType(
                ir.VoidType(),
                [kind, kind.as_pointer(), _I32, ir.VectorType(ir.IntType(1), kind.count)],
            ),
            f"llvm.masked.store.v{kind.count}f32.p0",
        )
        pointer = self.builder.bitcast(place, kind.as_pointer())
        self.builder.call(function, [value, pointer, ir.Constant(_I32, 4), mask])

    def splat(self, scalar):  # type: ignore[no-untyped-def]
        """A vector of `scalar` in every lane."""
        builder = self.builder
        first = builder.insert_element(self.undef, scalar, ir.Constant(_I32, 0))
        return builder.shuffle_vector(
            first, self.undef, ir.Constant(ir.VectorType(_I32, LANES), [0] * LANES)
        )

    def loop(self, count, sums, body, name: str):  # type: ignore[no-untyped-def]
        """Run `body(step, sums) -> sums` for step in [0, count) with the vectors `sums`
        carried in registers; the sums after the loop (the initial ones when count <= 0)."""
        builder = self.builder
        entry = builder.basic_block
        head = builder.append_basic_block(f"{name}.loop")
        done = builder.append_basic_block(f"{name}.done")
        builder.cbranch(builder.icmp_signed(">", count, ir.Constant(_I64, 0)), head, done)
        builder.position_at_end(head)
        step = builder.phi(_I64)
        step.add_incoming(ir.Constant(_I64, 0), entry)
        phis = []
        for value in sums:
            phi = builder.phi(value.type)
            phi.add_incoming(value, entry)
            phis.append(phi)
        updated = body(step, phis)
        following = builder.add(step, ir.Constant(_I64, 1))
        end = builder.basic_block
        step.add_incoming(following, end)
        for phi, value in zip(phis, updated, strict=True):
            phi.add_incoming(value, end)
        builder.cbranch(builder.icmp_signed("<", following, count), head, done)
        builder.position_at_end(done)
        results = []
        for first, value in zip(sums, updated, strict=True):
            result = builder.phi(value.type)
            result.add_incoming(first, entry)
            result.add_incoming(value, end)
            results.append(result)
        return results


def _float32_arrays(*arrays) -> bool:  # type: ignore[no-untyped-def]
    return all(isinstance(x, types.Array) and x.dtype == types.float32 for x in arrays)


def _broadcast_tile(rows: int):  # type: ignore[no-untyped-def]
    """The broadcast tile of `rows` rows as a Numba intrinsic (see the module docstring)."""

    @intrinsic
    def tile(typingctx, k, a, a_at, a_rs, a_cs, b, b_at, b_rs, cols, c, c_at, ldc):  # type: ignore[no-untyped-def]
        """C[c_at + i*ldc + j] = sum_p A[a_at + i*a_rs + p*a_cs] * B[b_at + p*b_rs + j] for
        i < rows, j < cols <= WIDTH."""
        if not _float32_arrays(a, b, c):
            return None
        sig = types.void(k, a, a_at, a_rs, a_cs, b, b_at, b_rs, cols, c, c_at, ldc)

        def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
            emit = _Emit(context, builder, signature, args)
            k, _, a_at, a_rs, a_cs, _, b_at, b_rs, cols, _, c_at, ldc = args
            a0, b0 = emit.at(emit.data(1), a_at), emit.at(emit.data(5), b_at)
            c0 = emit.at(emit.data(9), c_at)
            masks = [
                emit.mask(builder.sub(cols, ir.Constant(_I64, v * LANES))) for v in range(VECTORS)
            ]
            starts = [emit.at(a0, builder.mul(a_rs, ir.Constant(_I64, i))) for i in range(rows)]

            def step(p, sums):  # type: ignore[no-untyped-def]
                row = emit.at(b0, builder.mul(p, b_rs))
                vectors = [emit.load(emit.at(row, v * LANES), masks[v]) for v in range(VECTORS)]
                column = builder.mul(p, a_cs)
                updated = []
                for i in range(rows):
                    scalar = emit.splat(builder.load(emit.at(starts[i], column)))
                    for v in range(VECTORS):
                        total = sums[i * VECTORS + v]
                        updated.append(builder.call(emit.fma, [scalar, vectors[v], total]))
                return updated

            sums = emit.loop(k, [emit.zero] * (rows * VECTORS), step, "broadcast")
            for i in range(rows):
                row = emit.at(c0, builder.mul(ldc, ir.Constant(_I64, i)))
                for v in range(VECTORS):
                    emit.store(sums[i * VECTORS + v], emit.at(row, v * LANES), masks[v])
            return context.get_dummy_value()

        return sig, codegen

    return tile


def _reduce(emit: _Emit, sums: list):  # type: ignore[no-untyped-def]
    """The lane sums of `sums` (a power of two of 16-lane vectors, at most 16), as one vector
    of len(sums) lanes in their order. Pairs of vectors are folded into one that holds both
    halves' sums, then each vector into itself, halving the lanes per sum each time."""
    builder = emit.builder
    # Each vector carries labels: which sum each of its equal-width lane groups belongs to.
    parts = [(value, [label]) for label, value in enumerate(sums)]
    while len(parts) > 1:
        folded = []
        for (left, left_labels), (right, right_labels) in zip(parts[::2], parts[1::2], strict=True):
            width = LANES // len(left_labels)
            half = width // 2
            low, high, labels = [], [], []
            for group, (one, other) in enumerate(zip(left_labels, right_labels, strict=True)):
                start = group * width
                low += [start + t for t in range(half)] + [LANES + start + t for t in range(half)]
                high += [start + half + t for t in range(half)]
                high += [LANES + start + half + t for t in range(half)]
                labels += [one, other]
            mask_type = ir.VectorType(_I32, LANES)
            first = builder.shuffle_vector(left, right, ir.Constant(mask_type, low))
            second = builder.shuffle_vector(left, right, ir.Constant(mask_type, high))
            folded.append((builder.fadd(first, second), labels))
        parts = folded
    value, labels = parts[0]
    lanes = value.type.count
    while lanes > len(labels):  # fold each group onto itself; the last fold puts them in order
        width = lanes // len(labels)
        half = width // 2
        order = sorted(range(len(labels)), key=labels.__getitem__) if half == 1 else None
        groups = order if order is not None else range(len(labels))
        low = [group * width + t for group in groups for t in range(half)]
        high = [group * width + half + t for group in groups for t in range(half)]
        mask_type = ir.VectorType(_I32, len(low))
        first = builder.shuffle_vector(value, value, ir.Constant(mask_type, low))
        second = builder.shuffle_vector(value, value, ir.Constant(mask_type, high))
        value = builder.fadd(first, second)
        if order is not None:
            labels = sorted(labels)
        lanes = len(low)
    if labels != sorted(labels):  # only when no fold inside a vector was needed (16 sums)
        order = sorted(range(len(labels)), key=labels.__getitem__)
        mask_type = ir.VectorType(_I32, len(order))
        value = builder.shuffle_vector(value, value, ir.Constant(mask_type, order))
    return value


def _dot_tile(rows: int):  # type: ignore[no-untyped-def]
    """The dot tile of `rows` rows of A as a Numba intrinsic (see the module docstring)."""

    @intrinsic
    def tile(typingctx, k, a, a_at, a_rs, b, b_at, b_cs, cols, c, c_at, ldc):  # type: ignore[no-untyped-def]
        """C[c_at + i*ldc + j] = sum_p A[a_at + i*a_rs + p] * B[b_at + j*b_cs + p] for
        i < rows, j < cols (1 <= cols <= DOT_COLS)."""
        if not _float32_arrays(a, b, c):
            return None
        sig = types.void(k, a, a_at, a_rs, b, b_at, b_cs, cols, c, c_at, ldc)

        def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
            emit = _Emit(context, builder, signature, args)
            k, _, a_at, a_rs, _, b_at, b_cs, cols, _, c_at, ldc = args
            a0, b0 = emit.at(emit.data(1), a_at), emit.at(emit.data(4), b_at)
            c0 = emit.at(emit.data(8), c_at)
            last = builder.sub(cols, ir.Constant(_I64, 1))
            starts_a = [emit.at(a0, builder.mul(a_rs, ir.Constant(_I64, i))) for i in range(rows)]
            starts_b = []
            for j in range(DOT_COLS):  # rows of W past cols repeat the last one: no stray reads
                row = ir.Constant(_I64, j)
                row = builder.select(builder.icmp_signed(">", row, last), last, row)
                starts_b.append(emit.at(b0, builder.mul(b_cs, row)))

            def accumulate(place, sums, mask):  # type: ignore[no-untyped-def]
                left = [emit.load(emit.at(start, place), mask) for start in starts_a]
                right = [emit.load(emit.at(start, place), mask) for start in starts_b]
                return [
                    builder.call(emit.fma, [left[i], right[j], sums[i * DOT_COLS + j]])
                    for i in range(rows)
                    for j in range(DOT_COLS)
                ]

            blocks = builder.sdiv(k, ir.Constant(_I64, LANES))
            sums = emit.loop(
                blocks,
                [emit.zero] * (rows * DOT_COLS),
                lambda step, sums: accumulate(
                    builder.mul(step, ir.Constant(_I64, LANES)), sums, None
                ),
                "dot",
            )
            done = builder.mul(blocks, ir.Constant(_I64, LANES))
            sums = accumulate(done, sums, emit.mask(builder.sub(k, done)))
            keep = emit.mask(cols)
            keep = builder.shuffle_vector(
                keep, keep, ir.Constant(ir.VectorType(_I32, DOT_COLS), list(range(DOT_COLS)))
            )
            for i in range(rows):
                total = _reduce(emit, sums[i * DOT_COLS : (i + 1) * DOT_COLS])
                emit.store(total, emit.at(c0, builder.mul(ldc, ir.Constant(_I64, i))), keep)
            return context.get_dummy_value()

        return sig, codegen

    return tile


_broadcast1, _broadcast2, _broadcast3 = _broadcast_tile(1), _broadcast_tile(2), _broadcast_tile(3)
_broadcast4, _broadcast5, _broadcast6 = _broadcast_tile(4), _broadcast_tile(5), _broadcast_tile(6)
_dot1, _dot2 = _dot_tile(1), _dot_tile(2)


@numba.njit(cache=True, nogil=True)
def _broadcast_product(m, n, k, a, ao, ars, acs, b, bo, brs, c, co):  # type: ignore[no-untyped-def]
    """C = A @ B for one batch entry, B row-major. Column strips outside, row tiles inside: a
    strip of B is read by every row tile while it is still in the cache."""
    for j in range(0, n, WIDTH):
        cols = min(WIDTH, n - j)
        for i in range(0, m, ROWS):
            rows = min(ROWS, m - i)
            a_at, b_at, c_at = ao + i * ars, bo + j, co + i * n + j
            if rows == 6:
                _broadcast6(k, a, a_at, ars, acs, b, b_at, brs, cols, c, c_at, n)
            elif rows == 5:
                _broadcast5(k, a, a_at, ars, acs, b, b_at, brs, cols, c, c_at, n)
            elif rows == 4:
                _broadcast4(k, a, a_at, ars, acs, b, b_at, brs, cols, c, c_at, n)
            elif rows == 3:
                _broadcast3(k, a, a_at, ars, acs, b, b_at, brs, cols, c, c_at, n)
            elif rows == 2:
                _broadcast2(k, a, a_at, ars, acs, b, b_at, brs, cols, c, c_at, n)
            else:
                _broadcast1(k, a, a_at, ars, acs, b, b_at, brs, cols, c, c_at, n)


@numba.njit(cache=True, nogil=True)
def _dot_product(m, n, k, a, ao, ars, b, bo, bcs, c, co):  # type: ignore[no-untyped-def]
    """C = A @ W^T for one batch entry (A's and W's rows contiguous). Rows of W outside: a
    block of them is read by every row tile of A while it is still in the cache."""
    for j in range(0, n, DOT_COLS):
        cols = min(DOT_COLS, n - j)
        for i in range(0, m, DOT_ROWS):
            a_at, b_at, c_at = ao + i * ars, bo + j * bcs, co + i * n + j
            if m - i >= 2:
                _dot2(k, a, a_at, ars, b, b_at, bcs, cols, c, c_at, n)
            else:
                _dot1(k, a, a_at, ars, b, b_at, bcs, cols, c, c_at, n)


@numba.njit(cache=True, nogil=True)
def direct(a, b, c, dims):  # type: ignore[no-untyped-def]
    """`direct_product` as a compiled function: 0 when done, 1 when refused."""
    batch, m, n, k = dims[0], dims[1], dims[2], dims[3]
    if m <= 0 or n <= 0:
        return 0
    acs, brs, bcs = dims[7], dims[10], dims[11]
    dot = bcs != 1
    if (dot and (brs != 1 or acs != 1)) or _refused(a, b, c, dims):
        return 1
    for entry in range(batch):
        ao, bo, co = (
            dims[4] + entry * dims[5],
            dims[8] + entry * dims[9],
            dims[12] + entry * dims[13],
        )
        if dot:
            _dot_product(m, n, k, a, ao, dims[6], b, bo, bcs, c, co)
        else:
            _broadcast_product(m, n, k, a, ao, dims[6], acs, b, bo, brs, c, co)
    return 0


def direct_product(a: np.ndarray, b: np.ndarray, c: np.ndarray, dims: np.ndarray) -> bool:
    """C[i] = A[i] @ B[i] for the float32 products that `dims` (`_cpu_gemm.sgemm_dims`)
    describes, on one thread. B must be row-major (column stride 1), or transposed (row
    stride 1) with A's rows contiguous. False, with nothing written, where it cannot run:
    another layout, or what `_cpu_gemm.sgemm` refuses."""
    return direct(a, b, c, dims) == 0
