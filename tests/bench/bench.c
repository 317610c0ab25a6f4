/*
 * bench.c - `make bench`: the same workloads on every allocator this build
 * can reach, side by side in one process.  Each figure is the median of
 * g_rounds (>= 5) interleaved rounds (benchutil.h: every contestant once
 * per round, the order rotated), in the worker threads' own CPU time, with
 * the spread (min-max) beside it, and the ratio of medians to malloc and
 * to mimalloc.  Speed targets live here, never in tests.
 *
 *   bench [workload ...]   churn own shared prodcons big bigblk realloc
 *                          thrash memory walk
 *   BENCH_SCALE=0.1 bench  scale the operation counts
 *   BENCH_ROUNDS=9 bench   more rounds (at least 5)
 *   BENCH_ONLY=hk:arena bench  only these contestants (besides malloc)
 *
 * Contestants: malloc (the C library), mimalloc (mi_malloc, raw), win32
 * (HeapAlloc on a private heap, raw; Windows only), and heapkit's backends
 * through the public API (hk:arena, hk:mimalloc, hk:win32).
 *
 * mimalloc on Linux: Debian's libmimalloc.so overrides malloc for the
 * whole process when a program links it, so this program does not: it is
 * loaded already as libheapkit's dependency (found after libc, so it does
 * not interpose), and mi_* are taken from it with dlopen(RTLD_NOLOAD |
 * RTLD_LOCAL) + dlsym; malloc is glibc's, taken from libc itself.
 */
#ifdef HAVE_CONFIG_H
#  include "config.h"
#endif

#include <heapkit.h>

#include "benchutil.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sched.h>
#include <stdbool.h>
#ifdef HK_HAVE_MIMALLOC
#  include <mimalloc.h>
#endif
#if defined(__linux__)
#  include <malloc.h>
#endif
#ifdef _WIN32
#  include <windows.h>
#endif

/* ---- contestants --------------------------------------------------------- */

typedef struct contestant {
    const char *name;
    void *(*alloc)(void *ctx, size_t n);
    void *(*realloc)(void *ctx, void *p, size_t n);
    void (*free)(void *ctx, void *p);
    void *(*open)(const char *arg);     /* per run: make a heap */
    void (*close)(void *ctx);
    const char *arg;
    int shared;         /* ctx NULL: one process-wide allocator */
} contestant;

static void *sys_open(const char *a) { (void)a; return NULL; }
static void sys_close(void *c) { (void)c; }
/* The bench calls mi_* directly, so it links libmimalloc, whose Debian
 * build overrides malloc (and __libc_malloc): take glibc's allocator from
 * libc itself, so the baseline is the system malloc. */
#if defined(__GLIBC__)
#  include <dlfcn.h>
#  include <gnu/lib-names.h>
static void *(*sys_malloc_fn)(size_t);
static void *(*sys_realloc_fn)(void *, size_t);
static void (*sys_free_fn)(void *);
static void sys_resolve(void)
{
    void *libc = dlopen(LIBC_SO, RTLD_NOW | RTLD_NOLOAD);
    if (libc) {
        *(void **)&sys_malloc_fn = dlsym(libc, "malloc");
        *(void **)&sys_realloc_fn = dlsym(libc, "realloc");
        *(void **)&sys_free_fn = dlsym(libc, "free");
    }
    if (!sys_malloc_fn || !sys_realloc_fn || !sys_free_fn) {
        sys_malloc_fn = malloc;
        sys_realloc_fn = realloc;
        sys_free_fn = free;
    }
}
#  define HK_SYS_MALLOC sys_malloc_fn
#  define HK_SYS_REALLOC sys_realloc_fn
#  define HK_SYS_FREE sys_free_fn
#else
static void sys_resolve(void) {}
#  define HK_SYS_MALLOC malloc
#  define HK_SYS_REALLOC realloc
#  define HK_SYS_FREE free
#endif
static void *sys_alloc(void *c, size_t n) { (void)c; return HK_SYS_MALLOC(n); }
static void *sys_realloc(void *c, void *p, size_t n) { (void)c; return HK_SYS_REALLOC(p, n); }
static void sys_free(void *c, void *p) { (void)c; HK_SYS_FREE(p); }

#ifdef HK_HAVE_MIMALLOC
/* mi_* through pointers: dlsym on glibc systems (see the top), direct
 * (a static link) elsewhere. */
