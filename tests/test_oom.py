"""Out of memory inside a forward or a backward, for real on both devices.

On the CPU NumPy raises MemoryError (its _ArrayMemoryError) for an array it cannot
allocate: an op on a broadcast view of 2**45 elements, or, as a ceiling the big batch
crosses and a small one does not, the address-space limit (RLIMIT_AS, Linux; in a
child interpreter, so that nothing else in pytest's process runs under it).
On CUDA CuPy's pool raises cupy.cuda.memory.OutOfMemoryError (a MemoryError) past
cupy.get_default_memory_pool().set_limit(...). Either way the error keeps its class and
gains a note naming the op and the shapes; what the failed step allocated is free again
inside the caller's except block (CPU: tracemalloc, to which NumPy reports its arrays;
CUDA: the pool's used bytes); parameters, optimizer state and .grad are as before the
failed step, and the same model then trains at a smaller batch exactly as a fresh one.
"""
import contextlib
import ctypes
import os
import subprocess
import sys
import traceback
import tracemalloc

import numpy as np
import pytest

import gpugrad as gg
from tests.conftest import DEVICES

SLACK = 64 * 1024  # bytes the handled error itself may hold: exception, traceback, note


# ---- memory on each device -----------------------------------------------------------
# NumPy reports a failed allocation to tracemalloc as a block at address 0 of the failed
# size (numpy 2.4: PyTraceMalloc_Track without a NULL check) and never removes it: taken
# out here, so that traced bytes are the live ones. The block's size, the failed request,
# is what tracemalloc's peak gained at the failure.
_NUMPY_TRACE_DOMAIN = 389047
_untrack = ctypes.pythonapi.PyTraceMalloc_Untrack
_untrack.argtypes = [ctypes.c_uint, ctypes.c_size_t]


class _CpuMemory:
    phantom = 0  # the size of the last failed request, once used() has taken it out

    def used(self):
        with_phantom = tracemalloc.get_traced_memory()[0]
        _untrack(_NUMPY_TRACE_DOMAIN, 0)
        now = tracemalloc.get_traced_memory()[0]
        if with_phantom > now:
            self.phantom = with_phantom - now
        return now

    def start_peak(self):
        tracemalloc.reset_peak()
        self.phantom = 0

    def held_at_failure(self):
        """Bytes traced when the failed allocation was asked for: the peak since
        start_peak, less the failed request's phantom block (used() takes it out)."""
        peak = tracemalloc.get_traced_memory()[1]
        self.used()
        assert self.phantom > 0, "no failed allocation was traced"
        return peak - self.phantom

    @contextlib.contextmanager
    def limit(self, headroom):
        """Address space capped at what is mapped now plus headroom (Linux)."""
        import resource
        with open("/proc/self/status") as f:
            vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
        old = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (vm + headroom, old[1]))
        try:
            yield
        finally:
            resource.setrlimit(resource.RLIMIT_AS, old)


class _CudaMemory:
    def __init__(self):
        import cupy
        self.pool = cupy.get_default_memory_pool()

    def used(self):
        return self.pool.used_bytes()

    @contextlib.contextmanager
    def limit(self, headroom):
        """The pool capped at the bytes in use now plus headroom (the limit counts the
        pool's cached blocks too: released first)."""
        old = self.pool.get_limit()
        self.pool.free_all_blocks()
        self.pool.set_limit(size=self.pool.total_bytes() + headroom)
        try:
            yield
        finally:
            self.pool.set_limit(size=old)


@pytest.fixture
def mem(device):
    """The device's memory, measured; the CuPy pool's limit as it was afterwards."""
    if device == "cpu":
        tracing = tracemalloc.is_tracing()
        if not tracing:
            tracemalloc.start()
        try:
            yield _CpuMemory()
        finally:
            _untrack(_NUMPY_TRACE_DOMAIN, 0)
            if not tracing:
                tracemalloc.stop()
        return
    m = _CudaMemory()
    old = m.pool.get_limit()
    try:
        yield m
    finally:
        m.pool.set_limit(size=old)
        m.pool.free_all_blocks()


