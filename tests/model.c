/*
 * model.c - randomized tests on every backend of the build:
 *   model:        thousands of random alloc/realloc/free against a shadow
 *                 model, contents checked, full walk + validate every few
 *                 hundred steps;
 *   differential: the same random operation sequence applied to the
 *                 default backend and to each other backend, comparing
 *                 what the contract fixes (results, errors, sizes,
 *                 contents, the busy set of the walk).  Under Wine the
 *                 default is the real Win32 heap: this is the Win32-vs-arena
 *                 comparison;
 *   corruption:   overwrite a block header, then validate and walk: an
 *                 error, never a crash (heapkit's own heaps; an OS heap
 *                 is entitled to terminate the process instead).
 */
#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__)
/* This program damages heaps on purpose, right where the arena keeps its
 * ASan poison (headers, free memory): the poison is off here, ASan still
 * checks everything else.  tests/sanity checks the poison. */
const char *__asan_default_options(void);
__attribute__((visibility("default"), used))
const char *__asan_default_options(void) { return "allow_user_poisoning=0"; }
#endif

static const char *g_backend;

static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    return rng_state = x;
}

static size_t rnd_size(void)
{
    uint64_t r = rnd() % 100;
    if (r < 70) return (size_t)(rnd() % 513);
    if (r < 95) return (size_t)(rnd() % 16384) + 513;
    if (r < 99) return (size_t)(rnd() % 200000) + 16384;
    return (size_t)(rnd() % 300000) + 0xFEFD9;     /* large */
}

/* ---- model ------------------------------------------------------------- */

enum { SLOTS = 400 };
struct slot { unsigned char *p; size_t n; unsigned seed; };

static void model_check(hk_heap *h, struct slot *s)
{
    tu_walk w;
    size_t i, busy = 0, live = 0;
    int k;
    ck_assert(hk_validate(h, 0, NULL));
    tu_walk_collect(h, &w);
    ck_assert_int_eq(w.end_error, HK_ERR_NO_MORE_ITEMS);
    for (k = 0; k < SLOTS; k++)
        if (s[k].p) {
            live++;
            ck_assert(hk_validate(h, 0, s[k].p));
            ck_assert(tu_check(s[k].p, s[k].n, s[k].seed));
        }
    for (i = 0; i < w.n; i++) {
        if (w.e[i].flags != HK_ENTRY_BUSY)
            continue;
        busy++;
        for (k = 0; k < SLOTS; k++)
            if (s[k].p == w.e[i].data)
                break;
        ck_assert_msg(k < SLOTS, "walk shows a busy block the model does not have");
        ck_assert_uint_eq(w.e[i].size, s[k].n);
    }
    ck_assert_uint_eq(busy, live);
    tu_walk_free(&w);
}

START_TEST(model)
{
    hk_heap *h = hk_heap_create(g_backend, 0, 0, 0);
    struct slot *s = calloc(SLOTS, sizeof *s);
    int step, k;
    ck_assert_ptr_nonnull(h);
    ck_assert_ptr_nonnull(s);
    rng_state = 0x9E3779B97F4A7C15ull ^ (uint64_t)_i;
    for (step = 1; step <= 20000; step++) {
        k = (int)(rnd() % SLOTS);
        if (!s[k].p) {
            unsigned flags = rnd() % 8 == 0 ? HK_HEAP_ZERO_MEMORY : 0;
            s[k].n = rnd_size();
            s[k].p = hk_alloc(h, flags, s[k].n);
            ck_assert_msg(s[k].p != NULL, "alloc %zu failed: %d", s[k].n, hk_last_error());
            if (flags)
                ck_assert(tu_all(s[k].p, s[k].n, 0));
            s[k].seed = (unsigned)step;
            tu_fill(s[k].p, s[k].n, s[k].seed);
        } else if (rnd() % 3 == 0) {
            size_t n = rnd_size(), keep = n < s[k].n ? n : s[k].n;
            unsigned char *q = hk_realloc(h, 0, s[k].p, n);
            ck_assert_msg(q != NULL, "realloc to %zu failed", n);
            ck_assert(tu_check(q, keep, s[k].seed));
            ck_assert_uint_eq(hk_size(h, 0, q), n);
            s[k].p = q;
            s[k].n = n;
            s[k].seed = (unsigned)step;
            tu_fill(q, n, s[k].seed);
        } else {
            ck_assert(tu_check(s[k].p, s[k].n, s[k].seed));
            ck_assert(hk_free(h, 0, s[k].p));
            s[k].p = NULL;
        }
        if (step % 500 == 0)
            model_check(h, s);
    }
    model_check(h, s);
    for (k = 0; k < SLOTS; k++)
        if (s[k].p)
            ck_assert(hk_free(h, 0, s[k].p));
    ck_assert(hk_validate(h, 0, NULL));
    free(s);
    ck_assert(hk_heap_destroy(h));
}
END_TEST

