/*
 * fast.c - the arena's front end: the alloc and free entries, the hot
 * paths of the per-size caches, the thread caches, and the fast entries
 * hk_alloc/hk_free jump to.  Everything else they need is in arena.c
 * (blocks, coalescing) and arena.h (the inline cache push and pop).
 */
#include "arena.h"

/* ---- Entering biased ----------------------------------------------------- */
/* The calling thread holds the bias, outside any call of its own, and
 * the call is serialized: the fast entries may take the depth-0 bias
 * with plain stores (the depth-0 case of hk__bias_enter / hk__leave). */
HK_NOSAN static inline int hk__fast_owner(hk__heap *h, unsigned flags)
{
    return !(flags & HK_HEAP_NO_SERIALIZE)
        && __atomic_load_n(&h->bias_tid, __ATOMIC_RELAXED) == hk__arena_tid()
        && !h->bias_depth;
}

HK_NOSAN static inline int hk__fast_enter(hk__heap *h, unsigned flags)
{
    if (!hk__fast_owner(h, flags))
        return 0;
    return hk__bias_enter(h);
}

HK_NOSAN static inline void hk__fast_leave(hk__heap *h)
{
    hk__leave(h, 1);
}

/* NULL: h->fail says why (kept out of the hot path's frame). */
HK_NOSAN static HK_NOINLINE void *hk__alloc_slow(hk__heap *h, size_t n)
{
    h->fail = HK_ERR_NO_MEMORY;
    if (n < HK_LARGE_N) return hk__alloc_small(h, n, h->epoch);
    return hk__alloc_large(h, n, h->epoch);
}

/* Pop a block of the exact class from its cache, or go the long way
 * (there too once a mark was taken: blocks get a tag). */
HK_NOSAN static HK_HOT void *hk__alloc_op(hk__heap *h, size_t n)
{
    if (HK_LIKELY(n <= (size_t)HK_CMAX * 16 - HK_HDR) && HK_LIKELY(!h->epoch)) {
        uint32_t u = hk__units(n);
        hk__fblk *f = h->cache[u];
        if (HK_LIKELY(f != NULL) && HK_LIKELY(hk__cfast(h, f))) {
            h->cache[u] = f->next;
            h->croom[u]++;
            return hk__pop_busy(h, f, u, n, 0);
        }
    }
    return hk__alloc_slow(h, n);
}

/* ---- Thread caches (see arena.h) -------------------------------------- */
/* initial-exec: one load, no call (the library is not meant for dlopen
 * late into a process with no static TLS left). */
#if defined(__GNUC__) && defined(__ELF__)
#  define HK_TLS __thread __attribute__((tls_model("initial-exec")))
#else
#  define HK_TLS __thread
#endif
static HK_TLS unsigned hk__tc_seq;   /* this thread's number, 0: none yet */
static unsigned hk__tc_next;

/* The calling thread's cache of h, if the heap serializes and is shared
 * (bias revoked) and the request is of a cached class; else NULL. */
HK_NOSAN static inline hk__tc *hk__tc_of(hk__heap *h, unsigned flags)
{
    unsigned s;
    if ((flags & HK_HEAP_NO_SERIALIZE) || !__atomic_load_n(&h->revoked, __ATOMIC_ACQUIRE))
        return NULL;
    if (HK_UNLIKELY(!(s = hk__tc_seq)))
        hk__tc_seq = s = __atomic_add_fetch(&hk__tc_next, 1, __ATOMIC_RELAXED) | 0x80000000u;
    return &h->tc[s % HK_TC_N];
}

/* Take t's lock word for a pop or push.  Held by another thread that is
 * not the word lock's holder: a live thread shares the slot, so this one
 * moves to the next slot from its next call on (no two threads keep
 * meeting in one cache while there are slots enough). */
HK_NOSAN static inline int hk__tc_try(hk__heap *h, hk__tc *t)
{
    uintptr_t z = 0;
    if (HK_LIKELY(__atomic_compare_exchange_n(&t->lock, &z, hk__arena_tid(), 0, __ATOMIC_ACQUIRE,
                                              __ATOMIC_RELAXED)))
        return 1;
    if (z != __atomic_load_n(&h->owner, __ATOMIC_RELAXED)) hk__tc_seq++;
    return 0;
}

/* t's lock held: a block of n bytes (u units: hk__units_ep, at most
 * HK_CMAX) from its class, or NULL. */
