"""``gradcheck``: the analytic backward pass against central finite differences."""

from __future__ import annotations

from typing import Any

import numpy as np

from .layers import Layer
from .losses import BCEWithLogits, Loss


def gradcheck(
    model_or_layer: Layer,
    x: Any,
    y: Any = None,
    loss: Loss | None = None,
    eps: float = 1e-6,
) -> dict[str, float]:
    r"""Max relative error of every parameter gradient, and of the input gradient, vs central differences.

    The scalar checked is ``loss.forward(model.forward(x), y)`` when ``y`` is given (``loss`` defaults to
    ``BCEWithLogits()``), else L = Σ r·output with a fixed random r (so every output element matters). Each
    element θ is perturbed by ±eps and ∂L/∂θ ≈ (L(θ+eps) − L(θ−eps)) / 2eps, O(eps²) accurate. The error of an
    array is max|analytic − numeric| / s with s = max(its largest gradient, 1% of the largest gradient of all
    arrays): relative per array, except that arrays whose gradient is ~0 (a bias followed by batch norm) are
    measured against the model's gradient scale instead of their own rounding noise (~1e−16·|L|/eps).

    Use float64 (in float32 the differences lose half the digits). The layer is run in its current mode; for
    Dropout, the mask must not change between calls (use evaluation mode or p = 0). Returns
    ``{parameter name: error, ..., "input": error}``.
    """
    x = np.array(x, dtype=getattr(model_or_layer, "dtype", np.float64))
    if x.dtype != np.float64:
        raise ValueError(f"gradcheck(): use a float64 model and input, got {x.dtype}")
    m = model_or_layer
    if y is not None:
        loss_fn = BCEWithLogits() if loss is None else loss

        def objective() -> float:
            return loss_fn.forward(m.forward(x), y)

        def analytic() -> np.ndarray:
            objective()
            return m.backward(loss_fn.backward())
    else:
        r = np.random.default_rng(0).standard_normal(np.shape(m.forward(x)))

        def objective() -> float:
            return float(np.sum(r * m.forward(x)))

        def analytic() -> np.ndarray:
            m.forward(x)
            return m.backward(r.copy())

    grad_x = np.array(analytic())
    grads = {p.name or f"param{i}": p.grad.copy() for i, p in enumerate(m.parameters())}
    arrays = {p.name or f"param{i}": p.value for i, p in enumerate(m.parameters())}
    arrays["input"], grads["input"] = x, grad_x
    numerics = {}
    for name, arr in arrays.items():
        numeric = np.empty_like(arr)
        flat, num = arr.reshape(-1), numeric.reshape(-1)  # views: perturbing flat perturbs the parameter
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            up = objective()
            flat[i] = old - eps
            down = objective()
            flat[i] = old
            num[i] = (up - down) / (2 * eps)
        numerics[name] = numeric
    floor = 0.01 * max(max(np.abs(g).max(initial=0.0), np.abs(numerics[k]).max(initial=0.0)) for k, g in grads.items())
    return {name: _relative_error(grads[name], numerics[name], floor) for name in arrays}


def _relative_error(a: np.ndarray, b: np.ndarray, floor: float) -> float:
    scale = max(np.abs(a).max(initial=0.0), np.abs(b).max(initial=0.0), floor)
    diff = float(np.abs(a - b).max(initial=0.0))
    return diff / scale if scale > 0 else diff
