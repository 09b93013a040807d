"""Out of memory in a forward or a backward: say where, and free what the failed step held.

NumPy raises MemoryError (numpy's _ArrayMemoryError, naming the shape and the size) for
an array it cannot allocate; CuPy's pool raises cupy.cuda.memory.OutOfMemoryError, a
MemoryError subclass naming the bytes asked for and the limit. One handler serves both
devices. The error keeps its class, message and traceback, so `except MemoryError` and
`except cupy.cuda.memory.OutOfMemoryError` still catch it; a note (PEP 678) adds the op
and its arguments' shapes. Wrapping it in a gpugrad error would change its class, and
building another instance of the allocator's class would need that class's constructor
arguments (NumPy's and CuPy's differ).

While the caller handles the error, the traceback keeps every frame on it alive with its
locals: the failed forward's activations and an op's temporaries, the engine's pending
gradients. gpugrad's entry points (Module.__call__, backward(), grad()) call
handle_out_of_memory before re-raising; it clears the frames below the entry point, which have
all returned (the traceback still prints: it keeps the code and line numbers), so that
memory is free inside the caller's except block, where the caller retries at a smaller
batch. Frames above the entry point are the caller's, left as they are: a loss the
caller holds keeps the forward's graph until the caller drops it, as in PyTorch.

What a failed step leaves: parameters and optimizer state are untouched (neither forward
nor backward writes them). The engine writes .grad only once the pass has computed every
leaf's gradient, so a failure in a rule or in summing gradients leaves every .grad as it
was. PyTorch adds into .grad as each AccumulateGrad node runs, so a failed PyTorch
backward may leave some .grad updated and others not (torch 2.13, checked by hand); a
failure in gpugrad's last phase, writing .grad, can likewise leave some leaves updated.
Either way zero_grad() before the retry, as a training step does, starts clean. As after
any backward without retain_graph, the nodes the pass ran have released their saved
values: the failed graph cannot be run again.
"""
from __future__ import annotations

import traceback

__all__ = ["handle_out_of_memory"]

_MAX_PARTS = 3  # innermost ops named in the note (an op inside a rule inside a Module)


def handle_out_of_memory(exc):
    """Name where exc happened in its note and free the frames below the caller, the
    entry point handling exc: Module.__call__, backward() and grad() call it; a training
    loop's own entry point (a plain function building the forward) may too, in
    `except MemoryError as e: handle_out_of_memory(e); raise`. Nested entry points each handle it: an inner one has
    cleared its frames, so an outer one adds what it can still read (the ops and nodes
    around the inner one) in front, and rewrites the one note."""
    # The frame of the handler that ran before (apply's, running then) was not cleared:
    # its op is in the old parts already, and must not be named twice.
    seen = getattr(exc, "_gg_oom_frames", set())
    parts = _where(exc.__traceback__, seen) + getattr(exc, "_gg_oom_parts", [])
    if parts:
        note = "gpugrad: out of memory in " + " > ".join(parts[-_MAX_PARTS:])
        old = getattr(exc, "_gg_oom_note", None)
        notes = getattr(exc, "__notes__", None)
        if old is not None and notes and old in notes:
            notes[notes.index(old)] = note
        elif hasattr(exc, "add_note"):
            exc.add_note(note)
        else:  # Python 3.10: where 3.11's traceback looks for notes
            exc.__notes__ = [*(notes or ()), note]
        exc._gg_oom_parts, exc._gg_oom_note = parts, note
    exc._gg_oom_frames = seen
    traceback.clear_frames(exc.__traceback__)  # skips the handler's own, running frame


def _where(tb, seen):
    """Where, outermost first, from the traceback's frames of apply and the engine that
    are not cleared yet and not in seen (the ids of frames named before, to which this
    adds those it names): an op and its arguments, a node of the backward pass."""
    from . import engine, function
    generic = function._apply.__code__
    # apply's frames and the arguments they hold: the generic path's, and the lean
    # branch's (unless it handed the call on to the generic path, which names it)
    ops = {generic: ("args",), function.apply1.__code__: ("a",),
           function.apply2.__code__: ("a", "b"), function.apply3.__code__: ("a", "b", "c")}
    run_code, finish_code = engine._run.__code__, engine._finish_leaves.__code__
    parts = []
    while tb is not None:
        if id(tb.tb_frame) in seen:
            tb = tb.tb_next
            continue
        seen.add(id(tb.tb_frame))
        code = tb.tb_frame.f_code
        names = ops.get(code)
        if names is not None:
            if code is generic or tb.tb_next is None or \
                    tb.tb_next.tb_frame.f_code is not generic:
                cls, *args = _locals(tb.tb_frame, "cls", *names)
                if code is generic:
                    args = args[0]
                if cls is not None:
                    parts.append(f"{cls.__name__} with {_describe(args or ())}")
        elif code is run_code:
            (node,) = _locals(tb.tb_frame, "node")
            if node is not None:
                shapes = [e[2] if e else None for e in node._next]
                parts.append(f"the backward of {type(node).__name__} ({node.name()}, inputs "
                             f"of shape {', '.join(map(_shape, shapes))})")
        elif code is finish_code:
            (leaf,) = _locals(tb.tb_frame, "leaf")
            if leaf is not None:
                parts.append(f"backward, accumulating .grad of a leaf of shape "
                             f"{_shape(leaf.shape)}")
        tb = tb.tb_next
    return parts


def _locals(frame, *names):
    """Some locals of a returned frame. Up to Python 3.12, f_locals is a dict that the
    frame keeps, and frame.clear() leaves it: emptied here, else what it references
    outlives the clearing."""
    f_locals = frame.f_locals
    values = tuple(f_locals.get(n) for n in names)
    if type(f_locals) is dict:
        f_locals.clear()
    return values


def _shape(s):
    return "-" if s is None else str(tuple(s))


def _describe(args):
    """The Tensor and array arguments as dtype, shape (and a Tensor's device)."""
    out = []
    for a in args:
        shape, dtype = getattr(a, "shape", None), getattr(a, "dtype", None)
        if shape is not None and dtype is not None:
            dev = f" on {a.device}" if hasattr(a, "_backend") else ""
            out.append(f"{dtype} {_shape(shape)}{dev}")
    return "arguments " + ", ".join(out) if out else "no array arguments"
