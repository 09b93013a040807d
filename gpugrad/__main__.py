"""`python -m gpugrad demo`: the classic computation-graph examples, node by node."""
from __future__ import annotations

import argparse

import gpugrad as gg


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


def demo(device=None):
    f64 = dict(dtype=gg.float64, device=device, requires_grad=True)

    x, y, z = (gg.tensor(v, **f64) for v in (1.0, 3.0, -3.0))
    q = x + y
    g = q * z
    _graph("g = (x + y) * z at x=1, y=3, z=-3", dict(x=x, y=y, z=z, q=q, g=g), g)

    pencil, n_pencil = gg.tensor(100.0, **f64), gg.tensor(2.0, **f64)
    eraser, n_eraser = gg.tensor(30.0, **f64), gg.tensor(3.0, **f64)
    tax = gg.tensor(1.1, **f64)
    pencils = pencil * n_pencil
    erasers = eraser * n_eraser
    subtotal = pencils + erasers
    total = subtotal * tax
    _graph("shopping: 2 pencils at 100, 3 erasers at 30, 10% tax",
           dict(pencil=pencil, n_pencil=n_pencil, eraser=eraser, n_eraser=n_eraser,
                tax=tax, pencils=pencils, erasers=erasers, subtotal=subtotal, total=total),
           total)

    x = gg.tensor(3.0, **f64)
    a = x * x
    b = a * a + a
    _graph("shared subexpression: a = x*x; b = a*a + a at x=3 (db/dx = (2a+1) 2x)",
           dict(x=x, a=a, b=b), b)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m gpugrad")
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="run the worked computation-graph examples")
    d.add_argument("--device", default=None, help="cpu (default) or cuda")
    args = parser.parse_args(argv)
    if args.command == "demo":
        demo(args.device)


if __name__ == "__main__":
    main()
