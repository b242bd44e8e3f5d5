/* The thread pool of the kernels: large contiguous loops split over persistent workers.
 *
 * Work: a call is cut into chunks of at most CHUNK_BYTES of output, at least four per thread, which the threads
 * (the caller included) take in turn from an atomic counter. On shared machines one core is often slowed by a
 * neighbour; with a fixed split the fast thread would then wait for the slow one, with chunks it takes over the
 * slow one's share, and a worker that wakes late simply finds fewer chunks left.
 *
 * Workers: started on the first call that needs them and kept; between calls they sleep on a condition variable
 * (never spinning, so they take no cycles from the user's other threads, torch's OpenMP workers included). A
 * call publishes its job, wakes as many workers as it has seats for, works through the chunks itself, then
 * closes the job and waits only for the workers that joined it; a worker that wakes after the close goes back to
 * sleep without touching the job.
 *
 * One job at a time: a call that finds the pool busy (another Python thread inside a ufunc: NumPy releases the
 * GIL in these loops) runs on its own thread, which is a core of its own anyway. After fork() the child has none
 * of the parent's workers: a fork handler resets the pool there and the child starts its own when needed. At
 * exit the workers are told to stop and are not waited for, so exit cannot hang on them.
 *
 * The threshold for splitting at all: POOL_MIN_BYTES, with its measurement.
 *
 * What a split costs that does not shrink with the size: waking the worker. On the 2-core KVM guest the idle
 * second vCPU is halted and the host must run it again; timed inside the pool (load average 1.6), the worker
 * joined a 10⁷-element float32 σ after ~60 µs (of ~4.9 ms) in every call, but a 10⁶-element one after ~210 µs,
 * or not before the caller had done all the chunks (~40% of calls): why 10⁶ elements cost more per element than
 * 10⁷ on two threads, while on one thread every size from 10⁴ to 10⁷ costs the same per element (within 5%).
 * torch.sigmoid with OMP_WAIT_POLICY=PASSIVE pays the same wake. Letting the worker spin 50 or 200 µs for the
 * next job before sleeping made σ 1.06-1.27× slower against torch in alternating blocks (10⁵-10⁶ elements, load
 * average 1.7-2.0: the spinning vCPU takes the time the caller's needed), so workers still sleep at once. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* sched_getaffinity, pthread_setname_np */
#endif
#include "pool.h"

#include <stdio.h>
#include <stdlib.h>

#ifndef _WIN32
#define HAVE_THREADS 1
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>
#endif

#define CHUNK_BYTES (256 << 10)
/* Outputs of at least this many bytes are split. A split costs the caller a futex wake (~1-2 µs) where the
 * former thread-per-call design paid a thread start and join (~40 µs measured; 27-34 µs best case again here).
 * Measured on the 2-core AMD EPYC (Zen 3) KVM guest, σ in alternating blocks, 2 threads against 1, while the
 * machine ran other jobs (load average 6-9 on 2 cores, so the second core was rarely free): float64 gained
 * 1.13× (best block) at 256 KiB, 1.3× at 512-800 KiB (10⁵ elements) and 1.6-1.7× from 2 MiB; below 256 KiB
 * the split lost (0.6-0.9×). One σ element costs ~1.8 ns (float64) / ~0.9 ns (float32) on one core, so
 * 256 KiB is ~60 µs of work: enough to pay for a worker that is slow to wake on a busy machine, small enough
 * that 10⁵-element arrays of either type use both cores. set_parallel_threshold() changes it. */
#define POOL_MIN_BYTES (256 << 10)

/* Outputs of at least a quarter of the last-level cache are written with non-temporal (streaming) stores: the
 * input and the output of such a call (at least half the L3) do not stay there for the next op anyway, and
 * streaming saves the read of each output line before it is written. Smaller outputs stay in the L3, where the
 * next op (or the same call's next block) finds them, as torch's do. On the 2-core AMD EPYC (Zen 3) KVM guest
 * (L3 32 MiB, so 8 MiB; load average 1.5-2.4): np.copyto of float32 moved 60 GB/s with 8 MB in + out, 48 GB/s
 * with 16 MB, 25 GB/s (DRAM) with 32 MB, so half the L3 is where data stop staying. σ with streaming on/off in
 * alternating blocks, 2 threads, differed by at most 3% at every size from 10⁶ to 4·10⁶ elements (streamed/plain
 * time 1.02 / 1.00 at 10⁶ float32 / float64, 0.98 / 0.99 at 15 MiB outputs, 1.03 at 30 MiB) and torch.sigmoid's
 * ratio to ours moved as little: σ is compute-bound there, so the rule follows the cache size rather than a
 * measured win. (The former constant, 4 MiB, left 10⁶ float32 unstreamed and streamed 10⁶ float64.) Where the
 * L3 size cannot be read, FALLBACK_L3_BYTES. */
