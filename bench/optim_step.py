"""Optimizer step time: gpugrad Adam vs PyTorch Adam (foreach=True, fused=True).

A 10-million-parameter model (a few Linear-shaped parameters), gradients set
once, then only `optimizer.step()` is timed, on one device for all three.

  python bench/optim_step.py                 # CPU: process CPU time, one thread
  python bench/optim_step.py --device cuda   # CUDA events after warm-up

Rounds interleave the contenders (gpugrad, foreach, fused, gpugrad, ...), each
sample covering `--steps` steps; the table gives each one's median time per
step and the median over rounds of the per-round ratio to gpugrad, so a slow
phase of a shared machine hits all contenders of a round alike.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one BLAS/OpenMP thread, before imports
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import gpugrad as gg  # noqa: E402

SHAPES = [(2048, 2048), (2048,), (2048, 2048), (2048,), (1024, 1536), (1024,)]


def contenders(device):
    import torch
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    init = [rng.standard_normal(s).astype(np.float32) * 0.02 for s in SHAPES]
    grads = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    ps = [gg.tensor(a, device=device, requires_grad=True) for a in init]
    for p, g in zip(ps, grads):
        p.grad = gg.tensor(g, device=device)
    out = {"gpugrad Adam": gg.optim.Adam(ps, lr=1e-3).step}
    tdev = "cuda" if device.startswith("cuda") else "cpu"
    for mode in ("foreach", "fused"):
        tp = [torch.tensor(a, device=tdev, requires_grad=True) for a in init]
        for p, g in zip(tp, grads):
            p.grad = torch.tensor(g, device=tdev)
        out[f"torch Adam {mode}=True"] = torch.optim.Adam(tp, lr=1e-3, **{mode: True}).step
    n = sum(int(np.prod(s)) for s in SHAPES)
    return out, n


def timer(device):
    if device == "cpu":
        def sample(fn, steps):
            t0 = time.process_time()
            for _ in range(steps):
                fn()
            return (time.process_time() - t0) / steps
        return sample, "process CPU time (time.process_time), one thread"
    import cupy
    import torch

    def sample(fn, steps):
        # cupy and torch both launch on the legacy default stream: one event pair
        # brackets either library's kernels.
        start, end = cupy.cuda.Event(), cupy.cuda.Event()
        torch.cuda.synchronize()
        start.record(cupy.cuda.Stream.null)
        for _ in range(steps):
            fn()
        end.record(cupy.cuda.Stream.null)
        end.synchronize()
        torch.cuda.synchronize()
        return cupy.cuda.get_elapsed_time(start, end) / 1e3 / steps
    return sample, "CUDA events after warm-up"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--steps", type=int, default=None, help="steps per sample")
    ap.add_argument("--warmup", type=int, default=3)
    a = ap.parse_args(argv)
    steps = a.steps or (3 if a.device == "cpu" else 50)
    fns, n = contenders(a.device)
    sample, how = timer(a.device)
    for fn in fns.values():
        for _ in range(a.warmup):
            fn()
    times = {k: [] for k in fns}
    for _ in range(a.rounds):
        for k, fn in fns.items():
            times[k].append(sample(fn, steps))
    base = times["gpugrad Adam"]
    print(f"Adam step, {n / 1e6:.2f}M float32 parameters in {len(SHAPES)} tensors, "
          f"device {a.device}; {how}; {a.rounds} interleaved rounds of {steps} steps")
    print(f"| {'contender':<24} | {'median ms/step':>14} | {'gpugrad / this':>14} |")
    print(f"|{'-' * 26}|{'-' * 16}|{'-' * 16}|")
    for k, ts in times.items():
        ratio = statistics.median(b / t for b, t in zip(base, ts))
        print(f"| {k:<24} | {statistics.median(ts) * 1e3:>14.3f} | {ratio:>14.2f} |")


if __name__ == "__main__":
    main()
