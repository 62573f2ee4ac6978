"""The cuda backend against the GPU's ceilings and against CuPy and PyTorch, in one run.

    python benchmarks/gpu.py [--sections copy,elementwise,variants,reduce,holotensor,matmul,models]
                             [--mib 256]
                             [--repeats 20] [--models mlp,resnet,bert,gpt] [--batches 1,32]
                             [--torch-compile]

Every time is the median of `--repeats` samples taken with CUDA events after a warm-up.
- copy: the device-to-device copy of `--mib` MiB (cudaMemcpy), the bandwidth ceiling, counting
  bytes read plus bytes written;
- elementwise: `hologram.ops` add and gelu, and a fused chain written in the kernel language,
  on float32 arrays of `--mib` MiB each, as a fraction of the copy's bandwidth (target 0.85);
  "ops" rows time `Prepared.run` (the executor's launch path on the host included), "bound"
  rows the same launches bound once (`backend.bind_launch`): the device's share alone;
- variants: the CUDA C that `ops.add` renders to at 1, 2, 4 and 8 lockstep lanes per thread
  (4 is what the renderer picks), and changed by hand (`__restrict__` on its pointers,
  `__launch_bounds__`, other block sizes), to see what the renderer and the launch gain alone;
- reduce: a grid-stride block-sum kernel and `hologram.ops` sum, max and mean (whole arrays,
  rows, and columns: a leading axis over wide and narrow rows, a middle axis), bytes read over
  time as a fraction of the copy's bandwidth (target 0.80), as "ops" and "bound" rows;
- holotensor: the BitPlane reconstruction kernel (int16 codes and fp16 scales in, float32
  weights out) as a fraction of the copy's bandwidth, and `reconstruct_on` end to end (host
  unpacking, the copy in, the kernel) against the NumPy decoder, in weights made per second;
- matmul: the MATMUL intrinsic (cuBLAS) against `cupy.matmul` and `torch.matmul` for float16,
  bfloat16 and float32 (TF32 off everywhere; target within 1.1x);
- models: the end-to-end test models (`tests/models/data/*.onnx`) on the cuda backend against
  the same PyTorch modules (`tests/models/model_zoo.py`) in eager mode on the same GPU, at each
  batch size; hologram's output is checked against onnxruntime on the CPU. hologram runs each
  plan as one captured CUDA graph ("graph") and step by step (`HOLOGRAM_CUDA_GRAPHS=0`,
  "steps"), each timed two ways: "dev" feeds device Buffers made once and keeps the outputs
  on the device (`run(..., as_buffers=True)`), as PyTorch's CUDA tensors do: the like-for-like
  figure, whose ratios the targets are about; "host" feeds NumPy arrays and returns NumPy
  arrays (copies in and out and a wait for the device in every run).
  `--torch-compile` adds `torch.compile(mode="reduce-overhead")` (CUDA graphs too) as a peer.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

import hologram
import hologram as hg

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "models" / "data"


def gpu_ms(call: Callable[[], Any], repeats: int, warmup: int = 3) -> float:
    """Median milliseconds of `call` between two CUDA events on the current stream."""
    import cupy

    for _ in range(warmup):
        call()
    cupy.cuda.get_current_stream().synchronize()
    start, end = cupy.cuda.Event(), cupy.cuda.Event()
    samples = []
    for _ in range(repeats):
        start.record()
        call()
        end.record()
        end.synchronize()
        samples.append(cupy.cuda.get_elapsed_time(start, end))
    return statistics.median(samples)


def bound(ex: hologram.Executor, prepared: Any) -> Callable[[], None]:
    """The launches of a prepared op, each bound once (`backend.bind_launch`), as one call."""
    calls = []
    for launch in prepared.launches:
        natives = [a.native() if hasattr(a, "native") else a for a in launch.args]
        calls.append(ex.backend.bind_launch(launch.program, launch.config, natives))

    def run() -> None:
        for call in calls:
            call()

    return run


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    """Print a plain-text table (kept plain so that logs read well)."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n## {title}")
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


