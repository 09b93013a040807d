"""gpugrad benchmark suite: `python bench/run.py [--device cpu|cuda] [--quick]`.

Writes bench/results/<machine>-<device>-<date>[-quick].md and PNG charts beside it.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# Measure the checkout this file belongs to, not whatever gpugrad is installed.
sys.path.insert(0, os.path.dirname(HERE))

import common  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--quick", action="store_true",
                    help="fewer samples and sizes: a smoke run, not numbers to publish")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--threads", type=int, default=1,
                    help="BLAS (NumPy) and intra-op (PyTorch) threads for --device cpu "
                         "(default 1: engine overhead is measured in process CPU time)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    if args.device == "cpu":
        # Before NumPy or PyTorch is imported: their thread pools read these once.
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)

    try:
        import torch
    except ImportError:
        sys.exit("bench needs PyTorch and matplotlib: pip install -e '.[bench]'")
    settings = common.QUICK if args.quick else common.FULL
    os.makedirs(args.out, exist_ok=True)

    if args.device == "cpu":
        import cpu_workloads as workloads
        timer_name = common.CPUTimer.name
        machine = f"{common.cpu_model()} {common.usable_cores()}c"
    else:
        try:
            import cuda_workloads as workloads  # the only module that imports CuPy
        except ImportError as e:
            sys.exit(f"--device cuda needs CuPy ({e}): pip install -e '.[cuda]'")
        timer_name = common.CUDATimer.name
        machine = workloads.gpu_name()

    # Both libraries get the same number of BLAS threads, or the comparison measures
    # threading rather than the engines.
    _, blas_threads = common.numpy_blas()
    if args.device == "cpu":
        torch.set_num_threads(args.threads)
    elif blas_threads and torch.get_num_threads() != blas_threads:
        torch.set_num_threads(blas_threads)
    header = common.base_header(args.device, args.quick, settings, timer_name)
    header["PyTorch"] = (f"{torch.__version__}, {torch.get_num_threads()} intra-op threads "
                         f"(set equal to NumPy's BLAS threads), "
                         f"{torch.get_num_interop_threads()} inter-op threads")
    header.update(workloads.header(torch))

    stem = common.output_stem(args.out, machine, args.device, args.quick)
    report = common.Report(f"gpugrad benchmarks: {args.device}, {machine}", header)
    workloads.run(report, torch, settings, stem, args.quick)

    header["Run time"] = f"{time.perf_counter() - t0:.0f} s"
    report.write(stem + ".md")
    print(f"\nwrote {stem}.md")
    for t in report.targets():
        print(f"  {t.verdict:4}  {t.line()}")


if __name__ == "__main__":
    main()
