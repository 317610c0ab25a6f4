/*
 * region.c - the arena's regions: the region map, layout, commit growth,
 * trimming of free tails with hysteresis, and giving free pages back.
 */
#include "arena.h"

/* ---- Regions ------------------------------------------------------------ */
/* b, a listed free block with a checked header, may be unlinked: its list
 * neighbours are valid free blocks that link back to it, or it heads the
 * list of its class (the classic safe-unlink check). */
HK_NOSAN int hk__linked(hk__heap *h, const hk__blk *b)
{
    const hk__fblk *f = (const hk__fblk *)b;
    unsigned fl, sl;
    if (f->next && (!hk__fok(h, f->next) || f->next->prev != f)) return 0;
    if (f->prev) return hk__fok(h, f->prev) && f->prev->next == f;
    hk__map(HK_FSZ(b), &fl, &sl);
    return fl < HK_FL_N && h->lists[fl][sl] == f;
}

/* Rebuild the map of 4 MiB chunks to regions: two slots per chunk, as a
 * region boundary inside a chunk puts two regions there (the old one-slot,
 * first-come map sent ~40% of frees to a scan).  A third region in a slot
 * pair sets rmap_full, and only then may a lookup scan. */
HK_NOSAN void hk__rmap(hk__heap *h)
{
    unsigned i, k;
    hk__region *none = &h->rnone;   /* first == sent: hk__in is never true */
    memset(none, 0, sizeof *none);
    for (k = 0; k < HK_RMAP_N; k++) h->rmap[k][0] = h->rmap[k][1] = none;
    h->rmap_full = 0;
    for (i = 0; i < h->nreg; i++) {
        uintptr_t c = (uintptr_t)h->reg[i]->base >> HK_RMAP_SHIFT;
        uintptr_t e = ((uintptr_t)h->reg[i]->end - 1) >> HK_RMAP_SHIFT;
        for (k = 0; c <= e && k < HK_RMAP_N; c++, k++) {
            hk__region **m = h->rmap[c & (HK_RMAP_N - 1)];
            if (m[0] == none) m[0] = h->reg[i];
            else if (m[1] == none) m[1] = h->reg[i];
            else h->rmap_full = 1;
        }
        if (c <= e) h->rmap_full = 1;   /* wider than the map: aliases */
    }
}

HK_NOSAN int hk__region_index(const hk__heap *h, uintptr_t b, uintptr_t hint)
{
    unsigned i;
    if (hint < h->nreg && hk__in(h->reg[hint], b)) return (int)hint;
    for (i = 0; i < h->nreg; i++)
        if (hk__in(h->reg[i], b)) return (int)i;
    return -1;
}

/* Make b, a free block (after a busy one, or the first), the last one of
 * region r, ending at a fresh busy sentinel s (a header of size 0) at the
 * commit edge, and list it free.  Region setup, commit growth and tail
 * trimming all end this way. */
HK_NOSAN static void hk__set_tail(hk__heap *h, hk__region *r, hk__blk *b, hk__blk *s)
{
    hk__put(h, b, (uint32_t)(((char *)s - (char *)b) >> 4) << HK_SZ_SHIFT);
    hk__put(h, s, HK_SENT | HK_BUSY | HK_PFREE);
    hk__ins(h, b);
    r->sent = s;
}

/* Lay out [first, commit) as one free block and the sentinel. */
HK_NOSAN void hk__region_init(hk__heap *h, hk__region *r, char *base, size_t res,
                           size_t com, size_t hdr, size_t floor)
{
    hk__blk *b = (hk__blk *)(base + hdr + HK_HDR), *s = (hk__blk *)(base + com - HK_HDR);
    r->base = base;
    r->end = base + res;
    r->commit = base + com;
    r->floor = base + floor;
    r->first = b;
    hk__set_tail(h, r, b, s);
    hk__san_none(h, b, com - hdr);
}

HK_NOSAN static void hk__region_drop(hk__heap *h, hk__region *r)
{
    unsigned i, j;
    for (i = h->npin; i < h->nreg; i++) {
        if (h->reg[i] != r) continue;
        hk__rem(h, r->first);
        for (j = i; j + 1 < h->nreg; j++) h->reg[j] = h->reg[j + 1];
        h->nreg--;
        hk__rmap(h);
        hk__unmap(r->base, (size_t)(r->end - r->base));
        return;
    }
}

/* r came with the heap (its maximum or initial size): it stays. */
HK_NOSAN static int hk__pinned(const hk__heap *h, const hk__region *r)
{
    unsigned i;
    for (i = 0; i < h->npin; i++)
        if (h->reg[i] == r) return 1;
    return 0;
}

/* b is the free block just before r's sentinel: give an empty extra region
 * back (keeping one spare), or decommit a free tail past the margin.
 * Hysteresis: never below what the tail was used up to in the last two
 * windows of HK_TRIM_EVERY slow operations, and only by HK_TRIM_HYST or
 * more, so a loop that fills and empties the heap keeps its commit. */
