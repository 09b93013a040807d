"""`gg.viz`: the graph behind a tensor as Graphviz DOT text, rendered when `dot` is installed.

Drawn the way the classic computation-graph figures are: operations are ellipses,
tensors that are inputs (leaves), outputs or named by the caller are boxes, and the
value of a small tensor is written on the edges that carry it, with its gradient in
red beneath. Built on the public graph API only (`grad_fn.name()`,
`grad_fn.next_functions`, an accumulator's `.variable`), as torch.nn is on torch.autograd.

The graph keeps no forward values of its own, so an intermediate tensor's value
is known only for the tensors handed to `to_dot` (the roots and those in `names`);
its gradient only when `.retain_grad()` was called before `backward()`.
"""
from __future__ import annotations

import html
import shutil
import subprocess
from pathlib import Path

from .tensor import Tensor

__all__ = ["to_dot", "render"]

_FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf"}
_INSTALL = ("install Graphviz: `apt-get install graphviz` (Debian/Ubuntu), "
            "`brew install graphviz` (macOS), `conda install graphviz`, or see "
            "https://graphviz.org/download/")


def _esc(text) -> str:
    """Text made safe inside a DOT HTML-like label (& < > and quotes escaped)."""
    return html.escape(str(text), quote=True)


def _format(t: Tensor) -> str:
    """A small tensor's values, 4 significant digits, as nested lists (copied to the host)."""
    def fmt(a):
        if a.ndim:
            return "[" + ", ".join(fmt(row) for row in a) + "]"
        return f"{a.item():.4g}" if a.dtype.kind in "fc" else str(a.item())
    return fmt(t.detach().numpy())


def _output_nr(t: Tensor) -> int:
    # Which output of its grad_fn a tensor is; only custom ops have more than one.
    return getattr(t, "output_nr", 0)


def to_dot(tensor, names=None, show_values=True, show_grads=True, max_elements=8) -> str:
    """Graphviz DOT text of the graph behind `tensor` (or a list of tensors).

    `names` maps names to tensors (`{'x': x}`, or `dict(model.named_parameters())`):
    they label the boxes, and a named intermediate tensor gets a box of its own
    with its value. Tensors of at most `max_elements` elements show their value
    (`show_values`) and, when known, their gradient `.grad` in red (`show_grads`) on
    the edges that carry them (a tensor used twice shows its whole gradient on both).
    """
    roots = list(tensor) if isinstance(tensor, (list, tuple)) else [tensor]
    for i, r in enumerate(roots):
        if not isinstance(r, Tensor):
            raise TypeError(f"to_dot: expected a Tensor or a list of Tensors, got "
                            f"{type(r).__name__} at position {i}")
    if isinstance(max_elements, bool) or not isinstance(max_elements, int) or max_elements < 0:
        raise ValueError(f"to_dot: max_elements must be an int >= 0, got {max_elements!r}")
    pairs = names.items() if hasattr(names, "items") else (names or ())
    label_of = {}    # id(tensor) -> name
    named_out = {}   # (id(grad_fn), output index) -> named intermediate tensor
    keep = []        # holds what ids refer to, so no id is reused during the walk
    for name, t in pairs:
        if not isinstance(t, Tensor):
            raise TypeError(f"to_dot: names[{name!r}] is a {type(t).__name__}, expected a "
                            "Tensor (names maps a name to a tensor)")
        keep.append(t)
        label_of[id(t)] = str(name)
        if t.grad_fn is not None:
            named_out[(id(t.grad_fn), _output_nr(t))] = t
    for r in roots:
        if r.grad_fn is not None:
            named_out.setdefault((id(r.grad_fn), _output_nr(r)), r)

    ids = {}
    keyed = set()    # boxes already written
    fed = set()      # named intermediate boxes whose incoming edge is written
    lines = ["digraph gpugrad {", "  rankdir=LR;",
             '  node [fontname="Helvetica", fontsize=11];',
             '  edge [fontname="Helvetica", fontsize=10];']

    def node_id(obj):
        if id(obj) not in ids:
            keep.append(obj)
            ids[id(obj)] = f"n{len(ids)}"
        return ids[id(obj)]

    def edge_label(t):
        """The value above and the gradient (red) below, as one HTML-like label."""
        if t.numel() > max_elements:
            return ""
        rows = []
        if show_values:
            rows.append(_esc(_format(t)))
        # ._grad: .grad warns for a non-leaf without one, and the drawing asks every tensor.
        g = t._grad
        if show_grads and g is not None:
            rows.append(f'<font color="red">{_esc(_format(g))}</font>')
        return f" [label=<{'<br/>'.join(rows)}>]" if rows else ""

    def box(t):
        """The box of a tensor (written once): its name if given, shape and dtype."""
        key = node_id(t)
        if key not in keyed:
            keyed.add(key)
            rows = [f"<b>{_esc(label_of[id(t)])}</b>"] if id(t) in label_of else []
            rows.append(_esc(f"{tuple(t.shape)} {t.dtype}"))
            fill = "lightblue" if t.grad_fn is None else "darkseagreen1"
            lines.append(f"  {key} [shape=box, style=filled, fillcolor={fill}, "
                         f"label=<{'<br/>'.join(rows)}>];")
        return key

    stack = []
    for r in roots:
        key = box(r)
        if r.grad_fn is not None:
            # A root's value goes on the edge into it, as nothing may consume it.
            fed.add(key)
            lines.append(f"  {node_id(r.grad_fn)} -> {key}{edge_label(r)};")
            stack.append(r.grad_fn)
    seen = set()
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        key = node_id(fn)
        lines.append(f"  {key} [label=<{_esc(fn.name())}>];")
        for nxt, idx in fn.next_functions:
            if nxt is None:  # an input that needs no gradient is not part of the graph
                continue
            leaf = getattr(nxt, "variable", None)
            if leaf is not None:  # a leaf's gradient accumulator
                lines.append(f"  {box(leaf)} -> {key}{edge_label(leaf)};")
                continue
            t = named_out.get((id(nxt), idx))
            if t is None:  # an intermediate tensor nobody handed us: its value is gone
                lines.append(f"  {node_id(nxt)} -> {key};")
            else:
                src = box(t)
                if src not in fed:
                    fed.add(src)
                    lines.append(f"  {node_id(nxt)} -> {src};")
                lines.append(f"  {src} -> {key}{edge_label(t)};")
            stack.append(nxt)
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(tensor, path, **kwargs) -> Path:
    """Write the graph behind `tensor` to `path` (.svg, .png or .pdf) through Graphviz's `dot`.

    Keyword arguments go to `to_dot`. Raises RuntimeError saying how to install
    Graphviz when `dot` is not on PATH.
    """
    path = Path(path)
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"render: cannot tell the format from the suffix {path.suffix!r} of "
                         f"{str(path)!r}; use one of {', '.join(_FORMATS)}")
    source = to_dot(tensor, **kwargs)
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError(f"render: Graphviz's `dot` program is not on PATH; {_INSTALL}. "
                           "gg.viz.to_dot gives the DOT text without it.")
    done = subprocess.run([dot, f"-T{fmt}", "-o", str(path)], input=source.encode(),
                          capture_output=True)
    if done.returncode != 0:
        raise RuntimeError(f"render: `dot -T{fmt}` failed writing {str(path)!r} (exit "
                           f"{done.returncode}): {done.stderr.decode(errors='replace').strip()}")
    return path
