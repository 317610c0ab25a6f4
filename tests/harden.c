/*
 * harden.c - the arena backend against heap corruption (both lanes):
 *   overflow:  a block overflows 16 (or 32) bytes (its 8 bytes of slack,
 *              then) into the next block's
 *              header - a busy block, a listed free block (its list links
 *              too), the region's free tail - then every call that could
 *              follow the damage: alloc, realloc, free of the neighbours,
 *              compact, mark/release, walk, destroy.  None may crash; those
 *              that must use the damaged block return HK_ERR_HEAP_CORRUPT
 *              and change nothing, so a repaired header makes the heap
 *              whole again;
 *   freed:     a write into a freed block's links (listed or cached, also
 *              in a thread cache of a shared heap) is detected and never
 *              followed;
 *   header:    per-block validate sees every header word overwritten
 *              (large blocks: all 64 bytes), and free,
 *              size and realloc refuse such a block;
 *   epoch tag: an overflow into the epoch tag of a block allocated after
 *              a mark is seen by validate and makes release refuse;
 *   junk:      every byte of a busy header, of free and cached blocks'
 *              first 24 bytes and of a large header, overwritten with
 *              random junk, then every API call: no crash, named errors;
 *   zero:      a zero-memory 1 GiB block is zero and (Linux) not resident.
 * The layouts rely on a fresh arena heap carving blocks in address order
 * from its tail; the tests assert that first.
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

#if !defined(_WIN32)
#  include <unistd.h>
#endif

#define SMALL   112     /* 128-byte block (8 bytes of slack): cached when freed */
#define BIG     5008    /* 5024-byte block (8 bytes of slack): listed when freed */
#define BIG_FIT 4600    /* a request served from BIG's size class          */
#define LARGE   0x100000

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static unsigned char rnd8(void)
{
    uint64_t x = rng_state;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    rng_state = x;
    return (unsigned char)(x >> 32);
}

static hk_heap *mk(void)
{
    hk_heap *h = hk_heap_create("arena", 0, 0, 0);
    ck_assert_ptr_nonnull(h);
    return h;
}

static char *alloc_ok(hk_heap *h, size_t n)
{
    char *p = hk_alloc(h, 0, n);
    ck_assert_ptr_nonnull(p);
    return p;
}

/* A call that failed did so with a named error. */
static int named(int ok)
{
    int e = hk_last_error();
    if (!ok)
        ck_assert_msg(e == HK_ERR_HEAP_CORRUPT || e == HK_ERR_INVALID_PARAMETER ||
                      e == HK_ERR_NO_MEMORY, "unexpected error %d", e);
    return ok;
}

/* A call that either worked or found the heap corrupt. */
static void ok_or_corrupt(int ok)
{
    if (!ok)
        ck_assert_int_eq(hk_last_error(), HK_ERR_HEAP_CORRUPT);
}

static void must_corrupt(int ok)
{
    ck_assert(!ok);
    ck_assert_int_eq(hk_last_error(), HK_ERR_HEAP_CORRUPT);
}

/* Walk to the end (bounded); returns the final error. */
static int walk_end(hk_heap *h)
{
    hk_heap_entry e;
    int steps = 0;
    memset(&e, 0, sizeof e);
    while (hk_walk(h, &e))
        ck_assert_int_lt(++steps, 100000);
    return hk_last_error();
}

static int count_entry(const hk_heap_entry *e, void *arg)
{
    (void)e;
    return ++*(int *)arg > 100000;
}

/* Repaired: the heap is whole and every block can go. */
static void whole_again(hk_heap *h, char **live, int n)
{
    int i;
    ck_assert(hk_validate(h, 0, NULL));
    ck_assert_int_eq(walk_end(h), HK_ERR_NO_MORE_ITEMS);
    for (i = 0; i < n; i++)
        if (live[i])
            ck_assert(hk_free(h, 0, live[i]));
    ck_assert(hk_validate(h, 0, NULL));
    ck_assert_uint_gt(hk_compact(h, 0), 0);
}

