/*
 * arena.c - heapkit's own allocator, the backend's members: small blocks,
 * coalescing, the caches' slow paths, realloc, validate and compact, and
 * the backend table.  The design, and which file holds what, is in
 * arena.h.
 */
#include "arena.h"

/* ---- Coalescing core ---------------------------------------------------- */
/* Turn b (busy, or just taken out of a cache; its header checked by the
 * caller) into a free listed block, merged with free neighbours.  Both
 * neighbours, and the list links of a free one, are checked before
 * anything changes.  tidy: may decommit the tail / drop the region
 * afterwards. */
HK_NOSAN int hk__coalesce(hk__heap *h, hk__region *r, hk__blk *b, int tidy, hk__blk **out)
{
    uint32_t u = HK_BSZ(b);   /* busy or cached */
    hk__blk *n = (hk__blk *)((char *)b + (size_t)u * 16), *p = NULL, *nn = NULL;
    if (u < 2 || (char *)n > (char *)r->sent || !hk__nb(h, n, 0))
        return HK_ERR_HEAP_CORRUPT;
    if ((b->w & HK_PFREE) && (!(p = hk__pred(h, r, b)) || !hk__linked(h, p)))
        return HK_ERR_HEAP_CORRUPT;
    if (HK_TFREE(n)) {
        nn = (hk__blk *)((char *)n + (size_t)HK_FSZ(n) * 16);   /* keeps its PFREE */
        if ((char *)nn > (char *)r->sent || !hk__linked(h, n))
            return HK_ERR_HEAP_CORRUPT;
    }
    if (p) { hk__rem(h, p); u += HK_FSZ(p); b->w = HK_DEAD; b = p; }
    if (nn) { hk__rem(h, n); u += HK_FSZ(n); n->w = HK_DEAD; n = nn; }
    else hk__flip_pfree(h, n);   /* checked by hk__nb: PFREE was clear */
    hk__put(h, b, u << HK_SZ_SHIFT);
    hk__ins(h, b);
    if (out) *out = b;
    if (tidy && n == r->sent) hk__tidy(h, r, b);
    return HK_OK;
}

HK_NOSAN static inline void hk__clink(const hk__heap *h, hk__fblk *f, hk__fblk *next)
{
    f->next = next;
    f->prev = hk__cguard(h, f, next);
}

/* Merge the blocks of cache u back into the heap.  One with a damaged
 * neighbour stays cached; at a damaged entry the walk stops and leaves it
 * and the rest of the cache as they are (its link cannot be trusted). */
HK_NOSAN static int hk__flush_class(hk__heap *h, hk__fblk **hd, uint8_t *room, uint32_t u)
{
    hk__fblk *f = *hd, *keep = NULL, *tail = NULL, *nx;
    int rc = HK_OK;
    unsigned steps = 0;
    while (f) {
        hk__region *r;
        if (++steps > HK_CCAP || !hk__cok(h, f, u)) { rc = HK_ERR_HEAP_CORRUPT; break; }
        nx = f->next;
        r = hk__region_of(h, (uintptr_t)f);
        if (r && hk__coalesce(h, r, &f->h, 1, NULL) == HK_OK) {
            ++*room;
        } else {
            rc = HK_ERR_HEAP_CORRUPT;
            if (tail) hk__clink(h, tail, f);
            else keep = f;
            tail = f;
        }
        f = nx;
    }
    if (tail) hk__clink(h, tail, f);
    else keep = f;
    *hd = keep;
    return rc;
}

HK_NOSAN int hk__flush(hk__heap *h)
{
    uint32_t u;
    int rc = HK_OK;
    unsigned i;
    for (u = 2; u <= HK_CMAX; u++)
        if (h->cache[u] && hk__flush_class(h, &h->cache[u], &h->croom[u], u) != HK_OK)
            rc = HK_ERR_HEAP_CORRUPT;
    /* The thread caches too (the caller holds the word lock, so all their
     * lock words; before revocation they are empty). */
    for (i = 0; i < HK_TC_N; i++)
        for (u = 2; u <= HK_CMAX; u++)
            if (h->tc[i].cache[u] &&
                hk__flush_class(h, &h->tc[i].cache[u], &h->tc[i].room[u], u) != HK_OK)
                rc = HK_ERR_HEAP_CORRUPT;
    /* and the depot's chains (a damaged one keeps what it could not give) */
    for (u = 2; u <= HK_CMAX; u++)
        for (i = 0; i < HK_DEP_N; i++) {
            uint8_t back = 0;
            if (!h->dep[u][i]) continue;
            if (hk__flush_class(h, &h->dep[u][i], &back, u) != HK_OK) rc = HK_ERR_HEAP_CORRUPT;
            h->depn[u][i] = h->dep[u][i] ? (uint8_t)(h->depn[u][i] - back) : 0;
        }
    return rc;
}

