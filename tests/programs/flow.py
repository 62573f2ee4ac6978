"""Corpus cases for control flow, shared memory, barriers, reductions, atomics and pools."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from hologram.isa import Builder, DType, LaunchConfig, Op
from programs.case import Case
from programs.compute import as_ints, tmod, wrap


def _guarded_lane(b: Builder, count) -> object:
    """The lane's global x id; lanes at or past `count` exit."""
    i = b.global_id()
    with b.if_(b.setp("ge", i, count)):
        b.exit()
    return i


# ---------------------------------------------------------------- divergent control flow
def _if_else_case() -> Case:
    n = 333

    def build():
        b = Builder("if_else")
        x = b.buffer("x", "f32")
        y = b.buffer("y", "f32", access="write")
        i = _guarded_lane(b, b.scalar("n", "u32"))
        v = b.ldg(x, i)
        out = b.reg("f32")
        with b.if_(b.setp("gt", v, 0.0)):
            b.assign(out, b.unary(Op.SQRT, v))
            with b.if_(b.setp("gt", v, 1.0)):
                b.assign(out, b.mul(out, 2.0))
            b.else_()
            b.assign(out, b.unary(Op.NEG, v))
            with b.if_(b.setp("lt", v, -1.0)):
                b.assign(out, b.add(out, 10.0))
                b.else_()
                b.assign(out, b.sub(out, 10.0))
        b.stg(y, i, out)
        return b.build()

    def make_args(rng: np.random.Generator) -> list:
        return [rng.uniform(-3, 3, n).astype(np.float32), np.zeros(n, np.float32), n]

    def expected(args: list) -> list[np.ndarray]:
        v = args[0].astype(np.float64)
        pos = np.sqrt(np.abs(v)) * np.where(v > 1, 2.0, 1.0)
        neg = -v + np.where(v < -1, 10.0, -10.0)
        return [np.where(v > 0, pos, neg)]

    return Case("if_else", build, make_args, LaunchConfig.for_elements(n, 64), [1], expected)


def _nested_loops_case() -> Case:
    n = 200

    def build():
        b = Builder("nested_loops")
        x = b.buffer("x", "i32")
        y = b.buffer("y", "i32", access="write")
        i = _guarded_lane(b, b.scalar("n", "u32"))
        acc = b.mov(0, "i32")
        limit = b.add(b.mod(b.ldg(x, i), 9), 2)
        with b.range(0, limit) as j:
            with b.if_(b.setp("eq", j, 6)):
                b.break_()
            with b.if_(b.setp("eq", b.mod(j, 3), 1)):
                b.continue_()
            with b.range(0, j) as k:
                with b.if_(b.setp("eq", k, 4)):
                    b.break_()
                b.assign(acc, b.add(acc, b.mad(j, 10, k)))
            b.assign(acc, b.add(acc, 1))
        b.stg(y, i, acc)
        return b.build()

    def make_args(rng: np.random.Generator) -> list:
        return [rng.integers(0, 100, n).astype(np.int32), np.full(n, -1, np.int32), n]

    def expected(args: list) -> list[np.ndarray]:
        out = []
        for value in args[0]:
            acc = 0
            for j in range(int(value) % 9 + 2):
                if j == 6:
                    break
                if j % 3 == 1:
                    continue
                for k in range(j):
                    if k == 4:
                        break
                    acc += j * 10 + k
                acc += 1
            out.append(acc)
        return [np.array(out, np.int32)]

    return Case("nested_loops", build, make_args, LaunchConfig.for_elements(n, 32), [1], expected)


