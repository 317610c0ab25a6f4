/*
 * tests/fuzz/api.c - random sequences of the heap API against a shadow
 * model, on the arena and mimalloc backends.
 *
 * The model knows every heap (backend, flags, lock depth, marks) and every
 * live block (heap, size, contents, mark epoch).  Each operation is applied
 * to heapkit and to the model, and the result, the last error and the
 * contents must be what include/heapkit.h and README promise.  Pointers and
 * handles are often hostile: interior, stale, another heap's, wild but
 * mapped, unmapped; destroyed or garbage handles; flags a call does not take.
 */
#define FZ_DEFINE_GLOBALS
#include "fuzz.h"

#define MAX_HEAPS 6
#define MAX_BLOCKS 96
#define MAX_STALE 32
#define MAX_OPS 400
#define HI_BAD (-1)                /* a handle that is no live heap */
#define HI_PROC (-2)               /* the process heap: live, not modelled */

typedef struct {
    hk_heap *h;
    int mi;                    /* mimalloc backend */
    unsigned flags;            /* creation flags */
    size_t maximum;
    int depth;                 /* hk_lock depth held by us */
    uint32_t epoch;            /* marks taken so far */
    uintptr_t marks[32];       /* the last 32 marks, by epoch % 32 */
} fz_heap;

typedef struct {
    unsigned char *p;
    size_t n;
    unsigned seed;
    int heap;                  /* index into heaps[] */
    uint32_t epoch;
} fz_blk;

static fz_heap heaps[MAX_HEAPS];
static int nheaps;
static fz_blk blks[MAX_BLOCKS];
static int nblks;
static void *stale[MAX_STALE];       /* freed pointers (may be reused) */
static int nstale;
static hk_heap *dead[MAX_STALE];     /* destroyed handles (slots may be reused) */
static int ndead;
static unsigned seed_ctr;
static int have_mi;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static int done;
    (void)argc;
    (void)argv;
    if (done++)
        return 0;
    hk_set_exception_handler(fz_on_exception);
    have_mi = fz_have_backend("mimalloc");
    return 0;
}

/* ---- model lookups ---------------------------------------------------------- */

static int blk_find(const void *p)
{
    int i;
    for (i = 0; i < nblks; i++)
        if (blks[i].p == p)
            return i;
    return -1;
}

/* The model heap behind a handle, -1 for none (garbage, destroyed). */
static int heap_find(hk_heap *h)
{
    int i;
    for (i = 0; i < nheaps; i++)
        if (heaps[i].h == h)
            return i;
    return -1;
}

/* Is p a live block of model heap hi that heapkit must accept? */
static int accepts(int hi, const void *p)
{
    int b = p ? blk_find(p) : -1;
    if (b < 0 || hi < 0 || blks[b].heap != hi)       /* also: the process heap */
        return 0;
    return 1;
}

static void blk_drop(int b)
{
    if (nstale < MAX_STALE)
        stale[nstale++] = blks[b].p;
    else
        stale[blks[b].seed % MAX_STALE] = blks[b].p;
    blks[b] = blks[--nblks];
}

static void blk_check(const fz_blk *b, const char *when)
{
    size_t i = fz_verify(b->p, b->n, b->seed);
    HK_FZ_CHECK(i == b->n, "%s: block %p (%zu bytes) differs at %zu", when,
                (void *)b->p, b->n, i);
}

static void check_all(const char *when)
{
    int i;
    for (i = 0; i < nblks; i++)
        blk_check(&blks[i], when);
}

/* ---- choosing arguments --------------------------------------------------------- */

static int stack_anchor;

