"""The autograd graph: nodes recorded by ops, and the iterative backward walk.

An op records one ``Node`` per output tensor. The node keeps the op's inputs and a closure
``backward(grad) -> tuple of input grads`` written with tensor ops (so ``create_graph``
gives second-order gradients). Gradients are un-broadcast to the input's shape in one
place: ``_reduce_to``. The engine only uses Tensor methods (``+``, ``sum_to_size``, ``to``), never op
modules, so it sits below the ops; its state (grad mode) is per thread.

>>> node_type("MulBackward0").__name__
'MulBackward0'
"""
from __future__ import annotations

import weakref

from .grad_mode import grad_enabled, set_enabled


class Node:
    """A recorded operation. ``type(node).__name__`` is torch's name, e.g. ``MmBackward0``."""

    __slots__ = ("inputs", "backward_fn", "saved", "tensor_hooks", "retained", "__weakref__")

    def __init__(self, backward_fn, inputs, saved=()):
        self.backward_fn = backward_fn
        self.inputs = inputs
        # saved tensors with the version they had when saved (checked before backward)
        self.saved = tuple((t, t._version[0]) for t in saved) if saved else ()
        self.tensor_hooks = None
        self.retained = None  # weakref to the output tensor when retain_grad() was called

    def name(self) -> str:
        return type(self).__name__

    @property
    def next_functions(self):
        out = []
        for t in self.inputs:
            if t is None or not t.requires_grad:
                out.append((None, 0))
            elif t.grad_fn is not None:
                out.append((t.grad_fn, 0))
            else:
                out.append((AccumulateGrad(t), 0))
        return tuple(out)

    def register_hook(self, fn):
        raise NotImplementedError("register hooks on tensors (Tensor.register_hook) in tensorstein")

    def __repr__(self):
        return f"<{type(self).__name__} object at {hex(id(self))}>"


class AccumulateGrad:
    """The pseudo-node torch shows for a leaf in ``next_functions``."""

    def __init__(self, variable):
        self.variable = variable

    def name(self):
        return "AccumulateGrad"

    next_functions = ()

    def __repr__(self):
        return f"<AccumulateGrad object at {hex(id(self))}>"


_NODE_TYPES: dict[str, type] = {}


def node_type(name: str) -> type:
    """The Node subclass named ``name`` (created once), e.g. ``node_type('MulBackward0')``."""
    cls = _NODE_TYPES.get(name)
    if cls is None:
        cls = _NODE_TYPES[name] = type(name, (Node,), {"__slots__": ()})
    return cls


def needs_grad(*tensors) -> bool:
    """True when grad mode is on and any of the tensors requires grad."""
    if not grad_enabled():
        return False
    for t in tensors:
        if t is not None and t.requires_grad:
            return True
    return False


def attach(out, cls, backward_fn, inputs, saved=()):
    """Record ``out = op(*inputs)`` in the graph when any input requires grad; returns ``out``."""
    if grad_enabled():
        for t in inputs:
            if t is not None and t.requires_grad:
                out.requires_grad = True
                out.grad_fn = cls(backward_fn, inputs, saved)
                break
    return out


# ---------------------------------------------------------------- the backward walk
def _reduce_to(grad, target):
    """Sum a gradient down to the shape and dtype of ``target`` (the one un-broadcasting place)."""
    shape = target._data.shape
    if grad._data.shape != shape:
        grad = grad.sum_to_size(shape)
    if grad._data.dtype != target._data.dtype:
        grad = grad.to(target.dtype)
    return grad


def _check_saved(node):
    for t, version in node.saved:
        if t._version[0] != version:
            producer = (t.grad_fn or node).name()
            producer = producer[:producer.rfind("Backward")] if "Backward" in producer else producer
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an inplace "
                f"operation: [torch.{t.dtype.tensor_type} {list(t._data.shape)}], which is output 0 of {producer}, "
                f"is at version {t._version[0]}; expected version {version} instead. Hint: the failing backward is "
                f"{node.name()}; clone() the tensor before modifying it in place, or modify it out of place.")


def _topological_order(root_nodes):
    """Nodes reachable from the roots, each after every node that feeds gradient into it."""
    order, visited = [], set()
    for root in root_nodes:
        if id(root) in visited:
            continue
        visited.add(id(root))
        stack = [(root, iter(root.inputs))]
        while stack:
            node, it = stack[-1]
            for t in it:
                if t is not None and t.grad_fn is not None and id(t.grad_fn) not in visited:
                    visited.add(id(t.grad_fn))
                    stack.append((t.grad_fn, iter(t.grad_fn.inputs)))
                    break
            else:
                stack.pop()
                order.append(node)
    order.reverse()
    return order


