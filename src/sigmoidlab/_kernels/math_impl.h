/* The sigmoid family in float64, written once over an abstract vector type and instantiated twice:
 * scalar.c (V = double) and avx2.c (V = __m256d). The including file defines V, M (a lane mask) and the
 * operations below; everything here is branch-free so that both instantiations execute the same
 * sequence of IEEE operations and give bit-identical results (both files are compiled with
 * -ffp-contract=off, so an FMA appears only where FMA() is written).
 *
 * The operations (C, ADD, FMA, SEL, EXP2_LOOKUP...) are listed in kernels.h with their scalar and AVX2 meaning.
 *
 * Accuracy strategy (why it is ≤ 1 ULP where naive formulas are ~2 ULP):
 *   e = exp(−|x|) is produced as a double-double (hi + lo, ~2^-100 relative), 1 + e and 1/(1 + e) are
 *   formed as double-doubles (the division is corrected with an FMA residual), and every result is
 *   assembled so that its only significant rounding is the last one. The intermediate error is about
 *   2^-58 relative, so results are within 0.5 ULP + 2^-5 ULP, which also makes the float32, float16
 *   and bfloat16 results (rounded from these float64 values) correctly rounded in all but astronomically
 *   rare cases (the exhaustive tests confirm it for float16 and bfloat16).
 *   σ, σ' and the pair, the bandwidth-critical ops, have a cheaper float64 path further down (a table-driven
 *   exp and two Fast2Sums instead of full double-double steps, proven ≤ 0.52 ULP) and short plain-double
 *   kernels for float32; this careful path serves their |x| > 700 and NaN lanes and every other function.
 *   Polynomial coefficients: `python -m sigmoidlab._kernels.gen_tables --coefficients` derives them (the
 *   tests check that the ones written here are those); the 2^(j/128) table is generated into exp2_table.h.
 *
 * Bounds as they stand, float64 ("measured": the largest error over the accuracy benchmark's points, all
 * paths alike, benchmarks/results/accuracy.md):
 *   σ, σ' and the pair on the fast path (|x| <= 700): proven <= 0.52 ULP (the proof is with the fast path);
 *   the careful path (every other function; σ and σ' beyond 700): intermediate error ~2^-58 relative by the
 *   analysis above, i.e. about 0.5 + 2^-5 ULP; σ'' <= 1 ULP by construction near 0 (the −x/8 step below).
 *   Measured: σ, σ' 0.53; log σ, softplus 0.53; σ'' 1.00; logit 0.50. The contract is <= 1 ULP
 *   for σ, log σ, softplus and <= 2 ULP for σ', σ'', logit.
 *   float32: σ, σ' and the pair <= 0.5 + 2^-10 ULP (short kernels, below); the rest round the float64 result
 *   once. y·(1 − y) (k_grad_from_output): float64 within 2^-105 relative before its one rounding, float32
 *   correctly rounded (round-to-odd, below).
 */
#include "exp2_table.h"

/* Everything is forced inline so that the loops can interleave independent vectors (the kernels are
 * latency chains: exp's polynomial, a division; two in flight nearly double the throughput). */
#if defined(__GNUC__) || defined(__clang__)
#define KINLINE static inline __attribute__((always_inline))
#else
#define KINLINE static inline
#endif

typedef struct {
    V hi, lo;
} dd;

KINLINE dd two_sum(V a, V b)
{
    V s = ADD(a, b);
    V bb = SUB(s, a);
    dd r = {s, ADD(SUB(a, SUB(s, bb)), SUB(b, bb))};
    return r;
}

/* Exact when |a| >= |b| (or a == 0). */
KINLINE dd fast_two_sum(V a, V b)
{
    V s = ADD(a, b);
    dd r = {s, SUB(b, SUB(s, a))};
    return r;
}

KINLINE dd two_prod(V a, V b)
{
    V p = MUL(a, b);
    dd r = {p, FMA(a, b, NEG(p))};
    return r;
}

/* a·b for double-doubles, as a double-double (relative error ~2^-104). */
KINLINE dd mul_dd(dd a, dd b)
{
    dd p = two_prod(a.hi, b.hi);
    p.lo = ADD(p.lo, FMA(a.hi, b.lo, MUL(a.lo, b.hi)));
    return fast_two_sum(p.hi, p.lo);
}

