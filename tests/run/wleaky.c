/* wleaky.c - leaky.c's Windows counterpart for `heapkit.exe run` (no
 * heapkit header): a leak before main (a constructor), in main and in a
 * DLL of its own (tests/run/wrunlib.dll, from runlib.c); msvcrt's own
 * blocks (_strdup, strdup, _wgetcwd) freed by the program (not FM); free
 * passed as a function pointer; a double free and an interior free (FM,
 * the program goes on); realloc and calloc. */
#include <direct.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__declspec(dllimport) void *hkrun_lib_leak(size_t n);
__declspec(dllimport) void hkrun_destroy_all(void **v, int n, void (*destroy)(void *));

void *volatile hkrun_sink;

__attribute__((constructor)) static void before_main(void)
{
    hkrun_sink = malloc(7);                         /* leak 7 */
}

int main(void)
{
    char *d, *p, *q;
    wchar_t *w;
    void *v[3];
    int i;
    d = _strdup("hello");                           /* msvcrt's block: no FM */
    hkrun_sink = d;
    free(d);
    d = strdup("hello again");
    hkrun_sink = d;
    free(d);
    w = _wgetcwd(NULL, 0);
    hkrun_sink = w;
    free(w);
    for (i = 0; i < 3; i++)
        v[i] = malloc(16 + (size_t)i);
    hkrun_destroy_all(v, 3, free);                  /* free by pointer, in the DLL */
    hkrun_sink = malloc(100);                       /* leak 100 */
    hkrun_sink = hkrun_lib_leak(200);               /* leak 200, in the DLL */
    p = malloc(30);
    hkrun_sink = p;
    free(p);
    free(hkrun_sink);                               /* double free: FM */
    q = malloc(40);
    hkrun_sink = q + 8;
    free(hkrun_sink);                               /* interior: FM */
    free(q);
    p = realloc(NULL, 50);
    p = realloc(p, 5000);
    free(p);
    p = calloc(3, 10);
    p = realloc(p, 60);
    hkrun_sink = p;                                 /* leak 60 */
    fputs("done\n", stdout);
    return 0;
}
