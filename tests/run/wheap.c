/* wheap.c - Win32 heap calls under `heapkit.exe run` (no heapkit header):
 * leaks on a private heap (HeapCreate) and on the process heap, blocks
 * freed and moved by HeapReAlloc, HeapSize of a recorded block, and a
 * HeapFree of a pointer no heap gave out (FM, FALSE, the program goes
 * on). */
#include <windows.h>
#include <stdio.h>

void *volatile hkrun_sink;

int main(void)
{
    HANDLE h = HeapCreate(0, 0, 0), ph = GetProcessHeap();
    char *p, stackbuf[64];
    int i;
    if (!h)
        return 90;
    for (i = 0; i < 3; i++)
        hkrun_sink = HeapAlloc(h, 0, 300);          /* leak 3 x 300, private heap */
    hkrun_sink = HeapAlloc(ph, HEAP_ZERO_MEMORY, 400);   /* leak 400, process heap */
    p = HeapAlloc(h, 0, 10);
    p = HeapReAlloc(h, 0, p, 7000);
    if (!p || HeapSize(h, 0, p) != 7000)
        return 91;
    if (!HeapFree(h, 0, p))
        return 92;
    p = HeapAlloc(ph, 0, 20);
    p = HeapReAlloc(ph, 0, p, 25);
    hkrun_sink = p;                                 /* leak 25, process heap */
    hkrun_sink = stackbuf;
    if (HeapFree(ph, 0, hkrun_sink))                /* FM: not a heap block */
        return 93;
    fputs("done\n", stdout);
    return 0;
}
