/* sigmoidlab._kernels._ufuncs: the sigmoid family as NumPy ufuncs.
 *
 * Type loops: float16 ('e'), float32 ('f'), float64 ('d'), plus a bfloat16 loop registered at import for
 * ml_dtypes' user dtype (register_bfloat16). Every loop computes in float64 with the kernels of
 * math_impl.h and rounds once to the output type (float32 σ, σ' and the pair with the short plain-double
 * kernels, y·(1 − y) for the 32- and 16-bit types rounded to odd first, everything else with the float64
 * ones); float16/bfloat16 conversions are in narrow.h, bit-exact.
 *
 * Dispatch: the kernel table (a path of kernels.h: scalar, avx2) is chosen at import from the CPU and
 * SIGMOIDLAB_KERNEL, and can be switched with set_kernel(). Contiguous float32/float64 data go straight to the
 * table's kernels, split over threads when large (pool.c); strided data and the narrow types go through
 * 256-element stack buffers (no heap temporaries).
 *
 * Floating-point status: the kernels raise flags internally (inexact, underflow in the subnormal tail,
 * invalid on NaN lanes of comparisons...). NumPy turns flags left set after a loop into warnings or errors,
 * but none of these functions ever signals a floating-point condition, so each loop restores the flags
 * it found on entry. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include <numpy/ufuncobject.h>

#include <fenv.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "narrow.h"
#include "pool.h"

static const kernel_table *active = &sigmoidlab_scalar_kernels;

/* ---------------------------------------------------------------------------------------------------- */
/* Contiguous drivers: range functions over the active table's kernels, which pool.c splits over threads. */

typedef struct {
    const kernel_table *k;
    int op;
    char *in[2];
    char *out[2];
} call_ctx;

static void range_u64(void *c, ptrdiff_t s, ptrdiff_t e, int stream)
{
    call_ctx *x = c;
    x->k->u64[x->op]((const double *)x->in[0] + s, (double *)x->out[0] + s, e - s, stream);
}

static void range_u32(void *c, ptrdiff_t s, ptrdiff_t e, int stream)
{
    call_ctx *x = c;
    x->k->u32[x->op]((const float *)x->in[0] + s, (float *)x->out[0] + s, e - s, stream);
}

static void range_sg64(void *c, ptrdiff_t s, ptrdiff_t e, int stream)
{
    call_ctx *x = c;
    x->k->sg64((const double *)x->in[0] + s, (double *)x->out[0] + s, (double *)x->out[1] + s, e - s, stream);
}

static void range_sg32(void *c, ptrdiff_t s, ptrdiff_t e, int stream)
{
    call_ctx *x = c;
    x->k->sg32((const float *)x->in[0] + s, (float *)x->out[0] + s, (float *)x->out[1] + s, e - s, stream);
}

static void range_bce64(void *c, ptrdiff_t s, ptrdiff_t e, int stream)
{
    call_ctx *x = c;
    x->k->bce64((const double *)x->in[0] + s, (const double *)x->in[1] + s, (double *)x->out[0] + s,
                (double *)x->out[1] + s, e - s, stream);
}

static void range_bce32(void *c, ptrdiff_t s, ptrdiff_t e, int stream)
{
    call_ctx *x = c;
    x->k->bce32((const float *)x->in[0] + s, (const float *)x->in[1] + s, (float *)x->out[0] + s,
                (float *)x->out[1] + s, e - s, stream);
}

/* ---------------------------------------------------------------------------------------------------- */
/* Element access for the buffered (strided or narrow-type) path.                                        */

enum { T_F64, T_F32, T_F16, T_BF16 };

static inline double load_as_double(const char *p, int t)
{
    switch (t) {
    case T_F64: return *(const double *)p;
    case T_F32: return (double)*(const float *)p;
    case T_F16: return half_to_double(*(const uint16_t *)p);
    default: return bf16_to_double(*(const uint16_t *)p);
    }
}

static inline void store_double(char *p, double v, int t)
{
    switch (t) {
    case T_F64: *(double *)p = v; break;
    case T_F32: *(float *)p = (float)v; break;
    case T_F16: *(uint16_t *)p = double_to_half(v); break;
    default: *(uint16_t *)p = double_to_bf16(v); break;
    }
}