/* a·b for double-doubles rounded to double: one rounding of the exact a.hi·b.hi plus small terms. */
KINLINE V mul_dd_round(dd a, dd b)
{
    return FMA(a.hi, b.hi, FMA(a.hi, b.lo, MUL(a.lo, b.hi)));
}

/* 1/d for a double-double d >= 1: the quotient's residual 1 − q·d comes exact out of an FMA. */
KINLINE dd recip_dd(dd d)
{
    V q = DIV(C(1.0), d.hi);
    V r = SUB(FMA(NEG(q), d.hi, C(1.0)), MUL(q, d.lo));
    dd out = {q, MUL(q, r)};
    return out;
}

/* n/d for a double n and a double-double d, as a double-double. */
KINLINE dd div_dd(V n, dd d)
{
    V q = DIV(n, d.hi);
    V r = SUB(FMA(NEG(q), d.hi, n), MUL(q, d.lo));
    dd out = {q, DIV(r, d.hi)};
    return out;
}

/* ---------------------------------------------------------------------------------------------------- */
/* exp(−a) for a in [0, 750] (callers clamp; NaN already replaced).                                      */
/* a = −(k·ln2 + r), |r| <= ln2/2; exp(r) = 1 + m with m = r + r²/2 + r³·P(r) kept as a double-double.   */
/* Returns e = exp(−a) (double-double), and for the caller that needs 1 − e with full relative accuracy  */
/* near a = 0, k and m (when k == 0, 1 − e = −m exactly).                                                */

#define LN2_HI 0x1.62e42fefa3800p-1 /* ln 2 to 42 bits: k·LN2_HI is exact for |k| < 2^11 */
#define LN2_LO 0x1.ef35793c76730p-45
#define INV_LN2 0x1.71547652b82fep0

typedef struct {
    dd e;  /* exp(−a) */
    dd m;  /* expm1(r) */
    V k;   /* exponent of the reduction, an integer-valued double */
} expred;

KINLINE expred exp_neg(V a)
{
    expred out;
    V x = NEG(a);
    V k = RINT(MUL(x, C(INV_LN2)));
    V rh = FMA(NEG(k), C(LN2_HI), x);      /* exact (Sterbenz; k·LN2_HI is exact) */
    V rl = MUL(NEG(k), C(LN2_LO));         /* tiny; zero when k == 0 */
    dd r = two_sum(rh, rl);

    /* P(r) = (expm1(r) − r − r²/2)/r³, degree 9, relative error 2^-52.9 on |r| <= 0.3469 */
    V p = C(0x1.1f1e1ad44d322p-29);
    p = FMA(p, r.hi, C(0x1.af38f1ca2d6d2p-26));
    p = FMA(p, r.hi, C(0x1.27e5096122b27p-22));
    p = FMA(p, r.hi, C(0x1.71de0d919c56fp-19));
    p = FMA(p, r.hi, C(0x1.a01a01963e1bfp-16));
    p = FMA(p, r.hi, C(0x1.a01a01a7cafe2p-13));
    p = FMA(p, r.hi, C(0x1.6c16c16c18659p-10));
    p = FMA(p, r.hi, C(0x1.11111111109abp-7));
    p = FMA(p, r.hi, C(0x1.5555555555553p-5));
    p = FMA(p, r.hi, C(0x1.5555555555556p-3));
    V r2 = MUL(r.hi, r.hi);
    p = MUL(MUL(p, r2), r.hi);             /* r³·P(r): |.| <= 0.0077, only its rounding (2^-60) is lost */

    /* m = r + r²/2 + r³P, with r² = rh² + 2·rh·rl; rh² is split exactly by FMA. */
    dd sq = two_prod(r.hi, r.hi);
    dd s = fast_two_sum(r.hi, MUL(C(0.5), sq.hi));
    V lo = ADD(ADD(s.lo, r.lo), ADD(FMA(C(0.5), sq.lo, MUL(r.hi, r.lo)), p));
    out.m = fast_two_sum(s.hi, lo);

    /* 1 + m, then scale by 2^k in two steps so that a subnormal result is rounded only once. */
    dd one_m = fast_two_sum(C(1.0), out.m.hi);
    one_m.lo = ADD(one_m.lo, out.m.lo);
    V k1 = MAX(k, C(-1000.0));
    V s1 = POW2I(k1), s2 = POW2I(SUB(k, k1));
    out.e.hi = MUL(MUL(one_m.hi, s1), s2);
    out.e.lo = MUL(MUL(one_m.lo, s1), s2);
    out.k = k;
    return out;
}