HK_NOSAN static inline void *hk__tc_pop(hk__heap *h, hk__tc *t, size_t n, uint32_t u)
{
    hk__fblk *f = t->cache[u];
    if (!f || !hk__cfast(h, f)) return NULL;   /* damaged: the heap serves */
    t->cache[u] = f->next;
    t->room[u]++;
    return hk__pop_busy(h, f, u, n, h->epoch);
}

/* t's lock held: cache the busy small block at p if its class has room;
 * 0 if not (or p is not an intact busy small block: the slow path says
 * what it is). */
HK_NOSAN static inline int hk__tc_push(hk__heap *h, hk__tc *t, void *p)
{
    uintptr_t a = (uintptr_t)p - HK_HDR;
    hk__blk *b = (hk__blk *)a;
    uint32_t u, w;
    if (!HK_HALIGNED(a) || !hk__region_of(h, a)) return 0;
    w = b->w;
    u = hk__wsz(w);
    if ((w & (HK_BUSY | HK_SENT)) != HK_BUSY || u > HK_CMAX || !t->room[u] ||
        b->check != hk__chkv(h, b, w))
        return 0;
    hk__cpush(h, &t->cache[u], &t->room[u], b, u);
    hk__san_free(h, (char *)(b + 1), HK_HDR, (char *)b + (size_t)u * 16);
    return 1;
}

/* ---- The depot (shared heaps) ----------------------------------------- */
/* Chains that may sit in class u's depot: as many as fit HK_DEPBYTES. */
HK_NOSAN static inline unsigned hk__dep_slots(uint32_t u)
{
    return (size_t)u * 16 * HK_TCFILL * HK_DEP_N <= HK_DEPBYTES ? HK_DEP_N : 1;
}

/* Word lock and t's lock held, t's class u empty: take a whole chain of
 * the depot as t's list (no block is read: the pops check each guard as
 * they come).  0: none that fits. */
HK_NOSAN static int hk__dep_take(hk__heap *h, hk__tc *t, uint32_t u)
{
    unsigned i;
    if (t->cache[u]) return 0;
    for (i = 0; i < HK_DEP_N; i++) {
        if (h->dep[u][i] && h->depn[u][i] <= t->room[u]) {
            t->cache[u] = h->dep[u][i];
            t->room[u] = (uint8_t)(t->room[u] - h->depn[u][i]);
            h->dep[u][i] = NULL;
            h->depn[u][i] = 0;
            return 1;
        }
    }
    return 0;
}

/* Word lock and t's lock held, t's class u full: cut its list after the
 * HK_TCFILL newest blocks (still in this core's cache) and put the older
 * rest in the depot as one chain.  Only the cut block is written.  0: no
 * free depot slot, or a damaged entry on the way (the caller's own path
 * copes with that). */
HK_NOSAN static int hk__dep_put(hk__heap *h, hk__tc *t, uint32_t u)
{
    hk__fblk *f = t->cache[u], *rest;
    unsigned i, k, n = HK_TCCAP - t->room[u];
    for (i = 0; i < hk__dep_slots(u) && h->dep[u][i]; i++) {}
    if (i == hk__dep_slots(u) || n <= HK_TCFILL) return 0;
    for (k = 1; ; k++) {
        if (!f || !HK_HALIGNED(f) || !hk__region_of(h, (uintptr_t)f) || !hk__cok(h, f, u))
            return 0;
        if (k == HK_TCFILL) break;
        f = f->next;
    }
    if (!(rest = f->next)) return 0;
    f->next = NULL;
    f->prev = hk__cguard(h, f, NULL);
    t->room[u] = (uint8_t)(t->room[u] + (n - HK_TCFILL));
    h->dep[u][i] = rest;
    h->depn[u][i] = (uint8_t)(n - HK_TCFILL);
    return 1;
}

/* Word lock and t's lock held: refill t's class with up to HK_TCFILL
 * blocks from the heap's cache or lists, then serve n from it.  Moving
 * cached blocks touches no other block; before a split (which may flip a
 * neighbour's PFREE flag, maybe in another thread's cache) every thread
 * cache is locked. */
