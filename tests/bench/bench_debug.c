/*
 * bench_debug.c - what the Heap Debugger costs: the same churn loop on the
 * plain C runtime malloc and through heapkit/debug.h, in one process, the
 * tracker's bytes per live record, and the time of a report with millions
 * of live blocks.  Part of `make bench`.
 *
 * This program links nothing but heapkit, so its malloc is the system's
 * (glibc on Linux, msvcrt under Wine): the ratio is the tracker's cost.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <heapkit.h>

#include "benchutil.h"

enum { SLOTS = 10000 };

/* The reports go to this file (set before the debugger starts); it is
 * removed after the one written at exit. */
#define REPORT_FILE "bench_debug-report.tmp"

static void drop_report(void)
{
    remove(REPORT_FILE);
}


/* One loop body, compiled twice: before debug.h (plain) and after it. */
#define CHURN_BODY(name)                                                   \
    static double name(long ops, uint64_t seed)                            \
    {                                                                      \
        void **slot = calloc(SLOTS, sizeof *slot);                         \
        uint64_t x = seed;                                                 \
        long i;                                                            \
        double t0, t1;                                                     \
        for (i = 0; i < SLOTS; i++) {                                      \
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;                       \
            slot[i] = malloc(8 + x % 1025);                                \
        }                                                                  \
        t0 = now_ns();                                                     \
        for (i = 0; i < ops; i++) {                                        \
            size_t k;                                                      \
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;                       \
            k = (size_t)(x % SLOTS);                                       \
            free(slot[k]);                                                 \
            slot[k] = malloc(8 + (size_t)((x >> 20) % 1025));              \
            *(char *)slot[k] = 1;                                          \
        }                                                                  \
        t1 = now_ns();                                                     \
        for (i = 0; i < SLOTS; i++)                                        \
            free(slot[i]);                                                 \
        free(slot);                                                        \
        return (t1 - t0) / (double)ops;                                    \
    }

CHURN_BODY(churn_plain)

#include <heapkit/debug.h>

CHURN_BODY(churn_tracked)

struct job { int tracked; long ops; uint64_t seed; double ns; };

static void *run_job(void *arg)
{
    struct job *j = arg;
    j->ns = j->tracked ? churn_tracked(j->ops, j->seed) : churn_plain(j->ops, j->seed);
    return NULL;
}

/* threads churning at once: ns per pair, per thread */
static double threaded(int tracked, int n)
{
    pthread_t t[8];
    struct job j[8];
    double sum = 0;
    int i;
    for (i = 0; i < n; i++) {
        j[i].tracked = tracked;
        j[i].ops = scaled(2000000);
        j[i].seed = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1);
        pthread_create(&t[i], NULL, run_job, &j[i]);
    }
    for (i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
        sum += j[i].ns;
    }
    return sum / n;
}

/* N live blocks from three call sites, then hk_debug_report(): its wall
 * time, and the lines and bytes it wrote. */
static void report_bench(long n)
{
    void **live = (calloc)((size_t)n, sizeof *live);   /* not a tracked block */
    long i, lines = 0, bytes = 0;
    double t0, t1;
    FILE *f;
    int c;
    if (!live)
        return;
    for (i = 0; i < n; i++) {
        switch (i % 3) {
        case 0:  live[i] = malloc(16); break;
        case 1:  live[i] = malloc(24); break;
        default: live[i] = malloc(32); break;
        }
    }
    drop_report();
    t0 = now_ns();
    hk_debug_report();
    t1 = now_ns();
    if ((f = fopen(REPORT_FILE, "rb")) != NULL) {
        while ((c = getc(f)) != EOF) {
            bytes++;
            lines += c == '\n';
        }
        fclose(f);
    }
    printf("%-14s %ld live blocks: %.3f s, %ld lines, %ld bytes\n", "report",
           n, (t1 - t0) / 1e9, lines, bytes);
    for (i = 0; i < n; i++)
        free(live[i]);
    (free)(live);
    drop_report();
}

int main(void)
{
    double plain, tracked;
    hk_debug_stats st;
    void **live;
    long i, n;
    bench_scale_init();
    drop_report();
#ifdef _WIN32
    _putenv("HEAPKIT_REPORT=" REPORT_FILE);
#else
    setenv("HEAPKIT_REPORT", REPORT_FILE, 1);
#endif
    atexit(drop_report);       /* before the debugger's: runs after it */

    printf("heapkit debug bench (scale %.2f)\n", g_scale);
    plain = churn_plain(scaled(10000000), 1);
    tracked = churn_tracked(scaled(10000000), 1);
    printf("%-14s %-14s %8.1f ns/pair\n", "churn", "malloc", plain);
    printf("%-14s %-14s %8.1f ns/pair   %5.2fx malloc   +%.1f ns/pair\n", "churn",
           "debug.h", tracked, tracked / plain, tracked - plain);

    plain = threaded(0, 4);
    tracked = threaded(1, 4);
    printf("%-14s %-14s %8.1f ns/pair\n", "churn 4 thr", "malloc", plain);
    printf("%-14s %-14s %8.1f ns/pair   %5.2fx malloc   +%.1f ns/pair\n", "churn 4 thr",
           "debug.h", tracked, tracked / plain, tracked - plain);

    /* the tracker's memory per live record, with a million live blocks */
    n = scaled(1000000);
    live = (calloc)(n, sizeof *live);      /* not a tracked block */
    for (i = 0; i < n; i++)
        live[i] = malloc(16);
    hk_debug_stats_get(&st);
    printf("%-14s %lu live records, %zu bytes per record (record itself: 24)\n",
           "records", st.live, st.record_bytes);
    for (i = 0; i < n; i++)
        free(live[i]);
    (free)(live);

    report_bench(scaled(5000000));
    return 0;
}
