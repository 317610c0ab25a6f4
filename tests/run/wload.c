/* wload.c - a DLL loaded at run time (LoadLibraryA, after the hooks are
 * in): its leak is seen; a private heap destroyed with live blocks leaks
 * nothing (HeapDestroy frees them); one left alive leaks its block. */
#include <windows.h>
#include <stdio.h>

void *volatile hkrun_sink;

int main(void)
{
    HMODULE m = LoadLibraryA("wrunlib.dll");
    void *(*leak)(size_t);
    HANDLE h;
    int i;
    if (!m)
        return 90;
    leak = (void *(*)(size_t))(void *)GetProcAddress(m, "hkrun_lib_leak");
    if (!leak)
        return 91;
    hkrun_sink = leak(222);                         /* leak 222, in the DLL */
    h = HeapCreate(0, 0, 0);
    for (i = 0; i < 5; i++)
        hkrun_sink = HeapAlloc(h, 0, 64 + (size_t)i);
    if (!HeapDestroy(h))                            /* takes its 5 blocks along */
        return 92;
    h = HeapCreate(0, 0, 0);
    hkrun_sink = HeapAlloc(h, 0, 33);               /* leak 33: its heap lives */
    fputs("done\n", stdout);
    return 0;
}