/* A handle: mostly a live heap, sometimes hostile. */
static hk_heap *pick_handle(fz_in *in, int *hi)
{
    unsigned k = fz_u8(in);
    if (k < 200 && nheaps) {
        *hi = (int)(k % (unsigned)nheaps);
        return heaps[*hi].h;
    }
    switch (k % 6) {
    case 0: *hi = -1; return NULL;
    case 1: if (ndead) { hk_heap *h = dead[k % (unsigned)ndead]; *hi = heap_find(h); return h; }
            /* fall through */
    case 2: *hi = -1; return (hk_heap *)(void *)fz_wild_static;
    case 3: *hi = -1; return (hk_heap *)(void *)&stack_anchor;
    case 4: if (nblks) { *hi = -1; return (hk_heap *)(void *)blks[k % (unsigned)nblks].p; }
            *hi = -1; return (hk_heap *)(uintptr_t)0x1230;
    default: {
        /* the process heap: valid, but none of our blocks is its own */
        hk_heap *h = hk_process_heap();
        *hi = HI_PROC;
        HK_FZ_CHECK(h != NULL, "no process heap");
        return h;
    }
    }
}

/* A pointer: a live block of any heap (the right one or another's), an
 * interior pointer, a stale one, a wild one, or NULL. */
static void *pick_ptr(fz_in *in, void *sbuf, void *mbuf)
{
    unsigned k = fz_u8(in);
    if (k < 150 && nblks)
        return blks[fz_pick(in, (unsigned)nblks)].p;
    switch (k % 5) {
    case 0:
        if (nblks) {
            const fz_blk *b = &blks[fz_pick(in, (unsigned)nblks)];
            size_t off = 1 + fz_u16(in) % (b->n + 64);
            if (fz_u8(in) & 1)
                off = (off + 15) & ~(size_t)15;
            return b->p + off;
        }
        return NULL;
    case 1:
        if (nblks) {
            const fz_blk *b = &blks[fz_pick(in, (unsigned)nblks)];
            return b->p - 16 * (1 + fz_u8(in) % 4);
        }
        return NULL;
    case 2:
        return nstale ? stale[fz_pick(in, (unsigned)nstale)] : NULL;
    case 3:
        return fz_wild(in, sbuf, mbuf);
    default:
        return NULL;
    }
}

/* Flags: mostly the ones the call takes, sometimes one it does not. */
static unsigned pick_flags(fz_in *in, unsigned allowed)
{
    unsigned k = fz_u8(in);
    if (k >= 240)
        return (1u << (k % 32)) | (allowed & k);
    return allowed & k;
}

#define F_ANY (HK_HEAP_NO_SERIALIZE | HK_HEAP_GENERATE_EXCEPTIONS)
#define F_ALLOC (F_ANY | HK_HEAP_ZERO_MEMORY)
#define F_REALLOC (F_ALLOC | HK_HEAP_REALLOC_IN_PLACE_ONLY)

/* ---- results -------------------------------------------------------------------- */

static void expect_err(int want, const char *what)
{
    int got = hk_last_error();
    HK_FZ_CHECK(got == want, "%s: last error %d, expected %d", what, got, want);
}

/* The error of a call that failed on the handle or flags before the
 * pointer, in the core's order; 0 if the call gets past them. */
static int pre_error(int hi, unsigned flags, unsigned allowed)
{
    if (hi == HI_BAD)
        return HK_ERR_INVALID_HANDLE;
    if (flags & ~allowed)
        return HK_ERR_INVALID_PARAMETER;
    return 0;
}

/* ---- operations ------------------------------------------------------------------ */

static void op_create(fz_in *in)
{
    unsigned k = fz_u8(in);
    int mi = have_mi && (k & 1);
    unsigned flags = pick_flags(in, F_ANY);
    size_t initial = (size_t)fz_u8(in) << 12, maximum = 0;
    const char *backend = mi ? "mimalloc" : "arena";
    hk_heap *h;
    if (k & 2)
        maximum = ((size_t)1 + fz_u8(in)) << 14;          /* 16 KiB .. 4 MiB */
    if (k >= 250)
        backend = "no-such-backend";
    if (nheaps == MAX_HEAPS)
        return;
    fz_arm();
    h = hk_heap_create(backend, flags, initial, maximum);
    if (k >= 250 || (flags & ~F_ANY)) {
        HK_FZ_CHECK(!h, "create accepted a bad backend or flags 0x%x", flags);
        expect_err(HK_ERR_INVALID_PARAMETER, "create(bad)");
        return;
    }
    HK_FZ_CHECK(h != NULL, "create(%s, 0x%x, %zu, %zu) failed: %d", backend, flags,
                initial, maximum, hk_last_error());
    expect_err(FZ_SENTINEL, "create");
    HK_FZ_CHECK(strcmp(hk_heap_backend(h), backend) == 0, "backend name");
    memset(&heaps[nheaps], 0, sizeof heaps[nheaps]);
    heaps[nheaps].h = h;
    heaps[nheaps].mi = mi;
    heaps[nheaps].flags = flags;
    heaps[nheaps].maximum = maximum;
    nheaps++;
}

