/* The AVX2 + FMA path: math_impl.h instantiated on __m256d (4 doubles per lane group).
 *
 * Only this translation unit is compiled for AVX2/FMA (through a target pragma, not a global -mavx2), so
 * the extension still loads on any x86-64; ufuncs.c calls into it only after __builtin_cpu_supports says
 * the CPU has both. float32 data are widened to double in registers (8 floats -> 2 x 4 doubles) and σ, σ'
 * use the short plain-double kernels of math_impl.h there. Large single outputs are written with
 * non-temporal stores, so that, like memcpy, the kernel does not read the destination into cache. */
#include "kernels.h"

#ifdef SIGMOIDLAB_HAVE_AVX2

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

typedef __m256d V;
typedef __m256d M;

static inline V v_signmask(void) { return _mm256_castsi256_pd(_mm256_set1_epi64x((long long)0x8000000000000000ull)); }

static inline int v_any(M m) { return !_mm256_testz_pd(m, m); }

static inline V v_pow2i(V k)
{
    __m256i b = _mm256_castpd_si256(_mm256_add_pd(k, _mm256_set1_pd(0x1p52 + 1023.0)));
    return _mm256_castsi256_pd(_mm256_slli_epi64(b, 52));
}

static inline V v_getexp(V w)
{
    __m256i e = _mm256_srli_epi64(_mm256_castpd_si256(w), 52);
    V d = _mm256_castsi256_pd(_mm256_or_si256(e, _mm256_set1_epi64x(0x4330000000000000ll)));
    return _mm256_sub_pd(d, _mm256_set1_pd(0x1p52 + 1023.0));
}

static inline V v_mant(V w)
{
    __m256i b = _mm256_castpd_si256(w);
    b = _mm256_and_si256(b, _mm256_set1_epi64x(0x000FFFFFFFFFFFFFll));
    b = _mm256_or_si256(b, _mm256_set1_epi64x(0x3FF0000000000000ll));
    return _mm256_castsi256_pd(b);
}

#define C(c) _mm256_set1_pd((double)(c))
#define ADD(a, b) _mm256_add_pd((a), (b))
#define SUB(a, b) _mm256_sub_pd((a), (b))
#define MUL(a, b) _mm256_mul_pd((a), (b))
#define DIV(a, b) _mm256_div_pd((a), (b))
#define FMA(a, b, c) _mm256_fmadd_pd((a), (b), (c))
#define ABS(a) _mm256_andnot_pd(v_signmask(), (a))
#define NEG(a) _mm256_xor_pd((a), v_signmask())
#define MIN(a, b) _mm256_min_pd((a), (b))
#define MAX(a, b) _mm256_max_pd((a), (b))
#define LT(a, b) _mm256_cmp_pd((a), (b), _CMP_LT_OQ)
#define LE(a, b) _mm256_cmp_pd((a), (b), _CMP_LE_OQ)
#define GT(a, b) _mm256_cmp_pd((a), (b), _CMP_GT_OQ)
#define GE(a, b) _mm256_cmp_pd((a), (b), _CMP_GE_OQ)
#define EQ(a, b) _mm256_cmp_pd((a), (b), _CMP_EQ_OQ)
#define ISNAN(a) _mm256_cmp_pd((a), (a), _CMP_UNORD_Q)
#define AND(a, b) _mm256_and_pd((a), (b))
#define OR(a, b) _mm256_or_pd((a), (b))
#define SEL(m, a, b) _mm256_blendv_pd((b), (a), (m))
#define RINT(a) _mm256_round_pd((a), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define POW2I(k) v_pow2i(k)
#define GETEXP(w) v_getexp(w)
#define MANT(w) v_mant(w)
#define XORSIGN(a, s) _mm256_xor_pd((a), _mm256_and_pd((s), v_signmask()))
#define FNMA(a, b, c) _mm256_fnmadd_pd((a), (b), (c))
#define FMS(a, b, c) _mm256_fmsub_pd((a), (b), (c))
#define NABS(a) _mm256_or_pd((a), v_signmask())
#define NGE(a, b) _mm256_cmp_pd((a), (b), _CMP_NGE_UQ)
#define ANY(m) v_any(m)
#define SEL_SIGN(s, a, b) _mm256_blendv_pd((b), (a), (s))
#define POW2_BITS(w) _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_castpd_si256(w), 52))
#define EXP2_SCALE(w) _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_srli_epi64(_mm256_castpd_si256(w), EXP2_BITS), 52))
#define EXP2_LOOKUP(w, hi, lo) v_exp2_lookup((w), (hi), (lo))
#define TOWARD0(a) _mm256_castsi256_pd(_mm256_sub_epi64(_mm256_castpd_si256(a), _mm256_set1_epi64x(1)))
#define SET_ODD(a) _mm256_or_pd((a), _mm256_castsi256_pd(_mm256_set1_epi64x(1)))

