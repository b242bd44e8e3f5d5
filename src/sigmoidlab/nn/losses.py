r"""Losses on logits, with one contract (:class:`Loss`): ``forward(logits, y) -> float`` is the mean over samples
and keeps ∂L/∂logits, which ``backward()`` returns.

>>> import numpy as np
>>> from sigmoidlab import nn
>>> loss = nn.BCEWithLogits()
>>> round(loss.forward(np.array([[0.0], [0.0]]), [0, 1]), 6)  # log 2
0.693147
>>> loss.backward().ravel().tolist()  # (σ(z) − t)/n
[0.25, -0.25]
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from ..functions import binary_cross_entropy_with_logits, sigmoid


def _targets(logits: np.ndarray, y: Any, who: str) -> np.ndarray:
    y = np.asarray(y)
    if y.size != logits.size or (y.ndim > 1 and y.shape != logits.shape):
        raise ValueError(f"{who}: targets of shape {y.shape} do not match logits of shape {logits.shape}")
    if y.dtype != logits.dtype:
        y = y.astype(logits.dtype)
    return y.reshape(logits.shape)


class Loss(ABC):
    r"""Base class of the losses: L(z, t) averaged over every element, on logits z (the model's raw output).

    ``forward(logits, y)`` returns L as a Python float and keeps ∂L/∂logits (same shape and dtype as the
    logits) as the loss's one piece of state; ``backward()`` returns that array. So a loss object holds the
    gradient of its *last* forward: to score a model without disturbing a training step in progress, use a
    second instance. ``name`` is the registry name (:data:`sigmoidlab.nn.LOSSES`).
    """

    name: ClassVar[str] = ""
    _grad: np.ndarray | None = None

    @abstractmethod
    def forward(self, logits: np.ndarray, y: Any) -> float:
        """The mean loss of ``logits`` (n, 1) against targets ``y`` (n,) or (n, 1); keeps ∂L/∂logits."""

    def backward(self) -> np.ndarray:
        """∂L/∂logits from the last :meth:`forward` (the array itself: backward passes may scale it in place)."""
        if self._grad is None:
            raise RuntimeError(f"{type(self).__name__}.backward() called before forward()")
        return self._grad

    def __call__(self, logits: np.ndarray, y: Any) -> float:
        return self.forward(logits, y)

    def config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this loss."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


class BCEWithLogits(Loss):
    r"""Binary cross-entropy on logits z, fused with the sigmoid:

    L = mean[w·t·softplus(−z) + (1 − t)·softplus(z)],   ∂L/∂z = ((1 − t)·σ(z) − w·t·σ(−z)) / n

    (w = ``pos_weight``, 1 by default, where ∂L/∂z = (σ(z) − t)/n). Both come from one e^(−|z|) through
    :func:`sigmoidlab.binary_cross_entropy_with_logits` (its compiled ufunc for w = 1, else its exact reference
    path, rounded once to the logits' dtype): no exponential overflows, a confident right answer costs 0 and a
    confident wrong one a large finite value.
    """

    name = "bce"

    def __init__(self, pos_weight: float | None = None) -> None:
        if pos_weight is not None and not (np.isfinite(pos_weight) and pos_weight > 0):
            raise ValueError(f"BCEWithLogits(): pos_weight must be a finite number > 0, got {pos_weight!r}")
        self.pos_weight = None if pos_weight is None else float(pos_weight)

    def forward(self, logits: np.ndarray, y: Any) -> float:
        t = _targets(logits, y, "BCEWithLogits")
        # Elementwise loss and dL/dz in one pass (the compiled ufunc when w = 1), in the logits' dtype.
        loss, grad = binary_cross_entropy_with_logits(logits, t, "none", self.pos_weight, return_grad=True)
        grad *= 1 / logits.size
        self._grad = grad
        return float(loss.mean())

    def config(self) -> dict[str, Any]:
        return {"pos_weight": self.pos_weight}


class MSE(Loss):
    r"""Mean squared error between σ(z) and the targets: L = mean[(σ(z) − t)²], ∂L/∂z = 2(σ − t)·σ(1 − σ)/n.

    The loss of early neural-network papers, here for comparison: its gradient carries σ'(z) and vanishes
    when the output unit saturates, even when the answer is wrong; BCE's does not.
    """

    name = "mse"

    def forward(self, logits: np.ndarray, y: Any) -> float:
        t = _targets(logits, y, "MSE")
        p = sigmoid(logits)
        diff = p - t
        self._grad = diff * (p * (1 - p)) * logits.dtype.type(2 / logits.size)  # σ' as Sigmoid's backward has it
        return float(np.mean(diff * diff))


class SquaredError(Loss):
    r"""Mean squared error on the raw outputs, for regression: L = mean[(z − t)²], ∂L/∂z = 2(z − t)/n.

    No sigmoid: the output unit is linear, so nothing saturates at the output and the targets may be any real
    numbers (TensorFlow Playground's regression data sets have targets in [−1, 1]).
    """

    name = "squared_error"

    def forward(self, logits: np.ndarray, y: Any) -> float:
        t = _targets(logits, y, "SquaredError")
        diff = logits - t
        self._grad = diff * logits.dtype.type(2 / logits.size)
        return float(np.mean(diff * diff))
