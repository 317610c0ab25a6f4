/*
 * heapbug.c - a small program with exactly one of each heap bug the Heap
 * Debugger (heapkit/debug.h) reports: a leaked malloc block, a leaked
 * object (HK_NEW), a free with the wrong declared size, a free of a pointer
 * that is no heap block, a double free, a block lost when its hk heap is
 * destroyed, and a block that leaks after a realloc.  Aligned blocks freed
 * correctly and a zero-size block show what is not reported.  It ends with
 * exit(3), which the report notes.
 *
 * Run it and the report goes to stderr (HEAPKIT_REPORT=file appends it to
 * a file); README.md shows it.  tests/golden/heapbug.txt (and .de.txt for
 * HEAPKIT_LANG=de) hold the same report with addresses masked, and
 * tests/debug.c checks that Linux and Wine print exactly that - so keep
 * every line of this file where it is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapkit.h"
#include "heapkit/debug.h"      /* last: it renames malloc, free, exit ... */

struct point {
    int x, y;
};

int main(void)
{
    char stack[32];
    char *name, *copy, *twice, *buf, *empty;
    struct point *pt;
    hk_heap *heap;
    int *counts;
    void *aligned, *memaligned;

    name = malloc(100);                         /* never freed */
    strcpy(name, "heapbug");
    pt = HK_NEW(struct point);                  /* never deleted */
    pt->x = 3;
    copy = malloc(48);
    free_sized(copy, 32);                       /* declared size is wrong */
    free(stack);                                /* not a heap block */
    twice = malloc(24);
    free(twice);
    free(twice);                                /* freed twice */
    heap = hk_heap_create("arena", 0, 0, 0);
    counts = hk_alloc(heap, 0, 16 * sizeof *counts);
    counts[0] = 1;
    hk_heap_destroy(heap);                      /* counts still live */
    buf = malloc(16);
    buf = realloc(buf, 200);                    /* grown, then never freed */
    strcpy(buf, "grown");
    aligned = aligned_alloc(64, 256);
    if (posix_memalign(&memaligned, 32, 80) != 0)
        return 1;
    free(aligned);                              /* aligned blocks: fine */
    free(memaligned);
    empty = malloc(0);                          /* zero size: not reported */
    printf("%s %s (%d,%d) %s\n", name, buf, pt->x, pt->y, empty ? "" : "?");
    exit(3);
}
