/* tests/arena.c - the arena's issue-9 behaviour, both lanes:
 *  - contract: NULL heap in hk_free/hk_size is error 87; hk_size(h, 0,
 *    NULL) sets its error;
 *  - commit limit: a request beyond RAM + swap (the commit limit on
 *    Windows) fails with HK_ERR_NO_MEMORY instead of overcommitting;
 *  - the cache of freed large mappings: a reused mapping is zeroed for
 *    HK_HEAP_ZERO_MEMORY, a freed large block is refused by a second free
 *    and gone from the walk;
 *  - trim: hk_compact gives the pages of free blocks back (mincore), and
 *    the walk (iterator and visitor alike) shows them UNCOMMITTED;
 *  - a 4-thread stress on one shared heap, contents checked;
 *  - thread caches (a shared heap): a block a thread freed into its cache
 *    is FREE in the walk and refused by a second free, also after the
 *    thread exited; HeapLock stops a thread whose cache could serve it;
 *  - overhead: a small block costs its 8-byte header and the rounding to
 *    16 bytes, nothing more (32 bytes at least);
 *  - epoch tags: after a mark, blocks carry their epoch through realloc
 *    (in place and moved), and release(m) frees exactly them (a damaged
 *    tag: tests/harden.c);
 *  - heaps above 2 GiB (one region's limit): a fixed heap of 3 and 5 GiB
 *    and a growable one of 2.5 GiB initial size are several regions; they
 *    fill across the boundaries, walk every block once, free, compact, and
 *    fail with HK_ERR_NO_MEMORY where the contract says (reserved only:
 *    each block touches two pages). */
#include "testutil.h"

#if defined(_WIN32)
#  include <windows.h>
#else
#  include <unistd.h>
#  if defined(__linux__)
#    include <sys/sysinfo.h>
#  endif
#endif

static hk_heap *arena(void)
{
    hk_heap *h = hk_heap_create("arena", 0, 0, 0);
    ck_assert_ptr_nonnull(h);
    return h;
}

START_TEST(null_heap_is_87)
{
    int x = 0;
    hk_set_last_error(0);
    ck_assert(!hk_free(NULL, 0, &x));
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    hk_set_last_error(0);
    ck_assert(hk_size(NULL, 0, &x) == (size_t)-1);
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
}
END_TEST

START_TEST(size_of_null_sets_error)
{
    hk_heap *h = arena();
    hk_set_last_error(0);
    ck_assert(hk_size(h, 0, NULL) == (size_t)-1);
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    ck_assert(hk_heap_destroy(h));
}
END_TEST

/* What the machine could ever commit, found the way the OS reports it. */
static unsigned long long commit_limit(void)
{
#if defined(_WIN32)
    MEMORYSTATUSEX ms;
    ms.dwLength = sizeof ms;
    ck_assert(GlobalMemoryStatusEx(&ms));
    return ms.ullTotalPageFile;
#elif defined(__linux__)
    struct sysinfo si;
    ck_assert_int_eq(sysinfo(&si), 0);
    return ((unsigned long long)si.totalram + si.totalswap) * (si.mem_unit ? si.mem_unit : 1);
#else
    return (unsigned long long)sysconf(_SC_PHYS_PAGES) * (unsigned long long)sysconf(_SC_PAGESIZE);
#endif
}

START_TEST(beyond_commit_limit)
{
    hk_heap *h = arena();
    unsigned long long lim = commit_limit();
    size_t n;
    void *p;
    ck_assert(lim > 0 && lim < ((unsigned long long)1 << 45));
    n = (size_t)(lim + lim / 4);          /* more than could ever be committed */
    hk_set_last_error(0);
    ck_assert_ptr_null(hk_alloc(h, 0, n));
    ck_assert_int_eq(hk_last_error(), HK_ERR_NO_MEMORY);
    /* realloc to it fails the same way and keeps the block */
    p = hk_alloc(h, 0, 100);
    ck_assert_ptr_nonnull(p);
    tu_fill(p, 100, 3);
    hk_set_last_error(0);
    ck_assert_ptr_null(hk_realloc(h, 0, p, n));
    ck_assert_int_eq(hk_last_error(), HK_ERR_NO_MEMORY);
    ck_assert(tu_check(p, 100, 3));
    /* a fixed heap: beyond its maximum */
    ck_assert(hk_free(h, 0, p));
    ck_assert(hk_heap_destroy(h));
    h = hk_heap_create("arena", 0, 0x10000, 0x100000);
    ck_assert_ptr_nonnull(h);
    hk_set_last_error(0);
    ck_assert_ptr_null(hk_alloc(h, 0, 0x200000));
    ck_assert_int_eq(hk_last_error(), HK_ERR_NO_MEMORY);
    ck_assert(hk_heap_destroy(h));
}
END_TEST

static int walk_has_busy(hk_heap *h, const void *p)
{
    tu_walk w;
    size_t i;
    int found = 0;
    tu_walk_collect(h, &w);
    for (i = 0; i < w.n; i++)
        if ((w.e[i].flags & HK_ENTRY_BUSY) && w.e[i].data == p) found = 1;
    free(w.e);
    return found;
}

START_TEST(large_cache_contract)
{
    hk_heap *h = arena();
    const size_t n = (size_t)3 << 20;
    void *p, *q, *r;
    int round;
    for (round = 0; round < 4; round++) {
        p = hk_alloc(h, 0, n);
        ck_assert_ptr_nonnull(p);
        memset(p, 0xAB, n);
        ck_assert(walk_has_busy(h, p));
        ck_assert(hk_free(h, 0, p));
        /* freed: refused by a second free, gone from the walk */
        hk_set_last_error(0);
        ck_assert(!hk_free(h, 0, p));
        ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
        ck_assert(hk_size(h, 0, p) == (size_t)-1);
        ck_assert(!walk_has_busy(h, p));
        /* the next one (likely the same mapping) reads as zero */
        q = hk_alloc(h, HK_HEAP_ZERO_MEMORY, n - 4096 * round);
        ck_assert_ptr_nonnull(q);
        ck_assert(tu_all(q, n - 4096 * round, 0));
        /* realloc growth with zero-memory into a reused mapping */
        memset(q, 0xCD, 1000);
        ck_assert(hk_free(h, 0, q));
        r = hk_alloc(h, 0, n / 2 + 100000);
        ck_assert_ptr_nonnull(r);
        memset(r, 0xEE, n / 2 + 100000);
        ck_assert(hk_free(h, 0, r));
        r = hk_alloc(h, 0, 1024);
        ck_assert_ptr_nonnull(r);
        memset(r, 0x11, 1024);
        r = hk_realloc(h, HK_HEAP_ZERO_MEMORY, r, n);
        ck_assert_ptr_nonnull(r);
        ck_assert(tu_all(r, 1024, 0x11));
        ck_assert(tu_all((char *)r + 1024, n - 1024, 0));
        ck_assert(hk_free(h, 0, r));
    }
    ck_assert(hk_validate(h, 0, NULL));
    ck_assert(hk_compact(h, 0) > 0);
    ck_assert(hk_heap_destroy(h));
}
END_TEST

