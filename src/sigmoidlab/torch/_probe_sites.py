r"""Activation call sites for :class:`~sigmoidlab.torch.probe.GradientProbe`: what one observed call measures.

A *site* is one activation call inside ``forward``: a module (``nn.Sigmoid``, ``nn.ReLU``, ...) or a functional
call (``torch.sigmoid``, ``F.silu``, ``x.tanh()``, ...), named by the module whose ``forward`` made it, the
function, and its rank among that function's calls in that ``forward`` (``"gate/sigmoid"``, ``"block/relu#2"``).
They are caught by a ``TorchFunctionMode`` that is entered only for the forward passes of sampled steps.

Per call, at the pre-activation z, with the exact derivative f'(z) (:mod:`sigmoidlab.torch._formulas`, float64):

- **vanishing band**: σ'(z) < t for σ (t = :data:`sigmoidlab.functions.VANISHING_THRESHOLD`); |f'(z)| < 4t for
  tanh, SiLU, GELU and log σ, whose slope peaks near 1 (tanh' = 4σ'(2z): the same point on the curve, as in
  :mod:`sigmoidlab.nn`); z ≤ 0 for ReLU and leaky ReLU.
- **alive units** (ReLU family): a unit (the last axis; the channel axis, 1, for 4-D and 5-D inputs) is alive
  when some sample has z > 0; the probe ORs this over a window of samples to find dead units.
- **rounding flush**: pairs whose derivative as autograd will compute it (the output's ``grad_fn`` applied to
  ones, in the stored dtype) is 0 or off by more than half, while the exact derivative rounded to that dtype
  is not 0: torch's σ and tanh backward rebuild f' from the rounded output (0 from z = 6.25 and 3.47 in bfloat16).

Everything stays on the device as 0-d tensors; the probe reads them once per sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from . import _formulas

F = torch.nn.functional
#: function → (kind, in place)
FUNCTIONS: dict[Any, tuple[str, bool]] = {
    torch.sigmoid: ("sigmoid", False),
    torch.Tensor.sigmoid: ("sigmoid", False),
    torch.special.expit: ("sigmoid", False),
    F.sigmoid: ("sigmoid", False),
    torch.tanh: ("tanh", False),
    torch.Tensor.tanh: ("tanh", False),
    F.tanh: ("tanh", False),
    torch.relu: ("relu", False),
    torch.Tensor.relu: ("relu", False),
    F.relu: ("relu", False),
    F.leaky_relu: ("leaky_relu", False),
    F.silu: ("silu", False),
    F.gelu: ("gelu", False),
    F.logsigmoid: ("log_sigmoid", False),
    torch.sigmoid_: ("sigmoid", True),
    torch.Tensor.sigmoid_: ("sigmoid", True),
    torch.tanh_: ("tanh", True),
    torch.Tensor.tanh_: ("tanh", True),
    torch.relu_: ("relu", True),
    torch.Tensor.relu_: ("relu", True),
    F.relu_: ("relu", True),
}
RELU_FAMILY = ("relu", "leaky_relu")
SATURATING = ("sigmoid", "tanh")
_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


def _gelu_grad(x: torch.Tensor, tails: bool = True) -> torch.Tensor:
    """gelu'(x) = Φ(x) + x·φ(x) (the erf form)."""
    return torch.special.ndtr(x) + x * torch.exp(-0.5 * x * x) * _INV_SQRT_2PI


def exact_derivative(kind: str, x: torch.Tensor) -> torch.Tensor:
    """f'(x) in the compute dtype (float64 where the device has it)."""
    wide = x.to(_formulas.compute_dtype(x))
    if kind == "gelu":
        return _gelu_grad(wide)
    return _formulas.DERIVATIVES[kind][0](wide, True)


def band_mask(kind: str, x: torch.Tensor, threshold: float) -> torch.Tensor:
    """The pairs in the vanishing band (see the module docstring)."""
    if kind in RELU_FAMILY:
        return x <= 0
    d = exact_derivative(kind, x)
    return d < threshold if kind == "sigmoid" else d.abs() < 4 * threshold


def unit_axis(x: torch.Tensor) -> int:
    return 1 if x.dim() in (4, 5) else x.dim() - 1


def _autograd_derivative(y: torch.Tensor) -> torch.Tensor | None:
    """f'(z) as autograd will compute it: y's backward node applied to ones (C++ nodes are called, custom
    Functions' nodes have ``apply``); None when nothing was recorded."""
    node = y.grad_fn
    if node is None:
        return None
    ones = torch.ones_like(y)
    out = node.apply(ones) if hasattr(node, "apply") else node(ones)
    out = out[0] if isinstance(out, tuple) else out
    return out if isinstance(out, torch.Tensor) and out.shape == y.shape else None


