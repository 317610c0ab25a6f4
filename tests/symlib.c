/*
 * symlib.c - a shared library of the symbolization tests' own, built twice
 * (Makefile.am): libsymg.so with debug information (-g, SYMLIB_G) and
 * libsymnodbg.so without (-g0).  Its allocations bypass the macros
 * (hk_alloc in parentheses), so the report knows only their return
 * address: the place comes from symbolization alone.
 */
#include "heapkit.h"

#ifdef SYMLIB_G
#  define SYMLIB_FN symlib_g_alloc
#  define SYMLIB_LINE symlib_g_line
#  define SYMLIB_SIZE 33
#else
#  define SYMLIB_FN symlib_nodbg_alloc
#  define SYMLIB_LINE symlib_nodbg_line
#  define SYMLIB_SIZE 44
#endif

int SYMLIB_LINE;

__attribute__((visibility("default"), noinline)) void *SYMLIB_FN(hk_heap *h)
{
    void *p = (hk_alloc)(h, 0, SYMLIB_SIZE); SYMLIB_LINE = __LINE__;
    return p;
}