#if !defined(_WIN32)
#  include <sys/mman.h>
/* Of the whole pages in [lo, hi), how many are resident. */
static void resident(uintptr_t lo, uintptr_t hi, size_t *pages, size_t *res)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), n, i;
    unsigned char *v;
    lo = (lo + pg - 1) & ~(uintptr_t)(pg - 1);
    hi &= ~(uintptr_t)(pg - 1);
    if (hi <= lo) return;
    n = (hi - lo) / pg;
    v = malloc(n);
    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(mincore((void *)lo, hi - lo, (void *)v), 0);
    for (i = 0; i < n; i++) *res += v[i] & 1;
    *pages += n;
    free(v);
}
#endif

/* Interior UNCOMMITTED entries of a walk (pages hk_compact gave back,
 * not a region's end): each page-aligned and right after a FREE entry;
 * none overlaps a busy entry.  Returns the bytes of those starting in
 * [from, to). */
static size_t gone_in(const tu_walk *w, const char *from, const char *to)
{
    size_t i, j, sum = 0;
    char *end = NULL;
    for (i = 0; i < w->n; i++) {
        const hk_heap_entry *e = &w->e[i];
        char *d = e->data;
        if (e->flags == HK_ENTRY_REGION) end = e->u.region.last_block;
        if (e->flags != HK_ENTRY_UNCOMMITTED || d + e->size == end) continue;
        ck_assert_uint_eq((uintptr_t)d % 4096, 0);
        ck_assert_uint_eq(e->size % 4096, 0);
        ck_assert_uint_gt(e->size, 0);
        ck_assert(i > 0 && w->e[i - 1].flags == HK_ENTRY_FREE &&
                  (char *)w->e[i - 1].data + w->e[i - 1].size == d);
        if (d >= from && d < to) sum += e->size;
    }
    for (j = 0; j < w->n; j++) {     /* busy data never in such a span */
        const hk_heap_entry *b = &w->e[j];
        if (!(b->flags & HK_ENTRY_BUSY) || b->region_index == 64) continue;
        for (i = 0; i < w->n; i++) {
            const hk_heap_entry *e = &w->e[i];
            if (e->flags == HK_ENTRY_UNCOMMITTED)
                ck_assert((char *)b->data + b->size <= (char *)e->data ||
                          (char *)b->data >= (char *)e->data + e->size);
        }
        if (j > 64) break;           /* a sample: the loop is quadratic */
    }
    return sum;
}
#define gone_bytes(w) gone_in((w), NULL, (const char *)UINTPTR_MAX)

typedef struct { hk_heap_entry *e; size_t n, cap; } visit_log;
static int visit_add(const hk_heap_entry *e, void *arg)
{
    visit_log *v = arg;
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 1024;
        v->e = realloc(v->e, v->cap * sizeof *v->e);
        ck_assert_ptr_nonnull(v->e);
    }
    v->e[v->n++] = *e;
    return 0;
}

/* 200k blocks of 16..256 B; 90% freed in runs of 900 of every 1000 (the
 * pattern of a program dropping most of what a phase built), then
 * hk_compact.  The pages of the free runs go back to the OS (POSIX:
 * mincore() says >= 80% of them are no longer resident); the survivors
 * keep their contents and the heap still validates and walks. */