static void heap_forget(int hi)
{
    int i;
    for (i = nblks - 1; i >= 0; i--)
        if (blks[i].heap == hi)
            blk_drop(i);
    if (ndead < MAX_STALE)
        dead[ndead++] = heaps[hi].h;
    else
        dead[seed_ctr % MAX_STALE] = heaps[hi].h;
    /* keep heap indices of the blocks right: move the last heap into hi */
    nheaps--;
    if (hi != nheaps) {
        heaps[hi] = heaps[nheaps];
        for (i = 0; i < nblks; i++)
            if (blks[i].heap == nheaps)
                blks[i].heap = hi;
    }
}

static void release_locks(int hi)
{
    while (heaps[hi].depth > 0) {
        HK_FZ_CHECK(hk_unlock(heaps[hi].h), "unlock at depth %d", heaps[hi].depth);
        heaps[hi].depth--;
    }
}

static void op_destroy(fz_in *in)
{
    int hi, ok;
    hk_heap *h = pick_handle(in, &hi);
    int process = hi == HI_PROC;
    if (hi >= 0)
        release_locks(hi);
    fz_arm();
    ok = hk_heap_destroy(h);
    if (hi < 0 || process) {
        HK_FZ_CHECK(!ok, "destroy of a bad handle %p succeeded", (void *)h);
        expect_err(HK_ERR_INVALID_HANDLE, "destroy(bad)");
        return;
    }
    HK_FZ_CHECK(ok, "destroy failed: %d", hk_last_error());
    expect_err(FZ_SENTINEL, "destroy");
    heap_forget(hi);
    check_all("after destroy");          /* other heaps' blocks untouched */
}

/* Did the call raise?  Exactly when it failed for memory with the flag. */
static void expect_raise(unsigned long before, int failed_nomem, unsigned flags, int hi)
{
    unsigned hflags = hi >= 0 ? heaps[hi].flags : 0;
    int want = failed_nomem && ((flags | hflags) & HK_HEAP_GENERATE_EXCEPTIONS);
    HK_FZ_CHECK(fz_raised - before == (unsigned long)want,
                "exception handler called %lu times, expected %d", fz_raised - before, want);
}

static void op_alloc(fz_in *in)
{
    int hi, huge, pre;
    hk_heap *h = pick_handle(in, &hi);
    unsigned flags = pick_flags(in, F_ALLOC);
    size_t n = fz_size(in, &huge);
    unsigned long raised = fz_raised;
    unsigned char *p;
    fz_arm();
    p = hk_alloc(h, flags, n);
    pre = pre_error(hi, flags, F_ALLOC);
    if (pre) {
        HK_FZ_CHECK(!p, "alloc with a bad handle/flags succeeded");
        expect_err(pre, "alloc(bad)");
        expect_raise(raised, 0, 0, HI_BAD);
        return;
    }
    if (huge || (!p && hi >= 0 && heaps[hi].maximum)) {
        /* nothing can give a huge block; a fixed heap may be full */
        HK_FZ_CHECK(!p, "alloc of %zu bytes succeeded", n);
        expect_err(HK_ERR_NO_MEMORY, "alloc(huge/full)");
        expect_raise(raised, 1, flags, hi);
        return;
    }
    HK_FZ_CHECK(p != NULL, "alloc(%zu) failed: %d", n, hk_last_error());
    expect_err(FZ_SENTINEL, "alloc");
    expect_raise(raised, 0, flags, hi);
    HK_FZ_CHECK(((uintptr_t)p & 15) == 0, "alloc: %p not 16-byte aligned", (void *)p);
    HK_FZ_CHECK(blk_find(p) < 0, "alloc returned the live block %p", (void *)p);
    if (flags & HK_HEAP_ZERO_MEMORY)
        HK_FZ_CHECK(fz_zero_at(p, 0, n) == n, "alloc: ZERO_MEMORY block not zero");
    if (hi == HI_PROC || nblks == MAX_BLOCKS) {
        /* not modelled: give it back at once */
        HK_FZ_CHECK(hk_free(h, 0, p), "free of a fresh block");
        return;
    }
    blks[nblks].p = p;
    blks[nblks].n = n;
    blks[nblks].seed = ++seed_ctr;
    blks[nblks].heap = hi;
    blks[nblks].epoch = heaps[hi].epoch;
    fz_fill(p, n, blks[nblks].seed);
    nblks++;
}