#define BUF 256

typedef struct {
    fexcept_t flags;
} fpstate;

static inline void fp_save(fpstate *s) { fegetexceptflag(&s->flags, FE_ALL_EXCEPT); }
static inline void fp_restore(fpstate *s) { fesetexceptflag(&s->flags, FE_ALL_EXCEPT); }

/* ---------------------------------------------------------------------------------------------------- */
/* The ufunc loops. `data` carries the operation index.                                                  */

static void unary_loop(char **args, npy_intp const *dims, npy_intp const *steps, int t, int op)
{
    const kernel_table *k = active;
    npy_intp n = dims[0];
    char *in = args[0], *out = args[1];
    fpstate fs;
    fp_save(&fs);
    if (t == T_F64 && steps[0] == 8 && steps[1] == 8) {
        call_ctx c = {k, op, {in, NULL}, {out, NULL}};
        pool_for(n, 8, range_u64, &c);
    }
    else if (t == T_F32 && steps[0] == 4 && steps[1] == 4) {
        call_ctx c = {k, op, {in, NULL}, {out, NULL}};
        pool_for(n, 4, range_u32, &c);
    }
    else if (t == T_F32) { /* strided float32: the float32 kernels, so results do not depend on the layout */
        float bx[BUF], by[BUF];
        for (npy_intp i = 0; i < n; i += BUF) {
            npy_intp m = n - i < BUF ? n - i : BUF;
            for (npy_intp j = 0; j < m; j++) bx[j] = *(const float *)(in + (i + j) * steps[0]);
            k->u32[op](bx, by, m, 0);
            for (npy_intp j = 0; j < m; j++) *(float *)(out + (i + j) * steps[1]) = by[j];
        }
    }
    else {
        double bx[BUF], by[BUF];
        for (npy_intp i = 0; i < n; i += BUF) {
            npy_intp m = n - i < BUF ? n - i : BUF;
            for (npy_intp j = 0; j < m; j++) bx[j] = load_as_double(in + (i + j) * steps[0], t);
            if (op == OP_GRAD_FROM_OUTPUT && (t == T_F16 || t == T_BF16))
                sigmoidlab_grad_from_output_odd(bx, by, m); /* rounded to odd: store_double rounds it once */
            else
                k->u64[op](bx, by, m, 0);
            for (npy_intp j = 0; j < m; j++) store_double(out + (i + j) * steps[1], by[j], t);
        }
    }
    fp_restore(&fs);
}

static void pair_loop(char **args, npy_intp const *dims, npy_intp const *steps, int t)
{
    const kernel_table *k = active;
    npy_intp n = dims[0];
    fpstate fs;
    fp_save(&fs);
    if (t == T_F64 && steps[0] == 8 && steps[1] == 8 && steps[2] == 8) {
        call_ctx c = {k, 0, {args[0], NULL}, {args[1], args[2]}};
        pool_for(n, 16, range_sg64, &c);
    }
    else if (t == T_F32 && steps[0] == 4 && steps[1] == 4 && steps[2] == 4) {
        call_ctx c = {k, 0, {args[0], NULL}, {args[1], args[2]}};
        pool_for(n, 8, range_sg32, &c);
    }
    else if (t == T_F32) {
        float bx[BUF], by[BUF], bg[BUF];
        for (npy_intp i = 0; i < n; i += BUF) {
            npy_intp m = n - i < BUF ? n - i : BUF;
            for (npy_intp j = 0; j < m; j++) bx[j] = *(const float *)(args[0] + (i + j) * steps[0]);
            k->sg32(bx, by, bg, m, 0);
            for (npy_intp j = 0; j < m; j++) {
                *(float *)(args[1] + (i + j) * steps[1]) = by[j];
                *(float *)(args[2] + (i + j) * steps[2]) = bg[j];
            }
        }
    }
    else {
        double bx[BUF], by[BUF], bg[BUF];
        for (npy_intp i = 0; i < n; i += BUF) {
            npy_intp m = n - i < BUF ? n - i : BUF;
            for (npy_intp j = 0; j < m; j++) bx[j] = load_as_double(args[0] + (i + j) * steps[0], t);
            k->sg64(bx, by, bg, m, 0);
            for (npy_intp j = 0; j < m; j++) {
                store_double(args[1] + (i + j) * steps[1], by[j], t);
                store_double(args[2] + (i + j) * steps[2], bg[j], t);
            }
        }
    }
    fp_restore(&fs);
}

