/*
 * snapshot.c - hk_debug_snapshot: the live blocks, their sites and stacks,
 * and the walk of every heap that can be walked, as one JSON document
 * (schema "heapkit-snapshot", version 1; README "Snapshots").  And its
 * triggers (HEAPKIT_SNAPSHOT_ON): exit, a signal, every N allocations.
 *
 * Never from a signal handler: the handler only sets a flag, and a
 * thread of the debugger's own (started with the preload / hook DLL)
 * takes the snapshot, as it does for the N-allocations trigger.  The
 * writer runs under the internal guard (nothing it allocates is recorded)
 * and holds no tracker lock while it symbolizes or walks.
 */
#include "tracker.h"
#include "out.h"
#include "symbolize.h"
#include "stacks.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef _WIN32
#  include <io.h>
#  include <windows.h>
#  define hk__sopen(p) _open((p), _O_WRONLY | _O_TRUNC | _O_CREAT | _O_BINARY, 0644)
#  define hk__sclose _close
#else
#  include <errno.h>
#  include <pthread.h>
#  include <signal.h>
#  include <unistd.h>
#  define hk__sopen(p) open((p), O_WRONLY | O_TRUNC | O_CREAT, 0644)
#  define hk__sclose close
#endif

#define HK__SNAP_SCHEMA "heapkit-snapshot"
#define HK__SNAP_VERSION 1

/* ---- output ------------------------------------------------------------------ */

static void hk__put_hex(hk__out *o, uintptr_t v)
{
    char b[24], *e = b + sizeof b;
    do
        *--e = "0123456789abcdef"[v & 15];
    while (v >>= 4);
    *--e = 'x';
    *--e = '0';
    hk__out_puts(o, "\"");
    hk__out_put(o, e, (size_t)(b + sizeof b - e));
    hk__out_puts(o, "\"");
}

/* ---- the live records ------------------------------------------------------------ */

static void hk__snap_rec(const hk__rec *r, void *arg)
{
    hk__rec *slot = hk__dbg_vec_push(arg);
    if (slot)
        *slot = *r;
}

static int hk__by_no(const void *a, const void *b)
{
    const hk__rec *x = a, *y = b;
    return x->no < y->no ? -1 : x->no > y->no;
}

static int hk__by_ptr(const void *a, const void *b)
{
    const hk__rec *x = a, *y = b;
    return x->ptr < y->ptr ? -1 : x->ptr > y->ptr;
}

static int hk__by_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The record of the block at p (any heap), or NULL: recs sorted by ptr. */
static const hk__rec *hk__rec_at_ptr(const hk__rec *recs, size_t n, uintptr_t p)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (recs[mid].ptr < p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && recs[lo].ptr == p ? &recs[lo] : NULL;
}

/* ---- the walk ----------------------------------------------------------------------- */

static int hk__walk_add(const hk_heap_entry *e, void *arg)
{
    hk_heap_entry *slot = hk__dbg_vec_push(arg);
    if (!slot)
        return 1;
    *slot = *e;
    return 0;
}

/* One merged range of a region: kind B(usy) F(ree) U(ncommitted). */
typedef struct {
    char kind;
    uintptr_t off, end;
    unsigned long count;
    uint32_t site, no;
    uint64_t bytes;            /* busy: requested bytes; free: usable bytes */
} hk__range;

static void hk__range_out(hk__out *o, const hk__range *r, int first)
{
    char k[8] = ",[\"B\",";
    k[3] = r->kind;
    hk__out_put(o, first ? k + 1 : k, first ? 5 : 6);
    hk__out_u(o, r->off);
    hk__out_puts(o, ",");
    hk__out_u(o, r->end - r->off);
    hk__out_puts(o, ",");
    hk__out_u(o, r->count);
    hk__out_puts(o, ",");
    hk__out_u(o, r->site);
    hk__out_puts(o, ",");
    hk__out_u(o, r->no);
    hk__out_puts(o, ",");
    hk__out_u(o, r->bytes);
    hk__out_puts(o, "]");
}

typedef struct {
    uintptr_t base, end;
    size_t committed, uncommitted;
    uint64_t free_bytes, largest_free, busy_bytes;
    unsigned long free_count, busy_count;
    int index;
    int open, nranges;
    hk__range cur;
} hk__region;