static void op_realloc(fz_in *in, void *sbuf, void *mbuf)
{
    int hi, huge, pre, b;
    hk_heap *h = pick_handle(in, &hi);
    unsigned flags = pick_flags(in, F_REALLOC);
    void *p = pick_ptr(in, sbuf, mbuf);
    size_t n = fz_size(in, &huge), old;
    unsigned long raised = fz_raised;
    unsigned char *q;
    fz_arm();
    q = hk_realloc(h, flags, p, n);
    pre = pre_error(hi, p ? flags : 0xFFFFFFFFu, F_REALLOC);
    if (pre || !accepts(hi, p)) {
        HK_FZ_CHECK(!q, "realloc of %p (not a live block of the heap) succeeded", p);
        expect_err(pre ? pre : HK_ERR_INVALID_PARAMETER, "realloc(bad)");
        expect_raise(raised, 0, 0, HI_BAD);
        check_all("after a refused realloc");
        return;
    }
    b = blk_find(p);
    old = blks[b].n;
    if (!q) {
        /* allowed to fail: a huge size, in-place-only, a full fixed heap */
        HK_FZ_CHECK(huge || (flags & HK_HEAP_REALLOC_IN_PLACE_ONLY) || heaps[hi].maximum,
                    "realloc(%p, %zu -> %zu, 0x%x) failed: %d", p, old, n, flags,
                    hk_last_error());
        expect_err(HK_ERR_NO_MEMORY, "realloc(no memory)");
        expect_raise(raised, 1, flags, hi);
        blk_check(&blks[b], "after a failed realloc");
        return;
    }
    HK_FZ_CHECK(!huge, "realloc to %zu bytes succeeded", n);
    expect_err(FZ_SENTINEL, "realloc");
    expect_raise(raised, 0, flags, hi);
    HK_FZ_CHECK(((uintptr_t)q & 15) == 0, "realloc: %p not aligned", (void *)q);
    if (flags & HK_HEAP_REALLOC_IN_PLACE_ONLY)
        HK_FZ_CHECK(q == p, "in-place-only realloc moved the block");
    HK_FZ_CHECK(q == p || blk_find(q) < 0, "realloc returned another live block");
    {
        size_t keep = old < n ? old : n, i = fz_verify(q, keep, blks[b].seed);
        HK_FZ_CHECK(i == keep, "realloc %zu -> %zu lost byte %zu", old, n, i);
        if ((flags & HK_HEAP_ZERO_MEMORY) && n > old)
            HK_FZ_CHECK(fz_zero_at(q, old, n) == n, "realloc: growth not zero");
    }
    if (q != p && nstale < MAX_STALE)
        stale[nstale++] = p;
    blks[b].p = q;
    blks[b].n = n;
    blks[b].seed = ++seed_ctr;
    fz_fill(q, n, blks[b].seed);
}

