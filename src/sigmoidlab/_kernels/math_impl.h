/* The sigmoid family in float64, written once over an abstract vector type and instantiated twice:
 * scalar.c (V = double) and avx2.c (V = __m256d). The including file defines V, M (a lane mask) and the
 * operations below; everything here is branch-free so that both instantiations execute the same
 * sequence of IEEE operations and give bit-identical results (both files are compiled with
 * -ffp-contract=off, so an FMA appears only where FMA() is written).
 *
 * Operations the includer provides:
 *   C(c) broadcast constant; ADD SUB MUL DIV; FMA(a,b,c) = a*b+c with one rounding; ABS NEG;
 *   MIN(a,b)/MAX(a,b) (return b when either is NaN); LT LE GT GE EQ (masks); ISNAN; AND OR;
 *   SEL(m, a, b) = m ? a : b; RINT (to nearest integer); POW2I(k) = 2^k for integral k in [-1022, 1023];
 *   GETEXP(w) = floor(log2 w) and MANT(w) = w / 2^floor(log2 w) for positive normal w; XORSIGN(a, s)
 *   flips the sign of a where s has its sign bit set; FNMA(a,b,c) = c − a*b and FMS(a,b,c) = a*b − c
 *   (one rounding); NABS(a) = −|a|; NGE(a,b) = !(a >= b) (true on NaN); ANY(m): some lane set;
 *   SEL_SIGN(s, a, b) = sign bit of s ? a : b; POW2_BITS(w) = 2^(low 12 bits of w's encoding − 1023);
 *   TOWARD0(a) = the next double towards 0 from a finite nonzero a; EXP2_SCALE(w) = 2^(low bits of w's
 *   encoding >> 7 − 1023) and EXP2_LOOKUP(w, &hi, &lo) = exp2_table[2j], exp2_table[2j + 1] for j = the low
 *   7 bits of w's encoding (the table-driven exp of the fast path).
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
 *   Polynomial coefficients come from benchmarks/kernel_coefficients.py.
 */

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
 * serves the lanes the fast path below leaves out (|x| > 708, NaN). */
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
/* The table replaced a degree-10 polynomial on |r| <= ln2/2 (bound 0.84 ULP): 7% less time per element on */
/* Zen 3 (best of 400 alternating in-cache runs), with the lookup as four 16-byte loads (AVX2 gathers were */
/* no faster).                                                                                            */
/* Coefficients and table: benchmarks/kernel_coefficients.py.                                              */

#define SHIFTER (0x1.8p52 + 1023.0) /* fl(v + SHIFTER) holds round(v) + 1023 in its low mantissa bits */
#define EXP2_BITS 7
#define SHIFTER_T (0x1.8p52 + 1023.0 * 128) /* low mantissa bits of fl(v + SHIFTER_T): round(v) + 1023·128 */
#define INV_LN2_128 (128 * INV_LN2)
#define L_HI 0x1.62e42fefa0000p-8 /* ln2/128 to 36 bits */
#define L_LO 0x1.cf79abc9e3b3ap-47
#define FAST_MAX 700.0