def _allocator_error(device):
    """The class the device's allocator raises for an impossible array, asked directly."""
    xp = gg.ones(1, device=device)._backend.xp
    try:
        xp.empty(2**45, dtype=np.float32)
    except MemoryError as e:
        return type(e)
    raise AssertionError("an array of 2**45 float32 was allocated")


def _impossible(h):
    """exp of a broadcast view of h with 2**45 elements or more: a real allocation failure."""
    B, D = h.shape
    k = max(1, 2**45 // (B * D))
    return gg.broadcast_to(h.unsqueeze(1), (B, k, D)).exp().sum(1)


class _Impossible(gg.nn.Module):
    def forward(self, h):
        return _impossible(h)


class _HogBackward(gg.autograd.Function):
    """Identity forward; a backward rule that asks for an impossible temporary."""

    @staticmethod
    def forward(ctx, x):
        return x * 1

    @staticmethod
    def backward(ctx, g):
        return _impossible(g)


class _Hog(gg.nn.Module):
    def forward(self, h):
        return _HogBackward.apply(h)


def _params(model):
    return [p.detach().cpu().numpy().copy() for p in model.parameters()]


def _grads(model):
    return [None if p.grad is None else p.grad.cpu().numpy().copy() for p in model.parameters()]


def _opt_state(opt):
    sd = opt.state_dict()
    return {i: {k: (v.cpu().numpy().copy() if isinstance(v, gg.Tensor) else v)
                for k, v in s.items()} for i, s in sd["state"].items()}


def _assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        if x is None or y is None:
            assert x is None and y is None
        else:
            np.testing.assert_array_equal(x, y)


def _assert_same_state(a, b):
    assert a.keys() == b.keys()
    for i in a:
        assert a[i].keys() == b[i].keys()
        for k in a[i]:
            np.testing.assert_array_equal(a[i][k], b[i][k])


@pytest.mark.parametrize("device", DEVICES)
def test_forward_oom_keeps_its_class_names_the_op_and_frees_the_activations(device, mem):
    gg.manual_seed(0)
    B, H = 1024, 1024
    model = gg.nn.Sequential(gg.nn.Linear(16, H), gg.nn.ReLU(), gg.nn.Linear(H, H),
                             gg.nn.ReLU(), _Impossible()).to(device)
    x = gg.randn(B, 16, device=device)
    cls = _allocator_error(device)
    before = mem.used()
    if device == "cpu":
        mem.start_peak()
    with pytest.raises(MemoryError) as info:
        model(x)
    in_except = mem.used()  # still handling: pytest.raises holds the error and its traceback
    e = info.value
    assert type(e) is cls
    note = "\n".join(getattr(e, "__notes__", ()))
    assert note.startswith("gpugrad: out of memory in Exp with arguments float32 "
                           f"({B}, {2**45 // (B * H)}, {H}) on {device}"), note
    assert len(e.__notes__) == 1  # once, though three Module calls handled the error
    # The cleared frames still print: the user sees where the op failed.
    printed = "".join(traceback.format_exception(e))
    assert "in _impossible" in printed and "ops/unary.py" in printed, printed
    assert in_except - before <= SLACK, (before, in_except)
    if device == "cpu":  # the failed forward had activations to free: the two ReLU outputs
        held = mem.held_at_failure() - before
        assert held >= 2 * B * H * 4, held
        print(f"\nforward OOM ({device}): {held / 2**20:.1f} MiB held at the failure, "
              f"{(in_except - before) / 1024:+.1f} KiB left inside the except block")


@pytest.mark.parametrize("device", DEVICES)
def test_backward_oom_keeps_its_class_frees_the_pending_gradients_and_leaves_grad(device, mem):
    gg.manual_seed(0)
    B, H = 1024, 1024
    model = gg.nn.Sequential(gg.nn.Linear(16, H), gg.nn.ReLU(), _Hog(), gg.nn.Linear(H, H),
                             gg.nn.ReLU(), gg.nn.Linear(H, 4)).to(device)
    loss_fn = gg.nn.CrossEntropyLoss()
    x = gg.randn(B, 16, device=device)
    y = gg.randint(0, 4, (B,), device=device)
    # .grad already holds something (a previous backward): a failed one must not add to it
    # nor replace it.
    with gg.no_grad():
        for p in model.parameters():
            p.grad = gg.randn(*p.shape, device=device)
    params, grads = _params(model), _grads(model)
    loss = loss_fn(model(x), y)
    before = mem.used()
    if device == "cpu":
        mem.start_peak()
    with pytest.raises(MemoryError) as info:
        loss.backward()
    in_except = mem.used()
    e = info.value
    assert type(e) is _allocator_error(device)
    note = "\n".join(getattr(e, "__notes__", ()))
    assert note.startswith(f"gpugrad: out of memory in the backward of _HogBackward "
                           f"(_HogBackwardBackward, inputs of shape ({B}, {H})) > Exp with "
                           f"arguments float32 ({B}, {2**45 // (B * H)}, {H}) on {device}"), note
    assert in_except - before <= SLACK, (before, in_except)
    _assert_same(_params(model), params)
    _assert_same(_grads(model), grads)  # all or nothing: see the module docstring of oom.py
    if device == "cpu":  # the pass had gradients pending: the one Hog got, B x H
        held = mem.held_at_failure() - before
        assert held >= B * H * 4, held
        print(f"\nbackward OOM ({device}): {held / 2**20:.1f} MiB held at the failure, "
              f"{(in_except - before) / 1024:+.1f} KiB left inside the except block")


def _limit_setup(device):
    gg.manual_seed(0)
    model = gg.nn.Sequential(gg.nn.Linear(16, 512), gg.nn.ReLU(),
                             gg.nn.Linear(512, 4)).to(device)
    return model, gg.optim.Adam(model.parameters(), lr=1e-2), gg.nn.CrossEntropyLoss()


def _step(model, opt, loss_fn, x, y):
    opt.zero_grad()
    loss_fn(model(x), y).backward()
    opt.step()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("phase", ["forward", "backward"])
def test_after_oom_the_same_model_trains_at_a_smaller_batch(device, phase, request):
    """Under a memory ceiling a batch of 65 536 fails (its activations are 128 MiB each,
    over 32 MiB of headroom: more than glibc keeps mapped after a free), in the forward or,
    the ceiling set after the forward, in the backward. Inside the except block the
    step's memory is free; then, under the same ceiling, the model trains at 64 rows and
    ends exactly where a fresh model trained on the same small batches ends."""
    if device == "cuda":
        _ceiling(device, phase, request.getfixturevalue("mem"))
        return
    if not sys.platform.startswith("linux"):
        pytest.skip("RLIMIT_AS is enforced on Linux only")
    # RLIMIT_AS caps the whole process: in pytest's it would cap whatever else runs
    # there (on a GPU machine, CUDA's threads: the suite has made a context by then). A
    # fresh interpreter runs the CPU ceiling, with gpugrad and NumPy and nothing of CUDA.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = ("import sys, tracemalloc, types\n"
            "sys.modules['tests.conftest'] = types.SimpleNamespace(DEVICES=['cpu'])\n"
            "from tests.test_oom import _CpuMemory, _ceiling\n"
            "tracemalloc.start()\n"
            f"_ceiling('cpu', {phase!r}, _CpuMemory())\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [root] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    r = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True,
                       text=True, timeout=300)
    print(r.stdout, end="")
    assert r.returncode == 0, r.stdout + r.stderr


