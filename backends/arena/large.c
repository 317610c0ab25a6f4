/*
 * large.c - the arena's large blocks (own mappings): the lookup table, the
 * bounded cache of freed mappings, allocation and freeing.
 */
#include "arena.h"

/* ---- Large blocks ------------------------------------------------------- */
HK_NOSAN static size_t hk__lslot(uintptr_t k, size_t cap)
{
    return (size_t)((((uint64_t)k >> 12) * HK_K1) >> 40) & (cap - 1);
}

HK_NOSAN static int hk__ltab_put(hk__heap *h, uintptr_t k)
{
    size_t i;
    if ((h->lcount + 1) * 2 > h->lcap) {
        size_t cap = h->lcap ? h->lcap * 2 : 512, j;
        uintptr_t *t = HK_OS.map(cap * sizeof *t);
        if (!t) return 0;
        for (j = 0; j < h->lcap; j++) {
            if (!h->ltab[j]) continue;
            for (i = hk__lslot(h->ltab[j], cap); t[i]; i = (i + 1) & (cap - 1)) {}
            t[i] = h->ltab[j];
        }
        if (h->ltab) hk__unmap(h->ltab, h->lcap * sizeof *t);
        h->ltab = t;
        h->lcap = cap;
    }
    for (i = hk__lslot(k, h->lcap); h->ltab[i]; i = (i + 1) & (h->lcap - 1)) {}
    h->ltab[i] = k;
    h->lcount++;
    return 1;
}

HK_NOSAN size_t hk__ltab_find(const hk__heap *h, uintptr_t k)
{
    size_t i;
    if (!h->lcap) return (size_t)-1;
    for (i = hk__lslot(k, h->lcap); h->ltab[i]; i = (i + 1) & (h->lcap - 1))
        if (h->ltab[i] == k) return i;
    return (size_t)-1;
}

HK_NOSAN static void hk__ltab_del(hk__heap *h, size_t i)
{
    size_t m = h->lcap - 1, j = i;
    for (;;) {
        size_t k;
        j = (j + 1) & m;
        if (!h->ltab[j]) break;
        k = hk__lslot(h->ltab[j], h->lcap);
        if (((j - k) & m) >= ((j - i) & m)) { h->ltab[i] = h->ltab[j]; i = j; }
    }
    h->ltab[i] = 0;
    h->lcount--;
}

HK_NOSAN hk__large *hk__llookup(const hk__heap *h, const void *p)
{
    uintptr_t a = (uintptr_t)p;
    hk__large *l;
    if ((a & 0xFFF) != HK_LHDR || hk__ltab_find(h, a - HK_LHDR) == (size_t)-1) return NULL;
    l = (hk__large *)(a - HK_LHDR);
    return l->check == hk__lchk(h, l) ? l : NULL;
}

/* The cache of freed large mappings: each costs an mmap + munmap and page
 * faults anew otherwise.  Bounded (HK_LC_N, HK_LC_BYTES), only mappings up
 * to HK_LC_MAXMAP; its list lives in the heap struct, never in the
 * mappings, so no damage can reach it.  Hysteresis: a window of slow
 * operations in which the cache served nothing gives it all back
 * (hk__tidy_all), and so does compaction. */
HK_NOSAN static void hk__lc_drop(hk__heap *h, unsigned i)
{
    hk__unmap(h->lc[i].base, h->lc[i].map);
    h->lcbytes -= h->lc[i].map;
    for (; i + 1 < h->lcn; i++) h->lc[i] = h->lc[i + 1];
    h->lcn--;
}

HK_NOSAN void hk__lc_clear(hk__heap *h)
{
    while (h->lcn) hk__lc_drop(h, h->lcn - 1);
}

/* Keep (or give back) the mapping at l of map bytes. */
HK_NOSAN static void hk__lc_put(hk__heap *h, void *l, size_t map)
{
    if (map > HK_LC_MAXMAP) { hk__unmap(l, map); return; }
    while (h->lcn && (h->lcn == HK_LC_N || h->lcbytes + map > HK_LC_BYTES)) hk__lc_drop(h, 0);
    h->lc[h->lcn].base = l;
    h->lc[h->lcn].map = map;
    h->lcn++;
    h->lcbytes += map;
}