static void bce_loop(char **args, npy_intp const *dims, npy_intp const *steps, int t)
{
    const kernel_table *k = active;
    npy_intp n = dims[0];
    fpstate fs;
    fp_save(&fs);
    size_t sz = t == T_F64 ? 8 : 4;
    int contiguous = (t == T_F64 || t == T_F32) && (size_t)steps[0] == sz && (size_t)steps[1] == sz &&
                     (size_t)steps[2] == sz && (size_t)steps[3] == sz;
    if (contiguous) {
        call_ctx c = {k, 0, {args[0], args[1]}, {args[2], args[3]}};
        pool_for(n, 2 * (npy_intp)sz, t == T_F64 ? range_bce64 : range_bce32, &c);
    }
    else {
        double bz[BUF], bt[BUF], bl[BUF], bg[BUF];
        for (npy_intp i = 0; i < n; i += BUF) {
            npy_intp m = n - i < BUF ? n - i : BUF;
            for (npy_intp j = 0; j < m; j++) {
                bz[j] = load_as_double(args[0] + (i + j) * steps[0], t);
                bt[j] = load_as_double(args[1] + (i + j) * steps[1], t);
            }
            k->bce64(bz, bt, bl, bg, m, 0);
            for (npy_intp j = 0; j < m; j++) {
                store_double(args[2] + (i + j) * steps[2], bl[j], t);
                store_double(args[3] + (i + j) * steps[3], bg[j], t);
            }
        }
    }
    fp_restore(&fs);
}

#define DEF_LOOPS(T)                                                                                    \
    static void unary_##T(char **a, npy_intp const *d, npy_intp const *s, void *data)                   \
    {                                                                                                   \
        unary_loop(a, d, s, T, (int)(intptr_t)data);                                                    \
    }                                                                                                   \
    static void pair_##T(char **a, npy_intp const *d, npy_intp const *s, void *data)                    \
    {                                                                                                   \
        (void)data;                                                                                     \
        pair_loop(a, d, s, T);                                                                          \
    }                                                                                                   \
    static void bce_##T(char **a, npy_intp const *d, npy_intp const *s, void *data)                     \
    {                                                                                                   \
        (void)data;                                                                                     \
        bce_loop(a, d, s, T);                                                                           \
    }

DEF_LOOPS(T_F64)
DEF_LOOPS(T_F32)
DEF_LOOPS(T_F16)
DEF_LOOPS(T_BF16)

/* ---------------------------------------------------------------------------------------------------- */
/* Module: ufunc objects, kernel selection, threads.                                                     */

static PyUFuncGenericFunction unary_funcs[3] = {unary_T_F16, unary_T_F32, unary_T_F64};
static PyUFuncGenericFunction pair_funcs[3] = {pair_T_F16, pair_T_F32, pair_T_F64};
static PyUFuncGenericFunction bce_funcs[3] = {bce_T_F16, bce_T_F32, bce_T_F64};
static char unary_types[6] = {NPY_HALF, NPY_HALF, NPY_FLOAT, NPY_FLOAT, NPY_DOUBLE, NPY_DOUBLE};
static char pair_types[9] = {NPY_HALF,  NPY_HALF,  NPY_HALF,   NPY_FLOAT, NPY_FLOAT,
                             NPY_FLOAT, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE};
static char bce_types[12] = {NPY_HALF,  NPY_HALF,  NPY_HALF,  NPY_HALF,   NPY_FLOAT,  NPY_FLOAT,
                             NPY_FLOAT, NPY_FLOAT, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE};
static void *unary_data[N_UNARY][3];
static void *no_data[3] = {NULL, NULL, NULL};