/* Take the cached block b out of its cache; 0 if it is not there (or the
 * cache is damaged before it). */
HK_NOSAN static int hk__uncache(hk__heap *h, hk__blk *b)
{
    hk__fblk *f, *prev = NULL;
    uint32_t u = HK_SZ(b);
    unsigned steps = 0;
    if (u > HK_CMAX) return 0;
    for (f = h->cache[u]; f && steps <= HK_CCAP; prev = f, f = f->next, steps++) {
        if (!hk__cok(h, f, u)) return 0;
        if (&f->h == b) {
            if (prev) hk__clink(h, prev, f->next);
            else h->cache[u] = f->next;
            h->croom[u]++;
            return 1;
        }
    }
    return 0;
}

/* A free block of at least u units, split to size, out of the lists; the
 * caller marks it busy.  Grows the commit, flushes the caches or adds a
 * region as needed.  *pr gets the block's region.  NULL: no memory, or
 * h->fail = HK_ERR_HEAP_CORRUPT when the block found (its header, its
 * successor's boundary tag or its list links) is damaged; then nothing has
 * changed. */
/* On a miss, flush the caches before adding a region only if a quarter
 * of the committed heap was taken since the last such flush.  A heap
 * that is nearly full (its caches park what the lists lack) otherwise
 * flushed every cache on almost every miss and refilled them at once:
 * two threads churning 64..1088 B on one heap of ~12 MiB spent ~1.7 us
 * per free + alloc in 8,600 flushes.  A heap that cannot grow still
 * flushes before it fails. */
HK_NOSAN static int hk__flush_due(const hk__heap *h)
{
    uint64_t com = 0;
    unsigned i;
    for (i = 0; i < h->nreg; i++) com += (uint64_t)(h->reg[i]->commit - h->reg[i]->base) / 16;
    return h->taken - h->flushed_at >= com / 4;
}

HK_NOSAN hk__blk *hk__take(hk__heap *h, uint32_t u, hk__region **pr)
{
    hk__blk *b, *n;
    hk__region *r = NULL;
    uint32_t bu;
    if (HK_UNLIKELY(!h->wleft--)) { h->wleft = HK_TRIM_EVERY; hk__tidy_all(h); }
    b = hk__find(h, u);
    if (!b) {
        unsigned i;
        int flushed = 0;
        for (i = 0; i < h->nreg && !b; i++) b = hk__grow(h, r = h->reg[i], u);
        if (!b && hk__flush_due(h)) {
            hk__flush(h);
            h->flushed_at = h->taken;
            flushed = 1;
            b = hk__find(h, u);
            r = NULL;
        }
        if (!b && (r = hk__region_new(h, u)) != NULL) b = r->first;
        if (!b && !flushed) { hk__flush(h); b = hk__find(h, u); r = NULL; }
        if (!b) return NULL;
    }
    if ((!r && !(r = hk__region_of(h, (uintptr_t)b))) || !HK_HALIGNED(b) ||
        !hk__ok(h, b) || !HK_TFREE(b) || (bu = HK_FSZ(b)) < u ||
        (char *)(n = (hk__blk *)((char *)b + (size_t)bu * 16)) > (char *)r->sent ||
        !hk__linked(h, b)) {
        h->fail = HK_ERR_HEAP_CORRUPT;
        return NULL;
    }
    if (n == r->sent && (char *)b + (size_t)u * 16 > r->hwm[0])
        r->hwm[0] = (char *)b + (size_t)u * 16;
    hk__rem(h, b);
    if (bu - u >= 2) {
        hk__blk *rest = (hk__blk *)((char *)b + (size_t)u * 16);
        hk__put(h, rest, (bu - u) << HK_SZ_SHIFT);   /* n keeps its PFREE */
        hk__ins(h, rest);
        bu = u;
    } else {
        hk__set_pfree(h, n, 0);
    }
    b->w = bu << HK_SZ_SHIFT;   /* for the caller's hk__set_busy */
    h->taken += bu;
    *pr = r;
    return b;
}

