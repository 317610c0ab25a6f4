/*
 * tlsf.c - the arena's TLSF-style segregated free lists: two-level
 * bitmaps, O(1) good-fit search, insert and remove.
 */
#include "arena.h"

/* ---- TLSF lists --------------------------------------------------------- */
/* List the free block b (header written) and write its footer. */
HK_NOSAN void hk__ins(hk__heap *h, hk__blk *b)
{
    hk__fblk *f = (hk__fblk *)b, *hd;
    uint32_t u = HK_FSZ(b);
    unsigned fl, sl;
    hk__map(u, &fl, &sl);
    hd = h->lists[fl][sl];
    hk__gone_clear(b, u);
    hk__set_foot(b, u);
    f->prev = NULL;
    f->next = hd;
    if (hd) hd->prev = f;
    h->lists[fl][sl] = f;
    h->flmap |= 1u << fl;
    h->slmap[fl] |= 1u << sl;
}

HK_NOSAN void hk__rem(hk__heap *h, hk__blk *b)
{
    hk__fblk *f = (hk__fblk *)b;
    unsigned fl, sl;
    if (f->next) f->next->prev = f->prev;
    if (f->prev) { f->prev->next = f->next; return; }
    hk__map(HK_FSZ(b), &fl, &sl);
    h->lists[fl][sl] = f->next;
    if (!f->next) {
        h->slmap[fl] &= ~(1u << sl);
        if (!h->slmap[fl]) h->flmap &= ~(1u << fl);
    }
}

/* A free block of at least u units, or NULL (good fit: round the request up
 * to the next class, then any block of that class or above fits). */
HK_NOSAN hk__blk *hk__find(hk__heap *h, uint32_t u)
{
    unsigned fl, sl;
    uint32_t m;
    if (u >= HK_SL_N) {
        unsigned k = 31u - (unsigned)__builtin_clz(u);
        u += (1u << (k - HK_SL_BITS)) - 1;
    }
    hk__map(u, &fl, &sl);
    if (fl >= HK_FL_N) return NULL;
    m = h->slmap[fl] & (~0u << sl);
    if (!m) {
        uint32_t f = fl + 1 < 32 ? h->flmap & (~0u << (fl + 1)) : 0;
        if (!f) return NULL;
        fl = (unsigned)__builtin_ctz(f);
        m = h->slmap[fl];
    }
    sl = (unsigned)__builtin_ctz(m);
    return &h->lists[fl][sl]->h;
}