/* ---- overflow into a busy block's header ------------------------------- */
START_TEST(overflow_busy)
{
    hk_heap *h = mk();
    char *a = alloc_ok(h, SMALL), *b = alloc_ok(h, SMALL), *c = alloc_ok(h, SMALL);
    char *d = alloc_ok(h, SMALL), *x, *y, *z, saved[16];
    char *live[8];
    uintptr_t m;
    ck_assert_ptr_eq(b, a + 128);
    ck_assert_ptr_eq(c, b + 128);
    tu_fill(a, SMALL, 1);
    tu_fill(c, SMALL, 3);
    memcpy(saved, b - 16, 16);
    memset(a + SMALL, 0x41, 16);                 /* 16 bytes past a */
    m = hk_heap_mark(h);
    ck_assert(m != 0);

    ck_assert(!hk_validate(h, 0, NULL));
    ck_assert(hk_validate(h, 0, a));
    ck_assert(!hk_validate(h, 0, b));
    ck_assert_int_eq(walk_end(h), HK_ERR_HEAP_CORRUPT);
    x = hk_alloc(h, 0, 16);   ok_or_corrupt(x != NULL);
    y = hk_alloc(h, 0, 100);  ok_or_corrupt(y != NULL);
    z = hk_alloc(h, 0, 5000); ok_or_corrupt(z != NULL);
    /* growing a in place would merge b: refused, a unchanged */
    must_corrupt(hk_realloc(h, HK_HEAP_REALLOC_IN_PLACE_ONLY, a, 200) != NULL);
    must_corrupt(hk_realloc(h, 0, a, 200) != NULL);
    ck_assert(tu_check(a, SMALL, 1));
    ck_assert(!named(hk_free(h, 0, b)));         /* damaged: refused */
    ck_assert_uint_eq(hk_size(h, 0, b), (size_t)-1);
    ck_assert(named(hk_realloc(h, 0, b, 10) != NULL) == 0);
    ok_or_corrupt(hk_free(h, 0, a));             /* cached, or refused */
    ok_or_corrupt(hk_free(h, 0, c));
    hk_set_last_error(0);
    ck_assert_uint_eq(hk_compact(h, 0), 0);      /* a cannot merge into b */
    ck_assert_int_eq(hk_last_error(), HK_ERR_HEAP_CORRUPT);
    must_corrupt(hk_heap_release(h, m));         /* all or nothing */
    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_nonnull(z);

    memcpy(b - 16, saved, 16);                   /* repaired */
    ck_assert(hk_heap_release(h, m));            /* x, y, z were after m */
    live[0] = b; live[1] = d;
    whole_again(h, live, 2);
    ck_assert(hk_heap_destroy(h));
}
END_TEST