static inline void v_exp2_lookup(V w, V *hi, V *lo);

#include "math_impl.h"

/* Four (hi, lo) pairs of exp2_table by 16-byte loads, transposed: faster than two AVX2 gathers on Zen 3. */
static inline void v_exp2_lookup(V w, V *hi, V *lo)
{
    long long j[4];
    _mm256_storeu_si256((__m256i *)j, _mm256_and_si256(_mm256_castpd_si256(w), _mm256_set1_epi64x(127)));
    __m128d p0 = _mm_loadu_pd(exp2_table + 2 * j[0]), p1 = _mm_loadu_pd(exp2_table + 2 * j[1]);
    __m128d p2 = _mm_loadu_pd(exp2_table + 2 * j[2]), p3 = _mm_loadu_pd(exp2_table + 2 * j[3]);
    V a = _mm256_insertf128_pd(_mm256_castpd128_pd256(p0), p2, 1); /* h0 l0 | h2 l2 */
    V b = _mm256_insertf128_pd(_mm256_castpd128_pd256(p1), p3, 1); /* h1 l1 | h3 l3 */
    *hi = _mm256_unpacklo_pd(a, b);
    *lo = _mm256_unpackhi_pd(a, b);
}

/* ---- loading and storing: 4 doubles, or 8 floats as two groups of 4 doubles ---- */

static inline void st_f64(double *p, V v, int stream)
{
    if (stream)
        _mm256_stream_pd(p, v);
    else
        _mm256_storeu_pd(p, v);
}

static inline void ld_f32(const float *p, V *lo, V *hi)
{
    __m256 v = _mm256_loadu_ps(p);
    *lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
    *hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
}

static inline void st_f32(float *p, V lo, V hi, int stream)
{
    __m256 v = _mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo));
    if (stream)
        _mm256_stream_ps(p, v);
    else
        _mm256_storeu_ps(p, v);
}

/* Elements to process before the output pointer is 32-byte aligned (streaming stores need it). */
static inline ptrdiff_t head_count(const void *y, size_t itemsize, ptrdiff_t n)
{
    uintptr_t mis = (uintptr_t)y & 31;
    if (mis == 0 || mis % itemsize) return 0;
    ptrdiff_t h = (ptrdiff_t)((32 - mis) / itemsize);
    return h < n ? h : n;
}

/* ---- the ops by number ----
 * Every entry point below is a driver called with a constant op, and everything here is forced inline, so the
 * switches fold away and each entry point compiles to its own loop: one loop structure, no copies. OP_PAIR is
 * the fused (σ, σ'), the only op with a second output (g). */
#define OP_PAIR N_UNARY

KINLINE V op64(int op, V x)
{
    switch (op) {
    case OP_SIGMOID: return k_sigmoid(x);
    case OP_SIGMOID_GRAD: return k_sigmoid_grad(x);
    case OP_SIGMOID_SECOND_GRAD: return k_sigmoid_second_grad(x);
    case OP_LOG_SIGMOID: return k_log_sigmoid(x);
    case OP_SOFTPLUS: return k_softplus(x);
    case OP_LOGIT: return k_logit(x);
    default: return k_grad_from_output(x);
    }
}

