"""Peak memory of a training step, and of a long chain's backward as it proceeds:
`python bench/memory.py` (CPU).

1. The MLP step (512, 784-1024-10) (nn.Linear + optim.SGD; the hand-written NumPy step
   as the floor): the peak memory a step adds above what the process held before it
   (parameters and data: the last step's .grads are dropped by zero_grad() first, so
   the step's own gradients count).
   Measured two ways, each contender in a fresh subprocess:
   - *peak RSS*: the kernel's high-water mark of resident memory (VmHWM, reset through
     /proc/self/clear_refs before the step) minus the resident memory before it, with
     glibc's mmap threshold fixed at 64 KiB (MALLOC_MMAP_THRESHOLD_), so every array of
     this step is its own mapping, returned when freed: the same meter for NumPy,
     gpugrad and PyTorch, whose CPU allocator tracemalloc does not see.
   - *tracemalloc*: the peak of Python's traced allocations (NumPy reports its array
     buffers to it), for NumPy and gpugrad.
2. A chain of sigmoid ops on 100 000 float32 elements: tracemalloc's current memory
   as backward reaches a quarter, half, three quarters of the chain (hooks on the
   intermediate tensors read it), so the saved arrays are seen to go as their nodes run.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

SIZE = (512, (784, 1024, 10))
CHAIN_OPS, CHAIN_N = 400, 100_000


def _status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return None


def _reset_hwm():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def child(which):
    sys.path.insert(0, ROOT)
    sys.path.insert(0, HERE)
    import gc
    import tracemalloc

    import numpy as np

    import mlp
    batch, sizes = SIZE
    X, y, init = mlp.make_data(batch, sizes)
    reset = lambda: None  # noqa: E731
    if which == "NumPy":
        params = [p.copy() for p in init]
        step = lambda: mlp.handwritten_step(np, X, y, params)  # noqa: E731
    elif which == "gpugrad":
        import gpugrad as gg
        model = mlp.nn_model(gg, init)
        gx, gy = gg.from_numpy(X), gg.from_numpy(y)
        step = lambda: mlp.gpugrad_nn_step(gg, gx, gy, model)  # noqa: E731
        reset = model[1].zero_grad
    else:
        import torch
        torch.set_num_threads(1)
        model = mlp.nn_model(torch, init)
        tx, ty = torch.from_numpy(X), torch.from_numpy(y)
        step = lambda: mlp.torch_nn_step(torch, tx, ty, model)  # noqa: E731
        reset = model[1].zero_grad
    for _ in range(3):
        step()
    out = {}
    rss = []
    for _ in range(5):
        reset()  # the last step's .grads go: the step starts from parameters and data
        gc.collect()
        before = _status("VmRSS")
        _reset_hwm()
        step()
        rss.append(_status("VmHWM") - before)
    out["rss"] = min(rss)
    if which != "PyTorch":
        tracemalloc.start()
        peaks = []
        for _ in range(3):
            reset()
            gc.collect()
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            step()
            peaks.append(tracemalloc.get_traced_memory()[1] - before)
        tracemalloc.stop()
        out["tracemalloc"] = min(peaks)
    print(json.dumps(out))


def chain_profile():
    """tracemalloc's current bytes at each quarter of a long chain's backward."""
    import tracemalloc

    import numpy as np

    sys.path.insert(0, ROOT)
    import gpugrad as gg
    rng = np.random.default_rng(0)
    x = gg.tensor(rng.standard_normal(CHAIN_N, dtype=np.float32), requires_grad=True)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    marks = []
    h = x
    for i in range(CHAIN_OPS):
        h = gg.sigmoid(h)
        if i in (CHAIN_OPS // 4, CHAIN_OPS // 2, 3 * CHAIN_OPS // 4):
            # read when backward reaches this tensor: the nodes after it have run
            h.register_hook(lambda g, i=i: marks.append(
                (CHAIN_OPS - i, tracemalloc.get_traced_memory()[0] - base)) and None)
    before = tracemalloc.get_traced_memory()[0] - base
    h.sum().backward()
    del h
    after = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    return before, sorted(marks), after


def measure_step():
    """{contender: {"rss": bytes, "tracemalloc": bytes (not PyTorch)}}, each in a fresh
    subprocess with the fixed mmap threshold."""
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", MALLOC_TRIM_THRESHOLD_="65536",
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    res = {}
    for which in ("NumPy", "gpugrad", "PyTorch"):
        r = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", which],
                           env=env, capture_output=True, text=True, check=True)
        res[which] = json.loads(r.stdout.strip().splitlines()[-1])
    return res


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2])
        return
    res = measure_step()
    mib = 2 ** 20
    print(f"MLP step {SIZE}, peak memory above the step's start (MiB):")
    print("| contender | peak RSS | tracemalloc |\n|---|---|---|")
    for k, v in res.items():
        tm = f"{v['tracemalloc'] / mib:.2f}" if "tracemalloc" in v else "n/a"
        print(f"| {k} | {v['rss'] / mib:.2f} | {tm} |")
    print(f"gpugrad / PyTorch (peak RSS): {res['gpugrad']['rss'] / res['PyTorch']['rss']:.3f}; "
          f"gpugrad / NumPy: {res['gpugrad']['rss'] / res['NumPy']['rss']:.3f} (RSS), "
          f"{res['gpugrad']['tracemalloc'] / res['NumPy']['tracemalloc']:.3f} (tracemalloc)")
    before, marks, after = chain_profile()
    print(f"\nsigmoid chain, {CHAIN_OPS} ops x {CHAIN_N:,} float32: traced MiB held "
          f"(tracemalloc current)")
    print(f"  after forward {before / mib:.1f}; during backward, nodes run: " +
          ", ".join(f"{n} -> {b / mib:.1f}" for n, b in marks) + f"; after {after / mib:.1f}")


if __name__ == "__main__":
    main()
