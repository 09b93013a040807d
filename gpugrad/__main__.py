"""`python -m gpugrad demo`: the main job.

Without `--example` it trains a small MLP on scikit-learn's bundled handwritten
digits (8x8 images, 1797 of them, shipped inside the wheel: nothing is downloaded)
and reports the test accuracy. `--example backprop-step` runs one SGD step on the
textbook 2-2-1 linear network; `--example graphs` prints the classic computation-
graph examples node by node.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import gpugrad as gg

PROG = "python -m gpugrad demo"
_DEMO_EXTRA = "pip install 'gpugrad[demo]'"


class DemoError(Exception):
    """A one-line reason the demo cannot run (printed without a traceback)."""


def _require(module, package):
    """Import an optional dependency of the demo, or say in one line how to install it."""
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as e:
        raise DemoError(f"{package} is needed for this demo but could not be imported "
                        f"({e}); install the demo's packages: {_DEMO_EXTRA}") from None


def _device(name):
    """The device `--device` asks for: auto picks CUDA when a GPU works."""
    if name == "auto":
        return gg.device("cuda" if gg.cuda.is_available() else "cpu")
    try:
        dev = gg.device(name)
    except (ValueError, TypeError, RuntimeError) as e:
        raise DemoError(str(e)) from None
    if dev.type == "cuda":
        reason = gg.cuda.unavailable_reason(dev.index)
        if reason is not None:
            raise DemoError(reason)
    return dev


def _sync(dev):
    # CUDA runs asynchronously: wait for it before reading the clock.
    if dev.type == "cuda":
        gg.cuda.synchronize(dev)


# ---- example: the worked computation graphs ------------------------------------

def _graph(title, nodes, out):
    """Print every node's forward value and the gradient of `out` with respect to it."""
    for t in nodes.values():
        if not t.is_leaf:
            t.retain_grad()
    out.backward()
    print(f"\n{title}")
    print(f"  {'node':<14}{'op':<10}{'forward':>12}{'gradient':>12}")
    for name, t in nodes.items():
        op = "input" if t.is_leaf else type(t.grad_fn).__name__.lower()
        print(f"  {name:<14}{op:<10}{t.item():>12.6g}{t.grad.item():>12.6g}")
    return out


def shopping(device=None):
    """The shopping graph: 2 pencils at 100, 3 erasers at 30, 10 % tax; returns (total, names)."""
    f64 = dict(dtype=gg.float64, device=device, requires_grad=True)
    pencil, n_pencil = gg.tensor(100.0, **f64), gg.tensor(2.0, **f64)
    eraser, n_eraser = gg.tensor(30.0, **f64), gg.tensor(3.0, **f64)
    tax = gg.tensor(1.1, **f64)
    pencils = pencil * n_pencil
    erasers = eraser * n_eraser
    subtotal = pencils + erasers
    total = subtotal * tax
    return total, dict(pencil=pencil, n_pencil=n_pencil, eraser=eraser, n_eraser=n_eraser,
                       tax=tax, pencils=pencils, erasers=erasers, subtotal=subtotal, total=total)


def graphs(device=None):
    """Print three worked graphs node by node: forward values and gradients."""
    f64 = dict(dtype=gg.float64, device=device, requires_grad=True)

    x, y, z = (gg.tensor(v, **f64) for v in (1.0, 3.0, -3.0))
    q = x + y
    g = q * z
    _graph("g = (x + y) * z at x=1, y=3, z=-3", dict(x=x, y=y, z=z, q=q, g=g), g)

    total, names = shopping(device)
    _graph("shopping: 2 pencils at 100, 3 erasers at 30, 10% tax", names, total)

    x = gg.tensor(3.0, **f64)
    a = x * x
    b = a * a + a
    _graph("shared subexpression: a = x*x; b = a*a + a at x=3 (db/dx = (2a+1) 2x)",
           dict(x=x, a=a, b=b), b)


# ---- example: one backprop step on the 2-2-1 linear network ---------------------

