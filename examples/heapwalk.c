/*
 * heapwalk.c - the classic heap-walk sample, on heapkit: enumerate every
 * heap of the process, lock each, walk it, unlock, and print one row per
 * entry (hk_walk_table does that part; `heapkit walk` prints the same).
 * Under Windows (or Wine) this includes the real Win32 process heaps,
 * heapkit's own or not.
 *
 *   heapwalk [--csv]
 *
 * So that there is something to see, it first puts a few blocks into the
 * process heap and into one heap of every backend this build has.
 */
#include <heapkit.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *const *names = hk_backends();
    hk_heap *mine[16];
    size_t i, nmine = 0;
    int a, csv = 0;

    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--csv") == 0)
            csv = 1;
        else {
            fprintf(stderr, "usage: %s [--csv]\n", argv[0]);
            return 2;
        }
    }

    /* Something to look at: a few blocks in the process heap and in one
     * heap per backend. */
    hk_alloc(hk_process_heap(), 0, 100);
    for (i = 0; names[i] && nmine < 16; i++) {
        hk_heap *h = hk_heap_create(names[i], 0, 0, 0);
        void *p;
        if (!h)
            continue;
        mine[nmine++] = h;
        hk_alloc(h, 0, 24);
        p = hk_alloc(h, 0, 1000);
        hk_alloc(h, HK_HEAP_ZERO_MEMORY, 64);
        hk_free(h, 0, p);
    }

    if (!csv)
        printf("heapwalk: %zu heaps (backends:%s%s%s)\n\n", hk_process_heaps(NULL, 0),
               names[0] ? " " : "", names[0] ? names[0] : "",
               names[0] && names[1] ? " ..." : "");
    /* every heap locked, walked, unlocked: one row per entry (the library
     * prints the sample's table) */
    if (hk_walk_table(stdout, csv ? HK_TABLE_CSV : HK_TABLE_TEXT) < 0) {
        fprintf(stderr, "heapwalk: %s\n", hk_strerror(hk_last_error()));
        return 1;
    }
    for (i = 0; i < nmine; i++)
        hk_heap_destroy(mine[i]);
    return 0;
}