/* ---- overflow into a listed free block (header, and links) ------------- */
static void overflow_free(size_t len)
{
    hk_heap *h = mk();
    char *a = alloc_ok(h, BIG), *b = alloc_ok(h, BIG), *c = alloc_ok(h, BIG);
    char *d = alloc_ok(h, SMALL), *x, saved[32], *live[8];
    uintptr_t m;
    ck_assert_ptr_eq(b, a + 5024);
    ck_assert_ptr_eq(c, b + 5024);
    tu_fill(a, BIG, 1);
    tu_fill(c, BIG, 3);
    ck_assert(hk_free(h, 0, b));                 /* listed, between a and c */
    memcpy(saved, b - 16, len);
    memset(a + BIG, 0x5A, len);                  /* past a, into b */
    m = hk_heap_mark(h);

    ck_assert(!hk_validate(h, 0, NULL));
    ck_assert_int_eq(walk_end(h), HK_ERR_HEAP_CORRUPT);
    must_corrupt(hk_alloc(h, 0, BIG_FIT) != NULL);   /* would take b */
    x = hk_alloc(h, 0, 16);   ok_or_corrupt(x != NULL);
    x = hk_alloc(h, 0, 100);  ok_or_corrupt(x != NULL);
    x = hk_alloc(h, 0, 5000); ok_or_corrupt(x != NULL);
    must_corrupt(hk_realloc(h, 0, a, BIG + 100) != NULL);   /* merge b */
    must_corrupt(hk_realloc(h, 0, a, 100) != NULL);         /* shrink: b */
    must_corrupt(hk_free(h, 0, a));              /* a and c merge with b */
    must_corrupt(hk_free(h, 0, c));
    ck_assert(tu_check(a, BIG, 1));
    ck_assert(tu_check(c, BIG, 3));
    ok_or_corrupt(hk_compact(h, 0) != 0);
    x = hk_alloc(h, 0, 64);   ok_or_corrupt(x != NULL);
    must_corrupt(hk_heap_release(h, m));
    ck_assert(named(hk_free(h, 0, b)) == 0);     /* never was busy */

    memcpy(b - 16, saved, len);                  /* repaired */
    ck_assert(hk_heap_release(h, m));
    x = alloc_ok(h, BIG_FIT);                    /* b again */
    ck_assert_ptr_eq(x, b);
    live[0] = a; live[1] = c; live[2] = d; live[3] = x;
    whole_again(h, live, 4);
    ck_assert(hk_heap_destroy(h));
}

START_TEST(overflow_free_header)
{
    overflow_free(16);
}
END_TEST

START_TEST(overflow_free_links)
{
    overflow_free(32);
}
END_TEST

/* The tail block (the free rest of the region) overwritten: an alloc must
 * not carve from it, nothing may crash. */
START_TEST(overflow_tail)
{
    hk_heap *h = mk();
    char *a = alloc_ok(h, SMALL), *x, saved[32], *live[4];
    int i;
    memcpy(saved, a + SMALL, 32);
    memset(a + SMALL, 0xEE, 32);
    ck_assert(!hk_validate(h, 0, NULL));
    for (i = 0; i < 3; i++) {
        static const size_t sz[] = { 16, 100, 5000 };
        x = hk_alloc(h, 0, sz[i]);
        ok_or_corrupt(x != NULL);
        if (x) { tu_fill(x, sz[i], 9); ck_assert(hk_free(h, 0, x)); }
    }
    ok_or_corrupt(hk_realloc(h, 0, a, 4000) != NULL);
    ok_or_corrupt(hk_compact(h, 0) != 0);
    ck_assert_int_eq(walk_end(h), HK_ERR_HEAP_CORRUPT);
    memcpy(a + SMALL, saved, 32);
    live[0] = a;
    whole_again(h, live, 1);
    ck_assert(hk_heap_destroy(h));
}
END_TEST

/* ---- writes into freed blocks' links ------------------------------------ */
START_TEST(freed_listed)
{
    hk_heap *h = mk();
    char *a = alloc_ok(h, BIG), *b = alloc_ok(h, BIG), *c = alloc_ok(h, SMALL);
    char *d = alloc_ok(h, BIG), *e = alloc_ok(h, SMALL), saved[16], *x, *live[8];
    ck_assert_ptr_eq(d, c + 128);
    ck_assert(hk_free(h, 0, b));
    ck_assert(hk_free(h, 0, d));                 /* list of the class: d, b */
    ck_assert(hk_validate(h, 0, NULL));
    memcpy(saved, b, 16);
    memset(b, 0x77, 16);                         /* write after free */
    ck_assert(!hk_validate(h, 0, NULL));         /* detected */
    must_corrupt(hk_alloc(h, 0, BIG_FIT) != NULL);   /* d links back to b */
    must_corrupt(hk_free(h, 0, a));              /* a merges with b */
    ok_or_corrupt(hk_free(h, 0, c));
    x = hk_alloc(h, 0, 100);  ok_or_corrupt(x != NULL);
    ok_or_corrupt(hk_compact(h, 0) != 0);
    memcpy(b, saved, 16);
    live[0] = a; live[1] = e; live[2] = x;
    whole_again(h, live, 3);
    ck_assert(hk_heap_destroy(h));
}
END_TEST

