/*
 * conformance.c - the heap contract, written once and run against every
 * backend this build has (one Check suite per backend).  Where a backend
 * lacks a capability, the test asserts the honest answer (an error code,
 * an absent entry kind) instead of skipping.
 */
#include "testutil.h"
#ifndef _WIN32
#  include "heapkit/win32.h"    /* HeapWalk on every backend's heaps */
#endif

static const char *g_backend;   /* the backend under test */
static unsigned g_caps;
static hk_heap *g_heap;         /* a fresh growable heap per test */

static void setup(void)
{
    g_heap = hk_heap_create(g_backend, 0, 0, 0);
    ck_assert_ptr_nonnull(g_heap);
    g_caps = hk_heap_caps(g_heap);
}

static void teardown(void)
{
    if (g_heap)
        ck_assert(hk_heap_destroy(g_heap));
    g_heap = NULL;
}

/* Leave freed, non-zero garbage behind so zeroing has something to undo. */
static void dirty_heap(hk_heap *h)
{
    void *p[8];
    size_t sizes[8] = { 16, 64, 256, 4096, 65536, 300000, 1100000, 16 };
    int i;
    for (i = 0; i < 8; i++) {
        p[i] = hk_alloc(h, 0, sizes[i]);
        ck_assert_ptr_nonnull(p[i]);
        memset(p[i], 0xCC, sizes[i]);
    }
    for (i = 0; i < 8; i++)
        ck_assert(hk_free(h, 0, p[i]));
}

START_TEST(create_destroy)
{
    hk_heap *h = hk_heap_create(g_backend, 0, 0, 0);
    ck_assert_ptr_nonnull(h);
    ck_assert_str_eq(hk_heap_backend(h), g_backend);
    ck_assert(hk_heap_destroy(h));
    hk_set_last_error(0);
    ck_assert(!hk_heap_destroy(h));
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_HANDLE);
    ck_assert_ptr_null(hk_alloc(h, 0, 16));
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_HANDLE);
    /* A heap with blocks in it goes away whole. */
    h = hk_heap_create(g_backend, 0, 65536, 0);
    ck_assert_ptr_nonnull(h);
    ck_assert_ptr_nonnull(hk_alloc(h, 0, 100));
    ck_assert_ptr_nonnull(hk_alloc(h, 0, 2000000));
    ck_assert(hk_heap_destroy(h));
}
END_TEST

START_TEST(sizes_alignment)
{
    static const size_t sizes[] = { 0, 1, 7, 8, 15, 16, 17, 24, 31, 32, 33,
        100, 1000, 1023, 1024, 4095, 4096, 65535, 65536, 0xFEFD8, 0xFEFD9,
        1u << 20, 3u << 20 };
    void *p[sizeof sizes / sizeof *sizes];
    size_t i, j;
    for (i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        p[i] = hk_alloc(g_heap, 0, sizes[i]);
        ck_assert_msg(p[i] != NULL, "alloc %zu", sizes[i]);
        ck_assert_uint_eq((uintptr_t)p[i] % 16, 0);
        ck_assert_uint_eq(hk_size(g_heap, 0, p[i]), sizes[i]);
        ck_assert(hk_validate(g_heap, 0, p[i]));
        tu_fill(p[i], sizes[i], (unsigned)i);
        for (j = 0; j < i; j++)      /* blocks never overlap */
            ck_assert((char *)p[j] + sizes[j] <= (char *)p[i]
                      || (char *)p[i] + sizes[i] <= (char *)p[j] || sizes[i] == 0
                      || sizes[j] == 0);
    }
    for (i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        ck_assert_msg(tu_check(p[i], sizes[i], (unsigned)i), "block %zu overwritten", i);
        ck_assert(hk_free(g_heap, 0, p[i]));
    }
    ck_assert(hk_validate(g_heap, 0, NULL));
}
END_TEST

START_TEST(zero_size)
{
    void *a = hk_alloc(g_heap, 0, 0), *b = hk_alloc(g_heap, 0, 0);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_ne(a, b);
    ck_assert_uint_eq(hk_size(g_heap, 0, a), 0);
    ck_assert(hk_validate(g_heap, 0, a));
    ck_assert(hk_free(g_heap, 0, a));
    ck_assert(hk_free(g_heap, 0, b));
}
END_TEST

START_TEST(zero_memory)
{
    static const size_t sizes[] = { 1, 16, 4096, 256 * 1024, 1024 * 1024 };
    size_t i;
    dirty_heap(g_heap);
    for (i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        unsigned char *p = hk_alloc(g_heap, HK_HEAP_ZERO_MEMORY, sizes[i]);
        ck_assert_ptr_nonnull(p);
        ck_assert_msg(tu_all(p, sizes[i], 0), "size %zu not zeroed", sizes[i]);
        memset(p, 0xEE, sizes[i]);
        ck_assert(hk_free(g_heap, 0, p));
    }
}
END_TEST