static void op_free(fz_in *in, void *sbuf, void *mbuf)
{
    int hi, pre, ok;
    hk_heap *h = pick_handle(in, &hi);
    unsigned flags = pick_flags(in, F_ANY);
    void *p = pick_ptr(in, sbuf, mbuf);
    fz_arm();
    ok = hk_free(h, flags, p);
    if (!p) {                           /* Win32: TRUE, even with a bad heap */
        HK_FZ_CHECK(ok, "free(NULL) failed");
        expect_err(FZ_SENTINEL, "free(NULL)");
        return;
    }
    /* a NULL heap in HeapFree/HeapSize is 87, as on Wine 8 */
    pre = h ? pre_error(hi, flags, F_ANY) : HK_ERR_INVALID_PARAMETER;
    if (pre || !accepts(hi, p)) {
        HK_FZ_CHECK(!ok, "free of %p (not a live block of the heap) succeeded", p);
        expect_err(pre ? pre : HK_ERR_INVALID_PARAMETER, "free(bad)");
        check_all("after a refused free");
        return;
    }
    HK_FZ_CHECK(ok, "free of a live block failed: %d", hk_last_error());
    expect_err(FZ_SENTINEL, "free");
    blk_drop(blk_find(p));
}

static void op_size(fz_in *in, void *sbuf, void *mbuf)
{
    int hi, pre;
    hk_heap *h = pick_handle(in, &hi);
    unsigned flags = pick_flags(in, F_ANY);
    void *p = pick_ptr(in, sbuf, mbuf);
    size_t n;
    fz_arm();
    n = hk_size(h, flags, p);
    pre = h ? pre_error(hi, p ? flags : 0xFFFFFFFFu, F_ANY) : HK_ERR_INVALID_PARAMETER;
    if (pre || !accepts(hi, p)) {
        HK_FZ_CHECK(n == (size_t)-1, "size of %p (not a live block) gave %zu", p, n);
        expect_err(pre ? pre : HK_ERR_INVALID_PARAMETER, "size(bad)");
        return;
    }
    HK_FZ_CHECK(n == blks[blk_find(p)].n, "size %zu, expected %zu", n, blks[blk_find(p)].n);
    expect_err(FZ_SENTINEL, "size");
}

static void op_validate(fz_in *in, void *sbuf, void *mbuf)
{
    int hi, ok, want;
    hk_heap *h = pick_handle(in, &hi);
    unsigned flags = pick_flags(in, F_ANY);
    void *p = (fz_u8(in) & 1) ? NULL : pick_ptr(in, sbuf, mbuf);
    fz_arm();
    ok = hk_validate(h, flags, p);
    if (hi == HI_BAD || (flags & ~F_ANY))
        want = 0;
    else
        want = p ? accepts(hi, p) : 1;     /* nothing here damages a heap */
    HK_FZ_CHECK(ok == want, "validate(%p) = %d, expected %d", p, ok, want);
    expect_err(FZ_SENTINEL, "validate (never changes the last error)");
}

static void op_compact(fz_in *in)
{
    int hi, pre;
    hk_heap *h = pick_handle(in, &hi);
    unsigned flags = pick_flags(in, F_ANY);
    size_t n;
    fz_arm();
    n = hk_compact(h, flags);
    pre = pre_error(hi, flags, F_ANY);
    if (!pre && hi == HI_PROC)
        return;                         /* not modelled (Win32's own heap under Wine) */
    if (!pre && heaps[hi].mi)
        pre = HK_ERR_NOT_SUPPORTED;
    if (pre) {
        HK_FZ_CHECK(n == 0, "compact failed but returned %zu", n);
        expect_err(pre, "compact(bad)");
        return;
    }
    expect_err(FZ_SENTINEL, "compact");
    check_all("after compact");
}