static const struct {
    const char *name;
    const char *doc;
} unary_specs[N_UNARY] = {
    {"sigmoid", "sigmoid(x, /, out=None, *, where=True, ...)\n\nσ(x) = 1/(1 + exp(−x)), ≤ 1 ULP in "
                "float32/float64 (float64: proven ≤ 0.52 for |x| ≤ 700, ~0.5 + 2^-5 beyond; measured ≤ 0.53), "
                "correctly rounded in float16/bfloat16."},
    {"sigmoid_grad", "sigmoid_grad(x, /, out=None, *, where=True, ...)\n\nσ'(x) = σ(x)·σ(−x) = "
                     "e/(1+e)², e = exp(−|x|); ≤ 2 ULP (float64: proven ≤ 0.52 for |x| ≤ 700, measured ≤ 0.53), "
                     "never flushed to 0."},
    {"sigmoid_second_grad", "sigmoid_second_grad(x, /, out=None, *, where=True, ...)\n\nσ''(x) = "
                            "−sign(x)·σ'(x)·tanh(|x|/2); ≤ 2 ULP (measured ≤ 1)."},
    {"log_sigmoid", "log_sigmoid(x, /, out=None, *, where=True, ...)\n\nlog σ(x) = min(x, 0) − "
                    "log1p(exp(−|x|)); ≤ 1 ULP (measured ≤ 0.53)."},
    {"softplus", "softplus(x, /, out=None, *, where=True, ...)\n\nlog(1 + exp(x)) = max(x, 0) + "
                 "log1p(exp(−|x|)); ≤ 1 ULP (measured ≤ 0.53)."},
    {"logit", "logit(p, /, out=None, *, where=True, ...)\n\nlog(p/(1 − p)); −inf at 0, +inf at 1, NaN "
              "outside [0, 1]; ≤ 2 ULP (measured ≤ 0.5)."},
    {"sigmoid_grad_from_output", "sigmoid_grad_from_output(y, /, out=None, *, where=True, ...)\n\n"
                                 "y·(1 − y), the backprop form from a saved y = σ(x), rounded once: correctly "
                                 "rounded in float32/float16/bfloat16, and in float64 but for inputs within "
                                 "2^-105 of a rounding boundary."},
};

static PyObject *ufunc_objs[N_UNARY + 2];

