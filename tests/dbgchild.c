/*
 * dbgchild.c - the child program of tests/debug.c: one heap scenario per
 * mode (argv[1]), run under the Heap Debugger, which writes its report as
 * the parent asked (HEAPKIT_REPORT, HEAPKIT_FORMAT, HEAPKIT_LANG ...).
 *
 * What the parent cannot see in the report (line numbers, pointers,
 * counters) the child appends as "key value" lines to the file named by
 * DBGCHILD_OUT, one open/close per line so the lines survive a crash.
 * Status: 0 when the scenario ran to its end, 2 for a bad mode, 40+ when
 * the child itself saw something wrong (a NULL block, a misaligned one).
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#  include <malloc.h>           /* _get_heap_handle */
#  include <windows.h>
#else
#  include <malloc.h>           /* mallinfo2 */
#  include <sched.h>
#  include <sys/wait.h>
#  include <unistd.h>
#endif

#include "heapkit.h"
#include "heapkit/debug.h"      /* last */

struct point {
    int x, y;
    double weight;
};

static void note(const char *key, const char *fmt, ...)
{
    const char *path = getenv("DBGCHILD_OUT");
    FILE *f;
    va_list ap;
    if (!path || !(f = fopen(path, "a")))
        return;
    fprintf(f, "%s ", key);
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fclose(f);
}

/* On the line of the call it names; before the call when that call may
 * end the process (fail-fast). */
#define NOTE_LINE(key) note((key), "%d", __LINE__)
#define NOTE_PTR(key, p) note((key), "0x%llx", (unsigned long long)(uintptr_t)(p))

/* A NULL where the scenario needs a block is the child's own failure. */
static void *need(void *p, int status)
{
    if (!p)
        exit(status);
    return p;
}

static int mode_clean(void)
{
    char *a = need(malloc(10), 40), *b = need(calloc(2, 8), 41);
    char *c = need(strdup("clean"), 42);
    void *d = (malloc)(10);     /* bypasses the tracker both ways */
    (free)(d);
    free(a);
    free(b);
    free(c);
    return 0;
}

/* Four call sites whose order by count and by bytes agree: 4 x 50 = 200,
 * 2 x 30 = 60, 1 x 20, 1 x 4.  One freed block in between. */
static int mode_leak(void)
{
    char *p;
    int i;
    for (i = 0; i < 4; i++) {
        p = need(malloc(50), 40); NOTE_LINE("lineA");
        memset(p, 'a', 50);
    }
    p = need(malloc(99), 40);
    free(p);
    for (i = 0; i < 2; i++) {
        p = need(calloc(3, 10), 41); NOTE_LINE("lineB");
        if (p[29] != 0)
            exit(43);
    }
    p = need(strdup("0123456789012345678"), 42); NOTE_LINE("lineC"); NOTE_PTR("ptrC", p);
    p = need(strndup("abcdef", 3), 44); NOTE_LINE("lineD");
    if (strcmp(p, "abc") != 0)
        exit(45);
    return 0;
}

/* Leak kinds (tests/debug.c knows each block by its size):
 *   101 held by a global (still reachable);
 *   102 held by a global, and it holds 103 (both still reachable);
 *   104 a list head nothing holds, 105..107 its nodes (1 definite,
 *       3 indirect);
 *   108 <-> 109 a cycle nothing holds (108, the older, definite; 109
 *       indirect);
 *   110 held only by a local of the frame that writes the report
 *       (still reachable).
 * With DBGCHILD_ERR set, stderr goes to that file.
 * Every block is made in a function of its own, the pointers kept only
 * where the scenario says, and the stack below the report's frame cleared
 * first, so no stale copy on the stack or in a register keeps a block. */
struct kind_node {
    struct kind_node *next;
    char pad[64];
};

static void *volatile kind_global, *volatile kind_outer;

__attribute__((noinline)) static void kind_held(void)
{
    void **outer;
    kind_global = need(malloc(101), 40);
    outer = need(malloc(102), 40);
    outer[0] = need(malloc(103), 40);
    kind_outer = outer;
}

__attribute__((noinline)) static void kind_list(void)
{
    struct kind_node *head = need(malloc(104), 40), *n;
    size_t i;
    head->next = NULL;
    for (i = 0; i < 3; i++) {
        n = need(malloc(105 + i), 40);
        n->next = head->next;
        head->next = n;
    }
}

__attribute__((noinline)) static void kind_cycle(void)
{
    struct kind_node *x = need(malloc(108), 40), *y = need(malloc(109), 40);
    x->next = y;
    y->next = x;
}

__attribute__((noinline)) static void kind_local(void *volatile *slot)
{
    *slot = need(malloc(110), 40);
    ((char *)*slot)[0] = 0;
}

/* Zero what the helpers left below this frame. */
__attribute__((noinline)) static void kind_scrub(void)
{
    volatile char junk[8192];
    size_t i;
    for (i = 0; i < sizeof junk; i++)
        junk[i] = 0;
}

static int mode_kinds(void)
{
    void *volatile local = NULL;
    const char *err = getenv("DBGCHILD_ERR");     /* the debugger's warnings */
    if (err && !freopen(err, "w", stderr))
        exit(44);
    kind_held();
    kind_list();
    kind_cycle();
    kind_local(&local);
    kind_scrub();
    hk_debug_report();
    /* the local is still used after the report: its frame was live */
    if (((char *)local)[0] == 1)
        note("never", "%d", 1);
    free(local);
    return 0;
}

/* Leak kinds of threads: while a second thread still runs, the report
 * (from the main thread) finds 111 through the main thread's TLS, 112
 * through a local of the other thread and 113 through its TLS: all still
 * reachable.  114 nothing holds: definitely lost. */
#ifdef _WIN32
/* gcc's __thread is emutls on MinGW: the variable would live in a block
 * of msvcrt's malloc, which the macros do not track, so the scan could
 * not follow it; a TLS slot of the TEB is what the scan reads there. */
