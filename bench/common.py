"""What every workload shares: timers, interleaved sampling, the environment
header, targets, the markdown report and the charts."""
from __future__ import annotations

import ctypes
import datetime
import glob
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---- sampling --------------------------------------------------------------------
@dataclass
class Settings:
    rounds: int        # interleaved samples per contender; odd, so the median is a sample
    warmup: int        # untimed calls per contender before calibrating
    min_sample: float  # seconds one sample should last, so timer resolution is noise-free


FULL = Settings(rounds=31, warmup=3, min_sample=0.05)
# Samples stay long in quick mode too: on a 2-core VM a sample that starts right after
# the idle pause sometimes runs at about half speed for several ms (two busy threads on
# one core until the scheduler spreads them, it seems): 10 ms samples of the NumPy step
# at (128, 784-256-10) were bimodal (0.77 or 1.5 ms), 45 ms ones stayed within ±3%.
QUICK = Settings(rounds=5, warmup=2, min_sample=0.04)


class CPUTimer:
    name = "time.perf_counter around n calls, after a 0.15 s idle pause"
    # OpenBLAS (NumPy) and OpenMP (PyTorch) worker threads spin for up to ~0.1 s
    # after a call. With as many threads as cores, a spinning pool slows the other
    # library's next call up to 2x (measured on 2 cores: a NumPy MLP step at
    # (512, 784-1024-10) takes 18 ms right after a PyTorch step, 10.5 ms after 0.1 s
    # idle; PyTorch after NumPy: 25-80 ms vs 12 ms). Every sample starts idle.
    settle = 0.15

    def sample(self, fn, n):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - t0) / n


class ProcessTimer:
    """Process CPU time (time.process_time) around n calls: what this process itself
    spent, so a neighbour on a shared VM (2 cores, 8 users) does not charge its time to
    whichever contender it interrupted. Meaningful for engine-overhead workloads run
    with one BLAS thread (bench/run.py sets that for --device cpu): with several
    threads it would add up every thread's time. No idle pause: with one thread
    there is no spinning pool to wait out."""

    name = "time.process_time (process CPU time) around n calls"
    settle = 0.0

    def sample(self, fn, n):
        t0 = time.process_time()
        for _ in range(n):
            fn()
        return (time.process_time() - t0) / n


class CUDATimer:
    """CUDA events on the legacy default stream, where CuPy's and PyTorch's default
    work both run, so one pair of events brackets either library's kernels."""

    name = "CUDA events (cupy.cuda.Event) around n calls"
    settle = 0.0  # host threads barely work here; an idle GPU would only drop its clocks

    def __init__(self, cp):
        self.cp = cp
        self.start, self.end = cp.cuda.Event(), cp.cuda.Event()

    def sample(self, fn, n):
        self.cp.cuda.Device().synchronize()
        self.start.record()
        for _ in range(n):
            fn()
        self.end.record()
        self.end.synchronize()
        return self.cp.cuda.get_elapsed_time(self.start, self.end) / 1e3 / n


@dataclass
class Stat:
    samples: list  # seconds per call, one per round

    @property
    def median(self):
        return statistics.median(self.samples)

    @property
    def spread(self):
        """Interquartile range relative to the median: how far to trust a ratio."""
        if len(self.samples) < 4:
            return float("nan")
        q = statistics.quantiles(self.samples, n=4)
        return (q[2] - q[0]) / self.median


def calls_per_sample(fn, timer, min_sample):
    n = 1
    while True:
        total = timer.sample(fn, n) * n
        if total >= min_sample or n >= 1 << 20:
            return n
        # Grow towards the target, at most 16x per step: the first calls may be slow.
        n = min(n * 16, max(n + 1, math.ceil(n * min_sample / max(total, 1e-9))))


