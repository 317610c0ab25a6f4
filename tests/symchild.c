/*
 * symchild.c - the child of tests/debug.c's symbolization tests (Linux,
 * and Windows through DbgHelp):
 * blocks allocated in this program (built with -g) and in two shared
 * libraries of its own (libsymg.so with debug information, libsymnodbg.so
 * without), and through call chains for HEAPKIT_BACKTRACE.  Allocations
 * bypass the macros where the place must come from symbolization.  What
 * the parent cannot know (lines, paths) goes to DBGCHILD_OUT as
 * "key value" lines.
 */
#define _GNU_SOURCE 1
#ifdef _WIN32
#  include <windows.h>
#else
#  include <dlfcn.h>
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapkit.h"
#include "heapkit/debug.h"      /* last */

#ifdef _WIN32
/* Windows: the libraries are DLLs beside the program (symg.dll,
 * symnodbg.dll), loaded at run time; they allocate through the hk_alloc
 * pointer they get (see symlib.c). */
typedef void *(*hk_alloc_fn)(hk_heap *, unsigned, size_t);
static void *(*lib_g)(hk_heap *, hk_alloc_fn), *(*lib_nodbg)(hk_heap *, hk_alloc_fn);
static int *lib_g_line, *lib_nodbg_line;
#  define symlib_g_alloc(h) lib_g((h), hk_alloc)
#  define symlib_nodbg_alloc(h) lib_nodbg((h), hk_alloc)
#  define symlib_g_line (*lib_g_line)
#  define symlib_nodbg_line (*lib_nodbg_line)

static int load_libs(void)
{
    HMODULE g = LoadLibraryA("symg.dll"), n = LoadLibraryA("symnodbg.dll");
    if (!g || !n)
        return 0;
    lib_g = (void *(*)(hk_heap *, hk_alloc_fn))(void (*)(void))GetProcAddress(g, "symlib_g_alloc");
    lib_nodbg = (void *(*)(hk_heap *, hk_alloc_fn))(void (*)(void))GetProcAddress(n, "symlib_nodbg_alloc");
    lib_g_line = (int *)(void *)GetProcAddress(g, "symlib_g_line");
    lib_nodbg_line = (int *)(void *)GetProcAddress(n, "symlib_nodbg_line");
    return lib_g && lib_nodbg && lib_g_line && lib_nodbg_line;
}
#else
void *symlib_g_alloc(hk_heap *h);
void *symlib_nodbg_alloc(hk_heap *h);
extern int symlib_g_line, symlib_nodbg_line;
#endif

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

/* tests/w32order1.c and w32order2.c (the two include orders) */
int w32order1(void);
int w32order2(void);
void w32order_note(const char *key, long v);
void w32order_note(const char *key, long v)
{
    note_int(key, v);
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
#ifndef _WIN32
    Dl_info di;
#endif
    const char *m = argc > 1 ? argv[1] : "";
    if (!malloc(11))                        /* starts the debugger */
        return 40;
    heap = hk_heap_create("arena", 0, 0, 0);
    if (!heap)
        return 41;
    if (!strcmp(m, "places")) {
#ifdef _WIN32
        HMODULE mod = NULL;
        if (!load_libs())
            return 43;
#endif
        if (!sym_main_alloc() || !symlib_g_alloc(heap) || !symlib_nodbg_alloc(heap))
            return 42;
        note_int("lineLibG", symlib_g_line);
        note_int("lineLibNodbg", symlib_nodbg_line);
#ifdef _WIN32
        /* where the function lies in its module: the entry's offset is
         * a little past it */
        if (GetModuleHandleExA(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS
                               | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                               (LPCSTR)(void *)lib_nodbg, &mod))
            note_int("nodbgFnOff", (long)((uintptr_t)(void *)lib_nodbg - (uintptr_t)mod));
#else
        if (dladdr((void *)symlib_nodbg_alloc, &di) && di.dli_fname)
            note("nodbgPath", di.dli_fname);
#endif
        return 0;
    }
    if (!strcmp(m, "stacks")) {
        if (!bt_outer() || !path_a() || !path_b() || !rec(12) || !rec(12))
            return 42;
        return 0;
    }
    if (!strcmp(m, "w32order")) {
        int r1 = w32order1(), r2 = w32order2();
        return r1 ? 50 + r1 : r2 ? 60 + r2 : 0;
    }
    if (!strcmp(m, "crash")) {
        /* not NULL: UBSan would stop at a null load before the signal */
        static volatile uintptr_t bad = 8;
        return *(volatile int *)bad;
    }
    fprintf(stderr, "symchild: unknown mode '%s'\n", m);
    return 2;
}