static DWORD kind_tls_key = TLS_OUT_OF_INDEXES;
static void *kind_tls_get(void) { return TlsGetValue(kind_tls_key); }
static void kind_tls_set(void *p) { TlsSetValue(kind_tls_key, p); }
#else
static __thread void *kind_tls;
static void *kind_tls_get(void) { return kind_tls; }
static void kind_tls_set(void *p) { kind_tls = p; }
#endif
static pthread_mutex_t kind_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t kind_cv = PTHREAD_COND_INITIALIZER;
static int kind_stage;

__attribute__((noinline)) static void kind_tls_fill(size_t n)
{
    kind_tls_set(need(malloc(n), 40));
}

__attribute__((noinline)) static void kind_lost(void)
{
    char *p = need(malloc(114), 40);
    p[0] = 0;
}

static void kind_wait(int stage)
{
    pthread_mutex_lock(&kind_mu);
    while (kind_stage < stage)
        pthread_cond_wait(&kind_cv, &kind_mu);
    pthread_mutex_unlock(&kind_mu);
}

static void kind_go(int stage)
{
    pthread_mutex_lock(&kind_mu);
    kind_stage = stage;
    pthread_cond_broadcast(&kind_cv);
    pthread_mutex_unlock(&kind_mu);
}

static void *kind_thread(void *arg)
{
    void *volatile local = need(malloc(112), 40);
    (void)arg;
    kind_tls_fill(113);
    kind_scrub();
    kind_go(1);
    kind_wait(2);              /* the report is written meanwhile */
    free(local);
    free(kind_tls_get());
    return NULL;
}

static int mode_kinds_threads(void)
{
    pthread_t t;
#ifdef _WIN32
    if ((kind_tls_key = TlsAlloc()) == TLS_OUT_OF_INDEXES)
        exit(47);
#endif
    kind_tls_fill(111);
    kind_lost();
    if (pthread_create(&t, NULL, kind_thread, NULL) != 0)
        exit(46);
    kind_wait(1);
    kind_scrub();
    hk_debug_report();
    kind_go(2);
    pthread_join(t, NULL);
    free(kind_tls_get());
    return 0;
}

static int mode_objleak(void)
{
    struct point *a, *b;
    a = need(HK_NEW(struct point), 40); NOTE_LINE("lineO"); NOTE_PTR("ptrO", a);
    b = need(HK_NEW(struct point), 41);
    if (a->x || a->y || a->weight != 0.0 || b->x)
        exit(42);           /* HK_NEW gives zeroed objects */
    HK_DELETE(b);
    note("size", "%u", (unsigned)sizeof(struct point));
    return 0;
}

/* HK_DELETE through a pointer of the wrong type declares the wrong size. */
static int mode_objwrong(void)
{
    struct point *a = need(HK_NEW(struct point), 40); NOTE_LINE("lineNew");
    char *c = (char *)a;
    HK_DELETE(c); NOTE_LINE("lineDelete");
    note("size", "%u", (unsigned)sizeof(struct point));
    return 0;
}

static int mode_wrongsize(void)
{
    char *a = need(malloc(100), 40), *b; NOTE_LINE("lineAlloc"); NOTE_PTR("ptr", a);
    NOTE_LINE("lineFree"); free_sized(a, 64);     /* noted first: it may not return */
    b = need(malloc(50), 41);
    hk_free_sized(b, 50);           /* the right size: no entry */
    note("after", "1");
    need(malloc(33), 42); NOTE_LINE("lineAfter");
    return 0;
}

static int mode_unknownfree(void)
{
    char local[16];
    char *p;
    local[0] = 0;
    NOTE_LINE("lineStack"); NOTE_PTR("ptrStack", local); free(local);
    note("after", "1");
    p = need(malloc(40), 40);
    NOTE_LINE("lineInterior"); NOTE_PTR("ptrInterior", p + 8); free(p + 8);
    free(p);                        /* the block itself is still fine */
    need(malloc(33), 42); NOTE_LINE("lineAfter");
    return 0;
}

static int mode_doublefree(void)
{
    char *p = need(malloc(24), 40); NOTE_PTR("ptr", p);
    free(p);
    free(p); NOTE_LINE("lineSecond");
    return 0;
}

/* A block freed on the wrong hk heap: FM on that heap; the owner still
 * frees it.  One leak per heap tells the parent each heap's name. */
static int mode_otherheap(void)
{
    hk_heap *h1 = need(hk_heap_create("arena", 0, 0, 0), 40);
    hk_heap *h2 = need(hk_heap_create("arena", 0, 0, 0), 41);
    void *q;
    int ok;
    need(hk_alloc(h1, 0, 10), 42); NOTE_LINE("lineLeak1");
    need(hk_alloc(h2, 0, 20), 42); NOTE_LINE("lineLeak2");
    q = need(hk_alloc(h1, 0, 30), 42); NOTE_PTR("ptr", q);
    ok = hk_free(h2, 0, q); NOTE_LINE("lineWrong");
    if (ok || !hk_free(h1, 0, q))
        exit(43);
    return 0;
}

static int mode_heapdestroy(void)
{
    hk_heap *h = need(hk_heap_create("arena", 0, 0, 0), 40);
    hk_heap *empty = need(hk_heap_create("arena", 0, 0, 0), 41);
    void *p, *q;
    p = need(hk_alloc(h, 0, 77), 42); NOTE_LINE("lineLost"); NOTE_PTR("ptr", p);
    q = need(hk_alloc(h, 0, 5), 42);
    hk_free(h, 0, q);
    q = need(hk_alloc(empty, 0, 5), 42);
    hk_free(empty, 0, q);
    if (!hk_heap_destroy(h) || !hk_heap_destroy(empty))
        exit(43);
    return 0;
}

