"""Regenerate docs/shopping-graph.svg: `python docs/shopping_graph.py` (needs Graphviz's `dot`)."""
from pathlib import Path

import gpugrad as gg
from gpugrad.__main__ import shopping

total, names = shopping()       # 2 pencils at 100, 3 erasers at 30, 10 % tax
for t in names.values():
    if not t.is_leaf:
        t.retain_grad()         # keep the intermediate gradients for the figure
total.backward()
path = gg.viz.render(total, Path(__file__).with_name("shopping-graph.svg"), names=names)
print(f"wrote {path}")
