/* The portable path: math_impl.h instantiated on plain doubles. Compiled without any ISA flag, so it runs
 * on every CPU; FMA() is C99 fma(), which glibc maps to the hardware instruction where there is one. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"

typedef double V;
typedef int M;

static inline double bits_to_d(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static inline uint64_t d_to_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static inline double s_min(double a, double b) { return a < b ? a : b; }
static inline double s_max(double a, double b) { return a > b ? a : b; }

/* Round to the nearest integer, ties to even, for |a| < 2^51 (adding 1.5·2^52 leaves no fraction bits). */
static inline double s_rint(double a)
{
    volatile double t = a + 0x1.8p52; /* volatile: keep the compiler from folding the pair away */
    return t - 0x1.8p52;
}

static inline double s_pow2i(double k)
{
    return bits_to_d(d_to_bits(k + (0x1p52 + 1023.0)) << 52);
}

static inline double s_getexp(double w) { return (double)(int)(d_to_bits(w) >> 52) - 1023.0; }

static inline double s_mant(double w)
{
    return bits_to_d((d_to_bits(w) & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull);
}

static inline double s_xorsign(double a, double s)
{
    return bits_to_d(d_to_bits(a) ^ (d_to_bits(s) & 0x8000000000000000ull));
}

#define C(c) ((double)(c))
#define ADD(a, b) ((a) + (b))
#define SUB(a, b) ((a) - (b))
#define MUL(a, b) ((a) * (b))
#define DIV(a, b) ((a) / (b))
#define FMA(a, b, c) fma((a), (b), (c))
#define ABS(a) fabs(a)
#define NEG(a) (-(a))
#define MIN(a, b) s_min((a), (b))
#define MAX(a, b) s_max((a), (b))
#define LT(a, b) ((a) < (b))
#define LE(a, b) ((a) <= (b))
#define GT(a, b) ((a) > (b))
#define GE(a, b) ((a) >= (b))
#define EQ(a, b) ((a) == (b))
#define ISNAN(a) ((a) != (a))
#define AND(a, b) ((a) && (b))
#define OR(a, b) ((a) || (b))
#define SEL(m, a, b) ((m) ? (a) : (b))
#define RINT(a) s_rint(a)
#define POW2I(k) s_pow2i(k)
#define GETEXP(w) s_getexp(w)
#define MANT(w) s_mant(w)
#define XORSIGN(a, s) s_xorsign((a), (s))
#define FNMA(a, b, c) fma(-(a), (b), (c))
#define FMS(a, b, c) fma((a), (b), -(c))
#define NABS(a) (-fabs(a))
#define NGE(a, b) (!((a) >= (b)))
#define ANY(m) (m)
#define SEL_SIGN(s, a, b) (signbit(s) ? (a) : (b))
#define POW2_BITS(w) bits_to_d(d_to_bits(w) << 52)
#define EXP2_SCALE(w) bits_to_d((d_to_bits(w) >> EXP2_BITS) << 52)
#define EXP2_LOOKUP(w, hi, lo) s_exp2_lookup((w), (hi), (lo))
#define TOWARD0(a) bits_to_d(d_to_bits(a) - 1)
#define SET_ODD(a) bits_to_d(d_to_bits(a) | 1)

static inline void s_exp2_lookup(double w, double *hi, double *lo);

#include "math_impl.h"

static inline void s_exp2_lookup(double w, double *hi, double *lo)
{
    size_t j = (size_t)(d_to_bits(w) & 127);
    *hi = exp2_table[2 * j];
    *lo = exp2_table[2 * j + 1];
}

#define DEF_UNARY(name, fn, fn32)                                                   \
    static void name##_f64(const double *x, double *y, ptrdiff_t n, int stream)     \
    {                                                                               \
        (void)stream;                                                               \
        for (ptrdiff_t i = 0; i < n; i++) y[i] = fn(x[i]);                          \
    }                                                                               \
    static void name##_f32(const float *x, float *y, ptrdiff_t n, int stream)       \
    {                                                                               \
        (void)stream;                                                               \
        for (ptrdiff_t i = 0; i < n; i++) y[i] = (float)fn32((double)x[i]);         \
    }

DEF_UNARY(sigmoid, k_sigmoid, k32_sigmoid)
DEF_UNARY(sigmoid_grad, k_sigmoid_grad, k32_sigmoid_grad)
DEF_UNARY(sigmoid_second_grad, k_sigmoid_second_grad, k_sigmoid_second_grad)
DEF_UNARY(log_sigmoid, k_log_sigmoid, k_log_sigmoid)
DEF_UNARY(softplus, k_softplus, k_softplus)
DEF_UNARY(logit, k_logit, k_logit)
DEF_UNARY(grad_from_output, k_grad_from_output, k_grad_from_output_odd)

/* y·(1 − y) for float16/bfloat16 values, rounded to odd (see math_impl.h): the ufunc loop rounds it once to the
 * narrow type. Every path uses this one, so the narrow results cannot differ between paths. */
void sigmoidlab_grad_from_output_odd(const double *y, double *out, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i++) out[i] = k_grad_from_output_odd(y[i]);
}

static void sg_f64(const double *x, double *y, double *g, ptrdiff_t n, int stream)
{
    (void)stream;
    for (ptrdiff_t i = 0; i < n; i++) k_sigmoid_and_grad(x[i], &y[i], &g[i]);
}

static void sg_f32(const float *x, float *y, float *g, ptrdiff_t n, int stream)
{
    (void)stream;
    for (ptrdiff_t i = 0; i < n; i++) {
        double a, b;
        k32_sigmoid_and_grad((double)x[i], &a, &b);
        y[i] = (float)a;
        g[i] = (float)b;
    }
}

static void bce_f64(const double *z, const double *t, double *loss, double *grad, ptrdiff_t n, int stream)
{
    (void)stream;
    for (ptrdiff_t i = 0; i < n; i++) {
        double l, g;
        k_bce(z[i], t[i], &l, &g);
        loss[i] = l;
        grad[i] = g;
    }
}

static void bce_f32(const float *z, const float *t, float *loss, float *grad, ptrdiff_t n, int stream)
{
    (void)stream;
    for (ptrdiff_t i = 0; i < n; i++) {
        double l, g;
        k_bce((double)z[i], (double)t[i], &l, &g);
        loss[i] = (float)l;
        grad[i] = (float)g;
    }
}

const kernel_table sigmoidlab_scalar_kernels = {
    "scalar",
    {sigmoid_f64, sigmoid_grad_f64, sigmoid_second_grad_f64, log_sigmoid_f64, softplus_f64, logit_f64,
     grad_from_output_f64},
    {sigmoid_f32, sigmoid_grad_f32, sigmoid_second_grad_f32, log_sigmoid_f32, softplus_f32, logit_f32,
     grad_from_output_f32},
    sg_f64,
    sg_f32,
    bce_f64,
    bce_f32,
};