static void op_lock(fz_in *in)
{
    int hi, ok, unlock = fz_u8(in) & 1;
    hk_heap *h = pick_handle(in, &hi);
    if (hi == HI_PROC)
        return;                         /* not modelled */
    fz_arm();
    ok = unlock ? hk_unlock(h) : hk_lock(h);
    if (hi < 0) {
        HK_FZ_CHECK(!ok, "lock/unlock of a bad handle succeeded");
        expect_err(HK_ERR_INVALID_HANDLE, "lock(bad)");
        return;
    }
    if (heaps[hi].flags & HK_HEAP_NO_SERIALIZE) {   /* no lock at all: both succeed */
        HK_FZ_CHECK(ok, "lock/unlock of a NO_SERIALIZE heap failed");
        return;
    }
    if (unlock && heaps[hi].depth == 0) {
        HK_FZ_CHECK(!ok, "unlock of a heap we do not hold succeeded");
        expect_err(HK_ERR_INVALID_PARAMETER, "unlock(not held)");
        return;
    }
    HK_FZ_CHECK(ok, "lock/unlock failed: %d", hk_last_error());
    expect_err(FZ_SENTINEL, "lock/unlock");
    heaps[hi].depth += unlock ? -1 : 1;
}

/* Every BUSY entry is a live block of the heap, with its size, once. */
typedef struct {
    int hi, busy, regions;
    unsigned char seen[MAX_BLOCKS];
} walk_state;

static void walk_entry(walk_state *w, const hk_heap_entry *e)
{
    int kinds = 0, b;
    kinds += e->flags == HK_ENTRY_FREE;
    kinds += e->flags == HK_ENTRY_REGION;
    kinds += e->flags == HK_ENTRY_BUSY;
    kinds += e->flags == HK_ENTRY_UNCOMMITTED;
    HK_FZ_CHECK(kinds == 1, "walk entry flags 0x%x", e->flags);
    if (heaps[w->hi].mi)
        HK_FZ_CHECK(e->flags == HK_ENTRY_REGION || e->flags == HK_ENTRY_BUSY,
                    "mimalloc walk gave kind 0x%x", e->flags);
    w->regions += e->flags == HK_ENTRY_REGION;
    if (e->flags != HK_ENTRY_BUSY)
        return;
    w->busy++;
    b = blk_find(e->data);
    HK_FZ_CHECK(b >= 0 && blks[b].heap == w->hi, "walk: busy %p is no block of the heap",
                e->data);
    HK_FZ_CHECK(!w->seen[b], "walk: block %p seen twice", e->data);
    HK_FZ_CHECK(e->size == blks[b].n, "walk: size %zu, expected %zu", e->size, blks[b].n);
    w->seen[b] = 1;
}

static void walk_end(const walk_state *w)
{
    int i, want = 0;
    for (i = 0; i < nblks; i++)
        want += blks[i].heap == w->hi;
    HK_FZ_CHECK(w->busy == want, "walk: %d busy entries, %d live blocks", w->busy, want);
    HK_FZ_CHECK(w->regions >= 1 || (heaps[w->hi].mi && !want), "walk: no region");
}

static int visit_cb(const hk_heap_entry *e, void *arg)
{
    walk_entry(arg, e);
    return 0;
}