def run_backward(outputs, grad_outputs, retain_graph, create_graph, inputs=None, allow_unused=False):
    """Propagate ``grad_outputs`` from ``outputs``.

    With ``inputs`` None, gradients accumulate into the ``.grad`` of leaves (``Tensor.backward``);
    otherwise the gradients of ``inputs`` are returned (``autograd.grad``).
    """
    prev = grad_enabled()
    set_enabled(bool(create_graph))
    try:
        grads: dict[int, object] = {}
        leaf_grads: dict[int, list] = {}  # id -> [leaf, summed gradient]
        roots = []
        for out, g in zip(outputs, grad_outputs):
            if out.grad_fn is None:
                if out.requires_grad:
                    _add_leaf_grad(leaf_grads, out, g)
                continue
            key = id(out.grad_fn)
            grads[key] = g if key not in grads else grads[key] + g
            roots.append(out.grad_fn)
        wanted = {}
        if inputs is not None:
            for t in inputs:
                if t.grad_fn is not None:
                    wanted[id(t.grad_fn)] = None
        order = _topological_order(roots)
        ready = _post_hook_leaves(order) if inputs is None and POST_HOOKS[0] else None
        for i, node in enumerate(order):
            if ready and i - 1 in ready:  # these leaves got their last gradient from the node before
                _flush_leaves(leaf_grads, ready.pop(i - 1))
            g = grads.pop(id(node), None)
            if g is None:
                continue
            if node.tensor_hooks:
                for hook in node.tensor_hooks:
                    new = hook(g)
                    if new is not None:
                        g = new
            if node.retained is not None:
                t = node.retained()
                if t is not None:
                    t.grad = g if create_graph else g.detach()
            if id(node) in wanted:
                wanted[id(node)] = g
            if node.backward_fn is None:
                raise RuntimeError(
                    "Trying to backward through the graph a second time (or directly access saved tensors "
                    "after they have already been freed). Saved intermediate values of the graph are freed "
                    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
                    "backward through the graph a second time or if you need to access saved tensors after "
                    "calling backward.")
            _check_saved(node)
            input_grads = node.backward_fn(g)
            if not retain_graph:
                node.backward_fn = None
                node.saved = ()
            for t, ig in zip(node.inputs, input_grads):
                if ig is None or t is None or not t.requires_grad:
                    continue
                ig = _reduce_to(ig, t)
                if t.grad_fn is None:
                    _add_leaf_grad(leaf_grads, t, ig)
                else:
                    key = id(t.grad_fn)
                    grads[key] = ig if key not in grads else grads[key] + ig
        for entry in leaf_grads.values():
            entry[1] = _leaf_hooks_and_accumulate(entry[0], entry[1], accumulate=inputs is None)
            if inputs is None:
                _run_post_accumulate_hooks(entry[0])
        if inputs is None:
            return None
        result = []
        for i, t in enumerate(inputs):
            if t.grad_fn is not None:
                g = wanted.get(id(t.grad_fn))
            else:
                g = leaf_grads.get(id(t), (None, None))[1]
            if g is None and not allow_unused:
                raise RuntimeError(
                    f"The differentiated Tensor at index {i} appears to not have been used in the graph. "
                    "Set allow_unused=True if this is the desired behavior.")
            result.append(g)
        return tuple(result)
    finally:
        set_enabled(prev)


def _add_leaf_grad(leaf_grads, leaf, g):
    entry = leaf_grads.get(id(leaf))
    if entry is None:
        leaf_grads[id(leaf)] = [leaf, g]
    else:
        entry[1] = entry[1] + g


def _leaf_hooks_and_accumulate(leaf, g, accumulate):
    """Run a leaf's hooks on its total gradient, then accumulate it into ``.grad`` if asked."""
    if leaf._hooks:
        for hook in leaf._hooks:
            new = hook(g)
            if new is not None:
                g = new
    if accumulate:
        total = g if leaf.grad is None else leaf.grad + g
        leaf.grad = total if grad_enabled() else total.detach()
    return g


# ------------------------------------------------- post-accumulate-grad hooks (DDP's "grad ready")
POST_HOOKS = [0]  # how many leaves have post-accumulate hooks; the walk looks for them only then


def register_post_accumulate_grad_hook(leaf, hook):
    """Call ``hook(leaf)`` as soon as the leaf's ``.grad`` holds this backward's gradient."""
    hooks = leaf.__dict__.setdefault("_post_accumulate_grad_hooks", [])
    hooks.append(hook)
    POST_HOOKS[0] += 1
    return hooks


def _post_hook_leaves(order):
    """{index of the last node feeding a hooked leaf: [leaves]} so the walk can finish them early."""
    last = {}
    for i, node in enumerate(order):
        for t in node.inputs:
            if t is not None and t.grad_fn is None and t.__dict__.get("_post_accumulate_grad_hooks"):
                last[id(t)] = (i, t)
    ready: dict[int, list] = {}
    for i, t in last.values():
        ready.setdefault(i, []).append(t)
    return ready


def _flush_leaves(leaf_grads, leaves):
    for leaf in leaves:
        entry = leaf_grads.pop(id(leaf), None)
        if entry is not None:
            _leaf_hooks_and_accumulate(leaf, entry[1], accumulate=True)
            _run_post_accumulate_hooks(leaf)


def _run_post_accumulate_hooks(leaf):
    hooks = leaf.__dict__.get("_post_accumulate_grad_hooks")
    if hooks:
        for hook in list(hooks):
            hook(leaf)


def retain_ref(tensor):
    return weakref.ref(tensor)