START_TEST(compact_gives_memory_back)
{
    enum { N = 200000 };
    hk_heap *h = arena();
    void **p = malloc(N * sizeof *p);
    uintptr_t *lo = malloc(N / 1000 * sizeof *lo), *hi = malloc(N / 1000 * sizeof *hi);
    size_t i, freed = 0, busy = 0;
    tu_walk w;
    ck_assert(p && lo && hi);
    for (i = 0; i < N; i++) {
        size_t n = 16 + (i * 37) % 241;
        p[i] = hk_alloc(h, 0, n);
        ck_assert_ptr_nonnull(p[i]);
        tu_fill(p[i], n, (unsigned)i);
    }
    for (i = 0; i < N; i++) {
        if (i % 1000 < 100) continue;
        /* the run's span: from after block 99 to block 999's end */
        if (i % 1000 == 100) lo[i / 1000] = (uintptr_t)p[i - 1] + 16 + (i - 1) * 37 % 241;
        if (i % 1000 == 999) hi[i / 1000] = (uintptr_t)p[i] + 16 + (i * 37) % 241;
        ck_assert(hk_free(h, 0, p[i]));
        p[i] = NULL;
        freed++;
    }
    ck_assert(hk_compact(h, 0) > 0);
#if !defined(_WIN32)
    {
        size_t pages = 0, res = 0;
        for (i = 0; i < N / 1000; i++)
            if (hi[i] > lo[i]) resident(lo[i], hi[i], &pages, &res);
        ck_assert_msg(pages > N / 1000 * 20 && res * 5 <= pages,
                      "%zu of %zu freed pages still resident", res, pages);
    }
#endif
    for (i = 0; i < N; i++)
        if (p[i]) ck_assert(tu_check(p[i], 16 + (i * 37) % 241, (unsigned)i));
    ck_assert(hk_validate(h, 0, NULL));
    tu_walk_collect(h, &w);
    ck_assert_int_eq(w.end_error, HK_ERR_NO_MORE_ITEMS);
    for (i = 0; i < w.n; i++)
        if (w.e[i].flags & HK_ENTRY_BUSY) busy++;
    ck_assert_uint_eq(busy, N - freed);
    {
        /* the walk shows the given-back pages UNCOMMITTED: the whole
         * pages of every run past its free block's first 48 bytes (the
         * run's block starts at most 15 bytes after lo), but for a few
         * runs at a region's end, whose tail is trimmed instead */
        size_t want = 0, got = gone_bytes(&w), k;
        visit_log v = {0};
        for (i = 0; i < N / 1000; i++) {
            uintptr_t a = (lo[i] + 64 + 4095) & ~(uintptr_t)4095, b = hi[i] & ~(uintptr_t)4095;
            if (b > a) want += b - a;
        }
        ck_assert_uint_gt(want, (size_t)N / 1000 * 20 * 4096);
        ck_assert_msg(got >= want / 10 * 9 && got <= freed * 288, "%zu bytes UNCOMMITTED, want %zu",
                      got, want);
        /* the visitor sees what the iterator sees */
        ck_assert(hk_visit(h, visit_add, &v));
        ck_assert_uint_eq(v.n, w.n);
        for (k = 0; k < w.n; k++) {
            ck_assert_ptr_eq(v.e[k].data, w.e[k].data);
            ck_assert_uint_eq(v.e[k].size, w.e[k].size);
            ck_assert_uint_eq(v.e[k].flags, w.e[k].flags);
        }
        free(v.e);
    }
    free(w.e);
    /* the given-back pages are usable again; blocks carved from them are
     * busy in the walk, never inside an UNCOMMITTED span */
    for (i = 0; i < N; i++)
        if (!p[i]) { p[i] = hk_alloc(h, 0, 64); ck_assert_ptr_nonnull(p[i]); memset(p[i], 1, 64); }
    ck_assert(hk_validate(h, 0, NULL));
    tu_walk_collect(h, &w);
    ck_assert_int_eq(w.end_error, HK_ERR_NO_MORE_ITEMS);
    busy = 0;
    for (i = 0; i < w.n; i++)
        if (w.e[i].flags & HK_ENTRY_BUSY) busy++;
    ck_assert_uint_eq(busy, N);
    gone_bytes(&w);
    free(w.e);
    /* freed and compacted again: given back again, then merged away */
    for (i = 0; i < N; i++)
        if (i % 1000 >= 100) { ck_assert(hk_free(h, 0, p[i])); p[i] = NULL; }
    ck_assert(hk_compact(h, 0) > 0);
    tu_walk_collect(h, &w);
    ck_assert_int_eq(w.end_error, HK_ERR_NO_MORE_ITEMS);
    ck_assert_uint_gt(gone_bytes(&w), (size_t)N / 1000 * 20 * 4096);
    free(w.e);
    for (i = 0; i < N; i++)
        if (p[i]) { ck_assert(hk_free(h, 0, p[i])); p[i] = NULL; }
    tu_walk_collect(h, &w);
    ck_assert_int_eq(w.end_error, HK_ERR_NO_MORE_ITEMS);
    gone_bytes(&w);
    free(w.e);
    ck_assert(hk_validate(h, 0, NULL));
    ck_assert(hk_heap_destroy(h));
    free(p); free(lo); free(hi);
}
END_TEST

/* A block handed out from given-back pages and freed again is FREE in the
 * walk, whole, until the next hk_compact (its pages are in use again,
 * even if the program never wrote the bytes where the arena marks a span
 * given back). */
START_TEST(given_back_then_reused)
{
    enum { N = 4096 * 16 - 23 };     /* 4096 units: the head of its class */
    hk_heap *h = arena();
    char *a = hk_alloc(h, 0, 100), *x = hk_alloc(h, 0, N), *c = hk_alloc(h, 0, 100), *y;
    tu_walk w;
    ck_assert(a && x && c);
    ck_assert(hk_free(h, 0, x));
    ck_assert(hk_compact(h, 0) > 0);
    tu_walk_collect(h, &w);
    ck_assert_int_eq(w.end_error, HK_ERR_NO_MORE_ITEMS);
    ck_assert_uint_ge(gone_in(&w, x, x + N), (size_t)N - 2 * 4096);
    free(w.e);
    y = hk_alloc(h, 0, N);
    ck_assert_ptr_eq(y, x);          /* the same block, taken whole */
    memset(y, 1, 16);
    memset(y + 32, 1, N - 32);
    tu_walk_collect(h, &w);
    ck_assert_int_eq(w.end_error, HK_ERR_NO_MORE_ITEMS);
    ck_assert_uint_eq(gone_in(&w, x, x + N), 0);
    free(w.e);
    ck_assert(hk_free(h, 0, y));
    tu_walk_collect(h, &w);
    ck_assert_int_eq(w.end_error, HK_ERR_NO_MORE_ITEMS);
    ck_assert_uint_eq(gone_in(&w, x, x + N), 0);
    free(w.e);
    ck_assert(hk_validate(h, 0, NULL));
    ck_assert(hk_heap_destroy(h));
}
END_TEST

/* ---- 4 threads, one shared heap --------------------------------------- */
enum { ST_THREADS = 4, ST_SLOTS = 512, ST_OPS = 60000 };

typedef struct {
    hk_heap *h;
    unsigned id;
    int bad;           /* contents or an operation went wrong */
} st_arg;

static size_t st_len(uint32_t r)
{
    switch (r & 7) {
    case 0: return 1 + (r >> 8) % 0x1000;              /* up to 4 KiB  */
    case 1: if (((r >> 3) & 63) == 0) return 0xFF000 + (r >> 8) % 0x40000; /* large */
            /* fall through */
    default: return 1 + (r >> 8) % 300;
    }
}

