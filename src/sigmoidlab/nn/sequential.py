r"""``Sequential``, the model type, with its observation hooks; and the two ways of looking at a model without
changing it: :func:`evaluating` (evaluation or training mode, batch-norm statistics untouched) and
:func:`observing` (per-layer summaries, and optionally the activations themselves, of the passes in a block).

>>> import numpy as np
>>> from sigmoidlab import nn
>>> model = nn.mlp(2, hidden=(3,), activation="tanh", batchnorm=True, dtype=np.float64, seed=0)
>>> X = np.random.default_rng(0).standard_normal((8, 2))
>>> before = model.state_arrays()["1.running_mean"].copy()
>>> with nn.evaluating(model, mode="train"), nn.observing(model, outputs=True):
...     _ = model.forward(X)
...     [(o.activation, o.preact.shape, o.act is None) for o in model.outputs()]
[('tanh', (8, 3), False), ('output', (8, 1), True)]
>>> bool(np.array_equal(model.state_arrays()["1.running_mean"], before))
True
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..functions import VANISHING_THRESHOLD
from .layers import Activation, BatchNorm1d, Dense, Dropout, Layer
from .parameter import Parameter, pack


@dataclass(frozen=True)
class LayerOutputs:
    """What an observed forward kept of one Dense block (``observe(..., outputs=True)``).

    ``preact`` is z, the activation's input (after batch norm when there is one; the Dense output for the last
    layer), shape (batch, units); ``act`` is y = f(z), None for the output layer, and ``function`` the activation
    layer that computed it (its ``derivative``, ``vanishing``, ``max_slope``...); ``vanishing`` is the mask of the
    (sample, unit) pairs in the vanishing region at the observation's threshold, the one ``stats()``'s
    ``saturation`` counts, None for the output layer. The arrays are the ones the forward computed, not copies:
    read them, do not modify them.
    """

    layer: int  # index among the Dense layers, input side first
    activation: str  # the activation's registry name, "output" for the last Dense
    preact: np.ndarray
    act: np.ndarray | None
    vanishing: np.ndarray | None
    function: Activation | None

    @property
    def unit_saturation(self) -> np.ndarray | None:
        """Each unit's fraction of the batch in the vanishing region (``saturation`` per unit)."""
        return None if self.vanishing is None else np.count_nonzero(self.vanishing, axis=0) / len(self.vanishing)


