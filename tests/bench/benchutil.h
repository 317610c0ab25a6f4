/* benchutil.h - what the benchmark programs share: clocks, the BENCH_SCALE
 * knob, and interleaved rounds with medians.
 *
 * The machines are shared and noisy, so a figure is never one sample:
 * every contestant runs once per round, rounds interleave the contestants
 * (a burst of load hits all of them alike), the time is the measuring
 * thread's own CPU time (another process's load does not count), and the
 * result is the median of the rounds with the spread (min-max) beside it. */
#ifndef HK_BENCHUTIL_H
#define HK_BENCHUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _WIN32
#  include <windows.h>
#endif

static inline double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* CPU time of the calling thread, in ns. */
static inline double thread_cpu_ns(void)
{
#ifdef _WIN32
    FILETIME c, e, k, u;
    ULARGE_INTEGER a, b;
    GetThreadTimes(GetCurrentThread(), &c, &e, &k, &u);
    a.LowPart = k.dwLowDateTime; a.HighPart = k.dwHighDateTime;
    b.LowPart = u.dwLowDateTime; b.HighPart = u.dwHighDateTime;
    return (double)(a.QuadPart + b.QuadPart) * 100.0;   /* 100 ns units */
#else
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
#endif
}

static double g_scale = 1.0;
static int g_rounds = 5;

/* n scaled by BENCH_SCALE (read by bench_scale_init), at least 1000. */
static inline long scaled(long n)
{
    long v = (long)((double)n * g_scale);
    return v < 1000 ? 1000 : v;
}

/* BENCH_SCALE and BENCH_ROUNDS (at least 5: a median of fewer is noise). */
static inline void bench_scale_init(void)
{
    const char *s = getenv("BENCH_SCALE");
    if (s && atof(s) > 0)
        g_scale = atof(s);
    s = getenv("BENCH_ROUNDS");
    if (s && atoi(s) > 5)
        g_rounds = atoi(s);
}

/* ---- interleaved rounds ----------------------------------------------- */

#define BENCH_MAX_ROUNDS 64

typedef struct bench_stat {
    double median, min, max;    /* of the rounds' figures */
    int rounds;                 /* 0: the contestant did not run */
} bench_stat;

/* One round of contestant c: its figure (e.g. ns per op, lower is
 * better), or a negative number when it cannot run. */
typedef double (*bench_round_fn)(int c, void *arg);

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static inline void bench_stat_of(double *v, int n, bench_stat *st)
{
    memset(st, 0, sizeof *st);
    if (n <= 0)
        return;
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    st->rounds = n;
    st->min = v[0];
    st->max = v[n - 1];
    st->median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Run g_rounds rounds; in each, every contestant once, the order rotated
 * from round to round so that none is always first (cache and frequency
 * warm-up).  out[c] gets c's median and spread. */
static inline void bench_interleave(int ncont, bench_round_fn fn, void *arg, bench_stat *out)
{
    double (*v)[BENCH_MAX_ROUNDS] = calloc((size_t)ncont, sizeof *v);
    int *n = calloc((size_t)ncont, sizeof *n);
    int r, k, rounds = g_rounds > BENCH_MAX_ROUNDS ? BENCH_MAX_ROUNDS : g_rounds;
    if (!v || !n) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    for (r = 0; r < rounds; r++)
        for (k = 0; k < ncont; k++) {
            int c = (k + r) % ncont;
            double x = fn(c, arg);
            if (x >= 0)
                v[c][n[c]++] = x;
        }
    for (k = 0; k < ncont; k++)
        bench_stat_of(v[k], n[k], &out[k]);
    free(v);
    free(n);
}

/* "12.3 (11.9-13.0)" into buf: the median and the spread. */
static inline const char *bench_fmt(char *buf, size_t n, const bench_stat *st)
{
    if (!st->rounds)
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "%.1f (%.1f-%.1f)", st->median, st->min, st->max);
    return buf;
}

/* The ratio of two medians, with its spread from the rounds' extremes. */
static inline const char *bench_ratio(char *buf, size_t n, const bench_stat *a, const bench_stat *b)
{
    if (!a->rounds || !b->rounds || b->median <= 0 || b->min <= 0)
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "%.2fx (%.2f-%.2f)", a->median / b->median,
                 a->min / b->max, a->max / b->min);
    return buf;
}

#endif