HK_NOSAN static void *hk__tc_refill(hk__heap *h, hk__tc *t, size_t n, uint32_t u, uintptr_t me)
{
    unsigned k;
    void *p;
    if ((p = hk__tc_pop(h, t, n, u)) != NULL) return p;   /* a slot-mate filled it */
    if (hk__dep_take(h, t, u) && (p = hk__tc_pop(h, t, n, u)) != NULL) return p;
    for (k = 0; k < HK_TCFILL && t->room[u] > 0; k++) {
        hk__fblk *f = h->cache[u];
        hk__region *r;
        hk__blk *b;
        if (f && hk__cfast(h, f)) {
            h->cache[u] = f->next;
            h->croom[u]++;
            b = &f->h;
        } else {
            if (!h->tcheld) {
                if (k) break;       /* some: enough for now */
                hk__tc_lockall(h, me);
            }
            if (!(b = hk__take(h, u, &r))) break;
            if (HK_SZ(b) != u) {
                /* one unit over (too little to split off): its own class */
                uint32_t v = HK_SZ(b);
                if (v <= HK_CMAX && t->room[v]) hk__cpush(h, &t->cache[v], &t->room[v], b, v);
                else hk__coalesce(h, r, b, 0, NULL);
                break;
            }
        }
        hk__cpush(h, &t->cache[u], &t->room[u], b, u);
    }
    if ((p = hk__tc_pop(h, t, n, u)) != NULL) return p;
    hk__tc_lockall(h, me);
    return hk__alloc_op(h, n);
}

/* Any thread, any lock state: the general path.  A shared heap serves
 * from the thread's cache first, under its lock word alone. */
HK_NOSAN static HK_NOINLINE int hk__alloc_locked(hk__heap *h, unsigned flags, size_t n, void **out)
{
    int rc = HK_OK, lk;
    uint32_t u = n <= (size_t)HK_CMAX * 16 ? hk__units_ep(n, h->epoch) : HK_CMAX + 1;
    hk__tc *t = u <= HK_CMAX ? hk__tc_of(h, flags) : NULL;
    void *p = NULL;
    if (t && hk__tc_try(h, t)) {
        p = hk__tc_pop(h, t, n, u);
        __atomic_store_n(&t->lock, 0, __ATOMIC_RELEASE);
    }
    if (!p && t) {
        uintptr_t me = hk__arena_tid();
        int took;
        hk__enter_light(h, me);
        took = hk__tc_grab(t, me);
        p = hk__tc_refill(h, t, n, u, me);
        if (!p) rc = h->fail;
        if (took && !h->tcheld) __atomic_store_n(&t->lock, 0, __ATOMIC_RELEASE);
        hk__leave(h, 2);
        if (!p) return rc;
    } else if (!p) {
        lk = hk__enter(h, flags);
        p = hk__alloc_op(h, n);
        if (!p) rc = h->fail;
        hk__leave(h, lk);
        if (!p) return rc;
    }
    if (flags & HK_HEAP_ZERO_MEMORY) hk__zero_new(h, p, n);
    *out = p;
    return HK_OK;
}

HK_NOSAN int hk__arena_alloc(void *bh, unsigned flags, size_t n, void **out)
{
    hk__heap *h = bh;
    int rc;
    void *p;
    if (HK_UNLIKELY(!hk__fast_enter(h, flags))) return hk__alloc_locked(h, flags, n, out);
    p = hk__alloc_op(h, n);
    if (HK_UNLIKELY(!p)) {
        rc = h->fail;
        hk__fast_leave(h);
        return rc;
    }
    hk__fast_leave(h);
    if (flags & HK_HEAP_ZERO_MEMORY) hk__zero_new(h, p, n);
    *out = p;
    return HK_OK;
}

HK_NOSAN static HK_NOINLINE int hk__free_slow(hk__heap *h, void *p)
{
    hk__region *r;
    hk__blk *b = hk__lookup(h, p, &r);
    hk__large *l;
    if (b) return hk__free_blk(h, r, b, HK_SZ(b));
    if ((l = hk__llookup(h, p)) != NULL) {
        if (!hk__large_nb_ok(h, l)) return HK_ERR_HEAP_CORRUPT;
        hk__free_large(h, l);
        return HK_OK;
    }
    return HK_ERR_INVALID_PARAMETER;
}

/* Check the header (flags + keyed check: not a block start, a freed block
 * or another heap's block all fail it), then cache or merge. */
