/*
 * walk.c - the arena's heap walk: the HeapWalk-style iterator and the
 * visitor.
 */
#include "arena.h"

/* How far ahead of the block being read the walks prefetch. */
#define HK_WALK_AHEAD 2048

/* ---- Walk --------------------------------------------------------------- */
HK_NOSAN static void hk__e_region(const hk__heap *h, unsigned ri, hk_heap_entry *e)
{
    const hk__region *r = h->reg[ri];
    e->data = r->base;
    e->size = (size_t)((char *)r->first - r->base);
    e->overhead = 0;
    e->region_index = (unsigned short)ri;
    e->flags = HK_ENTRY_REGION;
    e->u.region.committed = (size_t)(r->commit - r->base);
    e->u.region.uncommitted = (size_t)(r->end - r->commit);
    e->u.region.first_block = r->first;
    e->u.region.last_block = r->end;
    e->walk_state[0] = (uintptr_t)r->first;
    e->walk_state[1] = ri;
}

HK_NOSAN static int hk__e_large(const hk__heap *h, const hk__large *l, hk_heap_entry *e)
{
    e->data = (char *)l + HK_LHDR;
    e->size = l->n;
    e->overhead = 0;
    e->region_index = HK_LARGE_INDEX;
    e->flags = HK_ENTRY_BUSY;
    memset(&e->u, 0, sizeof e->u);
    e->walk_state[0] = (uintptr_t)l;
    e->walk_state[1] = ~(uintptr_t)0;
    return l->check == hk__lchk(h, l) ? HK_OK : HK_ERR_HEAP_CORRUPT;
}

/* Entry for position b of region ri (a block or the sentinel), checked;
 * pfu: the size of the block before it if that one is listed free (0: it
 * is not, or b is the first), which b's PFREE flag and footer must agree
 * with.  b's word is read once (*wo gets it, for the caller's next step):
 * the entry's stores may alias it as far as the compiler knows. */
HK_NOSAN static HK_HOT int hk__e_blk(const hk__heap *h, unsigned ri, const hk__region *r,
                                     const hk__blk *b, uint32_t pfu, hk_heap_entry *e,
                                     uint32_t *wo, int clear)
{
    uint32_t w = b->w, u = hk__wsz(w);
    int bad = b->check != hk__chkv(h, b, w) || !(w & HK_PFREE) != !pfu ||
              (pfu && ((const uint64_t *)(const void *)b)[-1] != pfu);
    *wo = w;
    if (clear) memset(&e->u, 0, sizeof e->u);
    e->region_index = (unsigned short)ri;
    e->walk_state[0] = (uintptr_t)b;
    e->walk_state[1] = ri;
    if (bad) return HK_ERR_HEAP_CORRUPT;
    if (b == r->sent) {
        e->data = r->commit;
        e->size = (size_t)(r->end - r->commit);
        e->overhead = 0;
        e->flags = HK_ENTRY_UNCOMMITTED;
        return HK_OK;
    }
    if ((w & HK_SENT) || u < 2 || (const char *)b + (size_t)u * 16 > (const char *)r->sent)
        return HK_ERR_HEAP_CORRUPT;
    if (w & HK_BUSY) {
        size_t n = (size_t)u * 16 - HK_HDR - ((w >> HK_SL_SHIFT) & 63u) -
                   ((w & HK_EP) ? HK_ETAG : 0);   /* hk__bn */
        e->data = (char *)(b + 1);
        e->size = n;
        e->overhead = (size_t)u * 16 - n;
        e->flags = HK_ENTRY_BUSY;
    } else {
        /* after the header and the two links (16-byte aligned); the
         * overhead counts those and the footer */
        uintptr_t lo, hi;
        e->data = (char *)b + HK_FREE_OFF;
        e->size = (size_t)u * 16 - 32;
        e->overhead = 32;
        if (u >= HK_GONE_MIN && hk__gone(h, b, &lo, &hi)) {
            /* pages given back: the footer is in the last part's size */
            e->size = lo - (uintptr_t)e->data;
            e->overhead = HK_FREE_OFF;
        }
        e->flags = HK_ENTRY_FREE;
    }
    return HK_OK;
}

/* The same for the iterator: any entry may come before (clear u). */
HK_NOSAN static int hk__e_block(const hk__heap *h, unsigned ri, const hk__blk *b, uint32_t pfu,
                                hk_heap_entry *e, uint32_t *wo)
{
    return hk__e_blk(h, ri, h->reg[ri], b, pfu, e, wo, 1);
}

