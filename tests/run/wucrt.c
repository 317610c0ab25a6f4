/* wucrt.c - a program on the Universal CRT (ucrtbase.dll: linked with
 * -lucrtbase, so malloc and friends, exit and the start-up come from it)
 * for tests/winrun.sh: a leak, ucrt's own block freed (no FM), a double
 * free (FM), calloc and _aligned_malloc blocks kept in globals. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *volatile hkrun_sink, *volatile hkrun_keep;

int main(void)
{
    char *d;
    hkrun_sink = malloc(77);                        /* leak 77 (overwritten below) */
    d = _strdup("ucrt's own");                      /* ucrtbase's block: no FM */
    free(d);
    d = malloc(10);
    hkrun_sink = d;
    free(d);
    free(hkrun_sink);                               /* double free: FM */
    hkrun_sink = calloc(2, 9);                      /* 18, still reachable */
    hkrun_keep = _aligned_malloc(40, 64);           /* 40, still reachable */
    puts("done");
    return 0;
}