static int mode_realloc(void)
{
    hk_heap *h = need(hk_heap_create("arena", 0, 0, 0), 40);
    char *p, *q, *r;
    void *s;
    p = need(malloc(10), 41);
    strcpy(p, "keep");
    p = need(realloc(p, 100), 41); NOTE_LINE("lineGrow");
    if (strcmp(p, "keep") != 0)
        exit(42);
    q = need(realloc(NULL, 30), 41); NOTE_LINE("lineFromNull");
    r = need(malloc(5), 41);
    r = need(realloc(r, 500), 41);
    free(r);                        /* grown and freed: nothing */
    s = need(hk_alloc(h, 0, 8), 43);
    s = need(hk_realloc(h, 0, s, 80), 43); NOTE_LINE("lineHeapGrow");
    (void)q;
    return 0;
}

static int misaligned(const void *p, size_t a)
{
    return p == NULL || (uintptr_t)p % a != 0;
}

static int mode_aligned(void)
{
    void *a, *b = NULL, *c, *d;
    a = aligned_alloc(64, 128);
    if (posix_memalign(&b, 128, 200) != 0)
        exit(40);
    c = aligned_alloc(256, 512);
    if (misaligned(a, 64) || misaligned(b, 128) || misaligned(c, 256))
        exit(41);
    free(a);
    free(b);
    free_sized(c, 512);
#ifdef _WIN32
    c = _aligned_malloc(300, 32);
    if (misaligned(c, 32))
        exit(42);
    _aligned_free(c);
#endif
    d = aligned_alloc(64, 64); NOTE_LINE("lineLeak");     /* tracked too */
    if (misaligned(d, 64))
        exit(43);
    return 0;
}

static int mode_zerosize(void)
{
    need(malloc(0), 40); NOTE_LINE("lineZero");
    need(malloc(1), 40); NOTE_LINE("lineOne");
    return 0;
}

static int mode_suspend(void)
{
    char *c;
    need(malloc(10), 40); NOTE_LINE("lineBefore");
    hk_debug_suspend(1);
    need(malloc(20), 40);               /* never reported */
    c = need(malloc(30), 40);
    hk_debug_suspend(0);
    free(c);                            /* freed later: no FM either */
    need(malloc(40), 40); NOTE_LINE("lineAfter");
    hk_debug_suspend(1);
    hk_debug_suspend(1);
    hk_debug_suspend(0);
    need(malloc(50), 40);               /* still suspended: nests */
    hk_debug_suspend(0);
    return 0;
}

static int mode_checkpoint(void)
{
    char local[8];
    unsigned long cp;
    need(malloc(10), 40);
    cp = hk_debug_checkpoint();
    note("cp", "%lu", cp);
    need(malloc(20), 40); NOTE_LINE("lineNew");
    free(local); NOTE_LINE("lineFM");
    return 0;
}

/* An address no process maps; volatile so the store really happens. */
static volatile uintptr_t g_bad_address = 8;

static int mode_segv(void)
{
    need(malloc(12), 40); NOTE_LINE("lineLeak");
    *(volatile int *)g_bad_address = 1;
    note("after", "1");
    return 0;
}

static int mode_abort(void)
{
    need(malloc(12), 40); NOTE_LINE("lineLeak");
    abort();
}

static int mode_breakalloc(void)
{
    int i;
    for (i = 1; i <= 10; i++) {
        need(malloc(16), 40);
        note("done", "%d", i);
    }
    return 0;
}

static int mode_exitcode(const char *arg)
{
    int status = arg ? atoi(arg) : 0;
    need(malloc(8), 40);
    exit(status);
}

/* Blocks allocated after the mark go with hk_heap_release: no entry for
 * them, and no FM for the release either. */
static int mode_markrelease(void)
{
    hk_heap *h = need(hk_heap_create("arena", 0, 0, 0), 40);
    uintptr_t m;
    int i;
    need(hk_alloc(h, 0, 11), 41); NOTE_LINE("lineBefore");
    m = hk_heap_mark(h);
    if (!m)
        exit(42);
    for (i = 0; i < 3; i++)
        need(hk_alloc(h, 0, 100 + i), 41);
    if (!hk_heap_release(h, m))
        exit(43);
    need(hk_alloc(h, 0, 13), 41); NOTE_LINE("lineAfter");
    return 0;
}

#define THREADS 4
#define PAIRS 100000
#define THREAD_LEAKS 3

/* The line of the leaking malloc, one slot per thread: each thread writes
 * only its own (they all write the same number). */
static int g_leak_line[THREADS];

static void *thread_main(void *arg)
{
    int t = (int)(intptr_t)arg, i;
    for (i = 0; i < PAIRS; i++) {
        char *p = malloc((size_t)(i % 64) + 1);
        if (!p)
            return (void *)1;
        p[0] = (char)t;
        free(p);
    }
    /* size 1000 + 10 * thread + i tells the parent whose leak it is */
    for (i = 0; i < THREAD_LEAKS; i++) {
        g_leak_line[t] = __LINE__; if (!malloc((size_t)(1000 + t * 10 + i))) return (void *)1;
    }
    return NULL;
}

static int mode_threads(void)
{
    pthread_t th[THREADS];
    void *res;
    int t, bad = 0;
    for (t = 0; t < THREADS; t++)
        if (pthread_create(&th[t], NULL, thread_main, (void *)(intptr_t)t) != 0)
            exit(40);
    for (t = 0; t < THREADS; t++) {
        pthread_join(th[t], &res);
        bad |= res != NULL || g_leak_line[t] != g_leak_line[0];
    }
    note("threads", "%d", THREADS);
    note("pairs", "%d", PAIRS);
    note("leaks", "%d", THREAD_LEAKS);
    note("lineLeak", "%d", g_leak_line[0]);
    return bad ? 41 : 0;
}

