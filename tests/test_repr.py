"""format_tensor must print exactly what repr(torch.Tensor) prints.

torch is used only as an oracle: each case builds a torch tensor, hands its
values to ``format_tensor`` as a NumPy array, and compares the strings.
"""

from __future__ import annotations

import math
import pathlib
import sys

import ml_dtypes
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

try:
    from tensorstein import _repr
except ModuleNotFoundError:  # running from a checkout without installing
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "src"))
    from tensorstein import _repr

format_tensor = _repr.format_tensor

# Dtypes torch cannot export with .numpy(): go through float32 into ml_dtypes.
_ML_DTYPES = {
    torch.bfloat16: ml_dtypes.bfloat16,
    torch.float8_e4m3fn: ml_dtypes.float8_e4m3fn,
    torch.float8_e5m2: ml_dtypes.float8_e5m2,
}


def _to_numpy(t: torch.Tensor) -> np.ndarray:
    t = t.detach()
    if t.dtype in _ML_DTYPES:
        return t.float().numpy().astype(_ML_DTYPES[t.dtype])
    return t.numpy()


def _ours(t: torch.Tensor) -> str:
    suffixes = []
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{type(t.grad_fn).__name__}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    default = t.dtype in (torch.get_default_dtype(), torch.complex64)
    return format_tensor(
        _to_numpy(t), dtype_name=str(t.dtype), is_default_dtype=default, suffixes=suffixes
    )


def _check(t: torch.Tensor) -> None:
    assert _ours(t) == repr(t)


@pytest.fixture(autouse=True)
def _reset_printoptions():
    yield
    torch.set_printoptions(profile="default")
    _repr.set_printoptions(profile="default")


def _both_set(**kwargs) -> None:
    torch.set_printoptions(**kwargs)
    _repr.set_printoptions(**kwargs)


# --------------------------------------------------------------------------
# Table of cases
# --------------------------------------------------------------------------

_gen = torch.Generator().manual_seed(0)


def _randn(*shape, scale=1.0, dtype=torch.float32):
    return (torch.randn(*shape, generator=_gen) * scale).to(dtype)


_FLOAT_DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
_INT_DTYPES = [torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8]

