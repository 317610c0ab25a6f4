/* macros.c - built with heapkit/debug.h and linked with libheapkit.so:
 * under heapkit run each block is recorded once, with the macro's file
 * and line (HKRUN_LEAK_LINE). */
#include <stdlib.h>
#include <heapkit/debug.h>

void *volatile hkrun_sink;

int main(void)
{
    void *p = malloc(12);
    hkrun_sink = p;
    free(p);
    hkrun_sink = malloc(77);    /* the leak: line 14 */
    return 0;
}