/* log1p(f) for a double-double |f| <= 0.4143 via 2·atanh(s), s = f/(2+f), as a double-double. */
KINLINE dd log1p_core(dd f)
{
    dd d = fast_two_sum(C(2.0), f.hi);
    d.lo = ADD(d.lo, f.lo);
    V sh = DIV(f.hi, d.hi);
    V sl = DIV(SUB(ADD(FMA(NEG(sh), d.hi, f.hi), f.lo), MUL(sh, d.lo)), d.hi);
    V y = MUL(sh, sh);
    /* Q(y) = (atanh(√y)/√y − 1)/y, degree 7, relative error 2^-54 on 0 <= y <= 0.0295 */
    V q = C(0x1.0c116280d7e49p-4);
    q = FMA(q, y, C(0x1.0fbd463cf6b3bp-4));
    q = FMA(q, y, C(0x1.3b1c41d06b834p-4));
    q = FMA(q, y, C(0x1.745cf8ca5074fp-4));
    q = FMA(q, y, C(0x1.c71c7201e36c2p-4));
    q = FMA(q, y, C(0x1.24924924767f7p-3));
    q = FMA(q, y, C(0x1.9999999999a3ap-3));
    q = FMA(q, y, C(0x1.5555555555555p-2));
    V t = MUL(MUL(C(2.0), sh), MUL(y, q)); /* 2s·y·Q(y): at most 2% of the result */
    return fast_two_sum(MUL(C(2.0), sh), FMA(C(2.0), sl, t));
}

/* log(w) for a positive finite double-double w (subnormal hi allowed), as a double-double.
 * If direct is set in a lane, log1p_core(f_direct) is used there instead (f_direct = w − 1 known exactly). */
KINLINE dd log_dd(dd w, M direct, dd f_direct)
{
    M tiny = LT(w.hi, C(0x1p-1000));
    V pre = SEL(tiny, C(0x1p200), C(1.0));
    V hi = MUL(w.hi, pre), lo = MUL(w.lo, pre);
    V kraw = GETEXP(hi);                    /* in [-874, 54] for the arguments used here */
    V mh = MANT(hi);
    V scale = POW2I(NEG(kraw));
    M big = GT(mh, C(0x1.6a09e667f3bcdp0)); /* √2: keep the mantissa in [√½, √2] */
    mh = SEL(big, MUL(mh, C(0.5)), mh);
    scale = SEL(big, MUL(scale, C(0.5)), scale);
    V k = ADD(SUB(kraw, SEL(tiny, C(200.0), C(0.0))), SEL(big, C(1.0), C(0.0)));
    V ml = MUL(lo, scale);                  /* lo scaled exactly like hi */
    dd f = fast_two_sum(SUB(mh, C(1.0)), ml);
    f.hi = SEL(direct, f_direct.hi, f.hi);
    f.lo = SEL(direct, f_direct.lo, f.lo);
    k = SEL(direct, C(0.0), k);
    dd l = log1p_core(f);
    dd s = two_sum(MUL(k, C(LN2_HI)), l.hi);
    s.lo = ADD(s.lo, FMA(k, C(LN2_LO), l.lo));
    return fast_two_sum(s.hi, s.lo);
}

/* ---------------------------------------------------------------------------------------------------- */
/* The family. Every function clamps |x| at 750 (exp(−750) rounds to 0 in every format), so no           */
/* exponential overflows, and fixes NaN/±inf lanes with blends at the end.                               */

typedef struct {
    expred x;  /* e = exp(−|x|), k, m */
    dd d;      /* 1 + e */
    dd q;      /* 1/(1 + e) = σ(|x|) */
    dd sn;     /* e/(1 + e) = σ(−|x|) */
} sigparts;

KINLINE sigparts sig_parts(V x)
{
    sigparts s;
    V a = MIN(ABS(x), C(750.0)); /* NaN -> 750 (MIN returns the 2nd operand on NaN) */
    s.x = exp_neg(a);
    s.d = fast_two_sum(C(1.0), s.x.e.hi);
    s.d.lo = ADD(s.d.lo, s.x.e.lo);
    s.q = recip_dd(s.d);
    s.sn = mul_dd(s.x.e, s.q);
    return s;
}