CASES: dict[str, torch.Tensor] = {
    # 0-d
    "scalar_float": torch.tensor(3.5),
    "scalar_int": torch.tensor(7),
    "scalar_bool": torch.tensor(True),
    "scalar_nan": torch.tensor(float("nan")),
    "scalar_neg_zero": torch.tensor(-0.0),
    "scalar_tiny": torch.tensor(1e-9),
    "scalar_f64": torch.tensor(2.25, dtype=torch.float64),
    # 1-d / 2-d / 3-d / 4-d
    "vec": torch.tensor([0.1234, -1.0]),
    "vec_int_valued": torch.tensor([1.0, 2.0, -30.0]),
    "mat": _randn(3, 4),
    "cube": _randn(2, 3, 4),
    "hyper": _randn(2, 2, 2, 3),
    "int_cube": torch.arange(24).reshape(2, 3, 4) - 10,
    "bool_mat": torch.tensor([[True, False], [False, False]]),
    # magnitudes / sci mode
    "mixed_magnitudes": torch.tensor([1e-5, 1.0, 1e5]),
    "big": torch.tensor([1e9, 2.0]),
    "ratio_over_1000": torch.tensor([0.5, 600.0]),
    "int_valued_sci": torch.tensor([1.0, 1e10]),
    "small_sci_mat": _randn(3, 3, scale=1e-6),
    # special values
    "neg_zero": torch.tensor([-0.0, 0.0, 1.5]),
    "neg_zero_int_mode": torch.tensor([-0.0, 2.0]),
    "nan_inf": torch.tensor([float("nan"), float("inf"), -float("inf"), 1.25]),
    "nan_inf_int_mode": torch.tensor([float("nan"), -float("inf"), 3.0]),
    "only_nonfinite": torch.tensor([float("nan"), float("inf"), 0.0]),
    "nan_sci": torch.tensor([float("nan"), 1e-7, 1.0]),
    "zeros": torch.zeros(2, 3),
    # empty
    "empty_1d": torch.zeros(0),
    "empty_2d": torch.zeros(0, 3),
    "empty_3d": torch.zeros(2, 0, 4),
    "empty_int": torch.zeros(0, dtype=torch.int64),
    "empty_int_2d": torch.zeros(3, 0, dtype=torch.int32),
    "empty_bool": torch.zeros(0, dtype=torch.bool),
    "empty_f64": torch.zeros(0, 2, dtype=torch.float64),
    # summarised
    "long_int": torch.arange(2000),
    "long_float": _randn(1500),
    "big_mat": _randn(40, 40),
    "big_3d": _randn(10, 11, 12),
    "big_int_mat": torch.arange(1200).reshape(30, 40),
    "big_bool": torch.arange(1001) % 3 == 0,
    # wide rows (wrapped)
    "wide_row": _randn(50),
    "wide_int_row": torch.arange(100) * 1234,
    "wide_mat": _randn(3, 30, scale=100),
    "wide_cube": _randn(2, 2, 25),
    # complex
    "complex": torch.tensor([1 + 2j, -3j, 0.5 - 0.25j]),
    "complex_mat": torch.randn(2, 3, dtype=torch.complex128, generator=_gen),
    "complex_scalar": torch.tensor(1.5 - 2j),
    # suffixes
    "requires_grad": torch.tensor([1.0], requires_grad=True),
    "requires_grad_f64": torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True),
    "grad_fn": torch.tensor([1.0, 2.0], requires_grad=True) * 2,
    "grad_fn_wide": _randn(20, scale=1e3).requires_grad_() * 3,
    "suffix_wrap": _randn(3, 9, dtype=torch.float16).requires_grad_(),
    # float8 via ml_dtypes
    "float8_e4m3": torch.tensor([0.5, 1.0, -2.0, 448.0]).to(torch.float8_e4m3fn),
    "float8_e5m2": torch.tensor([0.5, 1.0, -3.0]).to(torch.float8_e5m2),
}

# every dtype, on a matrix and on a scalar
for _dt in _FLOAT_DTYPES:
    CASES[f"{_dt}_mat"] = _randn(3, 4, scale=10, dtype=_dt)
    CASES[f"{_dt}_sci"] = torch.tensor([1e-5, 3.0, 40000.0]).to(_dt)
    CASES[f"{_dt}_scalar"] = torch.tensor(-1.5, dtype=_dt)
for _dt in _INT_DTYPES:
    CASES[f"{_dt}_mat"] = torch.randint(0, 100, (3, 4), generator=_gen).to(_dt)
    CASES[f"{_dt}_scalar"] = torch.tensor(5, dtype=_dt)
for _dt in [torch.uint16, torch.uint32, torch.uint64]:
    CASES[f"{_dt}_vec"] = torch.tensor([0, 7, 65535], dtype=_dt)


@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch(name):
    _check(CASES[name])


# --------------------------------------------------------------------------
# Print options
# --------------------------------------------------------------------------

OPTION_CASES = [
    dict(precision=2),
    dict(precision=0),
    dict(precision=8),
    dict(threshold=5),
    dict(threshold=5, edgeitems=1),
    dict(threshold=5, edgeitems=0),
    dict(linewidth=30),
    dict(linewidth=200),
    dict(sci_mode=True),
    dict(sci_mode=False),
    dict(profile="short"),
    dict(profile="full"),
]

