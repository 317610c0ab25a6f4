/*
 * view.c - heapkit view FILE.json -o report.html: one self-contained HTML
 * page (inline CSS, SVG and a little JavaScript; nothing from the
 * network) for a snapshot, a diff (heapkit diff --json) or a report
 * (HEAPKIT_FORMAT=json, JSON Lines: the last report in the file).
 *
 * Everything is aggregated here, on the way in: the page gets one table
 * row per site (snapshot, diff) or per entry (report, at most
 * HEAPKIT_MAX_ENTRIES), a tree of bytes by stack for the icicle, and the
 * heap map as ranges, at most HK_VIEW_RANGES per region (neighbours are
 * merged into pixel-sized buckets beyond that).  So a million blocks cost
 * the browser no more than a thousand.  The page itself is
 * tools/view/template.html, compiled in (tools/view-template.h).
 */
#include "tool.h"

#include <stdlib.h>
#include <string.h>

#include "tools/view-template.h"   /* hk_view_template: the page, with its placeholder */

#define HK_VIEW_RANGES 1200    /* ranges per region strip: about one per pixel */
#define HK_VIEW_ROWS 5000      /* table rows the page gets */
#define HK_FLAME_MIN 2000      /* icicle: nodes below 1/this of the total are left out */

/* ---- the icicle: a trie of frames, outermost first ---------------------------- */

typedef struct hk_fnode {
    const char *name;
    double value;
    struct hk_fnode *kid, *next;
} hk_fnode;

static hk_fnode *hk_fnode_new(const char *name)
{
    hk_fnode *n = hk_xcalloc(1, sizeof *n);
    n->name = name;
    return n;
}

/* frames[0] is the innermost (the allocation's caller). */
static void hk_flame_add(hk_fnode *root, const char *const *frames, size_t n, double v)
{
    hk_fnode *at = root;
    size_t i;
    root->value += v;
    for (i = n; i-- > 0;) {
        hk_fnode *k;
        for (k = at->kid; k; k = k->next)
            if (strcmp(k->name, frames[i]) == 0)
                break;
        if (!k) {
            k = hk_fnode_new(frames[i]);
            k->next = at->kid;
            at->kid = k;
        }
        k->value += v;
        at = k;
    }
}

static void hk_flame_out(hk_buf *o, const hk_fnode *n, double min, int depth)
{
    const hk_fnode *k;
    int first = 1;
    hk_buf_s(o, "[");
    hk_buf_jstr(o, n->name);
    hk_buf_f(o, ",%.0f,[", n->value);
    for (k = n->kid; k && depth < 64; k = k->next) {
        if (k->value < min)
            continue;
        if (!first)
            hk_buf_s(o, ",");
        first = 0;
        hk_flame_out(o, k, min, depth + 1);
    }
    hk_buf_s(o, "]]");
}

static void hk_flame_free(hk_fnode *n)
{
    while (n) {
        hk_fnode *next = n->next;
        hk_flame_free(n->kid);
        free(n);
        n = next;
    }
}

/* ---- frames as strings ------------------------------------------------------- */

typedef struct {
    char **s;
    size_t n, cap;
} hk_strs;

static const char *hk_strs_add(hk_strs *v, char *s)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 256;
        v->s = hk_xrealloc(v->s, v->cap * sizeof *v->s);
    }
    v->s[v->n++] = s;
    return s;
}

static void hk_strs_free(hk_strs *v)
{
    size_t i;
    for (i = 0; i < v->n; i++)
        free(v->s[i]);
    free(v->s);
}

/* "function file:line" (or module, or the address) of a frame object. */
static char *hk_frame_str(const hkj *f)
{
    hk_buf b = { NULL, 0, 0 };
    const char *fn = hkj_str(hkj_get(f, "function"), NULL);
    const char *file = hkj_str(hkj_get(f, "file"), NULL);
    const char *mod = hkj_str(hkj_get(f, "module"), NULL);
    hk_buf_s(&b, fn ? fn : hkj_str(hkj_get(f, "pc"), "?"));
    if (file)
        hk_buf_f(&b, " %s:%d", file, (int)hkj_num(hkj_get(f, "line"), 0));
    else if (mod)
        hk_buf_f(&b, " (%s)", mod);
    return b.p;
}