START_TEST(realloc_grow_shrink)
{
    unsigned char *p = hk_alloc(g_heap, 0, 100), *q, *r;
    ck_assert_ptr_nonnull(p);
    tu_fill(p, 100, 3);
    q = hk_realloc(g_heap, 0, p, 5000);
    ck_assert_ptr_nonnull(q);
    ck_assert_uint_eq(hk_size(g_heap, 0, q), 5000);
    ck_assert(tu_check(q, 100, 3));
    tu_fill(q, 5000, 4);
    r = hk_realloc(g_heap, 0, q, 50);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(hk_size(g_heap, 0, r), 50);
    ck_assert(tu_check(r, 50, 4));
    if (g_caps & HK_CAP_REALLOC_IN_PLACE)
        ck_assert_ptr_eq(r, q);              /* shrinking never moves */
    /* grow into a large block and back */
    q = hk_realloc(g_heap, 0, r, 2u << 20);
    ck_assert_ptr_nonnull(q);
    ck_assert(tu_check(q, 50, 4));
    r = hk_realloc(g_heap, 0, q, 10);
    ck_assert_ptr_nonnull(r);
    ck_assert(tu_check(r, 10, 4));
    /* to zero */
    q = hk_realloc(g_heap, 0, r, 0);
    ck_assert_ptr_nonnull(q);
    ck_assert_uint_eq(hk_size(g_heap, 0, q), 0);
    ck_assert(hk_validate(g_heap, 0, q));
    ck_assert(hk_free(g_heap, 0, q));
    ck_assert(hk_validate(g_heap, 0, NULL));
}
END_TEST

START_TEST(realloc_in_place_only)
{
    unsigned char *p = hk_alloc(g_heap, 0, 64), *q;
    void *fence = hk_alloc(g_heap, 0, 64);   /* so the next block is busy */
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(fence);
    tu_fill(p, 64, 9);
    /* a small block never becomes a large one in place */
    hk_set_last_error(0);
    q = hk_realloc(g_heap, HK_HEAP_REALLOC_IN_PLACE_ONLY, p, 2u << 20);
    ck_assert_ptr_null(q);
    ck_assert_int_eq(hk_last_error(), HK_ERR_NO_MEMORY);
    ck_assert_uint_eq(hk_size(g_heap, 0, p), 64);
    ck_assert(tu_check(p, 64, 9));
    ck_assert(hk_validate(g_heap, 0, p));
    /* shrinking in place always works */
    q = hk_realloc(g_heap, HK_HEAP_REALLOC_IN_PLACE_ONLY, p, 32);
    ck_assert_ptr_eq(q, p);
    ck_assert_uint_eq(hk_size(g_heap, 0, p), 32);
    ck_assert(tu_check(p, 32, 9));
    ck_assert(hk_free(g_heap, 0, p));
    ck_assert(hk_free(g_heap, 0, fence));
}
END_TEST

START_TEST(realloc_in_place_grow)
{
    /* A block followed by free space grows without moving, where the
     * backend can grow in place at all. */
    unsigned char *a = hk_alloc(g_heap, 0, 32), *b = hk_alloc(g_heap, 0, 4000), *q;
    void *fence = hk_alloc(g_heap, 0, 32);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_nonnull(fence);
    tu_fill(a, 32, 1);
    ck_assert(hk_free(g_heap, 0, b));
    q = hk_realloc(g_heap, HK_HEAP_REALLOC_IN_PLACE_ONLY, a, 1000);
    if (g_caps & HK_CAP_REALLOC_IN_PLACE) {
        if ((char *)b > (char *)a && (char *)b - (char *)a < 256) {
            ck_assert_ptr_eq(q, a);
            ck_assert_uint_eq(hk_size(g_heap, 0, a), 1000);
        }
    }
    if (!q) {
        ck_assert_int_eq(hk_last_error(), HK_ERR_NO_MEMORY);
        ck_assert_uint_eq(hk_size(g_heap, 0, a), 32);
    }
    ck_assert(tu_check(a, 32, 1));
    ck_assert(hk_free(g_heap, 0, a));
    ck_assert(hk_free(g_heap, 0, fence));
}
END_TEST

START_TEST(realloc_zero_growth)
{
    unsigned char *p, *q;
    dirty_heap(g_heap);
    p = hk_alloc(g_heap, 0, 16);
    ck_assert_ptr_nonnull(p);
    memset(p, 0xAA, 16);
    q = hk_realloc(g_heap, HK_HEAP_ZERO_MEMORY, p, 4096);
    ck_assert_ptr_nonnull(q);
    ck_assert(tu_all(q, 16, 0xAA));
    ck_assert(tu_all(q + 16, 4096 - 16, 0));
    p = hk_realloc(g_heap, HK_HEAP_ZERO_MEMORY, q, 300000);
    ck_assert_ptr_nonnull(p);
    ck_assert(tu_all(p, 16, 0xAA));
    ck_assert(tu_all(p + 16, 300000 - 16, 0));
    ck_assert(hk_free(g_heap, 0, p));
}
END_TEST

START_TEST(realloc_bad)
{
    unsigned char *p = hk_alloc(g_heap, 0, 40), *dead = hk_alloc(g_heap, 0, 40);
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(dead);
    ck_assert(hk_free(g_heap, 0, dead));
    tu_fill(p, 40, 5);
    ck_assert_ptr_null(hk_realloc(g_heap, 0, NULL, 10));
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    ck_assert_ptr_null(hk_realloc(g_heap, 0, dead, 10));
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    ck_assert_ptr_null(hk_realloc(g_heap, 0, p + 16, 10));
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    ck_assert_ptr_null(hk_realloc(g_heap, 0, p, SIZE_MAX));
    ck_assert_int_eq(hk_last_error(), HK_ERR_NO_MEMORY);
    ck_assert_ptr_null(hk_realloc(g_heap, 0, p, SIZE_MAX - 7));
    ck_assert_int_eq(hk_last_error(), HK_ERR_NO_MEMORY);
    ck_assert(hk_validate(g_heap, 0, p));
    ck_assert_uint_eq(hk_size(g_heap, 0, p), 40);
    ck_assert(tu_check(p, 40, 5));
    ck_assert(hk_free(g_heap, 0, p));
}
END_TEST

