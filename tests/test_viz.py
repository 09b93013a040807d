"""gg.viz: the DOT text of a graph (nodes, labels, values, gradients) and its rendering."""
import re
import shutil
import subprocess

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.__main__ import shopping

DOT = shutil.which("dot")
needs_dot = pytest.mark.skipif(DOT is None, reason="Graphviz's `dot` is not installed")

_NODE = re.compile(r"^  (n\d+) \[(.*)\];$")
_EDGE = re.compile(r"^  (n\d+) -> (n\d+)(?: \[label=<(.*)>\])?;$")


def parse(dot):
    """DOT text -> ({id: (is_box, label)}, [(src, dst, value or None, grad or None)])."""
    lines = dot.splitlines()
    assert lines[0] == "digraph gpugrad {" and lines[-1] == "}"
    nodes, edges = {}, []
    for ln in lines[1:-1]:
        if m := _EDGE.match(ln):
            src, dst, label = m.groups()
            value = grad = None
            if label is not None:
                parts = label.split("<br/>")
                if parts[-1].startswith('<font color="red">'):
                    grad = parts.pop()[len('<font color="red">'):-len("</font>")]
                value = parts[0] if parts else None
            edges.append((src, dst, value, grad))
        elif m := _NODE.match(ln):
            key, attrs = m.groups()
            label = re.search(r"label=<(.*)>$", attrs).group(1)
            assert key not in nodes, f"node {key} written twice"
            nodes[key] = ("shape=box" in attrs, label)
        else:
            assert ln.startswith(("  rankdir", "  node [", "  edge [")), ln
    for src, dst, *_ in edges:
        assert src in nodes and dst in nodes, (src, dst)
    return nodes, edges


def box_named(nodes, name):
    (key,) = [k for k, (box, label) in nodes.items() if box and label.startswith(f"<b>{name}</b>")]
    return key


def ops(nodes):
    return sorted(label for box, label in nodes.values() if not box)


def f64(v, device="cpu"):
    return gg.tensor(v, dtype=gg.float64, device=device, requires_grad=True)


def test_shopping_graph_has_every_node_value_and_gradient(device):
    total, names = shopping(device)
    for t in names.values():
        if not t.is_leaf:
            t.retain_grad()
    total.backward()
    nodes, edges = parse(gg.viz.to_dot(total, names=names))
    assert ops(nodes) == ["AddBackward", "MulBackward", "MulBackward", "MulBackward"]
    assert sum(box for box, _ in nodes.values()) == len(names)
    for name in names:
        assert nodes[box_named(nodes, name)][1] == f"<b>{name}</b><br/>() float64"
    out_of = {}
    for src, dst, value, grad in edges:
        out_of.setdefault(src, []).append((dst, value, grad))
    # the classic figure's numbers: each tensor's value and d total / d tensor
    expect = dict(pencil=("100", "2.2"), n_pencil=("2", "110"), eraser=("30", "3.3"),
                  n_eraser=("3", "33"), tax=("1.1", "290"), pencils=("200", "1.1"),
                  erasers=("90", "1.1"), subtotal=("290", "1.1"))
    for name, (value, grad) in expect.items():
        ((dst, v, g),) = out_of[box_named(nodes, name)]
        assert (v, g) == (value, grad), name
        assert not nodes[dst][0]  # into an op
    # the root's value and gradient sit on the edge into its box; intermediate boxes
    # are fed by an unlabelled edge from the op that made them
    into = {dst: (src, v, g) for src, dst, v, g in edges}
    assert into[box_named(nodes, "total")][1:] == ("319", "1")
    src, v, g = into[box_named(nodes, "subtotal")]
    assert nodes[src][1] == "AddBackward" and v is None and g is None


def test_flags_and_gradients_only_when_known():
    x, y = f64(2.0), f64(-3.0)
    h = x * y
    out = h + x
    names = {"x": x, "y": y, "h": h, "out": out}
    # before backward: values, no gradients
    nodes, edges = parse(gg.viz.to_dot(out, names=names))
    assert all(g is None for *_, g in edges)
    assert {v for _, _, v, _ in edges if v} == {"2", "-3", "-6", "-4"}
    out.backward()
    nodes, edges = parse(gg.viz.to_dot(out, names=names))
    grads = {(nodes[s][1].split("<br/>")[0], v): g for s, _, v, g in edges}
    # leaves have .grad; h was not retained and out is a non-leaf root: no gradient shown
    assert grads[("<b>x</b>", "2")] == "-2" and grads[("<b>y</b>", "-3")] == "2"
    assert grads[("<b>h</b>", "-6")] is None
    nodes, edges = parse(gg.viz.to_dot(out, names=names, show_grads=False))
    assert all(g is None for *_, g in edges) and any(v for _, _, v, _ in edges)
    nodes, edges = parse(gg.viz.to_dot(out, names=names, show_values=False))
    assert all(v is None for _, _, v, _ in edges)
    # x feeds two ops: its whole gradient, .grad, is on both edges
    assert sorted(g for *_, g in edges if g) == ["-2", "-2", "2"]
    nodes, edges = parse(gg.viz.to_dot(out, names=names, show_values=False, show_grads=False))
    assert all(v is None and g is None for _, _, v, g in edges)


