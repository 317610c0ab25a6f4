/* waligned.c - Windows only, for tests/winrun.sh: the CRT's _aligned_*
 * family mixed with malloc's.  Each wrong pair is an FK under heapkit.exe
 * run, and the block is still released its own way, so the program goes
 * on (without heapkit, free() of an _aligned_malloc block corrupts the
 * heap).  Prints "done" at the end; leaks one aligned block. */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *volatile hkrun_sink;

int main(void)
{
    char *a, *b, *c, *d;
    a = _aligned_malloc(100, 64);                   /* right pair: nothing */
    if (!a || ((uintptr_t)a & 63))
        return 90;
    hkrun_sink = a;
    _aligned_free(a);
    b = _aligned_malloc(200, 64);                   /* FK: freed by free */
    if (!b)
        return 91;
    memset(b, 1, 200);
    hkrun_sink = b;
    free(b);
    c = malloc(300);                                /* FK: freed by _aligned_free */
    if (!c)
        return 92;
    memset(c, 2, 300);
    hkrun_sink = c;
    _aligned_free(c);
    d = _aligned_malloc(48, 32);                    /* FK: realloc'd; stays aligned */
    if (!d)
        return 93;
    memset(d, 3, 48);
    d = realloc(d, 4000);
    if (!d || ((uintptr_t)d & 31) || d[47] != 3)
        return 94;
    _aligned_free(d);                               /* its own family again: fine */
    hkrun_sink = _aligned_malloc(77, 16);           /* leak 77 */
    hkrun_sink = NULL;
    puts("done");
    return 0;
}
