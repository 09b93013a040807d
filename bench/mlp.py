"""One MLP training step, written three times with the same math.

logits = sigmoid(X W1 + b1) W2 + b2; loss = mean softmax-cross-entropy (stable,
via log-sum-exp); backward; SGD p -= lr * g. The hand-written version is
generic over the array module, so it is the NumPy floor on the CPU and the
composed-CuPy contender on CUDA. Every contender gets its own copy of the same
initial parameters and reads the same X and labels.
"""
from __future__ import annotations

import numpy as np

LR = 0.01


def make_data(batch, sizes, seed=0):
    """Host arrays: X (batch, d0) float32, labels int64, params [W1, b1, W2, b2]."""
    rng = np.random.default_rng(seed)
    d_in, hidden, classes = sizes
    X = rng.standard_normal((batch, d_in), dtype=np.float32)
    y = rng.integers(0, classes, batch, dtype=np.int64)
    params = [
        (rng.standard_normal((d_in, hidden), dtype=np.float32) / np.sqrt(d_in)).astype(np.float32),
        (0.1 * rng.standard_normal(hidden, dtype=np.float32)).astype(np.float32),
        (rng.standard_normal((hidden, classes), dtype=np.float32) / np.sqrt(hidden)).astype(np.float32),
        (0.1 * rng.standard_normal(classes, dtype=np.float32)).astype(np.float32),
    ]
    return X, y, params


def handwritten_step(xp, X, y, params, lr=LR, out_in=False):
    """The floor for any engine over xp: no graph, no checks, the same math as
    gpugrad's backend (sigmoid in place, softmax-CE from each row's max and log-sum
    of exps), in as few passes as a hand-written step can.

    out_in: the weights are (out, in), as nn.Linear holds them (linear_layout), and
    the products are x @ W.T and g.T @ x: the same math in nn.Linear's layout, whose
    BLAS calls cost differently (NumPy's x @ W.T at 128 x 784 x 256 is 1.13-1.28x
    x @ W with OpenBLAS on a Xeon)."""
    W1, b1, W2, b2 = params
    n = X.shape[0]
    h = X @ (W1.T if out_in else W1)
    h += b1
    xp.negative(h, out=h)
    xp.exp(h, out=h)
    h += 1
    xp.reciprocal(h, out=h)
    z = h @ (W2.T if out_in else W2)
    z += b2
    zm = z - z.max(axis=1, keepdims=True)  # differences from the row max: exact near it
    logsum = xp.log(xp.exp(zm).sum(axis=1))
    rows = xp.arange(n)
    loss = (logsum - zm[rows, y]).mean()

    gz = zm - logsum[:, None]
    xp.exp(gz, out=gz)
    inv_n = np.float32(1.0 / n)
    gz *= inv_n
    gz[rows, y] -= inv_n
    gW2 = gz.T @ h if out_in else h.T @ gz
    gb2 = gz.sum(axis=0)
    gh = gz @ W2 if out_in else gz @ W2.T
    ga = 1 - h
    ga *= h
    ga *= gh
    gW1 = ga.T @ X if out_in else X.T @ ga
    gb1 = ga.sum(axis=0)
    for p, g in zip(params, (gW1, gb1, gW2, gb2)):
        p -= lr * g
    return loss


def linear_layout(params):
    """make_data's parameters with each W as (out, in), C-contiguous: nn.Linear's."""
    return [np.ascontiguousarray(p.T) if p.ndim == 2 else p.copy() for p in params]


def gpugrad_step(gg, X, y, params, lr=LR):
    """The optimizer step as the README teaches it: in place under no_grad."""
    W1, b1, W2, b2 = params
    h = gg.sigmoid(X @ W1 + b1)
    loss = gg.softmax_cross_entropy(h @ W2 + b2, y)
    loss.backward()
    with gg.no_grad():
        for p in params:
            p -= lr * p.grad
            p.grad = None
    return loss


def gpugrad_step_raw_update(gg, X, y, params, lr=LR):
    """Same forward/backward, SGD on the raw arrays: separates the engine's
    forward+backward cost from the cost of its in-place Tensor update."""
    W1, b1, W2, b2 = params
    h = gg.sigmoid(X @ W1 + b1)
    loss = gg.softmax_cross_entropy(h @ W2 + b2, y)
    loss.backward()
    for p in params:
        p.data -= lr * p.grad.data
        p.grad = None
    return loss


def torch_step(torch, X, y, params, lr=LR):
    W1, b1, W2, b2 = params
    h = torch.sigmoid(X @ W1 + b1)
    loss = torch.nn.functional.cross_entropy(h @ W2 + b2, y)
    loss.backward()
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad
            p.grad = None
    return loss


# ---- the same step through the training stack: nn.Linear + optim.SGD ------------------
def nn_model(lib, params):
    """Two lib.nn.Linear layers holding the given parameters (W stored transposed, as
    Linear keeps weight (out, in)), and lib.optim.SGD over them (lr LR): works for
    gpugrad and torch alike."""
    W1, b1, W2, b2 = params
    layers = [lib.nn.Linear(*W1.shape), lib.nn.Linear(*W2.shape)]
    with lib.no_grad():
        for layer, W, b in zip(layers, (W1, W2), (b1, b2)):
            w, bb = lib.from_numpy(np.ascontiguousarray(W.T)), lib.from_numpy(b.copy())
            if lib.__name__ != "torch":  # gpugrad's .data is the array
                w, bb = w.data, bb.data
            layer.weight.data[...] = w
            layer.bias.data[...] = bb
    opt = lib.optim.SGD([p for layer in layers for p in layer.parameters()], lr=LR)
    return layers, opt


def nn_params(layers):
    """[W1, b1, W2, b2] as host arrays in make_data's layout."""
    out = []
    for layer in layers:
        w, b = layer.weight.detach(), layer.bias.detach()
        out += [np.asarray(w.numpy()).T, np.asarray(b.numpy())]
    return out


def gpugrad_nn_step(gg, X, y, model):
    """opt.zero_grad(); loss = CE(l2(sigmoid(l1(X)))); backward; opt.step()."""
    (l1, l2), opt = model
    opt.zero_grad()
    loss = gg.softmax_cross_entropy(l2(gg.sigmoid(l1(X))), y)
    loss.backward()
    opt.step()
    return loss


def torch_nn_step(torch, X, y, model):
    (l1, l2), opt = model
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(l2(torch.sigmoid(l1(X))), y)
    loss.backward()
    opt.step()
    return loss