static struct {
    void *(*malloc)(size_t);
    void *(*realloc)(void *, size_t);
    void (*free)(void *);
    void (*collect)(bool);
    mi_heap_t *(*heap_new)(void);
    void *(*heap_malloc)(mi_heap_t *, size_t);
    bool (*heap_visit)(const mi_heap_t *, bool, mi_block_visit_fun *, void *);
    void (*heap_destroy)(mi_heap_t *);
} mi;
static int mi_resolve(void)
{
#  if defined(__GLIBC__)
    void *lib = dlopen("libmimalloc.so.2", RTLD_NOW | RTLD_NOLOAD | RTLD_LOCAL);
    if (!lib) lib = dlopen("libmimalloc.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!lib) return 0;
    *(void **)&mi.malloc = dlsym(lib, "mi_malloc");
    *(void **)&mi.realloc = dlsym(lib, "mi_realloc");
    *(void **)&mi.free = dlsym(lib, "mi_free");
    *(void **)&mi.collect = dlsym(lib, "mi_collect");
    *(void **)&mi.heap_new = dlsym(lib, "mi_heap_new");
    *(void **)&mi.heap_malloc = dlsym(lib, "mi_heap_malloc");
    *(void **)&mi.heap_visit = dlsym(lib, "mi_heap_visit_blocks");
    *(void **)&mi.heap_destroy = dlsym(lib, "mi_heap_destroy");
#  else
    mi.malloc = mi_malloc; mi.realloc = mi_realloc; mi.free = mi_free;
    mi.collect = mi_collect; mi.heap_new = mi_heap_new; mi.heap_malloc = mi_heap_malloc;
    mi.heap_visit = mi_heap_visit_blocks; mi.heap_destroy = mi_heap_destroy;
#  endif
    return mi.malloc && mi.realloc && mi.free && mi.collect && mi.heap_new &&
           mi.heap_malloc && mi.heap_visit && mi.heap_destroy;
}
static void *mi_open(const char *a) { (void)a; return NULL; }
static void *mi_alloc_(void *c, size_t n) { (void)c; return mi.malloc(n); }
static void *mi_realloc_(void *c, void *p, size_t n) { (void)c; return mi.realloc(p, n); }
static void mi_free_(void *c, void *p) { (void)c; mi.free(p); }
#endif

#ifdef _WIN32
static void *w32_open(const char *a) { (void)a; return HeapCreate(0, 0, 0); }
static void w32_close(void *c) { HeapDestroy(c); }
static void *w32_alloc(void *c, size_t n) { return HeapAlloc(c, 0, n); }
static void *w32_realloc(void *c, void *p, size_t n) { return HeapReAlloc(c, 0, p, n); }
static void w32_free(void *c, void *p) { HeapFree(c, 0, p); }
#endif

static void *hk_open_(const char *backend) { return hk_heap_create(backend, 0, 0, 0); }
static void hk_close_(void *c) { hk_heap_destroy(c); }
static void *hk_alloc_(void *c, size_t n) { return hk_alloc(c, 0, n); }
static void *hk_realloc_(void *c, void *p, size_t n) { return hk_realloc(c, 0, p, n); }
static void hk_free_(void *c, void *p) { hk_free(c, 0, p); }

static contestant g_all[8];
static int g_n;

/* BENCH_ONLY=name[,name...] keeps the listed contestants (and malloc, the
 * baseline of every ratio). */
static void add(contestant c)
{
    const char *only = getenv("BENCH_ONLY");
    if (g_n > 0 && only && *only) {
        size_t n = strlen(c.name);
        const char *p = only;
        int hit = 0;
        while (!hit && (p = strstr(p, c.name)) != NULL) {
            hit = (p == only || p[-1] == ',') && (p[n] == '\0' || p[n] == ',');
            p += n;
        }
        if (!hit)
            return;
    }
    g_all[g_n++] = c;
}

static void setup_contestants(void)
{
    const char *const *names = hk_backends();
    int i;
    add((contestant){ "malloc", sys_alloc, sys_realloc, sys_free, sys_open, sys_close, NULL, 1 });
#ifdef HK_HAVE_MIMALLOC
    if (mi_resolve())
        add((contestant){ "mimalloc", mi_alloc_, mi_realloc_, mi_free_, mi_open, sys_close, NULL, 1 });
    else
        printf("(mimalloc: not found in the process, left out)\n");
#endif
#ifdef _WIN32
    add((contestant){ "win32", w32_alloc, w32_realloc, w32_free, w32_open, w32_close, NULL });
#endif
    for (i = 0; names[i] && g_n < 8; i++) {
        static char label[8][32];
        snprintf(label[i], sizeof label[i], "hk:%s", names[i]);
        add((contestant){ label[i], hk_alloc_, hk_realloc_, hk_free_, hk_open_, hk_close_,
                          names[i], 0 });
    }
}

/* ---- helpers ------------------------------------------------------------- */

typedef struct { uint64_t s; } rng_t;
static inline uint64_t rnd(rng_t *r)
{
    r->s ^= r->s << 13; r->s ^= r->s >> 7; r->s ^= r->s << 17;
    return r->s;
}

/* A figure of one round of one contestant: ns per op of thread CPU time
 * (summed over the workload's threads); wall: its wall-clock ns per op. */
typedef struct { double cpu, wall; } fig;
typedef fig (*workload_fn)(const contestant *c);

/* Wall-clock medians beside the CPU ones, for the threaded workloads. */
static double g_wall[8][BENCH_MAX_ROUNDS];
static int g_nwall[8];

struct round_arg { workload_fn fn; };
static double round_fn(int c, void *arg)
{
    fig f = ((struct round_arg *)arg)->fn(&g_all[c]);
    if (f.cpu >= 0 && g_nwall[c] < BENCH_MAX_ROUNDS) g_wall[c][g_nwall[c]++] = f.wall;
    return f.cpu;
}

static int find(const char *name)
{
    int i;
    for (i = 0; i < g_n; i++)
        if (strcmp(g_all[i].name, name) == 0) return i;
    return -1;
}

static void report(const char *workload, const char *unit, bench_stat *st, int wall)
{
    int i, mi = find("mimalloc");
    char a[64], b[64], c[64];
    for (i = 0; i < g_n; i++) {
        bench_stat w;
        printf("%-9s %-12s %-26s %-22s", workload, g_all[i].name, bench_fmt(a, sizeof a, &st[i]),
               i ? bench_ratio(b, sizeof b, &st[i], &st[0]) : "");
        printf(" %-22s", mi > 0 && i != mi ? bench_ratio(c, sizeof c, &st[i], &st[mi]) : "");
        if (wall) {
            bench_stat_of(g_wall[i], g_nwall[i], &w);
            printf(" wall %s", bench_fmt(a, sizeof a, &w));
        }
        printf("\n");
    }
    printf("%-9s (%s; median (min-max) of %d rounds; ratios: x malloc, x mimalloc)\n\n",
           "", unit, st[0].rounds);
    fflush(stdout);
}

static void run(const char *name, workload_fn fn, int wall)
{
    bench_stat st[8];
    struct round_arg ra = { fn };
    memset(g_nwall, 0, sizeof g_nwall);
    bench_interleave(g_n, round_fn, &ra, st);
    report(name, "ns/op, thread CPU", st, wall);
}

/* ---- workloads ----------------------------------------------------------- */

/* churn over nslots live blocks of 8..8+spread bytes: one op = free + alloc
 * (+ a touch).  The fill and the final frees are not timed. */
typedef struct {
    const contestant *c;
    void *ctx;
    long nslots, ops;
    size_t spread;
    uint64_t seed;
    double cpu;
    int own, fail;      /* own: open and close the heap in the thread */
} churn_arg;

static void *churn_thread(void *v)
{
    churn_arg *a = v;
    void **slot = calloc((size_t)a->nslots, sizeof *slot);
    rng_t r = { a->seed };
    long i;
    double t0;
    if (!slot) exit(1);
    /* (a heap bound to its creator thread, like hk:mimalloc's, is made
     * here; one shared with another thread may refuse: then no figure) */
    if (a->own) a->ctx = a->c->open(a->c->arg);
    a->fail = 0;
    for (i = 0; i < a->nslots; i++) {
        slot[i] = a->c->alloc(a->ctx, 8 + (size_t)(rnd(&r) % (a->spread + 1)));
        if (!slot[i]) {
            while (i-- > 0) a->c->free(a->ctx, slot[i]);
            if (a->own) a->c->close(a->ctx);
            free(slot);
            a->fail = 1;
            return NULL;
        }
        *(char *)slot[i] = 1;
    }
    t0 = thread_cpu_ns();
    for (i = 0; i < a->ops; i++) {
        size_t k = (size_t)(rnd(&r) % (uint64_t)a->nslots);
        a->c->free(a->ctx, slot[k]);
        slot[k] = a->c->alloc(a->ctx, 8 + (size_t)(rnd(&r) % (a->spread + 1)));
        *(char *)slot[k] = 1;
    }
    a->cpu = thread_cpu_ns() - t0;
    for (i = 0; i < a->nslots; i++) a->c->free(a->ctx, slot[i]);
    if (a->own) a->c->close(a->ctx);
    free(slot);
    return NULL;
}

/* nthreads threads churning; own: each on its own heap. */
static fig churn_n(const contestant *c, int nthreads, int own, long nslots, size_t spread, long ops)
{
    churn_arg a[2];
    pthread_t t[2];
    void *shared = own ? NULL : c->open(c->arg);
    double w0, cpu = 0;
    int i;
    fig f;
    for (i = 0; i < nthreads; i++) {
        a[i].c = c;
        a[i].ctx = shared;
        a[i].own = own;
        a[i].nslots = nslots;
        a[i].ops = ops;
        a[i].spread = spread;
        a[i].seed = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1);
    }
    w0 = now_ns();
    if (nthreads == 1) churn_thread(&a[0]);
    else {
        for (i = 0; i < nthreads; i++) pthread_create(&t[i], NULL, churn_thread, &a[i]);
        for (i = 0; i < nthreads; i++) pthread_join(t[i], NULL);
    }
    f.wall = (now_ns() - w0) / ((double)ops * nthreads);
    if (!own) c->close(shared);
    for (i = 0; i < nthreads; i++) {
        if (a[i].fail) { f.cpu = f.wall = -1; return f; }
        cpu += a[i].cpu;
    }
    f.cpu = cpu / ((double)ops * nthreads);
    return f;
}

