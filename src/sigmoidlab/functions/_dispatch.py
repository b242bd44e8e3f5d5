"""How the public functions route their input: the ufunc protocol of NumPy, spoken for every kind of array.

- NumPy input (arrays, NumPy and Python scalars, lists) goes to the compiled ufunc with every keyword passed
  through (``out``, ``where``, ``dtype``, ``casting``, ``order``, ``subok``, ``signature``); integers and bools
  compute in float64 unless a loop is named. Without a kernel for the loop dtype (``set_kernel("reference")``,
  no extension, longdouble) the exact reference path computes the values and
  ``np.positive`` with the same keywords places them, so ``where``, ``out``, ``casting`` and ``order`` mean
  exactly what they mean for a ufunc.
- ``__array_ufunc__`` overrides (ndarray subclasses such as masked arrays, pandas, xarray) are handed the raw
  ufunc, as NumPy does for ``np.exp``: the result keeps its type, mask, index or coordinates.
- Dask arrays are mapped blockwise over the NumPy path (lazy, chunks kept, ``where``/``out`` as in
  ``dask.array``); torch, CuPy and JAX arrays are computed in their own namespace through the array API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import _loader
from . import _reference as _f

KERNEL_DTYPES = frozenset({np.dtype(np.float64), np.dtype(np.float32), np.dtype(np.float16), _f.BFLOAT16})
KEYWORDS = frozenset({"where", "casting", "order", "dtype", "subok", "signature", "sig"})
_PLACED = ("where", "order", "subok")  # the keywords np.positive applies for the reference path
_PLAIN = (np.generic, int, float, complex, bool, str, list, tuple)  # with exact ndarrays: the NumPy path


def result_dtype(name: str, dtype: np.dtype) -> np.dtype:
    """The dtype a function returns for input of ``dtype``: floats keep theirs, integers and bools get float64."""
    if dtype == _f.BFLOAT16 or dtype.kind == "f":
        return dtype
    if dtype.kind in "biu":
        return np.dtype(np.float64)
    raise TypeError(f"{name}() does not support input of dtype {dtype}: expected real floating-point, integer or bool")


def kernel(name: str, dtype: Any) -> Any:
    """The compiled ufunc for ``name`` at ``dtype``, or None: then the reference path serves (extension not
    built, ``SIGMOIDLAB_KERNEL=reference``, longdouble, or a function without a kernel)."""
    if dtype not in KERNEL_DTYPES or not _loader.use_kernels():
        return None
    return getattr(_loader, name, None)


def outputs(out: Any, nout: int) -> tuple:
    """``out`` as a tuple of ``nout`` entries (an array or None each), as a ufunc reads it."""
    if out is None:
        return (None,) * nout
    if not isinstance(out, tuple):
        out = (out,)
    if len(out) != nout:
        raise ValueError(f"The 'out' tuple must have exactly {nout} entries: one per output")
    return out


def kind(operands: tuple) -> str:
    """The route for these operands: "numpy", "dask", "foreign" (array API: torch, CuPy, JAX, ...) or
    "override" (an ndarray subclass or a type with ``__array_ufunc__``), in that order of precedence."""
    found = "numpy"
    for a in operands:
        if a is None or type(a) is np.ndarray or isinstance(a, _PLAIN):
            continue
        import array_api_compat as compat

        if compat.is_dask_array(a):
            return "dask"
        if compat.is_torch_array(a) or compat.is_cupy_array(a) or compat.is_jax_array(a):
            return "foreign"
        if isinstance(a, np.ndarray) or hasattr(a, "__array_ufunc__"):
            found = "override"
        elif hasattr(a, "__array_namespace__"):
            return "foreign"
    return found  # anything else NumPy converts (objects with __array__, memoryviews, ...)


def call(name: str, formula: Callable, args: tuple, out: Any, kwargs: dict, nout: int = 1) -> Any:
    """``name(*args, out=out, **kwargs)`` for any input, as a ufunc would compute it."""
    operands = args + tuple(o for o in outputs(out, nout) if o is not None)
    route = kind(operands + ((kwargs["where"],) if "where" in kwargs else ()))
    if route == "numpy":
        return numpy_call(name, formula, args, out, kwargs, nout)
    if route == "override":
        return override_call(name, args, out, kwargs)
    if route == "dask":
        return dask_call(name, formula, args, out, kwargs)
    if out is not None or kwargs:
        keys = ", ".join(f"{k}=" for k in (["out"] if out is not None else []) + sorted(kwargs))
        raise TypeError(f"{name}(): {keys} is only supported for NumPy, Dask and __array_ufunc__ input")
    return foreign_call(name, formula, args)


# ------------------------------------------------------------------------------------------------ NumPy


def _requested_loop(kwargs: dict) -> np.dtype | None:
    """The loop dtype named by ``dtype=`` or ``signature=`` (all our loops take and give one dtype)."""
    if kwargs.get("dtype") is not None:
        return np.dtype(kwargs["dtype"])
    sig = kwargs.get("signature", kwargs.get("sig"))
    if sig is None:
        return None
    if isinstance(sig, str):  # "d->d", "f->ff"
        sig = sig.replace("->", "")
    named = [s for s in (sig if isinstance(sig, str | tuple | list) else (sig,)) if s is not None]
    if not named:
        return None
    return np.dtype(named[0])


def loop_dtype(name: str, arrays: list, kwargs: dict) -> np.dtype:
    """The dtype the computation runs in: the one requested, else the result dtype of the input."""
    return _loops(name, arrays, kwargs)[0]


def _loops(name: str, arrays: list, kwargs: dict) -> tuple[np.dtype, np.dtype, np.dtype | None]:
    """(loop dtype, the input's own result type, the loop requested by dtype= or signature=, if any)."""
    natural = np.result_type(*arrays)
    requested = _requested_loop(kwargs) if kwargs else None
    if requested is None:
        return result_dtype(name, natural), natural, None
    if requested != _f.BFLOAT16 and requested.kind != "f":
        raise TypeError(f"No loop matching the specified signature and casting was found for ufunc {name}")
    return requested, natural, requested


def numpy_call(name: str, formula: Callable, args: tuple, out: Any, kwargs: dict, nout: int = 1) -> Any:
    arrays = [np.asarray(a) for a in args]
    loop, natural, requested = _loops(name, arrays, kwargs)
    ufunc = kernel(name, loop)
    if ufunc is None:
        return reference_call(name, formula, args, arrays, out, kwargs, loop, nout)
    if requested is None and loop != natural:
        kwargs = {**kwargs, "dtype": loop}  # integers and bools: the float64 loop, not NumPy's smallest float
    return ufunc(*args, **kwargs) if out is None else ufunc(*args, out=out, **kwargs)


def _cast_error(name: str, which: str, source: np.dtype, target: np.dtype, casting: str) -> TypeError:
    return TypeError(f"Cannot cast ufunc {name!r} {which} from {source!r} to {target!r} with casting rule {casting!r}")


def reference_call(
    name: str, formula: Callable, args: tuple, arrays: list, out: Any, kwargs: dict, loop: np.dtype, nout: int
) -> Any:
    """The exact NumPy path (computed in longdouble, rounded once to ``loop``) with the ufunc keywords."""
    unknown = sorted(set(kwargs) - KEYWORDS)
    if unknown:
        raise TypeError(f"{name}() got an unexpected keyword argument {unknown[0]!r}")
    casting = kwargs.get("casting", "same_kind")
    for a, arr in zip(args, arrays, strict=True):
        # Python scalars are weakly typed (NEP 50): they cast to any float loop, as for the compiled ufunc.
        if type(a) not in (int, float, bool) and not np.can_cast(arr.dtype, loop, casting):
            raise _cast_error(name, "input", arr.dtype, loop, casting)
    outs = outputs(out, nout)
    for o in outs:
        if isinstance(o, np.ndarray) and not np.can_cast(loop, o.dtype, casting):
            raise _cast_error(name, "output", loop, o.dtype, casting)
    with np.errstate(all="ignore"):  # converting a signalling NaN raises "invalid" too
        values = formula(*[_f.to_wide(a.astype(loop, copy=False)) for a in arrays])
        values = values if nout > 1 else (values,)
        values = [_f.round_to(np.asarray(v), loop) for v in values]
    placed = {k: kwargs[k] for k in _PLACED if k in kwargs}
    results = [np.positive(v, out=o, casting=casting, dtype=loop, **placed) for v, o in zip(values, outs, strict=True)]
    return tuple(results) if nout > 1 else results[0]


# ------------------------------------------------------------------------------------- other array types


def _integer_dtype(a: Any) -> bool:
    try:
        return np.dtype(getattr(a, "dtype", None)).kind in "biu"
    except TypeError:  # no dtype, or a dtype NumPy does not know (pandas' nullable Int64, ...)
        return False


def override_call(name: str, args: tuple, out: Any, kwargs: dict) -> Any:
    """Hand the raw ufunc to ``__array_ufunc__`` (masked arrays, pandas, xarray), as NumPy does for np.exp."""
    if _requested_loop(kwargs) is None and any(_integer_dtype(a) for a in args):
        kwargs = {**kwargs, "dtype": np.float64}  # integers compute in float64, as for NumPy input
    if out is not None:
        kwargs = {**kwargs, "out": out}
    ufunc = getattr(_loader, name)
    if ufunc is None:
        types = ", ".join(sorted({f"{type(a).__module__}.{type(a).__qualname__}" for a in args}))
        raise TypeError(
            f"{name}() on {types} needs sigmoidlab's compiled kernels, which are not built here (`make` builds "
            "them); np.asarray(x) computes without the type's __array_ufunc__"
        )
    return ufunc(*args, **kwargs)


def dask_call(name: str, formula: Callable, args: tuple, out: Any, kwargs: dict) -> Any:
    """Blockwise over the NumPy path: the result stays lazy, its chunks are the input's."""
    from dask.array.core import elemwise

    static = {k: v for k, v in kwargs.items() if k != "where"}
    arrays = [np.empty((0,), dtype=a.dtype) for a in args]
    loop = loop_dtype(name, arrays, kwargs)

    def block(*blocks: Any, where: Any = True, out: Any = None) -> Any:
        extra = {} if where is True else {"where": where}
        return numpy_call(name, formula, blocks, out, {**static, **extra})

    block.__name__ = name  # names the graph's tasks
    return elemwise(block, *args, out=out, where=kwargs.get("where", True), dtype=loop)


def foreign_call(name: str, formula: Callable, args: tuple) -> Any:
    """Compute for arrays of another library (torch, JAX, CuPy) in their own namespace."""
    import array_api_compat as compat

    arrays = [a for a in args if type(a) not in (int, float, bool)]
    xp = compat.array_namespace(*arrays)
    # A Python scalar (pos_weight=2.0) becomes a 0-d array of the first array's float dtype: weak, as in NumPy.
    like = next((a.dtype for a in arrays if xp.isdtype(a.dtype, "real floating")), xp.float64)
    converted = []
    for a in args:
        if type(a) in (int, float, bool):
            converted.append(xp.asarray(float(a), dtype=like, device=compat.device(arrays[0])))
        elif xp.isdtype(a.dtype, "real floating"):
            converted.append(a)
        elif xp.isdtype(a.dtype, ("integral", "bool")):
            converted.append(xp.astype(a, xp.float64))
        else:
            raise TypeError(f"{name}() does not support input of dtype {a.dtype}: expected real floating-point")
    return formula(*converted, xp=xp)