def measure(contenders: dict, timer, s: Settings) -> dict:
    """Seconds per call of each zero-argument callable, sampled A B C, C B A, ...

    Interleaving spreads slow drifts (clock boost, a neighbour's load) over every
    contender instead of charging them to whichever ran during the drift.
    """
    reps = {}
    for name, fn in contenders.items():
        time.sleep(timer.settle)
        for _ in range(s.warmup):
            fn()
        reps[name] = calls_per_sample(fn, timer, s.min_sample)
    samples = {name: [] for name in contenders}
    for r in range(s.rounds):
        # A B C, C B A, ...: no contender always runs first (or right after another).
        order = list(contenders.items())
        for name, fn in (order if r % 2 == 0 else reversed(order)):
            time.sleep(timer.settle)
            fn()  # untimed: wakes the thread pools the pause let sleep
            samples[name].append(timer.sample(fn, reps[name]))
    return {name: Stat(v) for name, v in samples.items()}


def ratio(stats: dict, a: str, b: str) -> float:
    """Median over rounds of a's sample / b's sample in the same round: the ratio that a
    drift of the machine's speed (large on shared VMs) moves least, since each pair
    of samples ran back to back."""
    return statistics.median(p / q for p, q in zip(stats[a].samples, stats[b].samples))


# ---- formatting ------------------------------------------------------------------
def fmt_time(sec):
    if sec is None or sec != sec:
        return "n/a"
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if sec >= scale:
            return f"{sec / scale:.3g} {unit}"
    return f"{sec / 1e-9:.3g} ns"


def fmt_ratio(r):
    return "n/a" if r is None or r != r else f"{r:.2f}×"


def fmt_bytes(b):
    if b is None:
        return "n/a"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(b) >= scale:
            return f"{b / scale:.3g} {unit}"
    return f"{b} B"


def fmt_spread(st):
    sp = st.spread
    return "n/a" if sp != sp else f"±{50 * sp:.1f}%"


# ---- environment -------------------------------------------------------------------
def _slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unknown"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()


def numpy_blas():
    """(description, threads) of the BLAS NumPy calls; threads None if unknown."""
    import numpy as np
    desc, threads = "unknown", None
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        desc = f"{blas.get('name')} {blas.get('version')}"
    except Exception:
        pass
    # NumPy's wheels bundle scipy-openblas, which exports its thread count under
    # a prefixed name; ask it directly instead of trusting environment variables.
    libdir = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    for path in glob.glob(os.path.join(libdir, "*openblas*")):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for sym in ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
                    "openblas_get_num_threads64_", "openblas_get_num_threads"):
            fn = getattr(lib, sym, None)
            if fn is not None:
                threads = int(fn())
                break
    return desc, threads


def git_state():
    # A lent machine's copy of the tree may carry a stale .git: whoever starts the
    # run there names the commit it was copied from.
    given = os.environ.get("GPUGRAD_BENCH_COMMIT")
    if given:
        return f"{given} (as given by GPUGRAD_BENCH_COMMIT)"
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                             capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "gpugrad", "kernels"],
                               cwd=ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    head = rev.stdout.strip() if rev.returncode == 0 else "no commit yet"
    return head + (" + uncommitted changes in gpugrad/ or kernels/" if dirty.stdout.strip() else "")


def base_header(device, quick, settings, timer_name):
    import numpy as np
    import gpugrad
    blas, blas_threads = numpy_blas()
    hdr = {
        "Date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "Command": "python bench/run.py " + " ".join(sys.argv[1:]),
        "Device": device,
        "CPU": f"{cpu_model()}, {usable_cores()} usable cores",
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "NumPy": f"{np.__version__}, BLAS {blas}, {blas_threads or '?'} BLAS threads",
        "gpugrad": f"{gpugrad.__version__} (git {git_state()})",
        "Sampling": (f"{'quick' if quick else 'full'}: {settings.warmup} warm-up calls, then "
                     f"{settings.rounds} interleaved samples per contender of ≥ "
                     f"{settings.min_sample * 1e3:g} ms each; medians reported, ± is half the "
                     "interquartile range relative to the median"),
        "Timer": timer_name,
    }
    return hdr


