/*
 * bench_debug.c - what the Heap Debugger costs: the churn workload
 * (churn.h) on the plain C runtime malloc, through heapkit/debug.h, and
 * under LeakSanitizer (bench_lsan, a child process per round), on 1, 2
 * and 4 threads and with a quarter of the frees crossing threads; the
 * tracker's bytes per live record; the time of a report with millions of
 * live blocks.  Part of `make bench`.
 *
 * Figures are per-thread CPU ns per pair (free + malloc), the median of
 * BENCH_ROUNDS (>= 5) rounds in which the contestants interleave, with the
 * spread (min-max) beside them (benchutil.h).
 *
 * This program links nothing but heapkit, so its malloc is the system's
 * (glibc on Linux, msvcrt under Wine): the ratio is the tracker's cost.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <heapkit.h>

#include "churn.h"

/* The reports go to this file (set before the debugger starts); it is
 * removed after the one written at exit. */
#define REPORT_FILE "bench_debug-report.tmp"
/* The LeakSanitizer build of the same loop (make bench builds it). */
#define LSAN_PROG "tests/bench/bench_lsan"

static void drop_report(void)
{
    remove(REPORT_FILE);
}

CHURN_THREAD(churn_plain)

#include <heapkit/debug.h>

CHURN_THREAD(churn_tracked)

struct workload {
    const char *name;
    int threads;
    unsigned cross64;           /* 10/64: about 25% of frees cross threads */
    double target;              /* tracked / plain */
    long ops;
    double cross[3];            /* measured share of crossing frees */
    int lsan_ok;
};

static const char *g_lsan;      /* NULL: no LeakSanitizer build here */

/* Contestant 0: plain malloc, 1: debug.h, 2: LeakSanitizer. */
static double round_fn(int c, void *arg)
{
    struct workload *w = arg;
    double cross = 0, ns;
    if (c == 0)
        ns = churn_run(churn_plain, w->threads, w->ops, w->cross64, &cross);
    else if (c == 1)
        ns = churn_run(churn_tracked, w->threads, w->ops, w->cross64, &cross);
    else {
#ifdef _WIN32
        return -1;                    /* no LeakSanitizer for this host */
#else
        char cmd[512];
        FILE *f;
        if (!g_lsan)
            return -1;
        snprintf(cmd, sizeof cmd, "%s %d %ld %u", g_lsan, w->threads, w->ops, w->cross64);
        if (!(f = popen(cmd, "r")))
            return -1;
        if (fscanf(f, "%lf %lf", &ns, &cross) != 2)
            ns = -1;
        if (pclose(f) != 0)
            ns = -1;
        if (ns < 0)
            return -1;
#endif
    }
    w->cross[c] = cross;
    return ns;
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
    printf("report: %ld live blocks: %.3f s wall, %ld lines, %ld bytes\n",
           n, (t1 - t0) / 1e9, lines, bytes);
    for (i = 0; i < n; i++)
        free(live[i]);
    (free)(live);
    drop_report();
}

static int lsan_present(void)
{
#ifdef _WIN32
    return 0;
#else
    FILE *f = fopen(LSAN_PROG, "rb");
    if (!f)
        return 0;
    fclose(f);
    return 1;
#endif
}

int main(void)
{
    static struct workload w[] = {
        { "1 thread", 1, 0, 1.5, 2000000, { 0 }, 0 },
        { "2 threads, own sets", 2, 0, 2.0, 1000000, { 0 }, 0 },
        { "4 threads, own sets", 4, 0, 2.0, 500000, { 0 }, 0 },
        { "4 threads, 25% cross", 4, 10, 3.0, 500000, { 0 }, 0 },
    };
    enum { NW = sizeof w / sizeof w[0] };
    bench_stat st[NW][3];
    hk_debug_stats hs;
    void **live;
    long i, n;
    int k, met = 0;
    time_t now = time(NULL);
    char date[64], a[64], b[64], r[64], l[64], lr[64];

    bench_scale_init();
    drop_report();
#ifdef _WIN32
    _putenv("HEAPKIT_REPORT=" REPORT_FILE);
#else
    setenv("HEAPKIT_REPORT", REPORT_FILE, 1);
#endif
    atexit(drop_report);       /* before the debugger's: runs after it */
    g_lsan = lsan_present() ? LSAN_PROG : NULL;
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));

    printf("heapkit debug bench, %s (scale %.2f, %d rounds, per-thread CPU time, "
           "median (min-max))\n", date, g_scale, g_rounds);
    printf("churn: %d live blocks per thread, sizes 8..1032, free + malloc per pair\n",
           SLOTS);
    if (!g_lsan)
        printf("LeakSanitizer: not measured (no %s: clang with -fsanitize=leak "
               "is not there for this host)\n", LSAN_PROG);
    for (k = 0; k < NW; k++) {
        w[k].ops = scaled(w[k].ops);
        bench_interleave(g_lsan ? 3 : 2, round_fn, &w[k], st[k]);
    }

    printf("\n%-22s %-20s %-20s %-20s %-7s %-20s %s\n", "workload", "malloc ns/pair",
           "debug.h ns/pair", "debug.h / malloc", "target", "LSan ns/pair", "LSan / malloc");
    for (k = 0; k < NW; k++) {
        int ok = st[k][0].rounds && st[k][1].rounds
            && st[k][1].median <= w[k].target * st[k][0].median;
        met += ok;
        bench_fmt(a, sizeof a, &st[k][0]);
        bench_fmt(b, sizeof b, &st[k][1]);
        bench_ratio(r, sizeof r, &st[k][1], &st[k][0]);
        bench_fmt(l, sizeof l, g_lsan ? &st[k][2] : &(bench_stat){ 0, 0, 0, 0 });
        bench_ratio(lr, sizeof lr, g_lsan ? &st[k][2] : &(bench_stat){ 0, 0, 0, 0 },
                    &st[k][0]);
        printf("%-22s %-20s %-20s %-20s <=%.1fx%s %-20s %s\n", w[k].name, a, b, r,
               w[k].target, ok ? " " : "!", l, lr);
    }
    printf("crossing frees in the 25%% workload: %.1f%% (malloc), %.1f%% (debug.h)\n",
           100 * w[NW - 1].cross[0], 100 * w[NW - 1].cross[1]);
    printf("targets met: %d of %d\n", met, (int)NW);

    /* the tracker's memory per live record, with a million live blocks */
    n = scaled(1000000);
    live = (calloc)(n, sizeof *live);      /* not a tracked block */
    for (i = 0; i < n; i++)
        live[i] = malloc(16);
    hk_debug_stats_get(&hs);
    printf("records: %lu live, %zu bytes per record (target <= 32; the record "
           "itself: 24)\n", hs.live, hs.record_bytes);
    for (i = 0; i < n; i++)
        free(live[i]);
    (free)(live);

    report_bench(scaled(5000000));
    return 0;
}