HK_NOSAN void *hk__alloc_small(hk__heap *h, size_t n, uint32_t ep)
{
    uint32_t u = hk__units_ep(n, ep);
    hk__region *r;
    hk__blk *b;
    if (HK_LIKELY(u <= HK_CMAX)) {
        hk__fblk *f = h->cache[u];
        /* A damaged cache is left as it is (validate reports it, a repair
         * makes it work again); the lists serve meanwhile. */
        if (HK_LIKELY(f != NULL) && HK_LIKELY(hk__cfast(h, f))) {
            h->cache[u] = f->next;
            h->croom[u]++;
            return hk__pop_busy(h, f, u, n, ep);
        }
    }
    if (!(b = hk__take(h, u, &r))) return NULL;
    (void)r;
    u = HK_SZ(b);
    hk__set_busy(h, b, u, n, ep);
    hk__san_busy(h, (char *)(b + 1), HK_HDR, n, (char *)b + (size_t)u * 16);
    return b + 1;
}

/* The busy small block whose user pointer is p, header intact, or NULL. */
HK_NOSAN hk__blk *hk__lookup(hk__heap *h, const void *p, hk__region **pr)
{
    uintptr_t a = (uintptr_t)p - HK_HDR;
    hk__region *r;
    hk__blk *b;
    if (!HK_HALIGNED(a) || !(r = hk__region_of(h, a))) return NULL;
    b = (hk__blk *)a;
    if ((b->w & (HK_BUSY | HK_SENT)) != HK_BUSY || !hk__ok(h, b) ||
        (char *)b + (size_t)HK_BSZ(b) * 16 > (char *)r->sent)
        return NULL;
    *pr = r;
    return b;
}

/* Free the busy block b (of u units) of region r: cache it or merge it.
 * An epoch tag is left behind with the rest of the block. */
HK_NOSAN int hk__free_blk(hk__heap *h, hk__region *r, hk__blk *b, uint32_t u)
{
    int rc;
    if (HK_LIKELY(u <= HK_CMAX) && HK_LIKELY(h->croom[u])) {
        hk__cache_push(h, b, u);
        hk__san_free(h, (char *)(b + 1), HK_HDR, (char *)b + (size_t)u * 16);
        return HK_OK;
    }
    rc = hk__coalesce(h, r, b, 1, NULL);
    if (rc == HK_OK) hk__san_free(h, (char *)(b + 1), HK_HDR, (char *)b + (size_t)u * 16);
    return rc;
}

HK_NOSAN static int hk__free_small(hk__heap *h, hk__region *r, hk__blk *b)
{
    return hk__free_blk(h, r, b, HK_SZ(b));
}

/* Give back what hk__create made before a region failed. */
HK_NOSAN static void hk__create_undo(hk__heap *h)
{
    unsigned i;
#ifdef HK_VG
    if (h->vg) VALGRIND_DESTROY_MEMPOOL(h);
#endif
    for (i = 1; i < h->nreg; i++)
        hk__unmap(h->reg[i]->base, (size_t)(h->reg[i]->end - h->reg[i]->base));
    HK_OS.sync_fini(&h->sync);
    hk__unmap(h->r0.base, (size_t)(h->r0.end - h->r0.base));
}

HK_NOSAN static int hk__create(unsigned flags, size_t initial, size_t maximum, void **out)
{
    size_t res, com, r0res, r0com, minc = hk__round(HK_HHDR + 64, HK_GRAN), climit;
    hk__heap *h;
    char *base;
    uint32_t u;
    static unsigned long seq;
    if (maximum) res = maximum > initial ? maximum : initial;
    else res = initial > HK_FIRST_RES ? initial : HK_FIRST_RES;
    /* A free block's size must fit its header's 27 bits, so a heap above
     * HK_MAX_REGION is reserved as several regions; at most all of them. */
    if ((res - 1) / HK_MAX_REGION >= HK_MAX_REGIONS) return HK_ERR_NO_MEMORY;
    res = hk__round(res, HK_GRAN);
    if (res < minc) res = minc;
    com = hk__round(initial ? initial : 1, HK_GRAN);
    if (com < minc) com = minc;
    if (com > res) com = res;
    /* What is committed up front must be chargeable (Windows' VirtualAlloc
     * would refuse it; a MAP_NORESERVE mprotect would not). */
    climit = HK_OS.commit_limit();
    if (com > climit) return HK_ERR_NO_MEMORY;
    r0res = res < HK_MAX_REGION ? res : HK_MAX_REGION;
    r0com = com < r0res ? com : r0res;
    if (!(base = HK_OS.reserve(r0res))) return HK_ERR_NO_MEMORY;
    if (HK_OS.commit(base, r0com)) { hk__unmap(base, r0res); return HK_ERR_NO_MEMORY; }
    h = (hk__heap *)base;   /* committed memory reads as zero */
    {
        uint64_t k = (uint64_t)(uintptr_t)h ^ ((uint64_t)(uintptr_t)&seq << 17)
                     ^ (uint64_t)__atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED) * HK_K2
                     ^ (uint64_t)(uintptr_t)out * HK_K1;
#if defined(__x86_64__) || defined(__i386__)
        k ^= (uint64_t)__builtin_ia32_rdtsc() << 23;
#endif
        k ^= k >> 29; k *= HK_K1; k ^= k >> 32;
        h->key = k;
        h->salt = (uint32_t)((k >> 40) & 0xFFFFF) | 1;
    }
    h->flags = flags & HK_HEAP_NO_SERIALIZE;
    h->fixed = maximum != 0;
    h->grow = HK_FIRST_RES * 2;
    h->climit = climit;
