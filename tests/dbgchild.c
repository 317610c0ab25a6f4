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
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
static int mode_hkbypass(void)
{
    hk_heap *h = need(hk_heap_create("arena", 0, 0, 0), 40);
    need(malloc(4), 41); NOTE_LINE("lineMacro");
    if (!(hk_alloc)(h, 0, 46))
        return 42;
    return 0;
}


int main(int argc, char **argv)
{
    const char *m = argc > 1 ? argv[1] : "";
    const char *arg = argc > 2 ? argv[2] : NULL;
    if (!strcmp(m, "clean")) return mode_clean();
    if (!strcmp(m, "leak")) return mode_leak();
    if (!strcmp(m, "objleak")) return mode_objleak();
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
    if (!strcmp(m, "oom")) return mode_oom();
    if (!strcmp(m, "report2")) return mode_report2();
    if (!strcmp(m, "hkdebug")) return mode_hkdebug();
    if (!strcmp(m, "hkbypass")) return mode_hkbypass();
    fprintf(stderr, "dbgchild: unknown mode '%s'\n", m);
    return 2;
}