/* The pfu of hk__e_block for the block after one whose word is w. */
#define HK_PFU(w) (((w) & 31u) == 0 ? hk__wsz(w) : 0u)

/* The parts of free block b (region ri) after its first entry, when
 * hk_compact gave pages of it back: part 1, the span [lo, hi)
 * UNCOMMITTED; part 2, the rest [hi, end) FREE.  Their position is the
 * block (walk_state[0]), checked again at the next step. */
HK_NOSAN static void hk__e_part(unsigned ri, const hk__blk *b, int part, uintptr_t lo,
                                uintptr_t hi, hk_heap_entry *e)
{
    memset(&e->u, 0, sizeof e->u);
    e->region_index = (unsigned short)ri;
    e->walk_state[0] = (uintptr_t)b;
    e->walk_state[1] = ri;
    e->overhead = 0;
    if (part == 1) {
        e->data = (void *)lo;
        e->size = hi - lo;
        e->flags = HK_ENTRY_UNCOMMITTED;
    } else {
        e->data = (void *)hi;
        e->size = (uintptr_t)HK_NEXT(b) - hi;
        e->flags = HK_ENTRY_FREE;
    }
}

/* walk_state[0] of an entry names a free block of a region with pages
 * given back (its region in *ri, its span in *lo, *hi): checked before
 * anything at it is read beyond the header. */
HK_NOSAN static int hk__part_owner(const hk__heap *h, const hk_heap_entry *e, unsigned *ri,
                                   uintptr_t *lo, uintptr_t *hi)
{
    uintptr_t a = e->walk_state[0];
    const hk__blk *b = (const hk__blk *)a;
    int i = !HK_HALIGNED(a) ? -1 : hk__region_index(h, a, e->walk_state[1]);
    if (i < 0 || !hk__ok(h, b) || !HK_TFREE(b) || HK_SZ(b) < HK_GONE_MIN ||
        (char *)HK_NEXT(b) > (char *)h->reg[i]->sent || !hk__gone(h, b, lo, hi))
        return 0;
    *ri = (unsigned)i;
    return 1;
}

/* What follows part `part` (0: the first entry) of free block b. */
HK_NOSAN static int hk__after_part(const hk__heap *h, unsigned ri, const hk__blk *b, int part,
                                   uintptr_t lo, uintptr_t hi, hk_heap_entry *e)
{
    uint32_t w;
    if (part == 0 || (part == 1 && hi < (uintptr_t)HK_NEXT(b))) {
        hk__e_part(ri, b, part + 1, lo, hi, e);
        return HK_OK;
    }
    return hk__e_block(h, ri, HK_NEXT(b), HK_PFU(b->w), e, &w);
}

HK_NOSAN static int hk__after_region(const hk__heap *h, unsigned ri, hk_heap_entry *e)
{
    if (ri + 1 < h->nreg) { hk__e_region(h, ri + 1, e); return HK_OK; }
    if (h->lhead) return hk__e_large(h, h->lhead, e);
    return HK_ERR_NO_MORE_ITEMS;
}

