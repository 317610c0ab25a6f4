/*
 * bench.c - `make bench`: the same workloads on every allocator this build
 * can reach, side by side in one run, with ns/op and the ratio to the
 * system malloc.  Speed targets live here, never in tests.
 *
 *   bench [workload ...]      workloads: churn realloc prodcons thrash walk
 *   BENCH_SCALE=0.1 bench     scale the operation counts
 *   BENCH_ONLY=hk:arena bench only these contestants (besides malloc)
 *
 * Contestants: malloc (the C library), mimalloc (mi_malloc, raw), win32
 * (HeapAlloc on a private heap, raw; Windows only), and heapkit's backends
 * through the public API (hk:arena, hk:mimalloc, hk:win32).
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

#ifdef HK_HAVE_MIMALLOC
#  include <mimalloc.h>
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
static void *mi_open(const char *a) { (void)a; return NULL; }
static void *mi_alloc_(void *c, size_t n) { (void)c; return mi_malloc(n); }
static void *mi_realloc_(void *c, void *p, size_t n) { (void)c; return mi_realloc(p, n); }
static void mi_free_(void *c, void *p) { (void)c; mi_free(p); }
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
    add((contestant){ "malloc", sys_alloc, sys_realloc, sys_free, sys_open, sys_close, NULL });
#ifdef HK_HAVE_MIMALLOC
    add((contestant){ "mimalloc", mi_alloc_, mi_realloc_, mi_free_, mi_open, sys_close, NULL });
#endif
#ifdef _WIN32
    add((contestant){ "win32", w32_alloc, w32_realloc, w32_free, w32_open, w32_close, NULL });
#endif
    for (i = 0; names[i] && g_n < 8; i++) {
        static char label[8][32];
        snprintf(label[i], sizeof label[i], "hk:%s", names[i]);
        add((contestant){ label[i], hk_alloc_, hk_realloc_, hk_free_, hk_open_, hk_close_,
                          names[i] });
    }
}

/* ---- helpers ------------------------------------------------------------- */


static uint64_t rng = 88172645463325252ull;
static inline uint64_t rnd(void)
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return rng;
}

static void row(const char *workload, const char *who, double ns, double base,
                double mi)
{
    printf("%-10s %-12s %10.1f ns/op   %6.2fx malloc", workload, who, ns,
           base > 0 ? ns / base : 0.0);
    if (mi > 0)
        printf("   %6.2fx mimalloc", ns / mi);
    printf("\n");
    fflush(stdout);
}

/* ---- workloads ----------------------------------------------------------- */

enum { SLOTS = 10000 };

/* A working set of SLOTS blocks of random sizes 8..8+spread. */
static void **slots_fill(const contestant *c, void *ctx, uint64_t seed, size_t spread)
{
    void **slot = calloc(SLOTS, sizeof *slot);
    long i;
    rng = seed;
    for (i = 0; i < SLOTS; i++)
        slot[i] = c->alloc(ctx, 8 + rnd() % (spread + 1));
    return slot;
}

static void slots_free(const contestant *c, void *ctx, void **slot)
{
    long i;
    for (i = 0; i < SLOTS; i++)
        c->free(ctx, slot[i]);
    c->close(ctx);
    free(slot);
}

/* churn: 10k live slots, random sizes 8..1032; one op = free + malloc. */
static double churn(const contestant *c)
{
    void *ctx = c->open(c->arg);
    void **slot = slots_fill(c, ctx, 1, 1024);
    long ops = scaled(10000000), i;
    double t0, t1;
    t0 = now_ns();
    for (i = 0; i < ops; i++) {
        size_t k = (size_t)(rnd() % SLOTS);
        c->free(ctx, slot[k]);
        slot[k] = c->alloc(ctx, 8 + (size_t)(rnd() % 1025));
        *(char *)slot[k] = 1;
    }
    t1 = now_ns();
    slots_free(c, ctx, slot);
    return (t1 - t0) / (double)ops;
}

/* realloc: 10k slots resized to random sizes 8..4104; one op = realloc. */
static double realloc_heavy(const contestant *c)
{
    void *ctx = c->open(c->arg);
    void **slot = slots_fill(c, ctx, 2, 4096);
    long ops = scaled(3000000), i;
    double t0, t1;
    t0 = now_ns();
    for (i = 0; i < ops; i++) {
        size_t k = (size_t)(rnd() % SLOTS);
        slot[k] = c->realloc(ctx, slot[k], 8 + (size_t)(rnd() % 4097));
        *(char *)slot[k] = 1;
    }
    t1 = now_ns();
    slots_free(c, ctx, slot);
    return (t1 - t0) / (double)ops;
}

/* prodcons: one thread allocates, another frees, through a ring. */
enum { RING = 4096 };
struct ring {
    void *slot[RING];
    volatile long head, tail;           /* head: producer, tail: consumer */
    const contestant *c;
    void *ctx;
    long items;
};

static void *consumer(void *arg)
{
    struct ring *r = arg;
    long got = 0;
    while (got < r->items) {
        long t = __atomic_load_n(&r->tail, __ATOMIC_RELAXED);
        if (t == __atomic_load_n(&r->head, __ATOMIC_ACQUIRE))
            continue;
        r->c->free(r->ctx, r->slot[t % RING]);
        __atomic_store_n(&r->tail, t + 1, __ATOMIC_RELEASE);
        got++;
    }
    return NULL;
}