START_TEST(double_free)
{
    unsigned char *p = hk_alloc(g_heap, 0, 32), *q = hk_alloc(g_heap, 0, 32);
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(q);
    tu_fill(q, 32, 77);
    ck_assert(hk_free(g_heap, 0, p));
    hk_set_last_error(0);
    ck_assert(!hk_free(g_heap, 0, p));
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    ck_assert(!hk_validate(g_heap, 0, p));
    ck_assert_uint_eq(hk_size(g_heap, 0, p), (size_t)-1);
    ck_assert(hk_validate(g_heap, 0, NULL));
    ck_assert(hk_validate(g_heap, 0, q));
    ck_assert(tu_check(q, 32, 77));
    /* the heap still works */
    p = hk_alloc(g_heap, 0, 32);
    ck_assert_ptr_nonnull(p);
    ck_assert(hk_free(g_heap, 0, p));
    ck_assert(hk_free(g_heap, 0, q));
}
END_TEST

START_TEST(unknown_pointers)
{
    int on_stack[8];
    unsigned char *p = hk_alloc(g_heap, 0, 64);
    void *bad[4];
    int i;
    ck_assert_ptr_nonnull(p);
    tu_fill(p, 64, 12);
    bad[0] = on_stack;
    bad[1] = (void *)(uintptr_t)0xdeadbe00u;
    bad[2] = p + 16;
    bad[3] = p + 1;
    for (i = 0; i < 4; i++) {
        hk_set_last_error(0);
        ck_assert_msg(!hk_free(g_heap, 0, bad[i]), "free of bad[%d] accepted", i);
        ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
        ck_assert_uint_eq(hk_size(g_heap, 0, bad[i]), (size_t)-1);
        ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
        hk_set_last_error(4242);
        ck_assert(!hk_validate(g_heap, 0, bad[i]));
        ck_assert_int_eq(hk_last_error(), 4242);   /* validate keeps it */
    }
    ck_assert(hk_validate(g_heap, 0, NULL));
    ck_assert(tu_check(p, 64, 12));
    /* free(NULL): success, last error untouched, even on a bad heap */
    hk_set_last_error(4242);
    ck_assert(hk_free(g_heap, 0, NULL));
    ck_assert(hk_free(NULL, 0, NULL));
    ck_assert_int_eq(hk_last_error(), 4242);
    ck_assert(hk_free(g_heap, 0, p));
}
END_TEST

START_TEST(other_heap)
{
    hk_heap *h2 = hk_heap_create(g_backend, 0, 0, 0);
    unsigned char *p2;
    ck_assert_ptr_nonnull(h2);
    p2 = hk_alloc(h2, 0, 48);
    ck_assert_ptr_nonnull(p2);
    tu_fill(p2, 48, 21);
    ck_assert(!hk_free(g_heap, 0, p2));
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    ck_assert_uint_eq(hk_size(g_heap, 0, p2), (size_t)-1);
    ck_assert(!hk_validate(g_heap, 0, p2));
    ck_assert_ptr_null(hk_realloc(g_heap, 0, p2, 100));
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    ck_assert_uint_eq(hk_size(h2, 0, p2), 48);
    ck_assert(tu_check(p2, 48, 21));
    ck_assert(hk_validate(h2, 0, NULL));
    ck_assert(hk_free(h2, 0, p2));
    ck_assert(hk_heap_destroy(h2));
}
END_TEST

START_TEST(huge_sizes)
{
    static const size_t huge[] = { SIZE_MAX, SIZE_MAX - 7, SIZE_MAX / 2,
                                   (size_t)PTRDIFF_MAX, (size_t)1 << 62 };
    size_t i;
    for (i = 0; i < sizeof huge / sizeof *huge; i++) {
        hk_set_last_error(0);
        ck_assert_ptr_null(hk_alloc(g_heap, 0, huge[i]));
        ck_assert_int_eq(hk_last_error(), HK_ERR_NO_MEMORY);
        ck_assert_ptr_null(hk_alloc(g_heap, HK_HEAP_ZERO_MEMORY, huge[i]));
        ck_assert_int_eq(hk_last_error(), HK_ERR_NO_MEMORY);
    }
    ck_assert(hk_validate(g_heap, 0, NULL));
}
END_TEST

/* A block of 1 GiB and more works like any other: sized, validated,
 * walked, shrunk and grown back in place, freed, and reached by growing a
 * small block; stale and interior pointers to it are refused.  Only a few
 * of its pages are touched (nothing big is ever copied). */