HK_NOSAN static int hk__walk_step(hk__heap *h, hk_heap_entry *e)
{
    uintptr_t a = (uintptr_t)e->data;
    unsigned i;
    uint32_t w;
    if (!a) {
        hk__flush(h);
        hk__e_region(h, 0, e);
        return HK_OK;
    }
    switch (e->flags) {
    case HK_ENTRY_REGION:
        for (i = 0; i < h->nreg; i++)
            if ((uintptr_t)h->reg[i]->base == a)
                return hk__e_block(h, i, h->reg[i]->first, 0, e, &w);
        return HK_ERR_INVALID_PARAMETER;
    case HK_ENTRY_BUSY:
    case HK_ENTRY_FREE: {
        uintptr_t off = e->flags == HK_ENTRY_BUSY ? HK_HDR : HK_FREE_OFF, lo, hi;
        int ri;
        if (off == HK_FREE_OFF && e->walk_state[0] != a - off && hk__part_owner(h, e, &i, &lo, &hi) &&
            a == hi)   /* the free rest after a given-back span */
            return hk__after_part(h, i, (const hk__blk *)e->walk_state[0], 2, lo, hi, e);
        /* the entry's own region, inline; any other by the scan */
        i = (unsigned)e->walk_state[1];
        ri = (a & 15) ? -1 : i < h->nreg && hk__in(h->reg[i], a - off) ? (int)i
                                  : hk__region_index(h, a - off, e->walk_state[1]);
        if (ri >= 0) {
            const hk__blk *b = (const hk__blk *)(a - off);
            uint32_t u;
            __builtin_prefetch((const char *)b + HK_WALK_AHEAD, 0, 3);   /* see hk__arena_visit */
            w = b->w;
            u = hk__wsz(w);
            if (b->check != hk__chkv(h, b, w) || (w & HK_SENT) ||
                !(w & HK_BUSY) != (off == HK_FREE_OFF) || u < 2 ||
                (const char *)b + (size_t)u * 16 > (const char *)h->reg[ri]->sent)
                return HK_ERR_INVALID_PARAMETER;
            if (off == HK_FREE_OFF && u >= HK_GONE_MIN && hk__gone(h, b, &lo, &hi))
                return hk__after_part(h, (unsigned)ri, b, 0, lo, hi, e);
            return hk__e_block(h, (unsigned)ri, (const hk__blk *)((const char *)b + (size_t)u * 16),
                               HK_PFU(w), e, &w);
        }
        if (off == HK_HDR) {
            const hk__large *l = hk__llookup(h, (void *)a);
            if (l) {
                if (!l->next) return HK_ERR_NO_MORE_ITEMS;
                return hk__e_large(h, l->next, e);
            }
        }
        return HK_ERR_INVALID_PARAMETER;
    }
    case HK_ENTRY_UNCOMMITTED: {
        uintptr_t lo, hi;
        for (i = 0; i < h->nreg; i++)
            if ((uintptr_t)h->reg[i]->commit == a) return hk__after_region(h, i, e);
        if (hk__part_owner(h, e, &i, &lo, &hi) && a == lo)   /* given back by compact */
            return hk__after_part(h, i, (const hk__blk *)e->walk_state[0], 1, lo, hi, e);
        return HK_ERR_INVALID_PARAMETER;
    }
    default:
        return HK_ERR_INVALID_PARAMETER;
    }
}

HK_NOSAN int hk__arena_walk(void *bh, hk_heap_entry *e)
{
    hk__heap *h = bh;
    int lk = hk__enter(h, h->flags), rc = hk__walk_step(h, e);
    hk__leave(h, lk);
    return rc;
}

HK_NOSAN int hk__arena_visit(void *bh, hk_visit_fn fn, void *arg)
{
    hk__heap *h = bh;
    hk_heap_entry e;
    const hk__large *l;
    unsigned ri;
    int rc = HK_OK, lk = hk__enter(h, h->flags);
    hk__flush(h);
    memset(&e, 0, sizeof e);
    for (ri = 0; ri < h->nreg; ri++) {
        const hk__region *r = h->reg[ri];
        const hk__blk *b = r->first;
        uint32_t pfu = 0, w;
        int clear = 1;   /* e.u holds a region's or a part's fields */
        hk__e_region(h, ri, &e);
        if (fn(&e, arg)) goto out;
        for (;;) {
            uintptr_t lo, hi;
            const hk__blk *n;
            /* headers are read one after another, each address from the
             * last one's size: ask for the memory a few lines ahead (past
             * the region's end it is a hint the CPU drops) */
            __builtin_prefetch((const char *)b + HK_WALK_AHEAD, 0, 3);
            if ((rc = hk__e_blk(h, ri, r, b, pfu, &e, &w, clear)) != HK_OK) goto out;
            clear = 0;
            if (fn(&e, arg)) goto out;
            if (b == r->sent) break;
            n = (const hk__blk *)((const char *)b + (size_t)hk__wsz(w) * 16);
            if (e.flags == HK_ENTRY_FREE && hk__wsz(w) >= HK_GONE_MIN && hk__gone(h, b, &lo, &hi)) {
                hk__e_part(ri, b, 1, lo, hi, &e);
                if (fn(&e, arg)) goto out;
                if (hi < (uintptr_t)n) {
                    hk__e_part(ri, b, 2, lo, hi, &e);
                    if (fn(&e, arg)) goto out;
                }
                clear = 1;
            }
            pfu = HK_PFU(w);
            b = n;
        }
    }
    for (l = h->lhead; l; l = l->next) {
        if ((rc = hk__e_large(h, l, &e)) != HK_OK) break;
        if (fn(&e, arg)) break;
    }
out:
    hk__leave(h, lk);
    return rc;
}
