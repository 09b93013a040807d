"""Threads: grad mode is per thread, and two threads training separate models at once
give bit-identical results to training them one after the other (CPU)."""
import threading

import numpy as np

import gpugrad as gg

TIMEOUT = 60


def _run_threads(*targets):
    errors = []

    def wrap(fn):
        def run():
            try:
                fn()
            except BaseException as e:  # noqa: BLE001 - reported by the main thread
                errors.append(e)
        return run

    threads = [threading.Thread(target=wrap(fn)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
        assert not t.is_alive(), "a thread hung"
    if errors:
        raise errors[0]


def test_grad_mode_is_per_thread():
    """One thread sits inside no_grad (and set_grad_enabled(False)) while the other
    records a graph and runs backward; neither sees the other's mode."""
    barrier = threading.Barrier(2, timeout=TIMEOUT)
    seen = {}

    def quiet():
        with gg.no_grad():
            barrier.wait()  # 1: inside no_grad
            x = gg.tensor([1.0, 2.0], requires_grad=True)
            y = x * 3
            seen["quiet"] = (gg.is_grad_enabled(), y.requires_grad, y.grad_fn)
            barrier.wait()  # 2: the other thread has recorded and run backward
        gg.set_grad_enabled(False)  # the plain-function form, for the rest of this thread
        barrier.wait()  # 3
        seen["quiet_after"] = (gg.is_grad_enabled(), (x * 2).requires_grad)
        barrier.wait()  # 4

    def loud():
        barrier.wait()  # 1
        x = gg.tensor([1.0, 2.0], requires_grad=True)
        y = (x * x).sum()
        seen["loud"] = (gg.is_grad_enabled(), y.requires_grad)
        y.backward()
        seen["loud_grad"] = x.grad.tolist()
        barrier.wait()  # 2
        barrier.wait()  # 3: the other thread switched grad off globally for itself
        z = (x * 2).sum()
        seen["loud_after"] = (gg.is_grad_enabled(), z.requires_grad)
        barrier.wait()  # 4

    before = gg.is_grad_enabled()
    _run_threads(quiet, loud)
    assert seen["quiet"] == (False, False, None)
    assert seen["loud"] == (True, True)
    assert seen["loud_grad"] == [2.0, 4.0]
    assert seen["quiet_after"] == (False, False)
    assert seen["loud_after"] == (True, True)
    assert gg.is_grad_enabled() == before  # the main thread never saw either


def test_a_new_thread_starts_with_grad_enabled():
    seen = []
    with gg.no_grad():
        _run_threads(lambda: seen.append(gg.is_grad_enabled()))
    assert seen == [True]  # as in PyTorch: grad mode is not inherited by a new thread


def _setup(k):
    """Model k, its optimizer and its data, built from fixed seeds (before any thread)."""
    gg.manual_seed(100 + k)
    if k == 0:
        model = gg.nn.Sequential(gg.nn.Linear(20, 64), gg.nn.Tanh(), gg.nn.LayerNorm(64),
                                 gg.nn.Linear(64, 5))
        opt = gg.optim.Adam(model.parameters(), lr=1e-2, amsgrad=True)
        loss_fn = gg.nn.CrossEntropyLoss(label_smoothing=0.1)
    else:
        model = gg.nn.Sequential(gg.nn.Linear(20, 48), gg.nn.ReLU(), gg.nn.Linear(48, 48),
                                 gg.nn.Sigmoid(), gg.nn.Linear(48, 5))
        opt = gg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
        loss_fn = gg.nn.MSELoss()
    rng = np.random.default_rng(k)
    X = gg.tensor(rng.standard_normal((96, 20)).astype(np.float32))
    if k == 0:
        y = gg.tensor(rng.integers(0, 5, 96))
    else:
        y = gg.tensor(rng.standard_normal((96, 5)).astype(np.float32))
    gen = gg.Generator().manual_seed(7 + k)  # each loader its own stream
    loader = gg.utils.data.DataLoader(gg.utils.data.TensorDataset(X, y), batch_size=16,
                                      shuffle=True, generator=gen)
    return model, opt, loss_fn, loader, X


def _train(setup, epochs=15):
    """Train; every few steps evaluate under no_grad (a per-thread grad mode that, were
    it shared, would stop the other thread recording or make this one record)."""
    model, opt, loss_fn, loader, X = setup
    losses = []
    for _ in range(epochs):
        for i, (xb, yb) in enumerate(loader):
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            if i % 2 == 0:
                with gg.no_grad():
                    out = model(X)
                    assert not out.requires_grad and out.grad_fn is None
    params = [p.numpy().copy() for p in model.parameters()]
    return losses, params


def test_two_threads_training_at_once_match_training_one_after_the_other():
    sequential = [_train(_setup(0)), _train(_setup(1))]

    setups = [_setup(0), _setup(1)]
    results = [None, None]
    barrier = threading.Barrier(2, timeout=TIMEOUT)

    def worker(k):
        def run():
            barrier.wait()  # start together
            results[k] = _train(setups[k])
        return run

    for _ in range(2):  # twice: interleavings differ from run to run
        setups = [_setup(0), _setup(1)]
        _run_threads(worker(0), worker(1))
        for k in range(2):
            (l_seq, p_seq), (l_thr, p_thr) = sequential[k], results[k]
            assert l_thr == l_seq, f"model {k}: losses differ"
            for a, b in zip(p_thr, p_seq):
                assert a.dtype == b.dtype and np.array_equal(a, b), f"model {k}: parameters differ"
    assert sequential[0][0][-1] < sequential[0][0][0]  # both trained
    assert sequential[1][0][-1] < sequential[1][0][0]