START_TEST(big_block)
{
    const size_t n = ((size_t)1 << 30) + 4096, less = n - 65536;
    char *p = hk_alloc(g_heap, 0, n), *q;
    tu_walk w;
    size_t i, seen = 0;
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq((uintptr_t)p % 16, 0);
    p[0] = 'a';
    p[less - 1] = 'm';
    p[n - 1] = 'z';
    ck_assert_uint_eq(hk_size(g_heap, 0, p), n);
    ck_assert(hk_validate(g_heap, 0, p));
    ck_assert(hk_validate(g_heap, 0, NULL));
    hk_set_last_error(0);
    ck_assert(!hk_free(g_heap, 0, p + 16));           /* interior */
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    ck_assert_uint_eq(hk_size(g_heap, 0, p + 4096), (size_t)-1);
    tu_walk_collect(g_heap, &w);
    for (i = 0; i < w.n; i++)
        if (w.e[i].flags == HK_ENTRY_BUSY && w.e[i].data == p) {
            ck_assert_uint_eq(w.e[i].size, n);
            seen++;
        }
    ck_assert_int_eq(w.end_error, HK_ERR_NO_MORE_ITEMS);
    tu_walk_free(&w);
    ck_assert_uint_eq(seen, 1);

    q = hk_realloc(g_heap, HK_HEAP_REALLOC_IN_PLACE_ONLY, p, less);
    ck_assert_ptr_eq(q, p);                            /* a shrink never moves */
    ck_assert_uint_eq(hk_size(g_heap, 0, p), less);
    ck_assert(p[0] == 'a' && p[less - 1] == 'm');
    /* growing back in place: done, or refused with the block as it was */
    hk_set_last_error(0);
    q = hk_realloc(g_heap, HK_HEAP_REALLOC_IN_PLACE_ONLY, p, n);
    if (q) {
        ck_assert_ptr_eq(q, p);
        ck_assert_uint_eq(hk_size(g_heap, 0, p), n);
    } else {
        ck_assert_int_eq(hk_last_error(), HK_ERR_NO_MEMORY);
        ck_assert_uint_eq(hk_size(g_heap, 0, p), less);
    }
    ck_assert(p[0] == 'a' && p[less - 1] == 'm');
    ck_assert(hk_validate(g_heap, 0, p));

    ck_assert(hk_free(g_heap, 0, p));
    hk_set_last_error(0);
    ck_assert(!hk_free(g_heap, 0, p));                 /* stale */
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    ck_assert_uint_eq(hk_size(g_heap, 0, p), (size_t)-1);
    ck_assert(!hk_validate(g_heap, 0, p));
    ck_assert(hk_validate(g_heap, 0, NULL));

    /* a small block grown into a big one moves (only its 100 bytes are
     * copied); the old pointer is stale, the new one a block like any */
    p = hk_alloc(g_heap, 0, 100);
    ck_assert_ptr_nonnull(p);
    tu_fill(p, 100, 9);
    q = hk_realloc(g_heap, 0, p, n);
    ck_assert_ptr_nonnull(q);
    ck_assert(tu_check(q, 100, 9));
    ck_assert_uint_eq(hk_size(g_heap, 0, q), n);
    if (q != p)
        ck_assert_uint_eq(hk_size(g_heap, 0, p), (size_t)-1);
    ck_assert(hk_validate(g_heap, 0, q));
    ck_assert(hk_free(g_heap, 0, q));
    ck_assert(!hk_free(g_heap, 0, q));
    ck_assert(hk_validate(g_heap, 0, NULL));
}
END_TEST

static int g_exc_calls;
static unsigned g_exc_code;
static size_t g_exc_size;
static void on_exception(unsigned code, size_t size)
{
    g_exc_calls++;
    g_exc_code = code;
    g_exc_size = size;
}

START_TEST(generate_exceptions)
{
    hk_exception_fn old = hk_set_exception_handler(on_exception);
    hk_heap *hx = hk_heap_create(g_backend, HK_HEAP_GENERATE_EXCEPTIONS, 0, 0);
    void *p;
    ck_assert_ptr_nonnull(hx);
    g_exc_calls = 0;
    p = hk_alloc(hx, 0, 64);                 /* success raises nothing */
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(g_exc_calls, 0);
    ck_assert_ptr_null(hk_alloc(hx, 0, SIZE_MAX));   /* heap flag */
    ck_assert_int_eq(g_exc_calls, 1);
    ck_assert_uint_eq(g_exc_code, HK_STATUS_NO_MEMORY);
    ck_assert_uint_eq(g_exc_size, SIZE_MAX);
    ck_assert_ptr_null(hk_realloc(hx, 0, p, SIZE_MAX - 7));
    ck_assert_int_eq(g_exc_calls, 2);
    ck_assert_ptr_null(hk_alloc(g_heap, HK_HEAP_GENERATE_EXCEPTIONS, SIZE_MAX));
    ck_assert_int_eq(g_exc_calls, 3);                /* call flag */
    ck_assert_ptr_null(hk_alloc(g_heap, 0, SIZE_MAX));
    ck_assert_int_eq(g_exc_calls, 3);                /* no flag: no raise */
    ck_assert_int_eq(hk_last_error(), HK_ERR_NO_MEMORY);
    ck_assert(hk_heap_destroy(hx));
    ck_assert(hk_set_exception_handler(old) == on_exception);
}
END_TEST

START_TEST(fixed_size)
{
    hk_heap *hf = hk_heap_create(g_backend, 0, 0, 1u << 20);
    void *blocks[1024];
    int n = 0, i;
    if (!(g_caps & HK_CAP_FIXED_SIZE)) {
        ck_assert_ptr_null(hf);
        ck_assert_int_eq(hk_last_error(), HK_ERR_NOT_SUPPORTED);
        return;
    }
    ck_assert_ptr_nonnull(hf);
    while (n < 1024 && (blocks[n] = hk_alloc(hf, 0, 4096)) != NULL) {
        tu_fill(blocks[n], 4096, (unsigned)n);
        n++;
    }
    ck_assert_int_lt(n, 1024);               /* 4 MiB cannot fit in 1 MiB */
    ck_assert_int_gt(n, 16);
    ck_assert_int_eq(hk_last_error(), HK_ERR_NO_MEMORY);
    ck_assert_ptr_null(hk_alloc(hf, 0, 2u << 20));
    ck_assert_int_eq(hk_last_error(), HK_ERR_NO_MEMORY);
    ck_assert(hk_validate(hf, 0, NULL));
    for (i = 0; i < n; i++) {
        ck_assert(tu_check(blocks[i], 4096, (unsigned)i));
        ck_assert(hk_free(hf, 0, blocks[i]));
    }
    /* freed room is usable again */
    blocks[0] = hk_alloc(hf, 0, 4096);
    ck_assert_ptr_nonnull(blocks[0]);
    ck_assert(hk_heap_destroy(hf));
}
END_TEST