KINLINE V fix_nan(V x, V r)
{
    return SEL(ISNAN(x), x, r);
}

/* σ(x) = 1/(1+e) for x >= 0, e/(1+e) for x < 0, e = exp(−|x|). The careful double-double version: it
 * serves the lanes the fast path below leaves out (|x| > FAST_MAX = 700, NaN). */
KINLINE V k_sigmoid_dd(V x)
{
    sigparts s = sig_parts(x);
    V pos = ADD(s.q.hi, s.q.lo);
    V neg = ADD(s.sn.hi, s.sn.lo);
    return fix_nan(x, SEL(LT(x, C(0.0)), neg, pos));
}

/* σ'(x) = σ(|x|)·σ(−|x|) = e/(1+e)²: symmetric, never the cancelling y·(1 − y). */
KINLINE V k_sigmoid_grad_from(sigparts s)
{
    return mul_dd_round(s.sn, s.q);
}

KINLINE V k_sigmoid_grad_dd(V x)
{
    return fix_nan(x, k_sigmoid_grad_from(sig_parts(x)));
}

KINLINE void k_sigmoid_and_grad_dd(V x, V *y, V *g)
{
    sigparts s = sig_parts(x);
    V pos = ADD(s.q.hi, s.q.lo);
    V neg = ADD(s.sn.hi, s.sn.lo);
    *y = fix_nan(x, SEL(LT(x, C(0.0)), neg, pos));
    *g = fix_nan(x, k_sigmoid_grad_from(s));
}

/* ---------------------------------------------------------------------------------------------------- */
/* The fast float64 path of σ, σ' and the pair: the bandwidth-critical ops. About 45 vector operations    */
/* and four table loads per 4 doubles (the careful path above takes ~105) for the same contract.         */
/*                                                                                                        */
/* e = exp(−|x|) = 2^(k/128)·exp(r), k = round(−|x|·128/ln2) = 128m + j (0 <= j < 128),                    */
/* r = −|x| − k·ln2/128, |r| <= ln2/256 (+2^-40), so 2^(k/128) = 2^m·(Th + Tl) from a 128-entry table of    */
/* double-doubles (within 2^-106) and exp(r) = 1 + p, p = expm1(r) = r + T, T = r²·Q(r):                  */
/*   rh = −|x| − k·L_HI is exact (L_HI is ln2/128 to 36 bits and |k| < 2^17, so k·L_HI is exact; rh is a   */
/*   multiple of 2^-61 below 2^-8 in magnitude, or −|x| itself when k = 0), rl = fl(−k·L_LO), |rl| < 2^-28;  */
/*   Q of degree 3 (relative error 2^-45.6) on |T| <= 2^-18.4: T's error, the roundings and r = fl(rh + rl) */
/*   included, stays below 2^-63 absolute;                                                                */
/*   p = fl(rh + fl(rl + T)) rounds by <= 2^-53·|p| <= 2^-53·0.0028;                                       */
/*   Th·(1 + p) + Tl = Th + lo with lo = fl(Th·p + Tl) (one FMA, <= 2^-53·0.0028·Th; the dropped Tl·p is     */
/*   as small), made a normalised double-double by an exact Fast2Sum.                                     */
/*   So e = 2^m·(s + sl) has relative error δ <= 0.01·2^-53 (the scaling by 2^m is exact while |x| <= 700:    */
/*   2^m >= 2^-1010 is normal, and 2^m·sl may be subnormal only below 2^-1063·e).                            */
/* D = 1 + e (Fast2Sum, as a double-double), R = 1/D with one division and the FMA residual                 */
/*   (1 − R·D_hi is exact): R_hi + R_lo = 1/D to 2^-100; D and R inherit δ·e/(1 + e) <= δ/2.                */
/* Results, each rounded once: σ(|x|) = R_hi + R_lo, σ(−|x|) = e·R and σ'(x) = e·R², each within            */
/* 0.5 ULP + δ (+ the 2^-100 terms): <= 0.52 ULP.                                                            */
/* Lanes with |x| > 700 (subnormal tails, 2^m no longer normal) or NaN take the careful path, blended in     */
/* only when a vector holds such a lane.                                                                  */
/*                                                                                                        */
/* The table (exp2_table.h, generated by gen_tables.py) replaced a degree-10 polynomial on |r| <= ln2/2       */
/* (bound 0.84 ULP): 7% less time per element on Zen 3 (best of 400 alternating in-cache runs), with the     */
/* lookup as four 16-byte loads (AVX2 gathers were no faster).                                              */

