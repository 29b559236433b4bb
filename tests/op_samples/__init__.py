"""The sample-input table for the differential tests (PyTorch's OpInfo idea), and the comparators.

``_infra`` holds the machinery (``T``, ``S``, ``OpInfo``, comparators); ``core`` the core ops' samples;
``nn`` the ``tensorstein.nn.functional`` samples. A registered op without an entry here fails
``tests/test_registry.py``.
"""
from __future__ import annotations

from ._infra import *  # noqa: F401,F403
from ._infra import _LAYOUTS, _walk, _short  # noqa: F401
from .core import _eltwise_ops, _index_ops, _matmul_ops, _reduction_ops, _shape_ops
from .edges import _edge_ops
from .extra import _extra_ops
from .nn import _nn_ops
from .sorting import _sorting_ops

OPS = (_eltwise_ops() + _reduction_ops() + _shape_ops() + _index_ops() + _matmul_ops() + _extra_ops() + _nn_ops()
       + _edge_ops() + _sorting_ops())
OPS_BY_NAME = {o.name: o for o in OPS}
assert len(OPS_BY_NAME) == len(OPS), "duplicate OpInfo names"


def all_cases():
    """(opinfo, sample) pairs with stable ids, for parametrize."""
    cases = []
    for op in OPS:
        seen = {}
        for s in op.samples:
            sid = repr(s)
            n = seen.get(sid, 0)
            seen[sid] = n + 1
            if n:
                sid = f"{sid}#{n}"
            cases.append((op, s, f"{op.name}:{sid}"))
    return cases


# ====================================================================== known failures
# "kind|case id" -> reason; the tests mark these xfail(strict=True), so a fix shows up as XPASS and the
# entry must be removed. Generated from a run against torch 2.13; each reason is the first line of the
# mismatch. See the report in the commit message for the grouped list.
KNOWN_FAILURES: dict[str, str] = {}
