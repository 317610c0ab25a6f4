/*
 * walk.c - heapkit walk [--format text|csv|json] [--demo]: the classic
 * heap-walk table (heapno ... lastblock) of this process's heaps, by the
 * library's hk_walk_table.  --demo first puts a few blocks into the
 * process heap and into one heap of every backend (as examples/heapwalk
 * does), so that there is something to see.
 */
#include "tool.h"

#include <heapkit.h>
#include <string.h>

static int hk_walk_usage(void)
{
    fprintf(stderr, "Usage: heapkit walk [--format text|csv|json] [--demo]\n"
                    "Try 'heapkit --help'.\n");
    return HK_USAGE;
}

int hk_cmd_walk(int argc, char **argv)
{
    int format = HK_TABLE_TEXT, demo = 0, i;
    const char *const *names = hk_backends();
    hk_heap *mine[16];
    size_t nmine = 0, k;
    long rows;
    for (i = 0; i < argc; i++) {
        const char *v = NULL;
        if (strcmp(argv[i], "--demo") == 0) {
            demo = 1;
            continue;
        }
        if (strcmp(argv[i], "--format") == 0 && i + 1 < argc)
            v = argv[++i];
        else if (strncmp(argv[i], "--format=", 9) == 0)
            v = argv[i] + 9;
        else
            return hk_walk_usage();
        if (strcmp(v, "text") == 0)
            format = HK_TABLE_TEXT;
        else if (strcmp(v, "csv") == 0)
            format = HK_TABLE_CSV;
        else if (strcmp(v, "json") == 0)
            format = HK_TABLE_JSON;
        else
            return hk_walk_usage();
    }
    if (demo) {
        hk_alloc(hk_process_heap(), 0, 100);
        for (k = 0; names[k] && nmine < 16; k++) {
            hk_heap *h = hk_heap_create(names[k], 0, 0, 0);
            void *p;
            if (!h)
                continue;
            mine[nmine++] = h;
            hk_alloc(h, 0, 24);
            p = hk_alloc(h, 0, 1000);
            hk_alloc(h, HK_HEAP_ZERO_MEMORY, 64);
            hk_free(h, 0, p);
        }
    } else {
        (void)hk_process_heap();        /* there is always the process heap */
    }
    rows = hk_walk_table(stdout, format);
    for (k = 0; k < nmine; k++)
        hk_heap_destroy(mine[k]);
    if (rows < 0 || fflush(stdout) != 0) {
        fprintf(stderr, "heapkit walk: %s\n",
                rows < 0 ? hk_strerror(hk_last_error()) : "cannot write the table");
        return 1;
    }
    return 0;
}