HK_NOSAN static HK_HOT int hk__free_op(hk__heap *h, void *p)
{
    hk__region *r;
    uintptr_t a = (uintptr_t)p - HK_HDR;
    if (HK_LIKELY(HK_HALIGNED(a)) && HK_LIKELY((r = hk__region_of(h, a)) != NULL)) {
        hk__blk *b = (hk__blk *)a;
        uint32_t w = b->w;
        if (HK_LIKELY((w & (HK_BUSY | HK_SENT)) == HK_BUSY) &&
            HK_LIKELY(b->check == hk__chkv(h, b, w)))
            return hk__free_blk(h, r, b, (w >> HK_SZ_SHIFT) & 0xFFFFu);
    }
    return hk__free_slow(h, p);
}

/* Word lock and t's lock held: free p into t, spilling half of its class
 * to the heap's cache (or, every thread cache locked, merging it) when
 * full; p not an intact busy small block: the general path. */
HK_NOSAN static int hk__tc_free_slow(hk__heap *h, hk__tc *t, void *p, uintptr_t me)
{
    hk__region *r;
    hk__blk *b = hk__lookup(h, p, &r);
    if (b && HK_SZ(b) <= HK_CMAX) {
        uint32_t u = HK_SZ(b);
        unsigned k;
        if (!t->room[u] && hk__dep_put(h, t, u) && hk__tc_push(h, t, p)) return HK_OK;
        for (k = 0; k < HK_TCFILL && t->cache[u]; k++) {
            hk__fblk *f = t->cache[u];
            hk__region *fr;
            if (!hk__cok(h, f, u) || !(fr = hk__region_of(h, (uintptr_t)f))) break;
            if (!h->croom[u]) hk__tc_lockall(h, me);
            t->cache[u] = f->next;
            t->room[u]++;
            if (h->croom[u]) {
                hk__cache_push(h, &f->h, u);
            } else if (hk__coalesce(h, fr, &f->h, 1, NULL) != HK_OK) {
                hk__cpush(h, &t->cache[u], &t->room[u], &f->h, u);   /* leave it */
                break;
            }
        }
        if (hk__tc_push(h, t, p)) return HK_OK;
    }
    hk__tc_lockall(h, me);
    return hk__free_op(h, p);
}

HK_NOSAN static HK_NOINLINE int hk__free_locked(hk__heap *h, unsigned flags, void *p)
{
    hk__tc *t = hk__tc_of(h, flags);
    int lk, rc;
    if (t && hk__tc_try(h, t)) {
        int done = hk__tc_push(h, t, p);
        __atomic_store_n(&t->lock, 0, __ATOMIC_RELEASE);
        if (done) return HK_OK;
    }
    if (t) {
        uintptr_t me = hk__arena_tid();
        int took;
        hk__enter_light(h, me);
        took = hk__tc_grab(t, me);
        rc = hk__tc_free_slow(h, t, p, me);
        if (took && !h->tcheld) __atomic_store_n(&t->lock, 0, __ATOMIC_RELEASE);
        hk__leave(h, 2);
        return rc;
    }
    lk = hk__enter(h, flags);
    rc = hk__free_op(h, p);
    hk__leave(h, lk);
    return rc;
}

HK_NOSAN int hk__arena_free(void *bh, unsigned flags, void *p)
{
    hk__heap *h = bh;
    int rc;
    if (HK_UNLIKELY(!hk__fast_enter(h, flags))) return hk__free_locked(h, flags, p);
    rc = hk__free_op(h, p);
    hk__fast_leave(h);
    return rc;
}

/* The fast entries (backend.h): hk_alloc/hk_free jump here.  The heap's
 * own HK_HEAP_NO_SERIALIZE is merged here (the core does not); a failure
 * leaves the heap as it was, and the core's full path says why. */
HK_NOSAN static HK_NOINLINE __attribute__((flatten)) void *hk__fast_alloc_gen(hk_heap *hh, unsigned flags,
                                                                       size_t n, void *bh)
{
    hk__heap *h = bh;
    void *p;
#ifdef HK_VG
    int v = h->vg;
    HK_VG_IN(h);
#endif
    if (hk__arena_alloc(h, flags | h->flags, n, &p) != HK_OK) p = NULL;
#ifdef HK_VG
    HK_VG_OUT(v);
#endif
    if (HK_LIKELY(p != NULL)) return p;
    return hk_alloc_full(hh, flags, n);
}

HK_NOSAN static HK_NOINLINE __attribute__((flatten)) int hk__fast_free_gen(hk_heap *hh, unsigned flags,
                                                                     void *p, void *bh)
{
    hk__heap *h = bh;
    int rc;
#ifdef HK_VG
    int v = h->vg;
    HK_VG_IN(h);
#endif
    rc = hk__arena_free(h, flags | h->flags, p);
#ifdef HK_VG
    HK_VG_OUT(v);
#endif
    if (HK_LIKELY(rc == HK_OK)) return 1;
    return hk_free_full(hh, flags, p);
}

