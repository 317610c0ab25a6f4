/* benchutil.h - what the two benchmark programs share: a clock and the
 * BENCH_SCALE knob. */
#ifndef HK_BENCHUTIL_H
#define HK_BENCHUTIL_H

#include <stdlib.h>
#include <time.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double g_scale = 1.0;

/* n scaled by BENCH_SCALE (read by bench_scale_init), at least 1000. */
static long scaled(long n)
{
    long v = (long)((double)n * g_scale);
    return v < 1000 ? 1000 : v;
}

static void bench_scale_init(void)
{
    const char *s = getenv("BENCH_SCALE");
    if (s && atof(s) > 0)
        g_scale = atof(s);
}

#endif
