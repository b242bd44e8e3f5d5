"""Trainable parameters, and the flat buffer that lets an optimiser update all of them in a few NumPy calls.

Storage moves at most once. A new :class:`Parameter` owns its arrays; the first :func:`pack` (building a
:class:`~sigmoidlab.nn.Sequential` does it) copies them into two flat buffers and rebinds ``value`` and ``grad``
to views of those buffers. From then on the arrays never change again: a reference taken after the model is
built (``W = layer.W.value``) stays the array the layer computes with and the optimiser updates, whatever
optimisers are created later. Only a reference taken from a loose layer, before it joins a model, goes stale,
once; :attr:`Parameter.packed` says whether that can still happen.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class Parameter:
    """A trainable array ``value`` with its gradient ``grad`` (same shape and dtype) and a ``name``.

    Assigning to ``value`` or ``grad`` copies into the existing array (the shape must match), so that a
    parameter packed into a flat buffer (see :func:`pack`) stays packed. ``value`` and ``grad`` are properties:
    they always return the parameter's current arrays, which are rebound once, when it is first packed.
    """

    __slots__ = ("_grad", "_offset", "_packed_in", "_value", "name")

    def __init__(self, value: np.ndarray, name: str = "") -> None:
        self._value = np.array(value)
        self._grad = np.zeros_like(self._value)
        self.name = name
        self._packed_in: tuple[np.ndarray, np.ndarray] | None = None  # (values, grads) buffers once packed
        self._offset = 0  # where this parameter starts in them

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
    def packed(self) -> bool:
        """True once ``value`` and ``grad`` are views of a flat buffer: they will not be rebound again."""
        return self._packed_in is not None

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


def pack(params: Sequence[Parameter], who: str = "pack()") -> tuple[np.ndarray, np.ndarray]:
    """Two contiguous 1-D buffers ``(values, grads)`` of which every parameter's ``value`` and ``grad`` are views.

    An elementwise update of all parameters (an optimiser step, a finiteness check, a backup copy) is then one
    NumPy call instead of one per array. Loose parameters are copied into new buffers (their one move).
    Parameters already packed are never moved, so that no reference to their arrays goes stale: when they fill
    a run of one buffer, in order, that run is returned (the whole buffer for a model's ``parameters()``, so
    two optimisers on one model share it); anything else (another order, several models, packed and loose
    parameters mixed) is a ``ValueError`` whose message starts with ``who``.
    """
    params = list(params)
    if not params:
        raise ValueError(f"{who}: no parameters")
    dtypes = {p.dtype for p in params}
    if len(dtypes) != 1:
        raise ValueError(f"{who}: parameters must share one dtype, got {sorted(map(str, dtypes))}")
    if len({id(p) for p in params}) != len(params):
        raise ValueError(f"{who}: a parameter is listed twice")
    packed = [p.packed for p in params]
    if all(packed):
        return _packed_run(params, who)
    if any(packed):
        raise ValueError(f"{who}: {_CANNOT_MOVE} (some are packed in a model's buffer and some are not)")
    sizes = [p.value.size for p in params]
    values = np.empty(sum(sizes), dtype=dtypes.pop())
    grads = np.zeros_like(values)
    offset = 0
    for p, size in zip(params, sizes, strict=True):
        view_v = values[offset : offset + size].reshape(p.shape)
        view_g = grads[offset : offset + size].reshape(p.shape)
        view_v[...] = p.value
        view_g[...] = p.grad
        p._value, p._grad = view_v, view_g
        p._packed_in, p._offset = (values, grads), offset
        offset += size
    return values, grads


_CANNOT_MOVE = (
    "these parameters cannot be updated as one flat buffer without moving some of them, which would "
    "leave references to their arrays stale; give a run of a model's parameters() in model order"
)


def _packed_run(params: list[Parameter], who: str) -> tuple[np.ndarray, np.ndarray]:
    """The run of one buffer that ``params`` (all packed) fill in order, or ValueError."""
    values, grads = params[0]._packed_in
    start = offset = params[0]._offset
    for p in params:
        if p._packed_in[0] is not values:
            raise ValueError(f"{who}: {_CANNOT_MOVE} (they are packed in different buffers: several models?)")
        if p._offset != offset:
            raise ValueError(
                f"{who}: {_CANNOT_MOVE} (they are not consecutive in their model's buffer, or out of order)"
            )
        offset += p.value.size
    if start == 0 and offset == values.size:
        return values, grads
    return values[start:offset], grads[start:offset]