/* float32 data: σ and σ' have their short kernels, y·(1 − y) its round-to-odd one; the rest are float64's. */
KINLINE V op32(int op, V x)
{
    switch (op) {
    case OP_SIGMOID: return k32_sigmoid(x);
    case OP_SIGMOID_GRAD: return k32_sigmoid_grad(x);
    case OP_GRAD_FROM_OUTPUT: return k_grad_from_output_odd(x);
    default: return op64(op, x);
    }
}

/* One vector of results: *a, and *b for the pair. */
KINLINE void step64(int op, V x, V *a, V *b)
{
    if (op == OP_PAIR)
        k_sigmoid_and_grad(x, a, b);
    else
        *a = op64(op, x);
}

KINLINE void step32(int op, V x, V *a, V *b)
{
    if (op == OP_PAIR)
        k32_sigmoid_and_grad(x, a, b);
    else
        *a = op32(op, x);
}

/* Stores: y streamed on request, g (the pair's σ') always plain. Non-temporal stores to two output streams
 * at once measured 1.5× slower than plain ones at 2·10⁷ elements on the 2-core AMD EPYC (Zen 3), float32 and
 * float64 alike, so the pair is always driven with stream = 0. */
KINLINE void put64(int op, double *y, double *g, V a, V b, int stream)
{
    st_f64(y, a, stream);
    if (op == OP_PAIR) _mm256_storeu_pd(g, b);
}

KINLINE void put32(int op, float *y, float *g, V a0, V a1, V b0, V b1, int stream)
{
    st_f32(y, a0, a1, stream);
    if (op == OP_PAIR) st_f32(g, b0, b1, 0);
}

/* ---- strip-mined blocks for the bandwidth-critical σ, σ' and the pair ----
 * Blocks of STRIP elements in two passes: exp(−|x|) for the whole block into an L1-resident buffer, then
 * 1/(1 + e) and the results. In one pass each vector is a single ~110-cycle dependency chain, and Zen 3's
 * floating-point scheduler holds only about four such vectors in flight, so the loop is latency-bound (~30
 * cycles per 4 doubles); two chains of half the length overlap more of them (~23 cycles, measured). The results
 * are bit-identical: the same operations run in another order. A block with a lane the fast path leaves out
 * (|x| > FAST_MAX, NaN) fixes those vectors up with the careful kernels. */
#define STRIP 64

KINLINE int is_strip(int op)
{
    return op == OP_SIGMOID || op == OP_SIGMOID_GRAD || op == OP_PAIR;
}

static inline M strip_exp_f64(const double *x, double *eh, double *el)
{
    M slow = _mm256_setzero_pd();
    for (int j = 0; j < STRIP; j += 4) {
        V na = NABS(_mm256_loadu_pd(x + j));
        slow = OR(slow, needs_careful(na));
        dd e = fast_exp(na);
        _mm256_store_pd(eh + j, e.hi);
        _mm256_store_pd(el + j, e.lo);
    }
    return slow;
}

static inline void strip_exp_f32(const float *x, double *e)
{
    for (int j = 0; j < STRIP; j += 8) {
        V lo, hi;
        ld_f32(x + j, &lo, &hi);
        _mm256_store_pd(e + j, exp_neg_f32_clamped(lo));
        _mm256_store_pd(e + j + 4, exp_neg_f32_clamped(hi));
    }
}