/* A stack's frames, one string each, innermost first: into the page's
 * stack list (returns its index) and *out for the icicle. */
typedef struct {
    hk_buf json;               /* the page's "stacks" array, without brackets */
    size_t n;
    hk_strs names;             /* every frame string (owned) */
} hk_stacks;

static long hk_stack_put(hk_stacks *st, const hkj *frames, const char ***out, size_t *nout)
{
    size_t i, n = frames && frames->type == HKJ_ARR ? frames->n : 0;
    const char **v = n ? hk_xmalloc(n * sizeof *v) : NULL;
    if (!n) {
        *out = NULL;
        *nout = 0;
        return -1;
    }
    hk_buf_s(&st->json, st->n ? ",[" : "[");
    for (i = 0; i < n; i++) {
        const char *s = hk_strs_add(&st->names, hk_frame_str(hkj_at(frames, i)));
        v[i] = s;
        if (i)
            hk_buf_s(&st->json, ",");
        hk_buf_jstr(&st->json, s);
    }
    hk_buf_s(&st->json, "]");
    *out = v;
    *nout = n;
    return (long)st->n++;
}

static void hk_place(hk_buf *o, const char *fn, const char *file, int line, const char *mod)
{
    hk_buf_jstr(o, fn ? fn : "?");
    hk_buf_s(o, ",");
    if (file) {
        hk_buf b = { NULL, 0, 0 };
        hk_buf_f(&b, "%s:%d", file, line);
        hk_buf_jstr(o, b.p);
        free(b.p);
    } else {
        hk_buf_jstr(o, mod ? mod : "?");
    }
}

static void hk_kv(hk_buf *o, int *first, const char *label, const char *value)
{
    hk_buf_s(o, *first ? "[" : ",[");
    *first = 0;
    hk_buf_jstr(o, label);
    hk_buf_s(o, ",");
    hk_buf_jstr(o, value);
    hk_buf_s(o, "]");
}

static void hk_kvn(hk_buf *o, int *first, const char *label, double v)
{
    char b[64];
    snprintf(b, sizeof b, "%.0f", v);
    hk_kv(o, first, label, b);
}

/* ---- snapshot ---------------------------------------------------------------- */

typedef struct {
    double count, bytes;
    uint32_t first, last;
} hk_site_sum;

/* One region's ranges, merged into at most HK_VIEW_RANGES buckets: a
 * bucket is the kind (and, busy, the site) with the most bytes in it;
 * count, bytes and the first allocation number add up. */