static void *st_thread(void *v)
{
    st_arg *a = v;
    void *slot[ST_SLOTS] = {0};
    size_t len[ST_SLOTS] = {0};
    uint32_t x = 0x9E3779B9u * (a->id + 1);
    unsigned i, k;
    for (i = 0; i < ST_OPS && !a->bad; i++) {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
        k = x % ST_SLOTS;
        if (slot[k]) {
            if (!tu_check(slot[k], len[k], a->id * 131u + k)) a->bad = 1;
            if ((x >> 9) % 4 == 0) {
                size_t n = st_len(x * 2654435761u);
                void *q = hk_realloc(a->h, 0, slot[k], n);
                if (!q) { a->bad = 2; break; }
                if (!tu_check(q, n < len[k] ? n : len[k], a->id * 131u + k)) a->bad = 3;
                slot[k] = q; len[k] = n;
                tu_fill(q, n, a->id * 131u + k);
                continue;
            }
            if (!hk_free(a->h, 0, slot[k])) a->bad = 4;
            slot[k] = NULL;
        } else {
            len[k] = st_len(x);
            if (!(slot[k] = hk_alloc(a->h, 0, len[k]))) { a->bad = 5; break; }
            tu_fill(slot[k], len[k], a->id * 131u + k);
        }
        if (a->id == 0 && i % 5000 == 0) {   /* HeapLock stops the others */
            if (!hk_lock(a->h) || !hk_validate(a->h, 0, NULL) || !hk_unlock(a->h)) a->bad = 6;
        }
    }
    for (k = 0; k < ST_SLOTS; k++)
        if (slot[k]) {
            if (!tu_check(slot[k], len[k], a->id * 131u + k)) a->bad = 7;
            if (!hk_free(a->h, 0, slot[k])) a->bad = 8;
        }
    return NULL;
}

START_TEST(shared_heap_stress)
{
    hk_heap *h = arena();
    pthread_t t[ST_THREADS];
    st_arg a[ST_THREADS];
    unsigned i;
    tu_walk w;
    for (i = 0; i < ST_THREADS; i++) {
        a[i].h = h; a[i].id = i; a[i].bad = 0;
        ck_assert_int_eq(pthread_create(&t[i], NULL, st_thread, &a[i]), 0);
    }
    for (i = 0; i < ST_THREADS; i++) ck_assert_int_eq(pthread_join(t[i], NULL), 0);
    for (i = 0; i < ST_THREADS; i++) ck_assert_msg(a[i].bad == 0, "thread %u: %d", i, a[i].bad);
    ck_assert(hk_validate(h, 0, NULL));
    tu_walk_collect(h, &w);
    for (i = 0; i < w.n; i++) ck_assert(!(w.e[i].flags & HK_ENTRY_BUSY));
    free(w.e);
    ck_assert(hk_heap_destroy(h));
}
END_TEST

/* ---- thread caches keep the contract ----------------------------------- */
enum { TC_N = 16, TC_LEN = 48 };

typedef struct {
    hk_heap *h;
    void *p[TC_N];
    int ok;
    int warm, go, done;     /* handshake with the main thread (atomics) */
} tc_arg;

/* Allocate TC_N blocks and free them: they go to this thread's cache;
 * then the thread exits with them there. */
static void *tc_churn(void *v)
{
    tc_arg *a = v;
    unsigned i;
    for (i = 0; i < TC_N; i++) {
        if (!(a->p[i] = hk_alloc(a->h, 0, TC_LEN))) return NULL;
        memset(a->p[i], 0x5A, TC_LEN);
    }
    for (i = 0; i < TC_N; i++)
        if (!hk_free(a->h, 0, a->p[i])) return NULL;
    a->ok = 1;
    return NULL;
}

/* Warm the cache (one alloc/free), wait for go, then one more alloc/free
 * that the cache could serve without the heap lock. */
static void *tc_blocked(void *v)
{
    tc_arg *a = v;
    void *q = hk_alloc(a->h, 0, TC_LEN);
    if (!q || !hk_free(a->h, 0, q)) return NULL;
    __atomic_store_n(&a->warm, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&a->go, __ATOMIC_ACQUIRE)) tu_sleep_ms(1);
    q = hk_alloc(a->h, 0, TC_LEN);
    if (q && hk_free(a->h, 0, q)) a->ok = 1;
    __atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

