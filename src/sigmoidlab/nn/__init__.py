"""A small neural-network engine in NumPy, with every backward pass written out.

>>> import numpy as np
>>> from sigmoidlab import nn
>>> model = nn.mlp(2, hidden=(4,), activation="sigmoid", dtype=np.float64, seed=0)
>>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 16, dtype=float); y = np.logical_xor(X[:, 0], X[:, 1])
>>> history = nn.fit(model, X, y, optimizer=nn.Adam(model.parameters(), lr=0.05), epochs=200, progress=False)
>>> (model.predict_proba(X[:4]) > 0.5).astype(int).tolist()
[0, 1, 1, 0]

Layers (``forward``/``backward`` side by side, the contract in :class:`Layer`): :class:`Dense`,
:class:`BatchNorm1d`, :class:`Dropout`, :class:`Sequential`, and the :class:`Activation` layers :class:`Sigmoid`,
:class:`Tanh`, :class:`ReLU`, :class:`LeakyReLU`, :class:`Identity`. Losses (:class:`Loss`):
:class:`BCEWithLogits`, :class:`MSE`. Optimisers (:class:`Optimizer`, with L2 ``weight_decay`` and ``l1``
penalties): :class:`SGD`, :class:`Adam`, :class:`RMSProp`.

The vocabulary (:mod:`~sigmoidlab.nn.registry`): :data:`ACTIVATIONS`, :data:`INITIALIZERS`, :data:`OPTIMIZERS`,
:data:`LOSSES` with their aliases, and the factories :func:`make_activation`, :func:`get_initializer`,
:func:`make_optimizer`, :func:`make_loss`. Data: :class:`Standardizer`. Looking at a model without changing it:
:func:`evaluating`, :func:`observing` (:meth:`Sequential.stats`, :meth:`Sequential.outputs`).

Builders and training: :func:`mlp`, :func:`fit`, :func:`train_step`, :class:`GuardedStep`, :class:`Callback`,
:class:`History`, :class:`DivergenceError`, :class:`TrainingWarning`. Checks and files: :func:`gradcheck`,
:func:`save`, :func:`load`. Initialisers: :mod:`sigmoidlab.nn.init`.
"""

from . import init
from .build import mlp
from .gradcheck import gradcheck
from .layers import (
    Activation,
    BatchNorm1d,
    Dense,
    Dropout,
    Identity,
    Layer,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Tanh,
)
from .losses import MSE, BCEWithLogits, Loss
from .optim import SGD, Adam, Optimizer, RMSProp
from .parameter import Parameter
from .registry import (
    ACTIVATIONS,
    INITIALIZERS,
    LOSSES,
    OPTIMIZERS,
    Registry,
    get_initializer,
    make_activation,
    make_loss,
    make_optimizer,
)
from .sequential import LayerOutputs, Sequential, evaluating, observing
from .serialize import load, save
from .standardize import Standardizer
from .train import Callback, DivergenceError, GuardedStep, History, TrainingWarning, fit, train_step

__all__ = [
    "ACTIVATIONS",
    "INITIALIZERS",
    "LOSSES",
    "MSE",
    "OPTIMIZERS",
    "SGD",
    "Activation",
    "Adam",
    "BCEWithLogits",
    "BatchNorm1d",
    "Callback",
    "Dense",
    "DivergenceError",
    "Dropout",
    "GuardedStep",
    "History",
    "Identity",
    "Layer",
    "LayerOutputs",
    "LeakyReLU",
    "Loss",
    "Optimizer",
    "Parameter",
    "RMSProp",
    "ReLU",
    "Registry",
    "Sequential",
    "Sigmoid",
    "Standardizer",
    "Tanh",
    "TrainingWarning",
    "evaluating",
    "fit",
    "get_initializer",
    "gradcheck",
    "init",
    "load",
    "make_activation",
    "make_loss",
    "make_optimizer",
    "mlp",
    "observing",
    "save",
    "train_step",
]