#define SHIFTER (0x1.8p52 + 1023.0) /* fl(v + SHIFTER) holds round(v) + 1023 in its low mantissa bits */
#define SHIFTER_T (0x1.8p52 + 1023.0 * 128) /* low mantissa bits of fl(v + SHIFTER_T): round(v) + 1023·128 */
#define INV_LN2_128 (128 * INV_LN2)
#define FAST_MAX 700.0

typedef struct {
    dd e; /* exp(−|x|) */
    dd R; /* 1/(1 + e) = σ(|x|) */
} fastparts;

/* e = exp(−|x|) as a double-double: the first half of the kernel (see the proof above). */
KINLINE dd fast_exp(V na) /* na = −|x| in [−700, 0] */
{
    V kk = FMA(na, C(INV_LN2_128), C(SHIFTER_T));
    V k = SUB(kk, C(SHIFTER_T));
    V rh = FMA(k, C(-L_HI), na);
    V rl = MUL(k, C(-L_LO));
    V r = ADD(rh, rl);
    V r2 = MUL(r, r);
    V q = FMA(FMA(C(0x1.11111153d6ccfp-7), r, C(0x1.55555acf8ded3p-5)), r2, /* Q(r) = (expm1(r) − r)/r², Estrin */
              FMA(C(0x1.555555555562ep-3), r, C(0x1.fffffffffff57p-2)));
    V p = ADD(rh, ADD(rl, MUL(r2, q)));
    V th, tl;
    EXP2_LOOKUP(kk, &th, &tl);
    dd s = fast_two_sum(th, FMA(th, p, tl));
    V scale = EXP2_SCALE(kk);
    dd e = {MUL(s.hi, scale), MUL(s.lo, scale)};
    return e;
}

/* The second half: D = 1 + e and R = 1/D, both double-doubles. */
KINLINE fastparts fast_recip(dd e)
{
    fastparts f;
    f.e = e;
    dd d = fast_two_sum(C(1.0), e.hi);
    d.lo = ADD(d.lo, e.lo);
    f.R.hi = DIV(C(1.0), d.hi);
    V res = FNMA(f.R.hi, d.hi, C(1.0)); /* exact */
    res = FNMA(f.R.hi, d.lo, res);
    f.R.lo = MUL(f.R.hi, res);
    return f;
}

KINLINE fastparts fast_parts(V na)
{
    return fast_recip(fast_exp(na));
}

/* σ(x): R where x >= 0, e·R where x < 0 (by the sign bit, so σ(−0) = σ(0) = ½ either way). */
KINLINE V fast_sigmoid(V x, fastparts f)
{
    return SEL_SIGN(x, mul_dd_round(f.e, f.R), ADD(f.R.hi, f.R.lo));
}

/* σ'(x) = e·R², with R² = (h, l) kept as an unnormalised double-double. */
KINLINE V fast_sigmoid_grad(fastparts f)
{
    V h = MUL(f.R.hi, f.R.hi);
    V l = FMA(ADD(f.R.hi, f.R.hi), f.R.lo, FMS(f.R.hi, f.R.hi, h));
    return FMA(f.e.hi, h, FMA(f.e.hi, l, MUL(f.e.lo, h)));
}

KINLINE M needs_careful(V na) /* |x| > FAST_MAX or NaN */
{
    return NGE(na, C(-FAST_MAX));
}

KINLINE V k_sigmoid(V x)
{
    V na = NABS(x);
    V y = fast_sigmoid(x, fast_parts(na));
    M slow = needs_careful(na);
    if (ANY(slow)) y = SEL(slow, k_sigmoid_dd(x), y);
    return y;
}

KINLINE V k_sigmoid_grad(V x)
{
    V na = NABS(x);
    V g = fast_sigmoid_grad(fast_parts(na));
    M slow = needs_careful(na);
    if (ANY(slow)) g = SEL(slow, k_sigmoid_grad_dd(x), g);
    return g;
}

