"""The cuda backend against the reference backend and the corpus oracles, plus its own concerns:
narrow-float and integer rules, zero-copy exchange with CuPy and PyTorch, the kernel cache.
Skipped with the reason where CuPy or a CUDA device is missing."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from hologram import Executor
from hologram.backends import availability, get_backend
from hologram.backends.reference import ReferenceBackend
from hologram.isa import Builder, DType, LaunchConfig
from programs import CORPUS, assert_outputs_match, run_case

_OK, _REASON = availability("cuda")
pytestmark = pytest.mark.skipif(not _OK, reason=f"backend 'cuda' is not available: {_REASON}")


@pytest.fixture(scope="module")
def backend():
    return get_backend("cuda")


@pytest.fixture(scope="module")
def reference() -> ReferenceBackend:
    return ReferenceBackend()


def run_both(backend, reference, program, config: LaunchConfig, arrays: list) -> list:
    """Launch on cuda and on the reference with copies of `arrays` (NumPy arrays or
    scalars); return both results as lists of NumPy arrays."""
    mine = []
    for a in arrays:
        if isinstance(a, np.ndarray):
            handle = backend.allocate(a.nbytes)
            backend.copy_in(handle, a)
            mine.append(backend.view(handle, 0, a.size, DType.of(a.dtype)))
        else:
            mine.append(a)
    theirs = [a.copy() if isinstance(a, np.ndarray) else a for a in arrays]
    backend.launch(program, config, mine)
    backend.synchronize()
    reference.launch(program, config, theirs)
    got = [backend.copy_out(m, a.nbytes).view(a.dtype) for m, a in zip(mine, arrays, strict=True)
           if isinstance(a, np.ndarray)]  # fmt: skip
    want = [t for t in theirs if isinstance(t, np.ndarray)]
    return [got, want]


# ---------------------------------------------------------------- the corpus
@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.name)
def test_corpus_case_matches_reference_and_oracle(backend, reference, case):
    seed = zlib.crc32(case.name.encode())
    inputs, outputs = run_case(backend, case, seed=seed)
    assert_outputs_match(case, outputs, case.expected(inputs))
    _, reference_outputs = run_case(reference, case, seed=seed)
    assert_outputs_match(case, outputs, reference_outputs)


def test_backend_is_found_by_name_and_preferred_by_auto():
    from hologram.backends import resolve_name
    from hologram.backends.cuda import CudaBackend

    assert isinstance(get_backend("cuda"), CudaBackend)
    assert resolve_name("auto") == "cuda"
    assert "sm_" in get_backend("cuda").device_name()


# ---------------------------------------------------------------- exact value rules
def test_integer_division_by_zero_gives_zero_and_overflow_wraps(backend, reference, rng):
    b = Builder("int_rules")
    x, y, out = b.buffer("x", "i32"), b.buffer("y", "i32"), b.buffer("o", "i32", access="write")
    i = b.global_id()
    a, c = b.ldg(x, i), b.ldg(y, i)
    b.stg(out, i, b.add(b.add(b.div(a, c), b.mod(a, c)), b.mul(a, c)))
    program = b.build()
    xs = np.array([7, -7, 5, -(2**31), 2**31 - 1, 9] * 10, np.int32)
    ys = np.array([2, 2, 0, -1, 2, -3] * 10, np.int32)
    got, want = run_both(backend, reference, program, LaunchConfig(1, xs.size), [xs, ys, xs * 0])
    np.testing.assert_array_equal(got[2], want[2])


@pytest.mark.parametrize("dtype", ["f16", "bf16"])
def test_narrow_floats_round_after_every_instruction(backend, reference, rng, dtype):
    b = Builder(f"narrow_{dtype}")
    x = b.buffer("x", dtype)
    out = b.buffer("out", dtype, access="write")
    i = b.global_id()
    v = b.ldg(x, i)
    b.stg(out, i, b.fma(b.mul(v, v), v, b.add(v, v)))
    program = b.build()
    xs = (rng.standard_normal(4096) * 8).astype(DType.of(dtype).numpy)
    got, want = run_both(backend, reference, program, LaunchConfig(16, 256), [xs, xs * 0])
    np.testing.assert_array_equal(got[1].view(np.uint16), want[1].view(np.uint16))


def test_float_to_int_truncates_saturates_and_maps_nan_to_zero(backend, reference):
    b = Builder("f2i")
    x = b.buffer("x", "f32")
    o8, o64 = b.buffer("o8", "i8", access="write"), b.buffer("o64", "u64", access="write")
    i = b.global_id()
    v = b.ldg(x, i)
    b.stg(o8, i, b.cvt(v, "i8"))
    b.stg(o64, i, b.cvt(v, "u64"))
    program = b.build()
    xs = np.array([np.nan, np.inf, -np.inf, 1e30, -1e30, 127.9, -128.9, -0.5, 3.7, 2e19], "f4")
    got, want = run_both(backend, reference, program, LaunchConfig(1, xs.size),
                         [xs, np.zeros(xs.size, "i1"), np.zeros(xs.size, "u8")])  # fmt: skip
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_array_equal(got[2], want[2])


# ---------------------------------------------------------------- memory and exchange
def test_buffers_exchange_with_cupy_and_torch_without_copies(rng):
    import cupy

    ex = Executor("cuda")
    data = rng.standard_normal((3, 5)).astype(np.float32)
    buf = ex.from_numpy(data)
    view = cupy.from_dlpack(buf)
    assert view.data.ptr == buf.native().data.ptr
    view *= 2  # written through the exchanged view, seen by the buffer
    np.testing.assert_array_equal(buf.to_numpy(), data * 2)
    torch = pytest.importorskip("torch")
    tensor = torch.from_dlpack(buf)
    assert tensor.data_ptr() == buf.native().data.ptr and tensor.is_cuda
    np.testing.assert_array_equal(tensor.cpu().numpy(), data * 2)


def test_buffers_expose_the_cuda_array_interface(rng):
    import cupy

    ex = Executor("cuda")
    data = rng.standard_normal((4, 3)).astype(np.float32)
    buf = ex.from_numpy(data)
    interface = buf.__cuda_array_interface__
    assert interface["shape"] == (4, 3) and interface["typestr"] == "<f4"
    assert interface["data"] == (buf.native().data.ptr, False)
    view = cupy.asarray(buf)
    assert view.data.ptr == buf.native().data.ptr and view.shape == (4, 3)
    view += 1  # written through the view, seen by the buffer
    np.testing.assert_array_equal(buf.to_numpy(), data + 1)
    torch = pytest.importorskip("torch")
    tensor = torch.as_tensor(buf, device="cuda")
    assert tensor.data_ptr() == buf.native().data.ptr and tuple(tensor.shape) == (4, 3)
    tensor.mul_(3)
    torch.cuda.synchronize()
    np.testing.assert_array_equal(buf.to_numpy(), (data + 1) * 3)


def test_views_and_offsets_export_their_own_memory(rng):
    import cupy

    ex = Executor("cuda")
    data = rng.integers(-9, 9, size=24).astype(np.int32)
    buf = ex.from_numpy(data).reshape(2, 3, 4)
    view = cupy.asarray(buf)
    assert view.shape == (2, 3, 4) and view.dtype == np.int32
    np.testing.assert_array_equal(cupy.asnumpy(view), data.reshape(2, 3, 4))
    assert cupy.from_dlpack(buf).data.ptr == view.data.ptr
    half = ex.from_numpy(rng.standard_normal(6).astype(np.float16))
    np.testing.assert_array_equal(cupy.asnumpy(cupy.asarray(half)), half.to_numpy())


def test_freed_and_bfloat16_buffers_have_no_cuda_interface(rng):
    import ml_dtypes

    ex = Executor("cuda")
    freed = ex.allocate(8, "f32")
    freed.free()
    assert not hasattr(freed, "__cuda_array_interface__")
    bf16 = ex.from_numpy(rng.standard_normal(8).astype(ml_dtypes.bfloat16))
    assert not hasattr(bf16, "__cuda_array_interface__")


def test_kernel_source_is_kept_in_the_cache_dir(backend):
    from hologram.config import settings

    b = Builder("cached")
    out = b.buffer("out", "u32", access="write")
    b.stg(out, b.global_id(), b.global_id())
    program = b.build()
    backend.compile(program)
    path = settings().cache_dir / "cuda" / f"{program.digest}.cu"
    assert path.is_file() and "hg_kernel" in path.read_text()


def test_a_block_of_1024_lanes_runs(backend, reference, rng):
    b = Builder("wide_block")
    x = b.buffer("x", "f32")
    out = b.buffer("out", "f32", access="write")
    i = b.global_id()
    total = b.reduce("add", b.ldg(x, i))
    b.stg(out, i, total)
    program = b.build()
    xs = rng.standard_normal(2048).astype(np.float32)
    got, want = run_both(backend, reference, program, LaunchConfig(2, 1024), [xs, xs * 0])
    np.testing.assert_allclose(got[1], want[1], rtol=1e-4, atol=1e-4)


def test_one_program_compiles_once_from_many_threads(backend, rng):
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    b = Builder(f"threaded_{rng.integers(1 << 40)}")  # a name no earlier test compiled
    x = b.buffer("x", "f32")
    out = b.buffer("out", "f32", access="write")
    i = b.global_id()
    b.stg(out, i, b.mul(b.ldg(x, i), b.ldg(x, i)))
    program = b.build()
    start = Barrier(8)
    inputs = [rng.standard_normal(512).astype(np.float32) for _ in range(8)]

    def compile_and_run(xs: np.ndarray) -> tuple[object, np.ndarray]:
        start.wait()
        kernel = backend.compile(program)
        handles = [backend.allocate(xs.nbytes) for _ in range(2)]
        backend.copy_in(handles[0], xs)
        views = [backend.view(h, 0, xs.size, DType.F32) for h in handles]
        backend.launch(program, LaunchConfig(2, 256), views)
        backend.synchronize()
        return kernel, backend.copy_out(handles[1], xs.nbytes).view(np.float32)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(compile_and_run, inputs))
    assert len({id(kernel) for kernel, _ in results}) == 1
    for xs, (_, got) in zip(inputs, results, strict=True):
        np.testing.assert_array_equal(got, xs * xs)
