"""Test support: the rulers the test suite and the benchmarks measure the function family with.

Private, and not imported by the package itself. Here: :func:`kernel_paths` and :func:`on_path`, to run the
public functions on each implementation path. :mod:`.accuracy` (mpmath references, ULP errors, proven correct
rounding, the input sets and the accuracy contract as one table) and :mod:`.worst_case` (a double-double
reference and the worst-case search) need mpmath, which comes with the ``test`` extra
(``pip install 'sigmoidlab[test]'``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..functions import _loader


def kernel_paths() -> tuple[str, ...]:
    """Every path the public functions can take here: the NumPy reference path and each compiled kernel."""
    return ("reference", *_loader.available_kernels())


def on_path(path: str, f: Callable, *args: Any) -> Any:
    """``f(*args)`` with the public functions switched to kernel ``path``, then switched back."""
    previous = _loader.set_kernel(path)
    try:
        return f(*args)
    finally:
        _loader.set_kernel(previous)