/* ---- walking ----------------------------------------------------------- */

static void check_walk(const tu_walk *w, void **live, const size_t *sizes, int nlive)
{
    size_t i;
    int in_region = 0, regions = 0, frees = 0, uncommitted = 0, j;
    char *lo = NULL, *hi = NULL, *prev = NULL;
    int *seen = calloc((size_t)nlive + 1, sizeof *seen);
    ck_assert_ptr_nonnull(seen);
    ck_assert_int_eq(w->end_error, HK_ERR_NO_MORE_ITEMS);
    for (i = 0; i < w->n; i++) {
        const hk_heap_entry *e = &w->e[i];
        char *d = e->data;
        switch (e->flags) {
        case HK_ENTRY_REGION:
            regions++;
            in_region = 1;
            lo = d;
            hi = e->u.region.last_block;
            prev = NULL;
            ck_assert_ptr_nonnull(d);
            ck_assert((char *)e->u.region.first_block >= d);
            ck_assert((char *)e->u.region.last_block >= (char *)e->u.region.first_block);
            break;
        case HK_ENTRY_UNCOMMITTED:
            ck_assert_msg(in_region, "uncommitted range outside a region");
            ck_assert(d >= lo && d + e->size <= hi);
            if (d + e->size == hi) {      /* the region's end */
                uncommitted++;
                in_region = 0;
            } else {                      /* pages given back inside it */
                ck_assert_msg(prev == NULL || d > prev, "entry %zu out of address order", i);
                prev = d;
            }
            break;
        case HK_ENTRY_BUSY:
        case HK_ENTRY_FREE:
            if (e->flags == HK_ENTRY_FREE)
                frees++;
            if (in_region) {
                ck_assert_msg(d >= lo && d + e->size <= hi, "entry %zu outside its region", i);
                ck_assert_msg(prev == NULL || d > prev, "entry %zu out of address order", i);
                prev = d;
            } else {
                ck_assert_msg(e->flags == HK_ENTRY_BUSY, "free block outside any region");
            }
            if (e->flags == HK_ENTRY_BUSY) {
                ck_assert_uint_eq((uintptr_t)d % 16, 0);
                for (j = 0; j < nlive; j++)
                    if (live[j] == d)
                        break;
                ck_assert_msg(j < nlive, "busy entry %p is not a live block", (void *)d);
                ck_assert_int_eq(seen[j], 0);
                seen[j] = 1;
                ck_assert_uint_eq(e->size, sizes[j]);
            }
            break;
        default:
            ck_abort_msg("entry %zu has flags 0x%x", i, e->flags);
        }
    }
    for (j = 0; j < nlive; j++)
        ck_assert_msg(seen[j], "live block %d (%p) not walked", j, live[j]);
    free(seen);
    if (g_caps & HK_CAP_WALK_FREE)
        ck_assert_int_gt(frees, 0);
    else
        ck_assert_int_eq(frees, 0);
    if (g_caps & HK_CAP_WALK_UNCOMMITTED)
        ck_assert_int_eq(uncommitted, regions);
    else
        ck_assert_int_eq(uncommitted, 0);
}

START_TEST(walk_invariants)
{
    enum { N = 300 };
    void *blocks[N], *live[N];
    size_t sizes[N], lsizes[N];
    int i, nlive = 0;
    tu_walk w1, w2;
    size_t k;
    for (i = 0; i < N; i++) {
        sizes[i] = (size_t)(i * 37) % 700 + (i % 50 == 0 ? 300000 : 0);
        blocks[i] = hk_alloc(g_heap, 0, sizes[i]);
        ck_assert_ptr_nonnull(blocks[i]);
    }
    for (i = 0; i < N; i++) {
        if (i % 3 == 1) {
            ck_assert(hk_free(g_heap, 0, blocks[i]));
        } else {
            live[nlive] = blocks[i];
            lsizes[nlive++] = sizes[i];
        }
    }
    tu_walk_collect(g_heap, &w1);
    check_walk(&w1, live, lsizes, nlive);
    /* nothing changed: the same walk again, entry for entry */
    tu_walk_collect(g_heap, &w2);
    ck_assert_uint_eq(w1.n, w2.n);
    for (k = 0; k < w1.n; k++) {
        ck_assert_ptr_eq(w1.e[k].data, w2.e[k].data);
        ck_assert_uint_eq(w1.e[k].size, w2.e[k].size);
        ck_assert_uint_eq(w1.e[k].flags, w2.e[k].flags);
    }
    tu_walk_free(&w1);
    tu_walk_free(&w2);
    for (i = 0; i < nlive; i++)
        ck_assert(hk_free(g_heap, 0, live[i]));
}
END_TEST

