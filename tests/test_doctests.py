"""The ``>>>`` examples of every module run (with the ``tensorstein`` namespace and ``torch = tensorstein`` in
scope)."""
from __future__ import annotations

import builtins
import doctest
import importlib
import pkgutil

import pytest

import tensorstein as ts

# every module of the package: a new module's examples run without registering it here
MODULES = ["tensorstein"] + sorted(m.name for m in pkgutil.walk_packages(ts.__path__, "tensorstein.")
                                   if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_module_examples_run(name):
    module = importlib.import_module(name)
    # tensorstein names that would shadow builtins (bool, float, int, ...) stay out of the examples' globals
    names = {k: getattr(ts, k) for k in dir(ts) if not k.startswith("__") and not hasattr(builtins, k)}
    globs = {**names, "torch": ts, **vars(module)}
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name, globs=globs):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