/* b, freed into a cache between the busy a and c, is overwritten: the heap
 * notices, keeps serving from elsewhere and keeps the damaged cache; once
 * repaired, b is handed out again and the heap is whole. */
static void damage_cached(hk_heap *h, char *a, char *b, char *c)
{
    char saved[16], *x, *live[3];
    memcpy(saved, b, 16);
    memset(b, 0x33, 16);
    ck_assert(!hk_validate(h, 0, NULL));         /* detected */
    x = alloc_ok(h, SMALL);                      /* served elsewhere */
    ck_assert_ptr_ne(x, b);
    ck_assert(hk_free(h, 0, x));
    hk_set_last_error(0);
    ck_assert_uint_eq(hk_compact(h, 0), 0);      /* the damaged cache stays */
    ck_assert_int_eq(hk_last_error(), HK_ERR_HEAP_CORRUPT);
    memcpy(b, saved, 16);
    x = alloc_ok(h, SMALL);                      /* repaired: b is found again */
    ck_assert_ptr_eq(x, b);
    live[0] = a; live[1] = c; live[2] = x;
    whole_again(h, live, 3);
    ck_assert(hk_heap_destroy(h));
}

START_TEST(freed_cached)
{
    hk_heap *h = mk();
    char *a = alloc_ok(h, SMALL), *b = alloc_ok(h, SMALL), *c = alloc_ok(h, SMALL);
    ck_assert(hk_free(h, 0, b));                 /* cached */
    damage_cached(h, a, b, c);
}
END_TEST

/* The same in a thread cache: the heap is shared (another thread used it),
 * so this thread's frees go to its own cache. */
static void *use_once(void *v)
{
    hk_heap *h = v;
    void *p = hk_alloc(h, 0, 8);
    if (p && !hk_free(h, 0, p)) p = NULL;
    return p;
}

START_TEST(freed_thread_cached)
{
    hk_heap *h = mk();
    char *a = alloc_ok(h, SMALL), *b, *c;
    pthread_t t;
    void *r = NULL;
    ck_assert_int_eq(pthread_create(&t, NULL, use_once, h), 0);
    ck_assert_int_eq(pthread_join(t, &r), 0);
    ck_assert_ptr_nonnull(r);
    b = alloc_ok(h, SMALL);
    c = alloc_ok(h, SMALL);
    ck_assert(hk_free(h, 0, b));                 /* thread-cached */
    ck_assert(!named(hk_free(h, 0, b)));         /* a second free: refused */
    damage_cached(h, a, b, c);
}
END_TEST

/* ---- per-block checks of every header word ------------------------------ */
static void refused(hk_heap *h, char *p)
{
    ck_assert(!hk_validate(h, 0, p));
    ck_assert(!named(hk_free(h, 0, p)));
    ck_assert_uint_eq(hk_size(h, 0, p), (size_t)-1);
    ck_assert(!named(hk_realloc(h, 0, p, 40) != NULL));
    ck_assert(!named(hk_realloc(h, HK_HEAP_REALLOC_IN_PLACE_ONLY, p, 8) != NULL));
}

