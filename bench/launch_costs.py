"""Where the host time of a small CUDA op goes: `python bench/launch_costs.py`.

A diagnostic, not part of run.py: it splits one fused-op call into its pieces
(device context, allocation, kernel launch) beside CuPy's and PyTorch's own
calls, then profiles one MLP training step (512, 784-1024-10) by function, so a
change to the launch path can be aimed and checked. Host time per call, no
synchronization inside the loop (the GPU keeps up with these tiny kernels).
"""
from __future__ import annotations

import cProfile
import os
import pstats
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import cupy as cp  # noqa: E402
import numpy as np  # noqa: E402

import gpugrad as gg  # noqa: E402
import mlp  # noqa: E402


def per_call(fn, n=20000):
    for _ in range(200):
        fn()
    cp.cuda.Device().synchronize()
    times = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(n // 5):
            fn()
        times.append((time.perf_counter() - t) / (n // 5) * 1e6)
        cp.cuda.Device().synchronize()
    return sorted(times)[2]  # the median of five


def main():
    import torch
    be = gg.backends.get_backend(gg.device("cuda"))
    x = cp.random.standard_normal(1024, dtype=cp.float32)
    y = cp.empty_like(x)
    k = be.kernels("sigmoid.cu", x.dtype)["sigmoid_forward"]
    dev = cp.cuda.Device(0)
    ek = cp.ElementwiseKernel("T x", "T y", "y = 1 / (1 + exp(-x))", "gg_bench_sig")
    tx = torch.randn(1024, device="cuda")
    gx = gg.tensor(cp.asnumpy(x), device="cuda")
    gxr = gg.tensor(cp.asnumpy(x), device="cuda", requires_grad=True)
    rows = [
        ("cupy.empty(1024)", lambda: cp.empty(1024, cp.float32)),
        ("with cupy.cuda.Device(0)", lambda: dev.__enter__() and dev.__exit__(None, None, None)),
        ("RawKernel launch, preallocated out", lambda: k((8,), (256,), (x, y, np.int64(1024),
                                                                     np.int32(1)))),
        ("ElementwiseKernel, new out", lambda: ek(x)),
        ("cupy.exp(x)", lambda: cp.exp(x)),
        ("backend.sigmoid_forward", lambda: be.sigmoid_forward(x)),
        ("gg.sigmoid, no grad", lambda: gg.sigmoid(gx)),
        ("gg.sigmoid, recording", lambda: gg.sigmoid(gxr)),
        ("torch.sigmoid", lambda: torch.sigmoid(tx)),
        ("torch.empty(1024)", lambda: torch.empty(1024, device="cuda")),
    ]
    # The matrix work of the MLP step: which CuPy entry point costs least on the host?
    a = cp.random.standard_normal((512, 784), dtype=cp.float32)
    b = cp.random.standard_normal((784, 1024), dtype=cp.float32)
    g = cp.random.standard_normal((512, 1024), dtype=cp.float32)
    ones = cp.ones((1, 512), cp.float32)
    rows += [
        ("a @ b (512x784 @ 784x1024)", lambda: a @ b),
        ("cupy.dot(a, b)", lambda: cp.dot(a, b)),
        ("a.T @ g", lambda: a.T @ g),
        ("cupy.dot(a.T, g)", lambda: cp.dot(a.T, g)),
        ("g.sum(axis=0) (512x1024)", lambda: g.sum(axis=0)),
        ("ones(1,512) @ g", lambda: ones @ g),
        ("cupy.dot(ones, g)", lambda: cp.dot(ones, g)),
        ("g * 0.01", lambda: g * np.float32(0.01)),
        ("g -= g (in place)", lambda: g.__isub__(g)),
    ]
    try:
        from cupy import cublas
        rows += [("cupy.cublas.gemm('N','N', a, b)", lambda: cublas.gemm("N", "N", a, b)),
                 ("cupy.cublas.gemm('T','N', a, g)", lambda: cublas.gemm("T", "N", a, g))]
    except Exception as e:  # noqa: BLE001
        print("no cupy.cublas.gemm:", e)
    from cupy._core import _accelerator as acc
    print("reduction accelerators", acc.get_reduction_accelerators(),
          "routine accelerators", acc.get_routine_accelerators())
    print(f"{'call':40} µs/call")
    for name, fn in rows:
        print(f"{name:40} {per_call(fn):7.2f}")

    try:
        acc.set_reduction_accelerators([])
        acc.set_routine_accelerators([])
        print(f"{'g.sum(axis=0), no accelerators':40} {per_call(lambda: g.sum(axis=0)):7.2f}")
        acc.set_reduction_accelerators(["cub"])
        acc.set_routine_accelerators(["cub"])
        print(f"{'g.sum(axis=0), cub':40} {per_call(lambda: g.sum(axis=0)):7.2f}")
    except Exception as e:  # noqa: BLE001
        print("accelerator switch failed:", e)

    batch, sizes = 512, (784, 1024, 10)
    X, labels, params = mlp.make_data(batch, sizes)
    gX, gy = gg.tensor(X, device="cuda"), gg.tensor(labels, device="cuda")
    gp = [gg.tensor(p, device="cuda", requires_grad=True) for p in params]
    tX, ty = torch.tensor(X, device="cuda"), torch.tensor(labels, device="cuda")
    tp = [torch.tensor(p, device="cuda", requires_grad=True) for p in params]
    step_gg = lambda: mlp.gpugrad_step(gg, gX, gy, gp)  # noqa: E731
    step_pt = lambda: mlp.torch_step(torch, tX, ty, tp)  # noqa: E731
    print(f"\nMLP step (512, 784-1024-10), host µs per step without sync: "
          f"gpugrad {per_call(step_gg, 2000):.0f}, PyTorch {per_call(step_pt, 2000):.0f}")
    # The same steps as run.py times them: CUDA events around 40 steps, inputs rotating
    # through DLPack views of many batches.
    import common
    import cuda_workloads as cw
    steps, _ = cw.mlp_contenders(torch, batch, sizes)
    timer = common.CUDATimer(cp)
    for name in list(steps) + ["gpugrad, fixed input"]:
        fn = steps.get(name, step_gg)
        for _ in range(20):
            fn()
        t = sorted(timer.sample(fn, 40) for _ in range(9))[4]
        print(f"  events, 40 steps: {name:24} {t * 1e6:7.0f} µs/step")
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(500):
        step_gg()
    prof.disable()
    cp.cuda.Device().synchronize()
    pstats.Stats(prof).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