OPTION_TENSORS = {
    "vec": torch.tensor([0.123456789, -1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]),
    "mixed": torch.tensor([1e-5, 1.0, 1e5]),
    "int_valued": torch.tensor([1.0, 20.0, -300.0]),
    "mat": _randn(6, 9),
    "cube": _randn(4, 3, 8),
    "ints": torch.arange(30).reshape(5, 6),
    "long": torch.arange(1500),
    "zeros": torch.zeros(3),
    "scalar": torch.tensor(0.5),
    "grad": _randn(10).requires_grad_(),
}


@pytest.mark.parametrize("opts", OPTION_CASES, ids=str)
@pytest.mark.parametrize("name", list(OPTION_TENSORS))
def test_printoptions(opts, name):
    _both_set(**opts)
    _check(OPTION_TENSORS[name])


def test_get_printoptions_defaults_and_roundtrip():
    defaults = dict(precision=4, threshold=1000, edgeitems=3, linewidth=80, sci_mode=None)
    assert _repr.get_printoptions() == defaults
    assert _repr.get_printoptions() == torch._tensor_str.get_printoptions()
    _repr.set_printoptions(precision=2, linewidth=50, sci_mode=True)
    assert _repr.get_printoptions()["precision"] == 2
    # omitting sci_mode resets it to automatic, as in torch
    _repr.set_printoptions(edgeitems=1)
    assert _repr.get_printoptions()["sci_mode"] is None
    _repr.set_printoptions(profile="full")
    assert _repr.get_printoptions()["threshold"] == math.inf
    _repr.set_printoptions(profile="default")
    assert _repr.get_printoptions() == defaults


def test_printoptions_context_manager():
    with _repr.printoptions(precision=1):
        assert format_tensor(
            np.array([1.25], np.float32), dtype_name="x", is_default_dtype=True, suffixes=[]
        ) == "tensor([1.2])"
    assert _repr.get_printoptions()["precision"] == 4


def test_custom_dtype_name_and_suffixes():
    out = format_tensor(
        np.array([1.0, 2.0]),
        dtype_name="tensorstein.float64",
        is_default_dtype=False,
        suffixes=["requires_grad=True"],
    )
    assert out == "tensor([1., 2.], dtype=tensorstein.float64, requires_grad=True)"


# --------------------------------------------------------------------------
# Property-based
# --------------------------------------------------------------------------

_shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6)


@settings(max_examples=150, deadline=None)
@given(
    hnp.arrays(
        np.float32,
        _shapes,
        elements=st.one_of(
            st.floats(width=32),
            st.floats(-1e3, 1e3, width=32),
            st.integers(-50, 50).map(float),
        ),
    )
)
def test_hypothesis_float32(arr):
    assert format_tensor(arr, dtype_name="torch.float32", is_default_dtype=True) == repr(
        torch.from_numpy(arr)
    )


@settings(max_examples=150, deadline=None)
@given(
    hnp.arrays(np.int64, _shapes, elements=st.integers(-(2**63), 2**63 - 1)),
)
def test_hypothesis_int64(arr):
    assert format_tensor(arr, dtype_name="torch.int64", is_default_dtype=False) == repr(
        torch.from_numpy(arr)
    )


@settings(max_examples=100, deadline=None)
@given(
    arr=hnp.arrays(
        np.float32,
        hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=12),
        elements=st.floats(-1e4, 1e4, width=32),
    ),
    precision=st.integers(0, 6),
    threshold=st.integers(1, 100),
    edgeitems=st.integers(0, 4),
    linewidth=st.integers(20, 120),
    sci_mode=st.sampled_from([None, True, False]),
)
def test_hypothesis_with_printoptions(arr, precision, threshold, edgeitems, linewidth, sci_mode):
    opts = dict(
        precision=precision,
        threshold=threshold,
        edgeitems=edgeitems,
        linewidth=linewidth,
        sci_mode=sci_mode,
    )
    try:
        _both_set(**opts)
        ours = format_tensor(arr, dtype_name="torch.float32", is_default_dtype=True)
        assert ours == repr(torch.from_numpy(arr))
    finally:
        _both_set(profile="default")
