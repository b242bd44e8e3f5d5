"""Shared test fixtures: strict floating-point checking and the implementation paths of the function family.

The rulers (mpmath references, ULP errors, correct rounding, input sets, the accuracy contract) are the
package's test support, :mod:`sigmoidlab._testing`, which the accuracy benchmark imports too.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sigmoidlab._testing import kernel_paths, on_path
from sigmoidlab.functions import _loader

# Only for tests/test_torch_functions.py, which imports the rulers of benchmarks/torch_accuracy.py.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

#: Every implementation the public functions dispatch NumPy input to: the NumPy reference path and each
#: compiled kernel this CPU can run.
KERNEL_PATHS = kernel_paths()


@pytest.fixture
def strict_fp() -> Iterator[None]:
    """Any warning fails the test and any floating-point exception raises: the functions must emit none."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            yield


@pytest.fixture
def on_every_path() -> Callable[[Callable[[], Any]], dict[str, Any]]:
    """``on_every_path(f)`` calls ``f()`` once per kernel path and returns ``{path: result}``."""
    return lambda f: {path: on_path(path, f) for path in KERNEL_PATHS}


@pytest.fixture(params=KERNEL_PATHS)
def kernel_path(request: pytest.FixtureRequest) -> Iterator[str]:
    """Runs the test once per kernel path, with the public functions switched to it."""
    previous = _loader.set_kernel(request.param)
    yield request.param
    _loader.set_kernel(previous)
