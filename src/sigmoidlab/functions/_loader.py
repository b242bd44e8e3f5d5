"""Loader of the compiled ufuncs (``sigmoidlab._kernels._ufuncs``) with a graceful fallback.

When the extension imports, the module attributes ``sigmoid``, ``sigmoid_grad``, ``sigmoid_grad_from_output``
(y·(1−y), correctly rounded), ``sigmoid_second_grad``,
``log_sigmoid``, ``softplus``, ``logit``, ``sigmoid_and_grad`` (1 in, 2 out) and ``bce_with_logits``
(2 in: logits z, targets t; 2 out: elementwise loss, dL/dz = σ(z) − t) are real NumPy ufuncs with loops for
float16, float32, float64 and, registered here at import, ml_dtypes' bfloat16 (a C loop that widens to
float64 and rounds once, correctly). When it does not (not built, foreign platform), they are ``None``,
``AVAILABLE`` is False and the public functions use the NumPy reference path after one RuntimeWarning.

Kernel paths: ``SIGMOIDLAB_KERNEL=auto|scalar|avx2`` picks one at import (``reference`` keeps the extension
loaded but makes the public functions use the NumPy reference path); :func:`set_kernel` switches at run
time (the tests use it to run the accuracy suite on every path the CPU supports). ``SIGMOIDLAB_NUM_THREADS``
caps the threads of the persistent pool used for large arrays (default: the CPUs this process may use).
"""

from __future__ import annotations

import os
import warnings
from typing import Any

__all__ = [
    "AVAILABLE",
    "available_kernels",
    "bce_with_logits",
    "cpu_features",
    "get_kernel",
    "log_sigmoid",
    "logit",
    "set_kernel",
    "set_num_threads",
    "sigmoid",
    "sigmoid_and_grad",
    "sigmoid_grad",
    "sigmoid_grad_from_output",
    "sigmoid_second_grad",
    "softplus",
    "use_kernels",
]

_NAMES = (
    "sigmoid",
    "sigmoid_grad",
    "sigmoid_grad_from_output",
    "sigmoid_second_grad",
    "log_sigmoid",
    "softplus",
    "logit",
    "sigmoid_and_grad",
    "bce_with_logits",
)

sigmoid: Any = None
sigmoid_grad: Any = None
sigmoid_grad_from_output: Any = None
sigmoid_second_grad: Any = None
log_sigmoid: Any = None
softplus: Any = None
logit: Any = None
sigmoid_and_grad: Any = None
bce_with_logits: Any = None

_ext: Any = None
_warned = False
_use_reference = False


def _load() -> None:
    global _ext, _use_reference
    try:
        from sigmoidlab._kernels import _ufuncs as ext
    except ImportError as exc:
        _warn_once(f"sigmoidlab: compiled kernels unavailable ({exc}); using the slower NumPy reference path")
        return
    _ext = ext
    import ml_dtypes
    import numpy as np

    ext.register_bfloat16(np.dtype(ml_dtypes.bfloat16).num)
    globals().update({name: getattr(ext, name) for name in _NAMES})
    requested = os.environ.get("SIGMOIDLAB_KERNEL", "auto").strip().lower() or "auto"
    if requested == "reference":
        _use_reference = True
    elif requested not in ext.available_kernels() and requested != "auto":
        _warn_once(f"sigmoidlab: SIGMOIDLAB_KERNEL={requested!r} is not available here; using {ext.get_kernel()!r}")


def _warn_once(message: str) -> None:
    global _warned
    if not _warned:
        _warned = True
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def use_kernels() -> bool:
    """True when the public functions should dispatch NumPy input to the compiled ufuncs."""
    return _ext is not None and not _use_reference


AVAILABLE = False


def set_kernel(name: str) -> str:
    """Switch the kernel path: ``"auto"``, ``"scalar"``, ``"avx2"`` or ``"reference"`` (NumPy path).

    Returns the previous name, so ``set_kernel(previous)`` restores it. Raises ValueError for a path this
    machine cannot run, RuntimeError when the extension is not built (only ``"reference"`` works then).
    """
    global _use_reference
    previous = "reference" if _use_reference or _ext is None else _ext.get_kernel()
    if name == "reference":
        _use_reference = True
        return previous
    if _ext is None:
        raise RuntimeError("sigmoidlab's compiled kernels are not built; only the 'reference' path exists")
    _ext.set_kernel(name)
    _use_reference = False
    return previous


def get_kernel() -> str:
    """The active path: ``"avx2"``, ``"scalar"`` or ``"reference"``."""
    return "reference" if not use_kernels() else _ext.get_kernel()


def available_kernels() -> tuple[str, ...]:
    """The compiled paths this CPU can run (empty when the extension is missing)."""
    return tuple(_ext.available_kernels()) if _ext is not None else ()


def cpu_features() -> dict[str, bool]:
    """CPUID flags relevant to the kernels: avx2, fma, avx512f/bw/dq/vl."""
    if _ext is not None:
        return dict(_ext.cpu_features())
    return dict.fromkeys(("avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl"), False)


def set_num_threads(n: int) -> int:
    """Threads used for large contiguous arrays (default: all online cores); returns the previous value."""
    if _ext is None:
        return 1
    return int(_ext.set_num_threads(n))


_load()
AVAILABLE = _ext is not None
