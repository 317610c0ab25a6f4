/*
 * loadlib.c - load the installed libheapkit-0.dll at run time, use the
 * mimalloc and arena backends, unload it, three times; the process heap
 * must stay intact (tests/install.sh, under Wine).
 */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

typedef void *(*create_fn)(const char *, unsigned, size_t, size_t);
typedef void *(*alloc_fn)(void *, unsigned, size_t);

int main(void)
{
    for (int round = 0; round < 3; round++) {
        HMODULE m = LoadLibraryA("libheapkit-0.dll");
        create_fn create;
        alloc_fn alloc;
        void *h, *p[100];
        if (!m) {
            printf("LoadLibrary: error %lu\n", (unsigned long)GetLastError());
            return 2;
        }
        create = (create_fn)(void (*)(void))GetProcAddress(m, "hk_heap_create");
        alloc = (alloc_fn)(void (*)(void))GetProcAddress(m, "hk_alloc");
        if (!create || !alloc)
            return 3;
        if (!(h = create("mimalloc", 0, 0, 0)))
            return 4;
        for (int i = 0; i < 1000; i++)
            if (!alloc(h, 0, (size_t)(100 + i)))
                return 5;
        if (!(h = create("arena", 0, 0, 0)) || !alloc(h, 0, 1000))
            return 6;
        if (!FreeLibrary(m))
            return 7;
        for (int i = 0; i < 100; i++)
            p[i] = HeapAlloc(GetProcessHeap(), 0, (SIZE_T)(50 + i));
        for (int i = 0; i < 100; i++)
            HeapFree(GetProcessHeap(), 0, p[i]);
        if (!HeapValidate(GetProcessHeap(), 0, NULL)) {
            printf("process heap corrupt after FreeLibrary\n");
            return 8;
        }
        free(malloc(1000));
    }
    printf("loadlib: ok\n");
    return 0;
}
