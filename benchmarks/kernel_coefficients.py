"""Derive the polynomial coefficients used by the C kernels in ``src/sigmoidlab/_kernels/math_impl.h``.

Both polynomials are fitted by least squares in the relative sense at Chebyshev nodes, in 200-bit mpmath
arithmetic, which comes within a small factor of the minimax polynomial; then the coefficients are rounded to
float64 and the error of the rounded polynomial is measured on a dense grid.

* ``P(r) = (expm1(r) − r − r²/2) / r³`` on |r| ≤ ln2/2 (plus a margin): exp(r) = 1 + r + r²/2 + r³·P(r).
* ``Q(y) = (atanh(√y)/√y − 1) / y`` on 0 ≤ y ≤ (√2−1)²/(√2+1)² (plus a margin):
  log1p(f) = 2s + 2s·y·Q(y) with s = f/(2+f), y = s².
* ``(expm1(r) − r) / r²`` on |r| ≤ ln2/2, degree 10: the fast float64 σ/σ' path (exp(r) = 1 + r + r²·Q(r)).
* ``exp(r)`` on |r| ≤ ln2/2, degree 7: the float32 σ/σ' kernels (relative error 2^-34.5 is plenty there).

Run ``python benchmarks/kernel_coefficients.py`` to print the C initialisers.
"""

from __future__ import annotations

import mpmath as mp

mp.mp.prec = 200


def _p(r):
    if r == 0:
        return mp.mpf(1) / 6
    return (mp.expm1(r) - r - r * r / 2) / r**3


def _q(y):
    if y == 0:
        return mp.mpf(1) / 3
    s = mp.sqrt(y)
    return (mp.atanh(s) / s - 1) / y


def fit(f, a, b, degree, nodes=80):
    a, b = mp.mpf(a), mp.mpf(b)
    xs = [(a + b) / 2 + (b - a) / 2 * mp.cos(mp.pi * (k + mp.mpf(1) / 2) / nodes) for k in range(nodes)]
    rows = [[x**j / f(x) for j in range(degree + 1)] for x in xs]  # relative weighting
    coeffs = mp.qr_solve(mp.matrix(rows), mp.matrix([1] * nodes))[0]
    coeffs = [float(c) for c in coeffs]
    worst = mp.mpf(0)
    for k in range(2001):
        x = a + (b - a) * k / 2000
        approx = mp.mpf(0)
        for c in reversed(coeffs):
            approx = approx * x + mp.mpf(c)
        worst = max(worst, abs(approx / f(x) - 1))
    return coeffs, float(mp.log(worst, 2))


def _q_fast(r):
    if r == 0:
        return mp.mpf(1) / 2
    return (mp.expm1(r) - r) / r**2


def main() -> None:
    half_ln2 = float(mp.log(2) / 2) * 1.001
    s_max = float((mp.sqrt(2) - 1) / (mp.sqrt(2) + 1)) * 1.001
    for name, f, a, b, degree in (
        ("EXP_P", _p, -half_ln2, half_ln2, 9),
        ("LOG_Q", _q, 0.0, s_max**2, 7),
        ("EXP_Q_FAST", _q_fast, -half_ln2, half_ln2, 10),
        ("EXP_F32", mp.exp, -half_ln2, half_ln2, 7),
    ):
        coeffs, log2_err = fit(f, a, b, degree)
        print(f"/* {name}: degree {degree} on [{a:.6g}, {b:.6g}], max relative error 2^{log2_err:.1f} */")
        print(", ".join(c.hex() for c in coeffs))


if __name__ == "__main__":
    main()