/* The entries proper: the common case (biased owner, no Valgrind, no
 * zeroing, a cache hit or room in the cache) with nothing else inlined
 * and every other case a tail call, so the hot path has a small frame
 * and few instructions sit between one operation's cache misses and the
 * next's (the 1M-slot bench row is bound by how many misses overlap:
 * 232 -> 205 instructions per free + alloc there, callgrind).
 * Entering and leaving are hk__fast_enter/leave spelled out, with their
 * rare calls out of line too: h->fast_tid equal to this thread's says it
 * owns the bias at depth 0 and nothing else rules the fast entries out
 * (arena.h), so one compare replaces the checks of the heap's flags,
 * Valgrind, the depth and the epoch (callgrind, churn: 222 -> 211
 * instructions per free + alloc). */
HK_NOSAN static inline int hk__fast_in(hk__heap *h, unsigned flags, unsigned refuse)
{
    /* fast_tid: the owner at depth 0, no Valgrind, heap flag or mark */
    if ((flags & refuse) || __atomic_load_n(&h->fast_tid, __ATOMIC_RELAXED) != hk__arena_tid())
        return 0;
    __atomic_store_n(&h->bias_depth, 1, __ATOMIC_RELAXED);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    return 1;
}

/* Leaving the depth-0 bias: a revoker waiting is woken. */
HK_NOSAN static inline int hk__fast_out(hk__heap *h)
{
    __atomic_store_n(&h->bias_depth, 0, __ATOMIC_RELEASE);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    return HK_UNLIKELY(__atomic_load_n(&h->revoke, __ATOMIC_RELAXED) != 0);
}

HK_NOSAN static HK_NOINLINE void *hk__alloc_wake(hk__heap *h, void *p)
{
    hk__bias_wake(h);
    return p;
}

HK_NOSAN static HK_NOINLINE int hk__free_wake(hk__heap *h)
{
    hk__bias_wake(h);
    return 1;
}

HK_NOSAN static HK_NOINLINE __attribute__((flatten)) void *hk__alloc_miss(hk_heap *hh, unsigned flags, size_t n, hk__heap *h)
{
    void *p = hk__alloc_slow(h, n);   /* entered biased */
    if (hk__fast_out(h)) hk__bias_wake(h);
    if (HK_LIKELY(p != NULL)) return p;
    return hk_alloc_full(hh, flags, n);
}

/* Entered and found the bias being revoked: undo, go the general way. */
HK_NOSAN static HK_NOINLINE void *hk__alloc_undo(hk_heap *hh, unsigned flags, size_t n, hk__heap *h)
{
    __atomic_store_n(&h->bias_depth, 0, __ATOMIC_RELEASE);
    hk__bias_wake(h);
    return hk__fast_alloc_gen(hh, flags, n, h);
}

/* Not the fast entry's case.  On a shared heap (bias revoked: no thread
 * enters biased again) straight to the thread caches' path, which is
 * what hk__fast_alloc_gen -> hk__arena_alloc reach after re-checking the
 * bias (about 30 instructions per call fewer); anything else the
 * general way. */
HK_NOSAN static HK_NOINLINE void *hk__alloc_other(hk_heap *hh, unsigned flags, size_t n, hk__heap *h)
{
    void *p;
    if (HK_VG_ON(h) || !__atomic_load_n(&h->revoked, __ATOMIC_ACQUIRE))
        return hk__fast_alloc_gen(hh, flags, n, h);
    if (HK_LIKELY(hk__alloc_locked(h, flags | h->flags, n, &p) == HK_OK)) return p;
    return hk_alloc_full(hh, flags, n);
}

