/*
 * diff.c - heapkit diff OLD.json NEW.json: what grew between two heap
 * snapshots.  Per call site and per stack: live blocks and bytes in each
 * and the change, largest growth first; the blocks new in NEW (their
 * allocation numbers are not in OLD) and the blocks freed since OLD (in
 * OLD, not in NEW), by site.  Sites and stacks are matched by their
 * source place (function, file, line), so two runs of one program diff
 * too; new and freed blocks need two snapshots of one process.
 */
#include "tool.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *key;
    const hk_snap *snap;           /* a snapshot that has the site (NEW preferred) */
    const hk_snap_site *site;
    int64_t ocount, obytes, ncount, nbytes;
    uint64_t acount, abytes, fcount, fbytes;   /* allocated since OLD, freed since OLD */
    uint32_t afirst, alast;
} hk_agg;

typedef struct {
    hk_map map;
    hk_agg *a;
    size_t n, cap;
} hk_aggs;

static hk_agg *hk_agg_of(hk_aggs *g, const char *key, const hk_snap *s, const hk_snap_site *site)
{
    int added;
    size_t i = hk_map_get(&g->map, key, g->n, &added);
    if (added) {
        if (g->n == g->cap) {
            g->cap = g->cap ? g->cap * 2 : 64;
            g->a = hk_xrealloc(g->a, g->cap * sizeof *g->a);
        }
        memset(&g->a[g->n], 0, sizeof *g->a);
        g->a[g->n].key = key;
        g->a[g->n].snap = s;
        g->a[g->n].site = site;
        g->n++;
    }
    return &g->a[i];
}

/* Largest growth in bytes first, then in count, then by key (stable output). */
static int hk_agg_order(const void *pa, const void *pb)
{
    const hk_agg *a = pa, *b = pb;
    int64_t da = a->nbytes - a->obytes, db = b->nbytes - b->obytes;
    if (da != db)
        return da > db ? -1 : 1;
    da = a->ncount - a->ocount;
    db = b->ncount - b->ocount;
    if (da != db)
        return da > db ? -1 : 1;
    return strcmp(a->key, b->key);
}

static void hk_agg_block(hk_aggs *sites, hk_aggs *stacks, const hk_snap *s,
                         const hk_snap_block *b, int side)
{
    const hk_snap_site *st = hk_snap_site_of(s, b->site);
    hk_agg *g[2];
    int k;
    g[0] = hk_agg_of(sites, st->key, s, st);
    g[1] = hk_agg_of(stacks, hk_snap_stack_key(s, st), s, st);
    for (k = 0; k < 2; k++) {
        if (side == 0) {
            g[k]->ocount++;
            g[k]->obytes += (int64_t)b->size;
        } else {
            g[k]->ncount++;
            g[k]->nbytes += (int64_t)b->size;
            g[k]->snap = s;              /* NEW's names and frames */
            g[k]->site = st;
        }
    }
}

static void hk_agg_new(hk_aggs *sites, const hk_snap *s, const hk_snap_block *b)
{
    const hk_snap_site *st = hk_snap_site_of(s, b->site);
    hk_agg *g = hk_agg_of(sites, st->key, s, st);
    if (!g->acount || b->no < g->afirst)
        g->afirst = b->no;
    if (b->no > g->alast)
        g->alast = b->no;
    g->acount++;
    g->abytes += b->size;
}

static void hk_agg_freed(hk_aggs *sites, const hk_snap *s, const hk_snap_block *b)
{
    const hk_snap_site *st = hk_snap_site_of(s, b->site);
    hk_agg *g = hk_agg_of(sites, st->key, s, st);
    g->fcount++;
    g->fbytes += b->size;
}

static const char *hk_base(const char *p)
{
    const char *b = p, *s;
    for (s = p; *s; s++)
        if (*s == '/' || *s == '\\')
            b = s + 1;
    return b;
}

static void hk_place_text(hk_buf *o, const hk_snap_site *st)
{
    hk_buf_f(o, "%s ", st->function ? st->function : "?");
    if (st->file)
        hk_buf_f(o, "%s:%d", st->file, st->line);
    else
        hk_buf_s(o, st->module ? st->module : "?");
}