#define FALLBACK_L3_BYTES (16 << 20)

static int n_threads = 1;
static ptrdiff_t parallel_min_bytes = POOL_MIN_BYTES;
static ptrdiff_t stream_min_bytes = FALLBACK_L3_BYTES / 4;

typedef struct {
    range_fn fn;
    void *ctx;
    ptrdiff_t n, chunk;
    int stream;
#ifdef HAVE_THREADS
    _Atomic ptrdiff_t next;
#else
    ptrdiff_t next;
#endif
} job_t;

static void run_chunks(job_t *j)
{
    for (;;) {
#ifdef HAVE_THREADS
        ptrdiff_t s = atomic_fetch_add(&j->next, j->chunk);
#else
        ptrdiff_t s = j->next;
        j->next += j->chunk;
#endif
        if (s >= j->n) return;
        j->fn(j->ctx, s, s + j->chunk < j->n ? s + j->chunk : j->n, j->stream);
    }
}

#ifdef HAVE_THREADS
static pthread_mutex_t submit = PTHREAD_MUTEX_INITIALIZER; /* held by the call that owns the pool */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;     /* guards everything below */
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER, done = PTHREAD_COND_INITIALIZER;
static job_t job;
static unsigned long generation; /* one per job: a worker joins each job at most once */
static int job_open, seats, busy, n_workers, stopping;
static unsigned long jobs_run, jobs_alone;

static void *worker_main(void *arg)
{
    unsigned long seen = 0;
    (void)arg;
    pthread_mutex_lock(&mu);
    for (;;) {
        while (!stopping && !(job_open && seats > 0 && seen != generation)) pthread_cond_wait(&wake, &mu);
        if (stopping) break;
        seen = generation;
        seats--;
        busy++;
        pthread_mutex_unlock(&mu);
        run_chunks(&job);
        pthread_mutex_lock(&mu);
        if (--busy == 0 && !job_open) pthread_cond_signal(&done);
    }
    n_workers--;
    pthread_mutex_unlock(&mu);
    return NULL;
}

/* Starts workers up to `want` (called by the pool's owner only). Workers block every signal: Python's handlers
 * belong on the main thread. A worker that cannot start leaves its chunks to the others. */
static void start_workers(int want)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    while (n_workers < want) {
        pthread_t th;
        if (pthread_create(&th, NULL, worker_main, NULL) != 0) break;
#ifdef __linux__
        pthread_setname_np(th, "sigmoidlab");
#endif
        pthread_detach(th);
        pthread_mutex_lock(&mu);
        n_workers++;
        pthread_mutex_unlock(&mu);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void run_on_pool(job_t *j, int helpers)
{
    pthread_mutex_lock(&mu);
    int missing = helpers > n_workers;
    pthread_mutex_unlock(&mu);
    if (missing) start_workers(helpers);
    pthread_mutex_lock(&mu);
    job.fn = j->fn;
    job.ctx = j->ctx;
    job.n = j->n;
    job.chunk = j->chunk;
    job.stream = j->stream;
    atomic_store(&job.next, 0);
    generation++;
    job_open = 1;
    seats = helpers < n_workers ? helpers : n_workers;
    busy = 0;
    jobs_run++;
    for (int i = 0; i < seats; i++) pthread_cond_signal(&wake);
    pthread_mutex_unlock(&mu);
    run_chunks(&job);
    pthread_mutex_lock(&mu);
    job_open = 0;
    while (busy > 0) pthread_cond_wait(&done, &mu);
    pthread_mutex_unlock(&mu);
}

/* fork(): the prepare handler takes both locks, so the child's copy of the pool is in a consistent state with
 * no job; the child then has no workers and fresh condition variables. */
static void before_fork(void)
{
    pthread_mutex_lock(&submit);
    pthread_mutex_lock(&mu);
}

static void after_fork_parent(void)
{
    pthread_mutex_unlock(&mu);
    pthread_mutex_unlock(&submit);
}

static void after_fork_child(void)
{
    pthread_cond_init(&wake, NULL); /* no thread of the child waits on them; the parent's waiters are gone */
    pthread_cond_init(&done, NULL);
    n_workers = 0;
    job_open = seats = busy = 0;
    jobs_run = jobs_alone = 0;
    pthread_mutex_unlock(&mu);
    pthread_mutex_unlock(&submit);
}

static void stop_workers(void)
{
    pthread_mutex_lock(&mu);
    stopping = 1;
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&mu);
}
#endif /* HAVE_THREADS */

