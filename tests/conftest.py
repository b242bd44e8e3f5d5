"""Shared test fixtures: strict floating-point checking and the implementation paths of the function family.

``benchmarks/`` goes on ``sys.path`` so the tests measure with the same ruler as the accuracy benchmark
(``import accuracy``: mpmath references, ULP errors, correct rounding, input sets).
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sigmoidlab.functions import _ufuncs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

#: Every implementation the public functions dispatch NumPy input to: the NumPy reference path and each
#: compiled kernel this CPU can run.
KERNEL_PATHS = ("reference", *_ufuncs.available_kernels())


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

    def run(f: Callable[[], Any]) -> dict[str, Any]:
        results = {}
        for path in KERNEL_PATHS:
            previous = _ufuncs.set_kernel(path)
            try:
                results[path] = f()
            finally:
                _ufuncs.set_kernel(previous)
        return results

    return run


@pytest.fixture(params=KERNEL_PATHS)
def kernel_path(request: pytest.FixtureRequest) -> Iterator[str]:
    """Runs the test once per kernel path."""
    previous = _ufuncs.set_kernel(request.param)
    yield request.param
    _ufuncs.set_kernel(previous)