START_TEST(thread_cache_contract)
{
    hk_heap *h = arena();
    void *mine = hk_alloc(h, 0, 100);   /* the main thread uses it first */
    tc_arg a, b;
    pthread_t t;
    tu_walk w;
    unsigned i;
    size_t k, busy = 0;
    ck_assert_ptr_nonnull(mine);
    memset(&a, 0, sizeof a);
    a.h = h;
    ck_assert_int_eq(pthread_create(&t, NULL, tc_churn, &a), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert(a.ok);
    /* the exited thread's cached blocks: free, and not lost */
    for (i = 0; i < TC_N; i++) {
        hk_set_last_error(0);
        ck_assert(!hk_free(h, 0, a.p[i]));
        ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
        ck_assert_uint_eq(hk_size(h, 0, a.p[i]), (size_t)-1);
        ck_assert(!hk_validate(h, 0, a.p[i]));
    }
    ck_assert(hk_validate(h, 0, NULL));
    tu_walk_collect(h, &w);
    ck_assert_int_eq(w.end_error, HK_ERR_NO_MORE_ITEMS);
    for (i = 0; i < TC_N; i++) {
        int in_free = 0;
        for (k = 0; k < w.n; k++) {
            /* its last byte (a free entry's data starts past the links) */
            const char *d = w.e[k].data, *p = (const char *)a.p[i] + TC_LEN - 1;
            if (p >= d && p < d + w.e[k].size) {
                ck_assert(!(w.e[k].flags & HK_ENTRY_BUSY));
                if (w.e[k].flags == HK_ENTRY_FREE) in_free = 1;
            }
        }
        ck_assert_msg(in_free, "block %u not in a FREE entry", i);
    }
    for (k = 0; k < w.n; k++)
        if (w.e[k].flags & HK_ENTRY_BUSY) {
            ck_assert_ptr_eq(w.e[k].data, mine);
            busy++;
        }
    ck_assert_uint_eq(busy, 1);
    tu_walk_free(&w);

    /* HeapLock stops a thread whose own cache holds a block for it */
    memset(&b, 0, sizeof b);
    b.h = h;
    ck_assert_int_eq(pthread_create(&t, NULL, tc_blocked, &b), 0);
    while (!__atomic_load_n(&b.warm, __ATOMIC_ACQUIRE)) tu_sleep_ms(1);
    ck_assert(hk_lock(h));
    __atomic_store_n(&b.go, 1, __ATOMIC_RELEASE);
    tu_sleep_ms(200);
    ck_assert_int_eq(__atomic_load_n(&b.done, __ATOMIC_ACQUIRE), 0);
    ck_assert(hk_validate(h, 0, NULL));
    ck_assert(hk_unlock(h));
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert(b.done && b.ok);
    ck_assert(hk_free(h, 0, mine));
    ck_assert(hk_validate(h, 0, NULL));
    ck_assert(hk_heap_destroy(h));
}
END_TEST

/* ---- a miss flushes the caches before it fails ------------------------- */
/* A fixed heap whose free space is cut into pieces by cached blocks: a
 * request larger than any piece needs the caches merged back.  A flush
 * at a miss is rate-limited (arena.c, hk__flush_due), so the second and
 * third rounds come right after one; a heap that cannot grow must still
 * flush before it says no. */
START_TEST(fixed_heap_flushes_before_failing)
{
    enum { MAXB = 40000 };
    hk_heap *h = hk_heap_create("arena", 0, 0, (size_t)1 << 20);
    void **p = calloc(MAXB, sizeof *p);
    unsigned round;
    ck_assert_ptr_nonnull(h);
    ck_assert_ptr_nonnull(p);
    for (round = 0; round < 3; round++) {
        size_t n = 0, i, k;
        void *big;
        while (n < MAXB && (p[n] = hk_alloc(h, 0, 48)) != NULL) n++;
        ck_assert_uint_gt(n, 1000);
        /* 64 spread blocks first: they stay cached, between free runs */
        for (k = 0; k < 64; k++) {
            ck_assert(hk_free(h, 0, p[k * (n / 64)]));
            p[k * (n / 64)] = NULL;
        }
        for (i = 0; i < n; i++)
            if (p[i]) ck_assert(hk_free(h, 0, p[i]));
        big = hk_alloc(h, 0, 256 << 10);
        ck_assert_msg(big != NULL, "round %u: no 256 KiB block after freeing everything", round);
        ck_assert(hk_free(h, 0, big));
        ck_assert(hk_validate(h, 0, NULL));
    }
    ck_assert(hk_heap_destroy(h));
    free(p);
}
END_TEST

/* ---- one thread's spill, another's refill (the depot) ------------------- */
/* A consumer that frees a producer's blocks fills its thread cache and
 * spills chains of them whole (arena.h: the depot), which a producer
 * takes whole.  Blocks parked there are free to every check. */
enum { DP_N = 400, DP_LEN = 40 };

typedef struct {
    hk_heap *h;
    void **p;
    unsigned n, from;
    int ok;
} dp_arg;

static void *dp_produce(void *v)
{
    dp_arg *a = v;
    unsigned i;
    for (i = 0; i < a->n; i++) {
        if (!(a->p[a->from + i] = hk_alloc(a->h, 0, DP_LEN))) return NULL;
        tu_fill(a->p[a->from + i], DP_LEN, a->from + i);
    }
    a->ok = 1;
    return NULL;
}

static void *dp_consume(void *v)
{
    dp_arg *a = v;
    unsigned i;
    for (i = 0; i < a->n; i++)
        if (!tu_check(a->p[a->from + i], DP_LEN, a->from + i) || !hk_free(a->h, 0, a->p[a->from + i]))
            return NULL;
    a->ok = 1;
    return NULL;
}

static int dp_run(void *(*fn)(void *), dp_arg *a)
{
    pthread_t t;
    a->ok = 0;
    if (pthread_create(&t, NULL, fn, a) || pthread_join(t, NULL)) return 0;
    return a->ok;
}

START_TEST(depot_handover)
{
    hk_heap *h = arena();
    void *mine = hk_alloc(h, 0, 100), *again[DP_N];
    void **p = calloc(DP_N, sizeof *p);
    dp_arg a = { h, p, DP_N, 0, 0 };
    unsigned i, round;
    tu_walk w;
    size_t k;
    ck_assert_ptr_nonnull(mine);
    ck_assert_ptr_nonnull(p);
    for (round = 0; round < 3; round++) {
        a.p = p; a.from = 0; a.n = DP_N;
        ck_assert(dp_run(dp_produce, &a));
        ck_assert(dp_run(dp_consume, &a));
        /* parked in a thread cache or the depot: freed, so refused again */
        for (i = 0; i < DP_N; i += 7) {
            hk_set_last_error(0);
            ck_assert(!hk_free(h, 0, p[i]));
            ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
            ck_assert_uint_eq(hk_size(h, 0, p[i]), (size_t)-1);
        }
        ck_assert(hk_validate(h, 0, NULL));
    }
    /* a new thread refills from the depot: blocks come back whole */
    a.p = again; a.from = 0; a.n = DP_N;
    ck_assert(dp_run(dp_produce, &a));
    for (i = 0; i < DP_N; i++) ck_assert(tu_check(again[i], DP_LEN, i));
    ck_assert(hk_validate(h, 0, NULL));
    ck_assert(dp_run(dp_consume, &a));
    /* the walk sees every parked block as free and only mine busy */
    tu_walk_collect(h, &w);
    ck_assert_int_eq(w.end_error, HK_ERR_NO_MORE_ITEMS);
    for (k = 0; k < w.n; k++)
        if (w.e[k].flags & HK_ENTRY_BUSY) ck_assert_ptr_eq(w.e[k].data, mine);
    for (i = 0; i < DP_N; i++) {
        const char *q = (const char *)again[i] + DP_LEN - 1;
        int in_free = 0;
        for (k = 0; k < w.n; k++)
            if (q >= (const char *)w.e[k].data && q < (const char *)w.e[k].data + w.e[k].size)
                in_free = w.e[k].flags == HK_ENTRY_FREE;
        ck_assert_msg(in_free, "block %u not in a FREE entry", i);
    }
    tu_walk_free(&w);
    ck_assert(hk_free(h, 0, mine));
    ck_assert(hk_validate(h, 0, NULL));
    ck_assert(hk_heap_destroy(h));
    free(p);
}
END_TEST

/* ---- overhead and epoch tags -------------------------------------------- */
/* Consecutive blocks carved from a fresh heap's tail lie one block apart:
 * n + 8 rounded up to 16, at least 32. */
START_TEST(small_block_overhead)
{
    hk_heap *h = arena();
    size_t n;
    for (n = 0; n <= 300; n++) {
        char *p = hk_alloc(h, 0, n), *q = hk_alloc(h, 0, n);
        size_t want = (n + 8 + 15) / 16 * 16;
        ck_assert(p && q);
        ck_assert_uint_eq((uintptr_t)p % 16, 0);
        ck_assert_uint_eq((size_t)(q - p), want < 32 ? 32 : want);
        ck_assert_uint_eq(hk_size(h, 0, p), n);
    }
    ck_assert(hk_validate(h, 0, NULL));
    ck_assert(hk_heap_destroy(h));
}
END_TEST

START_TEST(epoch_tags)
{
    hk_heap *h = arena();
    char *a = hk_alloc(h, 0, 40), *b, *c, *d;
    uintptr_t m;
    ck_assert_ptr_nonnull(a);
    tu_fill(a, 40, 1);
    m = hk_heap_mark(h);
    ck_assert(m != 0);
    b = hk_alloc(h, 0, 40);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(hk_size(h, 0, b), 40);
    tu_fill(b, 40, 2);
    /* in place (the free tail follows b): grow, shrink, the tag moves */
    ck_assert_ptr_eq(hk_realloc(h, HK_HEAP_REALLOC_IN_PLACE_ONLY, b, 100), b);
    ck_assert_ptr_eq(hk_realloc(h, HK_HEAP_REALLOC_IN_PLACE_ONLY, b, 20), b);
    ck_assert_uint_eq(hk_size(h, 0, b), 20);
    ck_assert(tu_check(b, 20, 2));
    c = hk_alloc(h, 0, 48);
    ck_assert_ptr_nonnull(c);
    /* moved (c is in the way): the epoch goes along */
    b = hk_realloc(h, 0, b, 300);
    ck_assert_ptr_nonnull(b);
    ck_assert(tu_check(b, 20, 2));
    /* a block from before the mark, moved after it, keeps its epoch 0 */
    a = hk_realloc(h, 0, a, 3000);
    ck_assert_ptr_nonnull(a);
    ck_assert(tu_check(a, 40, 1));
    ck_assert(hk_validate(h, 0, NULL));
    d = hk_alloc(h, 0, 0x100000);               /* large: its own epoch */
    ck_assert_ptr_nonnull(d);
    ck_assert(hk_heap_release(h, m));
    ck_assert(!hk_validate(h, 0, b));
    ck_assert(!hk_validate(h, 0, c));
    ck_assert(!hk_validate(h, 0, d));
    ck_assert(hk_validate(h, 0, a));
    ck_assert(tu_check(a, 40, 1));
    ck_assert_uint_eq(hk_size(h, 0, a), 3000);
    ck_assert(hk_validate(h, 0, NULL));
    ck_assert(hk_free(h, 0, a));
    ck_assert(hk_heap_destroy(h));
}
END_TEST

/* ---- Heaps above 2 GiB ---------------------------------------------------- */
#define GIB ((size_t)1 << 30)
#define BIG_N ((size_t)0xF0000)     /* a small block near the large limit */

/* One region of a collected walk. */
typedef struct {
    hk_heap_entry reg;              /* its REGION entry                    */
    size_t busy, uncommitted;       /* BUSY entries, UNCOMMITTED bytes     */
    size_t blocks;                  /* size + overhead of its blocks       */
} big_region;

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)*(void *const *)a, y = (uintptr_t)*(void *const *)b;
    return x < y ? -1 : x > y;
}