# ---------------------------------------------------------------- kernels of the benchmark
@hg.kernel
def fused_chain(x: hg.Array[hg.float32], y: hg.Array[hg.float32], out: hg.Array[hg.float32],
                n: hg.uint32):  # fmt: skip
    """out = tanh(1.5 * x + y) * x + sigmoid(y): five ops in one pass."""
    i = hg.uint32(hg.global_id())
    if i < n:
        a = x[i]
        b = y[i]
        out[i] = hg.tanh(a * 1.5 + b) * a + hg.sigmoid(b)


@hg.kernel
def fused_chain_strided(x: hg.Array[hg.float32], y: hg.Array[hg.float32],
                        out: hg.Array[hg.float32], n: hg.uint32):  # fmt: skip
    """The fused chain over a grid-stride loop: each lane does many elements."""
    i = hg.global_id()
    stride = hg.grid_dim() * hg.block_dim()
    while i < n:
        a = x[i]
        b = y[i]
        out[i] = hg.tanh(a * 1.5 + b) * a + hg.sigmoid(b)
        i += stride


@hg.kernel
def block_sum(x: hg.Array[hg.float32], out: hg.Array[hg.float32], n: hg.uint32):
    """out[0] += sum(x): grid-stride partial sums, a block sum, one atomic per block."""
    s = hg.float32(0.0)
    i = hg.global_id()
    stride = hg.grid_dim() * hg.block_dim()
    while i < n:
        s += x[i]
        i += stride
    total = hg.block_sum(s)
    if hg.lane_id() == 0:
        hg.atomic_add(out, 0, total)


# ---------------------------------------------------------------- sections
def bench_copy(mib: int, repeats: int) -> float:
    import cupy

    nbytes = mib << 20
    src, dst = cupy.ones(nbytes, np.uint8), cupy.empty(nbytes, np.uint8)
    ms = gpu_ms(lambda: dst.data.copy_from_device_async(src.data, nbytes), repeats)
    gbs = 2 * nbytes / ms / 1e6
    table(
        "device-to-device copy (ceiling)", ["MiB", "ms", "GB/s"], [[mib, f"{ms:.3f}", f"{gbs:.0f}"]]
    )
    return gbs


def bench_elementwise(ex: hologram.Executor, mib: int, repeats: int, ceiling: float) -> None:
    from hologram import ops

    n = (mib << 20) // 4
    rng = np.random.default_rng(0)
    x = ex.from_numpy(rng.standard_normal(n, dtype=np.float32))
    y = ex.from_numpy(rng.standard_normal(n, dtype=np.float32))
    out = ex.allocate(n, "f32")
    rows = []
    cases: list[tuple[str, Callable[[], Any], int]] = []
    add = ops.prepare("add", x, y, out=out)
    cases.append(("ops.add", add.run, 3))
    cases.append(("ops.add, bound", bound(ex, add), 3))
    gelu = ops.prepare("gelu", x, out=out)
    cases.append(("ops.gelu", gelu.run, 2))
    cases.append(("ops.gelu, bound", bound(ex, gelu), 2))
    config = hologram.LaunchConfig(hg.blocks(n, 256), 256)
    program, args = fused_chain.program_for([x, y, out, n])
    launch = ex.backend.bind_launch(program, config, [a.native() if hasattr(a, "native") else a
                                                       for a in args])  # fmt: skip
    cases.append(("fused chain (5 ops)", launch, 3))
    sms = ex.backend._cupy.cuda.Device().attributes["MultiProcessorCount"]
    program, args = fused_chain_strided.program_for([x, y, out, n])
    natives = [a.native() if hasattr(a, "native") else a for a in args]
    strided = ex.backend.bind_launch(program, hologram.LaunchConfig(sms * 8, 256), natives)
    cases.append(("fused chain, grid-stride", strided, 3))
    cx, cy, cz = x.native(), y.native(), out.native()
    cases.append(("cupy.add (peer)", lambda: ex.backend._cupy.add(cx, cy, out=cz), 3))
    for name, call, arrays in cases:
        ms = gpu_ms(call, repeats)
        gbs = arrays * n * 4 / ms / 1e6
        rows.append([name, f"{ms:.3f}", f"{gbs:.0f}", f"{gbs / ceiling:.2f}", "0.85"])
    strided()  # the check below reads the chain's output
    xs, ys, got = x.to_numpy(), y.to_numpy(), out.to_numpy()
    want = np.tanh(1.5 * xs.astype(np.float64) + ys) * xs + 1 / (1 + np.exp(-ys.astype(np.float64)))
    error = float(np.max(np.abs(got - want)))
    table(f"elementwise, float32, {mib} MiB per array (fused chain max error {error:.1e})",
          ["kernel", "ms", "GB/s", "of copy", "target"], rows)  # fmt: skip


