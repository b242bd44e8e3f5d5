"""The examples in the README and in the public docstrings are run, so they cannot drift from the code."""

import doctest
from pathlib import Path

import pytest

import sigmoidlab
import sigmoidlab.functions

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_examples():
    result = doctest.testfile(str(README), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 5
    assert result.failed == 0


@pytest.mark.parametrize("module", [sigmoidlab, sigmoidlab.functions], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 1
    assert result.failed == 0
