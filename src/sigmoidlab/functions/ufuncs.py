"""The raw ``np.ufunc`` objects of the compiled kernels, for code that needs a real ufunc.

``sigmoid``, ``sigmoid_grad``, ``sigmoid_grad_from_output`` (y·(1−y), correctly rounded), ``sigmoid_second_grad``,
``log_sigmoid``, ``softplus`` and ``logit`` (one input, one output), ``sigmoid_and_grad`` (one input; outputs σ
and σ') and ``bce_with_logits`` (inputs: logits z and targets t; outputs: the elementwise loss and
dL/dz = σ(z) − t). Also reachable as ``sigmoidlab.ufuncs``.

They are what the public functions call for float input, and what they hand to ``__array_ufunc__``
overrides (masked arrays, pandas, xarray). Used directly they differ from the public functions in four ways:

- their loops are float16, bfloat16, float32 and float64 only: no longdouble, and integer or bool input
  takes NumPy's smallest safe loop (int8/uint8/bool → float16, int16/uint16 → float32, wider → float64)
  where the public functions compute every integer in float64;
- they always run compiled code (``set_kernel`` chooses ``"scalar"`` or ``"avx2"``; ``"reference"`` applies
  to the public functions only);
- they do not dispatch torch, CuPy or JAX arrays (NumPy would convert them) nor map Dask blocks;
- every name is None where the extension is not built (``AVAILABLE`` is False; the public functions then use
  the NumPy reference path).

Every ufunc keyword and method applies: ``out``, ``where``, ``dtype``, ``casting``, ``order``, ``signature``,
``.at`` (the single-output ones), ``.types``.
"""

from __future__ import annotations

from ._loader import (
    AVAILABLE,
    bce_with_logits,
    log_sigmoid,
    logit,
    sigmoid,
    sigmoid_and_grad,
    sigmoid_grad,
    sigmoid_grad_from_output,
    sigmoid_second_grad,
    softplus,
)

__all__ = [
    "AVAILABLE",
    "bce_with_logits",
    "log_sigmoid",
    "logit",
    "sigmoid",
    "sigmoid_and_grad",
    "sigmoid_grad",
    "sigmoid_grad_from_output",
    "sigmoid_second_grad",
    "softplus",
]
