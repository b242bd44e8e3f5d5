r"""Layers with an explicit backward pass: each ``backward`` sits next to its ``forward`` and is the chain rule.

A layer's ``forward(x)`` saves what its backward needs; ``backward(g)`` takes g = ∂L/∂output, writes
∂L/∂parameter into each ``Parameter.grad`` (overwriting, never accumulating) and returns ∂L/∂input. Inputs are
2-D arrays (batch, features) in the layer's dtype (float32 or float64).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..functions import _reference as _ref
from ..functions import sigmoid
from . import init as _init
from .parameter import Parameter, pack


class Layer:
    """Base class: no parameters, training mode on. Subclasses define ``forward`` and ``backward``."""

    training: bool = True
    kind: str = ""  # the activation name for activation layers ("sigmoid", ...), "" otherwise

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
        self.init = init if isinstance(init, str) else getattr(init, "__name__", "custom")
        rng = np.random.default_rng(seed)
        self.W = Parameter(_init.get(init)(self.in_features, self.out_features, rng, self.dtype), "W")
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


class Sigmoid(Layer):
    r"""y = σ(x) = 1/(1 + e^(−x)); backward g·σ'(x) with σ'(x) computed from the saved output as y·(1 − y).

    Reusing y makes the derivative one subtraction and one multiplication, no exponential: the efficiency
    argument of backpropagation. The price is the tail. Once y rounds to 1, y·(1 − y) is exactly 0 although
    σ'(x) = e^(−x)/(1+e^(−x))² is still far above the underflow threshold. The forward is the
    exact ``sigmoidlab.sigmoid`` (the compiled ufunc, as fast as one NumPy call), so y is correctly rounded and
    that happens for x ≳ 17.3 in float32 (true σ'(17.3) ≈ 3.1e−8) and x ≳ 37.4 in float64 (true σ'(37.4)
    ≈ 5.7e−17). Before
    that, 1 − y takes only a few values (multiples of the spacing of floats below 1), so the relative error
    grows like ε·e^x.
    For x → −∞ the product stays accurate because y is tiny and
    1 − y ≈ 1. A unit pushed that far is dead to gradient descent either way, which is why
    :meth:`Sequential.stats` counts units with σ' below a threshold. ``sigmoidlab.sigmoid_grad(x)`` is the
    stable alternative when x is kept.
    """

    kind = "sigmoid"

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._y = sigmoid(x)
        return self._y

    def backward(self, g: np.ndarray) -> np.ndarray:
        d = _ref.sigmoid_grad_from_output(self._y)
        d *= g
        return d

    def saturation(self, z: np.ndarray, y: np.ndarray, threshold: float) -> float:
        return float(np.count_nonzero(_ref.sigmoid_grad_from_output(y) < threshold)) / y.size


class Tanh(Layer):
    """y = tanh(x); backward g·(1 − y²). tanh' = 4σ'(2x), so its vanishing threshold is 4× the sigmoid's."""

    kind = "tanh"

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._y = np.tanh(x)
        return self._y

    def backward(self, g: np.ndarray) -> np.ndarray:
        d = self._y * self._y
        np.subtract(1, d, out=d)
        d *= g
        return d

    def saturation(self, z: np.ndarray, y: np.ndarray, threshold: float) -> float:
        return float(np.count_nonzero(1 - y * y < 4 * threshold)) / y.size


class ReLU(Layer):
    """y = max(x, 0); backward g·[x > 0] (the subgradient 0 at x = 0, as in PyTorch)."""

    kind = "relu"

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._x = x
        return np.maximum(x, 0)

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g * (self._x > 0)

    def saturation(self, z: np.ndarray, y: np.ndarray, threshold: float) -> float:
        return float(np.count_nonzero(z <= 0)) / z.size


class LeakyReLU(Layer):
    """y = x for x > 0, a·x otherwise; backward g·(1 or a)."""

    kind = "leaky_relu"

    def __init__(self, negative_slope: float = 0.01) -> None:
        self.negative_slope = float(negative_slope)

    def config(self) -> dict[str, Any]:
        return {"negative_slope": self.negative_slope}

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._slope = np.where(x > 0, x.dtype.type(1), x.dtype.type(self.negative_slope))
        return x * self._slope

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g * self._slope

    saturation = ReLU.saturation