/* 2^(j/128), j = 0..127, as hi, lo pairs (the lookup loads a pair at a time). */
static const double exp2_table[256] = {
    0x1.0000000000000p+0, 0x0.0p+0, /* j = 0 */
    0x1.0163da9fb3335p+0, 0x1.b61299ab8cdb7p-54,
    0x1.02c9a3e778061p+0, -0x1.19083535b085dp-56,
    0x1.04315e86e7f85p+0, -0x1.0a31c1977c96ep-54,
    0x1.059b0d3158574p+0, 0x1.d73e2a475b465p-55,
    0x1.0706b29ddf6dep+0, -0x1.c91dfe2b13c27p-55,
    0x1.0874518759bc8p+0, 0x1.186be4bb284ffp-57,
    0x1.09e3ecac6f383p+0, 0x1.1487818316136p-54,
    0x1.0b5586cf9890fp+0, 0x1.8a62e4adc610bp-54,
    0x1.0cc922b7247f7p+0, 0x1.01edc16e24f71p-54,
    0x1.0e3ec32d3d1a2p+0, 0x1.03a1727c57b53p-59,
    0x1.0fb66affed31bp+0, -0x1.b9bedc44ebd7bp-57,
    0x1.11301d0125b51p+0, -0x1.6c51039449b3ap-54,
    0x1.12abdc06c31ccp+0, -0x1.1b514b36ca5c7p-58,
    0x1.1429aaea92de0p+0, -0x1.32fbf9af1369ep-54,
    0x1.15a98c8a58e51p+0, 0x1.2406ab9eeab0ap-55,
    0x1.172b83c7d517bp+0, -0x1.19041b9d78a76p-55, /* j = 16 */
    0x1.18af9388c8deap+0, -0x1.11023d1970f6cp-54,
    0x1.1a35beb6fcb75p+0, 0x1.e5b4c7b4968e4p-55,
    0x1.1bbe084045cd4p+0, -0x1.95386352ef607p-54,
    0x1.1d4873168b9aap+0, 0x1.e016e00a2643cp-54,
    0x1.1ed5022fcd91dp+0, -0x1.1df98027bb78cp-54,
    0x1.2063b88628cd6p+0, 0x1.dc775814a8495p-55,
    0x1.21f49917ddc96p+0, 0x1.2a97e9494a5eep-55,
    0x1.2387a6e756238p+0, 0x1.9b07eb6c70573p-54,
    0x1.251ce4fb2a63fp+0, 0x1.ac155bef4f4a4p-55,
    0x1.26b4565e27cddp+0, 0x1.2bd339940e9d9p-55,
    0x1.284dfe1f56381p+0, -0x1.a4c3a8c3f0d7ep-54,
    0x1.29e9df51fdee1p+0, 0x1.612e8afad1255p-55,
    0x1.2b87fd0dad990p+0, -0x1.10adcd6381aa4p-59,
    0x1.2d285a6e4030bp+0, 0x1.0024754db41d5p-54,
    0x1.2ecafa93e2f56p+0, 0x1.1ca0f45d52383p-56,
    0x1.306fe0a31b715p+0, 0x1.6f46ad23182e4p-55, /* j = 32 */
    0x1.32170fc4cd831p+0, 0x1.a9ce78e18047cp-55,
    0x1.33c08b26416ffp+0, 0x1.32721843659a6p-54,
    0x1.356c55f929ff1p+0, -0x1.b5cee5c4e4628p-55,
    0x1.371a7373aa9cbp+0, -0x1.63aeabf42eae2p-54,
    0x1.38cae6d05d866p+0, -0x1.e958d3c9904bdp-54,
    0x1.3a7db34e59ff7p+0, -0x1.5e436d661f5e3p-56,
    0x1.3c32dc313a8e5p+0, -0x1.efff8375d29c3p-54,
    0x1.3dea64c123422p+0, 0x1.ada0911f09ebcp-55,
    0x1.3fa4504ac801cp+0, -0x1.7d023f956f9f3p-54,
    0x1.4160a21f72e2ap+0, -0x1.ef3691c309278p-58,
    0x1.431f5d950a897p+0, -0x1.1c7dde35f7999p-55,
    0x1.44e086061892dp+0, 0x1.89b7a04ef80d0p-59,
    0x1.46a41ed1d0057p+0, 0x1.c944bd1648a76p-54,
    0x1.486a2b5c13cd0p+0, 0x1.3c1a3b69062f0p-56,
    0x1.4a32af0d7d3dep+0, 0x1.9cb62f3d1be56p-54,
    0x1.4bfdad5362a27p+0, 0x1.d4397afec42e2p-56, /* j = 48 */
    0x1.4dcb299fddd0dp+0, 0x1.8ecdbbc6a7833p-54,
    0x1.4f9b2769d2ca7p+0, -0x1.4b309d25957e3p-54,
    0x1.516daa2cf6642p+0, -0x1.f768569bd93efp-55,
    0x1.5342b569d4f82p+0, -0x1.07abe1db13cadp-55,
    0x1.551a4ca5d920fp+0, -0x1.d689cefede59bp-55,
    0x1.56f4736b527dap+0, 0x1.9bb2c011d93adp-54,
    0x1.58d12d497c7fdp+0, 0x1.295e15b9a1de8p-55,
    0x1.5ab07dd485429p+0, 0x1.6324c054647adp-54,
    0x1.5c9268a5946b7p+0, 0x1.c4b1b816986a2p-60,
    0x1.5e76f15ad2148p+0, 0x1.ba6f93080e65ep-54,
    0x1.605e1b976dc09p+0, -0x1.3e2429b56de47p-54,
    0x1.6247eb03a5585p+0, -0x1.383c17e40b497p-54,
    0x1.6434634ccc320p+0, -0x1.c483c759d8933p-55,
    0x1.6623882552225p+0, -0x1.bb60987591c34p-54,
    0x1.68155d44ca973p+0, 0x1.038ae44f73e65p-57,
    0x1.6a09e667f3bcdp+0, -0x1.bdd3413b26456p-54, /* j = 64 */
    0x1.6c012750bdabfp+0, -0x1.2895667ff0b0dp-56,
    0x1.6dfb23c651a2fp+0, -0x1.bbe3a683c88abp-57,
    0x1.6ff7df9519484p+0, -0x1.83c0f25860ef6p-55,
    0x1.71f75e8ec5f74p+0, -0x1.16e4786887a99p-55,
    0x1.73f9a48a58174p+0, -0x1.0a8d96c65d53cp-54,
    0x1.75feb564267c9p+0, -0x1.0245957316dd3p-54,
    0x1.780694fde5d3fp+0, 0x1.866b80a02162dp-54,
    0x1.7a11473eb0187p+0, -0x1.41577ee04992fp-55,
    0x1.7c1ed0130c132p+0, 0x1.f124cd1164dd6p-54,
    0x1.7e2f336cf4e62p+0, 0x1.05d02ba15797ep-56,
    0x1.80427543e1a12p+0, -0x1.27c86626d972bp-54,
    0x1.82589994cce13p+0, -0x1.d4c1dd41532d8p-54,
    0x1.8471a4623c7adp+0, -0x1.8d684a341cdfbp-55,
    0x1.868d99b4492edp+0, -0x1.fc6f89bd4f6bap-54,
    0x1.88ac7d98a6699p+0, 0x1.994c2f37cb53ap-54,
    0x1.8ace5422aa0dbp+0, 0x1.6e9f156864b27p-54, /* j = 80 */
    0x1.8cf3216b5448cp+0, -0x1.0d55e32e9e3aap-56,
    0x1.8f1ae99157736p+0, 0x1.5cc13a2e3976cp-55,
    0x1.9145b0b91ffc6p+0, -0x1.dd6792e582524p-54,
    0x1.93737b0cdc5e5p+0, -0x1.75fc781b57ebcp-57,
    0x1.95a44cbc8520fp+0, -0x1.64b7c96a5f039p-56,
    0x1.97d829fde4e50p+0, -0x1.d185b7c1b85d1p-54,
    0x1.9a0f170ca07bap+0, -0x1.173bd91cee632p-54,
    0x1.9c49182a3f090p+0, 0x1.c7c46b071f2bep-56,
    0x1.9e86319e32323p+0, 0x1.824ca78e64c6ep-56,
    0x1.a0c667b5de565p+0, -0x1.359495d1cd533p-54,
    0x1.a309bec4a2d33p+0, 0x1.6305c7ddc36abp-54,
    0x1.a5503b23e255dp+0, -0x1.d2f6edb8d41e1p-54,
    0x1.a799e1330b358p+0, 0x1.bcb7ecac563c7p-54,
    0x1.a9e6b5579fdbfp+0, 0x1.0fac90ef7fd31p-54,
    0x1.ac36bbfd3f37ap+0, -0x1.f9234cae76cd0p-55,
    0x1.ae89f995ad3adp+0, 0x1.7a1cd345dcc81p-54, /* j = 96 */
    0x1.b0e07298db666p+0, -0x1.bdef54c80e425p-54,
    0x1.b33a2b84f15fbp+0, -0x1.2805e3084d708p-57,
    0x1.b59728de5593ap+0, -0x1.c71dfbbba6de3p-54,
    0x1.b7f76f2fb5e47p+0, -0x1.5584f7e54ac3bp-56,
    0x1.ba5b030a1064ap+0, -0x1.efcd30e54292ep-54,
    0x1.bcc1e904bc1d2p+0, 0x1.23dd07a2d9e84p-55,
    0x1.bf2c25bd71e09p+0, -0x1.efdca3f6b9c73p-54,
    0x1.c199bdd85529cp+0, 0x1.11065895048ddp-55,
    0x1.c40ab5fffd07ap+0, 0x1.b4537e083c60ap-54,
    0x1.c67f12e57d14bp+0, 0x1.2884dff483cadp-54,
    0x1.c8f6d9406e7b5p+0, 0x1.1acbc48805c44p-56,
    0x1.cb720dcef9069p+0, 0x1.503cbd1e949dbp-56,
    0x1.cdf0b555dc3fap+0, -0x1.dd83b53829d72p-55,
    0x1.d072d4a07897cp+0, -0x1.cbc3743797a9cp-54,
    0x1.d2f87080d89f2p+0, -0x1.d487b719d8578p-54,
    0x1.d5818dcfba487p+0, 0x1.2ed02d75b3707p-55, /* j = 112 */
    0x1.d80e316c98398p+0, -0x1.11ec18beddfe8p-54,
    0x1.da9e603db3285p+0, 0x1.c2300696db532p-54,
    0x1.dd321f301b460p+0, 0x1.2da5778f018c3p-54,
    0x1.dfc97337b9b5fp+0, -0x1.1a5cd4f184b5cp-54,
    0x1.e264614f5a129p+0, -0x1.7b627817a1496p-54,
    0x1.e502ee78b3ff6p+0, 0x1.39e8980a9cc8fp-55,
    0x1.e7a51fbc74c83p+0, 0x1.2d522ca0c8de2p-54,
    0x1.ea4afa2a490dap+0, -0x1.e9c23179c2893p-54,
    0x1.ecf482d8e67f1p+0, -0x1.c93f3b411ad8cp-54,
    0x1.efa1bee615a27p+0, 0x1.dc7f486a4b6b0p-54,
    0x1.f252b376bba97p+0, 0x1.3a1a5bf0d8e43p-54,
    0x1.f50765b6e4540p+0, 0x1.9d3e12dd8a18bp-54,
    0x1.f7bfdad9cbe14p+0, -0x1.dbb12d006350ap-54,
    0x1.fa7c1819e90d8p+0, 0x1.74853f3a5931ep-55,
    0x1.fd3c22b8f71f1p+0, 0x1.2eb74966579e7p-57,
};

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
    V q = FMA(FMA(C(0x1.11111153d6ccfp-7), r, C(0x1.55555acf8ded3p-5)), r2, FMA(C(0x1.555555555562ep-3), r, C(0x1.fffffffffff57p-2)));
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