HK_NOSAN void hk__tidy(hk__heap *h, hk__region *r, hk__blk *b)
{
    char *keep;
    if (!hk__linked(h, b)) return;   /* damaged neighbour: leave it alone */
    if (b == r->first && h->nreg > h->npin + 1 && !r->hwm[0] && !r->hwm[1] && !hk__pinned(h, r)) {
        hk__region_drop(h, r);
        return;
    }
    keep = (char *)b + 32 + HK_TRIM_MARGIN + 16;
    if (keep < r->hwm[0]) keep = r->hwm[0];
    if (keep < r->hwm[1]) keep = r->hwm[1];
    keep = (char *)hk__round((uintptr_t)keep, HK_GRAN);
    if (keep < r->floor) keep = r->floor;
    if (keep >= r->commit || (size_t)(r->commit - keep) < HK_TRIM_HYST) return;
    hk__rem(h, b);
    hk__set_tail(h, r, b, (hk__blk *)(keep - HK_HDR));
    HK_OS.decommit(keep, (size_t)(r->commit - keep));
    r->commit = keep;
}

/* Start a new high-water window and tidy every region whose last block is
 * free (newest first, so dropping one does not skip another). */
HK_NOSAN void hk__tidy_all(hk__heap *h)
{
    unsigned i;
    if (!h->lcused) hk__lc_clear(h);
    h->lcused = 0;
    for (i = h->nreg; i-- > 0;) {
        hk__region *r = h->reg[i];
        r->hwm[1] = r->hwm[0];
        r->hwm[0] = NULL;
    }
    for (i = h->nreg; i-- > 0;) {
        hk__region *r = h->reg[i];
        hk__blk *s = r->sent, *last;
        if (hk__ok(h, s) && (s->w & HK_PFREE) && (last = hk__pred(h, r, s)) != NULL)
            hk__tidy(h, r, last);
    }
}

/* Make the free tail of r at least u units by committing more; returns the
 * tail block (in the lists) or NULL. */
HK_NOSAN hk__blk *hk__grow(hk__heap *h, hk__region *r, uint32_t u)
{
    hk__blk *s = r->sent, *last = NULL, *b, *ns;
    uint32_t have = 0;
    size_t need;
    char *nc;
    if (!hk__ok(h, s)) return NULL;
    if (s->w & HK_PFREE) {   /* the tail is free: it grows */
        if (!(last = hk__pred(h, r, s)) || !hk__linked(h, last)) return NULL;
        have = HK_SZ(last);
    }
    if (have >= u) return last;
    need = (size_t)(u - have) * 16;
    if (need > (size_t)(r->end - r->commit)) return NULL;
    nc = (char *)hk__round((uintptr_t)r->commit + need, HK_GRAN);
    if (nc > r->end) nc = r->end;
    if (HK_OS.commit(r->commit, (size_t)(nc - r->commit))) return NULL;
    hk__san_none(h, r->commit, (size_t)(nc - r->commit));
    ns = (hk__blk *)(nc - HK_HDR);
    if (have) { hk__rem(h, last); s->w = HK_DEAD; b = last; }
    else b = s;
    hk__set_tail(h, r, b, ns);
    r->commit = nc;
    return b;
}

/* Reserve a region of res bytes, commit com of them (never decommitted
 * below floor), and add it to the heap; NULL if the OS refuses. */
HK_NOSAN hk__region *hk__region_add(hk__heap *h, size_t res, size_t com, size_t floor)
{
    hk__region *r;
    char *base;
    if (h->nreg >= HK_MAX_REGIONS || !(base = HK_OS.reserve(res))) return NULL;
    if (HK_OS.commit(base, com)) { hk__unmap(base, res); return NULL; }
    r = (hk__region *)base;
    hk__region_init(h, r, base, res, com, HK_RHDR, floor);
    h->reg[h->nreg++] = r;
    hk__rmap(h);
    return r;
}

HK_NOSAN hk__region *hk__region_new(hk__heap *h, uint32_t u)
{
    size_t need = HK_RHDR + HK_HDR + (size_t)u * 16 + HK_HDR, com;
    hk__region *r;
    if (h->fixed) return NULL;
    com = hk__round(need, HK_GRAN);
    if (!(r = hk__region_add(h, com > h->grow ? com : h->grow, com, HK_GRAN))) return NULL;
    if (h->grow < HK_MAX_GROW) h->grow *= 2;
    return r;
}

/* Give the whole pages inside r's free blocks back to the OS (the free
 * header, links and the given-back mark, in the first 40 bytes, and the
 * footer stay; the mark lets the walk show the pages UNCOMMITTED).  Stops
 * at the first damaged header: validate reports it. */
HK_NOSAN void hk__reset_region(hk__heap *h, hk__region *r)
{
    hk__blk *b = r->first, *s = r->sent;
    while (b != s) {
        hk__blk *n;
        if ((char *)b + 32 > (char *)s || !hk__ok(h, b) || HK_SZ(b) < 2 ||
            (char *)(n = HK_NEXT(b)) > (char *)s)
            return;
        if (HK_TFREE(b)) {
            /* n is 8 mod 16: the page below it ends before the footer */
            uintptr_t lo = hk__round((uintptr_t)b + HK_GONE_END, HK_PAGE);
            uintptr_t hi = (uintptr_t)n & ~(HK_PAGE - 1);
            if (hi > lo) {
                HK_OS.reset((void *)lo, hi - lo);
                hk__gone_set(h, b, hi);
            }
        }
        b = n;
    }
}