#ifdef HK_VG
    h->vg = RUNNING_ON_VALGRIND != 0;
    if (h->vg) VALGRIND_CREATE_MEMPOOL(h, 0, 0);
#endif
    if (HK_OS.sync_init(&h->sync)) { hk__unmap(base, r0res); return HK_ERR_NO_MEMORY; }
    for (u = 2; u <= HK_CMAX; u++) {
        size_t c = HK_CBYTES / ((size_t)u * 16);
        unsigned i;
        h->croom[u] = (uint8_t)(c > HK_CCAP ? HK_CCAP : c < 8 ? 8 : c);
        for (i = 0; i < HK_TC_N; i++) h->tc[i].room[u] = HK_TCCAP;
    }
    h->reg[0] = &h->r0;
    h->nreg = 1;
    hk__region_init(h, &h->r0, base, r0res, r0com, HK_HHDR, r0com);
    hk__rmap(h);
    /* The rest of the reservation as further regions, reserved now (a
     * fixed heap never grows); the initial commit goes on where region 0
     * ends, and a region past it commits one step for its header.  Each
     * keeps its initial commit (floor) and stays for the heap's life. */
    res -= r0res;
    com -= r0com;
    while (res) {
        size_t rr = res < HK_MAX_REGION ? res : HK_MAX_REGION;
        size_t rc = com < rr ? com : rr;
        if (rc < HK_GRAN) rc = HK_GRAN;
        if (!hk__region_add(h, rr, rc, rc)) {
            hk__create_undo(h);
            return HK_ERR_NO_MEMORY;
        }
        res -= rr;
        com -= com < rr ? com : rr;
    }
    h->npin = h->nreg;
    *out = h;
    return HK_OK;
}

HK_NOSAN static int hk__destroy(void *bh)
{
    hk__heap *h = bh;
    unsigned i;
    size_t j;
#ifdef HK_VG
    if (h->vg) VALGRIND_DESTROY_MEMPOOL(h);
#endif
    /* Through the table, not the list: a damaged header is skipped (its
     * mapping leaks) instead of being followed. */
    for (j = 0; j < h->lcap; j++) {
        hk__large *l = (hk__large *)h->ltab[j];
        if (l && l->check == hk__lchk(h, l)) hk__unmap(l, l->map);
    }
    if (h->ltab) hk__unmap(h->ltab, h->lcap * sizeof *h->ltab);
    hk__lc_clear(h);
    for (i = 1; i < h->nreg; i++)
        hk__unmap(h->reg[i]->base, (size_t)(h->reg[i]->end - h->reg[i]->base));
    HK_OS.sync_fini(&h->sync);
    hk__unmap(h->r0.base, (size_t)(h->r0.end - h->r0.base));
    return HK_OK;
}

HK_NOSAN static int hk__size(void *bh, unsigned flags, const void *p, size_t *n)
{
    hk__heap *h = bh;
    hk__region *r;
    hk__blk *b;
    hk__large *l;
    int rc = HK_OK, lk = hk__enter(h, flags);
    if ((b = hk__lookup(h, p, &r)) != NULL) *n = hk__bn(b);
    else if ((l = hk__llookup(h, p)) != NULL) *n = l->n;
    else rc = HK_ERR_INVALID_PARAMETER;
    hk__leave(h, lk);
    return rc;
}

/* Move a block: allocate n bytes anew (same epoch), copy, zero the growth
 * (not in a fresh large mapping, which is zero already). */
HK_NOSAN static void *hk__move(hk__heap *h, unsigned flags, void *p, size_t old, size_t n,
                      uint32_t epoch)
{
    void *q;
    h->fail = HK_ERR_NO_MEMORY;
    q = n < HK_LARGE_N ? hk__alloc_small(h, n, epoch) : hk__alloc_large(h, n, epoch);
    if (!q) return NULL;
    memcpy(q, p, old < n ? old : n);
    if ((flags & HK_HEAP_ZERO_MEMORY) && n > old)
        hk__zero_from(h, q, old, n);
    return q;
}

