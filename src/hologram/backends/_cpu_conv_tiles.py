"""The register tiles of the cpu backend's implicit-GEMM convolution (`_cpu_conv`).

A tile computes a block of filters by `CONV_VECTORS` vectors of 16 output pixels: per step
p = (channel, dy, dx) of the product it broadcasts one weight of each filter and loads each
vector's input pixels at `offsets[p]` from the vector's base in the padded scratch, so the
patch matrix is never formed. A vector covers 16 consecutive pixels of one output row, or
(outputs 8 or 4 pixels wide) 2 or 4 whole output rows of one image, each row a masked load
and store, so that small planes waste no lanes. The tile adds the bias and writes Y (NCHW).

Tiles are 6 filters (24 accumulators, like `_cpu_direct`'s broadcast tile) or 4 (16): a
filter count is covered by tiles of 6 then of 4 so that no filter row is computed for
nothing where the count is even (32 filters: 6 x 4 + 4 x 2, not 6 x 6 of which 4 rows are
thrown away). Both run at the broadcast product's speed. Like `_cpu_direct`'s tiles they are
LLVM IR with explicit vectors and `llvm.fma`; masked loads and stores touch no memory in the
lanes they leave out.

`copy_rows` moves the rows of a plane into the scratch with masked vector loads and stores,
one or two per row of a small plane: a slice copy per row cost about ten times as much.
"""

from __future__ import annotations

import numba
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from hologram.backends._cpu_direct import _I32, _I64, LANES, ROWS, VECTORS, _Emit, _float32_arrays

CONV_ROWS = ROWS
"""Most filters per convolution tile (rows of C): 6 x 4 accumulators."""
CONV_SMALL_ROWS = 4
"""Filters per smaller tile, which covers what 6-filter tiles leave (4 x 4 accumulators)."""
CONV_VECTORS = VECTORS
"""Pixel vectors per convolution tile (a strip of up to `CONV_VECTORS * LANES` pixels)."""
CONV_EXACT = 8
"""Added to a tile kind (`conv_strips`) whose segments are all full."""
CONV_STRIP = 4 * CONV_VECTORS
"""int64 entries per strip in a convolution strip table: per vector its input base, output
base, segment count and segment width."""
_SMALL_TILES = (0, 2, 2, 1, 1, 0)
"""By filters % 6: how many 4-filter tiles end the filter loop (the rest are 6-filter tiles),
so that an even count is covered exactly and an odd one with one row to spare."""


def _add(builder, value, count: int):  # type: ignore[no-untyped-def]
    """`value` (an i64) plus the constant `count`."""
    return builder.add(value, ir.Constant(_I64, count))


