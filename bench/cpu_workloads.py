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
from common import (ROOT, CPUTimer, ProcessTimer, Target, bar_chart, fmt_ratio, fmt_spread,
                    fmt_time, line_chart, measure, ratio)

MLP_SIZES = [(64, (64, 32, 10)), (128, (784, 256, 10)), (512, (784, 1024, 10))]
CHAIN_OPS = 200
CHAIN_SIZES = [1, 1_000, 100_000]

NP, GG, GG_NN, PT, PT_NN = "NumPy", "gpugrad", "gpugrad nn+optim", "PyTorch", "PyTorch nn+optim"
NP_OI = "NumPy, W (out, in)"  # the hand-written step in nn.Linear's layout


def size_label(batch, sizes):
    return f"({batch}, {'-'.join(map(str, sizes))})"


def _maxdiff(a, b):
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))


# ---- MLP training step ---------------------------------------------------------------
# Engine-overhead sizes are timed in process CPU time, BLAS-bound ones on the wall clock
# (the method: CPU time where Python overhead dominates; with one BLAS thread
# the two agree except for time lost to neighbours, which CPU time leaves out).
WALL_CLOCK = {(128, (784, 256, 10)), (512, (784, 1024, 10))}


def timer_for(batch, sizes):
    return CPUTimer() if (batch, sizes) in WALL_CLOCK else ProcessTimer()


def mlp_contenders(torch, batch, sizes):
    """Zero-argument step callables, and the largest deviation from NumPy after one
    step from identical parameters (the check that the math is the same)."""
    X, y, init = mlp.make_data(batch, sizes)
    np_p = [p.copy() for p in init]
    np_oi = mlp.linear_layout(init)
    gx, gyl = gg.from_numpy(X), gg.from_numpy(y)
    gg_p = [gg.tensor(p, requires_grad=True) for p in init]
    gg_nn = mlp.nn_model(gg, init)
    tx, ty = torch.from_numpy(X), torch.from_numpy(y)
    pt_p = [torch.tensor(p, requires_grad=True) for p in init]
    pt_nn = mlp.nn_model(torch, init)

    steps = {
        NP: lambda: mlp.handwritten_step(np, X, y, np_p),
        NP_OI: lambda: mlp.handwritten_step(np, X, y, np_oi, out_in=True),
        GG: lambda: mlp.gpugrad_step(gg, gx, gyl, gg_p),
        GG_NN: lambda: mlp.gpugrad_nn_step(gg, gx, gyl, gg_nn),
        PT: lambda: mlp.torch_step(torch, tx, ty, pt_p),
        PT_NN: lambda: mlp.torch_nn_step(torch, tx, ty, pt_nn),
    }
    losses = {name: fn().item() for name, fn in steps.items()}
    after = {NP: np_p, NP_OI: [p.T if p.ndim == 2 else p for p in np_oi],
             GG: [p.data for p in gg_p], GG_NN: mlp.nn_params(gg_nn[0]),
             PT: [p.detach().numpy() for p in pt_p], PT_NN: mlp.nn_params(pt_nn[0])}
    dev = {name: max(abs(losses[name] - losses[NP]),
                     max(_maxdiff(a, b) for a, b in zip(after[name], after[NP])))
           for name in steps}
    return steps, dev


