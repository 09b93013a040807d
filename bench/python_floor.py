"""How fast can any define-by-run engine in CPython be? `python bench/python_floor.py`

The CPU op-chain target (gpugrad <= 1.5x hand-written NumPy per op at 1 000
elements) asks the engine to add at most half a NumPy op's time per op. This
measures the least any graph-recording engine must add: a bare tape (one object
and one closure per node, a list for the order, no checks, no devices, no
dtypes, no version counters, no hooks) running the same chain as
cpu_workloads.numpy_chain, beside gpugrad, the hand-written NumPy and PyTorch,
interleaved in one process, medians of per-op times.
"""
from __future__ import annotations

import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

import cpu_workloads as cw  # noqa: E402


class Var:
    """A bare tape node: value, gradient and a backward closure that knows its input."""
    __slots__ = ("v", "g", "back")

    def __init__(self, v, back=None):
        self.v, self.g, self.back = v, None, back


def bare_chain(x, g, a, b):
    src = Var(x)
    h, tape = src, []
    for i in range(cw.CHAIN_OPS):
        if i % 2 == 0:
            y = np.negative(h.v)  # the CPU backend's sigmoid passes
            np.exp(y, out=y)
            y += cw.ONE
            np.reciprocal(y, out=y)

            def back(out, inp=h, y=y):
                gx = cw.ONE - y
                gx *= y
                gx *= out.g
                inp.g = gx
            h = Var(y, back)
            tape.append(h)
        else:  # a*h + b: two nodes, as in gpugrad and PyTorch
            def back_mul(out, inp=h, k=a[i // 2]):
                inp.g = out.g * k

            m = Var(a[i // 2] * h.v, back_mul)
            s = Var(m.v + b[i // 2], lambda out, inp=m: setattr(inp, "g", out.g))
            tape += (m, s)
            h = s
    h.g = g
    for node in reversed(tape):
        node.back(node)
    return src.g


def main(n=1000, rounds=21, calls=20):
    import torch
    runs, _ = cw.chain_contenders(torch, n)
    x, g, a, b = cw.chain_data(n)
    ref = cw.numpy_chain(x, g, a, b)
    np.testing.assert_allclose(bare_chain(x, g, a, b), ref, rtol=1e-6)
    runs["bare Python tape"] = lambda: bare_chain(x, g, a, b)
    samples = {k: [] for k in runs}
    for _ in range(rounds):
        for name, fn in runs.items():
            t = time.perf_counter()
            for _ in range(calls):
                fn()
            samples[name].append((time.perf_counter() - t) / calls / cw.CHAIN_OPS)
    base = statistics.median(samples[cw.NP])
    print(f"op chain, {n} float32 elements, {cw.CHAIN_OPS} ops, median µs per op "
          f"(forward + backward):")
    for name, s in samples.items():
        m = statistics.median(s)
        print(f"  {name:22} {m * 1e6:6.2f} µs   {m / base:5.2f}x NumPy")


if __name__ == "__main__":
    main()
