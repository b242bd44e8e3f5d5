r"""Optimisers, with PyTorch's update rules (``torch.optim``), over a flat buffer of all parameters.

Each optimiser packs its parameters into one contiguous buffer (:func:`~sigmoidlab.nn.parameter.pack`), so a
step is a dozen NumPy calls whatever the number of layers. ``step()`` reads ``Parameter.grad`` as left by the
last backward.

Penalties: every optimiser takes ``weight_decay`` = λ₂ and ``l1`` = λ₁, applied to every parameter or only to
those listed in ``decay`` (the weight matrices, say, and not the biases), which minimises the penalised objective

    J(θ) = L(θ) + (λ₂/2)·Σ θ² + λ₁·Σ |θ|      (sums over the penalised parameters)

by folding ∂J/∂θ = ∇L + λ₂·θ + λ₁·sign(θ) into the gradient before the update, as ``torch.optim`` does for
``weight_decay`` (the L2 penalty, not AdamW's decoupled decay). sign(0) = 0: a weight at exactly zero feels no
L1 pull. This is the plain subgradient, so L1 weights hover around zero rather than land on it (TensorFlow
Playground also sets to 0 a weight that its separate penalty step carries across zero; not done here).

>>> import numpy as np
>>> from sigmoidlab import nn
>>> p = nn.Parameter(np.array([2.0, -3.0, 0.0]))
>>> opt = nn.SGD([p], lr=0.1, weight_decay=0.5, l1=1.0)
>>> opt.step()  # ∇L = 0: θ − 0.1·(0.5·θ + sign θ)
>>> p.value.tolist()
[1.8, -2.75, 0.0]
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from .parameter import Parameter, pack


class Optimizer:
    """Base class: holds the parameters, their flat ``values``/``grads`` buffers and the step count ``t``.

    Subclasses implement ``step()`` on :meth:`_penalised_grad` (∇L plus the penalties' gradient) and keep
    their state in arrays shaped like ``values``.
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float,
        weight_decay: float = 0.0,
        decay: Iterable[Parameter] | None = None,
        l1: float = 0.0,
    ) -> None:
        self.params = list(params)
        who = type(self).__name__
        _check(who, lr=lr, weight_decay=weight_decay, l1=l1)
        if lr <= 0:
            raise ValueError(f"{who}(): lr must be > 0, got {lr}")
        self.lr, self.weight_decay, self.l1 = float(lr), float(weight_decay), float(l1)
        self.values, self.grads = pack(self.params, who=f"{who}()")
        # The penalties apply to every parameter, as in torch.optim, or only to those in ``decay`` (the weights
        # but not the biases and batch-norm parameters): then each strength is a per-element scale.
        chosen = None if decay is None else {id(p) for p in decay}
        self._decay = self._strength(self.weight_decay, chosen)
        self._l1 = self._strength(self.l1, chosen)
        self._tmp = np.empty_like(self.values)
        self._g = np.empty_like(self.values)
        self.t = 0

    def _strength(self, strength: float, chosen: set[int] | None) -> float | np.ndarray:
        if chosen is None:
            return strength
        return np.concatenate(
            [np.full(p.value.size, strength * (id(p) in chosen), self.values.dtype) for p in self.params]
        )

    def _penalised_grad(self) -> np.ndarray:
        """∇L + λ₂·θ + λ₁·sign(θ) into a scratch buffer (``grads`` itself without penalties). Uses ``_tmp``."""
        if self.weight_decay == 0 and self.l1 == 0:
            return self.grads
        g = self._g
        if self.weight_decay:
            np.multiply(self.values, self._decay, out=g)
            g += self.grads
        else:
            np.copyto(g, self.grads)
        if self.l1:
            pull = np.sign(self.values, out=self._tmp)
            pull *= self._l1
            g += pull
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

    g ← ∇ + λ₂·p + λ₁·sign(p);  v ← μ·v + g;  p ← p − lr·(g + μ·v if Nesterov else v)   (v = g when μ = 0)
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        decay: Iterable[Parameter] | None = None,
        l1: float = 0.0,
    ) -> None:
        super().__init__(params, lr, weight_decay, decay, l1)
        _check("SGD", momentum=momentum)
        if nesterov and momentum == 0:
            raise ValueError("SGD(): nesterov=True needs momentum > 0")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        self._v = np.zeros_like(self.values)

    def step(self) -> None:
        self.t += 1
        g = grad = self._penalised_grad()
        if self.momentum:
            v = self._v
            v *= self.momentum
            v += g
            if self.nesterov:
                g = np.multiply(v, self.momentum, out=self._tmp)
                g += grad
            else:
                g = v
        update = np.multiply(g, self.lr, out=self._tmp)
        self.values -= update


class Adam(Optimizer):
    r"""Adam (Kingma & Ba 2015), as ``torch.optim.Adam``:

    g ← ∇ + λ₂·p + λ₁·sign(p);  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;
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
        l1: float = 0.0,
    ) -> None:
        super().__init__(params, lr, weight_decay, decay, l1)
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
        g, m, v, tmp = self._penalised_grad(), self._m, self._v, self._tmp
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

    g ← ∇ + λ₂·p + λ₁·sign(p);  s ← α·s + (1−α)g²;  u = g/(√s + eps);
    b ← μ·b + u (if momentum μ > 0, else b = u);  p ← p − lr·b
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
        l1: float = 0.0,
    ) -> None:
        super().__init__(params, lr, weight_decay, decay, l1)
        _check("RMSProp", eps=eps, momentum=momentum)
        if not 0 <= alpha < 1:
            raise ValueError(f"RMSProp(): alpha must be in [0, 1), got {alpha}")
        self.alpha, self.eps, self.momentum = float(alpha), float(eps), float(momentum)
        self._s = np.zeros_like(self.values)
        self._b = np.zeros_like(self.values)

    def step(self) -> None:
        self.t += 1
        g, s, tmp = self._penalised_grad(), self._s, self._tmp
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