/* The tracker under load: STRESS_THREADS threads x STRESS_OPS operations,
 * each a malloc and a free.  About a quarter of the frees take a block
 * another thread allocated (an operation puts its new block into another
 * thread's slots and frees the one it takes out); mixed in are frees of
 * pointers that were never allocated, double frees and frees with a
 * wrong size.  Every thread counts what the report must show; the parent
 * compares.  A block holds its size and its thread in its first bytes. */
#define STRESS_THREADS 4
#define STRESS_OPS 200000
#define STRESS_SLOTS 4096
#define STRESS_KEEP 100            /* blocks per thread left live at exit */

struct stress_count { long mallocs, frees, crossed, unknown, doubles, wrong; };

static void *volatile g_stress_slot[STRESS_THREADS][STRESS_SLOTS];
static char g_stress_static[STRESS_THREADS][64];
static struct stress_count g_stress[STRESS_THREADS];
static int g_stress_ready;
/* A double free must not free a block some other thread got in between:
 * the operations hold this for reading, a double free for writing. */
static pthread_rwlock_t g_stress_lock = PTHREAD_RWLOCK_INITIALIZER;

static void *stress_block(int t, uint64_t x, struct stress_count *c)
{
    uint32_t n = 8 + (uint32_t)(x % 500);
    unsigned char *p = malloc(n);
    if (!p)
        exit(40);
    memcpy(p, &n, 4);
    p[4] = (unsigned char)t;
    c->mallocs++;
    return p;
}

static void *stress_main(void *arg)
{
    int t = (int)(intptr_t)arg, i;
    struct stress_count *c = &g_stress[t];
    uint64_t x = 0x9E3779B97F4A7C15ull * (uint64_t)(t + 1);
    for (i = 0; i < STRESS_SLOTS; i++)
        g_stress_slot[t][i] = stress_block(t, x += 0x9E37, c);
    /* every thread's slots are full before any is taken from */
    __atomic_add_fetch(&g_stress_ready, 1, __ATOMIC_ACQ_REL);
    while (__atomic_load_n(&g_stress_ready, __ATOMIC_ACQUIRE) < STRESS_THREADS)
        sched_yield();
    for (i = 0; i < STRESS_OPS; i++) {
        unsigned char *old;
        uint32_t n;
        int to = t;
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        if ((x >> 40) % 64 < 12)              /* a quarter or more of the frees cross */
            to = (t + 1 + (int)((x >> 50) % (STRESS_THREADS - 1))) % STRESS_THREADS;
        pthread_rwlock_rdlock(&g_stress_lock);
        old = __atomic_exchange_n(&g_stress_slot[to][x % STRESS_SLOTS],
                                  stress_block(t, x >> 20, c), __ATOMIC_ACQ_REL);
        memcpy(&n, old, 4);
        c->crossed += old[4] != (unsigned char)t;
        if ((x >> 30) % 512 == 0) {
            free_sized(old, n + 1);           /* S + FS; freed all the same */
            c->wrong++;
        } else if ((x >> 30) % 2 == 0) {
            free_sized(old, n);
        } else {
            free(old);
        }
        c->frees++;
        if ((x >> 12) % 512 == 1) {
            free(&g_stress_static[t][(x >> 24) % 48]);    /* FM: never allocated */
            c->unknown++;
        }
        pthread_rwlock_unlock(&g_stress_lock);
        if ((x >> 12) % 1024 == 2) {
            void *p;
            pthread_rwlock_wrlock(&g_stress_lock);
            p = stress_block(t, x, c);
            free(p);
            free(p);                          /* FM */
            c->frees++;
            c->doubles++;
            pthread_rwlock_unlock(&g_stress_lock);
        }
    }
    return NULL;
}

static int mode_stress(void)
{
    pthread_t th[STRESS_THREADS];
    struct stress_count sum;
    int t, i;
    for (t = 0; t < STRESS_THREADS; t++)
        if (pthread_create(&th[t], NULL, stress_main, (void *)(intptr_t)t) != 0)
            exit(40);
    for (t = 0; t < STRESS_THREADS; t++)
        pthread_join(th[t], NULL);
    memset(&sum, 0, sizeof sum);
    for (t = 0; t < STRESS_THREADS; t++) {
        for (i = STRESS_KEEP; i < STRESS_SLOTS; i++)
            free(g_stress_slot[t][i]);        /* by the main thread */
        sum.mallocs += g_stress[t].mallocs;
        sum.frees += g_stress[t].frees + STRESS_SLOTS - STRESS_KEEP;
        sum.crossed += g_stress[t].crossed;
        sum.unknown += g_stress[t].unknown;
        sum.doubles += g_stress[t].doubles;
        sum.wrong += g_stress[t].wrong;
    }
    note("threads", "%d", STRESS_THREADS);
    note("ops", "%d", STRESS_OPS);
    note("mallocs", "%ld", sum.mallocs);
    note("frees", "%ld", sum.frees);
    note("crossed", "%ld", sum.crossed);
    note("unknown", "%ld", sum.unknown);
    note("doubles", "%ld", sum.doubles);
    note("wrong", "%ld", sum.wrong);
    note("live", "%d", STRESS_THREADS * STRESS_KEEP);
    return 0;
}

/* Frees of one thread's blocks by three others while the owner keeps
 * allocating (its slow paths take back the records the others marked
 * gone), with unknown frees mixed in; then, with no thread allocating,
 * two threads free the same block of the owner's at the same moment: one
 * free goes through, the other is reported (FM).  After each round the
 * owner's live records are exactly its own set. */
#define REMOTE_FREERS 3
#define REMOTE_ROUNDS 40
#define REMOTE_BATCH 2048
#define REMOTE_RACES 16            /* the batch's last blocks: raced on */
#define REMOTE_OWN 1024

static void *volatile g_remote[REMOTE_BATCH];
static volatile int g_remote_next;
static volatile int g_remote_arrive[REMOTE_RACES];
static volatile unsigned g_remote_count, g_remote_gen;
static long g_remote_unknown[REMOTE_FREERS];
static char g_remote_static[64];

