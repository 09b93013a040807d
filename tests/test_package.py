"""What a newcomer and a packager meet: the demo, the README's code, imports, the wheel."""
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*args, env=None, cwd=ROOT):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})}, timeout=600)


def test_demo_prints_every_node():
    r = run("-m", "gpugrad", "demo", "--example", "graphs")
    assert r.returncode == 0, r.stderr
    lines = {ln.split()[0]: ln.split()[-2:] for ln in r.stdout.splitlines()
             if ln.startswith("  ") and len(ln.split()) == 4}
    assert lines["g"] == ["-12", "1"] and lines["q"] == ["4", "-3"]
    assert lines["total"] == ["319", "1"] and lines["tax"] == ["1.1", "290"]
    assert lines["n_pencil"] == ["2", "110"] and lines["n_eraser"] == ["3", "33"]


def test_readme_code_runs():
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks
    namespace = {}
    for code in blocks:
        exec(compile(code, "README.md", "exec"), namespace)


def test_readme_names_the_two_commands():
    text = (ROOT / "README.md").read_text()
    assert "python -m gpugrad demo" in text and "python -m pytest" in text


def test_import_without_cupy_and_clear_cuda_error():
    code = (
        "import sys; sys.modules['cupy'] = None\n"  # as if CuPy were not installed
        "import gpugrad as gg\n"
        "assert gg.cuda.is_available() is False\n"
        "assert gg.cuda.device_count() == 0\n"
        "try:\n"
        "    gg.tensor(1.0, device='cuda')\n"
        "except RuntimeError as e:\n"
        "    print(e)\n"
        "else:\n"
        "    raise SystemExit('no error')\n")
    r = run("-c", code)
    assert r.returncode == 0, r.stderr + r.stdout
    assert "CuPy" in r.stdout and "pip install" in r.stdout


def test_wheel_carries_the_kernels(tmp_path):
    pytest.importorskip("hatchling")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                        "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    (wheel,) = tmp_path.glob("gpugrad-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    sources = sorted(p.name for p in (ROOT / "kernels").iterdir() if p.suffix in (".cu", ".cuh"))
    assert sources, "kernels/ holds no CUDA source"
    for name in sources:
        assert f"gpugrad/kernels/{name}" in names
    assert "gpugrad/autograd/__init__.py" in names and not any(n.startswith("tests/") for n in names)