/* The second pass on one vector: from e (eh, el at j), the fast results, and the careful ones where needed. */
KINLINE void strip_fin64(int op, V x, const double *eh, const double *el, int j, int any_slow, V *a, V *b)
{
    dd e = {_mm256_load_pd(eh + j), _mm256_load_pd(el + j)};
    fastparts f = fast_recip(e);
    if (op != OP_SIGMOID_GRAD) *a = fast_sigmoid(x, f);
    if (op == OP_SIGMOID_GRAD) *a = fast_sigmoid_grad(f);
    if (op == OP_PAIR) *b = fast_sigmoid_grad(f);
    if (any_slow) {
        M slow = needs_careful(NABS(x));
        if (ANY(slow)) {
            V ca, cb = *b;
            if (op == OP_PAIR) k_sigmoid_and_grad_dd(x, &ca, &cb);
            if (op == OP_SIGMOID) ca = k_sigmoid_dd(x);
            if (op == OP_SIGMOID_GRAD) ca = k_sigmoid_grad_dd(x);
            *a = SEL(slow, ca, *a);
            *b = SEL(slow, cb, *b);
        }
    }
}

KINLINE void strip_fin32(int op, V e, V *a, V *b)
{
    if (op == OP_PAIR) k32_sigmoid_and_grad_from(e, a, b);
    if (op == OP_SIGMOID) *a = k32_sigmoid_from(e);
    if (op == OP_SIGMOID_GRAD) *a = k32_sigmoid_grad_from(e);
}

/* ---- bulk: a multiple of the block size from the start of the range; returns how many it did ---- */

KINLINE ptrdiff_t bulk64(int op, const double *x, double *y, double *g, ptrdiff_t n, int stream)
{
    ptrdiff_t i = 0;
    V b = _mm256_setzero_pd();
    if (is_strip(op)) {
        double eh[STRIP] __attribute__((aligned(32))), el[STRIP] __attribute__((aligned(32)));
        for (; i + STRIP <= n; i += STRIP) {
            int any_slow = ANY(strip_exp_f64(x + i, eh, el));
            for (int j = 0; j < STRIP; j += 4) {
                V a;
                strip_fin64(op, _mm256_loadu_pd(x + i + j), eh, el, j, any_slow, &a, &b);
                put64(op, y + i + j, g + i + j, a, b, stream);
            }
        }
        return i;
    }
    for (; i + 16 <= n; i += 16) { /* four independent vectors per step: the kernels are latency chains */
        V a0 = op64(op, _mm256_loadu_pd(x + i)), a1 = op64(op, _mm256_loadu_pd(x + i + 4));
        V a2 = op64(op, _mm256_loadu_pd(x + i + 8)), a3 = op64(op, _mm256_loadu_pd(x + i + 12));
        st_f64(y + i, a0, stream);
        st_f64(y + i + 4, a1, stream);
        st_f64(y + i + 8, a2, stream);
        st_f64(y + i + 12, a3, stream);
    }
    return i;
}

KINLINE ptrdiff_t bulk32(int op, const float *x, float *y, float *g, ptrdiff_t n, int stream)
{
    ptrdiff_t i = 0;
    V b0 = _mm256_setzero_pd(), b1 = b0;
    if (is_strip(op)) {
        double e[STRIP] __attribute__((aligned(32)));
        for (; i + STRIP <= n; i += STRIP) {
            strip_exp_f32(x + i, e);
            for (int j = 0; j < STRIP; j += 8) {
                V a0, a1;
                strip_fin32(op, _mm256_load_pd(e + j), &a0, &b0);
                strip_fin32(op, _mm256_load_pd(e + j + 4), &a1, &b1);
                put32(op, y + i + j, g + i + j, a0, a1, b0, b1, stream);
            }
        }
        return i;
    }
    for (; i + 16 <= n; i += 16) {
        V l0, h0, l1, h1;
        ld_f32(x + i, &l0, &h0);
        ld_f32(x + i + 8, &l1, &h1);
        V a = op32(op, l0), b = op32(op, h0), c = op32(op, l1), d = op32(op, h1);
        st_f32(y + i, a, b, stream);
        st_f32(y + i + 8, c, d, stream);
    }
    return i;
}