/* Undo a move whose old block could not be freed (damaged neighbours). */
HK_NOSAN static void hk__unmove(hk__heap *h, void *q)
{
    hk__region *r;
    hk__blk *b = hk__lookup(h, q, &r);
    hk__large *l;
    if (b) hk__free_blk(h, r, b, HK_SZ(b));
    else if ((l = hk__llookup(h, q)) != NULL && hk__large_nb_ok(h, l)) hk__free_large(h, l);
}

HK_NOSAN static int hk__realloc_small(hk__heap *h, unsigned flags, hk__region *r, hk__blk *b,
                             size_t n, void **out)
{
    uint32_t ou = HK_SZ(b), nu, ep = hk__epoch(h, b);
    size_t old = hk__bn(b);
    hk__blk *nx = HK_NEXT(b);
    void *p = b + 1, *q;
    int rc;
    if ((char *)nx > (char *)r->sent || !hk__nb(h, nx, 0) || ep == (uint32_t)-1)
        return HK_ERR_HEAP_CORRUPT;
    if (n >= HK_LARGE_N) goto move;   /* never becomes large in place */
    nu = hk__units_ep(n, ep);
    if (nu <= ou) {
        if (ou - nu >= 2) {
            /* The rest merges with a free successor: check its successor
             * and list links first, so that nothing changes on damage (the
             * other paths check before they change anything, and a move
             * that cannot free b is undone). */
            hk__blk *rest = (hk__blk *)((char *)b + (size_t)nu * 16);
            if (HK_TFREE(nx) &&
                ((char *)HK_NEXT(nx) > (char *)r->sent || !hk__linked(h, nx)))
                return HK_ERR_HEAP_CORRUPT;
            hk__put(h, rest, (ou - nu) << HK_SZ_SHIFT | HK_BUSY);   /* merged next */
            hk__set_busy(h, b, nu, n, ep);
            hk__coalesce(h, r, rest, 1, NULL);
        } else {
            hk__set_busy(h, b, ou, n, ep);
        }
        goto in_place;
    }
    /* Grow into the next block: take it out of its cache, extend the commit
     * when the free run reaches the sentinel. */
    if (HK_ISCACHED(nx) && hk__uncache(h, nx)) {
        if (hk__coalesce(h, r, nx, 0, NULL) != HK_OK)
            hk__cache_push(h, nx, HK_SZ(nx));   /* damaged beyond: put it back */
        nx = HK_NEXT(b);
    }
    if (HK_TFREE(nx) ? ou + HK_SZ(nx) < nu && HK_NEXT(nx) == r->sent : nx == r->sent) {
        hk__grow(h, r, nu - ou);
        nx = HK_NEXT(b);
    }
    if (HK_TFREE(nx) && ou + HK_SZ(nx) >= nu) {
        uint32_t total = ou + HK_SZ(nx);
        hk__blk *nn = HK_NEXT(nx);
        if ((char *)nn > (char *)r->sent || !hk__linked(h, nx))
            return HK_ERR_HEAP_CORRUPT;
        hk__rem(h, nx);
        nx->w = HK_DEAD;
        if (nn == r->sent && (char *)b + (size_t)nu * 16 > r->hwm[0])
            r->hwm[0] = (char *)b + (size_t)nu * 16;
        if (total - nu >= 2) {
            hk__blk *rest = (hk__blk *)((char *)b + (size_t)nu * 16);
            hk__put(h, rest, (total - nu) << HK_SZ_SHIFT);   /* nn keeps its PFREE */
            hk__ins(h, rest);
        } else {
            hk__set_pfree(h, nn, 0);
            nu = total;
        }
        hk__set_busy(h, b, nu, n, ep);
        goto in_place;
    }
move:
    if (flags & HK_HEAP_REALLOC_IN_PLACE_ONLY) return HK_ERR_NO_MEMORY;
    if (!(q = hk__move(h, flags, p, old, n, ep))) return h->fail;
    if ((rc = hk__free_small(h, r, b)) != HK_OK) {
        hk__unmove(h, q);   /* b stays as it was */
        return rc;
    }
    *out = q;
    return HK_OK;
in_place:
    hk__san_resize(h, p, HK_HDR, old, n, (char *)b + (size_t)(ou > HK_SZ(b) ? ou : HK_SZ(b)) * 16);
    if ((flags & HK_HEAP_ZERO_MEMORY) && n > old) memset((char *)p + old, 0, n - old);
    *out = p;
    return HK_OK;
}