class Sequential(Layer):
    """A chain of layers; the model type of this package (``nn.mlp`` builds one).

    ``forward`` casts its input to the model's dtype once, then runs the layers; ``backward`` runs them in
    reverse and returns ∂L/∂input. Parameters are named ``"{layer index}.{name}"`` (``"0.W"``, ``"0.b"``, ...)
    and packed into one flat buffer when the model is built (so an optimiser updates them all at once, and a
    reference to a parameter's array stays valid from then on).

    Observation (:meth:`observe`, :meth:`stats`, :meth:`outputs`): when on, each forward records cheap
    summaries of the input and output of every activation layer, and optionally keeps those arrays; when off
    (the default) the only cost is one boolean test per call.
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
        # Loose parameters move into the model's buffer now, once; layers taken from another model stay where
        # they are (moving them would detach that model's optimiser).
        if params and not any(p.packed for p in params):
            pack(params)
        self._observing = False
        self._keep_outputs = False
        self.threshold = VANISHING_THRESHOLD
        self._records: dict[int, dict[str, float]] = {}
        self._outputs: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
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

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Every array a forward pass in evaluation mode reads, by name: the parameters (``"0.W"``, ...) and the
        batch-norm running statistics (``"1.running_mean"``, ...). Live references, not copies: what
        :func:`~sigmoidlab.nn.save` writes, and what to copy to keep a model's best state."""
        arrays = {}
        for i, layer in enumerate(self.layers):
            for p in layer.parameters():
                arrays[f"{i}.{p.name.rsplit('.', 1)[-1]}"] = p.value
        for i, layer in enumerate(self.layers):
            if isinstance(layer, BatchNorm1d):
                arrays[f"{i}.running_mean"], arrays[f"{i}.running_var"] = layer.running_mean, layer.running_var
        return arrays

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
        """Backpropagate g = ∂L/∂output; ``input_grad=False`` skips ∂L/∂input in the first layer (training does
        not need it, and for a wide first Dense layer it is a third of that layer's backward) and returns None."""
        first, *rest = self.layers
        for layer in reversed(rest):
            g = layer.backward(g)
        return first.backward(g, input_grad=input_grad)

    def predict_logits(self, X: np.ndarray, batch_size: int = 8192) -> np.ndarray:
        """The outputs (logits) for X, shape (n, outputs), in evaluation mode and in batches, inside
        :func:`evaluating`: training mode, observations and batch-norm statistics are left as they were."""
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"predict(): X must be 2-D (n_samples, n_features), got shape {X.shape}")
        if X.shape[0] == 0:
            dense = self.dense_layers()
            return np.empty((0, dense[-1].out_features if dense else X.shape[1]), dtype=self.dtype)
        with evaluating(self):
            return np.concatenate([self.forward(X[i : i + batch_size]) for i in range(0, X.shape[0], batch_size)])

    def predict_proba(self, X: np.ndarray, batch_size: int = 8192) -> np.ndarray:
        """σ(logits) of shape (n,), computed as :meth:`predict_logits` (evaluation mode, nothing recorded)."""
        from ..functions import sigmoid

        return sigmoid(self.predict_logits(X, batch_size).reshape(-1))

    # --- observation ---------------------------------------------------------------------------------------

    def observe(self, on: bool = True, threshold: float = VANISHING_THRESHOLD, outputs: bool = False) -> Sequential:
        """Turn recording of per-layer summaries on or off; ``threshold`` defines the vanishing region.

        A sigmoid unit is counted as vanishing when σ'(z) < threshold (tanh: tanh'(z) < 4·threshold, the same
        point on the curve; ReLU: z ≤ 0; see each activation's ``vanishing``). With ``outputs=True`` each
        observed forward also keeps the pre-activations and activations themselves (:meth:`outputs`). Turning
        observation off drops what was recorded.
        """
        if not 0 < threshold <= 0.25:
            raise ValueError(f"observe(): threshold must be in (0, 0.25], got {threshold}")
        self._observing, self.threshold = bool(on), float(threshold)
        self._keep_outputs = bool(on and outputs)
        if not on:
            self._records, self._outputs = {}, {}
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
                if self._keep_outputs:
                    self._outputs[k] = (x, None, None)
            if i in act_at:
                k = act_at[i]
                vanishing = layer.vanishing(pre[k], x, self.threshold)
                self._records[k].update(
                    act_mean=float(x.mean()),
                    act_std=float(x.std()),
                    saturation=np.count_nonzero(vanishing) / vanishing.size,
                )
                if self._keep_outputs:
                    self._outputs[k] = (pre[k], x, vanishing)
        return x

    def _activation_name(self, k: int, act: int | None) -> str:
        if act is not None:
            return self.layers[act].kind
        return "output" if k == len(self._watch) - 1 else "identity"

    def outputs(self) -> list[LayerOutputs]:
        """Per Dense layer, input side first, the arrays the last observed forward kept (``observe(outputs=True)``);
        empty when none were kept."""
        return [
            LayerOutputs(k, self._activation_name(k, act), *self._outputs[k], None if act is None else self.layers[act])
            for k, _, act in self._watch
            if k in self._outputs
        ]

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
            rec = self._records.get(k, {})
            out.append(
                {
                    "layer": k,
                    "activation": self._activation_name(k, act),
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


def _layers_of(model: Layer) -> list[Layer]:
    """``model`` and every layer inside it, nested Sequentials included."""
    if not isinstance(model, Sequential):
        return [model]
    return [model, *(inner for layer in model.layers for inner in _layers_of(layer))]


class evaluating:  # lower case: used like a function, ``with nn.evaluating(model):``
    """Run forward passes in the block without changing the model; the one way to look at a model.

    ``mode="eval"``: evaluation mode (batch norm on its running statistics, dropout off), the prediction
    setting. ``mode="train"``: training mode (batch norm on the batch's own statistics, dropout on), what the
    optimiser sees; every batch norm's running statistics and every dropout layer's random state are restored
    on exit, so looking leaves no trace. In both, recording of observations is paused (what the last observed
    pass recorded is kept; turn it back on inside with :func:`observing`) and every layer's training flag is
    restored. The layers' caches for ``backward`` are those of the last forward, as always. (A class rather
    than a generator: entering and leaving costs a few microseconds, paid by every ``predict_proba``.)
    """

    __slots__ = ("_modes", "_observing", "_rngs", "_saved", "mode", "model")

    def __init__(self, model: Layer, mode: str = "eval") -> None:
        if mode not in ("eval", "train"):
            raise ValueError(f"evaluating(): mode must be 'eval' or 'train', got {mode!r}")
        self.model, self.mode = model, mode

    def __enter__(self) -> Layer:
        model, train = self.model, self.mode == "train"
        layers = _layers_of(model)
        self._modes = [(layer, layer.training) for layer in layers]
        self._saved = [
            (a, a.copy())
            for layer in layers
            if train and isinstance(layer, BatchNorm1d)
            for a in (layer.running_mean, layer.running_var)
        ]
        self._rngs = [(layer.rng, layer.rng.bit_generator.state) for layer in layers if isinstance(layer, Dropout)]
        self._observing = getattr(model, "_observing", False)
        for layer, _ in self._modes:
            layer.training = train
        if self._observing:
            model._observing = False
        return model

    def __exit__(self, *exc: object) -> None:
        for layer, training in self._modes:
            layer.training = training
        if self._observing:
            self.model._observing = True
        for target, copy in self._saved:
            np.copyto(target, copy)
        for rng, state in self._rngs:
            rng.bit_generator.state = state


@contextlib.contextmanager
def observing(model: Sequential, threshold: float = VANISHING_THRESHOLD, outputs: bool = False) -> Iterator[Sequential]:
    """Observation on for the block (:meth:`Sequential.observe`); read ``model.stats()`` or ``model.outputs()``
    inside it. On exit the previous setting comes back (off: what was recorded is dropped)."""
    before = (model._observing, model.threshold, model._keep_outputs)
    model.observe(True, threshold=threshold, outputs=outputs)
    try:
        yield model
    finally:
        if before[0]:
            model._observing, model.threshold, model._keep_outputs = before
        else:
            model.observe(False)