def test_unnamed_intermediates_are_plain_edges_between_ops():
    x = f64(3.0)
    a = x * x
    b = a * a + a
    nodes, edges = parse(gg.viz.to_dot(b))
    assert ops(nodes) == ["AddBackward", "MulBackward", "MulBackward"]
    # boxes: the leaf x and the root b, unnamed: shape and dtype only
    assert sorted(label for box, label in nodes.values() if box) == ["() float64"] * 2
    op_edges = [(s, d) for s, d, v, g in edges if not nodes[s][0] and not nodes[d][0]]
    # a (from x*x) feeds a*a twice and the add once; a*a feeds the add
    assert len(op_edges) == 4
    assert all(v is None for s, d, v, g in edges if (s, d) in op_edges)
    # x * x: two edges from the one box of x
    x_key = [k for k, (box, _) in nodes.items() if box and not any(d == k for _, d, *_ in edges)]
    assert len(x_key) == 1 and sum(s == x_key[0] for s, *_ in edges) == 2


def _torch_ops(fn, seen):
    """The op nodes behind a PyTorch grad_fn, each once (leaf accumulators left out)."""
    if fn is None or fn in seen or type(fn).__name__ == "AccumulateGrad":
        return []
    seen.add(fn)
    return [fn] + [f for nxt, _ in fn.next_functions for f in _torch_ops(nxt, seen)]


def test_matches_pytorch_graph_structure():
    torch = pytest.importorskip("torch")

    def build(make):
        x, y, z = (make(v) for v in (1.0, 3.0, -3.0))
        q = x + y
        a = q * z
        return a * a + q * x

    out = build(f64)
    tout = build(lambda v: torch.tensor(v, dtype=torch.float64, requires_grad=True))
    nodes, edges = parse(gg.viz.to_dot(out))
    fns = _torch_ops(tout.grad_fn, set())
    assert ops(nodes) == sorted(re.sub(r"\d+$", "", type(f).__name__) for f in fns)
    # one edge per input slot that needs a gradient, plus the one into the root's box
    assert len(edges) - 1 == sum(n is not None for f in fns for n, _ in f.next_functions)


def test_small_tensors_show_values_large_ones_only_shape(device):
    w = gg.tensor(np.arange(6.0).reshape(2, 3), dtype=gg.float32, device=device,
                  requires_grad=True)
    big = gg.tensor(np.ones((3, 3)), dtype=gg.float32, device=device, requires_grad=True)
    out = (w.sum() + big.sum())
    out.backward()
    nodes, edges = parse(gg.viz.to_dot(out, names={"w": w, "big": big}))
    (v, g), = [(v, g) for s, _, v, g in edges if s == box_named(nodes, "w")]
    assert v == "[[0, 1, 2], [3, 4, 5]]" and g == "[[1, 1, 1], [1, 1, 1]]"
    assert nodes[box_named(nodes, "w")][1] == "<b>w</b><br/>(2, 3) float32"
    (v, g), = [(v, g) for s, _, v, g in edges if s == box_named(nodes, "big")]
    assert v is None and g is None  # 9 elements: more than max_elements=8
    assert nodes[box_named(nodes, "big")][1] == "<b>big</b><br/>(3, 3) float32"
    nodes, edges = parse(gg.viz.to_dot(out, names={"w": w, "big": big}, max_elements=9))
    (v, g), = [(v, g) for s, _, v, g in edges if s == box_named(nodes, "big")]
    assert v is not None and g is not None
    nodes, edges = parse(gg.viz.to_dot(out, names={"w": w}, max_elements=0))
    assert all(v is None and g is None for _, _, v, g in edges)


def test_values_are_rounded_to_four_digits():
    x = f64(1 / 3)
    y = x * 3.0
    nodes, edges = parse(gg.viz.to_dot(y, names={"x": x}))
    assert {v for _, _, v, _ in edges} == {"0.3333", "1"}