static void hk__region_put(hk__out *o, hk__region *rg, char kind, uintptr_t at, uintptr_t len,
                           uint64_t bytes, uint32_t site, uint32_t no)
{
    uintptr_t off = at >= rg->base ? at - rg->base : 0;
    hk__range *c = &rg->cur;
    /* neighbours of one kind (busy: of one site) are one range: a strip
     * is drawn from ranges, never from blocks */
    if (rg->open && c->kind == kind && (kind != 'B' || c->site == site) && off >= c->off) {
        c->end = off + len > c->end ? off + len : c->end;
        c->count++;
        c->bytes += bytes;
        if (no && (!c->no || no < c->no))
            c->no = no;
        return;
    }
    if (rg->open)
        hk__range_out(o, c, rg->nranges++ == 0);
    c->kind = kind;
    c->off = off;
    c->end = off + len;
    c->count = 1;
    c->site = site;
    c->no = no;
    c->bytes = bytes;
    rg->open = 1;
}

static void hk__region_close(hk__out *o, hk__region *rg)
{
    if (rg->open)
        hk__range_out(o, &rg->cur, rg->nranges++ == 0);
    rg->open = 0;
    hk__out_puts(o, "],\"free_bytes\":");
    hk__out_u(o, rg->free_bytes);
    hk__out_puts(o, ",\"largest_free\":");
    hk__out_u(o, rg->largest_free);
    hk__out_puts(o, ",\"free_count\":");
    hk__out_u(o, rg->free_count);
    hk__out_puts(o, ",\"busy_bytes\":");
    hk__out_u(o, rg->busy_bytes);
    hk__out_puts(o, ",\"busy_count\":");
    hk__out_u(o, rg->busy_count);
    hk__out_puts(o, "}");
}

static void hk__region_open(hk__out *o, hk__region *rg, const hk_heap_entry *e, int first,
                            int index)
{
    memset(rg, 0, sizeof *rg);
    rg->base = (uintptr_t)e->data;
    rg->end = (uintptr_t)e->u.region.last_block;
    if (rg->end < rg->base)
        rg->end = rg->base;
    rg->index = index;
    hk__out_puts(o, first ? "{\"index\":" : ",{\"index\":");
    hk__out_u(o, (unsigned long long)index);
    hk__out_puts(o, ",\"base\":");
    hk__put_hex(o, rg->base);
    hk__out_puts(o, ",\"size\":");
    hk__out_u(o, rg->end - rg->base);
    hk__out_puts(o, ",\"committed\":");
    hk__out_u(o, e->u.region.committed);
    hk__out_puts(o, ",\"uncommitted\":");
    hk__out_u(o, e->u.region.uncommitted);
    hk__out_puts(o, ",\"ranges\":[");
    /* the region's header */
    hk__region_put(o, rg, 'H', rg->base, e->size + e->overhead, 0, 0, 0);
}