def run_mlp(report, torch, settings, stem):
    sec = report.section(
        "CPU: MLP training step",
        f"""One step = forward, mean softmax-cross-entropy, backward, SGD update
(lr 0.01), float32; sizes are (batch, in-hidden-classes) with a sigmoid hidden layer.
*NumPy* is hand-written forward and backward with no graph (`bench/mlp.py`), the
floor for any NumPy engine; *{NP_OI}* is the same step with each W stored (out, in) as
`nn.Linear` holds it (products `x @ W.T`, `g.T @ x`), the floor for the nn+optim rows,
since BLAS does not take both layouts at the same speed. *gpugrad* and *PyTorch* hold the four parameters as plain
tensors and update as the README teaches (`with no_grad(): p -= lr * p.grad`);
*… nn+optim* is the same model as two `nn.Linear` layers trained by `optim.SGD`
(`zero_grad`, loss, `backward`, `step`) in each library. Timer per row: *CPU* is
process CPU time (engine-overhead sizes), *wall* the wall clock (BLAS-bound sizes);
one BLAS/intra-op thread for both libraries. Times are medians per step (± half the
interquartile range); ratios are the median over {settings.rounds} interleaved rounds of
the per-round ratio (gpugrad / reference), so < 1 means gpugrad is faster. The last
column is the largest deviation of loss and updated parameters from NumPy after one
step from identical parameters.""",
        ["size", "timer", NP, NP_OI, GG, GG_NN, PT, PT_NN, "gpugrad / NumPy",
         "gpugrad / PyTorch", "nn+optim / NumPy", "nn+optim / PyTorch nn+optim",
         f"{NP_OI} / NumPy", f"nn+optim / {NP_OI}", "max |Δ| vs NumPy"])
    chart = {GG: [], GG_NN: [], PT: [], PT_NN: []}
    for batch, sizes in MLP_SIZES:
        gc.collect()
        steps, dev = mlp_contenders(torch, batch, sizes)
        timer = timer_for(batch, sizes)
        st = measure(steps, timer, settings)
        med = {k: v.median for k, v in st.items()}
        label = size_label(batch, sizes)
        r = {k: ratio(st, *k) for k in ((GG, NP), (GG, PT), (GG_NN, NP), (GG_NN, PT_NN),
                                        (NP_OI, NP), (GG_NN, NP_OI))}
        sec.rows.append([label, "wall" if isinstance(timer, CPUTimer) else "CPU"]
                        + [f"{fmt_time(med[k])} {fmt_spread(st[k])}" for k in steps]
                        + [fmt_ratio(v) for v in r.values()] + [f"{max(dev.values()):.1e}"])
        for k in chart:
            chart[k].append(ratio(st, k, NP))
        if (batch, sizes) == (128, (784, 256, 10)):
            sec.targets.append(Target(f"MLP step {label} nn+optim / NumPy", r[GG_NN, NP],
                                      1.05, "<="))
        if (batch, sizes) == (64, (64, 32, 10)):
            sec.targets.append(Target(f"MLP step {label} nn+optim / NumPy", r[GG_NN, NP],
                                      2.3, "<="))
            sec.targets.append(Target(f"MLP step {label} nn+optim / PyTorch nn+optim",
                                      r[GG_NN, PT_NN], 0.80, "<="))
        print(f"  mlp {label}: " + ", ".join(f"{k} {fmt_time(v)}" for k, v in med.items())
              + "; " + ", ".join(f"{a}/{b} {v:.3f}" for (a, b), v in r.items()), flush=True)
    sec.charts.append(bar_chart(
        f"{stem}-mlp.png", "CPU MLP training step, time relative to hand-written NumPy",
        [size_label(b, s) for b, s in MLP_SIZES], "median per-round ratio to NumPy", chart,
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


ONE = np.float32(1)  # NumPy converts a Python 1 on every call (about 0.2 us)


def numpy_chain(x, g, a, b):
    saved = []
    for i in range(CHAIN_OPS):
        if i % 2 == 0:
            y = np.negative(x)  # the CPU backend's sigmoid: four in-place passes
            np.exp(y, out=y)
            y += ONE  # a one of the array's dtype, as the backend's kernel adds
            np.reciprocal(y, out=y)
            saved.append(y)
        else:
            y = a[i // 2] * x + b[i // 2]
        x = y
    for i in reversed(range(CHAIN_OPS)):
        if i % 2 == 0:
            y = saved.pop()
            gx = ONE - y
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
own cost per op. Timer: process CPU time at every size, one BLAS/intra-op thread; ratios
are the median over {settings.rounds} interleaved rounds of the per-round ratio. The last
column is the largest deviation of the input gradient from NumPy's.""",
        ["elements", f"{NP} / op", f"{GG} / op", f"{PT} / op", "gpugrad / NumPy",
         "gpugrad / PyTorch", "overhead / op", "max |Δ| vs NumPy"])
    chart = {NP: [], GG: [], PT: []}
    for n in CHAIN_SIZES:
        gc.collect()
        runs, dev = chain_contenders(torch, n)
        st = measure(runs, ProcessTimer(), settings)
        per = {k: v.median / CHAIN_OPS for k, v in st.items()}
        r_np, r_pt = ratio(st, GG, NP), ratio(st, GG, PT)
        sec.rows.append([f"{n:,}"] + [f"{fmt_time(per[k])} {fmt_spread(st[k])}" for k in chart]
                        + [fmt_ratio(r_np), fmt_ratio(r_pt),
                           fmt_time(per[GG] - per[NP]), f"{dev:.1e}"])
        for k in chart:
            chart[k].append(per[k] * 1e6)
        if n in (1, 1_000):
            sec.targets.append(Target(f"op chain, {n:,} element{'s' if n != 1 else ''}, gpugrad / NumPy per op",
                                      r_np, 2.2, "<="))
            sec.targets.append(Target(f"op chain, {n:,} element{'s' if n != 1 else ''}, gpugrad / PyTorch per op",
                                      r_pt, 0.85, "<="))
        if n == 100_000:
            sec.targets.append(Target("op chain, 100,000 elements, gpugrad / NumPy per op",
                                      r_np, 1.05, "<="))
        print(f"  chain n={n}: " + ", ".join(f"{k} {fmt_time(v)}/op" for k, v in per.items()),
              flush=True)
    sec.charts.append(line_chart(
        f"{stem}-chain.png", f"CPU op chain ({CHAIN_OPS} ops, forward + backward)",
        "elements", "µs per op", {k: (CHAIN_SIZES, v) for k, v in chart.items()}, logx=10))


# ---- memory --------------------------------------------------------------------------
def run_memory(report):
    import memory
    res = memory.measure_step()
    batch, sizes = memory.SIZE
    label = size_label(batch, sizes)
    sec = report.section(
        "CPU: peak memory",
        f"""The MLP step {label} with nn.Linear + optim.SGD (the hand-written NumPy step as the
floor): the most memory the step holds above its start (parameters and data; the last
step's .grads are dropped first). *peak RSS*: the kernel's high-water mark (VmHWM, reset
before the step) minus the resident memory before it, with glibc's mmap threshold fixed
at 64 KiB so that every array is a mapping of its own, returned when freed: one meter for
all three (tracemalloc does not see PyTorch's allocator). *tracemalloc*: the peak of
Python's traced allocations, which include NumPy's array buffers. Each contender runs in
a subprocess of its own; the least of five steps. Then a chain of {memory.CHAIN_OPS}
sigmoids on {memory.CHAIN_N:,} float32 elements: the memory traced after the forward
pass, as backward reaches each quarter of it, and after it: saved arrays go as soon as
the node that needs them has run. (`bench/memory.py` prints the same.)""",
        ["contender", "peak RSS", "tracemalloc", "/ PyTorch (RSS)"])
    mib = 2 ** 20
    for k, v in res.items():
        sec.rows.append([k, f"{v['rss'] / mib:.2f} MiB",
                         f"{v['tracemalloc'] / mib:.2f} MiB" if "tracemalloc" in v else "n/a",
                         fmt_ratio(v["rss"] / res[PT]["rss"])])
    sec.targets.append(Target(f"peak memory, MLP step {label}, gpugrad / PyTorch (peak RSS)",
                              res[GG]["rss"] / res[PT]["rss"], 1.0, "<="))
    before, marks, after = memory.chain_profile()
    sec.extra = ("Chain backward, traced MiB held: after forward " f"{before / mib:.1f}; " +
                 "; ".join(f"{n} of {memory.CHAIN_OPS} nodes run: {b / mib:.1f}"
                           for n, b in marks) + f"; after backward {after / mib:.1f}.")
    print(f"  memory {label}: " + ", ".join(f"{k} {v['rss'] / mib:.2f} MiB" for k, v in
                                           res.items()), flush=True)


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
        table, prof = profile(steps[GG_NN], calls)
        t = ProcessTimer().sample(steps[GG_NN], calls)
        label = size_label(batch, sizes)
        parts.append(f"### MLP step {label}, gpugrad nn+optim\n\n{table}")
        times.append(f"MLP step {label} {fmt_time(t)} unprofiled, {fmt_time(prof)} profiled")
    runs, _ = chain_contenders(torch, 1_000)
    n = max(calls // 10, 5)
    table, prof = profile(runs[GG], n)
    t = ProcessTimer().sample(runs[GG], n)
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
    run_memory(report)
    run_profile(report, torch, quick)


def header(torch):
    return {
        "Notes": ("Python's garbage collector stays on (its cost is part of a Python "
                  "engine's cost); `gc.collect()` runs before each size. NumPy and PyTorch "
                  "read the same X, labels and gradients (zero-copy) and start from copies "
                  "of the same parameters."),
        "Method": ("one BLAS / intra-op thread for NumPy and PyTorch (run.py --threads); "
                   "engine-overhead workloads (the op chain, the (64, 64-32-10) step) in "
                   "process CPU time, BLAS-bound ones ((128, ...), (512, ...)) on the wall "
                   "clock; contenders interleaved A B C, C B A, ...; every ratio is the "
                   "median over rounds of the per-round ratio."),
        "Noise": ("on a shared VM whole runs can shift: wall-clock medians moved up to 1.6x "
                  "between runs, every contender slowing together, while per-round ratios "
                  "in CPU time stayed within a few per cent. Compare ratios within one "
                  "file; read the ± columns before trusting a verdict near its limit."),
    }
