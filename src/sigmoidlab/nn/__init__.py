"""A small neural-network engine in NumPy, with every backward pass written out.

>>> import numpy as np
>>> from sigmoidlab import nn
>>> model = nn.mlp(2, hidden=(4,), activation="sigmoid", dtype=np.float64, seed=0)
>>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 16, dtype=float); y = np.logical_xor(X[:, 0], X[:, 1])
>>> history = nn.fit(model, X, y, optimizer=nn.Adam(model.parameters(), lr=0.05), epochs=200, progress=False)
>>> (model.predict_proba(X[:4]) > 0.5).astype(int).tolist()
[0, 1, 1, 0]

Layers (``forward``/``backward`` side by side): :class:`Dense`, :class:`Sigmoid`, :class:`Tanh`, :class:`ReLU`,
:class:`LeakyReLU`, :class:`Identity`, :class:`BatchNorm1d`, :class:`Dropout`, :class:`Sequential`. Losses:
:class:`BCEWithLogits`, :class:`MSE`. Optimisers: :class:`SGD`, :class:`Adam`, :class:`RMSProp`. Builders and
training: :func:`mlp`, :func:`fit`, :func:`train_step`, :class:`GuardedStep`, :class:`Callback`, :class:`History`,
:class:`DivergenceError`, :class:`TrainingWarning`. Checks and files: :func:`gradcheck`, :func:`save`,
:func:`load`. Initialisers: :mod:`sigmoidlab.nn.init`.
"""

from . import init
from .build import mlp
from .gradcheck import gradcheck
from .layers import (
    ACTIVATIONS,
    BatchNorm1d,
    Dense,
    Dropout,
    Identity,
    Layer,
    LeakyReLU,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
)
from .losses import MSE, BCEWithLogits
from .optim import SGD, Adam, Optimizer, RMSProp
from .parameter import Parameter
from .serialize import load, save
from .train import Callback, DivergenceError, GuardedStep, History, TrainingWarning, fit, train_step

__all__ = [
    "ACTIVATIONS",
    "MSE",
    "SGD",
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
    "LeakyReLU",
    "Optimizer",
    "Parameter",
    "RMSProp",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "TrainingWarning",
    "fit",
    "gradcheck",
    "init",
    "load",
    "mlp",
    "save",
    "train_step",
]
