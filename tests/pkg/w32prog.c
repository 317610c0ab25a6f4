/*
 * w32prog.c - Win32 heap code exactly as written for Windows.  tests/
 * install.sh builds it unchanged with MinGW (the real <windows.h>) and on
 * Linux with `pkg-config --cflags --libs heapkit-win32`.
 */
#include <windows.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    HANDLE heap;
    HGLOBAL mem;
    char *text, *p;
    PROCESS_HEAP_ENTRY entry;
    int seen = 0;

    HeapSetInformation(NULL, HeapEnableTerminationOnCorruption, NULL, 0);
    heap = HeapCreate(HEAP_GROWABLE, 0, 0);
    if (heap == NULL || heap == INVALID_HANDLE_VALUE)
        return 1;
    p = (char *)HeapAlloc(heap, HEAP_ZERO_MEMORY, 64);
    if (!p || HeapSize(heap, 0, p) != 64)
        return 2;
    ZeroMemory(&entry, sizeof entry);
    HeapLock(heap);
    while (HeapWalk(heap, &entry))
        if ((entry.wFlags & PROCESS_HEAP_ENTRY_BUSY) && entry.lpData == p)
            seen++;
    HeapUnlock(heap);
    if (seen != 1 || GetLastError() != ERROR_NO_MORE_ITEMS)
        return 3;
    mem = GlobalAlloc(GHND, 32);
    text = (char *)GlobalLock(mem);
    if (!text)
        return 4;
    strcpy(text, "moveable");
    GlobalUnlock(mem);
    if (GlobalFree(mem) != NULL)
        return 5;
    text = (char *)LocalAlloc(LPTR, 16);
    if (!text || LocalFree(text) != NULL)
        return 6;
    if (!HeapFree(heap, 0, p) || !HeapDestroy(heap))
        return 7;
    printf("w32prog: ok\n");
    return 0;
}