def backprop_step(device=None, lr=0.05):
    """One SGD step on the textbook 2-2-1 linear network; returns (before, after) predictions."""
    f64 = dict(dtype=gg.float64, device=device)
    w = [gg.tensor(v, requires_grad=True, **f64) for v in (0.11, 0.21, 0.12, 0.08, 0.14, 0.15)]
    i1, i2 = gg.tensor(2.0, **f64), gg.tensor(3.0, **f64)
    target = gg.tensor(1.0, **f64)

    def forward():
        h1 = i1 * w[0] + i2 * w[1]
        h2 = i1 * w[2] + i2 * w[3]
        return h1 * w[4] + h2 * w[5]

    opt = gg.optim.SGD(w, lr=lr)
    print("backprop step: a 2-2-1 linear network (no activations)")
    print("  h1 = i1*w1 + i2*w2,  h2 = i1*w3 + i2*w4,  out = h1*w5 + h2*w6")
    print(f"  input (2, 3), target 1, loss = 1/2 (out - target)^2, one SGD step at lr {lr:g}")
    out = forward()
    loss = 0.5 * (out - target) ** 2
    before = out.item()
    print(f"\n  prediction before: {before:.4g}   loss {loss.item():.6g}")
    opt.zero_grad()
    loss.backward()
    old = [p.item() for p in w]
    opt.step()
    print(f"\n  {'weight':<8}{'before':>10}{'gradient':>12}{'after':>12}")
    for k, (p, v) in enumerate(zip(w, old), 1):
        print(f"  w{k:<7}{v:>10.6g}{p.grad.item():>12.6g}{p.item():>12.6g}")
    with gg.no_grad():
        out = forward()
        loss = 0.5 * (out - target) ** 2
    after = out.item()
    print(f"\n  prediction after:  {after:.4g}   loss {loss.item():.6g}")
    return before, after


# ---- the main job: an MLP on the handwritten digits -----------------------------