def _ceiling(device, phase, mem):
    HEADROOM = 32 * 2**20
    gen = np.random.default_rng(0)
    X = gen.standard_normal((65536, 16)).astype(np.float32)
    Y = gen.integers(0, 4, 65536)
    xb, yb = gg.tensor(X, device=device), gg.tensor(Y, device=device)
    small = [(gg.tensor(X[i:i + 64], device=device), gg.tensor(Y[i:i + 64], device=device))
             for i in (0, 64)]

    ref, ref_opt, loss_fn = _limit_setup(device)
    for x, y in small:
        _step(ref, ref_opt, loss_fn, x, y)

    model, opt, loss_fn = _limit_setup(device)
    _step(model, opt, loss_fn, *small[0])
    with gg.no_grad():  # the big GEMMs once without a ceiling: BLAS maps its buffers now
        model(xb)
    params, state, grads = _params(model), _opt_state(opt), _grads(model)
    before = mem.used()
    if phase == "forward":
        with mem.limit(HEADROOM):
            try:
                loss = loss_fn(model(xb), yb)
            except MemoryError as e:
                in_except = mem.used()
                note = "\n".join(getattr(e, "__notes__", ()))
            else:
                pytest.fail("a batch of 65 536 fitted under the ceiling")
            assert in_except - before <= SLACK, (before, in_except)
            assert note.startswith("gpugrad: out of memory in "), note
            _assert_same(_params(model), params)
            _assert_same_state(_opt_state(opt), state)
            _step(model, opt, loss_fn, *small[1])
    else:
        loss = loss_fn(model(xb), yb)
        after_forward = mem.used()
        with mem.limit(HEADROOM):
            try:
                loss.backward()
            except MemoryError as e:
                in_except = mem.used()
                note = "\n".join(getattr(e, "__notes__", ()))
            else:
                pytest.fail("the backward of a batch of 65 536 fitted under the ceiling")
            # The forward's graph is the caller's (loss), to drop as in PyTorch: see
            # test_a_failed_backward_leaves_the_graph_to_the_caller for inside the except.
            del loss
            dropped = mem.used()
            assert in_except - after_forward <= SLACK, (after_forward, in_except)
            assert dropped - before <= SLACK, (before, dropped)
            assert note.startswith("gpugrad: out of memory in the backward of "), note
            _assert_same(_grads(model), grads)
            _assert_same(_params(model), params)
            _assert_same_state(_opt_state(opt), state)
            _step(model, opt, loss_fn, *small[1])
    base = before if phase == "forward" else after_forward
    print(f"\n{phase} OOM under a ceiling ({device}): {(in_except - base) / 1024:+.1f} KiB "
          f"left inside the except block; {note}")
    _assert_same(_params(model), _params(ref))
    _assert_same_state(_opt_state(opt), _opt_state(ref_opt))