static void op_walk(fz_in *in, void *sbuf, void *mbuf)
{
    int hi, k = (int)fz_u8(in) % 4;
    hk_heap *h = pick_handle(in, &hi);
    walk_state w;
    hk_heap_entry e;
    long steps = 0;
    if (hi == HI_PROC)
        return;                         /* not modelled */
    memset(&w, 0, sizeof w);
    w.hi = hi;
    memset(&e, 0, sizeof e);
    if (k == 3) {
        /* a hostile entry: garbage position; it may match a block, then it
         * continues from there, else it is refused; never a crash */
        e.data = pick_ptr(in, sbuf, mbuf);
        e.flags = (unsigned short)(fz_u8(in) % 6);
        e.walk_state[0] = fz_u32(in);
        e.walk_state[1] = fz_u8(in);
        fz_arm();
        if (!hk_walk(h, &e)) {
            int err = hk_last_error();
            HK_FZ_CHECK(hi >= 0 ? (err == HK_ERR_INVALID_PARAMETER || err == HK_ERR_NO_MORE_ITEMS)
                                : err == HK_ERR_INVALID_HANDLE,
                        "hostile walk entry: error %d", err);
        } else {
            HK_FZ_CHECK(hi >= 0, "walk with a bad handle succeeded");
            if (e.flags == HK_ENTRY_BUSY) {
                int b = blk_find(e.data);
                HK_FZ_CHECK(b >= 0 && blks[b].heap == hi && blks[b].n == e.size,
                            "hostile walk entry led to busy %p, no block of the heap", e.data);
            }
        }
        return;
    }
    if (hi < 0) {
        fz_arm();
        HK_FZ_CHECK(k == 2 ? !hk_visit(h, visit_cb, &w) : !hk_walk(h, &e),
                    "walk with a bad handle succeeded");
        expect_err(HK_ERR_INVALID_HANDLE, "walk(bad)");
        return;
    }
    if (k == 2) {
        fz_arm();
        HK_FZ_CHECK(hk_visit(h, visit_cb, &w), "visit failed: %d", hk_last_error());
        expect_err(FZ_SENTINEL, "visit");
        walk_end(&w);
        return;
    }
    if (k == 1)
        HK_FZ_CHECK(hk_lock(h), "lock for the walk");
    fz_arm();
    while (hk_walk(h, &e)) {
        walk_entry(&w, &e);
        HK_FZ_CHECK(++steps < 1000000, "walk does not end");
    }
    expect_err(HK_ERR_NO_MORE_ITEMS, "walk end");
    if (k == 1)
        HK_FZ_CHECK(hk_unlock(h), "unlock after the walk");
    walk_end(&w);
    check_all("after a walk");
}

static void op_mark(fz_in *in)
{
    int hi, release = fz_u8(in) % 3, i;
    hk_heap *h = pick_handle(in, &hi);
    fz_heap *m;
    if (hi == HI_PROC)
        return;                         /* not modelled */
    if (hi < 0) {
        fz_arm();
        HK_FZ_CHECK(release ? !hk_heap_release(h, 1) : !hk_heap_mark(h), "mark(bad) succeeded");
        expect_err(HK_ERR_INVALID_HANDLE, "mark(bad)");
        return;
    }
    m = &heaps[hi];
    if (m->mi) {
        fz_arm();
        HK_FZ_CHECK(release ? !hk_heap_release(h, 1) : !hk_heap_mark(h),
                    "mimalloc mark/release succeeded");
        expect_err(HK_ERR_NOT_SUPPORTED, "mimalloc mark/release");
        return;
    }
    if (!release) {
        uintptr_t mk;
        fz_arm();
        mk = hk_heap_mark(h);
        HK_FZ_CHECK(mk != 0, "mark failed: %d", hk_last_error());
        expect_err(FZ_SENTINEL, "mark");
        for (i = 0; i < (int)m->epoch && i < 32; i++)
            HK_FZ_CHECK(m->marks[i] != mk, "mark 0x%llx given twice", (unsigned long long)mk);
        m->marks[m->epoch % 32] = mk;
        m->epoch++;
        return;
    }
    if (!m->epoch || release == 2) {
        /* marks that are not live: 0, and (arena's encoding: a salt, then
         * the epoch) one past the last and one with a wrong salt */
        uintptr_t last = m->epoch ? m->marks[(m->epoch - 1) % 32] : 0;
        uintptr_t bad = !last ? 0 : (fz_u8(in) & 1) ? last + 1 : last ^ ((uintptr_t)1 << 50);
        fz_arm();
        HK_FZ_CHECK(!hk_heap_release(h, bad), "release of a dead mark 0x%llx succeeded",
                    (unsigned long long)bad);
        expect_err(HK_ERR_INVALID_PARAMETER, "release(bad mark)");
        check_all("after a refused release");
        return;
    }
    {
        /* release the last mark or an earlier one: every block allocated
         * since it goes, the others stay */
        uint32_t back = fz_u8(in) % (m->epoch < 32 ? m->epoch : 32);
        uint32_t ep = m->epoch - back;              /* blocks of epoch >= ep go */
        uintptr_t mk = m->marks[(ep - 1) % 32];
        fz_arm();
        HK_FZ_CHECK(hk_heap_release(h, mk), "release failed: %d", hk_last_error());
        expect_err(FZ_SENTINEL, "release");
        for (i = nblks - 1; i >= 0; i--)
            if (blks[i].heap == hi && blks[i].epoch >= ep)
                blk_drop(i);
        for (i = 0; i < nblks; i++)
            if (blks[i].heap == hi) {
                fz_arm();
                HK_FZ_CHECK(hk_size(h, 0, blks[i].p) == blks[i].n,
                            "a block from before the mark is gone");
            }
        check_all("after release");
    }
}