/* ---- drivers: alignment for streaming stores, the bulk, single vectors, a padded tail ---- */

/* Fewer than 4 (8) elements through zero-padded buffers (the padding lanes compute the op at 0). */
KINLINE void tail64(int op, const double *x, double *y, double *g, ptrdiff_t n)
{
    double bx[4] = {0, 0, 0, 0}, by[4], bg[4];
    V a, b = _mm256_setzero_pd();
    memcpy(bx, x, (size_t)n * sizeof(double));
    step64(op, _mm256_loadu_pd(bx), &a, &b);
    _mm256_storeu_pd(by, a);
    memcpy(y, by, (size_t)n * sizeof(double));
    if (op == OP_PAIR) {
        _mm256_storeu_pd(bg, b);
        memcpy(g, bg, (size_t)n * sizeof(double));
    }
}

KINLINE void tail32(int op, const float *x, float *y, float *g, ptrdiff_t n)
{
    float bx[8] = {0, 0, 0, 0, 0, 0, 0, 0}, by[8], bg[8];
    V lo, hi, a0, a1, b0 = _mm256_setzero_pd(), b1 = b0;
    memcpy(bx, x, (size_t)n * sizeof(float));
    ld_f32(bx, &lo, &hi);
    step32(op, lo, &a0, &b0);
    step32(op, hi, &a1, &b1);
    st_f32(by, a0, a1, 0);
    memcpy(y, by, (size_t)n * sizeof(float));
    if (op == OP_PAIR) {
        st_f32(bg, b0, b1, 0);
        memcpy(g, bg, (size_t)n * sizeof(float));
    }
}

KINLINE void drive64(int op, const double *x, double *y, double *g, ptrdiff_t n, int stream)
{
    ptrdiff_t i = 0;
    V a, b = _mm256_setzero_pd();
    if (stream) {
        i = head_count(y, sizeof(double), n);
        if (i) tail64(op, x, y, g, i);
        stream = ((uintptr_t)(y + i) & 31) == 0;
    }
    i += bulk64(op, x + i, y + i, g + i, n - i, stream);
    for (; i + 4 <= n; i += 4) {
        step64(op, _mm256_loadu_pd(x + i), &a, &b);
        put64(op, y + i, g + i, a, b, stream);
    }
    if (i < n) tail64(op, x + i, y + i, g + i, n - i);
    if (stream) _mm_sfence();
}

KINLINE void drive32(int op, const float *x, float *y, float *g, ptrdiff_t n, int stream)
{
    ptrdiff_t i = 0;
    V lo, hi, a0, a1, b0 = _mm256_setzero_pd(), b1 = b0;
    if (stream) {
        i = head_count(y, sizeof(float), n);
        if (i) tail32(op, x, y, g, i);
        stream = ((uintptr_t)(y + i) & 31) == 0;
    }
    i += bulk32(op, x + i, y + i, g + i, n - i, stream);
    for (; i + 8 <= n; i += 8) {
        ld_f32(x + i, &lo, &hi);
        step32(op, lo, &a0, &b0);
        step32(op, hi, &a1, &b1);
        put32(op, y + i, g + i, a0, a1, b0, b1, stream);
    }
    if (i < n) tail32(op, x + i, y + i, g + i, n - i);
    if (stream) _mm_sfence();
}

/* The table's entry points: one driver call each, with the op constant (g = y: only the pair writes g). */
#define DEF_UNARY(name, op)                                                                             \
    static void name##_f64(const double *x, double *y, ptrdiff_t n, int stream)                         \
    {                                                                                                   \
        drive64(op, x, y, y, n, stream);                                                               \
    }                                                                                                   \
    static void name##_f32(const float *x, float *y, ptrdiff_t n, int stream)                           \
    {                                                                                                   \
        drive32(op, x, y, y, n, stream);                                                               \
    }

