/*
 * snap.c - a heap snapshot (schema "heapkit-snapshot", version 1) in
 * memory for heapkit diff and view: its sites by id, its stacks, its
 * blocks; and the string map they use.
 */
#include "tool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hk_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

size_t hk_map_get(hk_map *m, const char *key, size_t next, int *added)
{
    size_t i;
    if (added)
        *added = 0;
    if (m->n * 2 >= m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64, j;
        const char **keys = hk_xcalloc(cap, sizeof *keys);
        size_t *vals = hk_xcalloc(cap, sizeof *vals);
        for (j = 0; j < m->cap; j++)
            if (m->keys[j]) {
                size_t k = (size_t)hk_hash(m->keys[j]) & (cap - 1);
                while (keys[k])
                    k = (k + 1) & (cap - 1);
                keys[k] = m->keys[j];
                vals[k] = m->vals[j];
            }
        free(m->keys);
        free(m->vals);
        m->keys = keys;
        m->vals = vals;
        m->cap = cap;
    }
    i = (size_t)hk_hash(key) & (m->cap - 1);
    while (m->keys[i]) {
        if (strcmp(m->keys[i], key) == 0)
            return m->vals[i];
        i = (i + 1) & (m->cap - 1);
    }
    m->keys[i] = key;
    m->vals[i] = next;
    m->n++;
    if (added)
        *added = 1;
    return next;
}

void hk_map_free(hk_map *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static char *hk_strdup_cat(const char *a, const char *b, const char *c, const char *d)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + strlen(d) + 1;
    char *s = hk_xmalloc(n);
    snprintf(s, n, "%s%s%s%s", a, b, c, d);
    return s;
}

