"""Shared fixtures for the core differential tests (torch is the oracle, never imported by tensorstein)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tensorstein as ts


@pytest.fixture(autouse=True)
def _restore_default_dtype():
    """Tests that change the default dtype or grad mode must not leak it into other tests."""
    before = ts.get_default_dtype()
    grad_before = ts.is_grad_enabled()
    yield
    ts.set_default_dtype(before)
    ts.set_grad_enabled(grad_before)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running test")
    warnings.filterwarnings("ignore", message=".*An output with one or more elements was resized.*")