HK_NOSAN static int hk__realloc(void *bh, unsigned flags, void *p, size_t n, void **out)
{
    hk__heap *h = bh;
    hk__region *r;
    hk__blk *b;
    hk__large *l;
    int rc, lk = hk__enter(h, flags);
    if ((b = hk__lookup(h, p, &r)) != NULL) {
        rc = hk__realloc_small(h, flags, r, b, n, out);
    } else if ((l = hk__llookup(h, p)) != NULL) {
        size_t old = l->n;
        rc = HK_OK;
        if (n <= l->map - HK_LHDR && (n >= HK_LARGE_N || (flags & HK_HEAP_REALLOC_IN_PLACE_ONLY))) {
            hk__san_resize(h, p, HK_LHDR, old, n, (char *)l + l->map);
            if ((flags & HK_HEAP_ZERO_MEMORY) && n > old) memset((char *)p + old, 0, n - old);
            l->n = n;
            l->check = hk__lchk(h, l);
            *out = p;
        } else if (flags & HK_HEAP_REALLOC_IN_PLACE_ONLY) {
            rc = HK_ERR_NO_MEMORY;
        } else if (!hk__large_nb_ok(h, l)) {
            rc = HK_ERR_HEAP_CORRUPT;
        } else {
            void *q = hk__move(h, flags, p, old, n, l->epoch);
            if (q) {
                hk__free_large(h, l);   /* after the move: l may be the tail */
                *out = q;
            } else {
                rc = h->fail;
            }
        }
    } else {
        rc = HK_ERR_INVALID_PARAMETER;
    }
    hk__leave(h, lk);
    return rc;
}

/* Check region r block by block; *nfree counts listed free blocks. */
HK_NOSAN static int hk__check_region(hk__heap *h, hk__region *r, size_t *nfree)
{
    hk__blk *b = r->first, *s = r->sent;
    uint32_t prev = 0;   /* size of the previous block if listed free */
    if ((char *)s < (char *)r->first || (char *)s + HK_HDR != r->commit || !hk__ok(h, s) ||
        (s->w & ~HK_PFREE) != (HK_SENT | HK_BUSY))
        return HK_ERR_HEAP_CORRUPT;
    for (;; b = HK_NEXT(b)) {
        uint32_t u;
        /* PFREE says whether the previous block is listed free, and then
         * its footer (the 8 bytes before b) gives its size */
        if (!hk__ok(h, b) || !(b->w & HK_PFREE) != !prev ||
            (prev && ((const uint64_t *)(const void *)b)[-1] != prev))
            return HK_ERR_HEAP_CORRUPT;
        if (b == s) return HK_OK;
        u = HK_SZ(b);
        if ((char *)b + 32 > (char *)s || (b->w & HK_SENT) || u < 2 ||
            (char *)HK_NEXT(b) > (char *)s)
            return HK_ERR_HEAP_CORRUPT;
        prev = 0;
        if (b->w & HK_BUSY) {
            if (hk__bn(b) > (size_t)u * 16 || (b->w >> (HK_SL_SHIFT + 6)) ||
                hk__epoch(h, b) == (uint32_t)-1)
                return HK_ERR_HEAP_CORRUPT;
        } else if (HK_TFREE(b)) {
            if (b->w & HK_PFREE) return HK_ERR_HEAP_CORRUPT;   /* not coalesced */
            prev = u;
            ++*nfree;
        } else if ((b->w & ~HK_PFREE) != (u << HK_SZ_SHIFT | HK_CACHED)) {
            return HK_ERR_HEAP_CORRUPT;
        }
    }
}