/* All REMOTE_FREERS + 1 threads meet here. */
static void remote_barrier(void)
{
    unsigned gen = __atomic_load_n(&g_remote_gen, __ATOMIC_ACQUIRE);
    if (__atomic_add_fetch(&g_remote_count, 1, __ATOMIC_ACQ_REL) == REMOTE_FREERS + 1) {
        __atomic_store_n(&g_remote_count, 0, __ATOMIC_RELAXED);
        __atomic_add_fetch(&g_remote_gen, 1, __ATOMIC_ACQ_REL);
        return;
    }
    while (__atomic_load_n(&g_remote_gen, __ATOMIC_ACQUIRE) == gen)
        sched_yield();
}

static void *remote_freer(void *arg)
{
    int f = (int)(intptr_t)arg, round, i, r;
    for (round = 0; round < REMOTE_ROUNDS; round++) {
        remote_barrier();                     /* the batch is there */
        while ((i = __atomic_fetch_add(&g_remote_next, 1, __ATOMIC_ACQ_REL))
               < REMOTE_BATCH - REMOTE_RACES) {
            free(g_remote[i]);
            if (i % 97 == f) {
                free(&g_remote_static[i % 48]);          /* FM: never allocated */
                g_remote_unknown[f]++;
            }
        }
        remote_barrier();                     /* nobody allocates from here */
        for (r = 0; r < REMOTE_RACES; r++) {
            if (r % REMOTE_FREERS != f && (r + 1) % REMOTE_FREERS != f)
                continue;
            __atomic_add_fetch(&g_remote_arrive[r], 1, __ATOMIC_ACQ_REL);
            while (__atomic_load_n(&g_remote_arrive[r], __ATOMIC_ACQUIRE) < 2)
                ;
            free(g_remote[REMOTE_BATCH - REMOTE_RACES + r]);  /* one of the two: FM */
        }
        remote_barrier();
    }
    return NULL;
}

static int mode_remote(void)
{
    pthread_t th[REMOTE_FREERS];
    void *own[REMOTE_OWN];
    uint64_t x = 0x9E3779B97F4A7C15ull;
    long mallocs = 0, unknown = 0;
    int f, round, i;
    hk_debug_stats st;
    for (i = 0; i < REMOTE_OWN; i++, mallocs++)
        own[i] = need(malloc(8 + i % 300), 40);
    for (f = 0; f < REMOTE_FREERS; f++)
        if (pthread_create(&th[f], NULL, remote_freer, (void *)(intptr_t)f) != 0)
            exit(40);
    for (round = 0; round < REMOTE_ROUNDS; round++) {
        for (i = 0; i < REMOTE_BATCH; i++, mallocs++)
            g_remote[i] = need(malloc(8 + (size_t)((x += 0x9E37) % 300)), 40);
        for (i = 0; i < REMOTE_RACES; i++)
            g_remote_arrive[i] = 0;
        g_remote_next = 0;
        remote_barrier();
        for (i = 0; i < 2 * REMOTE_BATCH; i++, mallocs++) {   /* the owner churns */
            size_t k;
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            k = (size_t)(x % REMOTE_OWN);
            free(own[k]);
            own[k] = need(malloc(8 + (size_t)((x >> 20) % 300)), 40);
        }
        remote_barrier();
        remote_barrier();
        hk_debug_stats_get(&st);
        if (st.live != REMOTE_OWN)
            exit(41);
    }
    for (f = 0; f < REMOTE_FREERS; f++) {
        pthread_join(th[f], NULL);
        unknown += g_remote_unknown[f];
    }
    for (i = 0; i < REMOTE_OWN; i++)
        free(own[i]);
    note("mallocs", "%ld", mallocs);
    note("races", "%d", REMOTE_ROUNDS * REMOTE_RACES);
    note("unknown", "%ld", unknown);
    return 0;
}

/* A few blocks are recorded, then the tracker's own allocator fails, so
 * it cannot grow past what it has; the program's blocks must still be
 * there, and what was not recorded is counted. */
#define OOM_BEFORE 10
#define OOM_BLOCKS 100000

static int mode_oom(void)
{
    hk_debug_stats st;
    int i;
    for (i = 0; i < OOM_BEFORE; i++)
        need(malloc(8), 41);
    hk_debug_fail_after(0);
    for (i = 0; i < OOM_BLOCKS; i++) {
        char *p = malloc(8);
        if (!p)
            exit(40);
        p[7] = 1;
    }
    hk_debug_stats_get(&st);
    note("before", "%d", OOM_BEFORE);
    note("blocks", "%d", OOM_BEFORE + OOM_BLOCKS);
    note("registered", "%lu", st.registered);
    note("entries", "%lu", st.entries);
    note("missed", "%lu", st.missed);
    return 0;
}

static int mode_report2(void)
{
    need(malloc(10), 40);
    note("first", "%d", hk_debug_report());
    need(malloc(20), 40);
    note("second", "%d", hk_debug_report());
    return 0;
}

/* No debugger function and no macro: only HEAPKIT_DEBUG=1 starts the
 * tracker, and then the leak has no file (the parentheses bypass the
 * macro, as a library calling hk_alloc would). */
static int mode_hkdebug(void)
{
    hk_heap *h = hk_heap_create("arena", 0, 0, 0);
    if (!h || !(hk_alloc)(h, 0, 45))
        return 40;
    return 0;
}

/* The debugger started by a macro call; a bypassed hk_alloc after that
 * is tracked all the same, with no file and no function. */
/* Not inlined: the caller recorded for hk_alloc lies in this function
 * (noted), also where hk_alloc's jump is a call (-O1, sanitizers). */
