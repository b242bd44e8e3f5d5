"""The sigmoid function family, exact in every float dtype and usable from any array library.

The functions are NumPy ufuncs in behaviour: scalars give NumPy scalars, lists and arrays of any shape
broadcast, every ufunc keyword passes through (``out=`` as an array or a tuple, ``where=``, ``dtype=``,
``casting=``, ``order=``, ``subok=``, ``signature=``), integer and bool input computes in float64, and float16,
bfloat16 (``ml_dtypes``), float32, float64 and longdouble come back in their own dtype. They never emit a
floating-point warning. Types that override ``__array_ufunc__`` are handed the raw ufunc, as for ``np.exp``:
a masked array keeps its mask, a pandas Series its index, an xarray DataArray its coordinates, an ndarray
subclass its class. Dask arrays stay lazy (mapped blockwise). torch tensors, CuPy and JAX arrays are computed
in their own namespace through the array API standard (a tensor keeps its dtype and device).

The raw ``np.ufunc`` objects are public as :mod:`sigmoidlab.functions.ufuncs` (also ``sigmoidlab.ufuncs``):
``ufuncs.sigmoid``, ``ufuncs.sigmoid_and_grad``, ``ufuncs.bce_with_logits``, ... (see that module for how they
differ from these functions: float loops only, always compiled).

Accuracy (against mpmath at 200 bits: ``benchmarks/accuracy.py`` and the tests measure with
``sigmoidlab._testing.accuracy``, where the contract is a table): sigmoid, log_sigmoid and
softplus are within 1 ULP in float32/float64, sigmoid_grad, sigmoid_second_grad and logit within 2 ULP and
never flushed to 0 where the true value is representable; float16 and bfloat16 results are correctly rounded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from . import _dispatch as _d
from . import _reference as _f
from . import ufuncs

__all__ = [
    "VANISHING_THRESHOLD",
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

ArrayLike = Any

#: σ'(x) below this counts as the vanishing-gradient region: |x| ≳ 4.6, where one sigmoid layer passes back
#: less than 4% of the largest share (1/4) it can. Used by ``eval``, the plots, the lab and the playground.
VANISHING_THRESHOLD = 0.01
_NUMPY_INPUT = (np.ndarray, np.generic, int, float, complex, bool, str, list, tuple)  # complex, str: a clear TypeError
_KERNEL_DTYPES = _d.KERNEL_DTYPES
_FLOAT64 = np.dtype(np.float64)


def _unary(name: str, formula: Callable, x: ArrayLike, out: Any, kwargs: dict) -> Any:
    # Fast path for the common cases, a float array, NumPy scalar or Python float with a compiled kernel, no
    # keyword but out=: ~0.5 µs above the raw ufunc's call. Everything else: _dispatch.call (a few µs more).
    if not kwargs:
        if type(x) is np.ndarray or isinstance(x, np.generic):
            dtype = x.dtype
        elif type(x) is float:
            dtype = _FLOAT64
        else:
            dtype = None
        ufunc = _d.kernel(name, dtype) if dtype in _KERNEL_DTYPES else None
        if ufunc is not None:
            if out is None:
                return ufunc(x)
            if type(out) is np.ndarray:
                return ufunc(x, out=out)
    return _d.call(name, formula, (x,), out, kwargs)


def sigmoid(x: ArrayLike, /, out: Any = None, **kwargs: Any) -> Any:
    r"""The logistic sigmoid σ(x) = 1 / (1 + e^(−x)).

    Computed as 1/(1+e) for x ≥ 0 and e/(1+e) for x < 0 with e = exp(−|x|), so no exponential ever
    overflows. σ(−inf) = 0, σ(+inf) = 1, σ(±0) = ½, NaN propagates; the tail below the smallest normal
    number is computed, not flushed: ``sigmoid(-720.0)`` is 2.03e−313.

    Accuracy: ≤ 1 ULP in float32/float64, correctly rounded in float16/bfloat16.

    >>> sigmoid(2.0)
    np.float64(0.8807970779778824)
    """
    return _unary("sigmoid", _f.sigmoid, x, out, kwargs)


def sigmoid_grad(x: ArrayLike, /, out: Any = None, **kwargs: Any) -> Any:
    r"""The derivative σ'(x) = σ(x)·(1 − σ(x)) = σ(x)·σ(−x), computed stably from x.

    Evaluated as e/(1+e)² with e = exp(−|x|): exactly symmetric, at most 1/4 (at x = 0), and accurate in the
    far tails, where the textbook y·(1−y) from a rounded y = σ(x) loses every digit and then becomes 0
    (for x ≳ 37 in float64, ≳ 16.7 in float32). See :func:`sigmoid_grad_from_output` for that cheap form.

    Accuracy: ≤ 2 ULP in float32/float64 (measured ≤ 1), never 0 where σ'(x) is representable; correctly
    rounded in float16/bfloat16.

    >>> sigmoid_grad(0.0)
    np.float64(0.25)
    """
    return _unary("sigmoid_grad", _f.sigmoid_grad, x, out, kwargs)


def sigmoid_grad_from_output(y: ArrayLike, /, out: Any = None, **kwargs: Any) -> Any:
    r"""σ' from a saved forward output: y·(1 − y) with y = σ(x).

    This is the form backpropagation uses: the forward pass already stored y, so the derivative costs one
    multiply and no exponential. The price is the tail: once σ(x) rounds to 1 (x ≳ 37 in float64, ≳ 16.6 in
    float32, ≳ 7.6 in float16) the result is exactly 0 although σ'(x) is still representable, and before
    that the relative error grows like ε·e^x. Use :func:`sigmoid_grad` when x is at hand.

    >>> sigmoid_grad_from_output(0.5)
    np.float64(0.25)
    """
    return _unary("sigmoid_grad_from_output", _f.sigmoid_grad_from_output, y, out, kwargs)


def sigmoid_second_grad(x: ArrayLike, /, out: Any = None, **kwargs: Any) -> Any:
    r"""The second derivative σ''(x) = σ'(x)·(1 − 2σ(x)) = −σ'(x)·tanh(x/2).

    The tanh form keeps full relative accuracy near x = 0, where 1 − 2σ(x) cancels. σ'' is odd, peaks at
    x = ±log(2 + √3) ≈ ±1.317 with |σ''| = 1/(6√3) ≈ 0.0962, and σ''(0) = 0.

    Accuracy: ≤ 2 ULP in float32/float64; correctly rounded in float16/bfloat16.

    >>> float(sigmoid_second_grad(1.0))  # doctest: +ELLIPSIS
    -0.0908577...
    """
    return _unary("sigmoid_second_grad", _f.sigmoid_second_grad, x, out, kwargs)


def log_sigmoid(x: ArrayLike, /, out: Any = None, **kwargs: Any) -> Any:
    r"""log σ(x) = −softplus(−x) = min(x, 0) − log1p(e^(−|x|)).

    Finite for every finite x (≈ x for x → −inf, ≈ −e^(−x) for x → +inf), unlike ``np.log(sigmoid(x))``
    which becomes −inf below x ≈ −745 and 0 above x ≈ 37.

    Accuracy: ≤ 1 ULP in float32/float64; correctly rounded in float16/bfloat16.

    >>> log_sigmoid(0.0)
    np.float64(-0.6931471805599453)
    """
    return _unary("log_sigmoid", _f.log_sigmoid, x, out, kwargs)


def softplus(x: ArrayLike, /, out: Any = None, **kwargs: Any) -> Any:
    r"""softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^(−|x|)), the antiderivative of σ.

    Accuracy: ≤ 1 ULP in float32/float64; correctly rounded in float16/bfloat16.

    >>> softplus(0.0)
    np.float64(0.6931471805599453)
    """
    return _unary("softplus", _f.softplus, x, out, kwargs)


def logit(p: ArrayLike, /, out: Any = None, **kwargs: Any) -> Any:
    r"""The inverse of the sigmoid, σ⁻¹(p) = log(p / (1 − p)).

    logit(0) = −inf, logit(1) = +inf, NaN outside [0, 1]. For p ≥ 1/4 it is evaluated as
    log1p((2p − 1)/(1 − p)), which keeps full relative accuracy around p = ½ where the result is near 0.

    Accuracy: ≤ 2 ULP in float32/float64; correctly rounded in float16/bfloat16.

    >>> logit(0.75)  # log 3
    np.float64(1.0986122886681098)
    """
    return _unary("logit", _f.logit, p, out, kwargs)


def sigmoid_and_grad(x: ArrayLike, /, out: Any = None, **kwargs: Any) -> tuple[Any, Any]:
    r"""(σ(x), σ'(x)) from one pass over x: the forward output and the local derivative a layer saves.

    Both come from the same exponential e = exp(−|x|) (σ = 1/(1+e) or e/(1+e), σ' = e/(1+e)²), so the pair
    costs one read of x and two writes. Same accuracy and dtype rules as :func:`sigmoid` and
    :func:`sigmoid_grad`; a ufunc with two outputs (``out`` is a pair, every ufunc keyword applies). The single
    pass is for NumPy input and ``__array_ufunc__`` types; Dask and torch/CuPy/JAX arrays get
    ``(sigmoid(x), sigmoid_grad(x))``, two lazy/native calls with the same values.

    >>> sigmoid_and_grad(0.0)
    (np.float64(0.5), np.float64(0.25))
    """
    if not kwargs and out is None and (type(x) is np.ndarray or isinstance(x, np.generic) or type(x) is float):
        dtype = _FLOAT64 if type(x) is float else x.dtype
        ufunc = _d.kernel("sigmoid_and_grad", dtype) if dtype in _KERNEL_DTYPES else None
        if ufunc is not None:
            return ufunc(x)
    outs = _d.outputs(out, 2)
    if _d.kind((x, *outs, kwargs.get("where"))) in ("numpy", "override"):
        return _d.call("sigmoid_and_grad", _sigmoid_and_grad, (x,), out, kwargs, nout=2)
    return sigmoid(x, out=outs[0], **kwargs), sigmoid_grad(x, out=outs[1], **kwargs)


def _sigmoid_and_grad(x: Any) -> tuple[Any, Any]:
    return _f.sigmoid(x), _f.sigmoid_grad(x)


Reduction = Literal["mean", "sum", "none"]


def binary_cross_entropy_with_logits(
    z: ArrayLike,
    t: ArrayLike,
    reduction: Reduction = "mean",
    pos_weight: ArrayLike | None = None,
    return_grad: bool = False,
) -> Any:
    r"""Binary cross-entropy of targets ``t`` under probabilities σ(z), from the logits z.

    L(z, t) = −[w·t·log σ(z) + (1 − t)·log(1 − σ(z))] = w·t·softplus(−z) + (1 − t)·softplus(z)

    with w = ``pos_weight`` (1 by default). Stable for every logit: z = +inf with t = 1 and z = −inf with
    t = 0 give 0, a confident wrong logit gives +inf, never NaN (``torch.nn.functional``'s gives NaN at
    z = −inf); a NaN in z, t or w propagates to the loss and the gradient, whatever the weights, as in torch.
    Soft targets in [0, 1] are allowed. ``pos_weight=1`` (or all ones) is the unweighted loss, bit for bit.

    ``return_grad=True`` also returns dL/dz, computed in the same pass from the same exponential:
    dL/dz = (1 − t)·σ(z) − w·t·σ(−z), which is σ(z) − t when w = 1 (divided by the number of elements
    for ``reduction="mean"``).

    Parameters
    ----------
    z, t : array_like
        Logits and targets; broadcast together.
    reduction : {"mean", "sum", "none"}
        How the elementwise losses are combined.
    pos_weight : array_like, optional
        Weight of the positive term, as in ``torch.nn.BCEWithLogitsLoss`` (broadcast against z).
    return_grad : bool
        Return ``(loss, dL/dz)`` instead of ``loss``.

    >>> binary_cross_entropy_with_logits([0.0, 2.0], [1.0, 1.0])
    np.float64(0.41003...)
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(
            f"binary_cross_entropy_with_logits(): reduction must be 'mean', 'sum' or 'none', got {reduction!r}"
        )
    args = (z, t) if pos_weight is None else (z, t, pos_weight)
    if all(isinstance(a, _NUMPY_INPUT) for a in args):
        loss, grad = _bce_numpy(args, reduction)
    else:
        import array_api_compat as compat

        if any(compat.is_dask_array(a) for a in args):
            loss, grad = _bce_dask(args)
        else:
            loss, grad = _d.foreign_call("binary_cross_entropy_with_logits", _f.bce_with_logits, args)
        loss, grad = _reduce(loss, grad, reduction)
    return (loss, grad) if return_grad else loss


def _is_python_scalar(a: Any) -> bool:
    return type(a) in (int, float, bool)


def _bce_numpy(args: tuple, reduction: Reduction) -> tuple[Any, Any]:
    arrays = [np.asarray(a) for a in args]
    # Python scalars are weak, as in NumPy's own promotion (NEP 50): float32 or bfloat16 logits with
    # pos_weight=2.0 stay float32 or bfloat16 (ml_dtypes would promote bfloat16 with a Python float to float64).
    strong = [arr for a, arr in zip(args, arrays, strict=True) if not _is_python_scalar(a)] or arrays
    dtype = _d.result_dtype("binary_cross_entropy_with_logits", np.result_type(*strong))
    if len(arrays) == 3 and (arrays[2] == 1).all():  # w = 1 is the unweighted loss: the same path, bit for bit
        arrays = np.broadcast_arrays(*arrays)[:2]
    if len(arrays) == 2 and _d.kernel("bce_with_logits", dtype) is not None:
        loss, grad = _bce_kernel(arrays, dtype, reduction)
    else:
        with np.errstate(all="ignore"):
            loss, grad = _f.bce_with_logits(*[_f.to_wide(a) for a in arrays])
            loss, grad = _reduce(loss, grad, reduction)
            loss, grad = _f.round_to(np.asarray(loss), dtype), _f.round_to(grad, dtype)
    scalar = reduction != "none" or all(a.ndim == 0 for a in arrays)
    return (loss[()] if scalar else loss), (grad[()] if grad.ndim == 0 else grad)


def _bce_dask(args: tuple) -> tuple[Any, Any]:
    """Elementwise loss and gradient, lazily: the NumPy path mapped over blocks that line up."""
    import dask.array as da

    scalars = [_is_python_scalar(a) for a in args]  # passed as they are, to keep them weak
    arrays = da.broadcast_arrays(*[a for a, scalar in zip(args, scalars, strict=True) if not scalar])

    def block(*blocks: np.ndarray, part: int) -> np.ndarray:
        given = iter(blocks)
        z, t, *w = [a if scalar else next(given) for a, scalar in zip(args, scalars, strict=True)]
        return binary_cross_entropy_with_logits(z, t, "none", *w, return_grad=True)[part]

    return da.map_blocks(block, *arrays, part=0), da.map_blocks(block, *arrays, part=1)


def _bce_kernel(arrays: list, dtype: np.dtype, reduction: Reduction) -> tuple[np.ndarray, np.ndarray]:
    """Elementwise loss and dL/dz from the compiled ufunc (one pass), reduced in float64 or wider."""
    ufunc = _d.kernel("bce_with_logits", dtype)
    loss, grad = (np.asarray(r) for r in ufunc(*[a.astype(dtype, copy=False) for a in arrays]))
    if reduction == "none":
        return loss, grad
    wide = np.float64 if dtype.itemsize >= 4 else _f.WIDE
    n = loss.size
    with np.errstate(all="ignore"):  # an empty batch gives NaN, silently, as on the reference path
        total = loss.sum(dtype=wide)
        loss = _f.round_to(np.asarray(total if reduction == "sum" else total / n, dtype=wide), dtype)
        if reduction == "mean":
            grad = np.divide(grad, n, out=grad) if wide is np.float64 else _f.round_to(grad.astype(wide) / n, dtype)
    return loss, grad


def _reduce(loss: Any, grad: Any, reduction: Reduction) -> tuple[Any, Any]:
    if reduction == "none":
        return loss, grad
    if reduction == "sum":
        return loss.sum(), grad
    n = loss.size if isinstance(loss.size, int) else int(np.prod(loss.shape))
    return loss.sum() / n, grad / n