static void hk_region_ranges(hk_buf *o, const hkj *ranges, double size)
{
    size_t i, n = ranges && ranges->type == HKJ_ARR ? ranges->n : 0;
    const hkj *tail = n ? hkj_at(ranges, n - 1) : NULL;
    double bucket;
    int first = 1;
    /* the trailing uncommitted range stays one range; the buckets divide
     * what is before it (the page draws that part wider, too) */
    if (tail && tail->type == HKJ_ARR && tail->n >= 7
        && strcmp(hkj_str(&tail->u.kids[0], ""), "U") == 0 && tail->u.kids[1].u.num > 0)
        size = tail->u.kids[1].u.num;
    else
        tail = NULL;
    bucket = size / HK_VIEW_RANGES;
    if (n <= HK_VIEW_RANGES || bucket <= 0) {
        for (i = 0; i < n; i++) {
            const hkj *r = hkj_at(ranges, i);
            if (!r || r->type != HKJ_ARR || r->n < 7)
                continue;
            hk_buf_s(o, first ? "[" : ",[");
            first = 0;
            hk_buf_jstr(o, hkj_str(&r->u.kids[0], "?"));
            hk_buf_f(o, ",%.0f,%.0f,%.0f,%.0f,%.0f,%.0f]", r->u.kids[1].u.num,
                     r->u.kids[2].u.num, r->u.kids[3].u.num, r->u.kids[4].u.num,
                     r->u.kids[5].u.num, r->u.kids[6].u.num);
        }
        return;
    }
    {
        /* per bucket: bytes by kind, the busy site with most bytes */
        struct {
            double kb[5], count, bytes, site_bytes, no;
            double site;
            int used;
        } b;
        long cur = -1;
        static const char kinds[] = "HBFUL";
        memset(&b, 0, sizeof b);
        if (tail)
            n--;
        for (i = 0; i <= n; i++) {
            const hkj *r = i < n ? hkj_at(ranges, i) : NULL;
            double off = 0, len = 0;
            long bi;
            const char *k = "?";
            if (r && (r->type != HKJ_ARR || r->n < 7))
                continue;
            if (r) {
                k = hkj_str(&r->u.kids[0], "?");
                off = r->u.kids[1].u.num;
                len = r->u.kids[2].u.num;
            }
            bi = r ? (long)(off / bucket) : -2;
            if (bi != cur && b.used) {
                int best = 0, j;
                for (j = 1; j < 5; j++)
                    if (b.kb[j] > b.kb[best])
                        best = j;
                hk_buf_s(o, first ? "[\"" : ",[\"");
                first = 0;
                hk_buf_put(o, &kinds[best], 1);
                hk_buf_f(o, "\",%.0f,%.0f,%.0f,%.0f,%.0f,%.0f]", (double)cur * bucket, bucket,
                         b.count, kinds[best] == 'B' ? b.site : 0, b.no, b.bytes);
                memset(&b, 0, sizeof b);
            }
            if (!r) {
                if (tail)
                    hk_buf_f(o, "%s[\"U\",%.0f,%.0f,1,0,0,%.0f]", first ? "" : ",",
                             tail->u.kids[1].u.num, tail->u.kids[2].u.num,
                             tail->u.kids[6].u.num);
                break;
            }
            cur = bi;
            b.used = 1;
            {
                int j = (int)(strchr(kinds, k[0]) ? strchr(kinds, k[0]) - kinds : 0);
                b.kb[j] += len;
                b.count += r->u.kids[3].u.num;
                b.bytes += r->u.kids[6].u.num;
                if (j == 1) {
                    if (len > b.site_bytes) {
                        b.site_bytes = len;
                        b.site = r->u.kids[4].u.num;
                    }
                    if (r->u.kids[5].u.num && (!b.no || r->u.kids[5].u.num < b.no))
                        b.no = r->u.kids[5].u.num;
                }
            }
        }
    }
}

static void hk_view_heaps(hk_buf *o, const hkj *heaps)
{
    size_t h, r;
    hk_buf_s(o, ",\n\"heaps\":[");
    for (h = 0; heaps && h < heaps->n; h++) {
        const hkj *hp = hkj_at(heaps, h), *regs = hkj_get(hp, "regions"),
                  *large = hkj_get(hp, "large");
        hk_buf_s(o, h ? ",\n{\"name\":" : "\n{\"name\":");
        hk_buf_jstr(o, hkj_str(hkj_get(hp, "name"), "?"));
        hk_buf_s(o, ",\"regions\":[");
        for (r = 0; regs && r < regs->n; r++) {
            const hkj *rg = hkj_at(regs, r);
            double size = hkj_num(hkj_get(rg, "size"), 0);
            hk_buf_s(o, r ? ",\n{\"base\":" : "\n{\"base\":");
            hk_buf_jstr(o, hkj_str(hkj_get(rg, "base"), "?"));
            hk_buf_f(o, ",\"size\":%.0f,\"committed\":%.0f,\"free_bytes\":%.0f,"
                     "\"largest_free\":%.0f,\"free_count\":%.0f,\"busy_bytes\":%.0f,"
                     "\"busy_count\":%.0f,\"ranges\":[",
                     size, hkj_num(hkj_get(rg, "committed"), 0),
                     hkj_num(hkj_get(rg, "free_bytes"), 0),
                     hkj_num(hkj_get(rg, "largest_free"), 0),
                     hkj_num(hkj_get(rg, "free_count"), 0),
                     hkj_num(hkj_get(rg, "busy_bytes"), 0),
                     hkj_num(hkj_get(rg, "busy_count"), 0));
            hk_region_ranges(o, hkj_get(rg, "ranges"), size);
            hk_buf_s(o, "]}");
        }
        /* the large blocks: one strip of their own, side by side */
        if (large && large->type == HKJ_ARR && large->n) {
            double off = 0, bytes = 0;
            size_t i;
            hk_buf s = { NULL, 0, 0 };
            for (i = 0; i < large->n; i++) {
                const hkj *l = hkj_at(large, i);
                double len;
                if (!l || l->type != HKJ_ARR || l->n < 5)
                    continue;
                len = l->u.kids[1].u.num + l->u.kids[2].u.num;
                hk_buf_f(&s, "%s[\"L\",%.0f,%.0f,1,%.0f,%.0f,%.0f]", i ? "," : "", off, len,
                         l->u.kids[3].u.num, l->u.kids[4].u.num, l->u.kids[1].u.num);
                off += len;
                bytes += l->u.kids[1].u.num;
            }
            hk_buf_f(o, "%s\n{\"base\":\"large blocks\",\"large\":true,\"size\":%.0f,"
                     "\"committed\":%.0f,\"free_bytes\":0,\"largest_free\":0,\"free_count\":0,"
                     "\"busy_bytes\":%.0f,\"busy_count\":%lu,\"ranges\":[%s]}",
                     regs && regs->n ? "," : "", off, off, bytes, (unsigned long)large->n,
                     s.p ? s.p : "");
            free(s.p);
        }
        hk_buf_s(o, "]}");
    }
    hk_buf_s(o, "]");
}