# ---- report ----------------------------------------------------------------------
@dataclass
class Target:
    name: str
    value: float
    limit: float
    op: str | None  # "<", "<=" or ">="; None: a number to report, with no limit
    unit: str = "×"

    @property
    def passed(self):
        if self.op is None or self.value is None or self.value != self.value:
            return None
        return {"<": self.value < self.limit, "<=": self.value <= self.limit,
                ">=": self.value >= self.limit}[self.op]

    @property
    def verdict(self):
        if self.op is None:
            return "REPORTED"
        return {True: "PASS", False: "MISS", None: "n/a"}[self.passed]

    def value_text(self):
        if self.value is None or self.value != self.value:
            return "n/a"
        return f"{self.value:.3g}{self.unit}"

    def limit_text(self):
        return "—" if self.op is None else f"{self.op} {self.limit:g}{self.unit}"

    def line(self):
        if self.op is None:
            return f"{self.name}: {self.value_text()}"
        return f"{self.name}: {self.value_text()} (target {self.limit_text()})"


@dataclass
class Section:
    title: str
    notes: str
    columns: list
    rows: list = field(default_factory=list)
    targets: list = field(default_factory=list)
    charts: list = field(default_factory=list)
    extra: str = ""


class Report:
    def __init__(self, title, header):
        self.title = title
        self.header = header
        self.sections: list[Section] = []

    def section(self, title, notes, columns):
        s = Section(title, notes.strip(), columns)
        self.sections.append(s)
        return s

    def targets(self):
        return [t for s in self.sections for t in s.targets]

    def markdown(self):
        out = [f"# {self.title}", ""]
        out += [f"- **{k}**: {v}" for k, v in self.header.items()]
        out.append("")
        ts = self.targets()
        if ts:
            out += ["## Targets", "", "Benchmarks, not tests: a MISS is information.", "",
                    "| target | value | limit | result |", "|---|---|---|---|"]
            for t in ts:
                out.append(f"| {t.name} | {t.value_text()} | {t.limit_text()} | **{t.verdict}** |")
            out.append("")
        for s in self.sections:
            out += [f"## {s.title}", "", s.notes, ""]
            if s.rows:
                out.append("| " + " | ".join(s.columns) + " |")
                out.append("|" + "---|" * len(s.columns))
                out += ["| " + " | ".join(str(c) for c in r) + " |" for r in s.rows]
                out.append("")
            for t in s.targets:
                out.append(f"- **{t.verdict}** {t.line()}")
            if s.targets:
                out.append("")
            for path in s.charts:
                out += [f"![{s.title}]({os.path.basename(path)})", ""]
            if s.extra:
                out += [s.extra.rstrip(), ""]
        return "\n".join(out)

    def write(self, path):
        with open(path, "w") as f:
            f.write(self.markdown())


# ---- charts ----------------------------------------------------------------------
_MAX_PNG = 150_000  # bytes: the results are committed, keep the repository small


def _figure(title, xlabel, ylabel):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel(ylabel, fontsize=9)
    ax.tick_params(labelsize=8)
    ax.grid(True, which="major", alpha=0.3)
    return plt, fig, ax


def _save(plt, fig, ax, path):
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    size = os.path.getsize(path)
    if size > _MAX_PNG:
        print(f"warning: {path} is {size} bytes (> {_MAX_PNG})", file=sys.stderr)
    return path


def line_chart(path, title, xlabel, ylabel, series, logx=2, logy=True):
    """series: name -> (xs, ys); logx: the base of a log x axis, or 0 for linear."""
    plt, fig, ax = _figure(title, xlabel, ylabel)
    for name, (xs, ys) in series.items():
        ax.plot(xs, ys, marker="o", markersize=3, label=name)
    if logx:
        ax.set_xscale("log", base=logx)
    if logy:
        ax.set_yscale("log")
    return _save(plt, fig, ax, path)


def bar_chart(path, title, groups, ylabel, series, logy=True, hline=None):
    """groups: x labels; series: name -> one value per group; hline: a reference level."""
    plt, fig, ax = _figure(title, "", ylabel)
    if hline is not None:
        ax.axhline(hline, color="black", linewidth=0.8)
    width = 0.8 / max(len(series), 1)
    for i, (name, vals) in enumerate(series.items()):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        ax.bar(xs, [v if v == v else 0 for v in vals], width, label=name)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups, fontsize=8)
    if logy:
        ax.set_yscale("log")
    return _save(plt, fig, ax, path)


def output_stem(outdir, machine, device, quick):
    date = datetime.date.today().isoformat()
    return os.path.join(outdir, f"{_slug(machine)}-{device}-{date}" + ("-quick" if quick else ""))

