/* churn.h - the churn workload of bench_debug (plain and through
 * heapkit/debug.h) and bench_lsan (the same loop under LeakSanitizer):
 * SLOTS live blocks per thread, random sizes 8..1032, one free and one
 * malloc per operation.
 *
 * CHURN_THREAD(name) defines the thread body with whatever malloc/free
 * mean where it is expanded.  With cross64 > 0, an operation puts its new
 * block into another thread's slots with probability cross64/64 (an
 * atomic exchange), so that block is freed by that thread, and frees the
 * block it took out: each thread counts the frees of blocks another thread
 * allocated (the first byte of a block is its allocating thread). */
#ifndef HK_CHURN_H
#define HK_CHURN_H

#include <pthread.h>
#include <sched.h>
#include <stdint.h>

#include "benchutil.h"

enum { SLOTS = 10000, CHURN_MAX_THREADS = 8 };

struct churn_run;

struct churn_thread {
    struct churn_run *run;
    int me;
    double ns;                  /* CPU ns per pair, this thread */
    long crossed;               /* frees of another thread's block */
};

struct churn_run {
    int nthreads;
    unsigned cross64;
    long ops;
    void **slots[CHURN_MAX_THREADS];
    volatile int ready, done;
    struct churn_thread th[CHURN_MAX_THREADS];
};

static inline uint64_t churn_rand(uint64_t *x)
{
    *x ^= *x << 13; *x ^= *x >> 7; *x ^= *x << 17;
    return *x;
}

static inline void churn_wait(volatile int *c, int n)
{
    __atomic_add_fetch(c, 1, __ATOMIC_ACQ_REL);
    while (__atomic_load_n(c, __ATOMIC_ACQUIRE) < n)
        sched_yield();
}

#define CHURN_THREAD(name)                                                   \
    static void *name(void *arg)                                             \
    {                                                                        \
        struct churn_thread *th = arg;                                       \
        struct churn_run *run = th->run;                                     \
        void **slot = run->slots[th->me];                                    \
        uint64_t x = 0x9E3779B97F4A7C15ull * (uint64_t)(th->me + 1);         \
        long i, crossed = 0;                                                 \
        double t0, t1;                                                       \
        for (i = 0; i < SLOTS; i++) {                                        \
            slot[i] = malloc(8 + churn_rand(&x) % 1025);                     \
            *(unsigned char *)slot[i] = (unsigned char)th->me;               \
        }                                                                    \
        churn_wait(&run->ready, run->nthreads);                              \
        t0 = thread_cpu_ns();                                                \
        if (!run->cross64) {                                                 \
            for (i = 0; i < run->ops; i++) {                                 \
                size_t k = (size_t)(churn_rand(&x) % SLOTS);                 \
                free(slot[k]);                                               \
                slot[k] = malloc(8 + (size_t)((x >> 20) % 1025));            \
                *(unsigned char *)slot[k] = (unsigned char)th->me;           \
            }                                                                \
        } else {                                                             \
            for (i = 0; i < run->ops; i++) {                                 \
                size_t k = (size_t)(churn_rand(&x) % SLOTS);                 \
                void **to = slot, *q, *old;                                  \
                if (((x >> 40) & 63) < run->cross64)                         \
                    to = run->slots[(th->me + 1 + (int)((x >> 50)            \
                          % (uint64_t)(run->nthreads - 1))) % run->nthreads]; \
                q = malloc(8 + (size_t)((x >> 20) % 1025));                  \
                *(unsigned char *)q = (unsigned char)th->me;                 \
                old = __atomic_exchange_n(&to[k], q, __ATOMIC_ACQ_REL);      \
                crossed += *(unsigned char *)old != (unsigned char)th->me;   \
                free(old);                                                   \
            }                                                                \
        }                                                                    \
        t1 = thread_cpu_ns();                                                \
        churn_wait(&run->done, run->nthreads);                               \
        for (i = 0; i < SLOTS; i++)                                          \
            free(slot[i]);                                                   \
        th->ns = (t1 - t0) / (double)run->ops;                               \
        th->crossed = crossed;                                               \
        return NULL;                                                         \
    }

/* Run the body on n threads (the calling one among them); the figure is
 * the threads' mean CPU ns per pair.  *cross: the share of frees that
 * crossed threads. */
static inline double churn_run(void *(*body)(void *), int n, long ops, unsigned cross64,
                               double *cross)
{
    static void *store[CHURN_MAX_THREADS][SLOTS];
    struct churn_run run;
    pthread_t t[CHURN_MAX_THREADS];
    double sum = 0;
    long crossed = 0;
    int i;
    memset(&run, 0, sizeof run);
    run.nthreads = n;
    run.cross64 = n > 1 ? cross64 : 0;
    run.ops = ops;
    for (i = 0; i < n; i++) {
        run.slots[i] = store[i];
        run.th[i].run = &run;
        run.th[i].me = i;
    }
    for (i = 1; i < n; i++)
        pthread_create(&t[i], NULL, body, &run.th[i]);
    body(&run.th[0]);
    for (i = 1; i < n; i++)
        pthread_join(t[i], NULL);
    for (i = 0; i < n; i++) {
        sum += run.th[i].ns;
        crossed += run.th[i].crossed;
    }
    if (cross)
        *cross = (double)crossed / ((double)ops * n);
    return sum / n;
}

#endif