/* Walk h (iterator, and the visitor must agree entry for entry) and check
 * its shape: per region REGION, blocks inside it in address order adding
 * up to its commit, UNCOMMITTED from the commit end to the reservation's
 * end; the BUSY entries are exactly the n blocks of p (sorted) of size
 * bn.  Fills r (up to *nr regions); returns the reserved total. */
static size_t big_walk(hk_heap *h, void **p, size_t n, size_t bn, big_region *r, size_t *nr)
{
    tu_walk w;
    visit_log v;
    size_t i, k = 0, nb = 0, reserved = 0, max = *nr;
    const hk_heap_entry *cur = NULL;
    void **seen = malloc((n + 1) * sizeof *seen);
    char *lo = NULL, *hi = NULL, *at = NULL;
    tu_walk_collect(h, &w);
    ck_assert_int_eq(w.end_error, HK_ERR_NO_MORE_ITEMS);
    memset(&v, 0, sizeof v);
    hk_lock(h);
    ck_assert(hk_visit(h, visit_add, &v));
    hk_unlock(h);
    ck_assert_uint_eq(v.n, w.n);
    for (i = 0; i < w.n; i++) {
        ck_assert_ptr_eq(v.e[i].data, w.e[i].data);
        ck_assert_uint_eq(v.e[i].size, w.e[i].size);
        ck_assert_uint_eq(v.e[i].flags, w.e[i].flags);
    }
    ck_assert_ptr_nonnull(seen);
    memset(r, 0, max * sizeof *r);
    for (i = 0; i < w.n; i++) {
        const hk_heap_entry *e = &w.e[i];
        if (e->flags == HK_ENTRY_REGION) {
            ck_assert_msg(cur == NULL, "region %zu opened before the last one ended", k);
            ck_assert_uint_lt(k, max);
            cur = e;
            r[k].reg = *e;
            lo = e->data;
            hi = (char *)e->u.region.last_block;
            ck_assert_uint_eq((size_t)(hi - lo), e->u.region.committed + e->u.region.uncommitted);
            ck_assert_uint_le(e->u.region.committed + e->u.region.uncommitted, (size_t)2 << 30);
            reserved += (size_t)(hi - lo);
            at = lo + e->size;
            continue;
        }
        if (e->region_index == 64) {    /* a large block: none in these */
            ck_abort_msg("large block in a heap of small ones");
        }
        ck_assert_msg(cur != NULL, "entry outside a region");
        ck_assert_uint_eq(e->region_index, cur->region_index);
        if (e->flags == HK_ENTRY_UNCOMMITTED) {
            r[k].uncommitted += e->size;
            if ((char *)e->data + e->size == hi) {   /* the region's end */
                /* its blocks, the spans compact gave back inside free
                 * ones, the header and the 8-byte end sentinel fill the
                 * commit exactly (a split free block's footer counted once:
                 * in its last part) */
                size_t sum = r[k].blocks + r[k].uncommitted - e->size + cur->size + 8;
                ck_assert_ptr_eq(e->data, lo + cur->u.region.committed);
                ck_assert_uint_eq(sum, cur->u.region.committed);
                cur = NULL;
                k++;
            }
            continue;
        }
        ck_assert((char *)e->data > at && (char *)e->data + e->size <= hi);
        at = (char *)e->data;
        if (e->flags == HK_ENTRY_BUSY) {
            ck_assert_uint_lt(nb, n);
            ck_assert_uint_eq(e->size, bn);
            seen[nb++] = e->data;
            r[k].busy++;
        } else {
            ck_assert_uint_eq(e->flags, HK_ENTRY_FREE);
        }
        /* a given-back span inside a free block adds to its UNCOMMITTED
         * bytes instead (compact) */
        r[k].blocks += e->size + e->overhead;
    }
    ck_assert_msg(cur == NULL, "the walk ended inside a region");
    /* every block once: the walk's BUSY entries are exactly p's blocks
     * (regions need not be in address order, so compare sorted) */
    ck_assert_uint_eq(nb, n);
    qsort(seen, nb, sizeof *seen, cmp_ptr);
    for (i = 0; i < n; i++) ck_assert_ptr_eq(seen[i], p[i]);
    free(seen);
    *nr = k;
    free(w.e);
    free(v.e);
    return reserved;
}