static int hk_view_snapshot(hk_buf *o, const char *path, char *err, size_t errlen)
{
    hk_snap s;
    hk_site_sum *sum;
    hk_stacks st;
    hk_fnode *root;
    size_t i;
    uint32_t id;
    int first = 1, nrow = 0;
    double live_bytes = 0;
    const char *trig;
    if (!hk_snap_load(path, &s, err, errlen))
        return 0;
    memset(&st, 0, sizeof st);
    sum = hk_xcalloc((size_t)s.max_site + 1, sizeof *sum);
    for (i = 0; i < s.nblocks; i++) {
        hk_site_sum *x = &sum[s.blocks[i].site];
        if (!x->count || s.blocks[i].no < x->first)
            x->first = s.blocks[i].no;
        if (s.blocks[i].no > x->last)
            x->last = s.blocks[i].no;
        x->count++;
        x->bytes += (double)s.blocks[i].size;
        live_bytes += (double)s.blocks[i].size;
    }
    hk_buf_s(o, "{\"kind\":\"snapshot\",\"title\":");
    hk_buf_jstr(o, s.program);
    hk_buf_s(o, ",\"summary\":[");
    hk_kv(o, &first, "Program", s.program);
    hk_kvn(o, &first, "PID", (double)s.pid);
    hk_kvn(o, &first, "Time (Unix)", s.time);
    trig = hkj_str(hkj_get(s.root, "trigger"), "?");
    hk_kv(o, &first, "Taken by", trig);
    hk_kvn(o, &first, "Allocations registered", hkj_num(hkj_get(s.root, "registered"), 0));
    hk_kvn(o, &first, "Live blocks", (double)s.nblocks);
    hk_kvn(o, &first, "Live bytes", live_bytes);
    hk_buf_s(o, "],\n\"columns\":[[\"Function\",\"s\"],[\"Place\",\"s\"],[\"Blocks\",\"n\"],"
                "[\"Bytes\",\"n\"],[\"First No.\",\"n\"],[\"Last No.\",\"n\"]],\n\"rows\":[");
    root = hk_fnode_new("all");
    for (id = 0; id <= s.max_site; id++) {
        const hk_snap_site *si = hk_snap_site_of(&s, id);
        const hk_snap_stack *sk = si->stack ? hk_snap_stack_of(&s, si->stack) : NULL;
        const char **fr = NULL, *one[1];
        size_t nfr = 0;
        long sidx = -1;
        if (!sum[id].count)
            continue;
        if (sk && sk->frames && sk->frames->n)
            sidx = hk_stack_put(&st, sk->frames, &fr, &nfr);
        if (!fr) {
            one[0] = si->key;
            hk_flame_add(root, one, 1, sum[id].bytes);
        } else {
            hk_flame_add(root, fr, nfr, sum[id].bytes);
            free(fr);
        }
        if (nrow++ >= HK_VIEW_ROWS)
            continue;
        hk_buf_s(o, nrow > 1 ? ",\n[" : "\n[");
        hk_place(o, si->function, si->file, si->line, si->module);
        hk_buf_f(o, ",%.0f,%.0f,%lu,%lu,%ld]", sum[id].count, sum[id].bytes,
                 (unsigned long)sum[id].first, (unsigned long)sum[id].last, sidx);
    }
    hk_buf_f(o, "],\"rows_total\":%d,\n\"stacks\":[%s],\n\"flame\":", nrow,
             st.json.p ? st.json.p : "");
    hk_flame_out(o, root, root->value / HK_FLAME_MIN, 0);
    /* the sites' names, by id, for the heap map's hover and colours */
    hk_buf_s(o, ",\n\"sites\":{");
    first = 1;
    for (id = 1; id <= s.max_site; id++) {
        const hk_snap_site *si = hk_snap_site_of(&s, id);
        if (!si->key || strcmp(si->key, "?") == 0)
            continue;
        hk_buf_f(o, "%s\"%lu\":", first ? "" : ",", (unsigned long)id);
        first = 0;
        hk_buf_jstr(o, si->key);
    }
    hk_buf_s(o, "}");
    hk_view_heaps(o, hkj_get(s.root, "heaps"));
    hk_buf_s(o, "}");
    hk_flame_free(root);
    hk_strs_free(&st.names);
    free(st.json.p);
    free(sum);
    hk_snap_free(&s);
    return 1;
}