static __attribute__((noinline)) int mode_hkbypass(void)
{
    hk_heap *h = need(hk_heap_create("arena", 0, 0, 0), 40);
    need(malloc(4), 41); NOTE_LINE("lineMacro");
    NOTE_PTR("hkbypassFn", (void *)mode_hkbypass);
    if (!(hk_alloc)(h, 0, 46))
        return 42;
    return 0;
}

/* Memory the macros never saw, freed and reallocated through them: libc's
 * own blocks (strdup and malloc with the macro bypassed, getline's
 * buffer).  The C runtime vouches for them, so they go back to it: no FM,
 * and realloc keeps the contents and never returns NULL.  A double free
 * and a stack pointer stay FM. */
static int mode_foreign(void)
{
    char *a = (strdup)("foreign"), *b = (malloc)(40), *d, local[16];
    if (!a || !b)
        return 40;
    memset(b, 'x', 40);
    free(a);                                            /* passed on */
    b = realloc(b, 4000);                               /* passed on */
    if (!b || b[0] != 'x' || b[39] != 'x')
        return 41;
    free(b);                                            /* recorded now */
#ifndef _WIN32
    {
        FILE *f = tmpfile();
        char *line = NULL;
        size_t cap = 0;
        if (!f || fputs("one line\n", f) < 0)
            return 42;
        rewind(f);
        if (getline(&line, &cap, f) < 0)
            return 43;
        fclose(f);
        free(line);                                     /* libc's: passed on */
    }
#endif
    d = malloc(8);
    free(d);
    free(d); NOTE_LINE("lineDouble");                   /* FM */
    memset(local, 0, sizeof local);
    free(local); NOTE_LINE("lineStack");                /* FM */
    return 0;
}

/* Many live blocks from three call sites, then one problem of each kind
 * (an S/FS pair, an FM) after all of them: a capped report must still
 * list the problems.  Block i is allocation No. i + 1 (one thread, no
 * allocation before); what each site got is noted for the loss records.
 * With DBGCHILD_ERR set, stderr goes to that file (the debugger's
 * warnings). */
static int mode_many(const char *arg)
{
    const char *err = getenv("DBGCHILD_ERR");
    long n = arg ? atol(arg) : 200000, i, count[3] = { 0, 0, 0 };
    unsigned long long bytes[3] = { 0, 0, 0 };
    long first[3] = { 0, 0, 0 }, last[3] = { 0, 0, 0 };
    int line[3];
    char local[8], *p;
    static const char *const name[3] = { "A", "B", "C" };
    if (err && !freopen(err, "w", stderr))
        exit(44);
    local[0] = 0;
    line[0] = line[1] = line[2] = 0;
    for (i = 0; i < n; i++) {
        int k = (int)(i % 3);
        size_t size = 16 + (size_t)(i % 7);
        switch (k) {
        case 0:  need(malloc(size), 40); line[0] = __LINE__; break;
        case 1:  need(malloc(size), 40); line[1] = __LINE__; break;
        default: need(malloc(size), 40); line[2] = __LINE__; break;
        }
        if (!count[k]++)
            first[k] = i + 1;
        last[k] = i + 1;
        bytes[k] += size;
    }
    p = need(malloc(100), 41); NOTE_LINE("lineS");
    NOTE_LINE("lineFS"); free_sized(p, 64);
    NOTE_LINE("lineFM"); free(local);
    note("blocks", "%ld", n);
    for (i = 0; i < 3; i++) {
        char key[16];
        snprintf(key, sizeof key, "line%s", name[i]);
        note(key, "%d", line[i]);
        snprintf(key, sizeof key, "count%s", name[i]);
        note(key, "%ld", count[i]);
        snprintf(key, sizeof key, "bytes%s", name[i]);
        note(key, "%llu", bytes[i]);
        snprintf(key, sizeof key, "first%s", name[i]);
        note(key, "%ld", first[i]);
        snprintf(key, sizeof key, "last%s", name[i]);
        note(key, "%ld", last[i]);
    }
    return 0;
}

/* ---- tracker robustness: thread stack overflow, many threads, OOM ----- */

/* A worker that allocates (so the tracker set up its alternate signal
 * stack) and then recurses without end, a big frame at a time. */
static volatile int g_stop_recursion;

static int deep(int n)
{
    volatile char frame[16384];
    frame[0] = (char)n;
    frame[sizeof frame - 1] = (char)n;
    if (g_stop_recursion)
        return frame[0];
    return deep(n + 1) + frame[n & 1023];
}

static int g_worker_line;

static void *overflow_main(void *arg)
{
    (void)arg;
    g_worker_line = __LINE__; if (!malloc(21)) return (void *)1;
    note("lineWorker", "%d", g_worker_line);
    return (void *)(intptr_t)deep(0);
}

static int mode_threadoverflow(void)
{
    pthread_t th;
    need(malloc(12), 40); NOTE_LINE("lineLeak");
    if (pthread_create(&th, NULL, overflow_main, NULL) != 0)
        exit(41);
    pthread_join(th, NULL);
    note("after", "1");
    return 0;
}

/* Short-lived threads, each with one malloc/free, a few at a time, while
 * another thread reads the counters all along. */
#define MANY_BATCH 8

static int g_many_leak_line;
static volatile int g_reader_stop;
static int g_reader_monotonic = 1;
static unsigned long g_reader_max_threads, g_reader_reads;

static void *many_main(void *arg)
{
    int i = (int)(intptr_t)arg;
    char *p = malloc((size_t)(16 + i % 32));
    if (!p)
        return (void *)1;
    p[0] = (char)i;
    free(p);
    if (i == 0) {           /* a dead thread's leak is still reported */
        g_many_leak_line = __LINE__; if (!malloc(777)) return (void *)1;
    }
    return NULL;
}