static int cpu_has_avx2(void)
{
#ifdef SIGMOIDLAB_HAVE_AVX2
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

static int runs_everywhere(void)
{
    return 1;
}

/* The paths compiled in, best last, and whether this CPU can run each. */
static const struct {
    const char *name;
    const kernel_table *table;
    int (*runs)(void);
} paths[] = {
    {"scalar", &sigmoidlab_scalar_kernels, runs_everywhere},
#ifdef SIGMOIDLAB_HAVE_AVX2
    {"avx2", &sigmoidlab_avx2_kernels, cpu_has_avx2},
#endif
};
#define N_PATHS (sizeof paths / sizeof paths[0])

/* "auto" is the best path this CPU runs; a named path only if it runs here. */
static const kernel_table *kernel_by_name(const char *name)
{
    const kernel_table *best = NULL;
    for (size_t i = 0; i < N_PATHS; i++) {
        if (!paths[i].runs()) continue;
        if (strcmp(name, paths[i].name) == 0) return paths[i].table;
        best = paths[i].table;
    }
    return strcmp(name, "auto") == 0 ? best : NULL;
}

static int append_str(PyObject *list, const char *text)
{
    PyObject *item = PyUnicode_FromString(text);
    int err = !item || PyList_Append(list, item) < 0;
    Py_XDECREF(item);
    return err ? -1 : 0;
}

/* A tuple of path names: those this CPU runs (or all compiled in), optionally led by "auto". */
static PyObject *path_names(int runnable_only, int with_auto)
{
    PyObject *names = PyList_New(0), *tuple = NULL;
    if (!names || (with_auto && append_str(names, "auto") < 0)) goto done;
    for (size_t i = 0; i < N_PATHS; i++)
        if ((!runnable_only || paths[i].runs()) && append_str(names, paths[i].name) < 0) goto done;
    tuple = PyList_AsTuple(names);
done:
    Py_XDECREF(names);
    return tuple;
}

static PyObject *py_set_kernel(PyObject *self, PyObject *arg)
{
    (void)self;
    const char *name = PyUnicode_AsUTF8(arg);
    if (!name) return NULL;
    const kernel_table *k = kernel_by_name(name);
    if (!k) {
        PyObject *choices = path_names(1, 1);
        if (choices) {
            PyErr_Format(PyExc_ValueError, "kernel %R is not available on this machine (choose from %R)", arg,
                         choices);
            Py_DECREF(choices);
        }
        return NULL;
    }
    const char *previous = active->name;
    active = k;
    return PyUnicode_FromString(previous);
}

static PyObject *py_get_kernel(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    return PyUnicode_FromString(active->name);
}

static PyObject *py_available_kernels(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    return path_names(1, 0);
}

static PyObject *py_compiled_kernels(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    return path_names(0, 0);
}

static PyObject *py_cpu_features(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    static const char *const names[] = {"avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl"};
    PyObject *d = PyDict_New();
    for (size_t i = 0; d && i < sizeof names / sizeof names[0]; i++) {
        int has = 0;
#ifdef SIGMOIDLAB_HAVE_AVX2
        __builtin_cpu_init();
        switch (i) { /* __builtin_cpu_supports wants a literal; it checks the OS's XSAVE state too */
        case 0: has = __builtin_cpu_supports("avx2"); break;
        case 1: has = __builtin_cpu_supports("fma"); break;
        case 2: has = __builtin_cpu_supports("avx512f"); break;
        case 3: has = __builtin_cpu_supports("avx512bw"); break;
        case 4: has = __builtin_cpu_supports("avx512dq"); break;
        default: has = __builtin_cpu_supports("avx512vl"); break;
        }
#endif
        if (PyDict_SetItemString(d, names[i], has ? Py_True : Py_False) < 0) Py_CLEAR(d);
    }
    return d;
}

static PyObject *py_set_num_threads(PyObject *self, PyObject *arg)
{
    (void)self;
    long n = PyLong_AsLong(arg);
    if (n == -1 && PyErr_Occurred()) return NULL;
    if (n < 1) {
        PyErr_SetString(PyExc_ValueError, "the number of threads must be at least 1");
        return NULL;
    }
    return PyLong_FromLong(pool_set_threads(n > POOL_MAX_THREADS ? POOL_MAX_THREADS : (int)n));
}

static PyObject *py_get_num_threads(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    return PyLong_FromLong(pool_get_threads());
}

static PyObject *py_set_parallel_threshold(PyObject *self, PyObject *arg)
{
    (void)self;
    Py_ssize_t n = PyLong_AsSsize_t(arg);
    if (n == -1 && PyErr_Occurred()) return NULL;
    return PyLong_FromSsize_t((Py_ssize_t)pool_set_parallel_threshold((ptrdiff_t)n));
}

static PyObject *py_set_stream_threshold(PyObject *self, PyObject *arg)
{
    (void)self;
    Py_ssize_t n = PyLong_AsSsize_t(arg);
    if (n == -1 && PyErr_Occurred()) return NULL;
    return PyLong_FromSsize_t((Py_ssize_t)pool_set_stream_threshold((ptrdiff_t)n));
}

static PyObject *py_pool_stats(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    pool_stats s = pool_get_stats();
    return Py_BuildValue("{s:i,s:k,s:k,s:n,s:n,s:i}", "workers", s.workers, "jobs", s.jobs, "alone", s.alone,
                         "parallel_min_bytes", (Py_ssize_t)s.parallel_min_bytes, "stream_min_bytes",
                         (Py_ssize_t)s.stream_min_bytes, "threads", pool_get_threads());
}

/* ml_dtypes' bfloat16 is a NumPy user dtype whose number is only known at run time. */
static PyObject *py_register_bfloat16(PyObject *self, PyObject *arg)
{
    (void)self;
    long num = PyLong_AsLong(arg);
    if (num == -1 && PyErr_Occurred()) return NULL;
    int types[4] = {(int)num, (int)num, (int)num, (int)num};
    for (int i = 0; i < N_UNARY; i++)
        if (PyUFunc_RegisterLoopForType((PyUFuncObject *)ufunc_objs[i], (int)num, unary_T_BF16, types,
                                        unary_data[i][0]) < 0)
            return NULL;
    if (PyUFunc_RegisterLoopForType((PyUFuncObject *)ufunc_objs[N_UNARY], (int)num, pair_T_BF16, types, NULL) < 0)
        return NULL;
    if (PyUFunc_RegisterLoopForType((PyUFuncObject *)ufunc_objs[N_UNARY + 1], (int)num, bce_T_BF16, types, NULL) <
        0)
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"set_kernel", py_set_kernel, METH_O, "set_kernel(name) -> previous name; 'auto' or a compiled path."},
    {"get_kernel", py_get_kernel, METH_NOARGS, "The name of the active kernel path."},
    {"available_kernels", py_available_kernels, METH_NOARGS, "The kernel paths this CPU can run, best last."},
    {"compiled_kernels", py_compiled_kernels, METH_NOARGS, "The kernel paths built into the extension, best last."},
    {"cpu_features", py_cpu_features, METH_NOARGS,
     "{'avx2', 'fma', 'avx512f', 'avx512bw', 'avx512dq', 'avx512vl'} -> bool, from CPUID and the OS's XSAVE state."},
    {"set_num_threads", py_set_num_threads, METH_O, "set_num_threads(n) -> previous; threads for large arrays."},
    {"get_num_threads", py_get_num_threads, METH_NOARGS, "Threads used for large arrays."},
    {"set_parallel_threshold", py_set_parallel_threshold, METH_O,
     "set_parallel_threshold(bytes) -> previous; outputs of at least this many bytes are split over threads."},
    {"set_stream_threshold", py_set_stream_threshold, METH_O,
     "set_stream_threshold(bytes) -> previous; outputs at least this large use non-temporal stores."},
    {"register_bfloat16", py_register_bfloat16, METH_O, "register_bfloat16(type_num): add the bfloat16 loops."},
    {"_pool_stats", py_pool_stats, METH_NOARGS, "The thread pool: workers alive, jobs split, calls run alone, knobs."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "_ufuncs", "The sigmoid family as NumPy ufuncs with SIMD kernels.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__ufuncs(void)
{
    PyObject *m = PyModule_Create(&moduledef);
    if (!m) return NULL;
    import_array();
    import_umath();

    const char *env = getenv("SIGMOIDLAB_KERNEL");
    const kernel_table *k = env && *env ? kernel_by_name(env) : NULL;
    active = k ? k : kernel_by_name("auto");

    pool_init();

    for (int i = 0; i < N_UNARY; i++) {
        for (int j = 0; j < 3; j++) unary_data[i][j] = (void *)(intptr_t)i;
        ufunc_objs[i] = PyUFunc_FromFuncAndData(unary_funcs, unary_data[i], unary_types, 3, 1, 1, PyUFunc_None,
                                                unary_specs[i].name, unary_specs[i].doc, 0);
        if (!ufunc_objs[i] || PyModule_AddObjectRef(m, unary_specs[i].name, ufunc_objs[i]) < 0) goto fail;
    }
    ufunc_objs[N_UNARY] = PyUFunc_FromFuncAndData(
        pair_funcs, no_data, pair_types, 3, 1, 2, PyUFunc_None, "sigmoid_and_grad",
        "sigmoid_and_grad(x, /, out=(None, None), *, where=True, ...)\n\n(σ(x), σ'(x)) in one pass over x, "
        "with the accuracy of sigmoid and sigmoid_grad.",
        0);
    if (!ufunc_objs[N_UNARY] || PyModule_AddObjectRef(m, "sigmoid_and_grad", ufunc_objs[N_UNARY]) < 0) goto fail;
    ufunc_objs[N_UNARY + 1] = PyUFunc_FromFuncAndData(
        bce_funcs, no_data, bce_types, 3, 2, 2, PyUFunc_None, "bce_with_logits",
        "bce_with_logits(z, t, /, out=(None, None), *, where=True, ...)\n\nElementwise binary cross-entropy "
        "with logits and its gradient: (t·softplus(−z) + (1 − t)·softplus(z), σ(z) − t), one exponential.",
        0);
    if (!ufunc_objs[N_UNARY + 1] || PyModule_AddObjectRef(m, "bce_with_logits", ufunc_objs[N_UNARY + 1]) < 0)
        goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
