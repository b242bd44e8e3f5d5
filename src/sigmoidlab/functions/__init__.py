"""The sigmoid function family, exact in every float dtype and usable from any array library.

All functions behave like NumPy ufuncs for NumPy input: scalars give NumPy scalars, lists and arrays of any
shape are accepted, ``out=`` is supported, integer and bool input computes in float64, and float16,
bfloat16 (``ml_dtypes``), float32 and float64 come back in their own dtype. They never emit a floating-point
warning. Arrays of other libraries are computed in their own namespace through the array API standard
(torch tensors stay on their device, Dask arrays stay lazy).

Accuracy (measured against mpmath at 200 bits, see ``benchmarks/accuracy.py``): sigmoid, log_sigmoid and
softplus are within 1 ULP in float32/float64, sigmoid_grad, sigmoid_second_grad and logit within 2 ULP and
never flushed to 0 where the true value is representable; float16 and bfloat16 results are correctly rounded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from . import _reference as _f
from . import _ufuncs as _k

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
]

ArrayLike = Any

#: σ'(x) below this counts as the vanishing-gradient region: |x| ≳ 4.6, where one sigmoid layer passes back
#: less than 4% of the largest share (1/4) it can. Used by ``eval``, the plots, the lab and the playground.
VANISHING_THRESHOLD = 0.01
_NUMPY_INPUT = (np.ndarray, np.generic, int, float, complex, bool, str, list, tuple)  # complex, str: a clear TypeError


def _result_dtype(name: str, dtype: np.dtype) -> np.dtype:
    """The dtype a function returns for input of ``dtype``: floats keep theirs, integers and bools get float64."""
    if dtype == _f.BFLOAT16 or dtype.kind == "f":
        return dtype
    if dtype.kind in "biu":
        return np.dtype(np.float64)
    raise TypeError(f"{name}() does not support input of dtype {dtype}: expected real floating-point, integer or bool")


def _finish(result: np.ndarray, out: np.ndarray | None, scalar: bool) -> Any:
    if out is not None:
        np.copyto(out, result, casting="same_kind")
        return out
    return result[()] if scalar else result


def _numpy_call(name: str, formula: Callable, args: tuple, out: np.ndarray | None, **kwargs: Any) -> Any:
    arrays = [np.asarray(a) for a in args]
    dtype = _result_dtype(name, np.result_type(*arrays))
    ufunc = None if kwargs else _kernel(name, dtype)
    if ufunc is not None:
        return _ufunc_call(ufunc, arrays, dtype, out)
    with np.errstate(all="ignore"):  # converting a signalling NaN raises "invalid" too
        wide = [_f.to_wide(a) for a in arrays]
        result = formula(*wide, **kwargs)
        result = _f.round_to(result, dtype)
    return _finish(result, out, scalar=all(a.ndim == 0 for a in arrays))


_KERNEL_DTYPES = (np.dtype(np.float64), np.dtype(np.float32), np.dtype(np.float16), _f.BFLOAT16)
_KERNEL_DTYPE_SET = frozenset(_KERNEL_DTYPES)
_FLOAT64 = np.dtype(np.float64)


def _kernel(name: str, dtype: np.dtype) -> Any:
    """The compiled ufunc for ``name`` at ``dtype``, or None: then the reference path serves (extension not
    built, ``SIGMOIDLAB_KERNEL=reference``, longdouble, or a function without a kernel)."""
    if dtype not in _KERNEL_DTYPES or not _k.use_kernels():
        return None
    return getattr(_k, name, None)


def _ufunc_call(ufunc: Any, arrays: list, dtype: np.dtype, out: np.ndarray | None) -> Any:
    arrays = [a if a.dtype == dtype else a.astype(dtype) for a in arrays]  # integers and bools: float64
    shape = arrays[0].shape if len(arrays) == 1 else np.broadcast(*arrays).shape  # broadcast_shapes costs ~3 µs
    if isinstance(out, np.ndarray) and out.dtype == dtype and out.shape == shape:
        return ufunc(*arrays, out=out)  # straight into out: no temporary
    return _finish(np.asarray(ufunc(*arrays)), out, scalar=all(a.ndim == 0 for a in arrays))


def _foreign_call(name: str, formula: Callable, args: tuple) -> Any:
    """Compute for arrays of another library (torch, JAX, CuPy) in their own namespace."""
    import array_api_compat as compat

    xp = compat.array_namespace(*args)
    converted = []
    for a in args:
        if xp.isdtype(a.dtype, "real floating"):
            converted.append(a)
        elif xp.isdtype(a.dtype, ("integral", "bool")):
            converted.append(xp.astype(a, xp.float64))
        else:
            raise TypeError(f"{name}() does not support input of dtype {a.dtype}: expected real floating-point")
    return formula(*converted, xp=xp)


def _is_numpy(*args: Any) -> bool:
    return all(isinstance(a, _NUMPY_INPUT) for a in args)


def _unary(name: str, formula: Callable, x: ArrayLike, out: np.ndarray | None) -> Any:
    # Fast path for the common cases, a float array, NumPy scalar or Python float with a compiled kernel, into a
    # matching out= or none: the call then costs what np.exp's does (the general path below takes ~3 µs).
    if type(x) is np.ndarray or isinstance(x, np.generic):
        dtype, shape = x.dtype, x.shape
    elif type(x) is float:
        dtype, shape = _FLOAT64, ()
    else:
        dtype = shape = None
    ufunc = _kernel(name, dtype) if dtype in _KERNEL_DTYPE_SET else None
    if ufunc is not None:
        if out is None:
            return ufunc(x)
        if type(out) is np.ndarray and out.dtype == dtype and out.shape == shape:
            return ufunc(x, out=out)
    if _is_numpy(x):
        return _numpy_call(name, formula, (x,), out)
    if out is not None:
        raise TypeError(f"{name}(): out= is only supported for NumPy input")
    import array_api_compat as compat

    if compat.is_dask_array(x):  # blockwise with the exact NumPy path: the array stays lazy
        dtype = _result_dtype(name, np.dtype(x.dtype))
        return x.map_blocks(lambda block: _numpy_call(name, formula, (block,), None), dtype=dtype)
    return _foreign_call(name, formula, (x,))


def sigmoid(x: ArrayLike, /, out: np.ndarray | None = None) -> Any:
    r"""The logistic sigmoid σ(x) = 1 / (1 + e^(−x)).

    Computed as 1/(1+e) for x ≥ 0 and e/(1+e) for x < 0 with e = exp(−|x|), so no exponential ever
    overflows. σ(−inf) = 0, σ(+inf) = 1, σ(±0) = ½, NaN propagates; the tail below the smallest normal
    number is computed, not flushed: ``sigmoid(-720.0)`` is 2.03e−313.

    Accuracy: ≤ 1 ULP in float32/float64, correctly rounded in float16/bfloat16.

    >>> sigmoid(2.0)
    np.float64(0.8807970779778824)
    """
    return _unary("sigmoid", _f.sigmoid, x, out)


def sigmoid_grad(x: ArrayLike, /, out: np.ndarray | None = None) -> Any:
    r"""The derivative σ'(x) = σ(x)·(1 − σ(x)) = σ(x)·σ(−x), computed stably from x.

    Evaluated as e/(1+e)² with e = exp(−|x|): exactly symmetric, at most 1/4 (at x = 0), and accurate in the
    far tails, where the textbook y·(1−y) from a rounded y = σ(x) loses every digit and then becomes 0
    (for x ≳ 37 in float64, ≳ 16.7 in float32). See :func:`sigmoid_grad_from_output` for that cheap form.

    Accuracy: ≤ 2 ULP in float32/float64 (measured ≤ 1), never 0 where σ'(x) is representable; correctly
    rounded in float16/bfloat16.

    >>> sigmoid_grad(0.0)
    np.float64(0.25)
    """
    return _unary("sigmoid_grad", _f.sigmoid_grad, x, out)


def sigmoid_grad_from_output(y: ArrayLike, /, out: np.ndarray | None = None) -> Any:
    r"""σ' from a saved forward output: y·(1 − y) with y = σ(x).

    This is the form backpropagation uses: the forward pass already stored y, so the derivative costs one
    multiply and no exponential. The price is the tail: once σ(x) rounds to 1 (x ≳ 37 in float64, ≳ 16.6 in
    float32, ≳ 7.6 in float16) the result is exactly 0 although σ'(x) is still representable, and before
    that the relative error grows like ε·e^x. Use :func:`sigmoid_grad` when x is at hand.

    >>> sigmoid_grad_from_output(0.5)
    np.float64(0.25)
    """
    return _unary("sigmoid_grad_from_output", _f.sigmoid_grad_from_output, y, out)


def sigmoid_second_grad(x: ArrayLike, /, out: np.ndarray | None = None) -> Any:
    r"""The second derivative σ''(x) = σ'(x)·(1 − 2σ(x)) = −σ'(x)·tanh(x/2).

    The tanh form keeps full relative accuracy near x = 0, where 1 − 2σ(x) cancels. σ'' is odd, peaks at
    x = ±log(2 + √3) ≈ ±1.317 with |σ''| = 1/(6√3) ≈ 0.0962, and σ''(0) = 0.

    Accuracy: ≤ 2 ULP in float32/float64; correctly rounded in float16/bfloat16.

    >>> float(sigmoid_second_grad(1.0))  # doctest: +ELLIPSIS
    -0.0908577...
    """
    return _unary("sigmoid_second_grad", _f.sigmoid_second_grad, x, out)


def log_sigmoid(x: ArrayLike, /, out: np.ndarray | None = None) -> Any:
    r"""log σ(x) = −softplus(−x) = min(x, 0) − log1p(e^(−|x|)).

    Finite for every finite x (≈ x for x → −inf, ≈ −e^(−x) for x → +inf), unlike ``np.log(sigmoid(x))``
    which becomes −inf below x ≈ −745 and 0 above x ≈ 37.

    Accuracy: ≤ 1 ULP in float32/float64; correctly rounded in float16/bfloat16.

    >>> log_sigmoid(0.0)
    np.float64(-0.6931471805599453)
    """
    return _unary("log_sigmoid", _f.log_sigmoid, x, out)


def softplus(x: ArrayLike, /, out: np.ndarray | None = None) -> Any:
    r"""softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^(−|x|)), the antiderivative of σ.

    Accuracy: ≤ 1 ULP in float32/float64; correctly rounded in float16/bfloat16.

    >>> softplus(0.0)
    np.float64(0.6931471805599453)
    """
    return _unary("softplus", _f.softplus, x, out)


def logit(p: ArrayLike, /, out: np.ndarray | None = None) -> Any:
    r"""The inverse of the sigmoid, σ⁻¹(p) = log(p / (1 − p)).

    logit(0) = −inf, logit(1) = +inf, NaN outside [0, 1]. For p ≥ 1/4 it is evaluated as
    log1p((2p − 1)/(1 − p)), which keeps full relative accuracy around p = ½ where the result is near 0.

    Accuracy: ≤ 2 ULP in float32/float64; correctly rounded in float16/bfloat16.

    >>> logit(0.75)  # log 3
    np.float64(1.0986122886681098)
    """
    return _unary("logit", _f.logit, p, out)


def sigmoid_and_grad(x: ArrayLike, /, out: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[Any, Any]:
    r"""(σ(x), σ'(x)) from one pass over x: the forward output and the local derivative a layer saves.

    Both come from the same exponential e = exp(−|x|) (σ = 1/(1+e) or e/(1+e), σ' = e/(1+e)²), so the pair
    costs one read of x and two writes. Same accuracy and dtype rules as :func:`sigmoid` and
    :func:`sigmoid_grad`; ``out`` is an optional pair of arrays. The single pass is for NumPy input; other
    arrays (Dask, torch, ...) get ``(sigmoid(x), sigmoid_grad(x))``, two lazy/native calls with the same values.

    >>> sigmoid_and_grad(0.0)
    (np.float64(0.5), np.float64(0.25))
    """
    out1, out2 = (None, None) if out is None else out
    if _is_numpy(x):
        arr = np.asarray(x)
        dtype = _result_dtype("sigmoid_and_grad", arr.dtype)
        if _kernel("sigmoid_and_grad", dtype) is not None:
            arr = arr.astype(dtype, copy=False)
            if all(isinstance(o, np.ndarray) and o.dtype == dtype and o.shape == arr.shape for o in (out1, out2)):
                return _k.sigmoid_and_grad(arr, out=(out1, out2))
            y, g = (np.asarray(r) for r in _k.sigmoid_and_grad(arr))
            return _finish(y, out1, arr.ndim == 0), _finish(g, out2, arr.ndim == 0)
    return sigmoid(x, out=out1), sigmoid_grad(x, out=out2)


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
    t = 0 give 0, a confident wrong logit gives +inf, never NaN. Soft targets in [0, 1] are allowed.

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

    def elementwise(z_, t_, w_=None, xp=np):
        return _f.bce_with_logits(z_, t_, w_, xp=xp)

    if _is_numpy(*args):
        arrays = [np.asarray(a) for a in args]
        dtype = _result_dtype("binary_cross_entropy_with_logits", np.result_type(*arrays))
        if pos_weight is None and _kernel("bce_with_logits", dtype) is not None:
            loss, grad = _bce_kernel(arrays, dtype, reduction)
        else:
            with np.errstate(all="ignore"):
                loss, grad = elementwise(*[_f.to_wide(a) for a in arrays])
                loss, grad = _reduce(loss, grad, reduction)
                loss, grad = _f.round_to(np.asarray(loss), dtype), _f.round_to(grad, dtype)
        scalar = reduction != "none" or all(a.ndim == 0 for a in arrays)
        loss = loss[()] if scalar else loss
        grad = grad[()] if grad.ndim == 0 else grad
    else:
        import array_api_compat as compat

        if any(compat.is_dask_array(a) for a in args):
            import dask.array as da

            args = da.broadcast_arrays(*args)  # same shape and chunks, so that the blocks line up
            loss = da.map_blocks(
                lambda *blocks: binary_cross_entropy_with_logits(*blocks[:2], "none", *blocks[2:]), *args
            )
            grad = da.map_blocks(
                lambda *blocks: binary_cross_entropy_with_logits(*blocks[:2], "none", *blocks[2:], return_grad=True)[1],
                *args,
            )
        else:
            loss, grad = _foreign_call("binary_cross_entropy_with_logits", elementwise, args)
        loss, grad = _reduce(loss, grad, reduction)
    return (loss, grad) if return_grad else loss


def _bce_kernel(arrays: list, dtype: np.dtype, reduction: Reduction) -> tuple[np.ndarray, np.ndarray]:
    """Elementwise loss and dL/dz from the compiled ufunc (one pass), reduced in float64 or wider."""
    loss, grad = (np.asarray(r) for r in _k.bce_with_logits(*[a.astype(dtype, copy=False) for a in arrays]))
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