def _exit_in_loop_case() -> Case:
    n = 250

    def build():
        b = Builder("exit_in_loop")
        x = b.buffer("x", "i32")
        y = b.buffer("y", "i32", access="write")
        z = b.buffer("z", "i32", access="write")
        i = _guarded_lane(b, b.scalar("n", "u32"))
        acc = b.ldg(x, i)
        count = b.mov(0, "i32")
        with b.loop():
            b.assign(acc, b.mad(acc, 3, 1))
            with b.if_(b.setp("eq", b.mod(acc, 7), 0)):
                b.stg(y, i, acc)
                b.exit()
            b.assign(count, b.add(count, 1))
            with b.if_(b.setp("ge", count, 20)):
                b.break_()
        b.stg(y, i, b.unary(Op.NEG, count))
        b.stg(z, i, count)
        return b.build()

    def make_args(rng: np.random.Generator) -> list:
        x = rng.integers(-(2**31), 2**31, n, dtype=np.int64).astype(np.int32)
        x[: n // 2] = rng.integers(-1000, 1000, n // 2)
        return [x, np.full(n, -99, np.int32), np.full(n, -99, np.int32), n]

    def expected(args: list) -> list[np.ndarray]:
        ys, zs = [], []
        for value in as_ints(args[0]):
            acc, count, y, z = int(value), 0, None, -99
            while True:
                acc = int(wrap(np.array([acc * 3 + 1], dtype=object), "i32")[0])
                if tmod(acc, 7) == 0:
                    y = acc
                    break
                count += 1
                if count >= 20:
                    y, z = -count, count
                    break
            ys.append(y)
            zs.append(z)
        return [np.array(ys, np.int32), np.array(zs, np.int32)]

    config = LaunchConfig.for_elements(n, 64)
    return Case("exit_in_loop", build, make_args, config, [1, 2], expected)


def _collatz_case() -> Case:
    n = 300
    cap = 150

    def build():
        b = Builder("collatz")
        x = b.buffer("x", "u32")
        y = b.buffer("y", "u32", access="write")
        i = _guarded_lane(b, b.scalar("n", "u32"))
        v = b.ldg(x, i)
        steps = b.mov(0, "u32")
        with b.loop():
            with b.if_(b.setp("eq", v, 1)):
                b.break_()
            with b.if_(b.setp("eq", b.binary(Op.AND, v, 1), 0)):
                b.assign(v, b.binary(Op.SHR, v, 1))
                b.else_()
                b.assign(v, b.mad(v, 3, 1))
            b.assign(steps, b.add(steps, 1))
            with b.if_(b.setp("ge", steps, cap)):
                b.break_()
        b.stg(y, i, steps)
        return b.build()

    def make_args(rng: np.random.Generator) -> list:
        return [rng.integers(1, 1000, n).astype(np.uint32), np.zeros(n, np.uint32), n]

    def expected(args: list) -> list[np.ndarray]:
        out = []
        for value in args[0]:
            v, steps = int(value), 0
            while v != 1 and steps < cap:
                v = v // 2 if v % 2 == 0 else 3 * v + 1
                steps += 1
            out.append(steps)
        return [np.array(out, np.uint32)]

    return Case("collatz", build, make_args, LaunchConfig.for_elements(n, 128), [1], expected)


# ---------------------------------------------------------------- shared memory and barriers
def _block_reverse_case() -> Case:
    block, grid = 64, 4

    def build():
        b = Builder("block_reverse")
        x = b.buffer("x", "f32")
        y = b.buffer("y", "f32", access="write")
        tile = b.shared("f32", block)
        lane = b.sreg("lane_id")
        i = b.global_id()
        b.sts(tile, lane, b.ldg(x, i))
        b.barrier()
        b.stg(y, i, b.lds(tile, b.sub(block - 1, lane)))
        return b.build()

    def make_args(rng: np.random.Generator) -> list:
        size = block * grid
        return [rng.standard_normal(size).astype(np.float32), np.zeros(size, np.float32)]

    def expected(args: list) -> list[np.ndarray]:
        return [args[0].reshape(grid, block)[:, ::-1].reshape(-1)]

    return Case("block_reverse", build, make_args, LaunchConfig(grid, block), [1], expected)


def _tile_transpose_case() -> Case:
    tile_size, tiles = 8, (3, 2)
    width, height = tile_size * tiles[0], tile_size * tiles[1]

    def build():
        b = Builder("tile_transpose")
        x = b.buffer("x", "i16")
        y = b.buffer("y", "i16", access="write")
        tile = b.shared("i16", tile_size * tile_size)
        lx, ly = b.sreg("lane_id", 0), b.sreg("lane_id", 1)
        gx, gy = b.global_id(0), b.global_id(1)
        b.sts(tile, b.mad(ly, tile_size, lx), b.ldg(x, b.mad(gy, width, gx)))
        b.barrier()
        # Each tile is transposed in place within its block: out[ty, tx] = in[tx, ty].
        value = b.lds(tile, b.mad(lx, tile_size, ly))
        b.stg(y, b.mad(gy, width, gx), value)
        return b.build()

    def make_args(rng: np.random.Generator) -> list:
        size = width * height
        return [rng.integers(-999, 999, size).astype(np.int16), np.zeros(size, np.int16)]

    def expected(args: list) -> list[np.ndarray]:
        grid = args[0].reshape(tiles[1], tile_size, tiles[0], tile_size)
        return [grid.transpose(0, 3, 2, 1).reshape(-1)]

    config = LaunchConfig(tiles, (tile_size, tile_size))
    return Case("tile_transpose", build, make_args, config, [1], expected)


def _shared_tree_sum_case() -> Case:
    block, grid = 128, 5

    def build():
        b = Builder("shared_tree_sum")
        x = b.buffer("x", "f32")
        out = b.buffer("out", "f32", access="write")
        tile = b.shared("f32", block)
        lane = b.sreg("lane_id")
        b.sts(tile, lane, b.ldg(x, b.global_id()))
        stride = b.mov(block // 2, "u32")
        with b.loop():
            b.barrier()
            with b.if_(b.setp("lt", lane, stride)):
                total = b.add(b.lds(tile, lane), b.lds(tile, b.add(lane, stride)))
                b.sts(tile, lane, total)
            b.assign(stride, b.binary(Op.SHR, stride, 1))
            with b.if_(b.setp("eq", stride, 0)):
                b.break_()
        b.barrier()
        with b.if_(b.setp("eq", lane, 0)):
            b.stg(out, b.sreg("block_id"), b.lds(tile, 0))
        return b.build()

    def make_args(rng: np.random.Generator) -> list:
        return [rng.uniform(-1, 1, block * grid).astype(np.float32), np.zeros(grid, np.float32)]

    def expected(args: list) -> list[np.ndarray]:
        return [args[0].astype(np.float64).reshape(grid, block).sum(axis=1)]

    config = LaunchConfig(grid, block)
    return Case("shared_tree_sum", build, make_args, config, [1], expected, atol=1e-5)


# ---------------------------------------------------------------- block reductions
_REDUCERS: dict[str, Callable[[list[int] | np.ndarray], object]] = {
    "add": lambda v: sum(v),
    "mul": lambda v: math.prod(v),
    "min": lambda v: min(v),
    "max": lambda v: max(v),
}


def _reduce_case(op: str, dtype: str, n: int, block: int = 96) -> Case:
    name = f"reduce_{op}_{dtype}"
    grid = -(-n // block)
    dt = DType.of(dtype)

    def build():
        b = Builder(name)
        x = b.buffer("x", dtype)
        out = b.buffer("out", dtype, access="write")
        i = _guarded_lane(b, b.scalar("n", "u32"))
        total = b.reduce(op, b.ldg(x, i))
        with b.if_(b.setp("eq", b.sreg("lane_id"), 0)):
            b.stg(out, b.sreg("block_id"), total)
        return b.build()

    def make_args(rng: np.random.Generator) -> list:
        if dt.is_float:
            low, high = (0.9, 1.1) if op == "mul" else (-4, 4)
            x = rng.uniform(low, high, n)
            if op == "max":
                x[block + 3] = np.nan
        else:
            info = np.iinfo(dt.numpy)
            x = rng.integers(-3 if info.min < 0 else 0, 4, n) if op == "mul" else None
            if x is None:
                x = rng.integers(int(info.min), int(info.max), n, endpoint=True, dtype=dt.numpy)
        return [x.astype(dt.numpy), np.zeros(grid, dt.numpy), n]

    def expected(args: list) -> list[np.ndarray]:
        x = args[0]
        chunks = [x[g * block : min(n, (g + 1) * block)] for g in range(grid)]
        if dt.is_float:
            fold = {"add": np.sum, "mul": np.prod, "min": np.min, "max": np.max}[op]
            return [np.array([fold(c.astype(np.float64)) for c in chunks])]
        totals = [_REDUCERS[op]([int(v) for v in c]) for c in chunks]
        return [wrap(np.array(totals, dtype=object), dtype)]

    rtol = 1e-4 if dt is DType.F32 else None
    config = LaunchConfig(grid, block)
    return Case(name, build, make_args, config, [1], expected, rtol=rtol)


# ---------------------------------------------------------------- atomics
def _atomic_histogram_case() -> Case:
    n, bins = 1000, 16

    def build():
        b = Builder("atomic_histogram")
        x = b.buffer("x", "u32")
        hist = b.buffer("hist", "u32", access="readwrite")
        i = _guarded_lane(b, b.scalar("n", "u32"))
        b.atom("add", hist, b.mod(b.ldg(x, i), bins), 1)
        return b.build()

    def make_args(rng: np.random.Generator) -> list:
        return [rng.integers(0, 2**32, n, dtype=np.uint32), np.zeros(bins, np.uint32), n]

    def expected(args: list) -> list[np.ndarray]:
        return [np.bincount(args[0] % bins, minlength=bins).astype(np.uint32)]

    config = LaunchConfig.for_elements(n, 128)
    return Case("atomic_histogram", build, make_args, config, [1], expected)


def _atomic_min_max_case() -> Case:
    n, bins = 500, 8

    def build():
        b = Builder("atomic_min_max")
        idx = b.buffer("idx", "u32")
        ints = b.buffer("ints", "i32")
        floats = b.buffer("floats", "f32")
        mins = b.buffer("mins", "i32", access="readwrite")
        maxs = b.buffer("maxs", "f32", access="readwrite")
        sums = b.buffer("sums", "f32", access="readwrite")
        i = _guarded_lane(b, b.scalar("n", "u32"))
        slot = b.ldg(idx, i)
        value = b.ldg(floats, i)
        b.atom("min", mins, slot, b.ldg(ints, i))
        b.atom("max", maxs, slot, value)
        b.atom("add", sums, slot, value)
        return b.build()

    def make_args(rng: np.random.Generator) -> list:
        return [
            rng.integers(0, bins, n).astype(np.uint32),
            rng.integers(-(2**31), 2**31, n, dtype=np.int64).astype(np.int32),
            rng.uniform(-1, 1, n).astype(np.float32),
            np.full(bins, 2**31 - 1, np.int32),
            np.full(bins, -np.inf, np.float32),
            np.zeros(bins, np.float32),
            n,
        ]

    def expected(args: list) -> list[np.ndarray]:
        idx, ints, floats = args[0], args[1], args[2].astype(np.float64)
        mins = np.array([ints[idx == k].min(initial=2**31 - 1) for k in range(bins)])
        maxs = np.array([floats[idx == k].max(initial=-np.inf) for k in range(bins)])
        sums = np.array([floats[idx == k].sum() for k in range(bins)])
        return [mins.astype(np.int32), maxs, sums]

    config = LaunchConfig.for_elements(n, 64)
    return Case("atomic_min_max", build, make_args, config, [3, 4, 5], expected, atol=1e-5)


def _atomic_old_values_case() -> Case:
    """Each lane owns one slot, so the old values do not depend on the order of lanes."""
    n = 300

    def build():
        b = Builder("atomic_old_values")
        x = b.buffer("x", "i64")
        slots = b.buffer("slots", "i64", access="readwrite")
        counters = b.buffer("counters", "u16", access="readwrite")
        old_slots = b.buffer("old_slots", "i64", access="write")
        old_counters = b.buffer("old_counters", "u16", access="write")
        i = _guarded_lane(b, b.scalar("n", "u32"))
        b.stg(old_slots, i, b.atom("exch", slots, i, b.ldg(x, i), want_old=True))
        b.stg(old_counters, i, b.atom("add", counters, i, 40000, want_old=True))
        return b.build()

    def make_args(rng: np.random.Generator) -> list:
        return [
            rng.integers(-(2**62), 2**62, n),
            rng.integers(-(2**62), 2**62, n),
            rng.integers(0, 2**16, n).astype(np.uint16),
            np.zeros(n, np.int64),
            np.zeros(n, np.uint16),
            n,
        ]

    def expected(args: list) -> list[np.ndarray]:
        counters = wrap(as_ints(args[2]) + 40000, "u16")
        return [args[0], counters, args[1], args[2]]

    config = LaunchConfig.for_elements(n, 128)
    return Case("atomic_old_values", build, make_args, config, [1, 2, 3, 4], expected)


# ---------------------------------------------------------------- pools
def _pool_case(dtype: str) -> Case:
    n = 257
    name = f"pool_{dtype}"

    def build():
        b = Builder(name)
        pool = b.pool("pool", dtype)
        i = _guarded_lane(b, b.scalar("n", "u32"))
        value = b.pool_ld(pool, i)
        b.pool_st(pool, b.add(i, n), b.mad(value, 3, 1))
        b.fence()
        return b.build()

    def make_args(rng: np.random.Generator) -> list:
        data = np.zeros(2 * n, DType.of(dtype).numpy)
        if DType.of(dtype).is_float:
            data[:n] = rng.uniform(-10, 10, n)
        else:
            data[:n] = rng.integers(-(2**15), 2**15, n)
        return [data, n]

    def expected(args: list) -> list[np.ndarray]:
        data = args[0]
        if DType.of(dtype).is_float:
            head = data[:n].astype(np.float64)
            return [np.concatenate([head, head * 3 + 1])]
        tail = wrap(as_ints(data[:n]) * 3 + 1, dtype)
        return [np.concatenate([data[:n], tail])]

    return Case(name, build, make_args, LaunchConfig.for_elements(n, 64), [0], expected)


def _all_cases() -> list[Case]:
    cases = [
        _if_else_case(),
        _nested_loops_case(),
        _exit_in_loop_case(),
        _collatz_case(),
        _block_reverse_case(),
        _tile_transpose_case(),
        _shared_tree_sum_case(),
        _reduce_case("add", "f32", 500),
        _reduce_case("add", "f16", 300),
        _reduce_case("add", "i32", 480),
        _reduce_case("min", "i32", 500),
        _reduce_case("min", "f32", 200),
        _reduce_case("max", "f64", 400),
        _reduce_case("max", "u8", 300),
        _reduce_case("mul", "i64", 500),
        _reduce_case("mul", "f32", 300, block=32),
        _atomic_histogram_case(),
        _atomic_min_max_case(),
        _atomic_old_values_case(),
        _pool_case("f32"),
        _pool_case("i16"),
    ]
    return cases


FLOW_CASES: list[Case] = _all_cases()
