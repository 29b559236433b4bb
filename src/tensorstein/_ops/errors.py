"""torch-style error texts shared by the ops (first line torch's, second line a plain-words hint).

>>> broadcast_shapes((3, 1), (4,))
(3, 4)
"""
from __future__ import annotations

def broadcast_error(shape_a, shape_b) -> RuntimeError:
    """torch's message for two shapes that do not broadcast, naming the first clashing dimension."""
    n = max(len(shape_a), len(shape_b))
    a = (1,) * (n - len(shape_a)) + tuple(shape_a)
    b = (1,) * (n - len(shape_b)) + tuple(shape_b)
    for i in range(n - 1, -1, -1):
        if a[i] != b[i] and a[i] != 1 and b[i] != 1:
            return RuntimeError(
                f"The size of tensor a ({a[i]}) must match the size of tensor b ({b[i]}) at non-singleton "
                f"dimension {i}\nshapes {list(shape_a)} and {list(shape_b)} do not broadcast: sizes must be equal, "
                f"or one of them 1, dimension by dimension from the right")
    return RuntimeError(f"shapes {list(shape_a)} and {list(shape_b)} cannot be broadcast")


def broadcast_shapes(*shapes) -> tuple:
    """The broadcast shape of several shapes, raising torch's error when they clash."""
    out: tuple = ()
    for s in shapes:
        s = tuple(s)
        n = max(len(out), len(s))
        a = (1,) * (n - len(out)) + out
        b = (1,) * (n - len(s)) + s
        res = []
        for x, y in zip(a, b):
            if x == y or y == 1:
                res.append(x)
            elif x == 1:
                res.append(y)
            else:
                raise broadcast_error(out, s)
        out = tuple(res)
    return out
