"""The course's notebooks (docs/00-* and docs/01-* of github.com/ksopyla/pytorch-course) print under
``import tensorstein as torch`` what they print under torch. The course is not vendored: set
``TENSORSTEIN_COURSE`` to a checkout or bare git mirror of it; see tests/course_cells.py."""
import course_cells as C
import pytest

ROOT = C.course_root()
NOTEBOOKS = C.notebooks(ROOT) if ROOT is not None else {}


@pytest.mark.skipif(ROOT is None, reason="the PyTorch course is not present: set TENSORSTEIN_COURSE to a checkout "
                                         "(or bare git mirror) of github.com/ksopyla/pytorch-course")
@pytest.mark.parametrize("name", sorted(NOTEBOOKS) or ["<none>"])
def test_notebook_prints_like_torch(name):
    cells = C.code_cells(NOTEBOOKS[name])
    diffs = C.compare(cells)
    assert not diffs, "\n".join(f"cell {i}: torch {a!r} / tensorstein {b!r}" for i, a, b in diffs)