static void hk_place_json(hk_buf *o, const hk_snap_site *st)
{
    hk_buf_s(o, "\"function\":");
    hk_buf_jstr(o, st->function);
    hk_buf_s(o, ",\"file\":");
    hk_buf_jstr(o, st->file);
    hk_buf_s(o, ",\"line\":");
    if (st->line > 0)
        hk_buf_f(o, "%d", st->line);
    else
        hk_buf_s(o, "null");
    hk_buf_s(o, ",\"module\":");
    hk_buf_jstr(o, st->module);
}

static void hk_snap_json(hk_buf *o, const hk_snap *s)
{
    hk_buf_s(o, "{\"path\":");
    hk_buf_jstr(o, s->path);
    hk_buf_s(o, ",\"program\":");
    hk_buf_jstr(o, s->program);
    hk_buf_f(o, ",\"pid\":%lu,\"time\":%.0f,\"live_blocks\":%lu,\"live_bytes\":%llu}", s->pid,
             s->time, (unsigned long)s->nblocks, (unsigned long long)s->live_bytes);
}

/* The stack's frames as "function file:line" strings (its key's lines). */
static void hk_frames_json(hk_buf *o, const char *key)
{
    const char *s = key, *e;
    int first = 1;
    hk_buf_s(o, "[");
    while (*s) {
        char *line;
        e = strchr(s, '\n');
        if (!e)
            e = s + strlen(s);
        line = hk_xmalloc((size_t)(e - s) + 1);
        memcpy(line, s, (size_t)(e - s));
        line[e - s] = 0;
        if (!first)
            hk_buf_s(o, ",");
        first = 0;
        hk_buf_jstr(o, line);
        free(line);
        s = *e ? e + 1 : e;
    }
    hk_buf_s(o, "]");
}

static int hk_diff_usage(void)
{
    fprintf(stderr, "Usage: heapkit diff [--json] [--top N] [-o FILE] OLD.json NEW.json\n"
                    "Try 'heapkit --help'.\n");
    return HK_USAGE;
}

