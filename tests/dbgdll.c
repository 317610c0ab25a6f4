/*
 * dbgdll.c - a DLL with heapkit linked in statically (Windows only).  It
 * has a Heap Debugger of its own, which must write its own report when the
 * DLL is unloaded (tests/debug.c, test dll_unload_report).
 */
#include <stdlib.h>

#include "heapkit.h"
#include "heapkit/debug.h"      /* last */

__declspec(dllexport) void *dbgdll_leak(size_t n)
{
    return malloc(n);           /* never freed: the DLL's report shows it */
}