START_TEST(walk_empty)
{
    tu_walk w;
    tu_walk_collect(g_heap, &w);
    ck_assert_int_eq(w.end_error, HK_ERR_NO_MORE_ITEMS);
    if ((g_caps & HK_CAP_WALK_FREE) && (g_caps & HK_CAP_WALK_UNCOMMITTED)) {
        /* an empty growable heap: its region, one free block, the rest */
        ck_assert_uint_eq(w.n, 3);
        ck_assert_uint_eq(w.e[0].flags, HK_ENTRY_REGION);
        ck_assert_uint_eq(w.e[1].flags, HK_ENTRY_FREE);
        ck_assert_uint_eq(w.e[2].flags, HK_ENTRY_UNCOMMITTED);
        ck_assert_ptr_eq(w.e[0].u.region.last_block,
                         (char *)w.e[2].data + w.e[2].size);
    } else {
        size_t i;
        for (i = 0; i < w.n; i++)     /* nothing busy in an empty heap */
            ck_assert_uint_ne(w.e[i].flags, HK_ENTRY_BUSY);
    }
    tu_walk_free(&w);
}
END_TEST

START_TEST(walk_bad_entry)
{
    hk_heap_entry e;
    void *p = hk_alloc(g_heap, 0, 10);
    ck_assert_ptr_nonnull(p);
    memset(&e, 0, sizeof e);
    e.data = (void *)(uintptr_t)0xdeadbe00u;
    e.flags = HK_ENTRY_BUSY;
    hk_set_last_error(0);
    ck_assert(!hk_walk(g_heap, &e));
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    ck_assert(!hk_walk(g_heap, NULL));
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    ck_assert(hk_free(g_heap, 0, p));
}
END_TEST

struct visit_count { int busy, calls, stop_after; size_t bytes; };
static int count_visit(const hk_heap_entry *e, void *arg)
{
    struct visit_count *c = arg;
    c->calls++;
    if (e->flags == HK_ENTRY_BUSY) {
        c->busy++;
        c->bytes += e->size;
    }
    return c->stop_after && c->calls >= c->stop_after;
}

START_TEST(visit_matches_walk)
{
    void *p[50];
    int i;
    struct visit_count c = { 0, 0, 0, 0 };
    tu_walk w;
    size_t k, wb = 0;
    int wbusy = 0;
    for (i = 0; i < 50; i++) {
        p[i] = hk_alloc(g_heap, 0, (size_t)i * 11 + 1);
        ck_assert_ptr_nonnull(p[i]);
    }
    ck_assert(hk_visit(g_heap, count_visit, &c));
    tu_walk_collect(g_heap, &w);
    for (k = 0; k < w.n; k++)
        if (w.e[k].flags == HK_ENTRY_BUSY) {
            wbusy++;
            wb += w.e[k].size;
        }
    ck_assert_int_eq(c.busy, 50);
    ck_assert_int_eq(wbusy, 50);
    ck_assert_uint_eq(c.bytes, wb);
    ck_assert_uint_eq((size_t)c.calls, w.n);
    tu_walk_free(&w);
    /* the visitor can stop the walk */
    memset(&c, 0, sizeof c);
    c.stop_after = 3;
    ck_assert(hk_visit(g_heap, count_visit, &c));
    ck_assert_int_eq(c.calls, 3);
    ck_assert(!hk_visit(g_heap, NULL, NULL));
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    for (i = 0; i < 50; i++)
        ck_assert(hk_free(g_heap, 0, p[i]));
}
END_TEST

/* ---- enumeration, locking, threads ------------------------------------- */

START_TEST(process_heaps)
{
    size_t n0, n1, n, i;
    hk_heap *a, *b, **buf;
    int seen_a = 0, seen_b = 0, seen_g = 0;
    n0 = hk_process_heaps(NULL, 0);
    ck_assert_uint_ge(n0, 2);                /* process heap + g_heap */
    a = hk_heap_create(g_backend, 0, 0, 0);
    b = hk_heap_create(g_backend, 0, 0, 0);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    n1 = hk_process_heaps(NULL, 0);
    ck_assert_uint_eq(n1, n0 + 2);
    buf = calloc(n1 + 4, sizeof *buf);
    ck_assert_ptr_nonnull(buf);
    for (i = 0; i < n1 + 4; i++)
        buf[i] = (hk_heap *)(uintptr_t)0x5a5a5a5a;
    ck_assert_uint_eq(hk_process_heaps(buf, n1 - 1), n1);   /* too small */
    for (i = 0; i < n1 + 4; i++)
        ck_assert_ptr_eq(buf[i], (hk_heap *)(uintptr_t)0x5a5a5a5a);
    n = hk_process_heaps(buf, n1 + 4);
    ck_assert_uint_eq(n, n1);
    ck_assert_ptr_eq(buf[0], hk_process_heap());
    for (i = 0; i < n; i++) {
        seen_a += buf[i] == a;
        seen_b += buf[i] == b;
        seen_g += buf[i] == g_heap;
        ck_assert_ptr_nonnull(hk_heap_backend(buf[i]));   /* all live */
    }
    ck_assert_int_eq(seen_a, 1);
    ck_assert_int_eq(seen_b, 1);
    ck_assert_int_eq(seen_g, 1);
    ck_assert_ptr_eq(buf[n], (hk_heap *)(uintptr_t)0x5a5a5a5a);
    ck_assert(hk_heap_destroy(a));
    ck_assert(hk_heap_destroy(b));
    ck_assert_uint_eq(hk_process_heaps(NULL, 0), n0);
    free(buf);
}
END_TEST

