"""``torch.backends.mha``: the switch for MultiheadAttention's fast path.

>>> get_fastpath_enabled()
True
"""

_fastpath = True


def get_fastpath_enabled() -> bool:
    return _fastpath


def set_fastpath_enabled(value: bool) -> None:
    global _fastpath
    _fastpath = bool(value)