static int hk_by_stack_id(const void *a, const void *b)
{
    const hk_snap_stack *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* "function file:line" of one frame, for keys and the viewer. */
static void hk_frame_key(hk_buf *b, const hkj *f)
{
    const char *fn = hkj_str(hkj_get(f, "function"), NULL);
    const char *file = hkj_str(hkj_get(f, "file"), NULL);
    const char *mod = hkj_str(hkj_get(f, "module"), "?");
    if (fn)
        hk_buf_s(b, fn);
    else
        hk_buf_s(b, hkj_str(hkj_get(f, "pc"), "?"));
    hk_buf_s(b, " ");
    if (file)
        hk_buf_f(b, "%s:%d", file, (int)hkj_num(hkj_get(f, "line"), 0));
    else
        hk_buf_s(b, mod);
}

int hk_snap_load(const char *path, hk_snap *s, char *err, size_t errlen)
{
    size_t len, i;
    const hkj *sites, *stacks, *blocks;
    memset(s, 0, sizeof *s);
    s->path = path;
    s->text = hk_read_file(path, &len);
    if (!s->text) {
        snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
        return 0;
    }
    s->doc = hkj_parse(s->text, len, err, errlen);
    if (!s->doc) {
        size_t n = strlen(err);
        snprintf(err + n, errlen - n, " in '%s'", path);
        return 0;
    }
    s->root = hkj_root(s->doc);
    if (strcmp(hkj_str(hkj_get(s->root, "schema"), ""), "heapkit-snapshot") != 0) {
        snprintf(err, errlen, "'%s' is not a heapkit snapshot (no \"schema\":"
                 "\"heapkit-snapshot\")", path);
        return 0;
    }
    if (hkj_num(hkj_get(s->root, "version"), 0) != 1) {
        snprintf(err, errlen, "'%s': snapshot version %g is not one this heapkit reads (1)",
                 path, hkj_num(hkj_get(s->root, "version"), 0));
        return 0;
    }
    s->program = hkj_str(hkj_get(s->root, "program"), "?");
    s->pid = (unsigned long)hkj_num(hkj_get(s->root, "pid"), 0);
    s->time = hkj_num(hkj_get(s->root, "time"), 0);
    sites = hkj_get(s->root, "sites");
    stacks = hkj_get(s->root, "stacks");
    blocks = hkj_get(s->root, "blocks");
    if (!sites || sites->type != HKJ_ARR || !blocks || blocks->type != HKJ_ARR
        || !stacks || stacks->type != HKJ_ARR) {
        snprintf(err, errlen, "'%s': a snapshot without sites, stacks or blocks", path);
        return 0;
    }
    /* stacks first: a site's key does not need them, its stack's does */
    s->nstacks = stacks->n;
    s->stacks = hk_xcalloc(s->nstacks, sizeof *s->stacks);
    for (i = 0; i < stacks->n; i++) {
        const hkj *st = hkj_at(stacks, i), *fr = hkj_get(st, "frames");
        hk_buf b = { NULL, 0, 0 };
        size_t k;
        s->stacks[i].id = (uint32_t)hkj_num(hkj_get(st, "id"), 0);
        s->stacks[i].frames = fr && fr->type == HKJ_ARR ? fr : NULL;
        for (k = 0; fr && k < fr->n; k++) {
            hk_frame_key(&b, hkj_at(fr, k));
            hk_buf_s(&b, "\n");
        }
        hk_buf_s(&b, "");
        s->stacks[i].key = b.p;
    }
    qsort(s->stacks, s->nstacks, sizeof *s->stacks, hk_by_stack_id);
    for (i = 0; i < sites->n; i++) {
        uint32_t id = (uint32_t)hkj_num(hkj_get(hkj_at(sites, i), "id"), 0);
        if (id > s->max_site && id < 0x7FFFFFFF)
            s->max_site = id;
    }
    s->sites = hk_xcalloc((size_t)s->max_site + 1, sizeof *s->sites);
    s->sites[0].key = "?";
    s->sites[0].function = NULL;
    for (i = 0; i < sites->n; i++) {
        const hkj *st = hkj_at(sites, i);
        uint32_t id = (uint32_t)hkj_num(hkj_get(st, "id"), 0);
        hk_snap_site *o;
        char line[24];
        if (id == 0 || id > s->max_site)
            continue;
        o = &s->sites[id];
        o->function = hkj_str(hkj_get(st, "function"), NULL);
        o->file = hkj_str(hkj_get(st, "file"), NULL);
        o->module = hkj_str(hkj_get(st, "module"), NULL);
        o->line = (int)hkj_num(hkj_get(st, "line"), 0);
        o->stack = (uint32_t)hkj_num(hkj_get(st, "stack"), 0);
        snprintf(line, sizeof line, ":%d", o->line);
        /* the place, not the address: the same source line is one site
         * in two runs (and where the compiler copied the call) */
        if (o->file)
            o->key = hk_strdup_cat(o->function ? o->function : "?", " ", o->file, line);
        else
            o->key = hk_strdup_cat(o->function ? o->function : "?", " ",
                                   o->module ? o->module : "?",
                                   o->function ? "" : hkj_str(hkj_get(st, "caller"), ""));
    }
    for (i = 1; i <= s->max_site; i++)
        if (!s->sites[i].key)
            s->sites[i].key = "?";
    s->nblocks = blocks->n;
    s->blocks = hk_xcalloc(s->nblocks, sizeof *s->blocks);
    for (i = 0; i < blocks->n; i++) {
        const hkj *b = hkj_at(blocks, i);
        hk_snap_block *o = &s->blocks[i];
        if (!b || b->type != HKJ_ARR || b->n < 4) {
            snprintf(err, errlen, "'%s': block %lu is not [no,size,site,heap]", path,
                     (unsigned long)i);
            return 0;
        }
        o->no = (uint32_t)b->u.kids[0].u.num;
        o->size = (uint64_t)b->u.kids[1].u.num;
        o->site = (uint32_t)b->u.kids[2].u.num;
        o->heap = (uint32_t)b->u.kids[3].u.num;
        if (o->site > s->max_site)
            o->site = 0;
        s->live_bytes += o->size;
    }
    return 1;
}

void hk_snap_free(hk_snap *s)
{
    size_t i;
    for (i = 1; s->sites && i <= s->max_site; i++)
        if (s->sites[i].key && strcmp(s->sites[i].key, "?") != 0)
            free((char *)s->sites[i].key);
    for (i = 0; i < s->nstacks; i++)
        free((char *)s->stacks[i].key);
    free(s->sites);
    free(s->stacks);
    free(s->blocks);
    hkj_free(s->doc);
    free(s->text);
    memset(s, 0, sizeof *s);
}

const hk_snap_site *hk_snap_site_of(const hk_snap *s, uint32_t id)
{
    return &s->sites[id <= s->max_site ? id : 0];
}

const hk_snap_stack *hk_snap_stack_of(const hk_snap *s, uint32_t id)
{
    size_t lo = 0, hi = s->nstacks;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->stacks[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->nstacks && s->stacks[lo].id == id ? &s->stacks[lo] : NULL;
}

const char *hk_snap_stack_key(const hk_snap *s, const hk_snap_site *site)
{
    const hk_snap_stack *st = site->stack ? hk_snap_stack_of(s, site->stack) : NULL;
    return st && st->key[0] ? st->key : site->key;
}
