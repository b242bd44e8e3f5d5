r"""Per-neuron thumbnails for the network diagram: each hidden unit over the input plane, on a coarse grid.

TensorFlow Playground draws every neuron's output over the input plane inside its network diagram; the playground
does the same, and adds the *derivative view*: the unit's f′(z) over the plane with the region where its gradient
vanishes (the engine's ``Activation.vanishing`` rule, the threshold of the gradient-flow meter) marked.

One evaluation-mode forward of the model over a SIZE × SIZE grid of the heatmap's extent per frame, observed with
``outputs=True`` (:func:`sigmoidlab.nn.observing`), gives every layer's z and a = f(z). (A separate pass: 256
points cost less than observing the 1,600-point boundary pass.) Each of the first ``units`` units of each hidden
layer is quantised to one byte per grid point, and each layer is sent as one base64 string, unit after unit, each
unit's grid row by row from the bottom (row i is the i-th y from the bottom, column j the j-th x, as the boundary
grid):

- mode "activation": byte = round(255·(a − lo)/(hi − lo)), with [lo, hi] the activation's range, found by asking
  the engine's activation for f(−∞) and f(+∞) (sigmoid [0, 1], tanh [−1, 1]); an infinite end (ReLU's top, both
  ends of the identity) is replaced by the unit's own extreme over the plane.
- mode "derivative": byte 0 where the gradient vanishes, else 1 + round(254·f′(z)/max f′) (max f′ is the
  activation's ``max_slope``: ¼ for the sigmoid, 1 for the others), so lo = 0 and hi = max f′.

The hover text of a unit also gives the fraction of the training set in its vanishing region, from the meter's
observed pass (:func:`unit_saturation`, sent with the layer's statistics).
"""

from __future__ import annotations

import base64
from collections.abc import Callable

import numpy as np

from .. import nn
from .._jsonio import finite

SIZE = 16  # thumbnails are SIZE × SIZE points of the input plane
VANISHING = 0  # the derivative view's byte for a point in the vanishing region


_BOUNDS: dict[tuple, tuple[float, float]] = {}


def _bounds(function: nn.Activation) -> tuple[float, float]:
    """f(−∞) and f(+∞), from a fresh copy of ``function`` (the model's own layer keeps its backward cache)."""
    key = (function.kind, *sorted(function.config().items()))
    if key not in _BOUNDS:
        probe = nn.ACTIVATIONS.get(function.kind)(**function.config())
        with np.errstate(all="ignore"):
            _BOUNDS[key] = tuple(map(float, probe.forward(np.array([-np.inf, np.inf]))))
    return _BOUNDS[key]


def _encode(q: np.ndarray) -> str:
    """Bytes (points, units) → base64 of the units one after the other."""
    return base64.b64encode(np.ascontiguousarray(q.T, dtype=np.uint8).tobytes()).decode("ascii")


def _sig(values: np.ndarray) -> np.ndarray:
    """``values`` rounded to 4 significant digits (the numbers the frame carries)."""
    return np.array([float(f"{v:.4g}") for v in values.tolist()])


def _numbers(values: np.ndarray) -> list[float | None]:
    return [finite(v) for v in values.tolist()]


def quantise_activation(a: np.ndarray, bounds: tuple[float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bytes, lo, hi) of activations ``a`` (points, units) on the range ``bounds``, an infinite end replaced by
    the unit's extreme; lo and hi are rounded to 4 significant digits first, so the page decodes exactly."""
    if not np.isfinite(a).all():  # a diverging network: draw what can be drawn
        a = np.nan_to_num(a, nan=0.0, posinf=np.finfo(np.float64).max, neginf=-np.finfo(np.float64).max)
    n = a.shape[1]
    lo = np.full(n, bounds[0]) if np.isfinite(bounds[0]) else _sig(a.min(axis=0))
    hi = np.full(n, bounds[1]) if np.isfinite(bounds[1]) else _sig(a.max(axis=0))
    with np.errstate(all="ignore"):
        span = np.where(hi > lo, hi - lo, 1.0)
        q = np.rint(np.clip((a - lo) / span, 0.0, 1.0) * 255)
    return np.nan_to_num(q, copy=False).astype(np.uint8), lo, hi


def quantise_derivative(outputs: nn.LayerOutputs, units: int) -> np.ndarray:
    """Bytes (points, units): VANISHING where the engine's rule (the observed forward's mask) says the unit's
    gradient vanishes, else 1 + round(254·f′(z)/max f′)."""
    f, z = outputs.function, outputs.preact[:, :units]
    with np.errstate(all="ignore"):
        q = 1 + np.rint(np.clip(f.derivative(z) * (254 / f.max_slope), 0.0, 254))
    np.nan_to_num(q, copy=False, nan=1.0)  # z not a number: no colour, and not counted as vanishing
    q[outputs.vanishing[:, :units]] = VANISHING
    return q.astype(np.uint8)


def unit_saturation(outputs: list[nn.LayerOutputs], units: int) -> list[list[float]]:
    """Per hidden layer, each of the first ``units`` units' fraction of an observed pass's samples in its vanishing
    region (the meter's ``saturation``, per unit, as the engine recorded it)."""
    return [np.round(o.unit_saturation[:units], 3).tolist() for o in outputs if o.act is not None]


class Thumbnails:
    """The thumbnail grid of one configuration (the model's inputs at SIZE × SIZE points of ``extent``)."""

    def __init__(self, inputs: Callable[[np.ndarray], np.ndarray], extent: tuple[float, float, float, float]):
        gx, gy = np.meshgrid(np.linspace(extent[0], extent[1], SIZE), np.linspace(extent[2], extent[3], SIZE))
        self.points = np.column_stack([gx.ravel(), gy.ravel()])  # row i·SIZE + j: x = xs[j], y = ys[i]
        self.X = inputs(self.points)

    def frame(self, model: nn.Sequential, mode: str, threshold: float, units: int) -> dict:
        """The frame's ``thumbnails`` entry: one evaluation-mode forward over the grid, each hidden layer encoded."""
        with nn.evaluating(model), nn.observing(model, threshold=threshold, outputs=True), np.errstate(all="ignore"):
            model.forward(self.X)
            hidden = [o for o in model.outputs() if o.act is not None]
            layers = [self._layer(o, mode, units) for o in hidden]
        return {"mode": mode, "size": SIZE, "threshold": threshold, "layers": layers}

    @staticmethod
    def _layer(o: nn.LayerOutputs, mode: str, units: int) -> dict:
        n = min(units, o.act.shape[1])
        if mode == "derivative":
            q = quantise_derivative(o, n)
            lo, hi = np.zeros(n), np.full(n, o.function.max_slope)
        else:
            q, lo, hi = quantise_activation(o.act[:, :n], _bounds(o.function))
        return {"layer": o.layer, "activation": o.activation, "units": n, "lo": _numbers(lo), "hi": _numbers(hi),
                "data": _encode(q)}  # fmt: skip