/* ---- differential -------------------------------------------------------- */

struct twin { unsigned char *p[2]; size_t n; unsigned seed; int dead; };

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorted sizes of the busy blocks of a heap. */
static size_t busy_sizes(hk_heap *h, size_t *out, size_t cap)
{
    tu_walk w;
    size_t i, n = 0;
    tu_walk_collect(h, &w);
    ck_assert_int_eq(w.end_error, HK_ERR_NO_MORE_ITEMS);
    for (i = 0; i < w.n; i++)
        if (w.e[i].flags == HK_ENTRY_BUSY && n < cap)
            out[n++] = w.e[i].size;
    tu_walk_free(&w);
    qsort(out, n, sizeof *out, cmp_size);
    return n;
}

static void differential_against(const char *other)
{
    enum { T = 256 };
    hk_heap *h[2];
    struct twin *t = calloc(T, sizeof *t);
    size_t *sz[2];
    int step, k, j;
    h[0] = hk_heap_create(NULL, 0, 0, 0);
    h[1] = hk_heap_create(other, 0, 0, 0);
    sz[0] = calloc(T + 8, sizeof(size_t));
    sz[1] = calloc(T + 8, sizeof(size_t));
    ck_assert_ptr_nonnull(h[0]);
    ck_assert_ptr_nonnull(h[1]);
    ck_assert_ptr_nonnull(t);
    rng_state = 0xD1B54A32D192ED03ull;
    for (step = 1; step <= 6000; step++) {
        int op = (int)(rnd() % 10);
        k = (int)(rnd() % T);
        if (!t[k].p[0] && op < 6) {               /* alloc */
            size_t n = rnd_size();
            unsigned fl = rnd() % 4 == 0 ? HK_HEAP_ZERO_MEMORY : 0;
            for (j = 0; j < 2; j++) {
                t[k].p[j] = hk_alloc(h[j], fl, n);
                ck_assert_msg(t[k].p[j] != NULL, "%s: alloc %zu", j ? other : "default", n);
                if (fl)
                    ck_assert(tu_all(t[k].p[j], n, 0));
                tu_fill(t[k].p[j], n, (unsigned)step);
            }
            t[k].n = n;
            t[k].seed = (unsigned)step;
        } else if (t[k].p[0] && op < 3) {         /* realloc, maybe in place */
            size_t n;
            unsigned fl = 0;
            int r = (int)(rnd() % 4);
            if (r == 0) {                          /* shrink in place: all succeed */
                n = t[k].n / 2;
                fl = HK_HEAP_REALLOC_IN_PLACE_ONLY;
            } else if (r == 1 && t[k].n < 4096) {  /* small to large in place: all fail */
                n = 0x200000;
                fl = HK_HEAP_REALLOC_IN_PLACE_ONLY;
            } else {
                n = rnd_size();
                fl = rnd() % 2 ? HK_HEAP_ZERO_MEMORY : 0;
            }
            {
                unsigned char *q[2];
                int e[2];
                for (j = 0; j < 2; j++) {
                    hk_set_last_error(0);
                    q[j] = hk_realloc(h[j], fl, t[k].p[j], n);
                    e[j] = hk_last_error();
                }
                ck_assert_msg((q[0] != NULL) == (q[1] != NULL),
                              "realloc %zu->%zu flags %x differs", t[k].n, n, fl);
                if (!q[0]) {
                    ck_assert_int_eq(e[0], e[1]);
                    for (j = 0; j < 2; j++)
                        ck_assert_uint_eq(hk_size(h[j], 0, t[k].p[j]), t[k].n);
                    continue;
                }
                for (j = 0; j < 2; j++) {
                    size_t keep = n < t[k].n ? n : t[k].n;
                    ck_assert(tu_check(q[j], keep, t[k].seed));
                    if ((fl & HK_HEAP_ZERO_MEMORY) && n > t[k].n)
                        ck_assert(tu_all(q[j] + t[k].n, n - t[k].n, 0));
                    if (fl & HK_HEAP_REALLOC_IN_PLACE_ONLY)
                        ck_assert_ptr_eq(q[j], t[k].p[j]);
                    t[k].p[j] = q[j];
                    tu_fill(q[j], n, (unsigned)step);
                }
                t[k].n = n;
                t[k].seed = (unsigned)step;
            }
        } else if (t[k].p[0]) {                   /* free, then a bad free */
            for (j = 0; j < 2; j++) {
                ck_assert(tu_check(t[k].p[j], t[k].n, t[k].seed));
                ck_assert(hk_free(h[j], 0, t[k].p[j]));
            }
            if (rnd() % 4 == 0) {
                int e[2];
                for (j = 0; j < 2; j++) {
                    hk_set_last_error(0);
                    ck_assert(!hk_free(h[j], 0, t[k].p[j]));
                    e[j] = hk_last_error();
                    ck_assert(!hk_validate(h[j], 0, t[k].p[j]));
                }
                ck_assert_int_eq(e[0], e[1]);
            }
            t[k].p[0] = t[k].p[1] = NULL;
        } else {                                   /* errors must agree */
            int e[2];
            for (j = 0; j < 2; j++) {
                hk_set_last_error(0);
                ck_assert_ptr_null(hk_alloc(h[j], 0, SIZE_MAX - (size_t)(rnd() % 64)));
                e[j] = hk_last_error();
            }
            ck_assert_int_eq(e[0], e[1]);
        }
        if (step % 300 == 0) {
            size_t n0 = busy_sizes(h[0], sz[0], T + 8), n1 = busy_sizes(h[1], sz[1], T + 8);
            size_t live = 0;
            for (j = 0; j < T; j++)
                if (t[j].p[0]) {
                    live++;
                    ck_assert_uint_eq(hk_size(h[0], 0, t[j].p[0]), hk_size(h[1], 0, t[j].p[1]));
                }
            ck_assert_uint_eq(n0, live);
            ck_assert_uint_eq(n1, live);
            for (j = 0; j < (int)live; j++)
                ck_assert_uint_eq(sz[0][j], sz[1][j]);
            ck_assert(hk_validate(h[0], 0, NULL));
            ck_assert(hk_validate(h[1], 0, NULL));
        }
    }
    for (j = 0; j < 2; j++)
        ck_assert(hk_heap_destroy(h[j]));
    free(sz[0]);
    free(sz[1]);
    free(t);
}