class Identity(Layer):
    """y = x; backward g. A linear "activation", for comparison."""

    kind = "identity"

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g

    def saturation(self, z: np.ndarray, y: np.ndarray, threshold: float) -> float:
        return 0.0


class BatchNorm1d(Layer):
    r"""Batch normalisation (Ioffe & Szegedy 2015): y = γ·x̂ + β, x̂ = (x − μ)/√(σ² + eps).

    Training mode uses the batch mean μ and biased variance σ², and updates the running statistics
    (running ← (1 − momentum)·running + momentum·batch, with the unbiased variance, as PyTorch does);
    evaluation mode uses the running statistics.

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

    def backward(self, g: np.ndarray) -> np.ndarray:
        xhat = self._xhat
        np.einsum("ij,ij->j", g, xhat, out=self.gamma.grad)
        np.sum(g, axis=0, out=self.beta.grad)
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

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g if self._mask is None else g * self._mask


ACTIVATIONS: dict[str, type[Layer]] = {
    "sigmoid": Sigmoid,
    "logistic": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "identity": Identity,
}


class Sequential(Layer):
    """A chain of layers; the model type of this package (``nn.mlp`` builds one).

    ``forward`` casts its input to the model's dtype once, then runs the layers; ``backward`` runs them in
    reverse and returns ∂L/∂input. Parameters are named ``"{layer index}.{name}"`` (``"0.W"``, ``"0.b"``, ...)
    and packed into one flat buffer so an optimiser updates them all at once.

    Observation (:meth:`observe`, :meth:`stats`): when on, each forward records cheap summaries of the input
    and output of every activation layer; when off (the default) the only cost is one boolean test per call.
    """

    def __init__(self, layers: list[Layer]) -> None:
        self.layers = list(layers)
        if not self.layers:
            raise ValueError("Sequential(): no layers")
        params = []
        for i, layer in enumerate(self.layers):
            for p in layer.parameters():
                p.name = f"{i}.{p.name.rsplit('.', 1)[-1]}"
                params.append(p)
        self._params = params
        dtypes = {p.dtype for p in params}
        if len(dtypes) > 1:
            raise ValueError(f"Sequential(): layers have different dtypes {sorted(map(str, dtypes))}")
        self.dtype = dtypes.pop() if dtypes else np.dtype(np.float64)
        if params:
            pack(params)
        self._observing = False
        self.threshold = 0.01
        self._records: dict[int, dict[str, float]] = {}
        self._watch = self._observation_points()

    def _observation_points(self) -> list[tuple[int, int, int | None]]:
        """For each Dense k: (k, index of the layer whose output is the pre-activation, activation index)."""
        dense = [i for i, layer in enumerate(self.layers) if isinstance(layer, Dense)]
        points = []
        for k, start in enumerate(dense):
            stop = dense[k + 1] if k + 1 < len(dense) else len(self.layers)
            act = next((i for i in range(start + 1, stop) if self.layers[i].kind), None)
            points.append((k, start if act is None else act - 1, act))
        return points

    def parameters(self) -> list[Parameter]:
        return list(self._params)

    def dense_layers(self) -> list[Dense]:
        """The Dense layers, input side first."""
        return [layer for layer in self.layers if isinstance(layer, Dense)]

    def train(self, mode: bool = True) -> Sequential:
        self.training = bool(mode)
        for layer in self.layers:
            layer.train(mode)
        return self

    def config(self) -> dict[str, Any]:
        return {"layers": [{"type": type(layer).__name__, **layer.config()} for layer in self.layers]}

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"Sequential([\n  {inner}\n], dtype={self.dtype})"

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype != self.dtype:
            x = x.astype(self.dtype)
        if self._observing:
            return self._forward_observed(x)
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, g: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """Backpropagate g = ∂L/∂output; ``input_grad=False`` skips ∂L/∂input when the first layer is Dense
        (training does not need it, and for a wide first layer it is a third of that layer's backward)."""
        first, *rest = self.layers
        for layer in reversed(rest):
            g = layer.backward(g)
        if not input_grad and isinstance(first, Dense):
            return first.backward(g, input_grad=False)
        return first.backward(g)

    def predict_proba(self, X: np.ndarray, batch_size: int = 8192) -> np.ndarray:
        """σ(logits) of shape (n,), computed in evaluation mode, in batches, without recording observations."""
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"predict_proba(): X must be 2-D (n_samples, n_features), got shape {X.shape}")
        was_training, was_observing = self.training, self._observing
        self.eval()
        self._observing = False
        try:
            logits = [self.forward(X[i : i + batch_size]) for i in range(0, X.shape[0], batch_size)]
        finally:
            self.train(was_training)
            self._observing = was_observing
        z = np.concatenate(logits).reshape(-1) if logits else np.empty(0, dtype=self.dtype)
        from .. import functions

        return functions.sigmoid(z)

    # --- observation ---------------------------------------------------------------------------------------

    def observe(self, on: bool = True, threshold: float = 0.01) -> Sequential:
        """Turn recording of per-layer summaries on or off; ``threshold`` defines the vanishing region.

        A sigmoid unit is counted as vanishing when σ'(z) < threshold (tanh: tanh'(z) < 4·threshold, the same
        point on the curve; ReLU: z ≤ 0). Turning it off drops what was recorded.
        """
        if not 0 < threshold <= 0.25:
            raise ValueError(f"observe(): threshold must be in (0, 0.25], got {threshold}")
        self._observing, self.threshold = bool(on), float(threshold)
        if not on:
            self._records = {}
        return self

    def _forward_observed(self, x: np.ndarray) -> np.ndarray:
        pre_at = {pre: k for k, pre, _ in self._watch}
        act_at = {act: k for k, _, act in self._watch if act is not None}
        pre: dict[int, np.ndarray] = {}
        for i, layer in enumerate(self.layers):
            x = layer.forward(x)
            if i in pre_at:
                k = pre_at[i]
                pre[k] = x
                self._records[k] = {"preact_mean": float(x.mean()), "preact_std": float(x.std())}
            if i in act_at:
                k = act_at[i]
                self._records[k].update(
                    act_mean=float(x.mean()),
                    act_std=float(x.std()),
                    saturation=layer.saturation(pre[k], x, self.threshold),
                )
        return x

    def stats(self) -> list[dict[str, Any]]:
        """Per Dense layer, input side first: its norms and the summaries recorded by the last forward.

        Keys: ``layer``, ``activation`` (the kind of the activation layer that follows, ``"output"`` for the
        last Dense), ``units``, ``weight_norm``, ``weight_grad_norm``, ``bias_grad_norm`` (Frobenius norms,
        gradients as left by the last backward), ``preact_mean``, ``preact_std``, ``act_mean``, ``act_std``,
        ``saturation`` (fraction of unit·sample pairs in the vanishing region). Fields that were not recorded
        (observation off, or no activation) are NaN.
        """
        nan = math.nan
        dense = self.dense_layers()
        out = []
        for k, _, act in self._watch:
            layer = dense[k]
            last = k == len(dense) - 1 and act is None
            rec = self._records.get(k, {})
            out.append(
                {
                    "layer": k,
                    "activation": "output" if last else (self.layers[act].kind if act is not None else "identity"),
                    "units": layer.out_features,
                    "weight_norm": float(np.linalg.norm(layer.W.value)),
                    "weight_grad_norm": float(np.linalg.norm(layer.W.grad)),
                    "bias_grad_norm": float(np.linalg.norm(layer.b.grad)),
                    "preact_mean": rec.get("preact_mean", nan),
                    "preact_std": rec.get("preact_std", nan),
                    "act_mean": rec.get("act_mean", nan),
                    "act_std": rec.get("act_std", nan),
                    "saturation": rec.get("saturation", nan),
                }
            )
        return out


def _float_dtype(dtype: Any) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    return dtype