KINLINE void k_sigmoid_and_grad(V x, V *y, V *g)
{
    V na = NABS(x);
    fastparts f = fast_parts(na);
    *y = fast_sigmoid(x, f);
    *g = fast_sigmoid_grad(f);
    M slow = needs_careful(na);
    if (ANY(slow)) {
        V ys, gs;
        k_sigmoid_and_grad_dd(x, &ys, &gs);
        *y = SEL(slow, ys, *y);
        *g = SEL(slow, gs, *g);
    }
}

/* ---------------------------------------------------------------------------------------------------- */
/* float32 (and only float32: float16/bfloat16 need the float64 kernels to round correctly) is computed   */
/* in plain double arithmetic: e = exp(−x) with a degree-7 polynomial (relative error 2^-34.5), then       */
/* σ = 1/(1 + e), σ' = e/(1 + e)². With |x| clamped to 150 nothing overflows (e <= 2^217) and both forms   */
/* are accurate in relative terms on the whole line, so no |x| or sign select is needed. The double         */
/* result is within 2^-34 relative of the truth, 2^-10 of a float32 ULP: after the one rounding to float32   */
/* the error is <= 0.5 + 2^-10 ULP (subnormal float32 results included: their spacing is coarser still).   */
/* About 20 instructions per 4 elements.                                                                   */

#define LN2_D 0x1.62e42fefa39efp-1

KINLINE V exp_neg_f32(V x) /* exp(−x), x in [−150, 150] or NaN */
{
    V kk = FMA(x, C(-INV_LN2), C(SHIFTER));
    V u = FMA(SUB(kk, C(SHIFTER)), C(LN2_D), x); /* u = −r = x + k·ln2, |u| <= ln2/2 (+ 2^-45) */
    /* exp(−u): degree 7, relative error 2^-34.5 on |u| <= 0.3469 (odd coefficients negated). By Horner: the
     * strip-mined loops hide the longer chain, and it takes two multiplications fewer than Estrin's scheme
     * (measured 6% less time per element). */
    V p = FMA(C(-0x1.9e8a0a70661bap-13), u, C(0x1.6da522566d0b6p-10));
    p = FMA(p, u, C(-0x1.11132135b8082p-7));
    p = FMA(p, u, C(0x1.555467fab276dp-5));
    p = FMA(p, u, C(-0x1.5555531d96922p-3));
    p = FMA(p, u, C(0x1.00000059fcdeep-1));
    p = FMA(p, u, C(-0x1.000000011e07ap+0));
    p = FMA(p, u, C(0x1.ffffffffaba6bp-1));
    return MUL(p, POW2_BITS(kk));
}

KINLINE V clamp_f32(V x) /* NaN stays NaN: MIN/MAX return their 2nd operand then */
{
    return MAX(C(-150.0), MIN(C(150.0), x));
}

KINLINE V exp_neg_f32_clamped(V x)
{
    return exp_neg_f32(clamp_f32(x));
}

/* The second halves, from e = exp(−x). */
KINLINE V k32_sigmoid_from(V e)
{
    return DIV(C(1.0), ADD(C(1.0), e));
}

KINLINE V k32_sigmoid_grad_from(V e)
{
    V q = DIV(C(1.0), ADD(C(1.0), e));
    return MUL(MUL(e, q), q);
}

KINLINE void k32_sigmoid_and_grad_from(V e, V *y, V *g)
{
    V q = DIV(C(1.0), ADD(C(1.0), e));
    *y = q;
    *g = MUL(MUL(e, q), q);
}

KINLINE V k32_sigmoid(V x)
{
    return k32_sigmoid_from(exp_neg_f32_clamped(x));
}

KINLINE V k32_sigmoid_grad(V x)
{
    return k32_sigmoid_grad_from(exp_neg_f32_clamped(x));
}

KINLINE void k32_sigmoid_and_grad(V x, V *y, V *g)
{
    k32_sigmoid_and_grad_from(exp_neg_f32_clamped(x), y, g);
}

/* σ''(x) = σ'(x)·(1 − 2σ(x)) = −sign(x)·σ'(x)·tanh(|x|/2), tanh(|x|/2) = (1 − e)/(1 + e).
 * Near 0 (k == 0) 1 − e is taken as −expm1(r) = −m, exact in relative terms; elsewhere 1 − e >= 0.29. */
