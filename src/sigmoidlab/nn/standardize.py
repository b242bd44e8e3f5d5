r"""``Standardizer``: x′ = (x − mean)/scale per feature, with mean and scale measured on the training set.

One standardiser for every front end, equal bit for bit to ``sklearn.preprocessing.StandardScaler`` (float64
input): the mean is Σx/n, the variance the corrected two-pass σ² = (Σ(x − x̄)² − (Σ(x − x̄))²/n)/n (the second
term removes most of the rounding error of x̄), scale = σ; a constant column, one whose σ² is within rounding of
0 (σ² ≤ n·ε·σ² + (n·x̄·ε)², ε = 2⁻⁵²), gets scale 1: it becomes 0 (up to the rounding of x̄), where dividing by
σ would give NaN (σ = 0) or rounding noise blown up to ±1 (σ ≈ 1e−16 for a column of 3.3s).

>>> import numpy as np
>>> from sigmoidlab import nn
>>> s = nn.Standardizer.fit(np.array([[1.0, 3.3], [3.0, 3.3]]))
>>> s.mean.tolist(), s.scale.tolist()
([2.0, 3.3], [1.0, 1.0])
>>> s.transform(np.array([[4.0, 3.3]])).tolist()
[[2.0, 0.0]]
>>> nn.Standardizer.from_json(s.to_json(), n_features=2) == s
True
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

_EPS = np.finfo(np.float64).eps


class Standardizer:
    """Per-feature ``mean`` and ``scale`` (1-D float64 arrays, scale > 0); ``transform(X) = (X − mean)/scale``.

    Build it with :meth:`fit` on the training features, or :meth:`from_json` from what :meth:`to_json` stored
    (``{"mean": [...], "scale": [...]}``, the layout of the ``standardize`` field of a trained model's metadata).
    """

    __slots__ = ("mean", "scale")

    def __init__(self, mean: Any, scale: Any) -> None:
        mean, scale = np.array(mean, dtype=np.float64), np.array(scale, dtype=np.float64)
        if mean.ndim != 1 or scale.shape != mean.shape or mean.size == 0:
            raise ValueError(
                f"Standardizer(): mean and scale must be 1-D of one length, got {mean.shape}, {scale.shape}"
            )
        if not (np.isfinite(mean).all() and np.isfinite(scale).all() and (scale > 0).all()):
            raise ValueError("Standardizer(): mean must be finite and scale finite and > 0")
        self.mean, self.scale = mean, scale

    @classmethod
    def fit(cls, X: Any) -> Standardizer:
        """Measure mean and scale on ``X`` (n_samples ≥ 1, n_features ≥ 1), finite numbers."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(f"Standardizer.fit(): X must be a non-empty 2-D array, got shape {X.shape}")
        if not np.isfinite(X).all():
            raise ValueError("Standardizer.fit(): X contains NaN or infinity")
        n = X.shape[0]
        mean = np.sum(X, axis=0) / n
        centred = X - mean
        correction = np.sum(centred, axis=0)
        centred **= 2
        var = (np.sum(centred, axis=0) - correction**2 / n) / n
        constant = var <= n * _EPS * var + (n * mean * _EPS) ** 2
        scale = np.sqrt(var)
        scale[constant] = 1.0
        return cls(mean, scale)

    @property
    def n_features(self) -> int:
        return self.mean.size

    def transform(self, X: Any) -> np.ndarray:
        """(X − mean)/scale, in float64; X has ``n_features`` columns."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"Standardizer: X must have shape (n, {self.n_features}), got {X.shape}")
        return (X - self.mean) / self.scale

    __call__ = transform

    def inverse_transform(self, X: Any) -> np.ndarray:
        """X·scale + mean: back to the original units."""
        return np.asarray(X, dtype=np.float64) * self.scale + self.mean

    def to_json(self) -> dict[str, list[float]]:
        """``{"mean": [...], "scale": [...]}``: plain floats, which :meth:`from_json` reads back exactly."""
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_json(cls, data: Any, n_features: int | None = None, what: str = "standardize") -> Standardizer | None:
        """Read :meth:`to_json`'s object (None, JSON null, for "not standardised", gives None), checking it field
        by field: a ValueError names ``what`` and the field, e.g. ``'standardize.scale' must be a list of 2 finite
        numbers > 0``."""
        if data is None:
            return None
        if not (isinstance(data, dict) and {"mean", "scale"} <= data.keys()):
            raise ValueError(f"'{what}' must be null or an object with 'mean' and 'scale'")
        for key in ("mean", "scale"):
            values = data[key]
            ok = isinstance(values, list) and len(values) > 0 and (n_features is None or len(values) == n_features)
            ok = ok and all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values)
            if not ok or (key == "scale" and min(values) <= 0):
                count = f"{n_features} " if n_features is not None else ""
                raise ValueError(f"'{what}.{key}' must be a list of {count}finite numbers" + " > 0" * (key == "scale"))
        if len(data["mean"]) != len(data["scale"]):
            raise ValueError(f"'{what}.mean' and '{what}.scale' must have the same length")
        return cls(data["mean"], data["scale"])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Standardizer):
            return NotImplemented
        return bool(np.array_equal(self.mean, other.mean) and np.array_equal(self.scale, other.scale))

    __hash__ = None  # mutable arrays inside

    def __repr__(self) -> str:
        return f"Standardizer(mean={self.mean.tolist()}, scale={self.scale.tolist()})"