/* ---- report (schema 2) ---------------------------------------------------------- */

static int hk_view_report(hk_buf *o, const hkj *r)
{
    const hkj *entries = hkj_get(r, "entries"), *sites = hkj_get(r, "sites"),
              *ls = hkj_get(r, "leak_summary"), *msgs = hkj_get(r, "messages");
    hk_stacks st;
    hk_fnode *root;
    size_t i;
    int first = 1;
    memset(&st, 0, sizeof st);
    hk_buf_s(o, "{\"kind\":\"report\",\"title\":");
    hk_buf_jstr(o, hkj_str(hkj_get(r, "program"), "?"));
    hk_buf_s(o, ",\"summary\":[");
    hk_kv(o, &first, "Program", hkj_str(hkj_get(r, "program"), "?"));
    hk_kvn(o, &first, "PID", hkj_num(hkj_get(r, "pid"), 0));
    hk_kvn(o, &first, "Allocations registered", hkj_num(hkj_get(r, "registered"), 0));
    hk_kvn(o, &first, "Entries", (entries ? entries->n : 0) +
                                     hkj_num(hkj_get(r, "entries_omitted"), 0));
    {
        static const char *const kinds[] = { "definite", "indirect", "reachable" };
        int k;
        for (k = 0; k < 3; k++) {
            const hkj *x = hkj_get(ls, kinds[k]);
            char label[64], val[96];
            if (!x)
                continue;
            snprintf(label, sizeof label, "Leaks, %s", kinds[k]);
            snprintf(val, sizeof val, "%.0f blocks, %.0f bytes", hkj_num(hkj_get(x, "count"), 0),
                     hkj_num(hkj_get(x, "bytes"), 0));
            hk_kv(o, &first, label, val);
        }
    }
    {
        /* findings: FM, S/FS, FK entries */
        double fm = 0, s = 0, fk = 0, leaks = 0, bytes = 0;
        char val[128];
        for (i = 0; entries && i < entries->n; i++) {
            const char *f = hkj_str(hkj_get(hkj_at(entries, i), "flags"), "");
            if (strstr(f, "FM"))
                fm++;
            else if (strstr(f, "FK"))
                fk++;
            else if (strchr(f, 'S'))
                s++;
            else {
                leaks++;
                bytes += hkj_num(hkj_get(hkj_at(entries, i), "size"), 0);
            }
        }
        snprintf(val, sizeof val, "%.0f blocks (%.0f bytes), %.0f unknown frees (FM), "
                 "%.0f wrong sizes (S/FS), %.0f wrong families (FK)", leaks, bytes, fm, s, fk);
        hk_kv(o, &first, "Findings listed", val);
    }
    for (i = 0; msgs && i < msgs->n; i++)
        hk_kv(o, &first, "Message", hkj_str(hkj_at(msgs, i), ""));
    hk_buf_s(o, "],\n\"columns\":[[\"No.\",\"n\"],[\"Size\",\"n\"],[\"Flags\",\"s\"],"
                "[\"Kind\",\"s\"],[\"Function\",\"s\"],[\"Place\",\"s\"],[\"Heap\",\"s\"]],"
                "\n\"rows\":[");
    for (i = 0; entries && i < entries->n && i < HK_VIEW_ROWS; i++) {
        const hkj *e = hkj_at(entries, i);
        const char **fr;
        size_t nfr;
        long sidx = hk_stack_put(&st, hkj_get(e, "frames"), &fr, &nfr);
        free(fr);
        hk_buf_s(o, i ? ",\n[" : "\n[");
        hk_buf_f(o, "%.0f,%.0f,", hkj_num(hkj_get(e, "no"), 0), hkj_num(hkj_get(e, "size"), 0));
        hk_buf_jstr(o, hkj_str(hkj_get(e, "flags"), ""));
        hk_buf_s(o, ",");
        hk_buf_jstr(o, hkj_str(hkj_get(e, "kind"), ""));
        hk_buf_s(o, ",");
        hk_place(o, hkj_str(hkj_get(e, "function"), NULL), hkj_str(hkj_get(e, "file"), NULL),
                 (int)hkj_num(hkj_get(e, "line"), 0), NULL);
        hk_buf_s(o, ",");
        hk_buf_jstr(o, hkj_str(hkj_get(e, "heap"), ""));
        hk_buf_f(o, ",%ld]", sidx);
    }
    hk_buf_f(o, "],\"rows_total\":%lu,\n\"stacks\":[",
             (unsigned long)(entries ? entries->n : 0));
    /* the icicle: the loss records (every block still held, by site) */
    root = hk_fnode_new("all");
    for (i = 0; sites && i < sites->n; i++) {
        const hkj *x = hkj_at(sites, i), *fr = hkj_get(x, "frames");
        size_t n = fr && fr->type == HKJ_ARR ? fr->n : 0, k;
        const char **v = hk_xmalloc((n ? n : 1) * sizeof *v);
        for (k = 0; k < n; k++)
            v[k] = hk_strs_add(&st.names, hk_frame_str(hkj_at(fr, k)));
        if (!n)
            v[n++] = "?";
        hk_flame_add(root, v, n, hkj_num(hkj_get(x, "bytes"), 0));
        free(v);
    }
    hk_buf_s(o, st.json.p ? st.json.p : "");
    hk_buf_s(o, "],\n\"flame\":");
    hk_flame_out(o, root, root->value / HK_FLAME_MIN, 0);
    hk_buf_s(o, ",\"sites\":{},\"heaps\":[]}");
    hk_flame_free(root);
    hk_strs_free(&st.names);
    free(st.json.p);
    return 1;
}