/* The smallest cached mapping of at least *map bytes; *map gets the size
 * kept.  Where the OS can give back part of a mapping (POSIX), one more
 * than twice too big is cut to size; elsewhere only one up to twice the
 * size is taken.  Its header is cleared: it reads like a fresh one but
 * for reused. */
HK_NOSAN static hk__large *hk__lc_take(hk__heap *h, size_t *map)
{
    unsigned i, best = HK_LC_N;
    hk__large *l;
    size_t have;
    for (i = 0; i < h->lcn; i++)
        if (h->lc[i].map >= *map && (best == HK_LC_N || h->lc[i].map < h->lc[best].map))
            best = i;
    if (best == HK_LC_N) return NULL;
    have = h->lc[best].map;
#if defined(_WIN32)
    if (have / 2 > *map) return NULL;
#endif
    l = h->lc[best].base;
    h->lcbytes -= have;
    for (i = best; i + 1 < h->lcn; i++) h->lc[i] = h->lc[i + 1];
    h->lcn--;
    h->lcused = 1;
    if (have / 2 > *map) hk__unmap((char *)l + *map, have - *map);
    else *map = have;
    memset(l, 0, HK_LHDR);
    l->reused = 1;
    return l;
}

HK_NOSAN void *hk__alloc_large(hk__heap *h, size_t n, uint32_t epoch)
{
    size_t map;
    hk__large *l;
    if (h->fixed || n > ((size_t)1 << 47)) return NULL;
    /* The tail's header is resealed below: a damaged one must not be. */
    if (h->ltail && h->ltail->check != hk__lchk(h, h->ltail)) {
        h->fail = HK_ERR_HEAP_CORRUPT;
        return NULL;
    }
    map = hk__round(n + HK_LHDR, HK_GRAN);
    if (HK_UNLIKELY(map > h->climit)) return NULL;
    l = hk__lc_take(h, &map);
    if (!l && !(l = HK_OS.map(map))) return NULL;
    if (!hk__ltab_put(h, (uintptr_t)l)) { hk__lc_put(h, l, map); return NULL; }
    l->n = n;
    l->map = map;
    l->epoch = epoch;
    l->next = NULL;
    l->prev = h->ltail;
    if (h->ltail) { h->ltail->next = l; h->ltail->check = hk__lchk(h, h->ltail); }
    else h->lhead = l;
    h->ltail = l;
    l->check = hk__lchk(h, l);
    hk__san_busy(h, (char *)l + HK_LHDR, HK_LHDR, n, (char *)l + map);
    return (char *)l + HK_LHDR;
}

/* l's list neighbours are resealed when l goes: refuse if one is damaged
 * (resealing would make its bad size look valid). */
HK_NOSAN int hk__large_nb_ok(const hk__heap *h, const hk__large *l)
{
    return (!l->prev || l->prev->check == hk__lchk(h, l->prev)) &&
           (!l->next || l->next->check == hk__lchk(h, l->next));
}

HK_NOSAN void hk__free_large(hk__heap *h, hk__large *l)
{
    size_t i = hk__ltab_find(h, (uintptr_t)l), map = l->map;
    hk__san_free(h, (char *)l + HK_LHDR, HK_LHDR, (char *)l + map);
    if (i != (size_t)-1) hk__ltab_del(h, i);
    if (l->prev) { l->prev->next = l->next; l->prev->check = hk__lchk(h, l->prev); }
    else h->lhead = l->next;
    if (l->next) { l->next->prev = l->prev; l->next->check = hk__lchk(h, l->next); }
    else h->ltail = l->prev;
    /* A stale pointer to it must fail the check even if the header is
     * reused by a later block at the same address: the check is keyed by
     * the address, so the header is wiped. */
    memset(l, 0, HK_LHDR);
    hk__lc_put(h, l, map);
}