def bench_reduce(ex: hologram.Executor, mib: int, repeats: int, ceiling: float) -> None:
    from hologram import ops

    n = (mib << 20) // 4
    data = np.random.default_rng(1).standard_normal(n, dtype=np.float32)
    x = ex.from_numpy(data)
    total = ex.zeros(1, "f32")
    sms = ex.backend._cupy.cuda.Device().attributes["MultiProcessorCount"]
    config = hologram.LaunchConfig(sms * 8, 256)
    program, args = block_sum.program_for([x, total, n])
    natives = [a.native() if hasattr(a, "native") else a for a in args]
    launch = ex.backend.bind_launch(program, config, natives)
    zero = total.native()

    def one_sum() -> None:
        zero.fill(0)
        launch()

    rows = []
    ms = gpu_ms(one_sum, repeats)
    rows.append(["block_sum kernel", f"{ms:.3f}", f"{n * 4 / ms / 1e6:.0f}",
                 f"{n * 4 / ms / 1e6 / ceiling:.2f}", "-"])  # fmt: skip
    error = abs(float(total.to_numpy()[0]) - float(data.astype(np.float64).sum()))
    want = data.astype(np.float64)
    cases = [("ops.sum", "sum", x, None, want.sum()), ("ops.max", "max", x, None, want.max()),
             ("ops.mean", "mean", x, None, want.mean()),
             ("ops.sum rows (4096, n/4096) axis -1", "sum", x.reshape(4096, -1), -1,
              want.reshape(4096, -1).sum(axis=-1)),
             ("ops.sum columns (n/4096, 4096) axis 0", "sum", x.reshape(-1, 4096), 0,
              want.reshape(-1, 4096).sum(axis=0)),
             ("ops.max columns (n/4096, 4096) axis 0", "max", x.reshape(-1, 4096), 0,
              want.reshape(-1, 4096).max(axis=0)),
             ("ops.sum columns (n/32, 32) axis 0", "sum", x.reshape(-1, 32), 0,
              want.reshape(-1, 32).sum(axis=0)),
             ("ops.mean columns (n/8, 8) axis 0", "mean", x.reshape(-1, 8), 0,
              want.reshape(-1, 8).mean(axis=0)),
             ("ops.sum middle (64, n/65536, 1024) axis 1", "sum", x.reshape(64, -1, 1024), 1,
              want.reshape(64, -1, 1024).sum(axis=1))]  # fmt: skip
    errors = []
    for name, kind, operand, axis, expected in cases:
        prepared = ops.prepare(kind, operand, axis=axis)
        got = np.asarray(prepared().to_numpy(), np.float64)
        errors.append(float(np.max(np.abs(got - expected) / (np.abs(expected) + 1.0))))
        launches = f"{len(prepared.launches)} launches"
        for how, call in (("ops", prepared.run), ("bound", bound(ex, prepared))):
            ms = gpu_ms(call, repeats)
            gbs = n * 4 / ms / 1e6
            rows.append([f"{name} ({launches}, {how})", f"{ms:.3f}", f"{gbs:.0f}",
                         f"{gbs / ceiling:.2f}", f"{errors[-1]:.1e}"])  # fmt: skip
    table(f"reductions, float32, {mib} MiB (block_sum abs error {error:.2e}; target 0.80)",
          ["kernel", "ms", "GB/s read", "of copy", "rel err"], rows)  # fmt: skip


