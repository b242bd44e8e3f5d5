r"""The first and second derivatives of σ, tanh, log σ and SiLU as torch expressions of the input.

Every formula is written once, with torch's own elementwise ops, and evaluated in a *compute dtype*: float64
wherever the device has it. Rounded once to float32 this is within 0.5 + 2^-26 ULP; rounded to float16 or
bfloat16 through :func:`round_once` it is correctly rounded (checked on all 65,536 inputs against mpmath). The
derivatives are built from e = e^(−|x|) (e^(−2|x|) for tanh), which never overflows:

    σ'(x)    = e/(1+e)²                         σ''(x)    = −σ'(x)·tanh(x/2)
    tanh'(x) = 4e₂/(1+e₂)²,  e₂ = e^(−2|x|)     tanh''(x) = −2·tanh(x)·tanh'(x)
    (log σ)'(x) = σ(−x)                         (log σ)''(x) = −σ'(x)
    silu'(x) = σ(x)·(1 + x·σ(−x))               silu''(x) = σ'(x)·(2 − x·tanh(x/2))
    (the SiLU ones regrouped so that 1 − |x| and 2 − |x|, exact near their zeros, carry the cancellation)

For t = |x| (or 2|x|) above 512, e^(−t) is below 2^-738 and would lose bits as a float64 subnormal before the
factors that follow (4, |x|) bring the result back up; there e^(64 − t) is computed instead (64 − t is exact)
and the product is scaled by e^(−64) last, so that a result in the subnormal range is rounded only once.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

_TAIL = 512.0  # beyond, 1 + e^(−t) == 1 in float64
_SHIFT = 64.0
_UNSHIFT = math.exp(-_SHIFT)
# |x| beyond which every derivative is 0 (or σ' and its kin are) in float64: keeps x·e^(−|x|) from inf·0.
_CLAMP = 1000.0
# Below 2^-26, σ''(x) = −x/8 + x³/24 − …: the float64 value is −x/8 exactly (the cube is below its precision);
# above 2^-1019, x/8 is a normal float64, so the step toward 0 is below the value's own precision.
_TINY = (2.0**-1019, 2.0**-26)


def _exp_neg(t: torch.Tensor, tails: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """e^(−t) for t ≥ 0 as (m, e, scale): m·scale = e^(−t), and e is e^(−t) where it still counts beside 1, else 0.

    ``tails=False`` skips the rescaling: narrower results are 0 long before t = 512.
    """
    if not tails or t.dtype != torch.float64:  # MPS computes in float32, where nothing is left to protect
        m = torch.exp(-t)
        return m, m, torch.ones((), dtype=t.dtype, device=t.device)
    tail = t > _TAIL
    m = torch.exp(torch.where(tail, _SHIFT - t, -t))
    # The factor as a float64 tensor: torch.where(tail, _UNSHIFT, 1.0) would make it a float32 one.
    return m, torch.where(tail, 0.0, m), torch.where(tail, t.new_tensor(_UNSHIFT), 1.0)


def sigmoid_grad(x: torch.Tensor, tails: bool = True) -> torch.Tensor:
    """σ'(x) = σ(x)·σ(−x) = e/(1+e)², e = e^(−|x|)."""
    m, e, scale = _exp_neg(x.abs(), tails)
    return m / torch.square(1 + e) * scale


def sigmoid_second_grad(x: torch.Tensor, tails: bool = True) -> torch.Tensor:
    """σ''(x) = σ'(x)·(1 − 2σ(x)) = −σ'(x)·tanh(x/2); σ''(±0) = +0 as torch gives.

    For 2^-1019 ≤ |x| < 2^-26 the float64 product is −x/8, which may be a midpoint of a narrower format (a
    subnormal result) while the true value lies a hair nearer to 0: one float64 step toward 0 sends it there.
    """
    m, e, scale = _exp_neg(x.abs(), tails)
    value = -(m / torch.square(1 + e)) * torch.tanh(x / 2) * scale
    ax = x.abs()
    if x.dtype != torch.float64 or (torch.is_grad_enabled() and x.requires_grad):  # a third order: differentiable
        return value + 0.0  # σ''(+0) = −0.25·(+0) = −0 becomes +0, as torch gives
    tiny = (ax < _TINY[1]) & ((ax >= _TINY[0]) | (ax == 0))
    return torch.where(tiny, torch.nextafter(x * -0.125, torch.zeros_like(x)), value)  # nextafter(∓0, 0) = +0