START_TEST(header_words)
{
    hk_heap *h = mk();
    char *a = alloc_ok(h, SMALL), *b = alloc_ok(h, 100), *c = alloc_ok(h, SMALL);
    char *l = alloc_ok(h, LARGE), *live[4];
    uint32_t w;
    uint64_t q;
    int i;
    for (i = 0; i < 6; i++) {                    /* word (flags, size, slack), check */
        static const uint32_t bit[6] = { 0x4u, 0x20u, 0x200000u, 0x100u, 0x1u, 0x80000000u };
        int at = i < 3 ? 0 : 1;
        memcpy(&w, b - 8 + 4 * at, 4);
        w ^= bit[i];                             /* PFREE, a unit, slack; check */
        memcpy(b - 8 + 4 * at, &w, 4);
        refused(h, b);
        ck_assert(hk_validate(h, 0, a));
        ck_assert(hk_validate(h, 0, c));
        w ^= bit[i];
        memcpy(b - 8 + 4 * at, &w, 4);
        ck_assert(hk_validate(h, 0, b));
        ck_assert(hk_validate(h, 0, NULL));
        ck_assert_uint_eq(hk_size(h, 0, b), 100);
    }
    for (i = 0; i < 8; i++) {                    /* every word of the 64 */
        memcpy(&q, l - 64 + 8 * i, 8);
        q ^= 0x10;
        memcpy(l - 64 + 8 * i, &q, 8);
        refused(h, l);
        ck_assert(!hk_validate(h, 0, NULL));
        q ^= 0x10;
        memcpy(l - 64 + 8 * i, &q, 8);
        ck_assert(hk_validate(h, 0, l));
        ck_assert_uint_eq(hk_size(h, 0, l), LARGE);
    }
    live[0] = a; live[1] = b; live[2] = c; live[3] = l;
    whole_again(h, live, 4);
    ck_assert(hk_heap_destroy(h));
}
END_TEST

/* ---- the epoch tag of a block allocated after a mark -------------------- */
START_TEST(epoch_tag)
{
    hk_heap *h = mk();
    char *a = alloc_ok(h, 40), *b, *c, *t, saved, *live[2];
    uintptr_t m = hk_heap_mark(h);
    ck_assert(m != 0);
    b = alloc_ok(h, 48);         /* 48 + 8 + the 8-byte tag: no slack */
    c = alloc_ok(h, 100);
    t = b + 48;                  /* the tag: right after b's last byte */
    saved = *t;
    *t ^= 0x5A;
    ck_assert(!hk_validate(h, 0, b));
    ck_assert(hk_validate(h, 0, a));
    ck_assert(hk_validate(h, 0, c));
    ck_assert(!hk_validate(h, 0, NULL));
    must_corrupt(hk_heap_release(h, m));         /* all or nothing */
    ck_assert(hk_validate(h, 0, c));
    ck_assert_uint_eq(hk_size(h, 0, b), 48);
    *t = saved;                                  /* repaired */
    ck_assert(hk_validate(h, 0, NULL));
    ck_assert(hk_heap_release(h, m));
    ck_assert(!hk_validate(h, 0, b));
    ck_assert(!hk_validate(h, 0, c));
    live[0] = a; live[1] = NULL;
    whole_again(h, live, 2);
    ck_assert(hk_heap_destroy(h));
}
END_TEST

/* ---- random junk at every byte ------------------------------------------ */
struct jheap { hk_heap *h; char *p[16]; int n; char *d, *f, *cached, *tail; };

static void junk_build(struct jheap *j)
{
    char *p[10];
    memset(j, 0, sizeof *j);
    j->h = mk();
    p[0] = alloc_ok(j->h, SMALL);      /* A  busy                 */
    p[1] = alloc_ok(j->h, SMALL);      /* B  busy (target)        */
    p[2] = alloc_ok(j->h, SMALL);      /* C  busy                 */
    p[3] = alloc_ok(j->h, BIG);        /* D  listed free          */
    p[4] = alloc_ok(j->h, SMALL);      /* E  busy                 */
    p[5] = alloc_ok(j->h, BIG);        /* F  listed free (head)   */
    p[6] = alloc_ok(j->h, SMALL);      /* G  cached               */
    p[7] = alloc_ok(j->h, SMALL);      /* H  busy, before the tail */
    p[8] = alloc_ok(j->h, LARGE);
    ck_assert_ptr_eq(p[7], p[6] + 128);
    ck_assert(hk_free(j->h, 0, p[3]));
    ck_assert(hk_free(j->h, 0, p[5]));
    ck_assert(hk_free(j->h, 0, p[6]));
    ck_assert(hk_validate(j->h, 0, NULL));
    j->p[0] = p[0]; j->p[1] = p[1]; j->p[2] = p[2]; j->p[3] = p[4];
    j->p[4] = p[7]; j->p[5] = p[8];
    j->n = 6;
    j->d = p[3]; j->f = p[5]; j->cached = p[6]; j->tail = p[7] + SMALL + 8;   /* its header */
}