void pool_for(ptrdiff_t n, ptrdiff_t out_bytes_per_elem, range_fn fn, void *ctx)
{
    int stream = n * out_bytes_per_elem >= stream_min_bytes;
    int nt = n_threads;
    if (nt <= 1 || n * out_bytes_per_elem < parallel_min_bytes) {
        fn(ctx, 0, n, stream);
        return;
    }
    /* At least four chunks per thread, a multiple of 64 elements each (the kernels' blocks stay aligned). */
    ptrdiff_t chunk = CHUNK_BYTES / out_bytes_per_elem, quarter = (n + 4 * nt - 1) / (4 * nt);
    job_t j = {fn, ctx, n, ((chunk < quarter ? chunk : quarter) + 63) & ~(ptrdiff_t)63, stream, 0};
#ifdef HAVE_THREADS
    if (pthread_mutex_trylock(&submit) == 0) {
        if (!stopping) {
            run_on_pool(&j, nt - 1);
            pthread_mutex_unlock(&submit);
            return;
        }
        pthread_mutex_unlock(&submit);
    }
    else {
        pthread_mutex_lock(&mu);
        jobs_alone++;
        pthread_mutex_unlock(&mu);
    }
#endif
    run_chunks(&j);
}

static int threads_from_environment(void)
{
    long cores = 1;
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) cores = CPU_COUNT(&set); /* the CPUs this process may use */
#elif defined(HAVE_THREADS)
    cores = sysconf(_SC_NPROCESSORS_ONLN);
#endif
    const char *env = getenv("SIGMOIDLAB_NUM_THREADS");
    if (env && atoi(env) > 0) cores = atoi(env);
    return cores < 1 ? 1 : (cores > POOL_MAX_THREADS ? POOL_MAX_THREADS : (int)cores);
}

/* The size in bytes of the CPU's level-3 cache from Linux's sysfs (e.g. "32768K"), or 0 where none is listed. */
static ptrdiff_t l3_bytes(void)
{
#if defined(__linux__)
    for (int i = 0; i < 8; i++) {
        char path[64], text[32] = "";
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        FILE *f = fopen(path, "r");
        if (!f) return 0;
        int level = 0;
        if (fscanf(f, "%d", &level) != 1) level = 0;
        fclose(f);
        if (level != 3) continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        if (!(f = fopen(path, "r"))) return 0;
        long long size = 0;
        char unit = 0;
        int got = fscanf(f, "%31s", text);
        fclose(f);
        if (got != 1 || sscanf(text, "%lld%c", &size, &unit) < 1 || size <= 0) return 0;
        return (ptrdiff_t)(size << (unit == 'K' ? 10 : unit == 'M' ? 20 : unit == 'G' ? 30 : 0));
    }
#endif
    return 0;
}

void pool_init(void)
{
    static int registered = 0;
    ptrdiff_t l3 = l3_bytes();
    stream_min_bytes = (l3 > 0 ? l3 : FALLBACK_L3_BYTES) / 4;
#ifdef HAVE_THREADS
    n_threads = threads_from_environment();
    if (!registered && pthread_atfork(before_fork, after_fork_parent, after_fork_child) == 0) {
        atexit(stop_workers);
        registered = 1;
    }
#else
    (void)threads_from_environment;
    registered = 1;
#endif
}

int pool_set_threads(int n)
{
    int previous = n_threads;
    n_threads = n < 1 ? 1 : (n > POOL_MAX_THREADS ? POOL_MAX_THREADS : n);
    return previous;
}

int pool_get_threads(void)
{
    return n_threads;
}

ptrdiff_t pool_set_parallel_threshold(ptrdiff_t bytes)
{
    ptrdiff_t previous = parallel_min_bytes;
    parallel_min_bytes = bytes < 1 ? 1 : bytes;
    return previous;
}

ptrdiff_t pool_set_stream_threshold(ptrdiff_t bytes)
{
    ptrdiff_t previous = stream_min_bytes;
    stream_min_bytes = bytes < 0 ? 0 : bytes;
    return previous;
}

pool_stats pool_get_stats(void)
{
    pool_stats s = {0, 0, 0, parallel_min_bytes, stream_min_bytes};
#ifdef HAVE_THREADS
    pthread_mutex_lock(&mu);
    s.workers = n_workers;
    s.jobs = jobs_run;
    s.alone = jobs_alone;
    pthread_mutex_unlock(&mu);
#endif
    return s;
}