/* A heap's walk: its regions with their ranges, then its large blocks. */
static void hk__snap_heap(hk__out *o, hk_heap *h, const hk__rec *recs, size_t nrec,
                          uint32_t *site_used, int *first_heap)
{
    hk__dbg_vec ents = { NULL, 0, 0, sizeof(hk_heap_entry), 0 };
    const char *backend = hk_heap_backend(h);
    hk__region rg;
    size_t i;
    int nreg = 0, nlarge = 0, in_region = 0;
    unsigned id = hk__heap_id(h);
    if (!backend)
        return;
    if (!hk_visit(h, hk__walk_add, &ents) || ents.failed) {
        hk__dbg_vec_free(&ents);
        return;                   /* not walkable now: left out */
    }
    hk__out_puts(o, *first_heap ? "\n{\"id\":" : ",\n{\"id\":");
    *first_heap = 0;
    hk__out_u(o, id);
    hk__out_puts(o, ",\"name\":\"");
    {
        const char *be = "?";
        uint64_t seq = 0;
        if (!hk__heap_describe(id, &be, &seq))
            be = backend;
        hk__out_puts(o, be);
        hk__out_puts(o, "#");
        hk__out_u(o, seq);
    }
    hk__out_puts(o, "\",\"backend\":");
    hk__out_json_str(o, backend);
    hk__out_puts(o, ",\"process_heap\":");
    hk__out_puts(o, h == hk_process_heap() ? "true" : "false");
    hk__out_puts(o, ",\"regions\":[");
    memset(&rg, 0, sizeof rg);
    for (i = 0; i < ents.n; i++) {
        const hk_heap_entry *e = (const hk_heap_entry *)ents.p + i;
        uintptr_t at = (uintptr_t)e->data;
        const hk__rec *r;
        uint32_t site = 0, no = 0;
        if (e->flags == HK_ENTRY_REGION) {
            if (in_region)
                hk__region_close(o, &rg);
            hk__region_open(o, &rg, e, nreg == 0, nreg);
            nreg++;
            in_region = 1;
            continue;
        }
        if (in_region && (at < rg.base || at >= rg.end)) {
            hk__region_close(o, &rg);   /* past the regions: the large blocks */
            in_region = 0;
        }
        if (e->flags == HK_ENTRY_BUSY && (r = hk__rec_at_ptr(recs, nrec, at)) != NULL) {
            site = r->site;
            no = r->no;
            if (site)
                site_used[site] = 1;
        }
        if (!in_region) {
            if (e->flags != HK_ENTRY_BUSY)
                continue;
            if (nlarge == 0)
                hk__out_puts(o, nreg ? "],\"large\":[" : "],\"large\":[");
            hk__out_puts(o, nlarge++ ? ",[" : "[");
            hk__put_hex(o, at);
            hk__out_puts(o, ",");
            hk__out_u(o, e->size);
            hk__out_puts(o, ",");
            hk__out_u(o, e->overhead);
            hk__out_puts(o, ",");
            hk__out_u(o, site);
            hk__out_puts(o, ",");
            hk__out_u(o, no);
            hk__out_puts(o, "]");
            continue;
        }
        switch (e->flags) {
        case HK_ENTRY_BUSY:
            rg.busy_bytes += e->size;
            rg.busy_count++;
            hk__region_put(o, &rg, 'B', at, e->size + e->overhead, e->size, site, no);
            break;
        case HK_ENTRY_FREE:
            rg.free_bytes += e->size;
            rg.free_count++;
            if (e->size > rg.largest_free)
                rg.largest_free = e->size;
            hk__region_put(o, &rg, 'F', at, e->size + e->overhead, e->size, 0, 0);
            break;
        case HK_ENTRY_UNCOMMITTED:
            hk__region_put(o, &rg, 'U', at, e->size, e->size, 0, 0);
            break;
        }
    }
    if (in_region)
        hk__region_close(o, &rg);
    if (nlarge == 0)
        hk__out_puts(o, "],\"large\":[");
    hk__out_puts(o, "]}");
    hk__dbg_vec_free(&ents);
}

/* ---- the document ---------------------------------------------------------------------- */

static void hk__snap_frame(hk__out *o, uintptr_t pc, int first)
{
    hk__frame_info fi;
    memset(&fi, 0, sizeof fi);
    if (pc)
        hk__symbolize(pc, &fi);
    hk__out_puts(o, first ? "{\"pc\":" : ",{\"pc\":");
    hk__put_hex(o, pc);
    hk__out_puts(o, ",\"function\":");
    hk__out_json_str(o, fi.function);
    hk__out_puts(o, ",\"file\":");
    hk__out_json_str(o, fi.file);
    hk__out_puts(o, ",\"line\":");
    if (fi.file && fi.line > 0)
        hk__out_u(o, (unsigned long long)fi.line);
    else
        hk__out_puts(o, "null");
    hk__out_puts(o, ",\"module\":");
    hk__out_json_str(o, fi.module);
    hk__out_puts(o, "}");
}

static unsigned long hk__snap_seq;      /* snapshots written (%n) */
static volatile int hk__snap_busy;

static unsigned long hk__snap_pid(void)
{
#ifdef _WIN32
    return (unsigned long)GetCurrentProcessId();
#else
    return (unsigned long)getpid();
#endif
}