/* Every call, on a heap that may be damaged anywhere. */
static void junk_poke(struct jheap *j)
{
    static const size_t sizes[] = { 16, 100, SMALL, BIG_FIT, 5000, 70000, LARGE };
    hk_heap *h = j->h;
    uintptr_t m;
    size_t k;
    int i, visited = 0;
    void *q;
    (void)hk_validate(h, 0, NULL);
    (void)walk_end(h);
    named(hk_visit(h, count_entry, &visited));
    for (i = 0; i < j->n; i++) {
        (void)hk_validate(h, 0, j->p[i]);
        named(hk_size(h, 0, j->p[i]) != (size_t)-1);
    }
    (void)hk_validate(h, 0, j->d);
    (void)hk_validate(h, 0, j->cached);
    named(hk_free(h, 0, j->cached));             /* freed already */
    named(hk_size(h, 0, j->f) != (size_t)-1);
    m = hk_heap_mark(h);
    for (k = 0; k < sizeof sizes / sizeof *sizes; k++)
        if (named((q = hk_alloc(h, 0, sizes[k])) != NULL))
            j->p[j->n++] = q;
    named(hk_compact(h, 0) != 0 || hk_last_error() == 0);
    {
        static const size_t rs[] = { 200, 50, 9000, 300, 0x200000, 20, 3000 };
        for (i = 0; i < j->n && i < 7; i++) {
            named((q = hk_realloc(h, HK_HEAP_REALLOC_IN_PLACE_ONLY, j->p[i], rs[i] / 2)) != NULL);
            if (named((q = hk_realloc(h, HK_HEAP_ZERO_MEMORY, j->p[i], rs[i])) != NULL))
                j->p[i] = q;
        }
    }
    if (m)
        named(hk_heap_release(h, m));            /* frees the new ones, or not */
    for (i = 0; i < j->n; i++)
        named(hk_free(h, 0, j->p[i]));           /* some twice after release */
    named(hk_compact(h, 0) != 0 || hk_last_error() == 0);
    (void)walk_end(h);
    ck_assert(hk_heap_destroy(h));
}

/* Overwrite each byte of target kind's first len bytes in turn (0x00,
 * 0xFF, random; never the byte it was) on a fresh heap, then poke. */
static void junk_at(size_t len, int kind)
{
    size_t off;
    int rep;
    for (off = 0; off < len; off++) {
        for (rep = 0; rep < 3; rep++) {
            struct jheap j;
            unsigned char *t, v;
            junk_build(&j);
            t = (unsigned char *)(kind == 0 ? j.p[1] - 8 : kind == 1 ? j.d - 8 :
                                  kind == 2 ? j.f - 8 : kind == 3 ? j.cached - 8 :
                                  kind == 4 ? j.tail : j.p[5] - 64);
            v = rep == 0 ? 0x00 : rep == 1 ? 0xFF : rnd8();
            if (v == t[off])
                v ^= 0x5A;
            t[off] = v;
            ck_assert_msg(!hk_validate(j.h, 0, NULL), "kind %d offset %u not seen", kind,
                          (unsigned)off);
            junk_poke(&j);
        }
    }
}

START_TEST(junk)
{
    junk_at(8, 0);             /* a busy header          */
    junk_at(24, 1);            /* a listed free block: header, links */
    junk_at(24, 2);            /* the head of its list   */
    junk_at(24, 3);            /* a cached block: header, link, guard */
    junk_at(24, 4);            /* the region's free tail */
    junk_at(64, 5);            /* a large block's header */
}
END_TEST

