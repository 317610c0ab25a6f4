/*
 * walk.c - hk_walk and hk_visit, with the core's fallbacks:
 *   - a backend that can only visit (mimalloc) is stepped through a snapshot
 *     taken at the walk's first step; the entry's walk_state names the
 *     snapshot and the position, so a stale entry is refused, not trusted;
 *   - a backend that can only step is visited by looping over its steps.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static uintptr_t hk__snap_ids;   /* under the global lock */

void hk__snapshot_free(hk_heap *h)
{
    if (h->snap) {
        free(h->snap->entries);
        free(h->snap);
        h->snap = NULL;
    }
}

static int hk__snap_add(const hk_heap_entry *e, void *arg)
{
    struct hk__snapshot *s = arg;
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        hk_heap_entry *ne = realloc(s->entries, cap * sizeof *ne);
        if (!ne) {
            s->failed = 1;            /* stop; hk__snap_take reports it */
            return 1;
        }
        s->entries = ne;
        s->cap = cap;
    }
    s->entries[s->count++] = *e;
    return 0;
}

static int hk__snap_take(hk_heap *h)
{
    struct hk__snapshot *s;
    int err;
    hk__snapshot_free(h);
    s = calloc(1, sizeof *s);
    if (!s)
        return HK_ERR_NO_MEMORY;
    err = h->be->visit(h->bh, hk__snap_add, s);
    if (!err && s->failed)
        err = HK_ERR_NO_MEMORY;
    if (err) {
        free(s->entries);
        free(s);
        return err;
    }
    hk__global_lock();
    s->id = ++hk__snap_ids;
    hk__global_unlock();
    h->snap = s;
    return HK_OK;
}

static int hk__snap_step(hk_heap *h, hk_heap_entry *e)
{
    struct hk__snapshot *s;
    size_t i;
    int err;
    if (e->data == NULL) {
        err = hk__snap_take(h);
        if (err)
            return err;
        i = 0;
    } else {
        if (!h->snap || e->walk_state[0] != h->snap->id)
            return HK_ERR_INVALID_PARAMETER;
        i = (size_t)e->walk_state[1];
    }
    s = h->snap;
    if (i >= s->count) {
        hk__snapshot_free(h);
        return HK_ERR_NO_MORE_ITEMS;
    }
    *e = s->entries[i];
    e->walk_state[0] = s->id;
    e->walk_state[1] = (uintptr_t)(i + 1);
    return HK_OK;
}

int hk_walk(hk_heap *h, hk_heap_entry *e)
{
    int err;
    if (!hk__heap_check(h)) {
        hk__set_error(HK_ERR_INVALID_HANDLE);
        return 0;
    }
    if (!e) {
        hk__set_error(HK_ERR_INVALID_PARAMETER);
        return 0;
    }
    hk__call_lock(h, h->flags);
    err = h->be->walk ? h->be->walk(h->bh, e) : hk__snap_step(h, e);
    hk__call_unlock(h, h->flags);
    if (err) {
        hk__set_error(err);
        return 0;
    }
    return 1;
}

int hk_visit(hk_heap *h, hk_visit_fn fn, void *arg)
{
    int err;
    if (!hk__heap_check(h)) {
        hk__set_error(HK_ERR_INVALID_HANDLE);
        return 0;
    }
    if (!fn) {
        hk__set_error(HK_ERR_INVALID_PARAMETER);
        return 0;
    }
    hk__call_lock(h, h->flags);
    if (h->be->visit) {
        err = h->be->visit(h->bh, fn, arg);
    } else {
        /* Hold the heap's own lock across the loop so the visit sees one
         * consistent heap, as a native visit would. */
        hk_heap_entry e;
        int locked = h->be->lock && !(h->flags & HK_HEAP_NO_SERIALIZE);
        memset(&e, 0, sizeof e);
        if (locked)
            h->be->lock(h->bh);
        while ((err = h->be->walk(h->bh, &e)) == HK_OK)
            if (fn(&e, arg))
                break;
        if (err == HK_ERR_NO_MORE_ITEMS)
            err = HK_OK;
        if (locked)
            h->be->unlock(h->bh);
    }
    hk__call_unlock(h, h->flags);
    if (err) {
        hk__set_error(err);
        return 0;
    }
    return 1;
}
