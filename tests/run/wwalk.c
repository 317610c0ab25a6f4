/* wwalk.c - blocks the hooks cannot see, for `heapkit.exe run --walk-diff`
 * (no heapkit header).  HeapAlloc and HeapFree are fetched with
 * GetProcAddress, so no import-table entry leads to them: three blocks
 * with known contents are leaked (the process heap, 77 and 24 bytes; a
 * private heap, 333 bytes), one (55 bytes) is freed again, and one
 * malloc block (the hooks see it) is leaked, unless the argument is
 * "nomalloc".  Prints the pointers and the
 * private heap's handle for tests/winrun.sh to compare. */
#define __USE_MINGW_ANSI_STDIO 1
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef LPVOID (WINAPI *alloc_fn)(HANDLE, DWORD, SIZE_T);
typedef BOOL (WINAPI *free_fn)(HANDLE, DWORD, LPVOID);

void *volatile hkrun_sink;

static char *fill(char *p, const char *tag, size_t n)
{
    size_t i, k = strlen(tag);
    for (i = 0; i < n; i++)
        p[i] = i < k ? tag[i] : (char)(i & 0xff);   /* then 08 09 0a ...: not printable */
    return p;
}

int main(int argc, char **argv)
{
    HMODULE k32 = GetModuleHandleA("kernel32.dll");
    alloc_fn alloc = (alloc_fn)(void *)GetProcAddress(k32, "HeapAlloc");
    free_fn hfree = (free_fn)(void *)GetProcAddress(k32, "HeapFree");
    HANDLE ph = GetProcessHeap(), h = HeapCreate(0, 0, 0);
    char *a, *b, *c, *d;
    if (!alloc || !hfree || !h)
        return 90;
    a = alloc(ph, 0, 77);
    b = alloc(h, 0, 333);
    c = alloc(ph, 0, 24);
    d = alloc(ph, 0, 55);
    if (!a || !b || !c || !d)
        return 91;
    fill(a, "HKWALK-A", 77);
    fill(b, "HKWALK-B", 333);
    fill(c, "HKWALK-C", 24);
    fill(d, "HKWALK-D", 55);
    if (!hfree(ph, 0, d))                           /* freed: not listed */
        return 92;
    hkrun_sink = malloc(41);                        /* seen by the hooks: an entry */
    if (argc > 1 && strcmp(argv[1], "nomalloc") == 0)
        free(hkrun_sink);                           /* no finding left but the untracked */
    hkrun_sink = NULL;
    printf("A 0x%012llx\nB 0x%012llx\nC 0x%012llx\nheap 0x%llx\n",
           (unsigned long long)(uintptr_t)a, (unsigned long long)(uintptr_t)b,
           (unsigned long long)(uintptr_t)c, (unsigned long long)(uintptr_t)h);
    return 0;
}
