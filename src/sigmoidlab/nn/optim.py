r"""Optimisers, with PyTorch's update rules (``torch.optim``), over a flat buffer of all parameters.

Each optimiser packs its parameters into one contiguous buffer (:func:`~sigmoidlab.nn.parameter.pack`), so a
step is a dozen NumPy calls whatever the number of layers. ``step()`` reads ``Parameter.grad`` as left by the
last backward.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from .parameter import Parameter, pack


class Optimizer:
    """Base class: holds the parameters, their flat ``values``/``grads`` buffers and the step count ``t``."""

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float,
        weight_decay: float = 0.0,
        decay: Iterable[Parameter] | None = None,
    ) -> None:
        self.params = list(params)
        _check(type(self).__name__, lr=lr, weight_decay=weight_decay)
        if lr <= 0:
            raise ValueError(f"{type(self).__name__}(): lr must be > 0, got {lr}")
        self.lr, self.weight_decay = float(lr), float(weight_decay)
        self.values, self.grads = pack(self.params)
        # weight_decay applies to every parameter, as in torch.optim, or only to those in ``decay`` (an L2
        # penalty on the weights but not on biases and batch-norm parameters): then it is a per-element scale.
        if decay is None:
            self._decay: float | np.ndarray = self.weight_decay
        else:
            chosen = {id(p) for p in decay}
            self._decay = np.concatenate(
                [np.full(p.value.size, self.weight_decay * (id(p) in chosen), self.values.dtype) for p in self.params]
            )
        self._tmp = np.empty_like(self.values)
        self._g = np.empty_like(self.values)
        self.t = 0

    def _decayed_grad(self) -> np.ndarray:
        """g + weight_decay·p (L2 penalty folded into the gradient, as torch.optim does), into a scratch buffer."""
        if self.weight_decay == 0:
            return self.grads
        g = np.multiply(self.values, self._decay, out=self._g)
        g += self.grads
        return g

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if isinstance(v, (int, float, bool, tuple)))
        return f"{type(self).__name__}({args})"


def _check(who: str, **values: float) -> None:
    for name, v in values.items():
        if not (isinstance(v, (int, float, np.floating)) and math.isfinite(v) and v >= 0):
            raise ValueError(f"{who}(): {name} must be a finite number ≥ 0, got {v!r}")


class SGD(Optimizer):
    r"""Stochastic gradient descent with optional momentum, Nesterov momentum and weight decay.

    g ← ∇ + λ·p;  v ← μ·v + g;  p ← p − lr·(g + μ·v if Nesterov else v)   (v = g when μ = 0)
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        decay: Iterable[Parameter] | None = None,
    ) -> None:
        super().__init__(params, lr, weight_decay, decay)
        _check("SGD", momentum=momentum)
        if nesterov and momentum == 0:
            raise ValueError("SGD(): nesterov=True needs momentum > 0")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        self._v = np.zeros_like(self.values)

    def step(self) -> None:
        self.t += 1
        g = self._decayed_grad()
        if self.momentum:
            v = self._v
            v *= self.momentum
            v += g
            if self.nesterov:
                g = np.multiply(v, self.momentum, out=self._tmp)
                g += self.grads if self.weight_decay == 0 else self._g
            else:
                g = v
        update = np.multiply(g, self.lr, out=self._tmp)
        self.values -= update


class Adam(Optimizer):
    r"""Adam (Kingma & Ba 2015), as ``torch.optim.Adam``:

    g ← ∇ + λ·p;  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;
    p ← p − (lr/(1−β₁ᵗ))·m / (√v/√(1−β₂ᵗ) + eps)

    The moments are stored as m/(1−β₁) and v/(1−β₂), which turns each moment update into a scale and an add
    and folds every constant into two scalars: a step is 10 passes over the flat buffer instead of 13.
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decay: Iterable[Parameter] | None = None,
    ) -> None:
        super().__init__(params, lr, weight_decay, decay)
        beta1, beta2 = betas
        _check("Adam", eps=eps)
        if not (0 <= beta1 < 1 and 0 <= beta2 < 1):
            raise ValueError(f"Adam(): betas must be in [0, 1), got {betas!r}")
        self.betas, self.eps = (float(beta1), float(beta2)), float(eps)
        self._m = np.zeros_like(self.values)  # m / (1 − β₁)
        self._v = np.zeros_like(self.values)  # v / (1 − β₂)

    def step(self) -> None:
        self.t += 1
        beta1, beta2 = self.betas
        g, m, v, tmp = self._decayed_grad(), self._m, self._v, self._tmp
        m *= beta1
        m += g
        v *= beta2
        v += np.square(g, out=tmp)
        # √v/√(1−β₂ᵗ) + eps = c·(√v' + eps/c) with v = (1−β₂)v' and c = √((1−β₂)/(1−β₂ᵗ))
        c = math.sqrt((1 - beta2) / (1 - beta2**self.t))
        denom = np.sqrt(v, out=tmp)
        denom += self.eps / c
        ratio = np.divide(m, denom, out=tmp)
        ratio *= self.lr * (1 - beta1) / ((1 - beta1**self.t) * c)
        self.values -= ratio


class RMSProp(Optimizer):
    r"""RMSProp (Tieleman & Hinton 2012), as ``torch.optim.RMSprop``:

    g ← ∇ + λ·p;  s ← α·s + (1−α)g²;  u = g/(√s + eps);  b ← μ·b + u (if momentum μ > 0, else b = u);  p ← p − lr·b
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-8,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        decay: Iterable[Parameter] | None = None,
    ) -> None:
        super().__init__(params, lr, weight_decay, decay)
        _check("RMSProp", eps=eps, momentum=momentum)
        if not 0 <= alpha < 1:
            raise ValueError(f"RMSProp(): alpha must be in [0, 1), got {alpha}")
        self.alpha, self.eps, self.momentum = float(alpha), float(eps), float(momentum)
        self._s = np.zeros_like(self.values)
        self._b = np.zeros_like(self.values)

    def step(self) -> None:
        self.t += 1
        g, s, tmp = self._decayed_grad(), self._s, self._tmp
        s *= self.alpha
        np.multiply(g, g, out=tmp)
        tmp *= 1 - self.alpha
        s += tmp
        denom = np.sqrt(s, out=tmp)
        denom += self.eps
        u = np.divide(g, denom, out=tmp)
        if self.momentum:
            b = self._b
            b *= self.momentum
            b += u
            u = b
        np.multiply(u, self.lr, out=tmp)
        self.values -= tmp
