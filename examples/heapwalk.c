/*
 * heapwalk.c - the classic heap-walk sample, on heapkit: enumerate every
 * heap of the process, lock each, walk it, unlock, and print one row per
 * entry.  Under Windows (or Wine) this includes the real Win32 process
 * heaps, heapkit's own or not.
 *
 *   heapwalk [--csv]
 *
 * So that there is something to see, it first puts a few blocks into the
 * process heap and into one heap of every backend this build has.
 */
#include <heapkit.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int csv;

static const char *kind(unsigned flags)
{
    switch (flags) {
    case HK_ENTRY_REGION:      return "REGION";
    case HK_ENTRY_UNCOMMITTED: return "UNCOMMITTED";
    case HK_ENTRY_BUSY:        return "BUSY";
    case HK_ENTRY_FREE:        return "FREE";
    default:                   return "?";
    }
}

static void header(void)
{
    if (csv)
        puts("heapno,backend,dataptr,datasize,overhead,regindex,flags,"
             "committed,uncommitted,firstblock,lastblock");
    else
        printf("%-6s %-9s %-18s %10s %8s %8s %-11s %10s %11s %-18s %-18s\n",
               "heapno", "backend", "dataptr", "datasize", "overhead", "regindex",
               "flags", "committed", "uncommitted", "firstblock", "lastblock");
}

static void row(size_t heapno, const char *backend, const hk_heap_entry *e)
{
    char committed[24] = "", uncommitted[24] = "", first[24] = "", last[24] = "";
    if (e->flags == HK_ENTRY_REGION) {
        snprintf(committed, sizeof committed, "%zu", e->u.region.committed);
        snprintf(uncommitted, sizeof uncommitted, "%zu", e->u.region.uncommitted);
        snprintf(first, sizeof first, "0x%012" PRIxPTR, (uintptr_t)e->u.region.first_block);
        snprintf(last, sizeof last, "0x%012" PRIxPTR, (uintptr_t)e->u.region.last_block);
    }
    if (csv)
        printf("%zu,%s,0x%012" PRIxPTR ",%zu,%zu,%u,%s,%s,%s,%s,%s\n", heapno, backend,
               (uintptr_t)e->data, e->size, e->overhead, e->region_index,
               kind(e->flags), committed, uncommitted, first, last);
    else
        printf("%-6zu %-9s 0x%012" PRIxPTR "   %10zu %8zu %8u %-11s %10s %11s %-18s %-18s\n",
               heapno, backend, (uintptr_t)e->data, e->size, e->overhead,
               e->region_index, kind(e->flags), committed, uncommitted, first, last);
}

int main(int argc, char **argv)
{
    const char *const *names = hk_backends();
    hk_heap **heaps = NULL, *mine[16];
    size_t n, i, nmine = 0;
    int a;

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

    /* GetProcessHeaps style: ask for the count, then for the heaps. */
    do {
        n = hk_process_heaps(NULL, 0);
        free(heaps);
        heaps = malloc((n + 4) * sizeof *heaps);
        if (!heaps) {
            fprintf(stderr, "heapwalk: %s\n", hk_strerror(HK_ERR_NO_MEMORY));
            return 1;
        }
    } while (hk_process_heaps(heaps, n + 4) > n + 4);
    n = hk_process_heaps(heaps, n + 4);

    if (!csv)
        printf("heapwalk: %zu heaps (backends:%s%s%s)\n\n", n,
               names[0] ? " " : "", names[0] ? names[0] : "",
               names[0] && names[1] ? " ..." : "");
    header();
    for (i = 0; i < n; i++) {
        hk_heap_entry e;
        const char *backend = hk_heap_backend(heaps[i]);
        if (!backend || !hk_lock(heaps[i]))
            continue;              /* went away since we listed it */
        memset(&e, 0, sizeof e);
        while (hk_walk(heaps[i], &e))
            row(i, backend, &e);
        if (hk_last_error() != HK_ERR_NO_MORE_ITEMS)
            fprintf(stderr, "heapwalk: heap %zu: %s\n", i, hk_strerror(hk_last_error()));
        hk_unlock(heaps[i]);
    }
    free(heaps);
    for (i = 0; i < nmine; i++)
        hk_heap_destroy(mine[i]);
    return 0;
}
