"""Before/after, in one process: `python bench/compare_commits.py BASE [WORKLOAD ...]`

The working tree's gpugrad against gpugrad as of commit BASE (or in directory BASE),
hand-written NumPy and PyTorch eager, interleaved (A B C D, D C B A, ...) in one
process, so a drift of the machine's speed (large on shared VMs) hits all of them
alike. The method is the issue's (and bench/run.py's for --device cpu): one BLAS /
intra-op thread, process
CPU time for the engine-overhead workloads, the wall clock for BLAS-bound ones
(mlp128, mlp512), and the median of per-round ratios. new/base < 1 means the working
tree is faster.

Workloads: chain1, chain1000, chain100000 (the 200-op chain of cpu_workloads at that
many elements), mlp64 and mlp128 and mlp512 (nn.Linear + optim.SGD in gpugrad and
PyTorch; the hand-written NumPy step). Default: chain1000 mlp64.

BASE's package is extracted from git into a temporary directory under another
name (gg_base); the places where gpugrad names its own modules by string
(the op registry's module test, the backend factories) are renamed with it.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before NumPy and PyTorch start their pools

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

WORKLOADS = ("chain1", "chain1000", "chain100000", "mlp64", "mlp128", "mlp512")
MLP = {"mlp64": (64, (64, 32, 10)), "mlp128": (128, (784, 256, 10)),
       "mlp512": (512, (784, 1024, 10))}
WALL = {"mlp128", "mlp512"}


def import_base(rev, where):
    """gpugrad as of rev (or the gpugrad/ under a directory rev), importable as gg_base."""
    if os.path.isdir(os.path.join(rev, "gpugrad")):
        shutil.copytree(os.path.join(rev, "gpugrad"), os.path.join(where, "gpugrad"),
                        ignore=shutil.ignore_patterns("__pycache__"))
    else:
        tar = subprocess.run(["git", "archive", rev, "gpugrad"], cwd=ROOT, check=True,
                             capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", where], input=tar, check=True)
    pkg = os.path.join(where, "gg_base")
    os.rename(os.path.join(where, "gpugrad"), pkg)
    for dirpath, _, files in os.walk(pkg):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(dirpath, f)
                with open(path) as fh:
                    src = fh.read()
                src = src.replace('"gpugrad.', '"gg_base.').replace("'gpugrad.", "'gg_base.")
                with open(path, "w") as fh:
                    fh.write(src)
    sys.path.insert(0, where)
    import gg_base
    return gg_base


def chain_step(gg, x, g, a, b, ops):
    gx = gg.tensor(x, requires_grad=True)
    gt = gg.from_numpy(g)
    ga, gb = [gg.tensor(v) for v in a], [gg.tensor(v) for v in b]

    def run():
        h = gx
        for i in range(ops):
            h = gg.sigmoid(h) if i % 2 == 0 else ga[i // 2] * h + gb[i // 2]
        h.backward(gt)
        gx.grad = None
    return run


def contenders(workload, base, new, torch):
    import numpy as np

    import cpu_workloads as cw
    import mlp
    if workload.startswith("chain"):
        n = int(workload[5:])
        x, g, a, b = cw.chain_data(n)
        tx, tg = torch.tensor(x, requires_grad=True), torch.from_numpy(g)
        ta, tb = [torch.tensor(v) for v in a], [torch.tensor(v) for v in b]
        fns = {"NumPy": lambda: cw.numpy_chain(x, g, a, b),
               "PyTorch": lambda: cw.torch_chain(torch, tx, tg, ta, tb),
               "base": chain_step(base, x, g, a, b, cw.CHAIN_OPS),
               "new": chain_step(new, x, g, a, b, cw.CHAIN_OPS)}
        return fns, cw.CHAIN_OPS, "µs per op"
    batch, sizes = MLP[workload]
    X, y, init = mlp.make_data(batch, sizes)
    np_p, np_oi = [p.copy() for p in init], mlp.linear_layout(init)
    tm = mlp.nn_model(torch, init)
    tx, ty = torch.from_numpy(X), torch.from_numpy(y)
    fns = {"NumPy": lambda: mlp.handwritten_step(np, X, y, np_p),
           "NumPy (out, in)": lambda: mlp.handwritten_step(np, X, y, np_oi, out_in=True),
           "PyTorch": lambda: mlp.torch_nn_step(torch, tx, ty, tm)}
    for name, gg in (("base", base), ("new", new)):
        m = mlp.nn_model(gg, init)
        gx, gy = gg.from_numpy(X), gg.from_numpy(y)
        fns[name] = (lambda gg=gg, gx=gx, gy=gy, m=m: mlp.gpugrad_nn_step(gg, gx, gy, m))
    return fns, 1, "µs per step"


def sample(fns, per, rounds, clock, min_sample=0.03):
    """Interleaved rounds; each sample lasts about min_sample seconds of clock."""
    reps = {}
    for name, fn in fns.items():
        fn()
        n, t = 1, 0.0
        while True:
            t0 = clock()
            for _ in range(n):
                fn()
            t = clock() - t0
            if t >= min_sample / 2 or n > 1 << 16:
                break
            n *= 2
        reps[name] = max(1, round(n * min_sample / max(t, 1e-9)))
    samples = {k: [] for k in fns}
    for r in range(rounds):
        for name, fn in (fns.items() if r % 2 else reversed(fns.items())):
            fn()
            n = reps[name]
            t0 = clock()
            for _ in range(n):
                fn()
            samples[name].append((clock() - t0) / n / per * 1e6)
    return samples


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("base", help="a commit, tag or branch, or a directory holding a gpugrad/ "
                                 "(e.g. a copy of the working tree with some files reverted)")
    ap.add_argument("workloads", nargs="*", default=["chain1000", "mlp64"],
                    metavar="WORKLOAD")
    ap.add_argument("--rounds", type=int, default=21)
    args = ap.parse_args(argv)

    import torch
    torch.set_num_threads(1)
    import gpugrad as new

    with tempfile.TemporaryDirectory() as tmp:
        base = import_base(args.base, tmp)
        for w in args.workloads:
            fns, per, unit = contenders(w, base, new, torch)
            clock = time.perf_counter if w in WALL else time.process_time
            s = sample(fns, per, args.rounds, clock)
            med = {k: statistics.median(v) for k, v in s.items()}

            def ratio(a, b):
                return statistics.median(p / q for p, q in zip(s[a], s[b]))
            print(f"{w}, {unit}, {'wall clock' if w in WALL else 'process CPU time'} "
                  f"(medians of {args.rounds} interleaved rounds; ratios: median per-round):")
            print("  " + "   ".join(f"{k} {v:.2f}" for k, v in med.items()))
            print(f"  base ({args.base}): {ratio('base', 'NumPy'):.3f}x NumPy, "
                  f"{ratio('base', 'PyTorch'):.3f}x PyTorch")
            print(f"  working tree:  {ratio('new', 'NumPy'):.3f}x NumPy, "
                  f"{ratio('new', 'PyTorch'):.3f}x PyTorch;  working tree / base: "
                  f"{ratio('new', 'base'):.3f}", flush=True)
            if "NumPy (out, in)" in s:  # the floor in nn.Linear's layout
                print(f"  NumPy (out, in): {ratio('NumPy (out, in)', 'NumPy'):.3f}x NumPy; "
                      f"working tree {ratio('new', 'NumPy (out, in)'):.3f}x it", flush=True)


if __name__ == "__main__":
    main()