def bench_variants(ex: hologram.Executor, mib: int, repeats: int, ceiling: float) -> None:
    """`ops.add`'s rendered kernel as is and with hand-made changes, each compiled here."""
    import cupy

    from hologram import ops
    from hologram.backends.cuda import NVRTC_OPTIONS
    from hologram.codegen.cuda import render_cuda

    n = (mib << 20) // 4
    rng = np.random.default_rng(2)
    x = ex.from_numpy(rng.standard_normal(n, dtype=np.float32))
    y = ex.from_numpy(rng.standard_normal(n, dtype=np.float32))
    out = ex.allocate(n, "f32")
    launch = ops.prepare("add", x, y, out=out).launches[0]
    natives = [a.native() if hasattr(a, "native") else a for a in launch.args]
    kernel_args = ex.backend.bind_args(
        launch.program, ex.backend.check_args(launch.program, natives)
    )
    source = render_cuda(launch.program)
    sources = {k: render_cuda(launch.program, lanes_per_thread=k) for k in (1, 2, 4, 8)}
    head = re.search(r"__global__ void hg_kernel\(([^)]*)\)", source.text)
    assert head is not None
    restricted = source.text.replace(head.group(0), head.group(0).replace("* ", "* __restrict__ "))
    variants = [
        (f"as rendered ({source.lanes_per_thread} lanes a thread), 256 lanes", source, 256),
        ("1 lane a thread", sources[1], 256),
        ("2 lanes a thread", sources[2], 256),
        ("8 lanes a thread", sources[8], 256),
        ("__restrict__ pointers", replace(source, text=restricted), 256),
        ("__launch_bounds__(256, 4)", replace(source, text=source.text.replace(
            "__global__ void hg_kernel", "__global__ void __launch_bounds__(256, 4) hg_kernel")),
         256),
        ("as rendered, 128 lanes", source, 128),
        ("as rendered, 512 lanes", source, 512),
        ("1 lane a thread, 512 lanes", sources[1], 512),
    ]  # fmt: skip
    rows = []
    want = x.to_numpy() + y.to_numpy()
    for name, variant, lanes in variants:
        text = variant.text
        function = cupy.RawModule(code=text, options=NVRTC_OPTIONS).get_function(variant.entry)
        # A lockstep kernel runs `k` lanes a thread over a quarter (k = 4) of the blocks.
        blocks, k = -(-n // lanes), variant.lanes_per_thread
        grid = -(-blocks // k)
        args = (*kernel_args, np.uint32(blocks)) if k > 1 else kernel_args

        def call(function: Any = function, grid: int = grid, lanes: int = lanes,
                 args: tuple = args) -> None:  # fmt: skip
            function((grid,), (lanes,), args, shared_mem=source.shared_bytes)

        ms = gpu_ms(call, repeats)
        out.fill(0)
        call()
        ok = bool(np.array_equal(out.to_numpy(), want))
        gbs = 3 * n * 4 / ms / 1e6
        rows.append([name, f"{ms:.3f}", f"{gbs:.0f}", f"{gbs / ceiling:.2f}", ok])
    cx, cy, cz = x.native(), y.native(), out.native()
    ms = gpu_ms(lambda: cupy.add(cx, cy, out=cz), repeats)
    gbs = 3 * n * 4 / ms / 1e6
    rows.append(["cupy.add (peer)", f"{ms:.3f}", f"{gbs:.0f}", f"{gbs / ceiling:.2f}", "-"])
    table(f"ops.add's kernel, rendered variants, float32, {mib} MiB per array (target 0.85)",
          ["variant", "ms", "GB/s", "of copy", "exact"], rows)  # fmt: skip


def bench_holotensor(ex: hologram.Executor, mib: int, repeats: int, ceiling: float) -> None:
    """BitPlane reconstruction on the GPU: the kernel alone, and end to end."""
    from hologram.holotensor import HoloTensorDecoder, HoloTensorEncoder
    from hologram.holotensor.bitplane import GROUP
    from hologram.holotensor.device import BLOCK, dequantize_bitplanes, reconstruct_on

    n = (mib << 20) // 4
    rng = np.random.default_rng(3)
    codes = ex.from_numpy(rng.integers(-32767, 32767, n, dtype=np.int16))
    scales = ex.from_numpy(rng.uniform(0.5, 2.0, -(-n // GROUP)).astype(np.float16))
    out = ex.allocate(n, "f32")
    program, args = dequantize_bitplanes.program_for([codes, scales, out, n, 2.0**-12])
    natives = [a.native() if hasattr(a, "native") else a for a in args]
    launch = ex.backend.bind_launch(program, hologram.LaunchConfig(hg.blocks(n, BLOCK), BLOCK),
                                    natives)  # fmt: skip
    ms = gpu_ms(launch, repeats)
    moved = n * (2 + 4) + scales.nbytes
    rows = [["dequantize_bitplanes kernel", f"{n / 1e6:.0f} M", f"{ms:.3f}",
             f"{moved / ms / 1e6:.0f} GB/s ({moved / ms / 1e6 / ceiling:.2f} of copy)",
             f"{n / ms / 1e6:.0f} G weights/s"]]  # fmt: skip
    side = 2048
    w = (rng.standard_normal((side, side)) * 0.05).astype(np.float32)
    encoded = HoloTensorEncoder("bitplane", rotation=None, low_rank=None).encode(w)

    def decoder() -> HoloTensorDecoder:
        fresh = HoloTensorDecoder(encoded.header)  # fresh: a decoder keeps its last result
        for fragment in encoded.fragments[:-1]:  # every plane; the last, lossless one is host-only
            fresh.add_fragment(fragment)
        return fresh

    host_s = _wall_seconds(lambda: decoder().reconstruct(), 5)
    device_s = _wall_seconds(lambda: (reconstruct_on(ex, decoder()), ex.synchronize()), 5)
    made = reconstruct_on(ex, decoder()).to_numpy().reshape(w.shape)
    error = float(np.max(np.abs(made - decoder().reconstruct())))
    rows.append([f"reconstruct_on, {side}x{side} (max diff vs host {error:.1e})",
                 f"{w.size / 1e6:.1f} M", f"{device_s * 1e3:.3f}",
                 f"numpy decoder {host_s * 1e3:.3f} ms ({host_s / device_s:.2f}x)",
                 f"{w.size / device_s / 1e9:.2f} G weights/s"])  # fmt: skip
    table("holotensor BitPlane decode on the GPU (kernel: CUDA events; end to end: wall clock)",
          ["what", "weights", "ms", "bandwidth / peer", "throughput"], rows)  # fmt: skip


def _wall_seconds(call: Callable[[], Any], repeats: int) -> float:
    """Median wall-clock seconds of `call` after one warm-up."""
    call()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def bench_matmul(ex: hologram.Executor, repeats: int) -> None:
    import cupy

    from hologram.isa import Builder

    try:
        import torch

        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    except ImportError:
        torch = None
    rows = []
    for dtype in ("f16", "bf16", "f32"):
        for size in (1024, 4096, 8192):
            m = n = k = size
            b = Builder(f"mm_{dtype}_{size}")
            pa, pb = b.buffer("a", dtype), b.buffer("b", dtype)
            pc = b.buffer("c", dtype, access="write")
            b.matmul(pa, pb, pc, batch=1, m=m, n=n, k=k, trans_a=False, trans_b=False,
                     stride_a=0, stride_b=0, stride_c=0)  # fmt: skip
            program = b.build()
            np_dtype = hologram.DType.of(dtype).numpy
            rng = np.random.default_rng(size)
            a = cupy.asarray(rng.standard_normal((m, k)).astype(np.float32)).astype(np_dtype)
            bb = cupy.asarray(rng.standard_normal((k, n)).astype(np.float32)).astype(np_dtype)
            c = cupy.empty((m, n), np_dtype)
            flat = [a.reshape(-1), bb.reshape(-1), c.reshape(-1)]
            launch = ex.backend.bind_launch(program, hologram.LaunchConfig(1, 1), flat)
            ms = gpu_ms(launch, repeats)
            flops = 2 * m * n * k
            row = [dtype, size, f"{ms:.3f}", f"{flops / ms / 1e9:.0f}"]
            try:
                peer = gpu_ms(lambda a=a, bb=bb: cupy.matmul(a, bb), repeats)
                row += [f"{peer:.3f}", f"{ms / peer:.2f}"]
            except Exception as exc:  # CuPy may lack a dtype's GEMM
                row += [f"n/a ({type(exc).__name__})", "-"]
            if torch is not None:
                ta, tb = torch.from_dlpack(a), torch.from_dlpack(bb)
                peer = gpu_ms(lambda ta=ta, tb=tb: torch.matmul(ta, tb), repeats)
                row += [f"{peer:.3f}", f"{ms / peer:.2f}"]
            rows.append(row)
    header = ["dtype", "m=n=k", "hologram ms", "TFLOP/s", "cupy ms", "x cupy", "torch ms",
              "x torch"]  # fmt: skip
    table("matmul (MATMUL intrinsic on cuBLAS; TF32 off; target <= 1.1x)", header, rows)


@contextlib.contextmanager
def _graphs(on: bool) -> Any:
    """Plans first run inside this block capture CUDA graphs or not."""
    from hologram.config import reload_settings

    before = os.environ.get("HOLOGRAM_CUDA_GRAPHS")
    os.environ["HOLOGRAM_CUDA_GRAPHS"] = "1" if on else "0"
    reload_settings()
    try:
        yield
    finally:
        if before is None:
            del os.environ["HOLOGRAM_CUDA_GRAPHS"]
        else:
            os.environ["HOLOGRAM_CUDA_GRAPHS"] = before
        reload_settings()


def bench_models(
    models: list[str], batches: list[int], repeats: int, torch_compile: bool = False
) -> None:
    import onnxruntime as ort
    import torch

    sys.path.insert(0, str(ROOT / "tests" / "models"))
    import model_zoo

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in models:
            onnx_path = DATA / f"{name}.onnx"
            holo_path = Path(tmp) / f"{name}.holo"
            started = time.perf_counter()
            hologram.compile(str(onnx_path), output=holo_path)
            compile_s = time.perf_counter() - started
            started = time.perf_counter()
            model = hologram.load(holo_path, backend="cuda")
            load_s = time.perf_counter() - started
            stepped = hologram.load(holo_path, backend="cuda")
            session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
            try:
                builder, example, _ = model_zoo.MODELS[name]
                torch.manual_seed(model_zoo.SEED)
                module = builder().eval().cuda()
            except Exception as exc:  # transformers may be missing for bert and gpt
                module = None
                print(f"{name}: no PyTorch peer ({type(exc).__name__}: {exc})")
            compiled = None
            if module is not None and torch_compile:
                compiled = torch.compile(module, mode="reduce-overhead")
            for batch in batches:
                feeds = _feeds(model, batch, np.random.default_rng(batch))
                want = session.run(None, feeds)[0]
                # A new shape's first run plans it; the second makes its runner (and graph).
                with _graphs(True):
                    got = model.run(feeds)["output"]
                    model.run(feeds)
                with _graphs(False):
                    stepped.run(feeds)
                    stepped.run(feeds)
                error = _relative_error(got, want)
                # Device feeds, made once like the peers' CUDA tensors; outputs stay there.
                on_device = {k: model.executor.from_numpy(v) for k, v in feeds.items()}
                dev_got = model.run(on_device, as_buffers=True)["output"].to_numpy()
                error = max(error, _relative_error(dev_got, want))
                ms = {
                    "graph dev": gpu_ms(lambda f=on_device, m=model: m.run(f, as_buffers=True),
                                        repeats),
                    "graph host": gpu_ms(lambda f=feeds, m=model: m.run(f), repeats),
                    "steps dev": gpu_ms(lambda f=on_device, m=stepped: m.run(f, as_buffers=True),
                                        repeats),
                    "steps host": gpu_ms(lambda f=feeds, m=stepped: m.run(f), repeats),
                }  # fmt: skip
                captured = [r.graph is not None for r in model._runners.values()]
                print(f"{name} batch {batch}: plans captured as graphs: {captured}")
                row = [name, batch, f"{compile_s:.2f}", f"{load_s * 1e3:.1f}",
                       *(f"{v:.3f}" for v in ms.values()), f"{error:.1e}"]  # fmt: skip
                if module is not None:
                    inputs = [torch.from_numpy(v).cuda() for v in feeds.values()]
                    with torch.no_grad():
                        peer = gpu_ms(lambda i=inputs, m=module: m(*i), repeats)
                    row += [f"{peer:.3f}", *(f"{ms[k] / peer:.2f}" for k in ms)]
                else:
                    row += ["-"] * 5
                if compiled is not None:
                    try:
                        with torch.no_grad():
                            # The CUDA-graph trees need a few calls to record, and a copy of
                            # each output before the next replay overwrites it (as hologram's
                            # graph runs copy theirs into a Buffer of the run's own).
                            peer = gpu_ms(lambda i=inputs, m=compiled: m(*i).clone(), repeats, 5)
                        row += [f"{peer:.3f}", f"{ms['graph dev'] / peer:.2f}",
                                f"{ms['graph host'] / peer:.2f}"]  # fmt: skip
                    except Exception as exc:  # compiling can fail on some models
                        row += [f"n/a ({type(exc).__name__})", "-", "-"]
                rows.append(row)
    header = ["model", "batch", "compile s", "load ms", "graph dev ms", "graph host ms",
              "steps dev ms", "steps host ms", "rel err vs ort", "torch eager ms",
              "graph dev x eager", "graph host x eager", "steps dev x eager",
              "steps host x eager"]  # fmt: skip
    if torch_compile:
        header += ["torch r-o ms", "graph dev x r-o", "graph host x r-o"]
    table("models on cuda vs PyTorch (same GPU); dev: device Buffer feeds, outputs kept as "
          "Buffers (like for like with torch's CUDA tensors); host: NumPy in and out; targets "
          "(dev): batch 1 <= 0.5x eager and <= 2x r-o, batch 32 <= 1x eager; "
          "r-o: torch.compile reduce-overhead", header, rows)  # fmt: skip


def _relative_error(got: np.ndarray, want: np.ndarray) -> float:
    """The largest absolute difference relative to the largest magnitude of `want`."""
    return float(np.max(np.abs(got - want)) / (np.max(np.abs(want)) + 1e-12))


def _feeds(model: hologram.Model, batch: int, rng: np.random.Generator) -> dict:
    feeds = {}
    for info in model.inputs:
        shape = tuple(batch if isinstance(d, str) else d for d in info.shape)
        if np.issubdtype(info.dtype, np.integer):
            feeds[info.name] = rng.integers(0, 1000, size=shape).astype(info.dtype)
        else:
            feeds[info.name] = rng.standard_normal(shape).astype(info.dtype)
    return feeds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sections", default="copy,elementwise,variants,reduce,holotensor,matmul,models"
    )
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--models", default="mlp,resnet,mobilenet,unet,bert,gpt")
    parser.add_argument("--batches", default="1,32")
    parser.add_argument(
        "--torch-compile",
        action="store_true",
        help="add torch.compile(mode='reduce-overhead') to the models section",
    )
    args = parser.parse_args(argv)
    sections = args.sections.split(",")
    ex = hologram.Executor("cuda")
    print(f"device: {ex.backend.device_name()}")
    ceiling = bench_copy(args.mib, args.repeats)
    steps: dict[str, Callable[[], None]] = {
        "elementwise": lambda: bench_elementwise(ex, args.mib, args.repeats, ceiling),
        "variants": lambda: bench_variants(ex, args.mib, args.repeats, ceiling),
        "reduce": lambda: bench_reduce(ex, args.mib, args.repeats, ceiling),
        "holotensor": lambda: bench_holotensor(ex, args.mib, args.repeats, ceiling),
        "matmul": lambda: bench_matmul(ex, args.repeats),
        "models": lambda: bench_models(args.models.split(","),
                                       [int(b) for b in args.batches.split(",")], args.repeats,
                                       args.torch_compile),
    }  # fmt: skip
    status = 0
    for name, step in steps.items():
        if name in sections:
            try:
                step()
            except Exception as exc:  # one broken section must not hide the others' figures
                import traceback

                traceback.print_exc()
                print(f"section {name} failed: {type(exc).__name__}: {exc}")
                status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(main())