HK_NOSAN int hk__check_heap(hk__heap *h)
{
    size_t nfree = 0, seen = 0, nl = 0;
    unsigned i, fl, sl;
    uint32_t u;
    hk__large *l, *pl = NULL;
    int rc;
    for (i = 0; i < h->nreg; i++)
        if ((rc = hk__check_region(h, h->reg[i], &nfree)) != HK_OK) return rc;
    for (fl = 0; fl < HK_FL_N; fl++) {
        for (sl = 0; sl < HK_SL_N; sl++) {
            hk__fblk *f = h->lists[fl][sl], *pf = NULL;
            if (!f != !((h->slmap[fl] >> sl) & 1)) return HK_ERR_HEAP_CORRUPT;
            for (; f; pf = f, f = f->next) {
                unsigned a, c;
                if (++seen > nfree || !HK_HALIGNED(f) || !hk__region_of(h, (uintptr_t)f) ||
                    !HK_TFREE(&f->h) || !hk__ok(h, &f->h) || f->prev != pf)
                    return HK_ERR_HEAP_CORRUPT;
                hk__map(HK_SZ(&f->h), &a, &c);
                if (a != fl || c != sl) return HK_ERR_HEAP_CORRUPT;
            }
        }
        if (!h->slmap[fl] != !((h->flmap >> fl) & 1)) return HK_ERR_HEAP_CORRUPT;
    }
    if (seen != nfree) return HK_ERR_HEAP_CORRUPT;
    for (u = 2, seen = 0; u <= HK_CMAX; u++) {
        hk__fblk *f = h->cache[u];
        unsigned k = 0;
        for (; f; f = f->next) {
            if (++k > HK_CCAP || !HK_HALIGNED(f) || !hk__region_of(h, (uintptr_t)f) ||
                !hk__cok(h, f, u))
                return HK_ERR_HEAP_CORRUPT;
        }
        seen += k;
    }
    for (i = 0; i < HK_TC_N; i++) {
        for (u = 2; u <= HK_CMAX; u++) {
            hk__fblk *f = h->tc[i].cache[u];
            unsigned k = 0;
            for (; f; f = f->next)
                if (++k > HK_TCCAP || !HK_HALIGNED(f) || !hk__region_of(h, (uintptr_t)f) ||
                    !hk__cok(h, f, u))
                    return HK_ERR_HEAP_CORRUPT;
        }
    }
    for (u = 2; u <= HK_CMAX; u++) {
        for (i = 0; i < HK_DEP_N; i++) {
            hk__fblk *f = h->dep[u][i];
            unsigned k = 0;
            for (; f; f = f->next)
                if (++k > h->depn[u][i] || !HK_HALIGNED(f) || !hk__region_of(h, (uintptr_t)f) ||
                    !hk__cok(h, f, u))
                    return HK_ERR_HEAP_CORRUPT;
            if (k != h->depn[u][i]) return HK_ERR_HEAP_CORRUPT;
        }
    }
    for (l = h->lhead; l; pl = l, l = l->next) {
        if (++nl > h->lcount || hk__ltab_find(h, (uintptr_t)l) == (size_t)-1 ||
            l->check != hk__lchk(h, l) || l->prev != pl)
            return HK_ERR_HEAP_CORRUPT;
    }
    return nl == h->lcount && pl == h->ltail ? HK_OK : HK_ERR_HEAP_CORRUPT;
}

HK_NOSAN static int hk__validate(void *bh, unsigned flags, const void *p)
{
    hk__heap *h = bh;
    hk__region *r;
    hk__blk *b;
    uintptr_t a = (uintptr_t)p - HK_HDR;
    int rc = HK_OK, lk = hk__enter(h, flags);
    if (!p) {
        rc = hk__check_heap(h);
    } else if ((b = hk__lookup(h, p, &r)) != NULL) {
        if (hk__epoch(h, b) == (uint32_t)-1) rc = HK_ERR_HEAP_CORRUPT;
    } else if (!hk__llookup(h, p)) {
        /* Not a live block: a damaged header, or no block start at all?  Walk
         * the region up to p to tell (failure path only). */
        rc = HK_ERR_INVALID_PARAMETER;
        if (HK_HALIGNED(a) && (r = hk__region_of(h, a)) != NULL) {
            b = r->first;
            while ((uintptr_t)b < a) {
                if (!hk__ok(h, b) || HK_SZ(b) < 2 || (char *)HK_NEXT(b) > (char *)r->sent) {
                    rc = HK_ERR_HEAP_CORRUPT;
                    break;
                }
                b = HK_NEXT(b);
            }
            if ((uintptr_t)b == a && !hk__ok(h, b)) rc = HK_ERR_HEAP_CORRUPT;
        }
    }
    hk__leave(h, lk);
    return rc;
}