static fig w_churn(const contestant *c) { return churn_n(c, 1, 1, 10000, 1024, scaled(3000000)); }
static fig w_own(const contestant *c) { return churn_n(c, 2, 1, 10000, 1024, scaled(1500000)); }
static fig w_shared(const contestant *c) { return churn_n(c, 2, 0, 10000, 1024, scaled(1000000)); }
/* 1M live blocks of 8..264 B: every op misses the caches. */
static fig w_big(const contestant *c) { return churn_n(c, 1, 1, scaled(1000000), 256, scaled(1000000)); }
/* 16 live blocks of 1..16 MiB. */
static fig w_bigblk(const contestant *c)
{
    void *ctx = c->open(c->arg), *slot[16];
    rng_t r = { 5 };
    long ops = scaled(20000) / 10, i;
    double t0, w0;
    fig f;
    for (i = 0; i < 16; i++) slot[i] = c->alloc(ctx, ((size_t)1 << 20) + rnd(&r) % ((size_t)15 << 20));
    w0 = now_ns();
    t0 = thread_cpu_ns();
    for (i = 0; i < ops; i++) {
        size_t k = (size_t)(rnd(&r) % 16);
        c->free(ctx, slot[k]);
        slot[k] = c->alloc(ctx, ((size_t)1 << 20) + rnd(&r) % ((size_t)15 << 20));
        *(char *)slot[k] = 1;
    }
    f.cpu = (thread_cpu_ns() - t0) / (double)ops;
    f.wall = (now_ns() - w0) / (double)ops;
    for (i = 0; i < 16; i++) c->free(ctx, slot[i]);
    c->close(ctx);
    return f;
}