/* The path of snapshot number seq: %p the pid, %n seq, %% a percent. */
static void hk__snap_path(const char *tmpl, unsigned long seq, char *out, size_t cap)
{
    size_t n = 0;
    for (; *tmpl && n + 24 < cap; tmpl++) {
        if (tmpl[0] == '%' && (tmpl[1] == 'p' || tmpl[1] == 'n')) {
            char b[24], *e = b + sizeof b;
            unsigned long v = tmpl[1] == 'p' ? hk__snap_pid() : seq;
            *--e = 0;
            do
                *--e = (char)('0' + v % 10);
            while (v /= 10);
            while (*e)
                out[n++] = *e++;
            tmpl++;
        } else if (tmpl[0] == '%' && tmpl[1] == '%') {
            out[n++] = '%';
            tmpl++;
        } else {
            out[n++] = *tmpl;
        }
    }
    out[n] = 0;
}

static int hk__snap_write(const char *path, const char *trigger)
{
    static hk__out out;                       /* 64 KiB: not on the stack */
    hk__dbg_vec recs = { NULL, 0, 0, sizeof(hk__rec), 0 };
    hk__dbg_vec stacks = { NULL, 0, 0, sizeof(uint32_t), 0 };
    uint32_t *site_used = NULL, nsites, i;
    size_t site_bytes = 0, k, nheaps;
    hk_heap *heaps[256];
    int fd, first_heap = 1;
    unsigned long seq = ++hk__snap_seq;
    char buf[1100];
    if (!path) {
        hk__snap_path(hk__dbg_cfg.snapshot_path[0] ? hk__dbg_cfg.snapshot_path
                                                   : HK__SNAP_DEFAULT_PATH,
                      seq, buf, sizeof buf);
        path = buf;
    }
    fd = hk__sopen(path);
    if (fd < 0)
        return 0;
    hk__out_open(&out, fd);
    hk__dbg_each_record(hk__snap_rec, &recs, 1);
    if (recs.n)
        qsort(recs.p, recs.n, sizeof(hk__rec), hk__by_no);
    nsites = hk__dbg_nsites();
    site_bytes = ((size_t)nsites + 1) * sizeof *site_used;
    site_used = hk__dbg_os_alloc(site_bytes);

    hk__out_puts(&out, "{\"schema\":\"" HK__SNAP_SCHEMA "\",\"version\":");
    hk__out_u(&out, HK__SNAP_VERSION);
    hk__out_puts(&out, ",\"program\":");
    hk__out_json_str(&out, hk__dbg_program());
    hk__out_puts(&out, ",\"pid\":");
    hk__out_u(&out, hk__snap_pid());
    hk__out_puts(&out, ",\"time\":");
    hk__out_u(&out, (unsigned long long)time(NULL));
    hk__out_puts(&out, ",\"seq\":");
    hk__out_u(&out, seq);
    hk__out_puts(&out, ",\"trigger\":");
    hk__out_json_str(&out, trigger);
#ifdef _WIN32
    hk__out_puts(&out, ",\"os\":\"windows\"");
#else
    hk__out_puts(&out, ",\"os\":\"posix\"");
#endif
    hk__out_puts(&out, ",\"registered\":");
    hk__out_u(&out, hk__dbg_registered());
    hk__out_puts(&out, ",\"complete\":");
    hk__out_puts(&out, recs.failed || !site_used ? "false" : "true");
    {
        uint64_t bytes = 0;
        for (k = 0; k < recs.n; k++)
            bytes += HK__REC_SIZE((const hk__rec *)recs.p + k);
        hk__out_puts(&out, ",\"live_blocks\":");
        hk__out_u(&out, recs.n);
        hk__out_puts(&out, ",\"live_bytes\":");
        hk__out_u(&out, bytes);
    }
    /* blocks: [no, size, site, heap], by allocation number */
    hk__out_puts(&out, ",\n\"blocks\":[");
    for (k = 0; k < recs.n; k++) {
        const hk__rec *r = (const hk__rec *)recs.p + k;
        hk__out_puts(&out, k ? (k % 8 ? ",[" : ",\n[") : "[");
        hk__out_u(&out, r->no);
        hk__out_puts(&out, ",");
        hk__out_u(&out, HK__REC_SIZE(r));
        hk__out_puts(&out, ",");
        hk__out_u(&out, r->site);
        hk__out_puts(&out, ",");
        hk__out_u(&out, HK__REC_HEAP(r));
        hk__out_puts(&out, "]");
        if (site_used && r->site <= nsites)
            site_used[r->site] = 1;
    }
    hk__out_puts(&out, "],\n\"heaps\":[");
    if (recs.n)
        qsort(recs.p, recs.n, sizeof(hk__rec), hk__by_ptr);
    nheaps = hk_process_heaps(heaps, sizeof heaps / sizeof *heaps);
    if (nheaps > sizeof heaps / sizeof *heaps)
        nheaps = sizeof heaps / sizeof *heaps;
    for (k = 0; k < nheaps; k++) {
        static uint32_t dummy[1];
        hk__snap_heap(&out, heaps[k], (const hk__rec *)recs.p, recs.n,
                      site_used ? site_used : dummy, &first_heap);
    }
    /* heap ids the blocks name: malloc is 0, hk heaps their id */
    hk__out_puts(&out, "],\n\"heap_names\":{\"0\":\"malloc\"");
    {
        /* the distinct heap ids of the blocks (few): a bit per id */
        static uint8_t seen[0x10000 / 8];
        memset(seen, 0, sizeof seen);
        for (k = 0; k < recs.n; k++) {
            unsigned h = HK__REC_HEAP((const hk__rec *)recs.p + k);
            seen[h >> 3] |= (uint8_t)(1u << (h & 7));
        }
        for (i = 1; i < 0x10000u; i++) {
            const char *be;
            uint64_t seq2;
            if (!(seen[i >> 3] & (1u << (i & 7))) || !hk__heap_describe(i, &be, &seq2) || !be)
                continue;
            hk__out_puts(&out, ",\"");
            hk__out_u(&out, i);
            hk__out_puts(&out, "\":\"");
            hk__out_puts(&out, be);
            hk__out_puts(&out, "#");
            hk__out_u(&out, seq2);
            hk__out_puts(&out, "\"");
        }
    }
    hk__out_puts(&out, "},\n\"sites\":[");
    {
        int first = 1;
        for (i = 1; site_used && i <= nsites; i++) {
            const hk__site *st;
            hk__frame_info fi;
            if (!site_used[i] || !(st = hk__dbg_site(i)))
                continue;
            memset(&fi, 0, sizeof fi);
            if (st->caller)
                hk__symbolize(st->caller, &fi);
            hk__out_puts(&out, first ? "\n{\"id\":" : ",\n{\"id\":");
            first = 0;
            hk__out_u(&out, i);
            hk__out_puts(&out, ",\"function\":");
            hk__out_json_str(&out, st->func ? st->func : fi.function);
            hk__out_puts(&out, ",\"file\":");
            hk__out_json_str(&out, st->file ? st->file : fi.file);
            hk__out_puts(&out, ",\"line\":");
            if (st->file && st->line > 0)
                hk__out_u(&out, (unsigned long long)st->line);
            else if (!st->file && fi.file && fi.line > 0)
                hk__out_u(&out, (unsigned long long)fi.line);
            else
                hk__out_puts(&out, "null");
            hk__out_puts(&out, ",\"module\":");
            hk__out_json_str(&out, fi.module);
            hk__out_puts(&out, ",\"caller\":");
            hk__put_hex(&out, st->caller);
            hk__out_puts(&out, ",\"type\":");
            hk__out_json_str(&out, st->type);
            hk__out_puts(&out, ",\"stack\":");
            hk__out_u(&out, st->stack);
            hk__out_puts(&out, "}");
            if (st->stack) {
                uint32_t *s = hk__dbg_vec_push(&stacks);
                if (s)
                    *s = st->stack;
            }
        }
    }
    /* stacks: each once (sites may share one) */
    hk__out_puts(&out, "],\n\"stacks\":[");
    {
        uint32_t *s = stacks.p;
        size_t j, w = 0;
        int first = 1;
        if (stacks.n) {
            qsort(s, stacks.n, sizeof *s, hk__by_u32);
            for (j = 0; j < stacks.n; j++)
                if (j == 0 || s[j] != s[j - 1])
                    s[w++] = s[j];
        }
        for (j = 0; j < w; j++) {
            const uintptr_t *f;
            size_t nf = hk__stack_frames(s[j], &f), q;
            hk__out_puts(&out, first ? "\n{\"id\":" : ",\n{\"id\":");
            first = 0;
            hk__out_u(&out, s[j]);
            hk__out_puts(&out, ",\"frames\":[");
            for (q = 0; q < nf; q++)
                hk__snap_frame(&out, f[q], q == 0);
            hk__out_puts(&out, "]}");
        }
    }
    hk__out_puts(&out, "]}\n");
    hk__out_flush(&out);
    hk__sclose(fd);
    hk__dbg_vec_free(&recs);
    hk__dbg_vec_free(&stacks);
    if (site_used)
        hk__dbg_os_free(site_used, site_bytes);
    return !out.err;
}

