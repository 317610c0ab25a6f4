/*
 * walktable.c - hk_walk_table: the classic heap-walk sample's table of
 * every heap of the process, as text, CSV or JSON (examples/heapwalk and
 * `heapkit walk` print it).
 */
#include "internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char *hk__kind(unsigned flags)
{
    switch (flags) {
    case HK_ENTRY_REGION:      return "REGION";
    case HK_ENTRY_UNCOMMITTED: return "UNCOMMITTED";
    case HK_ENTRY_BUSY:        return "BUSY";
    case HK_ENTRY_FREE:        return "FREE";
    default:                   return "?";
    }
}

static void hk__table_row(FILE *out, int format, size_t heapno, const char *backend,
                          const hk_heap_entry *e, long row)
{
    char committed[24] = "", uncommitted[24] = "", first[24] = "", last[24] = "";
    int region = e->flags == HK_ENTRY_REGION;
    if (region) {
        snprintf(committed, sizeof committed, "%zu", e->u.region.committed);
        snprintf(uncommitted, sizeof uncommitted, "%zu", e->u.region.uncommitted);
        snprintf(first, sizeof first, "0x%012" PRIxPTR, (uintptr_t)e->u.region.first_block);
        snprintf(last, sizeof last, "0x%012" PRIxPTR, (uintptr_t)e->u.region.last_block);
    }
    switch (format) {
    case HK_TABLE_CSV:
        fprintf(out, "%zu,%s,0x%012" PRIxPTR ",%zu,%zu,%u,%s,%s,%s,%s,%s\n", heapno, backend,
                (uintptr_t)e->data, e->size, e->overhead, e->region_index, hk__kind(e->flags),
                committed, uncommitted, first, last);
        break;
    case HK_TABLE_JSON:
        fprintf(out, "%s\n{\"heapno\":%zu,\"backend\":\"%s\",\"dataptr\":\"0x%012" PRIxPTR
                "\",\"datasize\":%zu,\"overhead\":%zu,\"regindex\":%u,\"flags\":\"%s\"",
                row ? "," : "", heapno, backend, (uintptr_t)e->data, e->size, e->overhead,
                e->region_index, hk__kind(e->flags));
        if (region)
            fprintf(out, ",\"committed\":%s,\"uncommitted\":%s,\"firstblock\":\"%s\","
                    "\"lastblock\":\"%s\"}", committed, uncommitted, first, last);
        else
            fprintf(out, ",\"committed\":null,\"uncommitted\":null,\"firstblock\":null,"
                    "\"lastblock\":null}");
        break;
    default:
        fprintf(out, "%-6zu %-9s 0x%012" PRIxPTR "   %10zu %8zu %8u %-11s %10s %11s %-18s %-18s\n",
                heapno, backend, (uintptr_t)e->data, e->size, e->overhead, e->region_index,
                hk__kind(e->flags), committed, uncommitted, first, last);
    }
}

long hk_walk_table(FILE *out, int format)
{
    hk_heap **heaps = NULL;
    size_t n = 0, i;
    long rows = 0;
    if (!out || format < HK_TABLE_TEXT || format > HK_TABLE_JSON) {
        hk_set_last_error(HK_ERR_INVALID_PARAMETER);
        return -1;
    }
    /* GetProcessHeaps style: ask for the count, then for the heaps (the
     * list may grow in between) */
    for (;;) {
        size_t want = hk_process_heaps(NULL, 0) + 4, got;
        hk_heap **nh = realloc(heaps, want * sizeof *nh);
        if (!nh) {
            free(heaps);
            hk_set_last_error(HK_ERR_NO_MEMORY);
            return -1;
        }
        heaps = nh;
        got = hk_process_heaps(heaps, want);
        if (got <= want) {
            n = got;
            break;
        }
    }
    switch (format) {
    case HK_TABLE_CSV:
        fputs("heapno,backend,dataptr,datasize,overhead,regindex,flags,"
              "committed,uncommitted,firstblock,lastblock\n", out);
        break;
    case HK_TABLE_JSON:
        fprintf(out, "{\"heaps\":%zu,\"rows\":[", n);
        break;
    default:
        fprintf(out, "%-6s %-9s %-18s %10s %8s %8s %-11s %10s %11s %-18s %-18s\n", "heapno",
                "backend", "dataptr", "datasize", "overhead", "regindex", "flags",
                "committed", "uncommitted", "firstblock", "lastblock");
    }
    for (i = 0; i < n; i++) {
        hk_heap_entry e;
        const char *backend = hk_heap_backend(heaps[i]);
        if (!backend || !hk_lock(heaps[i]))
            continue;                 /* went away since it was listed */
        memset(&e, 0, sizeof e);
        while (hk_walk(heaps[i], &e))
            hk__table_row(out, format, i, backend, &e, rows++);
        hk_unlock(heaps[i]);
    }
    if (format == HK_TABLE_JSON)
        fputs("]}\n", out);
    free(heaps);
    return rows;
}
