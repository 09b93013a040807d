#!/usr/bin/env bash
# Everything a session with a lent GPU runs, in one device call (device/METHOD.md):
# the whole test suite on cpu and cuda, then the CUDA benchmarks.
#   run: bash bench/gpu_session.sh      (results land in $OUT, else bench/results)
# The device's copy of .git may be stale: pass the commit the tree came from, as in
#   GPUGRAD_BENCH_COMMIT=$(git rev-parse --short HEAD)  (evaluated here, not there).
# Nothing is installed: the GPU image has CuPy, PyTorch, pytest and hypothesis, and
# gpugrad runs from this checkout. Commit the .md it writes under bench/results/.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-bench/results}"
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
{
  nvidia-smi
  python3 -c "import cupy, numpy, torch; print('cupy', cupy.__version__, 'numpy', numpy.__version__, 'torch', torch.__version__)"
  echo "== tests (cpu and cuda)"
  python3 -m pytest -q -rs -p no:cacheprovider tests
  echo "== tests exit status: $?"
} > "$out/gpu-session.log" 2>&1
tail -n 3 "$out/gpu-session.log"
python3 bench/run.py --device cuda --out "$out" 2>&1 | tee -a "$out/gpu-session.log" | tail -n 25
