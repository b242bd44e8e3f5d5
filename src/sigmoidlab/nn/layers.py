r"""Layers with an explicit backward pass: each ``backward`` sits next to its ``forward`` and is the chain rule.

The contract every layer keeps (see :class:`Layer`): ``forward(x)`` saves what its backward needs;
``backward(g, input_grad=True)`` takes g = ∂L/∂output, writes ∂L/∂parameter into each ``Parameter.grad``
(overwriting, never accumulating) and returns ∂L/∂input, or None when ``input_grad=False`` (the first layer of a
model during training: nothing needs it). Inputs are 2-D arrays (batch, features) in the layer's dtype (float32
or float64). Activation layers derive from :class:`Activation`, which adds what the observation hooks and the
playground need: the derivative and the vanishing region.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from ..functions import sigmoid, sigmoid_grad
from . import init as _init
from .parameter import Parameter


class Layer(ABC):
    """Base class: no parameters, training mode on. Subclasses must define ``forward`` and ``backward``."""

    training: bool = True
    kind: str = ""  # the activation name for activation layers ("sigmoid", ...), "" otherwise

    @abstractmethod
    def forward(self, x: np.ndarray) -> np.ndarray:
        """The layer's output for a batch ``x``; saves what :meth:`backward` needs."""

    @abstractmethod
    def backward(self, g: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """Fill the parameters' ``grad`` from g = ∂L/∂output; return ∂L/∂input (None if not ``input_grad``)."""

    def parameters(self) -> list[Parameter]:
        return []

    def train(self, mode: bool = True) -> Layer:
        self.training = bool(mode)
        return self

    def eval(self) -> Layer:
        return self.train(False)

    def config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this layer (without its learned values)."""
        return {}

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


class Dense(Layer):
    r"""Affine layer y = x·W + b with W of shape (in_features, out_features), as scikit-learn's ``coefs_``.

    Backward: ∂L/∂W = xᵀ·g, ∂L/∂b = Σ_batch g, ∂L/∂x = g·Wᵀ.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        init: str | _init.Initializer = "standard",
        dtype: Any = np.float64,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        if int(in_features) < 1 or int(out_features) < 1:
            raise ValueError(f"Dense(): sizes must be ≥ 1, got in_features={in_features}, out_features={out_features}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.dtype = _float_dtype(dtype)
        draw = _init.get(init)  # validates the name first
        self.init = _init.name_of(init)
        rng = np.random.default_rng(seed)
        self.W = Parameter(draw(self.in_features, self.out_features, rng, self.dtype), "W")
        self.b = Parameter(np.zeros(self.out_features, dtype=self.dtype), "b")

    def parameters(self) -> list[Parameter]:
        return [self.W, self.b]

    def config(self) -> dict[str, Any]:
        return {"in_features": self.in_features, "out_features": self.out_features, "init": self.init}

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._x = x
        y = x @ self.W.value
        y += self.b.value
        return y

    def backward(self, g: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        np.matmul(self._x.T, g, out=self.W.grad)
        np.sum(g, axis=0, out=self.b.grad)
        return g @ self.W.value.T if input_grad else None


class Activation(Layer):
    r"""An elementwise y = f(z) with no parameters; the base of every activation layer.

    Subclasses set ``kind`` (the registry name), ``max_slope`` = sup f′ and ``saturating`` (f is bounded, so
    f′ → 0 in both tails: sigmoid and tanh), and define ``forward``, ``backward``, :meth:`derivative` and
    :meth:`vanishing`. Observation counts the unit·sample pairs in the vanishing region (its mask).
    """

    max_slope: ClassVar[float] = 1.0
    saturating: ClassVar[bool] = False

    @abstractmethod
    def derivative(self, z: np.ndarray) -> np.ndarray:
        """f′(z), computed from the pre-activation z (the stable form, for plots and the playground)."""

    @abstractmethod
    def derivative_from_output(self, y: np.ndarray) -> np.ndarray:
        """f′ from the output y = f(z), as the backward pass computes it."""

    @abstractmethod
    def vanishing(self, z: np.ndarray, y: np.ndarray, threshold: float) -> np.ndarray:
        """Boolean mask of the pairs whose gradient is vanishing (σ′ < ``threshold`` and its equivalents)."""


class Sigmoid(Activation):
    r"""y = σ(x) = 1/(1 + e^(−x)); backward g·σ'(x) with σ'(x) computed from the saved output as y·(1 − y).

    Reusing y makes the derivative one subtraction and one multiplication, no exponential: the efficiency
    argument of backpropagation. The price is the tail. Once y rounds to 1, y·(1 − y) is exactly 0 although
    σ'(x) = e^(−x)/(1+e^(−x))² is still far above the underflow threshold. The forward is the
    exact ``sigmoidlab.sigmoid`` (the compiled ufunc, as fast as one NumPy call), so y is correctly rounded and
    that happens for x ≳ 17.3 in float32 (true σ'(17.3) ≈ 3.1e−8) and x ≳ 37.4 in float64 (true σ'(37.4)
    ≈ 5.7e−17). Before that, 1 − y takes only a few values (multiples of the spacing of floats below 1), so the
    relative error grows like ε·e^x. For x → −∞ the product stays accurate because y is tiny and 1 − y ≈ 1.
    A unit pushed that far is dead to gradient descent either way, which is why :meth:`Sequential.stats` counts
    units with σ' below a threshold. :meth:`derivative` (``sigmoidlab.sigmoid_grad``) is the stable
    alternative when x is kept.
    """

    kind = "sigmoid"
    max_slope, saturating = 0.25, True

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._y = sigmoid(x)
        return self._y

    def backward(self, g: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        if not input_grad:
            return None
        d = self.derivative_from_output(self._y)
        d *= g
        return d

    def derivative(self, z: np.ndarray) -> np.ndarray:
        return sigmoid_grad(z)

    def derivative_from_output(self, y: np.ndarray) -> np.ndarray:
        # In y's dtype with two roundings, as backpropagation computes it elsewhere. The correctly rounded
        # sigmoidlab.sigmoid_grad_from_output differs in the last bit at ~1 float32 output in 12, which moves
        # training trajectories (and the demo's quick sweep: sigmoid + BN at depth 6 ends at 0.46, not 0.94).
        return y * (1 - y)

    def vanishing(self, z: np.ndarray, y: np.ndarray, threshold: float) -> np.ndarray:
        return self.derivative_from_output(y) < threshold


class Tanh(Activation):
    """y = tanh(x); backward g·(1 − y²). tanh' = 4σ'(2x), so its vanishing threshold is 4× the sigmoid's."""

    kind = "tanh"
    saturating = True

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._y = np.tanh(x)
        return self._y

    def backward(self, g: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        if not input_grad:
            return None
        d = self._y * self._y
        np.subtract(1, d, out=d)
        d *= g
        return d

    def derivative(self, z: np.ndarray) -> np.ndarray:
        return 4 * sigmoid_grad(2 * np.asarray(z))  # tanh′(z) = 4σ′(2z): accurate in the tails, unlike 1 − tanh²

    def derivative_from_output(self, y: np.ndarray) -> np.ndarray:
        return 1 - y * y

    def vanishing(self, z: np.ndarray, y: np.ndarray, threshold: float) -> np.ndarray:
        return 1 - y * y < 4 * threshold


class ReLU(Activation):
    """y = max(x, 0); backward g·[x > 0] (the subgradient 0 at x = 0, as in PyTorch). Vanishing: x ≤ 0."""

    kind = "relu"

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._x = x
        return np.maximum(x, 0)

    def backward(self, g: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        return g * (self._x > 0) if input_grad else None

    def derivative(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z)
        return (z > 0).astype(z.dtype if z.dtype.kind == "f" else np.float64)

    def derivative_from_output(self, y: np.ndarray) -> np.ndarray:
        return self.derivative(y)  # y > 0 exactly where z > 0

    def vanishing(self, z: np.ndarray, y: np.ndarray, threshold: float) -> np.ndarray:
        return z <= 0


class LeakyReLU(Activation):
    """y = x for x > 0, a·x otherwise; backward g·(1 or a). Counted as vanishing where x ≤ 0, as ReLU."""

    kind = "leaky_relu"

    def __init__(self, negative_slope: float = 0.01) -> None:
        self.negative_slope = float(negative_slope)

    def config(self) -> dict[str, Any]:
        return {"negative_slope": self.negative_slope}

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._slope = np.where(x > 0, x.dtype.type(1), x.dtype.type(self.negative_slope))
        return x * self._slope

    def backward(self, g: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        return g * self._slope if input_grad else None

    def derivative(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z)
        dtype = z.dtype if z.dtype.kind == "f" else np.dtype(np.float64)
        return np.where(z > 0, dtype.type(1), dtype.type(self.negative_slope))

    def derivative_from_output(self, y: np.ndarray) -> np.ndarray:
        return self.derivative(y)  # for a > 0, y > 0 exactly where z > 0

    def vanishing(self, z: np.ndarray, y: np.ndarray, threshold: float) -> np.ndarray:
        return z <= 0


class Identity(Activation):
    """y = x; backward g. A linear "activation", for comparison: its gradient never vanishes."""

    kind = "identity"

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x

    def backward(self, g: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        return g if input_grad else None

    def derivative(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z)
        return np.ones_like(z, dtype=z.dtype if z.dtype.kind == "f" else np.float64)

    def derivative_from_output(self, y: np.ndarray) -> np.ndarray:
        return self.derivative(y)

    def vanishing(self, z: np.ndarray, y: np.ndarray, threshold: float) -> np.ndarray:
        return np.zeros(np.shape(y), dtype=bool)


class BatchNorm1d(Layer):
    r"""Batch normalisation (Ioffe & Szegedy 2015): y = γ·x̂ + β, x̂ = (x − μ)/√(σ² + eps).

    Training mode uses the batch mean μ and biased variance σ², and updates the running statistics
    (running ← (1 − momentum)·running + momentum·batch, with the unbiased variance, as PyTorch does);
    evaluation mode uses the running statistics. To look at a model without moving them, see
    :func:`sigmoidlab.nn.evaluating`.

    Backward (training): with ĝ = g·γ, ∂L/∂x = (ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) / √(σ² + eps),
    ∂L/∂γ = Σ g·x̂, ∂L/∂β = Σ g. In evaluation mode the layer is affine: ∂L/∂x = ĝ / √(σ²_run + eps).
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, dtype: Any = np.float64) -> None:
        if int(num_features) < 1:
            raise ValueError(f"BatchNorm1d(): num_features must be ≥ 1, got {num_features}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"BatchNorm1d(): momentum must be in [0, 1], got {momentum}")
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), float(momentum)
        self.dtype = _float_dtype(dtype)
        self.gamma = Parameter(np.ones(self.num_features, dtype=self.dtype), "gamma")
        self.beta = Parameter(np.zeros(self.num_features, dtype=self.dtype), "beta")
        self.running_mean = np.zeros(self.num_features, dtype=self.dtype)
        self.running_var = np.ones(self.num_features, dtype=self.dtype)

    def parameters(self) -> list[Parameter]:
        return [self.gamma, self.beta]

    def config(self) -> dict[str, Any]:
        return {"num_features": self.num_features, "eps": self.eps, "momentum": self.momentum}

    def forward(self, x: np.ndarray) -> np.ndarray:
        if self.training:
            n = x.shape[0]
            if n < 2:
                raise ValueError("BatchNorm1d: a training batch needs at least 2 samples")
            mean = x.mean(axis=0)
            xc = x - mean
            var = np.einsum("ij,ij->j", xc, xc) / n
            m = self.momentum
            self.running_mean *= 1 - m
            self.running_mean += m * mean
            self.running_var *= 1 - m
            self.running_var += (m * n / (n - 1)) * var
        else:
            xc = x - self.running_mean
            var = self.running_var
        self._inv_std = 1 / np.sqrt(var + self.eps)
        self._xhat = xc
        self._xhat *= self._inv_std
        y = self._xhat * self.gamma.value
        y += self.beta.value
        return y

    def backward(self, g: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        xhat = self._xhat
        np.einsum("ij,ij->j", g, xhat, out=self.gamma.grad)
        np.sum(g, axis=0, out=self.beta.grad)
        if not input_grad:
            return None
        scale = self.gamma.value * self._inv_std
        if not self.training:
            return g * scale
        n = g.shape[0]
        dx = xhat * (self.gamma.grad / n)
        dx += self.beta.grad / n
        np.subtract(g, dx, out=dx)
        dx *= scale
        return dx


class Dropout(Layer):
    """Inverted dropout: in training, each unit is zeroed with probability p and the rest scaled by 1/(1 − p)."""

    def __init__(self, p: float = 0.5, seed: int | np.random.Generator | None = None) -> None:
        if not 0 <= p < 1:
            raise ValueError(f"Dropout(): p must be in [0, 1), got {p}")
        self.p = float(p)
        self.rng = np.random.default_rng(seed)

    def config(self) -> dict[str, Any]:
        return {"p": self.p}

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not self.training or self.p == 0:
            self._mask = None
            return x
        self._mask = (self.rng.random(x.shape, dtype=x.dtype) >= self.p) / x.dtype.type(1 - self.p)
        return x * self._mask

    def backward(self, g: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        if not input_grad:
            return None
        return g if self._mask is None else g * self._mask


def _float_dtype(dtype: Any) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def __getattr__(name: str) -> Any:
    # Where these lived before Sequential got its own module and the names their registry: old imports still work.
    if name == "Sequential":
        from .sequential import Sequential

        return Sequential
    if name == "ACTIVATIONS":
        from .registry import ACTIVATIONS

        return ACTIVATIONS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
