/*
 * unwchild.c - the child of tests/debug.c's cached-unwinder tests (Linux),
 * built -O2 -fomit-frame-pointer like its library (tests/unwlib.c): blocks
 * allocated 5 frames deep on two call paths through the library, and at
 * the bottom of a recursion 20 deep.  Right after each allocation the
 * allocating function asks libgcc's _Unwind_Backtrace for its own stack
 * and notes the frames above itself ("<tag>.<i> 0x...", DBGCHILD_OUT),
 * which the report's backtrace (HEAPKIT_BACKTRACE=8) must equal.  It
 * also notes how often heapkit fell back on libgcc's unwinder ("slow").
 */
#define _GNU_SOURCE 1            /* RTLD_NEXT */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unwind.h>

#include "heapkit.h"
#include "heapkit/debug.h"      /* last */

void *unwlib_b(void *(*fn)(int), int n);

#define NOINLINE __attribute__((noinline))

typedef struct {
    uintptr_t f[16];
    int n;
} frames;

/* libgcc's unwinder, interposed: heapkit's calls of it are counted
 * ("slow"), so the test knows the stacks came from the cached unwinder. */
typedef _Unwind_Reason_Code (*backtrace_fn)(_Unwind_Trace_Fn, void *);
static int slow_calls;

static backtrace_fn real_backtrace(void)
{
    return (backtrace_fn)dlsym(RTLD_NEXT, "_Unwind_Backtrace");
}

_Unwind_Reason_Code _Unwind_Backtrace(_Unwind_Trace_Fn fn, void *arg)
{
    backtrace_fn real = real_backtrace();
    slow_calls++;
    return real ? real(fn, arg) : _URC_END_OF_STACK;
}

static _Unwind_Reason_Code step(struct _Unwind_Context *ctx, void *arg)
{
    frames *w = arg;
    w->f[w->n++] = (uintptr_t)_Unwind_GetIP(ctx);
    return w->n == 16 ? _URC_END_OF_STACK : _URC_NO_REASON;
}

/* The frames above the function that calls this one: f[2] on (f[0] is
 * here, f[1] in the allocating function). */
static NOINLINE void note_stack(const char *tag)
{
    const char *path = getenv("DBGCHILD_OUT");
    FILE *o = path && tag ? fopen(path, "a") : NULL;
    frames w;
    int i;
    backtrace_fn real = real_backtrace();
    if (!o)
        return;
    w.n = 0;
    if (real)                   /* libgcc's own: no frame of the wrapper's */
        real(step, &w);
    for (i = 2; o && i < w.n; i++)
        fprintf(o, "%s.%d 0x%lx\n", tag, i - 1, (unsigned long)w.f[i]);
    if (o) {
        fprintf(o, "%s.n %d\n", tag, w.n - 1);
        fclose(o);
    }
}

static hk_heap *heap;
static __thread const char *tag;        /* NULL: no note */

/* The allocation: the macros are not used, so the report knows only the
 * return address and the stack. */
NOINLINE void *unw_leaf(int n)
{
    void *p = (hk_alloc)(heap, 0, (size_t)n);
    note_stack(tag);
    return p;
}

NOINLINE void *unw_d(int n)
{
    void *p = unw_leaf(n + 1);
    __asm__ volatile("" ::: "memory");      /* no tail call */
    return p;
}

/* leaf <- d <- unwlib_c <- unwlib_b <- path_x <- main */
NOINLINE void *unw_path_a(int base)
{
    void *p;
    p = unwlib_b(unw_d, base);              /* base + 3 bytes */
    __asm__ volatile("" ::: "memory");
    return p;
}

NOINLINE void *unw_path_b(int base)
{
    void *p;
    p = unwlib_b(unw_d, base);
    __asm__ volatile("" ::: "memory");
    return p;
}

NOINLINE void *unw_rec(volatile int k, int size)
{
    void *p = k ? unw_rec(k - 1, size) : unw_leaf(size);
    __asm__ volatile("" ::: "memory");
    return p;
}

/* Four threads at once, each through both paths and the recursion many
 * times, each leaving one block (path a, 5003 + 10 t bytes, tag "t<t>"). */