@dataclass
class SiteStats:
    """What the calls of one site during one sample added up to (0-d device tensors, ints on the host)."""

    kind: str
    dtype: str
    pairs: int = 0
    band: Any = 0
    flush: Any = 0
    flush_checked: int = 0
    alive: torch.Tensor | None = None  # ReLU family: per unit, the max of z over the other axes (alive: > 0)
    calls: int = 0
    extra: dict = field(default_factory=dict)


def measure(stats: SiteStats, x: torch.Tensor, y: torch.Tensor | None, threshold: float, limit: int) -> None:
    """Add one call (pre-activation x, output y or None for in-place calls) to ``stats``; no host sync."""
    stats.calls += 1
    if stats.kind in RELU_FAMILY:
        relu_out = y.detach() if stats.kind == "relu" and y is not None and y.shape == x.shape else None
        _measure_relu(stats, x.detach(), limit, relu_out)
        return
    with torch.no_grad(), torch.autocast(x.device.type, enabled=False):
        flat = x.detach().reshape(-1)[:limit]
        stats.pairs += flat.numel()
        stats.band = _add(stats.band, band_mask(stats.kind, flat, threshold).sum())
        if y is not None and y.requires_grad:
            auto = _autograd_derivative(y)
            if auto is not None:
                auto = auto.detach().reshape(-1)[:limit]
                exact = exact_derivative(stats.kind, flat)
                representable = _formulas.round_once(exact, auto.dtype) != 0
                wrong = (auto == 0) | ((auto.to(exact.dtype) - exact).abs() > 0.5 * exact.abs())
                stats.flush = _add(stats.flush, (representable & wrong).sum())
                stats.flush_checked += flat.numel()


def _add(total: Any, count: torch.Tensor) -> Any:
    """total + count, without an op for the first call's 0 + count (a sample is a few dozen small ops)."""
    return count if isinstance(total, int) and total == 0 else total + count


def _measure_relu(stats: SiteStats, x: torch.Tensor, limit: int, out: torch.Tensor | None = None) -> None:
    """Band (z ≤ 0) and alive units with float reductions, which on CPU cost a fraction of a bool comparison
    and its count: positives = Σ sign(max(z, 0)), alive = max over the other axes > 0, kept as that max (the
    probe compares all sites' maxima to 0 at once; ``fmax`` accumulates it as an OR, NaN-safe). ``out`` is
    relu(z) when the call returned it: max(z, 0) for free. (A NaN pre-activation counts as in the band, and makes
    its unit not alive in that sample.) No autocast or no_grad guard is needed: reductions of a detached tensor
    record nothing."""
    pairs = min(x.numel(), limit)
    stats.pairs += pairs
    if pairs == x.numel():  # the whole tensor: no flattening views (each is an op)
        positive = out if out is not None else x.clamp(min=0)
    else:
        positive = (out if out is not None else x).reshape(-1)[:limit].clamp(min=0)
    stats.band = _add(stats.band, pairs - positive.sign().nansum())
    axis = unit_axis(x)
    top = (out if out is not None else x).amax(dim=tuple(d for d in range(x.dim()) if d != axis))
    same = stats.alive is not None and stats.alive.shape == top.shape
    stats.alive = torch.fmax(stats.alive, top) if same else top


class SiteMode(TorchFunctionMode):
    """Routes every activation call to ``on_call(kind, func, x, y)`` (y None for in-place ones) and runs it."""

    def __init__(self, on_call: Any) -> None:
        super().__init__()
        self.on_call = on_call

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        entry = FUNCTIONS.get(func)
        if entry is None:  # most calls (linear, add, ...): straight through
            return func(*args, **kwargs)
        x = args[0] if args else kwargs.get("input")
        if entry is None or not isinstance(x, torch.Tensor) or not x.is_floating_point():
            return func(*args, **kwargs)
        kind, inplace = entry
        inplace = inplace or kwargs.get("inplace") is True or any(a is True for a in args[1:])  # F.relu(x, True)
        if inplace:  # the pre-activation is gone after the call: measure it first
            self.on_call(kind, x, None)
            return func(*args, **kwargs)
        y = func(*args, **kwargs)
        if isinstance(y, torch.Tensor):
            self.on_call(kind, x, y)
        return y