/* ---- diff ------------------------------------------------------------------------- */

static int hk_view_diff(hk_buf *o, const hkj *d)
{
    const hkj *sites = hkj_get(d, "sites"), *stacks = hkj_get(d, "stacks"),
              *oldj = hkj_get(d, "old"), *newj = hkj_get(d, "new");
    hk_stacks st;
    hk_fnode *root;
    size_t i;
    int first = 1;
    char val[256];
    memset(&st, 0, sizeof st);
    hk_buf_s(o, "{\"kind\":\"diff\",\"title\":");
    hk_buf_jstr(o, hkj_str(hkj_get(newj, "program"), "?"));
    hk_buf_s(o, ",\"summary\":[");
    hk_kv(o, &first, "Program", hkj_str(hkj_get(newj, "program"), "?"));
    snprintf(val, sizeof val, "%s (pid %.0f): %.0f blocks, %.0f bytes",
             hkj_str(hkj_get(oldj, "path"), "?"), hkj_num(hkj_get(oldj, "pid"), 0),
             hkj_num(hkj_get(oldj, "live_blocks"), 0), hkj_num(hkj_get(oldj, "live_bytes"), 0));
    hk_kv(o, &first, "Old", val);
    snprintf(val, sizeof val, "%s (pid %.0f): %.0f blocks, %.0f bytes",
             hkj_str(hkj_get(newj, "path"), "?"), hkj_num(hkj_get(newj, "pid"), 0),
             hkj_num(hkj_get(newj, "live_blocks"), 0), hkj_num(hkj_get(newj, "live_bytes"), 0));
    hk_kv(o, &first, "New", val);
    snprintf(val, sizeof val, "%+.0f blocks, %+.0f bytes", hkj_num(hkj_get(d, "count"), 0),
             hkj_num(hkj_get(d, "bytes"), 0));
    hk_kv(o, &first, "Change", val);
    snprintf(val, sizeof val, "%.0f blocks, %.0f bytes",
             hkj_num(hkj_get(hkj_get(d, "new_blocks"), "count"), 0),
             hkj_num(hkj_get(hkj_get(d, "new_blocks"), "bytes"), 0));
    hk_kv(o, &first, "New blocks", val);
    snprintf(val, sizeof val, "%.0f blocks, %.0f bytes",
             hkj_num(hkj_get(hkj_get(d, "freed_blocks"), "count"), 0),
             hkj_num(hkj_get(hkj_get(d, "freed_blocks"), "bytes"), 0));
    hk_kv(o, &first, "Freed blocks", val);
    hk_buf_s(o, "],\n\"columns\":[[\"Function\",\"s\"],[\"Place\",\"s\"],[\"Count\",\"n\"],"
                "[\"Bytes\",\"n\"],[\"Old count\",\"n\"],[\"New count\",\"n\"],"
                "[\"Allocated\",\"n\"],[\"Freed\",\"n\"]],\n\"rows\":[");
    for (i = 0; sites && i < sites->n && i < HK_VIEW_ROWS; i++) {
        const hkj *x = hkj_at(sites, i);
        hk_buf_s(o, i ? ",\n[" : "\n[");
        hk_place(o, hkj_str(hkj_get(x, "function"), NULL), hkj_str(hkj_get(x, "file"), NULL),
                 (int)hkj_num(hkj_get(x, "line"), 0), hkj_str(hkj_get(x, "module"), NULL));
        hk_buf_f(o, ",%.0f,%.0f,%.0f,%.0f,%.0f,%.0f,-1]", hkj_num(hkj_get(x, "count"), 0),
                 hkj_num(hkj_get(x, "bytes"), 0), hkj_num(hkj_get(x, "old_count"), 0),
                 hkj_num(hkj_get(x, "new_count"), 0),
                 hkj_num(hkj_get(hkj_get(x, "allocated"), "count"), 0),
                 hkj_num(hkj_get(hkj_get(x, "freed"), "count"), 0));
    }
    hk_buf_f(o, "],\"rows_total\":%lu,\n\"bars\":[", (unsigned long)(sites ? sites->n : 0));
    for (i = 0, first = 1; sites && i < sites->n; i++) {
        const hkj *x = hkj_at(sites, i);
        hk_buf b = { NULL, 0, 0 };
        if (hkj_num(hkj_get(x, "bytes"), 0) == 0 && hkj_num(hkj_get(x, "count"), 0) == 0)
            continue;
        hk_buf_s(o, first ? "[" : ",[");
        first = 0;
        hk_buf_f(&b, "%s %s:%.0f", hkj_str(hkj_get(x, "function"), "?"),
                 hkj_str(hkj_get(x, "file"), hkj_str(hkj_get(x, "module"), "?")),
                 hkj_num(hkj_get(x, "line"), 0));
        hk_buf_jstr(o, b.p);
        free(b.p);
        hk_buf_f(o, ",%.0f,%.0f]", hkj_num(hkj_get(x, "count"), 0),
                 hkj_num(hkj_get(x, "bytes"), 0));
    }
    hk_buf_s(o, "],\n\"stacks\":[],\n\"flame\":");
    /* the icicle: the growth (bytes > 0) by stack */
    root = hk_fnode_new("growth");
    for (i = 0; stacks && i < stacks->n; i++) {
        const hkj *x = hkj_at(stacks, i), *fr = hkj_get(x, "frames");
        size_t n = fr && fr->type == HKJ_ARR ? fr->n : 0, k;
        const char **v;
        double bytes = hkj_num(hkj_get(x, "bytes"), 0);
        if (bytes <= 0 || !n)
            continue;
        v = hk_xmalloc(n * sizeof *v);
        for (k = 0; k < n; k++)
            v[k] = hkj_str(hkj_at(fr, k), "?");
        hk_flame_add(root, v, n, bytes);
        free(v);
    }
    hk_flame_out(o, root, root->value / HK_FLAME_MIN, 0);
    hk_buf_s(o, ",\"sites\":{},\"heaps\":[]}");
    hk_flame_free(root);
    return 1;
}

