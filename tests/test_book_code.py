"""lindiff.book.code.source: the implementing code a chapter shows as a folded cell's output."""

import inspect

import pytest

pytest.importorskip("IPython")

import lindiff as ld  # noqa: E402
from lindiff.book.code import source  # noqa: E402
from lindiff.gradient_flow import GradientFlow  # noqa: E402


def test_source_is_the_functions_code_in_one_python_block():
    md = source(ld.gaussian_kl, ld.LinearDiffusion.weights).data
    assert md.startswith("```python\ndef gaussian_kl(") and md.endswith("\n```")
    # the method's source, dedented, follows the function's
    assert "\n\ndef weights(" in md
    assert inspect.getsource(ld.gaussian_kl).strip() in md


def test_source_of_a_property_is_its_getter():
    assert "def stiffness(" in source(GradientFlow.stiffness).data


def test_source_rejects_nothing_and_objects_without_source():
    with pytest.raises(ValueError, match="functions"):
        source()
    with pytest.raises(TypeError, match="functions"):
        source(len)