static void *reader_main(void *arg)
{
    hk_debug_stats st;
    unsigned long last = 0;
    (void)arg;
    while (!__atomic_load_n(&g_reader_stop, __ATOMIC_ACQUIRE)) {
        hk_debug_stats_get(&st);
        if (st.registered < last)
            g_reader_monotonic = 0;
        last = st.registered;
        if (st.threads > g_reader_max_threads)
            g_reader_max_threads = st.threads;
        g_reader_reads++;
        sched_yield();
    }
    return NULL;
}

static long rss_kib(void)
{
#ifdef _WIN32
    return 0;
#else
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
#endif
}

static int mode_manythreads(const char *arg)
{
    int n = arg ? atoi(arg) : 20000, i, k, bad = 0;
    pthread_t th[MANY_BATCH], reader;
    hk_debug_stats st0, st1;
    long rss0, rss1;
    void *res;
    need(malloc(5), 40); NOTE_LINE("lineMain");
    hk_debug_stats_get(&st0);
    rss0 = rss_kib();
    if (pthread_create(&reader, NULL, reader_main, NULL) != 0)
        exit(41);
    for (i = 0; i < n; i += k) {
        for (k = 0; k < MANY_BATCH && i + k < n; k++)
            if (pthread_create(&th[k], NULL, many_main, (void *)(intptr_t)(i + k)) != 0)
                exit(42);
        for (k = 0; k < MANY_BATCH && i + k < n; k++) {
            pthread_join(th[k], &res);
            bad |= res != NULL;
        }
    }
    __atomic_store_n(&g_reader_stop, 1, __ATOMIC_RELEASE);
    pthread_join(reader, NULL);
    hk_debug_stats_get(&st1);
    rss1 = rss_kib();
    note("threads", "%d", n);
    note("batch", "%d", MANY_BATCH);
    note("lineLeak", "%d", g_many_leak_line);
    note("states0", "%lu", st0.threads);
    note("states1", "%lu", st1.threads);
    note("bytes0", "%lu", (unsigned long)st0.thread_bytes);
    note("bytes1", "%lu", (unsigned long)st1.thread_bytes);
    note("registered", "%lu", st1.registered);
    note("maxstates", "%lu", g_reader_max_threads);
    note("reads", "%lu", g_reader_reads);
    note("monotonic", "%d", g_reader_monotonic);
    note("rss0", "%ld", rss0);
    note("rss1", "%ld", rss1);
    return bad ? 43 : 0;
}

/* Bytes the C runtime's heap has handed out and not taken back. */
#ifndef _WIN32
/* Under ASan/TSan malloc is the sanitizer's: mallinfo2 knows nothing. */
extern size_t __sanitizer_get_current_allocated_bytes(void) __attribute__((weak));
#endif

static size_t crt_in_use(void)
{
#ifndef _WIN32
    if (__sanitizer_get_current_allocated_bytes)
        return __sanitizer_get_current_allocated_bytes();
#endif
#ifdef _WIN32
    HANDLE h = (HANDLE)_get_heap_handle();
    PROCESS_HEAP_ENTRY e;
    size_t n = 0;
    memset(&e, 0, sizeof e);
    while (HeapWalk(h, &e))
        if (e.wFlags & PROCESS_HEAP_ENTRY_BUSY)
            n += e.cbData;
    return n;
#else
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
#endif
}

/* The tracker's memory runs out with blocks it could not record: their
 * reallocs and frees must reach the C runtime (and an hk heap), a double
 * free and a stack pointer must not. */
#define OOMF_BLOCKS 20000
#define OOMF_HEAP 500

static size_t oomf_size(int i) { return (size_t)(8 + (i * 37) % 256); }

static int mode_oomfree(void)
{
    hk_heap *h = need(hk_heap_create("arena", 0, 0, 0), 40);
    char local[16], **blk, *d;
    void **hb;
    size_t before, mid, after, want = 0;
    hk_heap_entry e;
    int i, busy = 0;
    size_t j;
    local[0] = 0;
    need(malloc(10), 40); NOTE_LINE("lineBefore");
    NOTE_LINE("lineStack"); free(local);   /* recorded: the event log has room */
    blk = need((malloc)(OOMF_BLOCKS * sizeof *blk), 40);   /* not the scenario's */
    hb = need((malloc)(OOMF_HEAP * sizeof *hb), 40);
    before = crt_in_use();
    hk_debug_fail_after(0);
    for (i = 0; i < OOMF_BLOCKS; i++) {
        blk[i] = need(malloc(oomf_size(i)), 41);
        memset(blk[i], i & 0xFF, oomf_size(i));
        want += oomf_size(i);
    }
    for (i = 0; i < OOMF_HEAP; i++)
        hb[i] = need(hk_alloc(h, 0, oomf_size(i)), 42);
    mid = crt_in_use();
    for (i = 0; i < OOMF_BLOCKS; i++) {
        char *q = realloc(blk[i], 2 * oomf_size(i));
        if (!q)
            exit(43);               /* a valid block: never NULL */
        for (j = 0; j < oomf_size(i); j++)
            if (q[j] != (char)(i & 0xFF))
                exit(44);           /* contents kept */
        blk[i] = q;
    }
    for (i = 0; i < OOMF_BLOCKS; i++)
        free(blk[i]);
    for (i = 0; i < OOMF_HEAP; i++) {
        hb[i] = need(hk_realloc(h, 0, hb[i], 2 * oomf_size(i)), 45);
        if (!hk_free(h, 0, hb[i]))
            exit(46);
    }
    memset(&e, 0, sizeof e);
    while (hk_walk(h, &e))
        busy += (e.flags & HK_ENTRY_BUSY) != 0;
    after = crt_in_use();
    for (i = 0; i < 1000; i++) {    /* an address freed and handed out again */
        d = need(malloc(24), 47);
        free(d);
    }
    d = need(malloc(24), 47);
    free(d);
    NOTE_LINE("lineDouble"); NOTE_PTR("ptrDouble", d); free(d);
    (free)(blk);
    (free)(hb);
    note("blocks", "%d", OOMF_BLOCKS);
    note("want", "%lu", (unsigned long)want);
    note("before", "%lu", (unsigned long)before);
    note("mid", "%lu", (unsigned long)mid);
    note("after", "%lu", (unsigned long)after);
    note("heapbusy", "%d", busy);
    note("allocs", "%d", 1 + OOMF_BLOCKS + OOMF_HEAP + 1000 + 1);
    {
        hk_debug_stats st;
        hk_debug_stats_get(&st);
        note("missed", "%lu", st.missed);
    }
    return 0;
}