int hk__dbg_snapshot(const char *path, const char *trigger)
{
    int r;
    /* one at a time: the output buffer is static */
    while (__atomic_exchange_n(&hk__snap_busy, 1, __ATOMIC_ACQUIRE))
#ifdef _WIN32
        Sleep(1);
#else
        sched_yield();
#endif
    hk__dbg_internal_enter();
    r = hk__snap_write(path, trigger);
    hk__dbg_internal_leave();
    __atomic_store_n(&hk__snap_busy, 0, __ATOMIC_RELEASE);
    return r;
}

int hk_debug_snapshot(const char *path)
{
    hk__dbg_start();
    if (HK__FWD(snapshot))
        return hk__dbg_fwd->snapshot(path);     /* the preload's tracker has the blocks */
    if (path && !*path) {
        hk_set_last_error(HK_ERR_INVALID_PARAMETER);
        return 0;
    }
    if (!hk__dbg_snapshot(path, "call")) {
        hk_set_last_error(HK_ERR_INVALID_PARAMETER);
        return 0;
    }
    return 1;
}

/* ---- triggers -------------------------------------------------------------------------- */

static volatile int hk__snap_signalled;

void hk__dbg_snapshot_at_exit(void)
{
    if (hk__dbg_cfg.snapshot_exit)
        hk__dbg_snapshot(NULL, "exit");
}