KINLINE V k_sigmoid_second_grad(V x)
{
    sigparts s = sig_parts(x);
    dd g = mul_dd(s.sn, s.q);
    dd n = fast_two_sum(C(1.0), NEG(s.x.e.hi));
    n.lo = SUB(n.lo, s.x.e.lo);
    M k0 = EQ(s.x.k, C(0.0));
    n.hi = SEL(k0, NEG(s.x.m.hi), n.hi);
    n.lo = SEL(k0, NEG(s.x.m.lo), n.lo);
    dd t = mul_dd(n, s.q);
    V r = XORSIGN(NEG(mul_dd_round(g, t)), x);
    /* |x| < 2^-30: σ''(x) = −x/8·(1 − x²/3 + ...), and the x² term is below 2^-61 relative, so the float64
     * value is −x/8 itself, which can sit exactly on a midpoint of a subnormal float32/float16/bfloat16 result
     * while the true value lies just inside it (and near 2^-1074 the products above would lose bits to
     * subnormals). So −x/8, where exact (|x| >= 2^-1019), is moved one ULP towards 0, the side of the true
     * value: a float64 error <= 1 ULP (contract: 2) and correct rounding to the narrow formats. */
    V tiny = MUL(x, C(-0.125));
    tiny = SEL(GE(ABS(x), C(0x1p-1019)), TOWARD0(tiny), tiny);
    r = SEL(LT(ABS(x), C(0x1p-30)), tiny, r);
    return fix_nan(x, r);
}

/* log1p(e) for e = exp(−|x|) in (0, 1], as a double-double: log(1 + e) with 1 + e already at hand.
 * 1 + e holds e only to 2^-106 absolute, too little once e is small, so below 2^-30 the series
 * e − e²/2 + e³/3 (next term < 2^-90 relative) is used on e itself (which may be subnormal there). */
KINLINE dd log1p_e(sigparts s)
{
    M none = LT(C(0.0), C(0.0)); /* all-false mask */
    dd l = log_dd(s.d, none, s.d);
    V eh = s.x.e.hi;
    dd series = fast_two_sum(eh, SUB(s.x.e.lo, MUL(MUL(eh, eh), FMA(C(-1.0 / 3.0), eh, C(0.5)))));
    M small = LT(eh, C(0x1p-30));
    l.hi = SEL(small, series.hi, l.hi);
    l.lo = SEL(small, series.lo, l.lo);
    return l;
}

/* max(x, 0) + log1p(exp(−|x|)), rounded once; +inf where x = +inf. */
KINLINE V softplus_from(V x, dd l)
{
    V xp = MAX(x, C(0.0));
    dd s = two_sum(xp, l.hi);
    V r = ADD(s.hi, ADD(s.lo, l.lo));
    return SEL(EQ(x, C(INFINITY)), x, r);
}

KINLINE V k_softplus(V x)
{
    sigparts s = sig_parts(x);
    return fix_nan(x, softplus_from(x, log1p_e(s)));
}

/* log σ(x) = −softplus(−x). */
KINLINE V k_log_sigmoid(V x)
{
    sigparts s = sig_parts(x);
    return fix_nan(x, NEG(softplus_from(NEG(x), log1p_e(s))));
}

/* logit(p) = log(p/(1 − p)). For p >= 1/4: log1p(q), q = (2p − 1)/(1 − p) (2p − 1 is exact there, and
 * 1 − p, q are double-doubles), directly through log1p_core when |q| <= 0.41 so that the small results
 * around p = ½ keep their relative accuracy. For p < 1/4: log(q), q = p/(1 − p). One log per lane. */
KINLINE V k_logit(V p)
{
    M upper = GE(p, C(0.25));
    V pc = SEL(AND(GE(p, C(0.0)), LE(p, C(1.0))), p, C(0.5)); /* keep NaN/out-of-range lanes harmless */
    dd d = fast_two_sum(C(1.0), NEG(pc));
    d.hi = SEL(EQ(d.hi, C(0.0)), C(1.0), d.hi); /* p == 1: result fixed below */
    V num = SEL(upper, SUB(MUL(C(2.0), pc), C(1.0)), pc);
    num = SEL(EQ(pc, C(0.0)), C(1.0), num);   /* p == 0: result fixed below */
    dd q = div_dd(num, d);
    dd w = two_sum(C(1.0), q.hi);
    w.lo = ADD(w.lo, q.lo);
    /* log1p_core needs f in [√½ − 1, √2 − 1] (its polynomial covers |f/(2+f)| <= 0.1716) */
    M direct = AND(upper, AND(GE(q.hi, C(-0.29)), LE(q.hi, C(0.41))));
    dd arg = w;
    arg.hi = SEL(upper, w.hi, q.hi);
    arg.lo = SEL(upper, w.lo, q.lo);
    arg.hi = SEL(direct, C(1.0), arg.hi);   /* unused in direct lanes; keep it a normal number */
    dd l = log_dd(arg, direct, q);
    V r = ADD(l.hi, l.lo);
    r = SEL(EQ(p, C(0.0)), C(-INFINITY), r);
    r = SEL(EQ(p, C(1.0)), C(INFINITY), r);
    r = SEL(OR(LT(p, C(0.0)), GT(p, C(1.0))), C(NAN), r);
    return fix_nan(p, r);
}

