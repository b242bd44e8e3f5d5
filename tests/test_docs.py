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


def test_readme_tables_are_the_measured_ones():
    """Every README table marked as a benchmark result is the results file, verbatim (tools/readme_tables.py)."""
    import importlib.util

    path = README.parent / "tools" / "readme_tables.py"
    spec = importlib.util.spec_from_file_location("readme_tables", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = README.read_text(encoding="utf-8")
    blocks = module.BLOCK.findall(text)
    assert len(blocks) >= 1
    assert module.render(text)[1] == []
