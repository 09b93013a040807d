"""nvcc for the CPU-only checks of kernels/: where it is, compiling a kernel source to
PTX, and compiling and running a host program built on a kernel header (numbers in
on stdin, one number a line out on stdout).

Used by tests/test_kernels_host.py and tests/optim/test_optim_kernels_host.py."""
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

KERNELS = Path(__file__).resolve().parent.parent / "kernels"
NVCC = shutil.which("nvcc") or ("/usr/local/bin/nvcc" if os.access("/usr/local/bin/nvcc", os.X_OK)
                                else None)
requires_nvcc = pytest.mark.skipif(NVCC is None,
                                   reason="nvcc not found (CUDA toolkit not installed)")

# What every host program has around its own part: rd() reads the next number on
# stdin (throwing 1 at the end of input), wr() writes one number a line, and main
# calls the program's `template <class T> static int run(const char* op)` as
# `prog OP DTYPE`, with T float for float32 and double otherwise.
_HOST_HEAD = r"""
#include "{header}"
#include <cstdio>
#include <cstring>
#include <utility>
#include <vector>

static double rd() {{ double v; if (std::scanf("%lf", &v) != 1) throw 1; return v; }}
static void wr(double v) {{ std::printf("%.17g\n", v); }}
"""

_HOST_MAIN = r"""
int main(int argc, char** argv) {
    if (argc != 3) return 2;
    try {
        return !std::strcmp(argv[2], "float32") ? run<float>(argv[1]) : run<double>(argv[1]);
    } catch (int) {
        std::fprintf(stderr, "bad input\n");
        return 3;
    }
}
"""


def compile_ptx(src, dst, arch, ctype):
    """nvcc --ptx of src (which may include kernels/ headers) for arch, with GG_DTYPE
    = ctype and every warning an error; the finished subprocess.CompletedProcess."""
    return subprocess.run([NVCC, "--ptx", f"-arch={arch}", "--std=c++17", f"-DGG_DTYPE={ctype}",
                           "-Werror", "all-warnings", "-I", str(KERNELS), str(src),
                           "-o", str(dst)], capture_output=True, text=True, timeout=300)


def host_program(directory, header, body, flags=()):
    """Compiles kernels/header with body (which defines run<T>) into a host program in
    directory; returns run(op, dtype, numbers) -> the float64 numbers it writes."""
    name = Path(header).stem + "_host"
    src = Path(directory) / f"{name}.cu"
    src.write_text(_HOST_HEAD.format(header=header) + body + _HOST_MAIN)
    exe = Path(directory) / name
    p = subprocess.run([NVCC, "-x", "cu", "-O2", "--std=c++17", *flags, "-I", str(KERNELS),
                        str(src), "-o", str(exe)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, f"host compile of kernels/{header} failed:\n{p.stderr}"

    def run(op, dtype, numbers):
        text = " ".join(repr(float(v)) for v in numbers)
        r = subprocess.run([str(exe), op, dtype], input=text, capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0, r.stderr
        return np.array([float(v) for v in r.stdout.split()])
    return run