/* Report hygiene (issue 11): source paths as given, one absolute under
 * the working directory (shown relative), one too long for the text
 * column, one with bytes that are not UTF-8; all leaked. */
static int mode_paths(void)
{
    static char abs[1000];     /* the tracker keeps the pointer */
    char cwd[900];
#ifdef _WIN32
    if (!GetCurrentDirectoryA(sizeof cwd, cwd))
        return 47;
#else
    if (!getcwd(cwd, sizeof cwd))
        return 47;
#endif
    snprintf(abs, sizeof abs, "%s/sub/dir/inside.c", cwd);
    need(hk_dbg_malloc(11, abs, 101, "f_abs"), 40);
    need(hk_dbg_malloc(12, "a/rather/long/directory/tree/for/the/column/long.c", 102,
                       "f_long"), 41);
    need(hk_dbg_malloc(13, "bad\xff\xfe" "name\xc3(\x01.c", 103, "f_bad\x80"), 42);
    return 0;
}

/* A program that ends with the status it is given and no finding. */
static int mode_status(const char *arg)
{
    free(need(malloc(8), 40));
    exit(arg ? atoi(arg) : 0);
}

/* One leak, and the pid noted: HEAPKIT_REPORT=...%p names the file. */
static int mode_pid(void)
{
#ifdef _WIN32
    note("pid", "%lu", (unsigned long)GetCurrentProcessId());
#else
    note("pid", "%lu", (unsigned long)getpid());
#endif
    need(malloc(21), 40);
    return 0;
}

/* The default backend, as HEAPKIT_BACKEND chose it. */
static int mode_defbackend(void)
{
    note("backend", "%s", hk_default_backend());
    return 0;
}

#ifndef _WIN32
/* A forked child keeps tracking and writes its own report (%p). */
static int mode_fork(void)
{
    pid_t pid;
    int st;
    need(malloc(31), 40);
    note("parent", "%lu", (unsigned long)getpid());
    fflush(stdout);
    pid = fork();
    if (pid < 0)
        return 41;
    if (pid == 0) {
        need(malloc(32), 42);
        note("child", "%lu", (unsigned long)getpid());
        exit(0);
    }
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return 43;
    return 0;
}
#endif


int main(int argc, char **argv)
{
    const char *m = argc > 1 ? argv[1] : "";
    const char *arg = argc > 2 ? argv[2] : NULL;
    const char *err = getenv("DBGCHILD_ERR");
    /* before the debugger starts: its warnings about settings go there */
    if (err && strcmp(m, "many") != 0 && !freopen(err, "w", stderr))
        return 44;
    if (!strcmp(m, "clean")) return mode_clean();
    if (!strcmp(m, "leak")) return mode_leak();
    if (!strcmp(m, "objleak")) return mode_objleak();
    if (!strcmp(m, "kinds")) return mode_kinds();
    if (!strcmp(m, "kindsthreads")) return mode_kinds_threads();
    if (!strcmp(m, "objwrong")) return mode_objwrong();
    if (!strcmp(m, "wrongsize")) return mode_wrongsize();
    if (!strcmp(m, "unknownfree")) return mode_unknownfree();
    if (!strcmp(m, "doublefree")) return mode_doublefree();
    if (!strcmp(m, "otherheap")) return mode_otherheap();
    if (!strcmp(m, "heapdestroy")) return mode_heapdestroy();
    if (!strcmp(m, "realloc")) return mode_realloc();
    if (!strcmp(m, "aligned")) return mode_aligned();
    if (!strcmp(m, "zerosize")) return mode_zerosize();
    if (!strcmp(m, "suspend")) return mode_suspend();
    if (!strcmp(m, "checkpoint")) return mode_checkpoint();
    if (!strcmp(m, "segv")) return mode_segv();
    if (!strcmp(m, "abort")) return mode_abort();
    if (!strcmp(m, "breakalloc")) return mode_breakalloc();
    if (!strcmp(m, "exitcode")) return mode_exitcode(arg);
    if (!strcmp(m, "markrelease")) return mode_markrelease();
    if (!strcmp(m, "threads")) return mode_threads();
    if (!strcmp(m, "stress")) return mode_stress();
    if (!strcmp(m, "remote")) return mode_remote();
    if (!strcmp(m, "oom")) return mode_oom();
    if (!strcmp(m, "report2")) return mode_report2();
    if (!strcmp(m, "hkdebug")) return mode_hkdebug();
    if (!strcmp(m, "hkbypass")) return mode_hkbypass();
    if (!strcmp(m, "foreign")) return mode_foreign();
    if (!strcmp(m, "many")) return mode_many(arg);
    if (!strcmp(m, "threadoverflow")) return mode_threadoverflow();
    if (!strcmp(m, "manythreads")) return mode_manythreads(arg);
    if (!strcmp(m, "oomfree")) return mode_oomfree();
    if (!strcmp(m, "paths")) return mode_paths();
    if (!strcmp(m, "status")) return mode_status(arg);
    if (!strcmp(m, "pid")) return mode_pid();
    if (!strcmp(m, "defbackend")) return mode_defbackend();
#ifndef _WIN32
    if (!strcmp(m, "fork")) return mode_fork();
#endif
    fprintf(stderr, "dbgchild: unknown mode '%s'\n", m);
    return 2;
}