def digits(seed, device=None):
    """The digits split 80/20 by a permutation seeded with `seed`, standardized with
    the training rows' mean and std: (X_train, y_train, X_test, y_test) as Tensors."""
    datasets = _require("sklearn.datasets", "scikit-learn")
    X, y = datasets.load_digits(return_X_y=True)
    order = gg.randperm(len(X), generator=gg.Generator().manual_seed(seed)).numpy()
    test, train = order[:len(X) // 5], order[len(X) // 5:]
    mean, std = X[train].mean(axis=0), X[train].std(axis=0)
    std[std == 0] = 1.0  # pixels blank in every training image stay 0 instead of NaN
    out = []
    for rows in (train, test):
        out.append(gg.tensor((X[rows] - mean) / std, dtype=gg.float32, device=device))
        out.append(gg.tensor(y[rows], dtype=gg.int64, device=device))
    return tuple(out)


def mlp(hidden, device=None):
    """64 pixels -> `hidden` sigmoid units -> 10 class scores (logits)."""
    return gg.nn.Sequential(gg.nn.Linear(64, hidden, device=device), gg.nn.Sigmoid(),
                            gg.nn.Linear(hidden, 10, device=device))


def accuracy(model, X, y):
    """The number of rows of X whose largest logit is the label."""
    with gg.no_grad():
        pred = gg.argmax(model(X), axis=1)
    return int((pred.numpy() == y.numpy()).sum())


def _percent(right, n):
    return f"{100 * right / n:.2f} % ({right}/{n})"


def _plot_format(path):
    """The image format --plot writes: the path's suffix, PNG when it has none."""
    figure = _require("matplotlib.figure", "matplotlib")
    suffix = os.path.splitext(path)[1][1:].lower()
    supported = figure.Figure().canvas.get_supported_filetypes()
    if suffix and suffix not in supported:  # refused before training, not after
        raise DemoError(f"--plot: cannot write {path!r}: matplotlib does not know the format "
                        f"{suffix!r}; use .png or one of {', '.join(sorted(supported))}")
    return suffix or "png"


def _plot(path, losses, accs):
    """Training loss and test accuracy per epoch, side by side: a PNG, or as the suffix says."""
    figure = _require("matplotlib.figure", "matplotlib")
    ticker = _require("matplotlib.ticker", "matplotlib")
    # A bare Figure renders through Agg without touching pyplot's global backend.
    fig = figure.Figure(figsize=(9, 3.4), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    epochs = range(1, len(losses) + 1)
    ax_loss.plot(epochs, losses, marker="o")
    ax_loss.set(xlabel="epoch", ylabel="training loss", title="loss")
    ax_acc.plot(epochs, [100 * a for a in accs], marker="o", color="tab:green")
    ax_acc.set(xlabel="epoch", ylabel="test accuracy (%)", title="test accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    # The format named, so that a path without a suffix is written as given (matplotlib
    # would otherwise append ".png" to it, and the message would name the wrong file).
    fig.savefig(path, dpi=100, format=_plot_format(path))


def train(args, device):
    """Train the MLP on the digits, print each epoch and the result; returns the accuracy."""
    tqdm = _require("tqdm", "tqdm").tqdm
    if args.plot:
        _plot_format(args.plot)  # fail before training, not after
    X_train, y_train, X_test, y_test = digits(args.seed, device)
    gg.manual_seed(args.seed)
    model = mlp(args.hidden, device)
    loss_fn = gg.nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    opt = gg.optim.Adam(model.parameters(), lr=args.lr)
    loader = gg.utils.data.DataLoader(gg.utils.data.TensorDataset(X_train, y_train),
                                      batch_size=args.batch_size, shuffle=True,
                                      generator=gg.Generator().manual_seed(args.seed))
    # Annealing the rate to 0 by the last batch ends on a settled model instead of
    # wherever the last noisy Adam step left it: the final accuracy varies less.
    schedule = gg.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs * len(loader))
    n_train, n_test = len(y_train), len(y_test)
    print(f"device: {device}")
    print(f"data: scikit-learn digits, {n_train} training / {n_test} test images of 8x8 "
          f"pixels (standardized), split by seed {args.seed}")
    print(f"model: 64 -> {args.hidden} sigmoid -> 10, softmax cross-entropy (label smoothing "
          f"{args.label_smoothing:g}), Adam lr {args.lr:g} cosine-annealed to 0, "
          f"batch size {args.batch_size}")
    losses, accs = [], []
    width = len(str(args.epochs))
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        total = 0.0
        # disable=None: a bar on a terminal, none in a log file or a pipe
        for xb, yb in tqdm(loader, desc=f"epoch {epoch}/{args.epochs}", unit="batch",
                           leave=False, disable=None):
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
            # Summed on the device: a .item() per batch would wait for the GPU each time.
            total = loss.detach() * len(yb) + total
        _sync(device)
        seconds = time.perf_counter() - t0
        model.eval()
        right = accuracy(model, X_test, y_test)
        losses.append(total.item() / n_train)
        accs.append(right / n_test)
        print(f"epoch {epoch:>{width}}/{args.epochs}  loss {losses[-1]:.4f}  "
              f"test accuracy {_percent(right, n_test)}  {seconds:.2f} s")
    elapsed = time.perf_counter() - start
    print(f"test accuracy {_percent(right, n_test)} after {args.epochs} "
          f"epoch{'s' if args.epochs > 1 else ''} "
          f"({elapsed:.1f} s of training on {device})")
    try:
        if args.save:
            gg.save({"model": model.state_dict(), "hidden": args.hidden, "seed": args.seed,
                     "epochs": args.epochs, "test_accuracy": right / n_test}, args.save)
            print(f"saved the model to {args.save}")
        if args.plot:
            _plot(args.plot, losses, accs)
            print(f"saved the loss and accuracy curves to {args.plot}")
    except OSError as e:
        raise DemoError(f"cannot write {e.filename}: {e.strerror}" if e.filename and e.strerror
                        else str(e)) from None
    return right / n_test


def evaluate(path, device):
    """Evaluate a checkpoint written by --save on its test split; returns the accuracy."""
    try:
        ckpt = gg.load(path, device=device)
    except (OSError, ValueError) as e:
        raise DemoError(f"--load: cannot read the checkpoint {path!r}: {e}") from None
    if not isinstance(ckpt, dict) or not {"model", "hidden", "seed"} <= ckpt.keys():
        raise DemoError(f"--load: {path!r} is not a checkpoint written by `{PROG} --save` "
                        "(expected the keys 'model', 'hidden' and 'seed')")
    # Checked here, so that a hand-made file gets one line, not a traceback from mlp() or
    # the Generator (and a hidden of 2.5 is not read as 2).
    hidden, seed = ckpt["hidden"], ckpt["seed"]
    for key, value, ok in (("hidden", hidden, lambda v: v > 0),
                           ("seed", seed, lambda v: -2**63 <= v < 2**64)):
        if isinstance(value, bool) or not isinstance(value, int) or not ok(value):
            raise DemoError(f"--load: {path!r} is not a checkpoint written by `{PROG} --save`"
                            f": its {key!r} is {value!r}")
    try:
        model = mlp(hidden, device)
        model.load_state_dict(ckpt["model"])
    except (KeyError, RuntimeError, ValueError, TypeError, MemoryError) as e:
        raise DemoError(f"--load: {path!r} does not fit the demo's model: {e}") from None
    model.eval()
    *_, X_test, y_test = digits(seed, device)
    right = accuracy(model, X_test, y_test)
    print(f"device: {device}")
    print(f"loaded {path}: 64 -> {hidden} sigmoid -> 10, split by seed {seed}")
    print(f"test accuracy {_percent(right, len(y_test))}")
    return right / len(y_test)


def _positive(kind):
    def parse(text):
        value = kind(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value
    parse.__name__ = kind.__name__  # argparse names the type in its error
    return parse


def _seed(text):
    # A Generator's range, checked here: a traceback after the data loads otherwise.
    value = int(text)
    if not -2**63 <= value < 2**64:
        raise argparse.ArgumentTypeError(f"must be in [-2**63, 2**64), got {text}")
    return value


def _fraction(text):
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def _parser():
    parser = argparse.ArgumentParser(prog="python -m gpugrad")
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser(
        "demo", help="train an MLP on the handwritten digits (or run a worked example)",
        description="Train a 64-hidden-10 sigmoid MLP on scikit-learn's bundled handwritten "
                    "digits with Adam, or run a worked example (--example).")
    d.add_argument("--example", choices=["digits", "backprop-step", "graphs"], default="digits",
                   help="digits: train the MLP (default); backprop-step: one SGD step on a "
                        "2-2-1 linear network; graphs: worked computation graphs")
    d.add_argument("--device", default="auto",
                   help="cpu, cuda, cuda:N or auto (default: cuda when a GPU works, else cpu)")
    d.add_argument("--epochs", type=_positive(int), default=30, help="default 30")
    d.add_argument("--batch-size", type=_positive(int), default=32, help="default 32")
    d.add_argument("--lr", type=_positive(float), default=0.01,
                   help="Adam's initial learning rate, annealed to 0 (default 0.01)")
    d.add_argument("--hidden", type=_positive(int), default=128,
                   help="sigmoid units in the hidden layer (default 128)")
    d.add_argument("--label-smoothing", type=_fraction, default=0.1, help="default 0.1")
    d.add_argument("--seed", type=_seed, default=0,
                   help="seeds the split, the initial weights and the shuffling (default 0)")
    d.add_argument("--plot", metavar="PATH",
                   help="save loss and accuracy curves as a PNG (or in the format the "
                        "suffix names: .svg, .pdf, ...)")
    d.add_argument("--save", metavar="PATH", help="save a checkpoint of the trained model")
    d.add_argument("--load", metavar="PATH", help="evaluate a checkpoint instead of training")
    return parser


def main(argv=None) -> int:
    """Run `python -m gpugrad ...`; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.load and (args.save or args.plot):
        parser.error("--load evaluates a checkpoint: it does not train, so --save and "
                     "--plot do not apply")
    given = [o for o, v in (("--load", args.load), ("--save", args.save),
                            ("--plot", args.plot)) if v]
    if args.example != "digits" and given:  # rather than silently doing nothing with them
        parser.error(f"--example {args.example} does not train: {', '.join(given)} "
                     "only work with the digits training (--example digits)")
    try:
        device = _device(args.device)
        if args.example == "graphs":
            graphs(device)
        elif args.example == "backprop-step":
            backprop_step(device)
        elif args.load:
            evaluate(args.load, device)
        else:
            train(args, device)
    except DemoError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
