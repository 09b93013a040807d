#!/usr/bin/env bash
# Everything a session with a lent GPU runs, in one device call (device time is short):
# the whole test suite on cpu and cuda first (changes since the last GPU run are
# unverified there), then the digits demo on CUDA, the optimizer-step bench, and the
# CUDA benchmarks.
#   run: bash bench/gpu_session.sh      (results land in $OUT, else bench/results)
# The device's copy of .git may be stale: pass the commit the tree came from, as in
#   GPUGRAD_BENCH_COMMIT=$(git rev-parse --short HEAD)  (evaluated here, not there).
# The GPU image has CuPy, PyTorch, pytest and hypothesis; gpugrad runs from this
# checkout. safetensors, scikit-learn and tqdm travel as wheels in .whl/ when the image
# lacks them (see the device tool's notes). Commit what it writes under bench/results/.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-bench/results}"
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
{
  nvidia-smi
  python3 -c "import cupy, numpy, torch; print('cupy', cupy.__version__, 'numpy', numpy.__version__, 'torch', torch.__version__)"
  echo "== tests (cpu and cuda)"
  # -rsP: the skips, and what passing tests printed (the soak and out-of-memory figures)
  python3 -m pytest -q -rsP -p no:cacheprovider tests
  echo "== tests exit status: $?"
} > "$out/gpu-session.log" 2>&1
tail -n 3 "$out/gpu-session.log"
{
  echo "== demo on cuda (defaults)"
  time python3 -m gpugrad demo --device cuda --plot "$out/demo-cuda.png"
  echo "== optimizer step, 10M parameters"
  python3 bench/optim_step.py --device cuda
} > "$out/gpu-training.log" 2>&1
tail -n 20 "$out/gpu-training.log"
python3 bench/run.py --device cuda --out "$out" 2>&1 | tee -a "$out/gpu-session.log" | tail -n 25
