"""Derive the polynomial coefficients used by the C kernels in ``src/sigmoidlab/_kernels/math_impl.h``.

Both polynomials are fitted by least squares in the relative sense at Chebyshev nodes, in 200-bit mpmath
arithmetic, which comes within a small factor of the minimax polynomial; then the coefficients are rounded to
float64 and the error of the rounded polynomial is measured on a dense grid.

* ``P(r) = (expm1(r) − r − r²/2) / r³`` on |r| ≤ ln2/2 (plus a margin): exp(r) = 1 + r + r²/2 + r³·P(r).
* ``Q(y) = (atanh(√y)/√y − 1) / y`` on 0 ≤ y ≤ (√2−1)²/(√2+1)² (plus a margin):
  log1p(f) = 2s + 2s·y·Q(y) with s = f/(2+f), y = s².
* ``(expm1(r) − r) / r²`` on |r| ≤ ln2/256, degree 3: the fast float64 σ/σ' path, after the table reduction
  exp(−a) = 2^(k/128)·exp(r) (exp(r) = 1 + r + r²·Q(r)).
* The table itself: 2^(j/128), j = 0..127, as double-doubles (hi = the nearest float64, lo = the nearest float64 to
  the rest), and ln2/128 split into a 36-bit head (so that k·head is exact for |k| < 2^17) and a tail.
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


def exp2_table(bits: int = 7) -> list[tuple[float, float]]:
    """2^(j/2^bits) for j = 0 .. 2^bits − 1 as (hi, lo) pairs: hi + lo within 2^-106 relative of the truth."""
    pairs = []
    for j in range(2**bits):
        v = mp.mpf(2) ** (mp.mpf(j) / 2**bits)
        hi = float(v)
        pairs.append((hi, float(v - hi)))
    return pairs


def ln2_split(bits: int = 7, head_bits: int = 36) -> tuple[float, float]:
    """ln2/2^bits = head + tail, head rounded to ``head_bits`` significant bits."""
    c = mp.log(2) / 2**bits
    e = int(mp.floor(mp.log(c, 2)))
    head = float(mp.nint(c * mp.mpf(2) ** (head_bits - 1 - e)) * mp.mpf(2) ** (e - head_bits + 1))
    return head, float(c - head)


def main() -> None:
    half_ln2 = float(mp.log(2) / 2) * 1.001
    s_max = float((mp.sqrt(2) - 1) / (mp.sqrt(2) + 1)) * 1.001
    for name, f, a, b, degree in (
        ("EXP_P", _p, -half_ln2, half_ln2, 9),
        ("LOG_Q", _q, 0.0, s_max**2, 7),
        ("EXP_Q_TABLE", _q_fast, -half_ln2 / 128, half_ln2 / 128, 3),
        ("EXP_F32", mp.exp, -half_ln2, half_ln2, 7),
    ):
        coeffs, log2_err = fit(f, a, b, degree)
        print(f"/* {name}: degree {degree} on [{a:.6g}, {b:.6g}], max relative error 2^{log2_err:.1f} */")
        print(", ".join(c.hex() for c in coeffs))
    head, tail = ln2_split()
    print(f"/* ln2/128 = {head.hex()} + {tail.hex()} */")
    print("/* EXP2_TABLE: 2^(j/128) as hi, lo pairs */")
    for j, (hi, lo) in enumerate(exp2_table()):
        print(f"    {hi.hex()}, {lo.hex()},{' /* j = ' + str(j) + ' */' if j % 16 == 0 else ''}")


if __name__ == "__main__":
    main()