static const char *const thread_tags[] = { "t0", "t1", "t2", "t3" };

static NOINLINE void *unw_thread(void *arg)
{
    int t = (int)(intptr_t)arg, i;
    void *p;
    for (i = 0; i < 300; i++) {
        hk_free(heap, 0, unw_path_a(10));
        hk_free(heap, 0, unw_path_b(20));
        hk_free(heap, 0, unw_rec(i % 25, 30));
    }
    tag = thread_tags[t];
    p = unw_path_a(5000 + 10 * t);
    __asm__ volatile("" ::: "memory");      /* no tail call */
    return p;
}

/* A block allocated in a signal handler (tag "s", 7003 bytes): the
 * signal frame is beyond the cached unwinder, libgcc's takes over. */
#ifdef __SANITIZE_THREAD__
/* ThreadSanitizer: that allocation in a handler is on purpose (a
 * synchronous raise, nothing interrupted) */
__attribute__((visibility("default"))) const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
    return "report_signal_unsafe=0";
}
#endif

static void on_signal(int sig)
{
    (void)sig;
    tag = "s";
    unw_path_a(7000);
    tag = NULL;
}

static void note_slow(void)
{
    const char *path = getenv("DBGCHILD_OUT");
    FILE *o = path ? fopen(path, "a") : NULL;
    if (o) {
        fprintf(o, "slow %d\n", slow_calls);
        fclose(o);
    }
}

int main(int argc, char **argv)
{
    const char *m = argc > 1 ? argv[1] : "";
    void *keep[3];
    if (!malloc(11))                        /* starts the debugger */
        return 40;
    heap = hk_heap_create("arena", 0, 0, 0);
    if (!heap)
        return 41;
    if (!strcmp(m, "stacks")) {
        /* each twice (tags a b r, then A B R): the second stack is the
         * cache's */
        tag = "a";
        keep[0] = unw_path_a(100);          /* 103 bytes */
        tag = "b";
        keep[1] = unw_path_b(200);          /* 203 */
        tag = "r";
        keep[2] = unw_rec(20, 300);
        if (!keep[0] || !keep[1] || !keep[2])
            return 42;
        tag = "A";
        keep[0] = unw_path_a(1000);         /* 1003 */
        tag = "B";
        keep[1] = unw_path_b(2000);         /* 2003 */
        tag = "R";
        keep[2] = unw_rec(20, 3000);
        note_slow();
        return keep[0] && keep[1] && keep[2] ? 0 : 42;
    }
    if (!strcmp(m, "alternate")) {
        /* the two paths by turns, the same caller at the same depth with
         * the same frame sizes: the thread's stack cache must tell them
         * apart (tags X, Y: the last of each), and a stack taken many
         * times over from the cache (tag Q, the recursion 20 deep) */
        int i;
        for (i = 0; i < 200; i++) {
            int last = i >= 198;
            tag = last ? (i & 1 ? "Y" : "X") : NULL;
            keep[i & 1] = i & 1 ? unw_path_b(9000) : unw_path_a(8000);
            if (!keep[i & 1])
                return 42;
            if (!last)
                hk_free(heap, 0, keep[i & 1]);
        }
        for (i = 0; i < 50; i++) {
            tag = i == 49 ? "Q" : NULL;
            keep[2] = unw_rec(i == 49 ? 20 : i % 25, i == 49 ? 9500 : 30);
            if (!keep[2])
                return 42;
            if (i < 49)
                hk_free(heap, 0, keep[2]);
        }
        note_slow();
        return 0;
    }
    if (!strcmp(m, "threads")) {
        pthread_t th[4];
        void *r;
        int t;
        for (t = 0; t < 4; t++)
            if (pthread_create(&th[t], NULL, unw_thread, (void *)(intptr_t)t) != 0)
                return 43;
        for (t = 0; t < 4; t++)
            if (pthread_join(th[t], &r) != 0 || !r)
                return 44;
        note_slow();
        return 0;
    }
    if (!strcmp(m, "signal")) {
        signal(SIGUSR1, on_signal);
        raise(SIGUSR1);
        return 0;
    }
    fprintf(stderr, "unwchild: unknown mode '%s'\n", m);
    return 2;
}
