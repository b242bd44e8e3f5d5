"""``nn.mlp``: the multilayer perceptron every other part of sigmoidlab trains."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import init as _init
from .layers import BatchNorm1d, Dense, Layer, _float_dtype
from .registry import ACTIVATIONS
from .sequential import Sequential


def mlp(
    n_inputs: int,
    hidden: Sequence[int] = (16, 16),
    activation: str | Sequence[str] = "sigmoid",
    batchnorm: bool = False,
    init: str | _init.Initializer = "standard",
    dtype: Any = np.float32,
    seed: int | np.random.Generator | None = 0,
) -> Sequential:
    """A binary classifier: ``Sequential([Dense, (BatchNorm1d), Activation] * len(hidden) + [Dense(→1)])``.

    Parameters
    ----------
    n_inputs : int
        Number of input features.
    hidden : sequence of int
        Units per hidden layer (empty for logistic regression: a single Dense(n_inputs → 1)).
    activation : str or sequence of str
        A name in :data:`~sigmoidlab.nn.ACTIVATIONS`: "sigmoid" (alias "logistic"), "tanh", "relu",
        "leaky_relu", "identity" (alias "linear"), for all hidden layers or one per layer.
    batchnorm : bool
        Insert ``BatchNorm1d`` between each hidden Dense and its activation.
    init : str or callable
        Weight initialiser name or alias (:data:`~sigmoidlab.nn.INITIALIZERS`), ``"normal(STD)"``, or a callable.
    dtype : float32 or float64
        Dtype of every parameter and computation.
    seed : int, Generator or None
        Seeds the weights: the same seed gives the same network.

    Returns
    -------
    Sequential
        The model; its output is the logit, shape (n, 1).
    """
    if int(n_inputs) < 1:
        raise ValueError(f"mlp(): n_inputs must be ≥ 1, got {n_inputs}")
    hidden = [int(h) for h in hidden]
    if any(h < 1 for h in hidden):
        raise ValueError(f"mlp(): hidden layer sizes must be ≥ 1, got {hidden}")
    activations = [activation] * len(hidden) if isinstance(activation, str) else list(activation)
    if len(activations) != len(hidden):
        raise ValueError(f"mlp(): {len(activations)} activations given for {len(hidden)} hidden layers")
    for a in activations:
        if a not in ACTIVATIONS:
            raise ValueError(f"mlp(): {ACTIVATIONS.unknown(a)}")
    _init.get(init)  # validate before building
    dtype = _float_dtype(dtype)
    rng = np.random.default_rng(seed)
    layers: list[Layer] = []
    sizes = [int(n_inputs), *hidden]
    for n_in, n_out, act in zip(sizes[:-1], sizes[1:], activations, strict=True):
        layers.append(Dense(n_in, n_out, init=init, dtype=dtype, seed=rng))
        if batchnorm:
            layers.append(BatchNorm1d(n_out, dtype=dtype))
        layers.append(ACTIVATIONS[act]())
    layers.append(Dense(sizes[-1], 1, init=init, dtype=dtype, seed=rng))
    return Sequential(layers)