/* Fill the fixed heap h of max bytes with BIG_N blocks until it says
 * HK_ERR_NO_MEMORY; the blocks into *pp (sorted), their number returned. */
static size_t big_fill(hk_heap *h, size_t max, void ***pp)
{
    size_t cap = max / BIG_N + 8, n = 0, i;
    void **p = malloc(cap * sizeof *p), *q;
    ck_assert_ptr_nonnull(p);
    hk_set_last_error(0);
    while ((q = hk_alloc(h, 0, BIG_N)) != NULL) {
        ck_assert_uint_lt(n, cap);
        /* the first and last 8 bytes: no block overlaps another */
        memcpy(q, &q, sizeof q);
        memcpy((char *)q + BIG_N - sizeof q, &q, sizeof q);
        p[n++] = q;
    }
    ck_assert_int_eq(hk_last_error(), HK_ERR_NO_MEMORY);
    for (i = 0; i < n; i++) {
        void *a, *b;
        memcpy(&a, p[i], sizeof a);
        memcpy(&b, (char *)p[i] + BIG_N - sizeof b, sizeof b);
        ck_assert(a == p[i] && b == p[i]);
    }
    qsort(p, n, sizeof *p, cmp_ptr);
    *pp = p;
    return n;
}

static void big_fixed(size_t max, size_t initial)
{
    size_t want = (max + 2 * GIB - 1) / (2 * GIB), nr = 8, n, i, k, res, left;
    big_region r[8];
    void **p;
    hk_heap *h = hk_heap_create("arena", 0, initial, max);
    ck_assert_ptr_nonnull(h);
    /* the maximum is reserved, the initial size committed from the start */
    res = big_walk(h, NULL, 0, 0, r, &nr);
    ck_assert_uint_eq(nr, want);
    ck_assert_uint_ge(res, max);
    ck_assert_uint_lt(res, max + 0x10000 * want);
    for (i = 0, left = initial, k = 0; i < nr; i++) {
        size_t c = r[i].reg.u.region.committed;
        ck_assert_uint_ge(c, left < 0x10000 ? 0x10000 : left > 2 * GIB - 0x10000 ? 2 * GIB - 0x10000 : left);
        left -= left < c ? left : c;
        k += c;
    }
    ck_assert_uint_le(k, initial + 0x40000 * want);   /* and little more */
    /* large requests never fit a fixed heap */
    hk_set_last_error(0);
    ck_assert_ptr_null(hk_alloc(h, 0, 0x200000));
    ck_assert_int_eq(hk_last_error(), HK_ERR_NO_MEMORY);
    /* full: every region holds blocks, and little is left over */
    n = big_fill(h, max, &p);
    ck_assert_uint_ge(n * (BIG_N + 16), max - (want + 1) * (BIG_N + 0x10000));
    ck_assert(hk_validate(h, 0, NULL));
    nr = 8;
    big_walk(h, p, n, BIG_N, r, &nr);
    ck_assert_uint_eq(nr, want);
    for (i = 0; i < nr; i++) {
        ck_assert_uint_gt(r[i].busy, 0);
        ck_assert_uint_le(r[i].reg.u.region.uncommitted, 0x200000);
    }
    /* a smaller block still fits at the end of some region (or it fails
     * with the contract's error) */
    hk_set_last_error(0);
    if (!hk_alloc(h, 0, 100)) ck_assert_int_eq(hk_last_error(), HK_ERR_NO_MEMORY);
    /* free every other one, then the rest; compact gives the pages back */
    for (k = 0; k < 2; k++)
        for (i = k; i < n; i += 2) ck_assert(hk_free(h, 0, p[i]));
    ck_assert_uint_ge(hk_compact(h, 0), BIG_N);
    ck_assert(hk_validate(h, 0, NULL));
    nr = 8;
    {   /* the one block of 100 bytes, if it went in, is the only one left */
        tu_walk w;
        size_t busy = 0;
        void *b100[1] = { NULL };
        tu_walk_collect(h, &w);
        for (i = 0; i < w.n; i++)
            if (w.e[i].flags == HK_ENTRY_BUSY && busy++ == 0) b100[0] = w.e[i].data;
        ck_assert_uint_le(busy, 1);
        big_walk(h, b100, busy, 100, r, &nr);
        if (busy) ck_assert(hk_free(h, 0, b100[0]));
        tu_walk_free(&w);
    }
    ck_assert_uint_eq(nr, want);
    for (i = 0; i < nr; i++)   /* nearly all of it given back or uncommitted */
        ck_assert_uint_ge(r[i].uncommitted + 0x200000, r[i].reg.u.region.committed +
                                                      r[i].reg.u.region.uncommitted);
    /* and it fills again as far as before */
    free(p);
    ck_assert_uint_ge(big_fill(h, max, &p) + want, n);
    free(p);
    ck_assert(hk_heap_destroy(h));
}

START_TEST(fixed_3g)
{
    big_fixed(3 * GIB, 0x10000);
}
END_TEST

START_TEST(fixed_5g)
{
    big_fixed(5 * GIB, 0x10000);
}
END_TEST

/* The initial commit spans regions: 2.5 GiB of 5 committed at once. */
START_TEST(fixed_5g_initial)
{
    big_fixed(5 * GIB, 5 * GIB / 2);
}
END_TEST

