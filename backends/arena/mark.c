/*
 * mark.c - the arena's mark/release: free every block allocated since a
 * mark in one pass.
 */
#include "arena.h"

/* ---- Mark / release ----------------------------------------------------- */
HK_NOSAN int hk__arena_mark(void *bh, uintptr_t *mark)
{
    hk__heap *h = bh;
    int rc = HK_OK, lk = hk__enter(h, h->flags);
    if (h->epoch >= HK_EP_MAX) {
        rc = HK_ERR_NO_MEMORY;
    } else {
        h->epoch++;
        *mark = ((uintptr_t)h->salt << 24) | h->epoch;
    }
    hk__leave(h, lk);
    return rc;
}

HK_NOSAN int hk__arena_release(void *bh, uintptr_t mark)
{
    hk__heap *h = bh;
    uint32_t m = (uint32_t)(mark & 0xFFFFFF);
    hk__large *l, *nl;
    unsigned i;
    int rc = HK_OK, lk = hk__enter(h, h->flags);
    if ((mark >> 24) != h->salt || m == 0 || m > h->epoch) {
        rc = HK_ERR_INVALID_PARAMETER;
        goto out;
    }
    /* All or nothing: a damaged heap is refused before any block is freed
     * (the pass is O(blocks) anyway). */
    if ((rc = hk__flush(h)) != HK_OK || (rc = hk__check_heap(h)) != HK_OK) goto out;
    for (i = 0; i < h->nreg && rc == HK_OK; i++) {
        hk__region *r = h->reg[i];
        hk__blk *b = r->first;
        while (b != r->sent) {
            uint32_t ep;
            if (!hk__ok(h, b) || HK_SZ(b) < 2 || (char *)HK_NEXT(b) > (char *)r->sent) {
                rc = HK_ERR_HEAP_CORRUPT;
                break;
            }
            ep = (b->w & HK_BUSY) ? hk__epoch(h, b) : 0;
            if (ep == (uint32_t)-1) {   /* a damaged tag: check_heap saw it */
                rc = HK_ERR_HEAP_CORRUPT;
                break;
            }
            if (ep >= m) {
                hk__blk *ob = b;
                char *oe = (char *)HK_NEXT(b);
                if ((rc = hk__coalesce(h, r, b, 0, &b)) != HK_OK) break;
                hk__san_free(h, (char *)(ob + 1), HK_HDR, oe);
            }
            b = HK_NEXT(b);
        }
    }
    for (l = h->lhead; l && rc == HK_OK; l = nl) {
        if (l->check != hk__lchk(h, l) || !hk__large_nb_ok(h, l)) {
            rc = HK_ERR_HEAP_CORRUPT;
            break;
        }
        nl = l->next;
        if (l->epoch >= m) hk__free_large(h, l);
    }
    /* Tidy afterwards: dropping a region mid-pass would shift the array. */
    hk__tidy_all(h);
out:
    hk__leave(h, lk);
    return rc;
}