/* realloc: 10k slots resized to random sizes 8..4104; one op = realloc. */
static fig w_realloc(const contestant *c)
{
    void *ctx = c->open(c->arg), **slot = calloc(10000, sizeof *slot);
    rng_t r = { 2 };
    long ops = scaled(1000000), i;
    double t0, w0;
    fig f;
    for (i = 0; i < 10000; i++) slot[i] = c->alloc(ctx, 8 + rnd(&r) % 4097);
    w0 = now_ns();
    t0 = thread_cpu_ns();
    for (i = 0; i < ops; i++) {
        size_t k = (size_t)(rnd(&r) % 10000);
        slot[k] = c->realloc(ctx, slot[k], 8 + (size_t)(rnd(&r) % 4097));
        *(char *)slot[k] = 1;
    }
    f.cpu = (thread_cpu_ns() - t0) / (double)ops;
    f.wall = (now_ns() - w0) / (double)ops;
    for (i = 0; i < 10000; i++) c->free(ctx, slot[i]);
    c->close(ctx);
    free(slot);
    return f;
}

/* prodcons: one thread allocates, another frees what it allocated.  The
 * blocks go across in batches of PC_BATCH through a ring of PC_NB batches,
 * and each side's CPU time is summed over its alloc or free loops only:
 * waiting for the other side (a yield loop) is no allocator's time.  (An
 * earlier version handed blocks over one by one and timed the whole
 * thread: every contestant measured ~300 ns per block, the yields.) */
