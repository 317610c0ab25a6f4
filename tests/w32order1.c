/*
 * w32order1.c - heapkit/debug.h first, then heapkit/win32.h (tests/symchild's
 * "w32order" mode): HeapAlloc, HeapReAlloc and HeapFree are the tracker's
 * with this file's lines, whatever the include order.  Sizes 101..104.
 */
#include "heapkit/debug.h"
#include "heapkit/win32.h"

void w32order_note(const char *key, long v);

int w32order1(void)
{
    HANDLE ph = GetProcessHeap(), h = HeapCreate(0, 0, 0);
    void *p, *q, *z;
    if (!h)
        return 1;
    p = HeapAlloc(ph, 0, 101); w32order_note("o1Proc", __LINE__);
    q = HeapAlloc(h, 0, 10);
    q = HeapReAlloc(h, 0, q, 102); w32order_note("o1Re", __LINE__);
    if (!p || !q)
        return 2;
    z = HeapAlloc(h, HEAP_ZERO_MEMORY, 103);
    if (!z || !HeapFree(h, 0, z))
        return 3;
    /* a valid block the macros never saw: passed on, no FM, no leak */
    p = (HeapAlloc)(ph, 0, 104);
    if (!p || !HeapFree(ph, 0, p))
        return 4;
    /* the 103 block again: FM, and not passed on */
    w32order_note("o1Double", __LINE__ + 1);
    if (HeapFree(h, 0, z))
        return 5;
    return 0;
}