/* ---- zero-memory large blocks ------------------------------------------- */
#define GIB ((size_t)1 << 30)

#if !defined(_WIN32)
static size_t rss_bytes(void)
{
    unsigned long size = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fscanf(f, "%lu %lu", &size, &res), 2);
    fclose(f);
    return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}
#endif

static void zero_sampled(const unsigned char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i += 4096 * 61)           /* a page in 61: cheap */
        ck_assert_uint_eq(p[i], 0);
    ck_assert_uint_eq(p[n - 1], 0);
}

START_TEST(zero_large)
{
    hk_heap *h = mk();
    unsigned char *p, *q;
#if !defined(_WIN32)
    size_t before = rss_bytes(), after;
#endif
    p = hk_alloc(h, HK_HEAP_ZERO_MEMORY, GIB);
    ck_assert_ptr_nonnull(p);
#if !defined(_WIN32)
    after = rss_bytes();
    ck_assert_msg(after < before + ((size_t)64 << 20), "1 GiB zero-memory block: RSS %zu -> %zu",
                  before, after);
#endif
    zero_sampled(p, GIB);
    /* dirty it, give it back: a new zero-memory block is zero all the same */
    memset(p, 0xAB, 1 << 20);
    memset(p + GIB - (1 << 20), 0xCD, 1 << 20);
    ck_assert(hk_free(h, 0, p));
    p = hk_alloc(h, HK_HEAP_ZERO_MEMORY, GIB);
    ck_assert_ptr_nonnull(p);
    ck_assert(tu_all(p, 1 << 20, 0));
    ck_assert(tu_all(p + GIB - (1 << 20), 1 << 20, 0));
    zero_sampled(p, GIB);
    ck_assert(hk_free(h, 0, p));
    /* realloc with zero-memory growth into a large block: same promise */
    q = (unsigned char *)alloc_ok(h, 1000);
    memset(q, 0x11, 1000);
#if !defined(_WIN32)
    before = rss_bytes();
#endif
    p = hk_realloc(h, HK_HEAP_ZERO_MEMORY, q, GIB);
    ck_assert_ptr_nonnull(p);
#if !defined(_WIN32)
    after = rss_bytes();
    ck_assert_msg(after < before + ((size_t)64 << 20), "realloc to 1 GiB: RSS %zu -> %zu",
                  before, after);
#endif
    ck_assert(tu_all(p, 1000, 0x11));
    ck_assert(tu_all(p + 1000, 1 << 20, 0));
    zero_sampled(p + 1000, GIB - 1000);
    ck_assert(hk_free(h, 0, p));
    /* small zero-memory blocks reused from the cache are still cleared */
    q = (unsigned char *)alloc_ok(h, 500);
    memset(q, 0x5F, 500);
    ck_assert(hk_free(h, 0, q));
    q = hk_alloc(h, HK_HEAP_ZERO_MEMORY, 500);
    ck_assert_ptr_nonnull(q);
    ck_assert(tu_all(q, 500, 0));
    ck_assert(hk_free(h, 0, q));
    ck_assert(hk_heap_destroy(h));
}
END_TEST

static Suite *harden_suite(void)
{
    Suite *s = suite_create("harden:arena");
    TCase *tc = tcase_create("corruption");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, overflow_busy);
    tcase_add_test(tc, overflow_free_header);
    tcase_add_test(tc, overflow_free_links);
    tcase_add_test(tc, overflow_tail);
    tcase_add_test(tc, freed_listed);
    tcase_add_test(tc, freed_cached);
    tcase_add_test(tc, freed_thread_cached);
    tcase_add_test(tc, header_words);
    tcase_add_test(tc, epoch_tag);
    suite_add_tcase(s, tc);
    tc = tcase_create("junk");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, junk);
    suite_add_tcase(s, tc);
    tc = tcase_create("zero");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, zero_large);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(harden_suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