def _conv_tile(segments: int, exact: bool = False, rows_max: int = CONV_ROWS):  # type: ignore[no-untyped-def]
    """The convolution tile as a Numba intrinsic: `rows_max` filters by `CONV_VECTORS`
    vectors of output pixels, each vector holding `segments` runs of `LANES // segments`
    lanes that lie in consecutive input and output rows."""
    span = LANES // segments
    exact = exact and segments > 1

    @intrinsic
    def tile(
        typingctx, k, w, w_at, w_rs, rows, x, offsets, strips, s_at, steps, y, y_at, ldy, bias
    ):  # type: ignore[no-untyped-def]  # noqa: E501
        """For i < rows, vector v < CONV_VECTORS, segment s < nseg_v, lane t < width_v:
        y[y_at + i*ldy + out_v + s*steps[1] + t] = bias[i] + sum_p w[w_at + i*w_rs + p] *
        x[offsets[p] + in_v + s*steps[0] + t], where (in_v, out_v, nseg_v, width_v) are
        strips[s_at + 4*v : s_at + 4*v + 4] (`bias` from its element w_at // w_rs)."""
        if not _float32_arrays(w, x, y, bias):
            return None
        sig = types.void(
            k, w, w_at, w_rs, rows, x, offsets, strips, s_at, steps, y, y_at, ldy, bias
        )

        def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
            emit = _Emit(context, builder, signature, args)
            k, _, w_at, w_rs, rows, _, _, _, s_at, _, _, y_at, ldy, _ = args
            w0, x0, y0 = emit.data(1), emit.data(5), emit.at(emit.data(10), y_at)
            table, step_table, offsets = emit.data(7), emit.data(9), emit.data(6)

            def entry(base, index):  # type: ignore[no-untyped-def]
                return builder.load(emit.at(base, index))

            step_in, step_out = entry(step_table, 0), entry(step_table, 1)
            lanes = ir.VectorType(_I32, LANES)
            within = ir.Constant(lanes, [lane % span for lane in range(LANES)])
            empty = ir.Constant(emit.mask_type, [0] * LANES)
            loads, stores = [], []  # per vector: (pointer, mask) of each segment
            for v in range(CONV_VECTORS):
                at = builder.add(s_at, ir.Constant(_I64, 4 * v))
                source, target = entry(table, at), entry(table, _add(builder, at, 1))
                count, width = (
                    entry(table, _add(builder, at, 2)),
                    entry(table, _add(builder, at, 3)),
                )
                spread = builder.shuffle_vector(
                    builder.insert_element(
                        ir.Constant(lanes, ir.Undefined),
                        builder.trunc(width, _I32),
                        ir.Constant(_I32, 0),
                    ),
                    ir.Constant(lanes, ir.Undefined),
                    ir.Constant(lanes, [0] * LANES),
                )
                in_row = builder.icmp_signed("<", within, spread)
                vector_loads, vector_stores = [], []
                for s in range(segments):
                    own = ir.Constant(emit.mask_type, [lane // span == s for lane in range(LANES)])
                    live = builder.icmp_signed(">", count, ir.Constant(_I64, s))
                    mask = builder.select(live, builder.and_(own, in_row), empty)
                    shift = ir.Constant(_I64, -s * span)
                    src = builder.add(
                        builder.add(source, builder.mul(step_in, ir.Constant(_I64, s))), shift
                    )
                    dst = builder.add(
                        builder.add(target, builder.mul(step_out, ir.Constant(_I64, s))), shift
                    )
                    vector_loads.append((emit.at(x0, src), mask))
                    vector_stores.append((emit.at(y0, dst), mask))
                loads.append(vector_loads)
                stores.append(vector_stores)
            last = builder.sub(rows, ir.Constant(_I64, 1))
            picks = []
            for i in range(rows_max):  # filters past `rows` repeat the last one: no stray reads
                row = ir.Constant(_I64, i)
                picks.append(builder.select(builder.icmp_signed(">", row, last), last, row))
            starts = [emit.at(w0, w_at, builder.mul(w_rs, pick)) for pick in picks]

            def step(p, sums):  # type: ignore[no-untyped-def]
                offset = builder.load(emit.at(offsets, p))
                vectors = []
                for vector_loads in loads:
                    if exact:
                        rows_at = [
                            emit.at(place, offset, s * span)
                            for s, (place, _) in enumerate(vector_loads)
                        ]
                        vectors.append(_rows_load(emit, rows_at, span))
                        continue
                    value = emit.zero
                    for place, mask in vector_loads:
                        pointer = builder.bitcast(emit.at(place, offset), emit.pointer)
                        value = builder.call(
                            emit.masked_load, [pointer, ir.Constant(_I32, 4), mask, value]
                        )
                    vectors.append(value)
                updated = []
                for i in range(rows_max):
                    scalar = emit.splat(builder.load(emit.at(starts[i], p)))
                    for v in range(CONV_VECTORS):
                        total = sums[i * CONV_VECTORS + v]
                        updated.append(builder.call(emit.fma, [scalar, vectors[v], total]))
                return updated

            sums = emit.loop(k, [emit.zero] * (rows_max * CONV_VECTORS), step, "conv")
            first = builder.sdiv(w_at, w_rs)
            for i in range(rows_max):
                keep = builder.icmp_signed("<", ir.Constant(_I64, i), rows)
                shift = emit.splat(builder.load(emit.at(emit.data(13), first, picks[i])))
                row = builder.mul(ldy, ir.Constant(_I64, i))
                for v in range(CONV_VECTORS):
                    value = builder.fadd(sums[i * CONV_VECTORS + v], shift)
                    for place, mask in stores[v]:
                        emit.store(value, emit.at(place, row), builder.select(keep, mask, empty))
            return context.get_dummy_value()

        return sig, codegen

    return tile


def _rows_load(emit: _Emit, places: list, span: int):  # type: ignore[no-untyped-def]
    """One vector of `span` consecutive floats at each of `places` (lane s * span + t from
    places[s] + t), by plain narrow loads joined with shuffles."""
    builder = emit.builder
    narrow = ir.VectorType(ir.FloatType(), span)
    parts = [builder.load(builder.bitcast(place, narrow.as_pointer()), align=4) for place in places]
    while len(parts) > 1:
        width = parts[0].type.count
        order = ir.Constant(ir.VectorType(_I32, 2 * width), list(range(2 * width)))
        parts = [
            builder.shuffle_vector(a, b, order)
            for a, b in zip(parts[::2], parts[1::2], strict=True)
        ]
    return parts[0]


@intrinsic
def copy_rows(typingctx, x, at, x_pitch, y, to, y_pitch, rows, columns):  # type: ignore[no-untyped-def]
    """y[to + r*y_pitch + t] = x[at + r*x_pitch + t] for r < rows, t < columns: each row by
    masked 16-lane loads and stores."""
    if not _float32_arrays(x, y):
        return None
    sig = types.void(x, at, x_pitch, y, to, y_pitch, rows, columns)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        emit = _Emit(context, builder, signature, args)
        _, at, x_pitch, _, to, y_pitch, rows, columns = args
        x0, y0 = emit.at(emit.data(0), at), emit.at(emit.data(3), to)
        lanes = ir.Constant(_I64, LANES)
        vectors = builder.sdiv(_add(builder, columns, LANES - 1), lanes)

        def row(r, _):  # type: ignore[no-untyped-def]
            src, dst = emit.at(x0, builder.mul(r, x_pitch)), emit.at(y0, builder.mul(r, y_pitch))

            def vector(v, _):  # type: ignore[no-untyped-def]
                offset = builder.mul(v, lanes)
                mask = emit.mask(builder.sub(columns, offset))
                emit.store(emit.load(emit.at(src, offset), mask), emit.at(dst, offset), mask)
                return []

            emit.loop(vectors, [], vector, "copy.vector")
            return []

        emit.loop(rows, [], row, "copy.row")
        return context.get_dummy_value()

    return sig, codegen


def _phase_copy(phases: int):  # type: ignore[no-untyped-def]
    """`copy_phases` for `phases` phases (2 to 4) as a Numba intrinsic."""

    @intrinsic
    def copy(typingctx, x, at, x_pitch, y, to, y_pitch, rows, count, phase_width):  # type: ignore[no-untyped-def]
        """y[to + r*y_pitch + (j % phases)*phase_width + j // phases] = x[at + r*x_pitch + j]
        for r < rows, j < count."""
        if not _float32_arrays(x, y):
            return None
        sig = types.void(x, at, x_pitch, y, to, y_pitch, rows, count, phase_width)

        def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
            emit = _Emit(context, builder, signature, args)
            _, at, x_pitch, _, to, y_pitch, rows, count, phase_width = args
            x0, y0 = emit.at(emit.data(0), at), emit.at(emit.data(3), to)
            group = LANES * phases
            blocks = builder.sdiv(_add(builder, count, group - 1), ir.Constant(_I64, group))
            mask_type = ir.VectorType(_I32, LANES)

            def row(r, _):  # type: ignore[no-untyped-def]
                src, dst = (
                    emit.at(x0, builder.mul(r, x_pitch)),
                    emit.at(y0, builder.mul(r, y_pitch)),
                )

                def block(b, _):  # type: ignore[no-untyped-def]
                    first = builder.mul(b, ir.Constant(_I64, group))
                    left = builder.sub(count, first)
                    vectors = [
                        emit.load(
                            emit.at(src, first, v * LANES),
                            emit.mask(builder.sub(left, ir.Constant(_I64, v * LANES))),
                        )
                        for v in range(phases)
                    ]
                    for f in range(phases):
                        # Lane t of phase f is element t * phases + f of the group: merge the
                        # vectors it spans one at a time, two-source shuffles throughout.
                        source = [(t * phases + f) // LANES for t in range(LANES)]
                        lane = [(t * phases + f) % LANES for t in range(LANES)]
                        value = vectors[source[0]]
                        for v in range(source[0] + 1, source[-1] + 1):
                            order = [
                                LANES + lane[t] if source[t] == v else t if source[t] < v else 0
                                for t in range(LANES)
                            ]
                            if v == source[0] + 1:  # the first merge also places the lanes
                                order = [
                                    LANES + lane[t] if source[t] == v else lane[t]
                                    for t in range(LANES)
                                ]
                            value = builder.shuffle_vector(
                                value, vectors[v], ir.Constant(mask_type, order)
                            )
                        if source[0] == source[-1]:
                            value = builder.shuffle_vector(
                                value, value, ir.Constant(mask_type, lane)
                            )
                        # Elements f, f + phases, ... of what is left of the row.
                        kept = builder.sdiv(
                            _add(builder, left, phases - 1 - f), ir.Constant(_I64, phases)
                        )
                        place = emit.at(
                            dst,
                            builder.mul(phase_width, ir.Constant(_I64, f)),
                            builder.mul(b, ir.Constant(_I64, LANES)),
                        )
                        emit.store(value, place, emit.mask(kept))
                    return []

                emit.loop(blocks, [], block, "phases.block")
                return []

            emit.loop(rows, [], row, "phases.row")
            return context.get_dummy_value()

        return sig, codegen

    return copy


copy_phases2, copy_phases3, copy_phases4 = _phase_copy(2), _phase_copy(3), _phase_copy(4)

_conv6_1, _conv6_2, _conv6_4 = _conv_tile(1), _conv_tile(2), _conv_tile(4)
_conv6_2x, _conv6_4x = _conv_tile(2, exact=True), _conv_tile(4, exact=True)
_conv4_1 = _conv_tile(1, rows_max=CONV_SMALL_ROWS)
_conv4_2x = _conv_tile(2, exact=True, rows_max=CONV_SMALL_ROWS)
_conv4_4x = _conv_tile(4, exact=True, rows_max=CONV_SMALL_ROWS)


@numba.njit(cache=True, nogil=True)
def small_tiles(kind, filters):  # type: ignore[no-untyped-def]
    """How many 4-filter tiles end the filter loop of `conv_strips` (`_SMALL_TILES`; none
    for the kinds of partial segments, which have no 4-filter tile)."""
    if kind != 1 and kind < CONV_EXACT:
        return 0
    return min(_SMALL_TILES[filters % CONV_ROWS], -(-filters // CONV_SMALL_ROWS))


@numba.njit(cache=True, nogil=True)
def conv_strips(kind, k, filters, w, x, offsets, strips, count, steps, y, y_at, ldy, bias):  # type: ignore[no-untyped-def]  # noqa: E501
    """Every filter of `w` (filters x k, row-major) over the first `count` strips of the
    strip table `strips` (see `_conv_tile`), into y from element y_at on. `kind` is the
    segments per vector (1, 2 or 4), plus `CONV_EXACT` when every segment is full
    (`LANES // segments` wide: plain narrow loads, which may read past a vector's last row).
    Strips outside, filter tiles inside: a strip's input stays in the L1 cache while every
    filter tile reads it."""
    large_end = filters - small_tiles(kind, filters) * CONV_SMALL_ROWS
    for strip in range(count):
        at = strip * CONV_STRIP
        f = 0
        while f < large_end:
            rows = min(CONV_ROWS, filters - f)
            w_at, out = f * k, y_at + f * ldy
            if kind == 1:
                _conv6_1(k, w, w_at, k, rows, x, offsets, strips, at, steps, y, out, ldy, bias)
            elif kind == 2:
                _conv6_2(k, w, w_at, k, rows, x, offsets, strips, at, steps, y, out, ldy, bias)
            elif kind == 4:
                _conv6_4(k, w, w_at, k, rows, x, offsets, strips, at, steps, y, out, ldy, bias)
            elif kind == 2 + CONV_EXACT:
                _conv6_2x(k, w, w_at, k, rows, x, offsets, strips, at, steps, y, out, ldy, bias)
            else:
                _conv6_4x(k, w, w_at, k, rows, x, offsets, strips, at, steps, y, out, ldy, bias)
            f += CONV_ROWS
        while f < filters:
            rows = min(CONV_SMALL_ROWS, filters - f)
            w_at, out = f * k, y_at + f * ldy
            if kind == 1:
                _conv4_1(k, w, w_at, k, rows, x, offsets, strips, at, steps, y, out, ldy, bias)
            elif kind == 2 + CONV_EXACT:
                _conv4_2x(k, w, w_at, k, rows, x, offsets, strips, at, steps, y, out, ldy, bias)
            else:
                _conv4_4x(k, w, w_at, k, rows, x, offsets, strips, at, steps, y, out, ldy, bias)
            f += CONV_SMALL_ROWS