static void op_enum(void)
{
    hk_heap *list[MAX_HEAPS + 64];
    size_t n = hk_process_heaps(list, sizeof list / sizeof list[0]), i;
    int j;
    HK_FZ_CHECK(n >= (size_t)nheaps + 1, "process heaps: %zu, we have %d", n, nheaps);
    if (n > sizeof list / sizeof list[0])
        return;
    HK_FZ_CHECK(list[0] == hk_process_heap(), "process heap not first");
    for (j = 0; j < nheaps; j++) {
        int found = 0;
        for (i = 0; i < n; i++)
            found += list[i] == heaps[j].h;
        HK_FZ_CHECK(found == 1, "heap %p listed %d times", (void *)heaps[j].h, found);
    }
    for (j = 0; j < ndead; j++) {
        if (heap_find(dead[j]) >= 0)
            continue;                   /* its slot was reused by a live heap */
        for (i = 0; i < n; i++)
            HK_FZ_CHECK(list[i] != dead[j], "a destroyed heap is still listed");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = { data, size };
    unsigned char sbuf[512];            /* wild but mapped: the stack */
    unsigned char *mbuf = malloc(512);  /* ... and the C runtime's heap */
    int ops = 0, i;
    LLVMFuzzerInitialize(NULL, NULL);      /* once; libFuzzer may have done it */
    HK_FZ_CHECK(mbuf != NULL, "malloc");
    memset(sbuf, 0x5c, sizeof sbuf);
    memset(mbuf, 0xa3, 512);
    nheaps = nblks = nstale = ndead = 0;
    /* every sequence starts with one heap of each backend */
    op_create(&(fz_in){ (const uint8_t *)"\x00\x00\x00\x00", 4 });
    if (have_mi)
        op_create(&(fz_in){ (const uint8_t *)"\x01\x00\x00\x00", 4 });
    while (fz_more(&in) && ops++ < MAX_OPS) {
        switch (fz_u8(&in) % 16) {
        case 0: op_create(&in); break;
        case 1: op_destroy(&in); break;
        case 2: case 3: case 4: op_alloc(&in); break;
        case 5: case 6: op_realloc(&in, sbuf, mbuf); break;
        case 7: case 8: op_free(&in, sbuf, mbuf); break;
        case 9: op_size(&in, sbuf, mbuf); break;
        case 10: op_validate(&in, sbuf, mbuf); break;
        case 11: op_compact(&in); break;
        case 12: op_lock(&in); break;
        case 13: op_walk(&in, sbuf, mbuf); break;
        case 14: op_mark(&in); break;
        default: op_enum(); break;
        }
    }
    /* the end: everything is still there, then all goes */
    check_all("at the end");
    for (i = 0; i < nblks; i++) {
        fz_arm();
        HK_FZ_CHECK(hk_size(heaps[blks[i].heap].h, 0, blks[i].p) ==
                    (accepts(blks[i].heap, blks[i].p) ? blks[i].n : (size_t)-1),
                    "size at the end");
    }
    while (nheaps) {
        release_locks(nheaps - 1);
        HK_FZ_CHECK(hk_validate(heaps[nheaps - 1].h, 0, NULL), "heap invalid at the end");
        HK_FZ_CHECK(hk_heap_destroy(heaps[nheaps - 1].h), "destroy at the end");
        heap_forget(nheaps - 1);
    }
    free(mbuf);
    return 0;
}
