"""CPU workloads: the MLP training step and the engine-overhead op chain,
gpugrad against hand-written NumPy and PyTorch eager, plus a profile of where
gpugrad spends the difference."""
from __future__ import annotations

import cProfile
import gc
import os
import pstats

import numpy as np

import gpugrad as gg
import mlp
from common import (ROOT, CPUTimer, Target, bar_chart, fmt_ratio, fmt_spread, fmt_time,
                    line_chart, measure)

MLP_SIZES = [(64, (64, 32, 10)), (128, (784, 256, 10)), (512, (784, 1024, 10))]
CHAIN_OPS = 200
CHAIN_SIZES = [1, 1_000, 100_000]

NP, GG, GG_RAW, PT = "NumPy", "gpugrad", "gpugrad, raw SGD", "PyTorch"


def size_label(batch, sizes):
    return f"({batch}, {'-'.join(map(str, sizes))})"


def _maxdiff(a, b):
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))


# ---- MLP training step ---------------------------------------------------------------
def mlp_contenders(torch, batch, sizes):
    """Zero-argument step callables, and the largest deviation from NumPy after one
    step from identical parameters (the check that the math is the same)."""
    X, y, init = mlp.make_data(batch, sizes)
    np_p = [p.copy() for p in init]
    gx, gyl = gg.from_numpy(X), gg.from_numpy(y)
    gg_p = [gg.tensor(p, requires_grad=True) for p in init]
    raw_p = [gg.tensor(p, requires_grad=True) for p in init]
    tx, ty = torch.from_numpy(X), torch.from_numpy(y)
    pt_p = [torch.tensor(p, requires_grad=True) for p in init]

    steps = {
        NP: lambda: mlp.handwritten_step(np, X, y, np_p),
        GG: lambda: mlp.gpugrad_step(gg, gx, gyl, gg_p),
        GG_RAW: lambda: mlp.gpugrad_step_raw_update(gg, gx, gyl, raw_p),
        PT: lambda: mlp.torch_step(torch, tx, ty, pt_p),
    }
    losses = {name: fn().item() for name, fn in steps.items()}
    after = {NP: np_p, GG: [p.data for p in gg_p], GG_RAW: [p.data for p in raw_p],
             PT: [p.detach().numpy() for p in pt_p]}
    dev = {name: max(abs(losses[name] - losses[NP]),
                     max(_maxdiff(a, b) for a, b in zip(after[name], after[NP])))
           for name in steps}
    return steps, dev


def run_mlp(report, torch, settings, stem):
    sec = report.section(
        "CPU: MLP training step",
        """One step = forward, mean softmax-cross-entropy, backward, SGD update
(lr 0.01), float32; sizes are (batch, in-hidden-classes) with a sigmoid hidden layer.
*NumPy* is hand-written forward and backward with no graph (`bench/mlp.py`), the
floor for any NumPy engine. *gpugrad* updates as the README teaches
(`with gg.no_grad(): p -= lr * p.grad`); *gpugrad, raw SGD* updates the arrays
(`p.data -= lr * p.grad.data`), isolating the cost of the Tensor-level update.
*PyTorch* is eager mode with `F.cross_entropy`. Times are medians per step (± half
the interquartile range); ratios are gpugrad / reference, so < 1 means gpugrad is
faster. The last column is the largest deviation of loss and updated parameters
from NumPy after one step from identical parameters.""",
        ["size", NP, GG, GG_RAW, PT, "gpugrad / NumPy", "gpugrad / PyTorch",
         "raw SGD / NumPy", "max |Δ| vs NumPy"])
    chart = {GG: [], GG_RAW: [], PT: []}
    for batch, sizes in MLP_SIZES:
        gc.collect()
        steps, dev = mlp_contenders(torch, batch, sizes)
        st = measure(steps, CPUTimer(), settings)
        med = {k: v.median for k, v in st.items()}
        label = size_label(batch, sizes)
        r_np, r_pt = med[GG] / med[NP], med[GG] / med[PT]
        sec.rows.append([label] + [f"{fmt_time(med[k])} {fmt_spread(st[k])}" for k in steps]
                        + [fmt_ratio(r_np), fmt_ratio(r_pt), fmt_ratio(med[GG_RAW] / med[NP]),
                           f"{max(dev.values()):.1e}"])
        for k in chart:
            chart[k].append(med[k] / med[NP])
        if (batch, sizes) == (128, (784, 256, 10)):
            sec.targets.append(Target(f"MLP step {label} gpugrad / NumPy", r_np, 1.10, "<="))
        if (batch, sizes) == (64, (64, 32, 10)):
            sec.targets.append(Target(f"MLP step {label} gpugrad / NumPy", r_np, 1.30, "<="))
        if (batch, sizes) in ((64, (64, 32, 10)), (128, (784, 256, 10))):
            sec.targets.append(Target(f"MLP step {label} gpugrad / PyTorch (faster)", r_pt, 1.0, "<"))
        print(f"  mlp {label}: " + ", ".join(f"{k} {fmt_time(v)}" for k, v in med.items()),
              flush=True)
    sec.charts.append(bar_chart(
        f"{stem}-mlp.png", "CPU MLP training step, time relative to hand-written NumPy",
        [size_label(b, s) for b, s in MLP_SIZES], "median step time / NumPy's", chart,
        logy=False, hline=1.0))


