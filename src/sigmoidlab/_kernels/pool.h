/* Splitting large contiguous loops over threads: a persistent worker pool (pool.c). */
#ifndef SIGMOIDLAB_POOL_H
#define SIGMOIDLAB_POOL_H

#include <stddef.h>

/* Computes elements [start, end) of one call; `stream` asks for non-temporal stores. */
typedef void (*range_fn)(void *ctx, ptrdiff_t start, ptrdiff_t end, int stream);

/* Runs fn over [0, n), on several threads when the output (n·out_bytes_per_elem bytes) is large enough.
 * Returns when every element is done. Safe to call from several threads at once. */
void pool_for(ptrdiff_t n, ptrdiff_t out_bytes_per_elem, range_fn fn, void *ctx);

/* Set up at import: the thread count from the CPU affinity and SIGMOIDLAB_NUM_THREADS, fork and exit
 * handlers. Workers start on the first call that needs them. */
void pool_init(void);

/* Threads used for one large call (the caller included), 1..POOL_MAX_THREADS; setters return the previous value. */
#define POOL_MAX_THREADS 64
int pool_set_threads(int n);
int pool_get_threads(void);
ptrdiff_t pool_set_parallel_threshold(ptrdiff_t bytes); /* outputs of at least this many bytes are split */
ptrdiff_t pool_set_stream_threshold(ptrdiff_t bytes);   /* outputs at least this large are streamed */

typedef struct {
    int workers;          /* worker threads alive in this process */
    unsigned long jobs;   /* calls split over the pool */
    unsigned long alone;  /* large calls run on the caller's thread alone because another call held the pool */
    ptrdiff_t parallel_min_bytes, stream_min_bytes;
} pool_stats;

pool_stats pool_get_stats(void);

#endif