START_TEST(differential)
{
    /* g_backend against the default one (itself for the default: a
     * determinism check) */
    differential_against(g_backend);
}
END_TEST

/* ---- corruption ---------------------------------------------------------- */

static void walk_must_fail(hk_heap *h)
{
    hk_heap_entry e;
    int steps = 0;
    memset(&e, 0, sizeof e);
    while (hk_walk(h, &e))
        ck_assert_int_lt(++steps, 100000);
    ck_assert_int_eq(hk_last_error(), HK_ERR_HEAP_CORRUPT);
}

static void corrupt_one(size_t size, unsigned char pattern)
{
    hk_heap *h = hk_heap_create(g_backend, 0, 0, 0);
    unsigned char *a, *b, *c, saved[16];
    /* the header in front of b: the arena's small blocks have 8 bytes (the
     * 8 before them may be a's data), the others 16 */
    size_t hs = g_backend && strcmp(g_backend, "arena") == 0 && size < 0xFEFD9 ? 8 : 16;
    ck_assert_ptr_nonnull(h);
    a = hk_alloc(h, 0, size);
    b = hk_alloc(h, 0, size);
    c = hk_alloc(h, 0, size);
    ck_assert(a && b && c);
    tu_fill(a, size, 1);
    tu_fill(c, size, 3);
    memcpy(saved, b - hs, hs);
    memset(b - hs, pattern, hs);                   /* b's header */
    ck_assert(!hk_validate(h, 0, b));
    ck_assert(!hk_validate(h, 0, NULL));
    walk_must_fail(h);
    hk_set_last_error(0);
    ck_assert(!hk_free(h, 0, b));                 /* refused, not followed */
    ck_assert(hk_last_error() == HK_ERR_INVALID_PARAMETER
              || hk_last_error() == HK_ERR_HEAP_CORRUPT);
    ck_assert_uint_eq(hk_size(h, 0, b), (size_t)-1);
    ck_assert(hk_validate(h, 0, a));
    ck_assert(tu_check(a, size, 1));
    ck_assert(tu_check(c, size, 3));
    memcpy(b - hs, saved, hs);                     /* repaired: all is well */
    ck_assert(hk_validate(h, 0, NULL));
    ck_assert(hk_free(h, 0, b));
    ck_assert(hk_free(h, 0, a));
    ck_assert(hk_free(h, 0, c));
    ck_assert(hk_heap_destroy(h));
}

START_TEST(corruption)
{
    corrupt_one(64, 0xA5);
    corrupt_one(64, 0xFF);
    corrupt_one(64, 0x00);
    corrupt_one(5000, 0x41);
    corrupt_one(0x100000, 0x5C);                   /* large blocks too */
}
END_TEST

static Suite *model_suite(const char *backend)
{
    static char name[64];
    Suite *s;
    TCase *tc;
    snprintf(name, sizeof name, "model:%s", backend);
    s = suite_create(name);
    tc = tcase_create("random");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, model, 0, 2);
    tcase_add_test(tc, differential);
    if (!(hk_backend_caps(backend) & HK_CAP_OS_HEAP))
        tcase_add_test(tc, corruption);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_per_backend(model_suite, &g_backend);
}