# ---- op chain ------------------------------------------------------------------------
def chain_data(n, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n, dtype=np.float32)
    g = rng.standard_normal(n, dtype=np.float32)
    # a near 1 and small b keep the chain away from sigmoid saturation for all 200 ops.
    a = rng.uniform(0.8, 1.2, CHAIN_OPS // 2).astype(np.float32)
    b = rng.uniform(-0.2, 0.2, CHAIN_OPS // 2).astype(np.float32)
    return x, g, [np.asarray(v) for v in a], [np.asarray(v) for v in b]


def numpy_chain(x, g, a, b):
    saved = []
    for i in range(CHAIN_OPS):
        if i % 2 == 0:
            y = np.negative(x)  # the CPU backend's sigmoid: four in-place passes
            np.exp(y, out=y)
            y += 1
            np.reciprocal(y, out=y)
            saved.append(y)
        else:
            y = a[i // 2] * x + b[i // 2]
        x = y
    for i in reversed(range(CHAIN_OPS)):
        if i % 2 == 0:
            y = saved.pop()
            gx = 1 - y
            gx *= y
            gx *= g
            g = gx
        else:
            g = g * a[i // 2]
    return g


def gpugrad_chain(x, g, a, b):
    h = x
    for i in range(CHAIN_OPS):
        h = gg.sigmoid(h) if i % 2 == 0 else a[i // 2] * h + b[i // 2]
    h.backward(g)
    gx, x.grad = x.grad, None
    return gx.data


def torch_chain(torch, x, g, a, b):
    h = x
    for i in range(CHAIN_OPS):
        h = torch.sigmoid(h) if i % 2 == 0 else a[i // 2] * h + b[i // 2]
    h.backward(g)
    gx, x.grad = x.grad, None
    return gx.numpy()


def chain_contenders(torch, n):
    x, g, a, b = chain_data(n)
    gx_, gg_ = gg.tensor(x, requires_grad=True), gg.from_numpy(g)
    ga, gb = [gg.tensor(v) for v in a], [gg.tensor(v) for v in b]
    tx, tg = torch.tensor(x, requires_grad=True), torch.from_numpy(g)
    ta, tb = [torch.tensor(v) for v in a], [torch.tensor(v) for v in b]
    runs = {
        NP: lambda: numpy_chain(x, g, a, b),
        GG: lambda: gpugrad_chain(gx_, gg_, ga, gb),
        PT: lambda: torch_chain(torch, tx, tg, ta, tb),
    }
    ref = runs[NP]()
    dev = max(_maxdiff(fn(), ref) for fn in runs.values())
    return runs, dev


def run_chain(report, torch, settings, stem):
    sec = report.section(
        "CPU: engine overhead, op chain",
        f"""A chain of {CHAIN_OPS} ops alternating `sigmoid(x)` and the affine `a*x + b`,
then backward from a fixed random gradient, float32. `a` and `b` are 0-d (scalar-shaped)
float32 constants, a different pair per affine op, that do not require grad: only the input
x does, so every contender computes exactly the activation path (sigmoid backward
`(1-y)*y*g`, affine backward `g*a`) and no parameter reductions. The affine counts as one
op but is two graph nodes (mul, add) in gpugrad and PyTorch: 300 nodes in all. Per-op
time = chain time / {CHAIN_OPS}; *overhead* = (gpugrad − NumPy) / {CHAIN_OPS}, the engine's
own cost per op. The last column is the largest deviation of the input gradient from
NumPy's.""",
        ["elements", f"{NP} / op", f"{GG} / op", f"{PT} / op", "gpugrad / NumPy",
         "gpugrad / PyTorch", "overhead / op", "max |Δ| vs NumPy"])
    chart = {NP: [], GG: [], PT: []}
    for n in CHAIN_SIZES:
        gc.collect()
        runs, dev = chain_contenders(torch, n)
        st = measure(runs, CPUTimer(), settings)
        per = {k: v.median / CHAIN_OPS for k, v in st.items()}
        r_np = per[GG] / per[NP]
        sec.rows.append([f"{n:,}"] + [f"{fmt_time(per[k])} {fmt_spread(st[k])}" for k in chart]
                        + [fmt_ratio(r_np), fmt_ratio(per[GG] / per[PT]),
                           fmt_time(per[GG] - per[NP]), f"{dev:.1e}"])
        for k in chart:
            chart[k].append(per[k] * 1e6)
        if n == 1_000:
            sec.targets.append(Target("op chain, 1 000 elements, gpugrad / NumPy per op",
                                      r_np, 1.5, "<="))
        print(f"  chain n={n}: " + ", ".join(f"{k} {fmt_time(v)}/op" for k, v in per.items()),
              flush=True)
    sec.charts.append(line_chart(
        f"{stem}-chain.png", f"CPU op chain ({CHAIN_OPS} ops, forward + backward)",
        "elements", "µs per op", {k: (CHAIN_SIZES, v) for k, v in chart.items()}, logx=10))


# ---- profile -------------------------------------------------------------------------
def _where(key):
    path, line, name = key
    if path == "~":
        return name  # a builtin: numpy ufuncs and methods show up here
    rel = os.path.relpath(path, ROOT)
    return f"{rel if not rel.startswith('..') else os.path.basename(path)}:{line} {name}"


def _bucket(key):
    path = key[0]
    if path == "~":
        return "builtins (NumPy kernels, list/dict/isinstance ...)"
    rel = os.path.relpath(path, ROOT)
    return rel if rel.startswith("gpugrad") else "other Python (NumPy wrappers, bench)"


def profile(fn, calls, top=18):
    """Markdown tables: cProfile self time per step, by function and by file."""
    for _ in range(3):
        fn()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        fn()
    prof.disable()
    stats = pstats.Stats(prof).stats  # key -> (prim calls, calls, tottime, cumtime, callers)
    total = sum(v[2] for v in stats.values())
    rows = sorted(stats.items(), key=lambda kv: -kv[1][2])
    out = ["| function | calls / step | self µs / step | µs / call | cumulative µs / step |",
           "|---|---|---|---|---|"]
    for key, (_, nc, tt, ct, _) in rows[:top]:
        out.append(f"| `{_where(key)}` | {nc / calls:g} | {tt / calls * 1e6:.1f} | "
                   f"{tt / nc * 1e6:.2f} | {ct / calls * 1e6:.1f} |")
    buckets = {}
    for key, v in stats.items():
        buckets[_bucket(key)] = buckets.get(_bucket(key), 0.0) + v[2]
    out += ["", "| file | self µs / step | share |", "|---|---|---|"]
    for name, tt in sorted(buckets.items(), key=lambda kv: -kv[1]):
        out.append(f"| {name} | {tt / calls * 1e6:.1f} | {100 * tt / total:.0f}% |")
    return "\n".join(out), total / calls


def run_profile(report, torch, quick):
    calls = 30 if quick else 200
    parts, times = [], []
    for batch, sizes in MLP_SIZES[:2]:
        steps, _ = mlp_contenders(torch, batch, sizes)
        table, prof = profile(steps[GG], calls)
        t = CPUTimer().sample(steps[GG], calls)
        label = size_label(batch, sizes)
        parts.append(f"### MLP step {label}, gpugrad\n\n{table}")
        times.append(f"MLP step {label} {fmt_time(t)} unprofiled, {fmt_time(prof)} profiled")
    runs, _ = chain_contenders(torch, 1_000)
    n = max(calls // 10, 5)
    table, prof = profile(runs[GG], n)
    t = CPUTimer().sample(runs[GG], n)
    parts.append(f"### Op chain, 1 000 elements ({CHAIN_OPS} ops), gpugrad\n\n{table}")
    times.append(f"op chain {fmt_time(t)} unprofiled, {fmt_time(prof)} profiled")
    sec = report.section(
        "CPU: where gpugrad's time goes (cProfile)",
        f"""Self time per step from cProfile, for the engine's maintainers. cProfile adds a
fixed cost to every Python call, so absolute numbers are inflated ({'; '.join(times)});
read the ranking and the call counts. An op's `forward` self time includes the array
operators it runs inline (`a @ b`, `a + b` are not calls cProfile sees), so
`arith.py ... forward` of MatMul is mostly BLAS; builtins such as `numpy.ufunc`
methods are array work too.""",
        [])
    sec.extra = "\n\n".join(parts)


def run(report, torch, settings, stem, quick):
    run_mlp(report, torch, settings, stem)
    run_chain(report, torch, settings, stem)
    run_profile(report, torch, quick)


def header(torch):
    return {
        "Notes": ("Python's garbage collector stays on (its cost is part of a Python "
                  "engine's cost); `gc.collect()` runs before each size. NumPy and PyTorch "
                  "read the same X, labels and gradients (zero-copy) and start from copies "
                  "of the same parameters."),
        "Noise": ("on a shared VM whole runs can shift: the NumPy step at (128, 784-256-10) "
                  "measured 0.75 ms in some runs and 1.45 ms in others on the same 2-vCPU "
                  "machine, every contender slowing together. Compare ratios within one "
                  "file; read the ± columns before trusting a verdict near its limit."),
    }