enum { PC_BATCH = 1024, PC_NB = 8 };
struct ring {
    void *slot[PC_NB][PC_BATCH];
    long full[PC_NB];                   /* batches made into each slot   */
    long done[PC_NB];                   /* batches freed from each slot  */
    const contestant *c;
    void *ctx;
    long batches;
    double cpu;                         /* the consumer's, in its loops  */
    int bad;
};

static void *consumer(void *arg)
{
    struct ring *r = arg;
    long b;
    for (b = 0; b < r->batches; b++) {
        int k = (int)(b % PC_NB), i;
        double t0;
        while (__atomic_load_n(&r->full[k], __ATOMIC_ACQUIRE) <= b / PC_NB)
            sched_yield();
        t0 = thread_cpu_ns();
        for (i = 0; i < PC_BATCH; i++) {
            /* a consumer reads what it was sent: the producer's mark */
            unsigned char *p = r->slot[k][i];
            if (p[0] != (unsigned char)i) r->bad = 1;
            r->c->free(r->ctx, p);
        }
        r->cpu += thread_cpu_ns() - t0;
        __atomic_store_n(&r->done[k], b / PC_NB + 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

static fig w_prodcons(const contestant *c)
{
    struct ring *r = calloc(1, sizeof *r);
    pthread_t t;
    rng_t g = { 3 };
    long b;
    double cpu = 0, w0;
    fig f;
    if (!r) exit(1);
    r->c = c;
    r->ctx = c->open(c->arg);
    r->batches = (scaled(1000000) + PC_BATCH - 1) / PC_BATCH;
    w0 = now_ns();
    pthread_create(&t, NULL, consumer, r);
    for (b = 0; b < r->batches; b++) {
        int k = (int)(b % PC_NB), i;
        double t0;
        while (__atomic_load_n(&r->done[k], __ATOMIC_ACQUIRE) < b / PC_NB)
            sched_yield();
        t0 = thread_cpu_ns();
        for (i = 0; i < PC_BATCH; i++) {
            size_t n = 8 + (size_t)(rnd(&g) % 1025);
            unsigned char *p = c->alloc(r->ctx, n);
            if (!p) exit(1);
            p[0] = (unsigned char)i;
            r->slot[k][i] = p;
        }
        cpu += thread_cpu_ns() - t0;
        __atomic_store_n(&r->full[k], b / PC_NB + 1, __ATOMIC_RELEASE);
    }
    pthread_join(t, NULL);
    f.wall = (now_ns() - w0) / ((double)r->batches * PC_BATCH);
    f.cpu = (cpu + r->cpu) / ((double)r->batches * PC_BATCH);
    if (r->bad) {
        fprintf(stderr, "bench: prodcons: %s handed over a damaged block\n", c->name);
        f.cpu = f.wall = -1;
    }
    c->close(r->ctx);
    free(r);
    return f;
}

/* thrash: 1000 blocks of 4 KiB allocated and freed in a loop; a heap that
 * decommits its free tail every time calls the OS on every round. */
static fig w_thrash(const contestant *c)
{
    void *p[1000];
    void *ctx = c->open(c->arg);
    long rounds = scaled(1000), r;
    int i;
    double t0, w0;
    fig f;
    w0 = now_ns();
    t0 = thread_cpu_ns();
    for (r = 0; r < rounds; r++) {
        for (i = 0; i < 1000; i++) {
            p[i] = c->alloc(ctx, 4096);
            *(char *)p[i] = 1;
        }
        for (i = 0; i < 1000; i++)
            c->free(ctx, p[i]);
    }
    f.cpu = (thread_cpu_ns() - t0) / ((double)rounds * 1000.0);
    f.wall = (now_ns() - w0) / ((double)rounds * 1000.0);
    c->close(ctx);
    return f;
}

/* ---- memory: overhead per live block, RSS given back -------------------- */

static double rss(void)
{
#if defined(__linux__)
    long pages = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f || fscanf(f, "%ld %ld", &pages, &res) != 2) { if (f) fclose(f); return -1; }
    fclose(f);
    return (double)res * 4096.0;
#else
    return -1;
#endif
}

/* Give free memory back the way each allocator offers. */
static void give_back(const contestant *c, void *ctx)
{
    if (!c->shared) { hk_compact(ctx, 0); return; }
#if defined(__linux__)
    if (strcmp(c->name, "malloc") == 0) malloc_trim(0);
#endif
#ifdef HK_HAVE_MIMALLOC
    if (strcmp(c->name, "mimalloc") == 0) mi.collect(true);
#endif
}

/* 1M live blocks of 16..256 B: RSS growth minus the bytes asked for, per
 * block.  Then 90% freed in runs (900 of every 1000, as a program drops
 * most of what a phase built; scattered frees leave every page in use for
 * any allocator), the allocator's give-back called (hk_compact,
 * malloc_trim, mi_collect), and the share of the freed blocks' RSS that
 * went back.  Linux only (RSS from /proc). */
static void memory_bench(void)
{
    long n = scaled(1000000), i;
    void **slot = calloc((size_t)n, sizeof *slot);
    int k;
    if (!slot) return;
    memset(slot, 0, (size_t)n * sizeof *slot);
    printf("%-9s %-12s %14s %18s\n", "memory", "", "B/block over", "RSS given back");
    for (k = 0; k < g_n; k++) {
        const contestant *c = &g_all[k];
        void *ctx = c->open(c->arg);
        double r0, r1, r2, asked = 0, freed_asked = 0;
        rng_t g = { 11 };
        give_back(c, ctx);
        r0 = rss();
        for (i = 0; i < n; i++) {
            size_t sz = 16 + (size_t)(rnd(&g) % 241);
            slot[i] = c->alloc(ctx, sz);
            memset(slot[i], 1, sz);
            asked += (double)sz;
            if (i % 1000 >= 100) freed_asked += (double)sz;
        }
        r1 = rss();
        for (i = 0; i < n; i++)
            if (i % 1000 >= 100) c->free(ctx, slot[i]);
        give_back(c, ctx);
        r2 = rss();
        if (r0 < 0)
            printf("%-9s %-12s %14s %18s\n", "memory", c->name, "-", "-");
        else
            printf("%-9s %-12s %14.1f %17.0f%%\n", "memory", c->name,
                   (r1 - r0 - asked) / (double)n,
                   100.0 * (r1 - r2) / ((r1 - r0) * freed_asked / asked));
        for (i = 0; i < n; i++)
            if (i % 1000 < 100) c->free(ctx, slot[i]);
        c->close(ctx);
        fflush(stdout);
    }
    printf("%-9s (1M blocks of 16..256 B; given back: of the RSS the freed 90%% took)\n\n", "");
    free(slot);
}

/* ---- walk ---------------------------------------------------------------- */

static int count_entry(const hk_heap_entry *e, void *arg)
{
    (void)e;
    ++*(long *)arg;
    return 0;
}

#ifdef HK_HAVE_MIMALLOC
static bool mi_count(const mi_heap_t *h, const mi_heap_area_t *a, void *b, size_t s, void *arg)
{
    (void)h; (void)a; (void)b; (void)s;
    ++*(long *)arg;
    return true;
}
#endif

/* Contestants of the walk: 0 = visit, 1 = iterator, of each backend. */
struct walk_arg { hk_heap *h[8]; int n; };
static double walk_round(int c, void *arg)
{
    struct walk_arg *w = arg;
    hk_heap *h = w->h[c / 2];
    long entries = 0;
    double t0 = thread_cpu_ns();
    if (c % 2 == 0) {
        hk_visit(h, count_entry, &entries);
    } else {
        hk_heap_entry e;
        memset(&e, 0, sizeof e);
        hk_lock(h);
        while (hk_walk(h, &e)) entries++;
        hk_unlock(h);
    }
    return entries ? (thread_cpu_ns() - t0) / (double)entries : -1;
}

static void walk_bench(void)
{
    const char *const *names = hk_backends();
    long nblocks = scaled(1000000), k;
    struct walk_arg w;
    bench_stat st[16];
    char a[64];
    int i;
    memset(&w, 0, sizeof w);
    for (i = 0; names[i] && w.n < 8; i++) {
        if (!(w.h[w.n] = hk_heap_create(names[i], 0, 0, 0))) continue;
        for (k = 0; k < nblocks; k++) hk_alloc(w.h[w.n], 0, 16 + (size_t)(k % 49));
        w.n++;
    }
    bench_interleave(w.n * 2, walk_round, &w, st);
    for (i = 0; i < w.n * 2; i++)
        printf("%-9s hk:%-9s %-26s ns/entry (%s)\n", "walk", hk_heap_backend(w.h[i / 2]),
               bench_fmt(a, sizeof a, &st[i]), i % 2 ? "hk_walk iterator" : "hk_visit");
    for (i = 0; i < w.n; i++) hk_heap_destroy(w.h[i]);
#ifdef HK_HAVE_MIMALLOC
    if (find("mimalloc") >= 0) {
        mi_heap_t *mh = mi.heap_new();
        long n = 0;
        double t0;
        for (k = 0; k < nblocks; k++)
            if (!mi.heap_malloc(mh, 16 + (size_t)(k % 49))) break;
        t0 = thread_cpu_ns();
        mi.heap_visit(mh, true, mi_count, &n);
        printf("%-9s %-12s %8.1f ns/entry (mi_heap_visit_blocks, one sample)\n", "walk",
               "mimalloc", (thread_cpu_ns() - t0) / (double)n);
        mi.heap_destroy(mh);
    }
#endif
#ifdef _WIN32
    {
        HANDLE wh = HeapCreate(0, 0, 0);
        PROCESS_HEAP_ENTRY pe;
        long n = 0;
        double t0;
        for (k = 0; k < nblocks; k++)
            HeapAlloc(wh, 0, 16 + (size_t)(k % 49));
        memset(&pe, 0, sizeof pe);
        t0 = thread_cpu_ns();
        while (HeapWalk(wh, &pe))
            n++;
        printf("%-9s %-12s %8.1f ns/entry (HeapWalk, one sample)\n", "walk", "win32",
               (thread_cpu_ns() - t0) / (double)n);
        HeapDestroy(wh);
    }
#endif
    printf("\n");
}

/* ---- main ---------------------------------------------------------------- */

/* Every contestant may free from any thread (thread-bound mimalloc heaps
 * included), so every one runs every workload. */
struct workload { const char *name, *what; workload_fn run; int wall; };

static const struct workload g_workloads[] = {
    { "churn", "1 thread, 10k slots of 8..1032 B, free + alloc", w_churn, 0 },
    { "own", "2 threads, each its own heap, churn", w_own, 1 },
    { "shared", "2 threads, one shared heap, churn", w_shared, 1 },
    { "prodcons", "one thread allocates, another frees", w_prodcons, 1 },
    { "big", "1M slots of 8..264 B, churn (cache-missing)", w_big, 0 },
    { "bigblk", "16 slots of 1..16 MiB, free + alloc", w_bigblk, 0 },
    { "realloc", "10k slots, realloc to 8..4104 B", w_realloc, 0 },
    { "thrash", "1000 x 4 KiB allocated then freed, repeated", w_thrash, 0 },
};

static int wanted(int argc, char **argv, const char *name)
{
    int i;
    if (argc < 2)
        return 1;
    for (i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    size_t w;
    time_t now = time(NULL);
    bench_scale_init();
    sys_resolve();
    setup_contestants();
    printf("heapkit bench, %s(scale %.2f, %d interleaved rounds per figure)\n\n",
           ctime(&now), g_scale, g_rounds);
    /* memory first: the others leave freed memory in the allocators */
    if (wanted(argc, argv, "memory"))
        memory_bench();
    for (w = 0; w < sizeof g_workloads / sizeof *g_workloads; w++) {
        if (!wanted(argc, argv, g_workloads[w].name))
            continue;
        printf("%s: %s\n", g_workloads[w].name, g_workloads[w].what);
        run(g_workloads[w].name, g_workloads[w].run, g_workloads[w].wall);
    }
    if (wanted(argc, argv, "walk"))
        walk_bench();
    return 0;
}
