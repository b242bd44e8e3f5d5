"""sigmoidlab: the logistic sigmoid, computed exactly and fast; backprop, binary classifiers and the
vanishing-gradient problem, measured and shown.

>>> import sigmoidlab as sl
>>> float(sl.sigmoid(2.0)), float(sl.sigmoid_grad(2.0))
(0.8807970779778824, 0.10499358540350652)

The functions behave as NumPy ufuncs (every ufunc keyword, ``__array_ufunc__`` overrides); the raw ``np.ufunc``
objects behind them are ``sigmoidlab.ufuncs`` (:mod:`sigmoidlab.functions.ufuncs`).
"""

from .functions import (
    VANISHING_THRESHOLD,
    binary_cross_entropy_with_logits,
    log_sigmoid,
    logit,
    sigmoid,
    sigmoid_and_grad,
    sigmoid_grad,
    sigmoid_grad_from_output,
    sigmoid_second_grad,
    softplus,
    ufuncs,
)

__version__ = "0.1.0"

__all__ = [
    "VANISHING_THRESHOLD",
    "__version__",
    "binary_cross_entropy_with_logits",
    "log_sigmoid",
    "logit",
    "sigmoid",
    "sigmoid_and_grad",
    "sigmoid_grad",
    "sigmoid_grad_from_output",
    "sigmoid_second_grad",
    "softplus",
    "ufuncs",
]
