/* The contiguous-array kernels each instruction-set path provides, as one table per path. */
#ifndef SIGMOIDLAB_KERNELS_H
#define SIGMOIDLAB_KERNELS_H

#include <stddef.h>

enum {
    OP_SIGMOID,
    OP_SIGMOID_GRAD,
    OP_SIGMOID_SECOND_GRAD,
    OP_LOG_SIGMOID,
    OP_SOFTPLUS,
    OP_LOGIT,
    N_UNARY
};

/* `stream` asks for non-temporal stores (large outputs that will not fit in cache). */
typedef void (*unary_f64)(const double *x, double *y, ptrdiff_t n, int stream);
typedef void (*unary_f32)(const float *x, float *y, ptrdiff_t n, int stream);
typedef void (*pair_f64)(const double *x, double *y1, double *y2, ptrdiff_t n, int stream);
typedef void (*pair_f32)(const float *x, float *y1, float *y2, ptrdiff_t n, int stream);
typedef void (*bin2_f64)(const double *z, const double *t, double *loss, double *grad, ptrdiff_t n, int stream);
typedef void (*bin2_f32)(const float *z, const float *t, float *loss, float *grad, ptrdiff_t n, int stream);

typedef struct {
    const char *name;
    unary_f64 u64[N_UNARY];
    unary_f32 u32[N_UNARY];
    pair_f64 sg64;
    pair_f32 sg32;
    bin2_f64 bce64;
    bin2_f32 bce32;
} kernel_table;

extern const kernel_table sigmoidlab_scalar_kernels;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SIGMOIDLAB_HAVE_AVX2 1
extern const kernel_table sigmoidlab_avx2_kernels;
#endif

#endif