struct lock_probe {
    hk_heap *h;
    void *victim;          /* a block of the main thread's, to free */
    int mode;              /* 0 lock, 1 alloc+free, 2 free */
    volatile int started;
    volatile int released; /* set by the main thread just before unlock */
    int saw_released;
    int ok;
};

static void *lock_probe_thread(void *arg)
{
    struct lock_probe *lp = arg;
    __atomic_store_n(&lp->started, 1, __ATOMIC_SEQ_CST);
    if (lp->mode == 0) {
        lp->ok = hk_lock(lp->h);
        lp->saw_released = __atomic_load_n(&lp->released, __ATOMIC_SEQ_CST);
        lp->ok &= hk_unlock(lp->h);
    } else if (lp->mode == 1) {
        void *p = hk_alloc(lp->h, 0, 24);
        lp->saw_released = __atomic_load_n(&lp->released, __ATOMIC_SEQ_CST);
        lp->ok = p != NULL && hk_free(lp->h, 0, p);
    } else {
        lp->ok = hk_free(lp->h, 0, lp->victim);
        lp->saw_released = __atomic_load_n(&lp->released, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

static void lock_probe_run(int mode)
{
    struct lock_probe lp;
    pthread_t t;
    memset(&lp, 0, sizeof lp);
    lp.h = g_heap;
    lp.mode = mode;
    lp.victim = hk_alloc(g_heap, 0, 40);
    ck_assert_ptr_nonnull(lp.victim);
    ck_assert(hk_lock(g_heap));
    ck_assert(hk_lock(g_heap));              /* recursive */
    ck_assert_int_eq(pthread_create(&t, NULL, lock_probe_thread, &lp), 0);
    while (!__atomic_load_n(&lp.started, __ATOMIC_SEQ_CST))
        tu_sleep_ms(1);
    tu_sleep_ms(50);      /* give the other thread time to reach the lock */
    ck_assert(hk_unlock(g_heap));
    __atomic_store_n(&lp.released, 1, __ATOMIC_SEQ_CST);
    ck_assert(hk_unlock(g_heap));
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_msg(lp.ok, "mode %d: call in the other thread failed", mode);
    ck_assert_msg(lp.saw_released, "mode %d: call did not wait for hk_unlock", mode);
    if (mode != 2)
        ck_assert(hk_free(g_heap, 0, lp.victim));
}

START_TEST(lock_two_threads)
{
    lock_probe_run(0);
    lock_probe_run(2);
    if (g_caps & HK_CAP_ANY_THREAD)
        lock_probe_run(1);
}
END_TEST

START_TEST(lock_no_serialize_heap)
{
    hk_heap *hn = hk_heap_create(g_backend, HK_HEAP_NO_SERIALIZE, 0, 0);
    void *p;
    ck_assert_ptr_nonnull(hn);
    ck_assert(hk_lock(hn));
    ck_assert(hk_unlock(hn));
    p = hk_alloc(hn, 0, 100);
    ck_assert_ptr_nonnull(p);
    ck_assert(hk_free(hn, HK_HEAP_NO_SERIALIZE, p));
    ck_assert(hk_heap_destroy(hn));
}
END_TEST

struct worker { hk_heap *h; void **shared; int idx, ok, refused; };

static void *worker_thread(void *arg)
{
    struct worker *w = arg;
    int i;
    w->ok = 1;
    /* free the block the main thread made for us: always allowed */
    if (!hk_free(w->h, 0, w->shared[w->idx]))
        w->ok = 0;
    for (i = 0; i < 2000; i++) {
        unsigned char *p = hk_alloc(w->h, 0, (size_t)(i % 300) + 1);
        if (!p) {
            if (hk_last_error() == HK_ERR_NOT_SUPPORTED)
                w->refused++;
            else
                w->ok = 0;
            continue;
        }
        tu_fill(p, (size_t)(i % 300) + 1, (unsigned)i);
        if (!tu_check(p, (size_t)(i % 300) + 1, (unsigned)i) || !hk_free(w->h, 0, p))
            w->ok = 0;
    }
    return NULL;
}

START_TEST(threads)
{
    enum { T = 4 };
    pthread_t t[T];
    struct worker w[T];
    void *shared[T];
    int i;
    for (i = 0; i < T; i++) {
        shared[i] = hk_alloc(g_heap, 0, 64);
        ck_assert_ptr_nonnull(shared[i]);
        w[i].h = g_heap;
        w[i].shared = shared;
        w[i].idx = i;
        w[i].refused = 0;
        ck_assert_int_eq(pthread_create(&t[i], NULL, worker_thread, &w[i]), 0);
    }
    for (i = 0; i < T; i++) {
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
        ck_assert(w[i].ok);
        /* thread-bound backends refuse other threads' allocations, all of them */
        ck_assert_int_eq(w[i].refused, (g_caps & HK_CAP_ANY_THREAD) ? 0 : 2000);
    }
    ck_assert(hk_validate(g_heap, 0, NULL));
}
END_TEST

START_TEST(mark_release)
{
    uintptr_t m;
    void *keep, *gone;
    if (!(g_caps & HK_CAP_MARK_RELEASE)) {
        ck_assert_uint_eq(hk_heap_mark(g_heap), 0);
        ck_assert_int_eq(hk_last_error(), HK_ERR_NOT_SUPPORTED);
        ck_assert(!hk_heap_release(g_heap, 1));
        ck_assert_int_eq(hk_last_error(), HK_ERR_NOT_SUPPORTED);
        return;
    }
    keep = hk_alloc(g_heap, 0, 100);
    ck_assert_ptr_nonnull(keep);
    tu_fill(keep, 100, 8);
    m = hk_heap_mark(g_heap);
    ck_assert_uint_ne(m, 0);
    gone = hk_alloc(g_heap, 0, 200);
    ck_assert_ptr_nonnull(gone);
    ck_assert_ptr_nonnull(hk_alloc(g_heap, 0, 2u << 20));
    {
        /* nested marks: releasing the inner one keeps what came between */
        void *mid = hk_alloc(g_heap, 0, 50), *inner;
        uintptr_t m2 = hk_heap_mark(g_heap);
        ck_assert_ptr_nonnull(mid);
        ck_assert_uint_ne(m2, 0);
        ck_assert_uint_ne(m2, m);
        inner = hk_alloc(g_heap, 0, 70);
        ck_assert_ptr_nonnull(inner);
        ck_assert(hk_heap_release(g_heap, m2));
        ck_assert(!hk_validate(g_heap, 0, inner));
        ck_assert(hk_validate(g_heap, 0, mid));
        ck_assert(hk_validate(g_heap, 0, gone));
    }
    ck_assert(hk_heap_release(g_heap, m));
    ck_assert(hk_validate(g_heap, 0, keep));
    ck_assert(tu_check(keep, 100, 8));
    ck_assert(!hk_validate(g_heap, 0, gone));
    ck_assert(!hk_free(g_heap, 0, gone));
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    ck_assert(hk_validate(g_heap, 0, NULL));
    /* the walk agrees: one busy block left */
    {
        tu_walk w;
        size_t i;
        int busy = 0;
        tu_walk_collect(g_heap, &w);
        for (i = 0; i < w.n; i++)
            busy += w.e[i].flags == HK_ENTRY_BUSY;
        ck_assert_int_eq(busy, 1);
        tu_walk_free(&w);
    }
    /* a mark this heap never issued */
    ck_assert(!hk_heap_release(g_heap, m ^ (uintptr_t)0x5a5a0000u));
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    ck_assert(!hk_heap_release(g_heap, 0));
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    ck_assert(hk_free(g_heap, 0, keep));
}
END_TEST

#ifndef _WIN32
/* Win32 code walks through heapkit/win32.h: its HeapWalk must keep the
 * walk's position (walk_state) on every backend, and see what hk_walk
 * sees, entry for entry. */
START_TEST(walk_through_win32_h)
{
    void *p[3];
    PROCESS_HEAP_ENTRY pe;
    tu_walk w;
    size_t n = 0;
    int busy = 0, i;
    DWORD err;
    for (i = 0; i < 3; i++) {
        p[i] = hk_alloc(g_heap, 0, (size_t)(i + 1) * 100);
        ck_assert_ptr_nonnull(p[i]);
    }
    tu_walk_collect(g_heap, &w);
    memset(&pe, 0, sizeof pe);
    ck_assert(HeapLock((HANDLE)g_heap));
    while (HeapWalk((HANDLE)g_heap, &pe)) {
        ck_assert_uint_lt(n, w.n);
        ck_assert_ptr_eq(pe.lpData, w.e[n].data);
        ck_assert_uint_eq(pe.cbData, (DWORD)w.e[n].size);
        ck_assert_uint_eq(pe.wFlags, w.e[n].flags);
        busy += (pe.wFlags & PROCESS_HEAP_ENTRY_BUSY) != 0;
        n++;
    }
    err = GetLastError();
    ck_assert(HeapUnlock((HANDLE)g_heap));
    ck_assert_uint_eq(err, ERROR_NO_MORE_ITEMS);
    ck_assert_uint_eq(n, w.n);
    ck_assert_int_eq(busy, 3);
    tu_walk_free(&w);
    for (i = 0; i < 3; i++)
        ck_assert(hk_free(g_heap, 0, p[i]));
}
END_TEST
#endif

static Suite *conformance_suite(const char *backend)
{
    static char name[64];
    Suite *s;
    TCase *tc;
    snprintf(name, sizeof name, "conformance:%s", backend);
    s = suite_create(name);
    tc = tcase_create("contract");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, create_destroy);
    tcase_add_test(tc, sizes_alignment);
    tcase_add_test(tc, zero_size);
    tcase_add_test(tc, zero_memory);
    tcase_add_test(tc, realloc_grow_shrink);
    tcase_add_test(tc, realloc_in_place_only);
    tcase_add_test(tc, realloc_in_place_grow);
    tcase_add_test(tc, realloc_zero_growth);
    tcase_add_test(tc, realloc_bad);
    tcase_add_test(tc, double_free);
    tcase_add_test(tc, unknown_pointers);
    tcase_add_test(tc, other_heap);
    tcase_add_test(tc, huge_sizes);
    tcase_add_test(tc, big_block);
    tcase_add_test(tc, generate_exceptions);
    tcase_add_test(tc, fixed_size);
    tcase_add_test(tc, walk_invariants);
    tcase_add_test(tc, walk_empty);
    tcase_add_test(tc, walk_bad_entry);
    tcase_add_test(tc, visit_matches_walk);
    tcase_add_test(tc, process_heaps);
    tcase_add_test(tc, lock_two_threads);
    tcase_add_test(tc, lock_no_serialize_heap);
    tcase_add_test(tc, threads);
    tcase_add_test(tc, mark_release);
#ifndef _WIN32
    tcase_add_test(tc, walk_through_win32_h);
#endif
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_per_backend(conformance_suite, &g_backend);
}