/* The trigger thread: every 10 ms, a pending signal or the next multiple
 * of N allocations (so an N-allocations snapshot comes within 10 ms of
 * the N-th allocation, not at it exactly). */
static void hk__snap_poll(void)
{
    unsigned long long next = hk__dbg_cfg.snapshot_allocs;
    for (;;) {
#ifdef _WIN32
        Sleep(10);
#else
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
#endif
        if (__atomic_exchange_n(&hk__snap_signalled, 0, __ATOMIC_ACQ_REL))
            hk__dbg_snapshot(NULL, "signal");
        if (next && hk__dbg_registered() >= next) {
            hk__dbg_snapshot(NULL, "allocs");
            while (next <= hk__dbg_registered())
                next += hk__dbg_cfg.snapshot_allocs;
        }
    }
}

#ifdef _WIN32
static DWORD WINAPI hk__snap_thread(LPVOID arg)
{
    (void)arg;
    hk__dbg_internal_enter();       /* its own allocations are not the program's */
    hk__snap_poll();
    return 0;
}
#else
static void hk__snap_on_signal(int sig)
{
    (void)sig;
    __atomic_store_n(&hk__snap_signalled, 1, __ATOMIC_RELEASE);
}

static void *hk__snap_thread(void *arg)
{
    sigset_t all;
    (void)arg;
    sigfillset(&all);               /* the program's signals go to its threads */
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    hk__dbg_internal_enter();
    hk__snap_poll();
    return NULL;
}
#endif

void hk__dbg_snapshot_triggers(void)
{
    static int started;
    if (started || (!hk__dbg_cfg.snapshot_signal && !hk__dbg_cfg.snapshot_allocs))
        return;
    started = 1;
#ifdef _WIN32
    {
        HANDLE t = CreateThread(NULL, 0, hk__snap_thread, NULL, 0, NULL);
        if (t)
            CloseHandle(t);
    }
#else
    if (hk__dbg_cfg.snapshot_signal) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = hk__snap_on_signal;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        sigaction(hk__dbg_cfg.snapshot_signal, &sa, NULL);
    }
    {
        pthread_t t;
        pthread_attr_t a;
        hk__dbg_internal_enter();
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        pthread_create(&t, &a, hk__snap_thread, NULL);
        pthread_attr_destroy(&a);
        hk__dbg_internal_leave();
    }
#endif
}