/* BCE with logits, elementwise: loss = t·softplus(−z) + (1 − t)·softplus(z) and
 * dL/dz = (1 − t)·σ(z) − t·σ(−z) (= σ(z) − t), from one exponential and one log. A term whose target
 * weight is 0 is dropped, so z = ±inf with the matching hard target gives loss 0, not 0·inf = NaN. */
KINLINE void k_bce(V z, V t, V *loss, V *grad)
{
    sigparts s = sig_parts(z);
    dd l = log1p_e(s);
    V sp_pos = softplus_from(z, l);
    V sp_neg = softplus_from(NEG(z), l);
    M zneg = LT(z, C(0.0));
    V q = ADD(s.q.hi, s.q.lo), sn = ADD(s.sn.hi, s.sn.lo);
    V sig_pos = SEL(zneg, sn, q); /* σ(z) */
    V sig_neg = SEL(zneg, q, sn); /* σ(−z) */
    V wp = t, wn = SUB(C(1.0), t);
    M has_p = OR(LT(wp, C(0.0)), GT(wp, C(0.0))), has_n = OR(LT(wn, C(0.0)), GT(wn, C(0.0)));
    has_p = OR(has_p, ISNAN(wp));
    has_n = OR(has_n, ISNAN(wn));
    V zero = C(0.0);
    *loss = fix_nan(z, ADD(SEL(has_p, MUL(wp, sp_neg), zero), SEL(has_n, MUL(wn, sp_pos), zero)));
    *grad = fix_nan(z, SUB(SEL(has_n, MUL(wn, sig_pos), zero), SEL(has_p, MUL(wp, sig_neg), zero)));
}

/* ---------------------------------------------------------------------------------------------------- */
/* y·(1 − y), the backprop form from a saved output y = σ(x) (any y: NaN and ±inf as the formula gives).  */

/* float64: t = fl(1 − y) and its exact error e (TwoSum: t + e = 1 − y), then y·t + y·e with one FMA: only
 * fl(y·e), at most 2^-106·|y·t|, is rounded before the last rounding. Where 1 − y is exact (y in [½, 2]) e = 0
 * and the result is y·(1 − y) correctly rounded. y·e is NaN on ±inf lanes; dropping
 * it leaves y·t = −inf there, as y·(1 − y) gives. */
KINLINE V k_grad_from_output(V y)
{
    dd t = two_sum(C(1.0), NEG(y));
    V c = MUL(y, t.lo); /* y·e */
    return FMA(y, t.hi, SEL(ISNAN(c), C(0.0), c));
}

/* For y with at most 26 significant bits (float32, float16, bfloat16 values): y − y² is exact as the
 * double-double TwoSum(y, −y²) (y² is exact in float64), and is returned rounded to odd: truncated to 53 bits,
 * then the last bit set if anything was cut. Rounding that once more to a format of at most 51 bits gives
 * y·(1 − y) correctly rounded (rounding to odd makes the double rounding innocuous, Boldo & Melquiond). */
KINLINE V k_grad_from_output_odd(V y)
{
    dd v = two_sum(y, NEG(MUL(y, y)));
    V trunc = SEL_SIGN(XORSIGN(v.lo, v.hi), TOWARD0(v.hi), v.hi); /* v.lo against v.hi's sign: one step in */
    V odd = SEL(OR(LT(v.lo, C(0.0)), GT(v.lo, C(0.0))), SET_ODD(trunc), v.hi);
    return SEL(ISNAN(v.lo), MUL(y, SUB(C(1.0), y)), odd); /* ±inf, NaN: lo is NaN there */
}
