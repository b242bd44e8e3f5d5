"""Trainable parameters, and the flat buffer that lets an optimiser update all of them in a few NumPy calls."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class Parameter:
    """A trainable array ``value`` with its gradient ``grad`` (same shape and dtype) and a ``name``.

    Assigning to ``value`` or ``grad`` copies into the existing array (the shape must match), so that a
    parameter packed into an optimiser's flat buffer (see :func:`pack`) stays packed.
    """

    __slots__ = ("_grad", "_value", "name")

    def __init__(self, value: np.ndarray, name: str = "") -> None:
        self._value = np.array(value)
        self._grad = np.zeros_like(self._value)
        self.name = name

    @property
    def value(self) -> np.ndarray:
        return self._value

    @value.setter
    def value(self, new: np.ndarray) -> None:
        _assign(self._value, new, f"{self.name or 'parameter'}.value")

    @property
    def grad(self) -> np.ndarray:
        return self._grad

    @grad.setter
    def grad(self, new: np.ndarray) -> None:
        _assign(self._grad, new, f"{self.name or 'parameter'}.grad")

    @property
    def shape(self) -> tuple[int, ...]:
        return self._value.shape

    @property
    def dtype(self) -> np.dtype:
        return self._value.dtype

    def __repr__(self) -> str:
        return f"Parameter(name={self.name!r}, shape={self.shape}, dtype={self.dtype})"


def _assign(target: np.ndarray, new: np.ndarray, what: str) -> None:
    new = np.asarray(new)
    if new.shape != target.shape:
        raise ValueError(f"{what}: expected shape {target.shape}, got {new.shape}")
    np.copyto(target, new, casting="same_kind")


def pack(params: Sequence[Parameter]) -> tuple[np.ndarray, np.ndarray]:
    """Put the values and gradients of ``params`` into two contiguous 1-D buffers; return ``(values, grads)``.

    Each parameter's ``value`` and ``grad`` become views into the buffers, so an elementwise update of all
    parameters (an optimiser step, a finiteness check, a backup copy) is one NumPy call instead of one per
    array. Parameters already packed together, in this order, are left alone: two optimisers on the same
    model share the buffers.
    """
    params = list(params)
    if not params:
        raise ValueError("pack(): no parameters")
    dtypes = {p.dtype for p in params}
    if len(dtypes) != 1:
        raise ValueError(f"pack(): parameters must share one dtype, got {sorted(map(str, dtypes))}")
    base_v, base_g = params[0].value.base, params[0].grad.base
    sizes = [p.value.size for p in params]
    if base_v is not None and base_v.ndim == 1 and base_v.size == sum(sizes):
        offsets = np.cumsum([0, *sizes[:-1]]) * base_v.itemsize
        start = base_v.__array_interface__["data"][0]
        if all(
            p.value.base is base_v
            and p.grad.base is base_g
            and p.value.__array_interface__["data"][0] == start + off
            and p.value.flags.c_contiguous
            for p, off in zip(params, offsets, strict=True)
        ):
            return base_v, base_g
    values = np.empty(sum(sizes), dtype=dtypes.pop())
    grads = np.zeros_like(values)
    offset = 0
    for p, size in zip(params, sizes, strict=True):
        view_v = values[offset : offset + size].reshape(p.shape)
        view_g = grads[offset : offset + size].reshape(p.shape)
        view_v[...] = p.value
        view_g[...] = p.grad
        p._value, p._grad = view_v, view_g
        offset += size
    return values, grads