/* ---- the command ------------------------------------------------------------------ */

static int hk_view_usage(void)
{
    fprintf(stderr, "Usage: heapkit view [-o FILE.html] FILE.json\n"
                    "Try 'heapkit --help'.\n");
    return HK_USAGE;
}

int hk_cmd_view(int argc, char **argv)
{
    const char *in = NULL, *out_path = "heapkit-report.html", *schema, *mark;
    hk_buf data = { NULL, 0, 0 };
    char err[512], *text = NULL, *last = NULL, *s;
    size_t len = 0;
    hkj_doc *doc = NULL;
    int i, ok;
    FILE *f;
    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
            out_path = argv[++i];
        else if (strncmp(argv[i], "--output=", 9) == 0)
            out_path = argv[i] + 9;
        else if (argv[i][0] == '-' && argv[i][1])
            return hk_view_usage();
        else if (!in)
            in = argv[i];
        else
            return hk_view_usage();
    }
    if (!in || !*out_path)
        return hk_view_usage();
    /* what it is: a snapshot (one document), else JSON Lines (reports) or
     * a diff: the last non-empty line is the document */
    text = hk_read_file(in, &len);
    if (!text) {
        fprintf(stderr, "heapkit view: cannot read '%s'\n", in);
        return HK_USAGE;
    }
    if (strstr(text, "\"schema\":\"heapkit-snapshot\"")
        && strstr(text, "\"schema\":\"heapkit-snapshot\"") < text + 64) {
        free(text);
        ok = hk_view_snapshot(&data, in, err, sizeof err);
    } else {
        if (strncmp(text, "{\"schema\":\"heapkit-diff\"", 24) == 0) {
            last = text;
        } else {
            /* JSON Lines: the last report */
            for (s = text; *s;) {
                char *e = strchr(s, '\n');
                char *t = s;
                while (*t == ' ' || *t == '\t' || *t == '\r')
                    t++;
                if (*t && *t != '\n')
                    last = s;
                if (!e)
                    break;
                *e = 0;
                s = e + 1;
            }
        }
        ok = 0;
        if (!last) {
            snprintf(err, sizeof err, "'%s' is empty", in);
        } else if ((doc = hkj_parse(last, strlen(last), err, sizeof err)) != NULL) {
            const hkj *r = hkj_root(doc);
            schema = hkj_str(hkj_get(r, "schema"), NULL);
            if (schema && strcmp(schema, "heapkit-diff") == 0)
                ok = hk_view_diff(&data, r);
            else if (hkj_num(hkj_get(r, "schema"), 0) == 2 && hkj_get(r, "entries"))
                ok = hk_view_report(&data, r);
            else
                snprintf(err, sizeof err, "'%s' is not a heapkit snapshot, diff or JSON report"
                         " (schema 2)", in);
        }
        hkj_free(doc);
        free(text);
    }
    if (!ok) {
        fprintf(stderr, "heapkit view: %s\n", err);
        free(data.p);
        return HK_USAGE;
    }
    mark = strstr(hk_view_template, "/*HK_DATA*/");
    if (!mark) {
        fprintf(stderr, "heapkit view: internal error: the template has no data placeholder\n");
        return HK_USAGE;
    }
    f = fopen(out_path, "wb");
    if (!f) {
        perror(out_path);
        free(data.p);
        return HK_USAGE;
    }
    ok = fwrite(hk_view_template, 1, (size_t)(mark - hk_view_template), f)
             == (size_t)(mark - hk_view_template);
    ok &= fwrite(data.p, 1, data.n, f) == data.n;
    ok &= fputs(mark + strlen("/*HK_DATA*/"), f) >= 0;
    ok &= fclose(f) == 0;
    free(data.p);
    if (!ok) {
        fprintf(stderr, "heapkit view: cannot write %s\n", out_path);
        return HK_USAGE;
    }
    return 0;
}
