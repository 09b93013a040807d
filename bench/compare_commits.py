"""Before/after, in one process: `python bench/compare_commits.py BASE [chain|mlp64|mlp128]`

The working tree's gpugrad against gpugrad as of commit BASE, and hand-written
NumPy, interleaved (A B C, C B A, ...) in one process, so a drift of the
machine's speed (large on shared VMs) hits all three alike. Prints medians and
the median of per-round ratios; new/base < 1 means the working tree is faster.

BASE's package is extracted from git into a temporary directory under another
name (gg_base); the two places where gpugrad names its own modules by string
(the op registry's module test, the backend factories) are renamed with it.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)


def import_base(rev, where):
    """gpugrad as of rev, importable as gg_base."""
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
                with open(path, "w") as fh:
                    fh.write(src.replace('"gpugrad.', '"gg_base.'))
    sys.path.insert(0, where)
    import gg_base
    return gg_base


def chain_step(gg, x, g, a, b, ops):
    gx = gg.tensor(x, requires_grad=True)
    gt = gg.from_numpy(g)

    def run():
        h = gx
        for i in range(ops):
            h = gg.sigmoid(h) if i % 2 == 0 else a[i // 2] * h + b[i // 2]
        h.backward(gt)
        gx.grad = None
    return run


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("base", help="a commit, tag or branch")
    ap.add_argument("workload", nargs="?", default="chain", choices=("chain", "mlp64", "mlp128"))
    ap.add_argument("--rounds", type=int, default=31)
    args = ap.parse_args(argv)

    import numpy as np

    import cpu_workloads as cw
    import gpugrad as new
    import mlp

    with tempfile.TemporaryDirectory() as tmp:
        base = import_base(args.base, tmp)
        if args.workload == "chain":
            x, g, a, b = cw.chain_data(1000)
            fns = {"NumPy": lambda: cw.numpy_chain(x, g, a, b),
                   "base": chain_step(base, x, g, a, b, cw.CHAIN_OPS),
                   "new": chain_step(new, x, g, a, b, cw.CHAIN_OPS)}
            per, calls, unit = cw.CHAIN_OPS, 10, "µs per op"
        else:
            batch, sizes = (64, (64, 32, 10)) if args.workload == "mlp64" else (128, (784, 256, 10))
            X, y, init = mlp.make_data(batch, sizes)
            np_p = [p.copy() for p in init]
            fns = {"NumPy": lambda: mlp.handwritten_step(np, X, y, np_p)}
            for name, gg in (("base", base), ("new", new)):
                params = [gg.tensor(p, requires_grad=True) for p in init]
                gx, gy = gg.from_numpy(X), gg.from_numpy(y)
                fns[name] = (lambda gg=gg, gx=gx, gy=gy, params=params:
                             mlp.gpugrad_step(gg, gx, gy, params))
            per, calls, unit = 1, 20 if args.workload == "mlp64" else 4, "µs per step"
        samples = {k: [] for k in fns}
        for r in range(args.rounds):
            for name, fn in (fns.items() if r % 2 else reversed(fns.items())):
                fn()
                t = time.perf_counter()
                for _ in range(calls):
                    fn()
                samples[name].append((time.perf_counter() - t) / calls / per * 1e6)

    med = {k: statistics.median(v) for k, v in samples.items()}

    def ratio(a, b):
        return statistics.median(p / q for p, q in zip(samples[a], samples[b]))
    print(f"{args.workload}, {unit} (medians of {args.rounds} interleaved rounds):")
    print(f"  NumPy {med['NumPy']:.2f}   base ({args.base}) {med['base']:.2f} "
          f"= {ratio('base', 'NumPy'):.2f}x NumPy   working tree {med['new']:.2f} "
          f"= {ratio('new', 'NumPy'):.2f}x NumPy")
    print(f"  working tree / base: {ratio('new', 'base'):.3f}")


if __name__ == "__main__":
    main()