DEF_UNARY(sigmoid, OP_SIGMOID)
DEF_UNARY(sigmoid_grad, OP_SIGMOID_GRAD)
DEF_UNARY(sigmoid_second_grad, OP_SIGMOID_SECOND_GRAD)
DEF_UNARY(log_sigmoid, OP_LOG_SIGMOID)
DEF_UNARY(softplus, OP_SOFTPLUS)
DEF_UNARY(logit, OP_LOGIT)
DEF_UNARY(grad_from_output, OP_GRAD_FROM_OUTPUT)

static void sg_f64(const double *x, double *y, double *g, ptrdiff_t n, int stream)
{
    (void)stream;
    drive64(OP_PAIR, x, y, g, n, 0);
}

static void sg_f32(const float *x, float *y, float *g, ptrdiff_t n, int stream)
{
    (void)stream;
    drive32(OP_PAIR, x, y, g, n, 0);
}

/* BCE is not on the bandwidth-critical list: plain stores, no alignment games. */
static void bce_f64(const double *z, const double *t, double *loss, double *grad, ptrdiff_t n, int stream)
{
    ptrdiff_t i = 0;
    (void)stream;
    for (; i + 4 <= n; i += 4) {
        V l, g;
        k_bce(_mm256_loadu_pd(z + i), _mm256_loadu_pd(t + i), &l, &g);
        _mm256_storeu_pd(loss + i, l);
        _mm256_storeu_pd(grad + i, g);
    }
    if (i < n) {
        double bz[4] = {0, 0, 0, 0}, bt[4] = {0, 0, 0, 0}, bl[4], bg[4];
        V l, g;
        memcpy(bz, z + i, (size_t)(n - i) * sizeof(double));
        memcpy(bt, t + i, (size_t)(n - i) * sizeof(double));
        k_bce(_mm256_loadu_pd(bz), _mm256_loadu_pd(bt), &l, &g);
        _mm256_storeu_pd(bl, l);
        _mm256_storeu_pd(bg, g);
        memcpy(loss + i, bl, (size_t)(n - i) * sizeof(double));
        memcpy(grad + i, bg, (size_t)(n - i) * sizeof(double));
    }
}

static void bce_f32(const float *z, const float *t, float *loss, float *grad, ptrdiff_t n, int stream)
{
    ptrdiff_t i = 0;
    (void)stream;
    for (; i < n; i += 8) {
        float bz[8] = {0, 0, 0, 0, 0, 0, 0, 0}, bt[8] = {0, 0, 0, 0, 0, 0, 0, 0}, bl[8], bg[8];
        ptrdiff_t m = n - i < 8 ? n - i : 8;
        V z0, z1, t0, t1, l0, g0, l1, g1;
        memcpy(bz, z + i, (size_t)m * sizeof(float));
        memcpy(bt, t + i, (size_t)m * sizeof(float));
        ld_f32(bz, &z0, &z1);
        ld_f32(bt, &t0, &t1);
        k_bce(z0, t0, &l0, &g0);
        k_bce(z1, t1, &l1, &g1);
        st_f32(bl, l0, l1, 0);
        st_f32(bg, g0, g1, 0);
        memcpy(loss + i, bl, (size_t)m * sizeof(float));
        memcpy(grad + i, bg, (size_t)m * sizeof(float));
    }
}

const kernel_table sigmoidlab_avx2_kernels = {
    "avx2",
    {sigmoid_f64, sigmoid_grad_f64, sigmoid_second_grad_f64, log_sigmoid_f64, softplus_f64, logit_f64,
     grad_from_output_f64},
    {sigmoid_f32, sigmoid_grad_f32, sigmoid_second_grad_f32, log_sigmoid_f32, softplus_f32, logit_f32,
     grad_from_output_f32},
    sg_f64,
    sg_f32,
    bce_f64,
    bce_f32,
};

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#endif /* SIGMOIDLAB_HAVE_AVX2 */