HK_NOSAN static int hk__compact(void *bh, unsigned flags, size_t *largest)
{
    hk__heap *h = bh;
    size_t best = 0;
    int lk = hk__enter(h, flags), rc = hk__flush(h);
    unsigned i;
    /* Compaction gives memory back: cached large mappings, free tails past
     * the margin, and the pages inside free blocks. */
    hk__lc_clear(h);
    if (rc == HK_OK) {
        hk__tidy_all(h);
        for (i = 0; i < h->nreg; i++) hk__reset_region(h, h->reg[i]);
    }
    if (rc == HK_OK && h->flmap) {
        unsigned fl = 31u - (unsigned)__builtin_clz(h->flmap);
        unsigned sl = h->slmap[fl] ? 31u - (unsigned)__builtin_clz(h->slmap[fl]) : 0;
        const hk__fblk *f, *pf = NULL;
        /* The largest class's list, each link checked before it is followed
         * (the back-link check also ends a cycle). */
        for (f = h->lists[fl][sl]; f; pf = f, f = f->next) {
            if (!hk__fok(h, f) || f->prev != pf) {
                rc = HK_ERR_HEAP_CORRUPT;
                break;
            }
            if ((size_t)HK_SZ(&f->h) * 16 - 32 > best) best = (size_t)HK_SZ(&f->h) * 16 - 32;
        }
    }
    hk__leave(h, lk);
    *largest = best;
    return rc;
}

HK_NOSAN static int hk__lock(void *bh)
{
    hk__heap *h = bh;
    if (!(h->flags & HK_HEAP_NO_SERIALIZE)) hk__enter(h, 0);
    return HK_OK;
}

HK_NOSAN static int hk__unlock(void *bh)
{
    hk__heap *h = bh;
    uintptr_t me;
    if (h->flags & HK_HEAP_NO_SERIALIZE) return HK_OK;
    me = hk__arena_tid();
    if (__atomic_load_n(&h->bias_tid, __ATOMIC_RELAXED) == me && h->bias_depth) hk__leave(h, 1);
    else if (__atomic_load_n(&h->owner, __ATOMIC_RELAXED) == me && h->depth) hk__leave(h, 2);
    else return HK_ERR_INVALID_PARAMETER;
    return HK_OK;
}

#ifdef HK_VG
#define HK_VG_WRAP(name, inner, params, args)                                    \
    static int hk__vg_##name params                                        \
    {                                                                       \
        hk__heap *h = bh;                                                   \
        int v = h->vg, rc;                                                  \
        HK_VG_IN(h);                                                        \
        rc = inner args;                                                    \
        HK_VG_OUT(v);                                                       \
        return rc;                                                          \
    }
HK_VG_WRAP(destroy, hk__destroy, (void *bh), (bh))
HK_VG_WRAP(alloc, hk__arena_alloc, (void *bh, unsigned f, size_t n, void **out), (bh, f, n, out))
HK_VG_WRAP(realloc, hk__realloc, (void *bh, unsigned f, void *p, size_t n, void **out), (bh, f, p, n, out))
HK_VG_WRAP(free, hk__arena_free, (void *bh, unsigned f, void *p), (bh, f, p))
HK_VG_WRAP(size, hk__size, (void *bh, unsigned f, const void *p, size_t *n), (bh, f, p, n))
HK_VG_WRAP(validate, hk__validate, (void *bh, unsigned f, const void *p), (bh, f, p))
HK_VG_WRAP(compact, hk__compact, (void *bh, unsigned f, size_t *largest), (bh, f, largest))
HK_VG_WRAP(walk, hk__arena_walk, (void *bh, hk_heap_entry *e), (bh, e))
HK_VG_WRAP(visit, hk__arena_visit, (void *bh, hk_visit_fn fn, void *arg), (bh, fn, arg))
HK_VG_WRAP(mark, hk__arena_mark, (void *bh, uintptr_t *m), (bh, m))
HK_VG_WRAP(release, hk__arena_release, (void *bh, uintptr_t m), (bh, m))
#  define HK_M(name, inner) hk__vg_##name
#else
#  define HK_M(name, inner) inner
#endif

const hk_backend hk__backend_arena = {
    HK_BACKEND_VERSION,
    "arena",
    HK_CAP_WALK_FREE | HK_CAP_WALK_UNCOMMITTED | HK_CAP_WALK_ITERATE |
        HK_CAP_FIXED_SIZE | HK_CAP_REALLOC_IN_PLACE | HK_CAP_ANY_THREAD |
        HK_CAP_VALIDATE | HK_CAP_MARK_RELEASE,
    hk__create,
    HK_M(destroy, hk__destroy),
    HK_M(alloc, hk__arena_alloc),
    HK_M(realloc, hk__realloc),
    HK_M(free, hk__arena_free),
    HK_M(size, hk__size),
    HK_M(validate, hk__validate),
    HK_M(compact, hk__compact),
    hk__lock,
    hk__unlock,
    HK_M(walk, hk__arena_walk),
    HK_M(visit, hk__arena_visit),
    HK_M(mark, hk__arena_mark),
    HK_M(release, hk__arena_release),
    NULL,
    NULL,
    hk__arena_fast_alloc,
    hk__arena_fast_free
};