HK_NOSAN void *hk__arena_fast_alloc(hk_heap *hh, unsigned flags, size_t n, void *bh)
{
    hk__heap *h = bh;
    if (HK_UNLIKELY(!hk__fast_in(h, flags, HK_HEAP_NO_SERIALIZE | HK_HEAP_ZERO_MEMORY)))
        return hk__alloc_other(hh, flags, n, h);
    if (HK_UNLIKELY(__atomic_load_n(&h->revoke, __ATOMIC_RELAXED)))
        return hk__alloc_undo(hh, flags, n, h);
    /* hk__alloc_op, Valgrind known off and no mark taken (fast_tid) */
    if (HK_LIKELY(n <= (size_t)HK_CMAX * 16 - HK_HDR)) {
        uint32_t u = hk__units(n);
        hk__fblk *f = h->cache[u];
        if (HK_LIKELY(f != NULL) && HK_LIKELY(hk__cfast(h, f))) {
            hk__fblk *nx = f->next;
            void *p = &f->h + 1;
            h->cache[u] = nx;
            h->croom[u]++;
            /* the next pop of this class takes nx: its line comes in
             * meanwhile instead of stalling that pop */
            hk__prefetch(nx);
            hk__put(h, &f->h, hk__busyw(u, n, f->h.w & HK_PFREE, 0));
            HK_APOISON(f, (size_t)u * 16);   /* hk__san_busy, Valgrind off */
            HK_AUNPOISON(p, n);
            if (hk__fast_out(h)) return hk__alloc_wake(h, p);
            return p;
        }
    }
    return hk__alloc_miss(hh, flags, n, h);
}

/* Entered biased: p is not a busy block with room in its cache class. */
HK_NOSAN static HK_NOINLINE __attribute__((flatten)) int hk__free_miss(hk_heap *hh, unsigned flags, void *p, hk__heap *h)
{
    int rc = hk__free_op(h, p);
    if (hk__fast_out(h)) hk__bias_wake(h);
    if (HK_LIKELY(rc == HK_OK)) return 1;
    return hk_free_full(hh, flags, p);
}

HK_NOSAN static HK_NOINLINE int hk__free_undo(hk_heap *hh, unsigned flags, void *p, hk__heap *h)
{
    __atomic_store_n(&h->bias_depth, 0, __ATOMIC_RELEASE);
    hk__bias_wake(h);
    return hk__fast_free_gen(hh, flags, p, h);
}

/* The same for free (see hk__alloc_other). */
HK_NOSAN static HK_NOINLINE int hk__free_other(hk_heap *hh, unsigned flags, void *p, hk__heap *h)
{
    if (HK_VG_ON(h) || !__atomic_load_n(&h->revoked, __ATOMIC_ACQUIRE))
        return hk__fast_free_gen(hh, flags, p, h);
    if (HK_LIKELY(hk__free_locked(h, flags | h->flags, p) == HK_OK)) return 1;
    return hk_free_full(hh, flags, p);
}

HK_NOSAN int hk__arena_fast_free(hk_heap *hh, unsigned flags, void *p, void *bh)
{
    hk__heap *h = bh;
    uintptr_t a = (uintptr_t)p - HK_HDR;
    /* The push writes the link and guard at p, on the next line after the
     * header's for one block in eight: that miss now overlaps the
     * header's. */
    hk__prefetch(p);
    if (HK_UNLIKELY(!hk__fast_in(h, flags, HK_HEAP_NO_SERIALIZE))) return hk__free_other(hh, flags, p, h);
    if (HK_UNLIKELY(__atomic_load_n(&h->revoke, __ATOMIC_RELAXED)))
        return hk__free_undo(hh, flags, p, h);
    /* hk__free_op's cache push; anything else: all of it, out of line.
     * (p 16-aligned is HK_HALIGNED(a), in one test.) */
    if (HK_LIKELY(((uintptr_t)p & 15) == 0) && HK_LIKELY(hk__region_of(h, a) != NULL)) {
        hk__blk *b = (hk__blk *)a;
        uint32_t w = b->w, u = (w >> HK_SZ_SHIFT) & 0xFFFFu;
        if (HK_LIKELY((w & (HK_BUSY | HK_SENT)) == HK_BUSY) &&
            HK_LIKELY(b->check == hk__chkv(h, b, w)) &&
            HK_LIKELY(u <= HK_CMAX) && HK_LIKELY(h->croom[u])) {
            /* an intact busy word has no HK_CACHED: its size and PFREE
             * bits, HK_CACHED for HK_BUSY, are the cached word */
            hk__cpushw(h, &h->cache[u], &h->croom[u], b,
                       (w & (0xFFFFu << HK_SZ_SHIFT | HK_PFREE)) | HK_CACHED);
            HK_APOISON(b, (size_t)u * 16);   /* hk__san_free, Valgrind off */
            if (hk__fast_out(h)) return hk__free_wake(h);
            return 1;
        }
    }
    return hk__free_miss(hh, flags, p, h);
}

