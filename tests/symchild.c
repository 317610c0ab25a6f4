/*
 * symchild.c - the child of tests/debug.c's symbolization tests (Linux):
 * blocks allocated in this program (built with -g) and in two shared
 * libraries of its own (libsymg.so with debug information, libsymnodbg.so
 * without), and through call chains for HEAPKIT_BACKTRACE.  Allocations
 * bypass the macros where the place must come from symbolization.  What
 * the parent cannot know (lines, paths) goes to DBGCHILD_OUT as
 * "key value" lines.
 */
#define _GNU_SOURCE 1
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapkit.h"
#include "heapkit/debug.h"      /* last */

void *symlib_g_alloc(hk_heap *h);
void *symlib_nodbg_alloc(hk_heap *h);
extern int symlib_g_line, symlib_nodbg_line;

static void note(const char *key, const char *val)
{
    const char *path = getenv("DBGCHILD_OUT");
    FILE *f = path ? fopen(path, "a") : NULL;
    if (f) {
        fprintf(f, "%s %s\n", key, val);
        fclose(f);
    }
}

static void note_int(const char *key, long v)
{
    char b[32];
    snprintf(b, sizeof b, "%ld", v);
    note(key, b);
}

static hk_heap *heap;
#define NOINLINE __attribute__((noinline))

/* The entry from the program: no macro, so symbolized. */
static NOINLINE void *sym_main_alloc(void)
{
    void *p = (hk_alloc)(heap, 0, 22); note_int("lineMain", __LINE__);
    return p;
}

/* Three deep: bt_outer -> bt_middle -> bt_inner, which allocates. */
static NOINLINE void *bt_inner(void)
{
    void *p = (hk_alloc)(heap, 0, 66); note_int("lineInner", __LINE__);
    return p;
}

static NOINLINE void *bt_middle(void)
{
    void *p = bt_inner();
    __asm__ volatile("" ::: "memory");   /* no tail call */
    return p;
}

static NOINLINE void *bt_outer(void)
{
    void *p = bt_middle();
    __asm__ volatile("" ::: "memory");
    return p;
}

/* One call site reached by two paths: two stacks.  (The paths differ in
 * what they pass, so the compiler cannot fold them into one.) */
static NOINLINE void *leaf(int n)
{
    void *p = (hk_alloc)(heap, 0, (size_t)n); note_int("lineLeaf", __LINE__);
    return p;
}

static NOINLINE void *path_a(void)
{
    void *p = leaf(77);
    __asm__ volatile("" ::: "memory");
    return p;
}

static NOINLINE void *path_b(void)
{
    void *p = leaf(78);
    __asm__ volatile("" ::: "memory");
    return p;
}

/* Deeper than HEAPKIT_BACKTRACE=8, frame pointers all the way: the
 * second block's stack comes from the frame-pointer walk, which must
 * give the first one's (the unwinder's) frames. */
static NOINLINE void *rec(int k)
{
    void *p = k ? rec(k - 1) : (hk_alloc)(heap, 0, 88);
    __asm__ volatile("" ::: "memory");
    return p;
}

int main(int argc, char **argv)
{
    Dl_info di;
    const char *m = argc > 1 ? argv[1] : "";
    if (!malloc(11))                        /* starts the debugger */
        return 40;
    heap = hk_heap_create("arena", 0, 0, 0);
    if (!heap)
        return 41;
    if (!strcmp(m, "places")) {
        if (!sym_main_alloc() || !symlib_g_alloc(heap) || !symlib_nodbg_alloc(heap))
            return 42;
        note_int("lineLibG", symlib_g_line);
        note_int("lineLibNodbg", symlib_nodbg_line);
        if (dladdr((void *)symlib_nodbg_alloc, &di) && di.dli_fname)
            note("nodbgPath", di.dli_fname);
        return 0;
    }
    if (!strcmp(m, "stacks")) {
        if (!bt_outer() || !path_a() || !path_b() || !rec(12) || !rec(12))
            return 42;
        return 0;
    }
    if (!strcmp(m, "crash")) {
        /* not NULL: UBSan would stop at a null load before the signal */
        static volatile uintptr_t bad = 8;
        return *(volatile int *)bad;
    }
    fprintf(stderr, "symchild: unknown mode '%s'\n", m);
    return 2;
}
