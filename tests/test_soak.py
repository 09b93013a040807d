"""Soak: 10 000 training steps of a small MLP with gg.nn and gg.optim, on the CPU and,
where there is a GPU, on CUDA.

Resident memory (on CUDA: the bytes CuPy's memory pool has in use) after step 1 000
and after step 10 000 differ by less than 5 %, and no graph object outlives its step:
weak references to each step's output, loss and their nodes are dead once the step's
names are gone, with the cycle collector off (the graph frees itself by reference
counting) and, to be sure, after gc.collect().
About 15 s on one core; marked slow.
"""
import gc
import os
import resource
import sys
import time
import weakref

import pytest

import gpugrad as gg
from tests.conftest import DEVICES

STEPS = 10_000
FIRST, CHECK_EVERY = 1_000, 250


def rss_bytes():
    """Resident set size now: /proc/self/statm where there is one, else the peak from
    getrusage (kB on Linux, bytes on macOS), which can only show growth."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def memory_bytes(device):
    """What must stay flat: the process's resident memory on the CPU; on CUDA the bytes
    of CuPy's pool in use (its cached free blocks are no leak)."""
    if device == "cpu":
        return rss_bytes()
    import cupy
    return cupy.get_default_memory_pool().used_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("device", DEVICES)
def test_soak_memory_is_flat_and_graphs_die_with_their_step(device):
    gg.manual_seed(0)
    model = gg.nn.Sequential(gg.nn.Linear(16, 64), gg.nn.Tanh(), gg.nn.LayerNorm(64),
                             gg.nn.Linear(64, 32), gg.nn.ReLU(), gg.nn.Dropout(0.1),
                             gg.nn.Linear(32, 4)).to(device)
    opt = gg.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    sched = gg.optim.lr_scheduler.StepLR(opt, step_size=2_000, gamma=0.5)
    loss_fn = gg.nn.CrossEntropyLoss()
    X = gg.randn(256, 16).to(device)
    y = (X[:, 0] > 0).to(gg.int64) + 2 * (X[:, 1] > 0).to(gg.int64)
    loader = gg.utils.data.DataLoader(gg.utils.data.TensorDataset(X, y), batch_size=32,
                                      shuffle=True)

    def step(xb, yb):
        out = model(xb)
        loss = loss_fn(out, yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        refs = [weakref.ref(out), weakref.ref(loss), weakref.ref(loss.grad_fn),
                weakref.ref(out.grad_fn)]
        return loss.item(), refs

    def batches():
        while True:
            yield from loader

    t0 = time.perf_counter()
    it = batches()
    mem, rss, losses = {}, {}, []
    was_enabled = gc.isenabled()
    try:
        for i in range(1, STEPS + 1):
            check = i % CHECK_EVERY == 0
            if check:
                gc.disable()  # the graph must go by reference counting alone
            loss, refs = step(*next(it))
            losses.append(loss)
            if i % len(loader) == 0:
                sched.step()
            if check:
                alive = [r for r in refs if r() is not None]
                gc.enable()
                assert not alive, f"step {i}: graph objects outlive the step without gc: {alive}"
                del refs
                gc.collect()
                assert not gc.garbage, gc.garbage
            if i in (FIRST, STEPS):
                gc.collect()
                mem[i], rss[i] = memory_bytes(device), rss_bytes()
    finally:
        if was_enabled:
            gc.enable()
    elapsed = time.perf_counter() - t0
    growth = (mem[STEPS] - mem[FIRST]) / mem[FIRST]
    what = "RSS" if device == "cpu" else "CuPy pool used bytes"
    print(f"\nsoak ({device}): {STEPS} steps in {elapsed:.1f} s; {what} after step {FIRST}: "
          f"{mem[FIRST] / 2**20:.3f} MiB, after step {STEPS}: {mem[STEPS] / 2**20:.3f} MiB "
          f"({100 * growth:+.2f} %); "
          + ("" if device == "cpu" else  # the host's, for the record: not what must stay flat
             f"RSS {rss[FIRST] / 2**20:.1f} -> {rss[STEPS] / 2**20:.1f} MiB; ")
          + f"loss {losses[0]:.3f} -> {losses[-1]:.3f}")
    assert abs(growth) < 0.05, (mem, growth)
    assert losses[-1] < losses[0]  # it trained: the steps were real ones
