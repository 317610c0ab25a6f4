/* testutil.h - helpers shared by the Check suites (both lanes). */
#ifndef HK_TESTUTIL_H
#define HK_TESTUTIL_H

#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "heapkit.h"

static inline void tu_sleep_ms(unsigned ms)
{
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

/* Fill / check a block with a pattern that depends on the position. */
static inline void tu_fill(void *p, size_t n, unsigned seed)
{
    unsigned char *c = p;
    size_t i;
    for (i = 0; i < n; i++)
        c[i] = (unsigned char)(seed + i * 7u);
}

static inline int tu_check(const void *p, size_t n, unsigned seed)
{
    const unsigned char *c = p;
    size_t i;
    for (i = 0; i < n; i++)
        if (c[i] != (unsigned char)(seed + i * 7u))
            return 0;
    return 1;
}

static inline int tu_all(const void *p, size_t n, unsigned char v)
{
    const unsigned char *c = p;
    size_t i;
    for (i = 0; i < n; i++)
        if (c[i] != v)
            return 0;
    return 1;
}

/* A whole walk, collected. */
typedef struct {
    hk_heap_entry *e;
    size_t n, cap;
    int end_error;      /* hk_last_error() when hk_walk returned 0 */
} tu_walk;

static inline void tu_walk_collect(hk_heap *h, tu_walk *w)
{
    hk_heap_entry e;
    memset(w, 0, sizeof *w);
    memset(&e, 0, sizeof e);
    hk_lock(h);
    while (hk_walk(h, &e)) {
        if (w->n == w->cap) {
            w->cap = w->cap ? w->cap * 2 : 64;
            w->e = realloc(w->e, w->cap * sizeof *w->e);
            ck_assert_ptr_nonnull(w->e);
        }
        w->e[w->n++] = e;
        ck_assert_uint_lt(w->n, 10000000);   /* a walk that never ends */
    }
    w->end_error = hk_last_error();
    hk_unlock(h);
}

static inline void tu_walk_free(tu_walk *w)
{
    free(w->e);
    memset(w, 0, sizeof *w);
}

/* Run one Check suite and print a per-suite summary line. */
static inline int tu_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    fflush(stdout);
    return failed;
}

/* Run one suite per backend of the build, with *current naming the
 * backend under test while its suite runs.  Fails when there is none. */
static inline int tu_run_per_backend(Suite *(*make)(const char *), const char **current)
{
    const char *const *names = hk_backends();
    int failed = 0, i;
    for (i = 0; names[i]; i++) {
        *current = names[i];
        failed += tu_run(make(names[i]));
    }
    if (i == 0)
        fprintf(stderr, "this build has no backends\n");
    return failed || i == 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