int hk_cmd_diff(int argc, char **argv)
{
    const char *paths[2] = { NULL, NULL }, *out_path = NULL;
    int json = 0, npaths = 0, i, k;
    long top = 30;
    hk_snap s[2];
    hk_aggs sites, stacks;
    hk_buf o = { NULL, 0, 0 };
    char err[512];
    size_t a, b;
    uint64_t ncount = 0, nbytes = 0, fcount = 0, fbytes = 0;
    int same;
    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
            out_path = argv[++i];
        else if (strcmp(argv[i], "--top") == 0 && i + 1 < argc) {
            char *end;
            top = strtol(argv[++i], &end, 10);
            if (*end || top < 0)
                return hk_diff_usage();
        } else if (argv[i][0] == '-' && argv[i][1])
            return hk_diff_usage();
        else if (npaths < 2)
            paths[npaths++] = argv[i];
        else
            return hk_diff_usage();
    }
    if (npaths != 2)
        return hk_diff_usage();
    for (k = 0; k < 2; k++)
        if (!hk_snap_load(paths[k], &s[k], err, sizeof err)) {
            fprintf(stderr, "heapkit diff: %s\n", err);
            return HK_USAGE;
        }
    memset(&sites, 0, sizeof sites);
    memset(&stacks, 0, sizeof stacks);
    for (k = 0; k < 2; k++)
        for (a = 0; a < s[k].nblocks; a++)
            hk_agg_block(&sites, &stacks, &s[k], &s[k].blocks[a], k);
    /* new and freed blocks: both lists are by allocation number */
    same = s[0].pid == s[1].pid && strcmp(s[0].program, s[1].program) == 0;
    for (a = 0, b = 0; a < s[0].nblocks || b < s[1].nblocks;) {
        const hk_snap_block *x = a < s[0].nblocks ? &s[0].blocks[a] : NULL;
        const hk_snap_block *y = b < s[1].nblocks ? &s[1].blocks[b] : NULL;
        if (x && y && x->no == y->no && same) {
            a++, b++;
        } else if (y && (!x || !same || y->no < x->no)) {
            hk_agg_new(&sites, &s[1], y);
            ncount++;
            nbytes += y->size;
            b++;
        } else {
            hk_agg_freed(&sites, &s[0], x);
            fcount++;
            fbytes += x->size;
            a++;
        }
    }
    qsort(sites.a, sites.n, sizeof *sites.a, hk_agg_order);
    qsort(stacks.a, stacks.n, sizeof *stacks.a, hk_agg_order);
    if (json) {
        hk_buf_s(&o, "{\"schema\":\"heapkit-diff\",\"version\":1,\"old\":");
        hk_snap_json(&o, &s[0]);
        hk_buf_s(&o, ",\"new\":");
        hk_snap_json(&o, &s[1]);
        hk_buf_f(&o, ",\"same_process\":%s,\"count\":%lld,\"bytes\":%lld", same ? "true" : "false",
                 (long long)s[1].nblocks - (long long)s[0].nblocks,
                 (long long)s[1].live_bytes - (long long)s[0].live_bytes);
        hk_buf_f(&o, ",\"new_blocks\":{\"count\":%llu,\"bytes\":%llu}",
                 (unsigned long long)ncount, (unsigned long long)nbytes);
        hk_buf_f(&o, ",\"freed_blocks\":{\"count\":%llu,\"bytes\":%llu},\n\"sites\":[",
                 (unsigned long long)fcount, (unsigned long long)fbytes);
        for (a = 0; a < sites.n; a++) {
            const hk_agg *g = &sites.a[a];
            hk_buf_s(&o, a ? ",\n{" : "\n{");
            hk_place_json(&o, g->site);
            hk_buf_f(&o, ",\"count\":%lld,\"bytes\":%lld,\"old_count\":%lld,\"old_bytes\":%lld,"
                     "\"new_count\":%lld,\"new_bytes\":%lld,\"allocated\":{\"count\":%llu,"
                     "\"bytes\":%llu,\"first\":%lu,\"last\":%lu},\"freed\":{\"count\":%llu,"
                     "\"bytes\":%llu}}",
                     (long long)(g->ncount - g->ocount), (long long)(g->nbytes - g->obytes),
                     (long long)g->ocount, (long long)g->obytes, (long long)g->ncount,
                     (long long)g->nbytes, (unsigned long long)g->acount,
                     (unsigned long long)g->abytes, (unsigned long)g->afirst,
                     (unsigned long)g->alast, (unsigned long long)g->fcount,
                     (unsigned long long)g->fbytes);
        }
        hk_buf_s(&o, "],\n\"stacks\":[");
        for (a = 0; a < stacks.n; a++) {
            const hk_agg *g = &stacks.a[a];
            hk_buf_s(&o, a ? ",\n{\"frames\":" : "\n{\"frames\":");
            hk_frames_json(&o, g->key);
            hk_buf_s(&o, ",");
            hk_place_json(&o, g->site);
            hk_buf_f(&o, ",\"count\":%lld,\"bytes\":%lld,\"old_count\":%lld,\"old_bytes\":%lld,"
                     "\"new_count\":%lld,\"new_bytes\":%lld}",
                     (long long)(g->ncount - g->ocount), (long long)(g->nbytes - g->obytes),
                     (long long)g->ocount, (long long)g->obytes, (long long)g->ncount,
                     (long long)g->nbytes);
        }
        hk_buf_s(&o, "]}\n");
    } else {
        long shown;
        hk_buf_f(&o, "heapkit diff: %s (pid %lu, %lu blocks, %llu bytes) -> %s (pid %lu, %lu "
                 "blocks, %llu bytes)\n", s[0].path, s[0].pid, (unsigned long)s[0].nblocks,
                 (unsigned long long)s[0].live_bytes, s[1].path, s[1].pid,
                 (unsigned long)s[1].nblocks, (unsigned long long)s[1].live_bytes);
        hk_buf_f(&o, "Change: %+lld blocks, %+lld bytes\n",
                 (long long)s[1].nblocks - (long long)s[0].nblocks,
                 (long long)s[1].live_bytes - (long long)s[0].live_bytes);
        hk_buf_s(&o, "\nGrowth by call site (largest first):\n"
                     "     Count        Bytes   Old count    New count  Site\n");
        for (a = 0, shown = 0; a < sites.n; a++) {
            const hk_agg *g = &sites.a[a];
            if (g->ncount == g->ocount && g->nbytes == g->obytes)
                continue;
            if (top && shown++ >= top) {
                hk_buf_s(&o, "  ...\n");
                break;
            }
            hk_buf_f(&o, "%+10lld %+12lld %11lld  %11lld  ", (long long)(g->ncount - g->ocount),
                     (long long)(g->nbytes - g->obytes), (long long)g->ocount,
                     (long long)g->ncount);
            hk_place_text(&o, g->site);
            hk_buf_s(&o, "\n");
        }
        hk_buf_s(&o, "\nGrowth by stack (largest first):\n");
        for (a = 0, shown = 0; a < stacks.n; a++) {
            const hk_agg *g = &stacks.a[a];
            const char *p;
            if (g->ncount == g->ocount && g->nbytes == g->obytes)
                continue;
            if (top && shown++ >= top) {
                hk_buf_s(&o, "  ...\n");
                break;
            }
            hk_buf_f(&o, "%+10lld %+12lld  ", (long long)(g->ncount - g->ocount),
                     (long long)(g->nbytes - g->obytes));
            hk_place_text(&o, g->site);
            hk_buf_s(&o, "\n");
            /* the frames after the first, indented */
            p = strchr(g->key, '\n');
            while (p && p[1]) {
                const char *e = strchr(p + 1, '\n');
                if (!e)
                    e = p + 1 + strlen(p + 1);
                hk_buf_s(&o, "        ");
                hk_buf_put(&o, p + 1, (size_t)(e - p - 1));
                hk_buf_s(&o, "\n");
                p = *e ? e : NULL;
            }
        }
        hk_buf_f(&o, "\nNew in %s: %llu blocks, %llu bytes%s\n", hk_base(s[1].path),
                 (unsigned long long)ncount, (unsigned long long)nbytes,
                 same ? "" : " (another process: every block)");
        for (a = 0, shown = 0; a < sites.n; a++) {
            const hk_agg *g = &sites.a[a];
            if (!g->acount)
                continue;
            if (top && shown++ >= top) {
                hk_buf_s(&o, "  ...\n");
                break;
            }
            hk_buf_f(&o, "%10llu %12llu  No. %lu-%lu  ", (unsigned long long)g->acount,
                     (unsigned long long)g->abytes, (unsigned long)g->afirst,
                     (unsigned long)g->alast);
            hk_place_text(&o, g->site);
            hk_buf_s(&o, "\n");
        }
        hk_buf_f(&o, "\nFreed since %s: %llu blocks, %llu bytes\n", hk_base(s[0].path),
                 (unsigned long long)fcount, (unsigned long long)fbytes);
        for (a = 0, shown = 0; a < sites.n; a++) {
            const hk_agg *g = &sites.a[a];
            if (!g->fcount)
                continue;
            if (top && shown++ >= top) {
                hk_buf_s(&o, "  ...\n");
                break;
            }
            hk_buf_f(&o, "%10llu %12llu  ", (unsigned long long)g->fcount,
                     (unsigned long long)g->fbytes);
            hk_place_text(&o, g->site);
            hk_buf_s(&o, "\n");
        }
    }
    {
        FILE *f = out_path ? fopen(out_path, "wb") : stdout;
        int bad;
        if (!f) {
            perror(out_path);
            return HK_USAGE;
        }
        bad = fwrite(o.p, 1, o.n, f) != o.n;
        bad |= out_path ? fclose(f) != 0 : fflush(f) != 0;
        if (bad) {
            fprintf(stderr, "heapkit diff: cannot write %s\n", out_path ? out_path : "stdout");
            return HK_USAGE;
        }
    }
    free(o.p);
    hk_map_free(&sites.map);
    hk_map_free(&stacks.map);
    free(sites.a);
    free(stacks.a);
    hk_snap_free(&s[0]);
    hk_snap_free(&s[1]);
    return 0;
}
