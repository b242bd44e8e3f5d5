"""The formulas of the sigmoid family, written once against the array API, and their exact NumPy path.

Each formula takes an array and its namespace ``xp`` (NumPy, or torch/JAX/CuPy through array-api-compat).
For NumPy input the public functions evaluate them in ``np.longdouble``: on x86-64 that is the x87 80-bit
format (64-bit mantissa, exponent range down to 1e-4951), so the float64 result
is rounded once from a value that carries 11 more
bits than float64 needs. That makes every function below correct to about 0.5 ULP in float64 and
correctly rounded in float32, float16 and bfloat16 (up to double-rounding events with probability
~2^-11 per point for float64, ~2^-40 for the narrow types), with the subnormal tails computed rather
than flushed. It is the fallback when the compiled kernels are not available, and the path used for
``longdouble`` input. On platforms whose ``longdouble`` is plain float64 (MSVC, macOS on ARM) the
results lose that guard and are accurate to about 2 ULP instead.

All the formulas avoid ``exp`` of a positive argument, so none of them overflows.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

WIDE = np.longdouble
BFLOAT16 = np.dtype(ml_dtypes.bfloat16)


def to_wide(x: np.ndarray) -> np.ndarray:
    """Convert to the working precision (bfloat16 goes through float32, which holds it exactly)."""
    if x.dtype == BFLOAT16:
        x = x.astype(np.float32)
    return x.astype(WIDE)


def round_to(y: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Round a working-precision result once to ``dtype``.

    NumPy rounds longdouble to float32/64 directly, but to float16 through float32, and ml_dtypes has no
    direct path from longdouble to bfloat16. Rounding twice (to float32, then to the 16-bit type) can land
    on the wrong neighbour when the first rounding produces an exact tie (float16 σ(3·2⁻¹⁰) came out 1 ULP
    high). Rounding to float32 *to odd* first makes the second rounding correct (Boldo & Melquiond 2008):
    truncate towards zero and set the last mantissa bit if inexact.
    """
    if dtype not in (BFLOAT16, np.float16):
        return y.astype(dtype)
    y32 = y.astype(np.float32)
    wide32 = y32.astype(WIDE)
    overshoot = np.abs(wide32) > np.abs(y)
    y32 = np.where(overshoot, np.nextafter(y32, np.float32(0)), y32)
    inexact = (y32.astype(WIDE) != y) & np.isfinite(y)
    bits = y32.view(np.uint32) | inexact.astype(np.uint32)
    return bits.view(np.float32).astype(dtype)


def _exp_neg_abs(x, xp):
    """exp(−|x|), in (0, 1]: the one exponential every stable formula below is built on.

    Written with ``where`` rather than ``abs``, and the parts below take the same x ≥ 0 branch at 0, so that
    autograd (torch) differentiates one smooth branch at x = 0: abs has derivative 0 there, which made
    the gradient of sigmoid at 0 come out 0 instead of 1/4.
    """
    return xp.exp(xp.where(x >= 0, -x, x))


def _positive_part(x, xp):
    return xp.where(x >= 0, x, xp.zeros_like(x))


def _negative_part(x, xp):
    # min(x, 0) as −0 for x ≥ 0, so that log σ(x), which is negative, underflows to −0 for large x.
    return xp.where(x >= 0, -xp.zeros_like(x), x)


def _sigmoid_from_exp(x, e, xp):
    # σ(x) = 1/(1+e) for x ≥ 0 and e/(1+e) for x < 0, with e = exp(−|x|) ≤ 1: no overflow either side.
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid(x, xp=np):
    return _sigmoid_from_exp(x, _exp_neg_abs(x, xp), xp)


def sigmoid_grad(x, xp=np):
    # σ'(x) = e/(1+e)² with e = exp(−|x|): symmetric in x and free of the cancellation in 1 − σ.
    e = _exp_neg_abs(x, xp)
    return e / ((1 + e) * (1 + e))


def sigmoid_second_grad(x, xp=np):
    # σ''(x) = σ'(x)·(1 − 2σ(x)) and 1 − 2σ(x) = −tanh(x/2), accurate near 0 where 1 − 2σ cancels.
    y = -sigmoid_grad(x, xp) * xp.tanh(x / 2)
    if x.dtype == WIDE:
        # For 0 < |x| < 2^-33, σ''(x) = −x/8·(1 − 5x²/12 + …) lies strictly between −x/8 and its longdouble
        # neighbour towards 0, and y holds −x/8. When −x/8 is a tie of the output format (x/8 subnormal:
        # x = 12·2^-133 in bfloat16), only that neighbour rounds the right way, towards 0.
        tiny = (np.abs(x) < 2.0**-33) & (x != 0)
        y = np.where(tiny, np.nextafter(-x / 8, np.zeros_like(x)), y)
    return y


def softplus(x, xp=np):
    # log(1 + eˣ) = max(x, 0) + log1p(exp(−|x|)).
    return _positive_part(x, xp) + xp.log1p(_exp_neg_abs(x, xp))


def log_sigmoid(x, xp=np):
    # log σ(x) = −softplus(−x) = −max(−x, 0) − log1p(exp(−|x|)).
    return _negative_part(x, xp) - xp.log1p(_exp_neg_abs(x, xp))


def logit(p, xp=np):
    # Near p = ½ the result is small and log(p/(1−p)) would lose it to cancellation; there
    # log1p((2p−1)/(1−p)) is exact up to one rounding, because 2p − 1 and 1 − p are exact for p ≥ ¼.
    # Below ¼ the result is far from 0 and the direct quotient is accurate.
    near_half = xp.log1p((2 * p - 1) / (1 - p))
    small = xp.log(p / (1 - p))
    out = xp.where(p >= 0.25, near_half, small)
    return xp.where((p < 0) | (p > 1), xp.full_like(p, float("nan")), out)


def sigmoid_grad_from_output(y, xp=np):
    return y * (1 - y)


def bce_with_logits(z, t, pos_weight=None, xp=np):
    """Elementwise loss and dL/dz for BCE with logits, from one exponential.

    loss = w·t·softplus(−z) + (1 − t)·softplus(z),   dL/dz = (1 − t)·σ(z) − w·t·σ(−z)
    (w = pos_weight, 1 by default, where dL/dz = σ(z) − t). Each term is dropped where its weight is zero,
    so z = ±inf with the matching hard target gives loss 0 instead of 0·inf = NaN, but never where the term
    itself is NaN: a NaN logit gives NaN, whatever the weights (pos_weight = 0 with t = 1 included).
    """
    e = _exp_neg_abs(z, xp)
    log1p_e = xp.log1p(e)
    softplus_pos = _positive_part(z, xp) + log1p_e
    softplus_neg = log1p_e - _negative_part(z, xp)
    sigma_pos = _sigmoid_from_exp(z, e, xp)
    sigma_neg = _sigmoid_from_exp(-z, e, xp)
    w_pos = t if pos_weight is None else pos_weight * t
    w_neg = 1 - t
    zero = xp.zeros_like(softplus_pos)
    nan = xp.isnan(z)  # the terms are NaN only where z is (a NaN t or w makes the weight NaN, hence kept)

    def term(w, v):  # w·v, or 0 where w = 0 and z is not NaN
        return xp.where((w != 0) | nan, w * v, zero)

    loss = term(w_pos, softplus_neg) + term(w_neg, softplus_pos)
    grad = term(w_neg, sigma_pos) - term(w_pos, sigma_neg)
    return loss, grad