def tanh_grad(x: torch.Tensor, tails: bool = True) -> torch.Tensor:
    """tanh'(x) = 1 − tanh²(x) = 4e₂/(1+e₂)², e₂ = e^(−2|x|): no cancellation, no overflow."""
    m, e, scale = _exp_neg(2 * x.abs(), tails)
    return 4 * m / torch.square(1 + e) * scale


def tanh_second_grad(x: torch.Tensor, tails: bool = True) -> torch.Tensor:
    """tanh''(x) = −2·tanh(x)·tanh'(x)."""
    m, e, scale = _exp_neg(2 * x.abs(), tails)
    return -8 * torch.tanh(x) * m / torch.square(1 + e) * scale


def log_sigmoid_grad(x: torch.Tensor, tails: bool = True) -> torch.Tensor:
    """(log σ)'(x) = σ(−x) = 1/(1+e) for x ≤ 0, e/(1+e) for x > 0."""
    m, e, scale = _exp_neg(x.abs(), tails)
    return torch.where(x <= 0, 1.0, m * scale) / (1 + e)


def log_sigmoid_second_grad(x: torch.Tensor, tails: bool = True) -> torch.Tensor:
    """(log σ)''(x) = −σ'(x)."""
    return -sigmoid_grad(x, tails)


def silu_grad(x: torch.Tensor, tails: bool = True) -> torch.Tensor:
    """silu'(x) = σ(x)·(1 + x·σ(−x)): (1 + e + a·e)/(1+e)² for x ≥ 0, e·((1 − a) + e)/(1+e)² for x < 0, a = |x|.

    1 − a is exact near the zero at x ≈ −1.2785, so the sum cancels only against e's rounding: there the error
    is about 2^-54 absolute in float64 (float32 and narrower inputs, computed in float64, are unaffected).
    """
    a = x.abs().clamp(max=_CLAMP)  # silu'(±inf) = 1, −0: the limits (torch gives NaN)
    m, e, scale = _exp_neg(a, tails)
    positive = x >= 0
    numerator = torch.where(positive, 1 + e + a * (m * scale), m * ((1 - a) + e))
    return numerator / torch.square(1 + e) * torch.where(positive, 1.0, scale)


def silu_second_grad(x: torch.Tensor, tails: bool = True) -> torch.Tensor:
    """silu''(x) = σ'(x)·(2 − x·tanh(x/2)) = e·((2 − a) + e·(2 + a))/(1+e)³, a = |x|.

    2 − a is exact near the zeros at x ≈ ±2.3994 (with x·tanh(x/2) the rounding of the product would be
    amplified there instead).
    """
    a = x.abs().clamp(max=_CLAMP)
    m, e, scale = _exp_neg(a, tails)
    s = 1 + e
    # 1/(1+e)³ = (1 − 3·err/s)/s³ with err = e − (s − 1), the rounding error of s (exact: Fast2Sum): the tripled
    # rounding of 1 + e would otherwise be the largest term (5 ULP in float64 instead of 3.9).
    return m * ((2 - a) + e * (2 + a)) / (s * s * s) * (1 - 3 * (e - (s - 1)) / s) * scale


#: name -> (first derivative, second derivative), each f(x, tails) of the input in the compute dtype.
Formula = Callable[[torch.Tensor, bool], torch.Tensor]
DERIVATIVES: dict[str, tuple[Formula, Formula]] = {
    "sigmoid": (sigmoid_grad, sigmoid_second_grad),
    "tanh": (tanh_grad, tanh_second_grad),
    "log_sigmoid": (log_sigmoid_grad, log_sigmoid_second_grad),
    "silu": (silu_grad, silu_second_grad),
}


def compute_dtype(x: torch.Tensor) -> torch.dtype:
    """float64, except on devices without it (MPS), where float32 is the widest there is."""
    return torch.float32 if x.device.type == "mps" else torch.float64


def round_once(value: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``value`` (float64) rounded once to ``dtype``.

    float64 → float32 is one rounding. torch converts float64 to float16 and bfloat16 through float32, which
    rounds twice (0.5 + 2^-40 rounds to the wrong side once it is 0.5 in float32), so the step to float32 rounds
    to odd here: truncate, and set the last bit when anything was cut. With 13 or more bits to spare, the
    second rounding is then the correct rounding of ``value``.
    """
    if value.dtype == dtype or dtype in (torch.float32, torch.float64) or value.dtype != torch.float64:
        return value.to(dtype)
    single = value.to(torch.float32)
    back = single.to(torch.float64)
    single = torch.where(back.abs() > value.abs(), torch.nextafter(single, torch.zeros_like(single)), single)
    inexact = (back != value).to(torch.int32)
    return (single.view(torch.int32) | inexact).view(torch.float32).to(dtype)
