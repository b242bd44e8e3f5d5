r"""Input feature transforms: TensorFlow Playground's feature crosses of a 2-D input, engine side.

A :class:`FeatureMap` turns points (x₁, x₂) into the columns a network sees, chosen by name from
:data:`FEATURES`: the coordinates themselves, their product and squares, and their sines and cosines,

    x, y, x·y, x², y², sin x, cos x, sin y, cos y      (x = x₁, y = x₂)

so that feature engineering can stand in for hidden layers: with x² and y² alone a single output unit
(z = a·x² + b·y² + c) draws an ellipse, which is what the circles data set needs. The map has no parameters and
nothing flows back through it: it is applied to the data once, and to the boundary grid once per configuration.

>>> import numpy as np
>>> from sigmoidlab.nn.features import FeatureMap
>>> fm = FeatureMap(["x_squared", "x_times_y"])
>>> fm(np.array([[2.0, 3.0]])).tolist()
[[4.0, 6.0]]
>>> fm.labels
['x₁²', 'x₁x₂']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

_Fn = Callable[[np.ndarray, np.ndarray], np.ndarray]

#: name → (label, f(x, y)), in TensorFlow Playground's order.
FEATURES: dict[str, tuple[str, _Fn]] = {
    "x": ("x₁", lambda x, y: x),
    "y": ("x₂", lambda x, y: y),
    "x_times_y": ("x₁x₂", lambda x, y: x * y),
    "x_squared": ("x₁²", lambda x, y: x * x),
    "y_squared": ("x₂²", lambda x, y: y * y),
    "sin_x": ("sin x₁", lambda x, y: np.sin(x)),
    "cos_x": ("cos x₁", lambda x, y: np.cos(x)),
    "sin_y": ("sin x₂", lambda x, y: np.sin(y)),
    "cos_y": ("cos x₂", lambda x, y: np.cos(y)),
}
#: TensorFlow Playground's URL key for each feature (its ``x``, ``xTimesY``, ``sinX``, ...).
TF_PLAYGROUND_NAMES = {
    "x": "x", "y": "y", "x_times_y": "xTimesY", "x_squared": "xSquared", "y_squared": "ySquared",
    "sin_x": "sinX", "cos_x": "cosX", "sin_y": "sinY", "cos_y": "cosY",
}  # fmt: skip


class FeatureMap:
    """The columns ``names`` (keys of :data:`FEATURES`, at least one, no repeats) of 2-D points.

    ``fm(X)`` maps ``X`` of shape (n, 2) to an array of shape (n, len(names)) in ``X``'s float dtype.
    """

    def __init__(self, names: Sequence[str]) -> None:
        names = list(names)
        if not names:
            raise ValueError("FeatureMap(): at least one feature is needed")
        for name in names:
            if name not in FEATURES:
                raise ValueError(f"FeatureMap(): unknown feature {name!r}; expected one of {', '.join(FEATURES)}")
        if len(set(names)) != len(names):
            raise ValueError(f"FeatureMap(): a feature is listed twice in {names}")
        self.names = names
        self.labels = [FEATURES[name][0] for name in names]

    @property
    def n_outputs(self) -> int:
        return len(self.names)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != 2:
            raise ValueError(f"FeatureMap: expected points of shape (n, 2), got {X.shape}")
        if not np.issubdtype(X.dtype, np.floating):
            X = X.astype(np.float64)
        x, y = X[:, 0], X[:, 1]
        out = np.empty((len(X), len(self.names)), dtype=X.dtype)
        for j, name in enumerate(self.names):
            out[:, j] = FEATURES[name][1](x, y)
        return out

    def config(self) -> dict[str, list[str]]:
        return {"names": list(self.names)}

    def __repr__(self) -> str:
        return f"FeatureMap({self.names!r})"