@pytest.mark.parametrize("device", ["cpu"])
@pytest.mark.parametrize("call", [
    "gg.autograd.backward(loss)", "gg.autograd.grad(loss, params)",
    "loss.backward()"])
def test_a_failed_backward_leaves_the_graph_to_the_caller(call, mem):
    """Once the caller drops its loss inside the except block, the forward's graph
    goes too: nothing of gpugrad's on the traceback holds it."""
    gg.manual_seed(0)
    B, H = 1024, 1024
    model = gg.nn.Sequential(gg.nn.Linear(16, H), gg.nn.ReLU(), _Hog(), gg.nn.Linear(H, 4))
    x = gg.randn(B, 16)
    before = mem.used()
    loss = model(x).sum()
    assert mem.used() - before >= B * H * 4  # the graph holds activations
    try:  # called here, not through a helper: a frame of the caller's would hold the loss
        if call == "loss.backward()":
            loss.backward()
        elif call == "gg.autograd.backward(loss)":
            gg.autograd.backward(loss)
        else:
            gg.autograd.grad(loss, list(model.parameters()))
    except MemoryError as e:
        assert "\n".join(e.__notes__).startswith("gpugrad: out of memory in the backward of "
                                                 "_HogBackward")
        del loss
        dropped = mem.used()
    else:
        pytest.fail("the backward fitted")
    assert dropped - before <= SLACK, (before, dropped)


def test_an_op_inside_a_module_is_named_once(monkeypatch):
    """apply's handler runs in apply's frame, which it cannot clear; Module.__call__'s
    handler after it must not name that op a second time (it did, '... > Mul ...')."""
    from gpugrad.ops.arith import Mul

    def forward(ctx, a, b):
        raise MemoryError("no memory")
    monkeypatch.setattr(Mul, "forward", staticmethod(forward))

    class Square(gg.nn.Module):
        def forward(self, x):
            return x * x

    class Outer(gg.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = Square()

        def forward(self, x):
            return self.inner(x) + 1

    x = gg.ones(3, requires_grad=True)
    with pytest.raises(MemoryError) as info:
        Outer()(x)
    assert info.value.__notes__ == [
        "gpugrad: out of memory in Mul with arguments float32 (3,) on cpu, float32 (3,) on cpu"]
