/*
 * symlib.c - a shared library of the symbolization tests' own, built twice
 * (Makefile.am): libsymg.so with debug information (-g, SYMLIB_G) and
 * libsymnodbg.so without (-g0); on Windows symg.dll and symnodbg.dll.  Its allocations bypass the macros
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

#ifdef _WIN32
/* A DLL cannot share the program's static heapkit: it calls hk_alloc
 * through the pointer the program passes, so the recorded return address
 * is still this library's. */
#  define SYMLIB_EXPORT __declspec(dllexport)
#  define SYMLIB_ALLOC alloc
#  define SYMLIB_ARGS hk_heap *h, void *(*alloc)(hk_heap *, unsigned, size_t)
#else
#  define SYMLIB_EXPORT __attribute__((visibility("default")))
#  define SYMLIB_ALLOC (hk_alloc)
#  define SYMLIB_ARGS hk_heap *h
#endif

SYMLIB_EXPORT int SYMLIB_LINE;

SYMLIB_EXPORT __attribute__((noinline)) void *SYMLIB_FN(SYMLIB_ARGS)
{
    void *p = SYMLIB_ALLOC(h, 0, SYMLIB_SIZE); SYMLIB_LINE = __LINE__;
    return p;
}