START_TEST(growable_initial_2g5)
{
    const size_t init = 5 * GIB / 2;
    size_t nr = 8, i, n, cap = init / BIG_N + 64;
    big_region r[8];
    void **p = malloc(cap * sizeof *p);
    hk_heap *h = hk_heap_create("arena", 0, init, 0);
    ck_assert_ptr_nonnull(h);
    ck_assert_ptr_nonnull(p);
    /* committed from the start, as two regions */
    big_walk(h, NULL, 0, 0, r, &nr);
    ck_assert_uint_eq(nr, 2);
    ck_assert_uint_ge(r[0].reg.u.region.committed + r[1].reg.u.region.committed, init);
    /* it fills them and grows past them */
    for (n = 0; n < cap; n++) {
        p[n] = hk_alloc(h, 0, BIG_N);
        ck_assert_ptr_nonnull(p[n]);
        memcpy(p[n], &p[n], sizeof p[n]);
    }
    for (i = 0; i < n; i++) ck_assert(memcmp(p[i], &p[i], sizeof p[i]) == 0);
    qsort(p, n, sizeof *p, cmp_ptr);
    nr = 8;
    big_walk(h, p, n, BIG_N, r, &nr);
    ck_assert_uint_ge(nr, 3);
    ck_assert(hk_validate(h, 0, NULL));
    for (i = 0; i < n; i++) ck_assert(hk_free(h, 0, p[i]));
    hk_compact(h, 0);
    hk_compact(h, 0);
    /* the initial commit stays (never decommitted below it) */
    nr = 8;
    big_walk(h, NULL, 0, 0, r, &nr);
    ck_assert_uint_ge(nr, 2);
    ck_assert_uint_ge(r[0].reg.u.region.committed + r[1].reg.u.region.committed, init);
    /* and a large block is still its own mapping */
    p[0] = hk_alloc(h, 0, 0x300000);
    ck_assert_ptr_nonnull(p[0]);
    ck_assert(hk_free(h, 0, p[0]));
    free(p);
    ck_assert(hk_heap_destroy(h));
}
END_TEST

/* Where creating a big heap must fail: an initial commit beyond what the
 * machine could ever commit, or more than the 64 regions of 2 GiB. */
START_TEST(big_limits)
{
    unsigned long long lim = commit_limit();
    size_t n = (size_t)(lim + lim / 4);
    hk_heap *h;
    hk_set_last_error(0);
    ck_assert_ptr_null(hk_heap_create("arena", 0, n, 0));
    ck_assert_int_eq(hk_last_error(), HK_ERR_NO_MEMORY);
    hk_set_last_error(0);
    ck_assert_ptr_null(hk_heap_create("arena", 0, n, n));
    ck_assert_int_eq(hk_last_error(), HK_ERR_NO_MEMORY);
    hk_set_last_error(0);
    ck_assert_ptr_null(hk_heap_create("arena", 0, 0, 129 * GIB));
    ck_assert_int_eq(hk_last_error(), HK_ERR_NO_MEMORY);
    hk_set_last_error(0);
    ck_assert_ptr_null(hk_heap_create("arena", 0, 0, ~(size_t)0));
    ck_assert_int_eq(hk_last_error(), HK_ERR_NO_MEMORY);
    /* reserving is not committing: 24 GiB reserved, 64 KiB committed */
    h = hk_heap_create("arena", 0, 0, 24 * GIB);
    ck_assert_ptr_nonnull(h);
    ck_assert_ptr_nonnull(hk_alloc(h, 0, 1000));
    ck_assert(hk_heap_destroy(h));
}
END_TEST

/* The fast entries are for the bias owner outside the heap: a call made
 * while it holds HeapLock nests (the lock's depth survives it), and a
 * mark taken makes every later block tagged, a cached one too. */
START_TEST(owner_nested_and_mark)
{
    hk_heap *h = arena();
    char *a = hk_alloc(h, 0, 40), *b, *c;
    uintptr_t m;
    ck_assert_ptr_nonnull(a);
    ck_assert(hk_free(h, 0, a));                /* cached */
    ck_assert(hk_lock(h));
    b = hk_alloc(h, 0, 40);
    ck_assert_ptr_nonnull(b);
    ck_assert(hk_free(h, 0, b));
    hk_set_last_error(0);
    ck_assert(!hk_free(h, 0, b));
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    b = hk_alloc(h, 0, 40);
    ck_assert_ptr_nonnull(b);
    ck_assert(hk_unlock(h));                    /* still held until here */
    hk_set_last_error(0);
    ck_assert(!hk_unlock(h));
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    ck_assert(hk_free(h, 0, b));                /* cached again */
    m = hk_heap_mark(h);
    ck_assert(m != 0);
    c = hk_alloc(h, 0, 40);                     /* b's class, cached */
    ck_assert_ptr_nonnull(c);
    tu_fill(c, 40, 3);
    ck_assert(hk_heap_release(h, m));
    ck_assert(!hk_validate(h, 0, c));
    hk_set_last_error(0);
    ck_assert(!hk_free(h, 0, c));
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    ck_assert(hk_validate(h, 0, NULL));
    ck_assert(hk_heap_destroy(h));
}
END_TEST

static Suite *arena_suite(void)
{
    Suite *s = suite_create("arena");
    TCase *tc = tcase_create("contract");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, null_heap_is_87);
    tcase_add_test(tc, size_of_null_sets_error);
    tcase_add_test(tc, beyond_commit_limit);
    tcase_add_test(tc, large_cache_contract);
    tcase_add_test(tc, small_block_overhead);
    tcase_add_test(tc, epoch_tags);
    tcase_add_test(tc, owner_nested_and_mark);
    tcase_add_test(tc, fixed_heap_flushes_before_failing);
    suite_add_tcase(s, tc);
    tc = tcase_create("trim");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, compact_gives_memory_back);
    tcase_add_test(tc, given_back_then_reused);
    suite_add_tcase(s, tc);
    tc = tcase_create("big");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, fixed_3g);
    tcase_add_test(tc, fixed_5g);
    tcase_add_test(tc, fixed_5g_initial);
    tcase_add_test(tc, growable_initial_2g5);
    tcase_add_test(tc, big_limits);
    suite_add_tcase(s, tc);
    tc = tcase_create("threads");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, shared_heap_stress);
    tcase_add_test(tc, thread_cache_contract);
    tcase_add_test(tc, depot_handover);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(arena_suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
