#!/usr/bin/env bash
# The cuda backend's check on a GPU machine, run from the repository root:
#   scripts/device_check.sh [tests|bench|nodes|all]      (default: all)
# It installs the Python packages the machine lacks from wheels in .whl/ (if any), then
# - tests: the cuda tests (backend, codegen, kernels, ops, examples, runtime with whole-plan
#   CUDA graphs, models, ONNX ops, stream device pools, HoloTensor reconstruction), then the
#   whole stream and HoloTensor suites (their optional dependencies, when missing, skip with
#   the reason);
# - bench: benchmarks/gpu.py (BENCH_ARGS passes it options, e.g. "--sections copy,reduce", or
#   "--sections models --torch-compile" for graphs on and off against torch eager and compiled);
# - nodes: the ONNX backend node tests on cuda (the longest part, so the last).
# Logs go to $OUT (default: /tmp/hologram-device).
set -u
OUT=${OUT:-/tmp/hologram-device}
mkdir -p "$OUT"
what=${1:-all}
PY=${PYTHON:-python3}
if compgen -G ".whl/*.whl" >/dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/hologram-site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/hologram-site
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export HOLOGRAM_CACHE_DIR=${HOLOGRAM_CACHE_DIR:-/tmp/hologram-cache}
export PYTHONUNBUFFERED=1
workers=$(( $(nproc) > 8 ? 8 : $(nproc) ))
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
$PY -c "import cupy, hologram.backends as b; print('cupy', cupy.__version__, b.availability('cuda'))"

status=0
if [ "$what" = all ] || [ "$what" = tests ]; then
  $PY -m pytest -q -p no:cacheprovider -n "$workers" -k cuda -rs \
    tests/backends/test_cuda.py tests/codegen tests/ops tests/kernels tests/test_kernel_examples.py \
    tests/runtime tests/models tests/onnx/ops tests/dsl tests/memory tests/stream tests/holotensor \
    2>&1 | tee "$OUT/tests_cuda.log" | tail -40
  [ "${PIPESTATUS[0]}" = 0 ] || status=1
fi
if [ "$what" = all ] || [ "$what" = bench ]; then
  # shellcheck disable=SC2086 # BENCH_ARGS is a list of options
  $PY benchmarks/gpu.py ${BENCH_ARGS:-} 2>&1 | tee "$OUT/bench_gpu.log"
  [ "${PIPESTATUS[0]}" = 0 ] || status=1
fi
if [ "$what" = all ] || [ "$what" = tests ]; then
  $PY -m pytest -q -p no:cacheprovider -n "$workers" -rs tests/stream tests/holotensor \
    2>&1 | tee "$OUT/tests_stream_holotensor.log" | tail -25
  [ "${PIPESTATUS[0]}" = 0 ] || status=1
fi
if [ "$what" = all ] || [ "$what" = nodes ]; then
  HOLOGRAM_NODE_BACKEND=cuda $PY -m pytest -q -p no:cacheprovider -n "$workers" \
    tests/onnx/test_node_conformance.py 2>&1 | tee "$OUT/tests_node_cuda.log" | tail -15
  [ "${PIPESTATUS[0]}" = 0 ] || status=1
fi
exit $status