static double prodcons(const contestant *c)
{
    struct ring *r = calloc(1, sizeof *r);
    pthread_t t;
    long i;
    double t0, t1;
    r->c = c;
    r->ctx = c->open(c->arg);
    r->items = scaled(2000000);
    rng = 3;
    t0 = now_ns();
    pthread_create(&t, NULL, consumer, r);
    for (i = 0; i < r->items; i++) {
        void *p = c->alloc(r->ctx, 8 + (size_t)(rnd() % 1025));
        while (i - __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE) >= RING)
            ;
        r->slot[i % RING] = p;
        __atomic_store_n(&r->head, i + 1, __ATOMIC_RELEASE);
    }
    pthread_join(t, NULL);
    t1 = now_ns();
    c->close(r->ctx);
    free(r);
    return (t1 - t0) / (double)scaled(2000000);
}

/* thrash: 1000 blocks of 4 KiB allocated and freed in a loop; a heap that
 * decommits its free tail every time calls the OS on every round. */
static double thrash(const contestant *c)
{
    void *p[1000];
    void *ctx = c->open(c->arg);
    long rounds = scaled(2000) , r;
    int i;
    double t0, t1;
    t0 = now_ns();
    for (r = 0; r < rounds; r++) {
        for (i = 0; i < 1000; i++) {
            p[i] = c->alloc(ctx, 4096);
            *(char *)p[i] = 1;
        }
        for (i = 0; i < 1000; i++)
            c->free(ctx, p[i]);
    }
    t1 = now_ns();
    c->close(ctx);
    return (t1 - t0) / ((double)rounds * 1000.0);
}

/* walk: a heap of 1M small blocks, walked with the callback and the
 * HeapWalk-style iterator; ns per entry. */
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

static void walk_bench(void)
{
    const char *const *names = hk_backends();
    long nblocks = scaled(1000000);
    int i;
    for (i = 0; names[i]; i++) {
        hk_heap *h = hk_heap_create(names[i], 0, 0, 0);
        hk_heap_entry e;
        long k, entries = 0, steps = 0;
        double t0, t1, t2;
        char who[32];
        if (!h)
            continue;
        for (k = 0; k < nblocks; k++)
            hk_alloc(h, 0, 16 + (size_t)(k % 49));
        t0 = now_ns();
        hk_visit(h, count_entry, &entries);
        t1 = now_ns();
        memset(&e, 0, sizeof e);
        hk_lock(h);
        while (hk_walk(h, &e))
            steps++;
        hk_unlock(h);
        t2 = now_ns();
        snprintf(who, sizeof who, "hk:%s", names[i]);
        printf("%-10s %-12s %10.1f ns/entry visit   %6.1f ns/entry walk   (%ld entries)\n",
               "walk", who, (t1 - t0) / (double)entries, (t2 - t1) / (double)steps, entries);
        hk_heap_destroy(h);
    }
#ifdef HK_HAVE_MIMALLOC
    {
        mi_heap_t *mh = mi_heap_new();
        long k, n = 0;
        double t0, t1;
        for (k = 0; k < nblocks; k++)
            if (!mi_heap_malloc(mh, 16 + (size_t)(k % 49)))
                break;
        t0 = now_ns();
        mi_heap_visit_blocks(mh, true, mi_count, &n);
        t1 = now_ns();
        printf("%-10s %-12s %10.1f ns/entry visit   (mi_heap_visit_blocks, %ld entries)\n",
               "walk", "mimalloc", (t1 - t0) / (double)n, n);
        mi_heap_destroy(mh);
    }
#endif
#ifdef _WIN32
    {
        HANDLE wh = HeapCreate(0, 0, 0);
        PROCESS_HEAP_ENTRY pe;
        long k, n = 0;
        double t0, t1;
        for (k = 0; k < nblocks; k++)
            HeapAlloc(wh, 0, 16 + (size_t)(k % 49));
        memset(&pe, 0, sizeof pe);
        t0 = now_ns();
        while (HeapWalk(wh, &pe))
            n++;
        t1 = now_ns();
        printf("%-10s %-12s %10.1f ns/entry walk   (HeapWalk, %ld entries)\n",
               "walk", "win32", (t1 - t0) / (double)n, n);
        HeapDestroy(wh);
    }
#endif
}

/* ---- main ---------------------------------------------------------------- */

/* Every contestant may free from any thread (thread-bound mimalloc heaps
 * included), so every one runs every workload. */
struct workload { const char *name; double (*run)(const contestant *); };

static const struct workload g_workloads[] = {
    { "churn", churn },
    { "realloc", realloc_heavy },
    { "prodcons", prodcons },
    { "thrash", thrash },
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
    int i;
    bench_scale_init();
    sys_resolve();
    setup_contestants();
    printf("heapkit bench (scale %.2f)\n", g_scale);
    for (w = 0; w < sizeof g_workloads / sizeof *g_workloads; w++) {
        double base = 0, mi = 0;
        if (!wanted(argc, argv, g_workloads[w].name))
            continue;
        for (i = 0; i < g_n; i++) {
            double ns = g_workloads[w].run(&g_all[i]);
            if (i == 0)
                base = ns;
            if (strcmp(g_all[i].name, "mimalloc") == 0)
                mi = ns;
            row(g_workloads[w].name, g_all[i].name, ns, base, mi);
        }
    }
    if (wanted(argc, argv, "walk"))
        walk_bench();
    return 0;
}