def test_leaf_root_and_inputs_without_grad():
    x = f64(2.0)
    nodes, edges = parse(gg.viz.to_dot(x, names={"x": x}))
    assert list(nodes.values()) == [(True, "<b>x</b><br/>() float64")] and edges == []
    c = gg.tensor(5.0, dtype=gg.float64)  # needs no gradient: not part of the graph
    nodes, edges = parse(gg.viz.to_dot(x * c, names={"x": x, "c": c}))
    assert ops(nodes) == ["MulBackward"] and len(edges) == 2
    assert not any(label.startswith("<b>c</b>") for _, label in nodes.values())


def test_several_roots_share_one_graph():
    x = f64(2.0)
    a, b = x * x, x + x
    nodes, edges = parse(gg.viz.to_dot([a, b], names={"x": x, "a": a, "b": b}))
    assert ops(nodes) == ["AddBackward", "MulBackward"]
    assert sum(box for box, _ in nodes.values()) == 3  # one box for x, shared
    assert sum(s == box_named(nodes, "x") for s, *_ in edges) == 4


def test_names_are_escaped():
    x = f64(1.0)
    y = x * 2.0
    evil = 'a<b>&"c\\n}'
    dot = gg.viz.to_dot(y, names={evil: x})
    nodes, _ = parse(dot)
    assert any(label.startswith("<b>a&lt;b&gt;&amp;&quot;c\\n}</b>") for _, label in nodes.values())
    assert evil not in dot
    if DOT is not None:  # Graphviz accepts the text
        r = subprocess.run([DOT, "-Tsvg"], input=dot.encode(), capture_output=True)
        assert r.returncode == 0, r.stderr.decode()
        assert b"a&lt;b&gt;&amp;" in r.stdout


def test_bad_arguments():
    x = f64(1.0)
    with pytest.raises(TypeError, match="to_dot: expected a Tensor.*ndarray at position 0"):
        gg.viz.to_dot(np.ones(2))
    with pytest.raises(TypeError, match="to_dot: expected a Tensor.*float at position 1"):
        gg.viz.to_dot([x, 1.0])
    with pytest.raises(TypeError, match=r"names\['w'\] is a list"):
        gg.viz.to_dot(x * x, names={"w": [1.0]})
    with pytest.raises(ValueError, match="max_elements must be an int >= 0, got -1"):
        gg.viz.to_dot(x, max_elements=-1)
    with pytest.raises(ValueError, match=r"render: cannot tell the format from the suffix '.txt'"):
        gg.viz.render(x, "graph.txt")


def test_names_may_be_pairs_like_named_parameters():
    x, y = f64(1.0), f64(2.0)
    nodes, _ = parse(gg.viz.to_dot(x * y, names=[("x", x), ("y", y)]))
    box_named(nodes, "x"), box_named(nodes, "y")


def test_render_without_graphviz_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty PATH: no `dot`
    x = f64(1.0)
    with pytest.raises(RuntimeError, match="apt-get install graphviz.*brew install graphviz"):
        gg.viz.render(x * x, tmp_path / "g.svg")
    assert not (tmp_path / "g.svg").exists()


@needs_dot
@pytest.mark.parametrize("suffix, magic", [(".svg", b"<?xml"), (".png", b"\x89PNG"),
                                           (".PDF", b"%PDF")])
def test_render_writes_the_format_of_the_suffix(tmp_path, suffix, magic):
    total, names = shopping()
    total.backward()
    path = gg.viz.render(total, tmp_path / f"shop{suffix}", names=names)
    assert path == tmp_path / f"shop{suffix}"
    data = path.read_bytes()
    assert data.startswith(magic)
    if suffix == ".svg":
        text = data.decode()
        assert "MulBackward" in text and ">pencil<" in text and ">319<" in text


@needs_dot
def test_render_reports_a_failing_dot(tmp_path):
    x = f64(1.0)
    with pytest.raises(RuntimeError, match="render: `dot -Tsvg` failed"):
        gg.viz.render(x * x, tmp_path / "missing-dir" / "g.svg")


class _TwoOut(gg.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2.0, x * 3.0

    @staticmethod
    def backward(ctx, g1, g2):
        return g1 * 2.0 + g2 * 3.0


def test_outputs_of_one_node_are_told_apart():
    x = f64(1.0)
    a, b = _TwoOut.apply(x)
    out = a * b
    out.backward()
    nodes, edges = parse(gg.viz.to_dot(out, names={"x": x, "a": a, "b": b}))
    assert ops(nodes) == ["MulBackward", "_TwoOutBackward"]
    vals = {nodes[s][1].split("<br/>")[0]: v for s, _, v, _ in edges if nodes[s][0]}
    assert vals == {"<b>x</b>": "1", "<b>a</b>": "2", "<b>b</b>": "3"}
