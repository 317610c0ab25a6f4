/*
 * dllhost.c - loads tests/dbgdll.dll (heapkit linked in statically), lets
 * it leak a block, unloads it and goes on allocating (Windows only).  The
 * DLL's Heap Debugger must have written its report at the unload, and the
 * program must go on unharmed.  This host has no heapkit of its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

int main(int argc, char **argv)
{
    char path[1024];
    const char *self = argc > 0 ? argv[0] : "";
    const char *slash = strrchr(self, '\\'), *fslash = strrchr(self, '/');
    size_t dir = 0;
    HMODULE dll;
    void *(*leak)(size_t);
    void *p;
    int i;
    if (fslash && (!slash || fslash > slash))
        slash = fslash;
    if (slash)
        dir = (size_t)(slash - self) + 1;
    if (dir + 16 >= sizeof path)
        return 40;
    memcpy(path, self, dir);
    strcpy(path + dir, "dbgdll.dll");
    dll = LoadLibraryA(path);
    if (!dll)
        return 41;
    *(FARPROC *)&leak = GetProcAddress(dll, "dbgdll_leak");
    if (!leak || !leak(77))
        return 42;
    if (!FreeLibrary(dll))
        return 43;
    for (i = 0; i < 1000; i++) {      /* the process heap is intact */
        p = malloc((size_t)i + 1);
        if (!p)
            return 44;
        memset(p, 0x5a, (size_t)i + 1);
        free(p);
    }
    return 0;
}
