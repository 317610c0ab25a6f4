/*
 * grow.c - a program with a known growth pattern, for heapkit snapshot,
 * diff and view (tests/view.sh).  Through debug.h's macros, so each site
 * is a file and line:
 *   grow_a:  SNAP_A0 blocks of 24 B, then 100 more between the snapshots
 *   shrink_b: 30 blocks of 200 B, then 10 of them freed
 *   an arena heap with 50 blocks of 64 B and every other one freed (free
 *   blocks between busy ones: a fragmented strip), and one large block.
 *
 *   grow OLD.json NEW.json     hk_debug_snapshot before and after
 *   grow --blocks N OUT.json   N blocks (16 and 48 B, two sites, every
 *                              fourth freed) in an arena heap, one
 *                              snapshot (the million-block figure)
 *   grow --exit                the pattern, no snapshot of its own (for
 *                              heapkit run --snapshot-on exit)
 *   grow --signal              the pattern, then SIGUSR1 to itself, and
 *                              0.5 s for the snapshot it asks for
 *   grow --wait                the pattern, then 0.5 s (the N-allocations
 *                              trigger's thread looks every 10 ms)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <signal.h>
#ifdef _WIN32
#  include <windows.h>
#else
#  include <unistd.h>
#endif

#include <heapkit.h>
#include <heapkit/debug.h>

#define SNAP_A0 20

static void *a_blocks[SNAP_A0 + 100];
static void *b_blocks[30];
static void *h_blocks[50];

static void *grow_a(void) { return malloc(24); }
static void *shrink_b(void) { return malloc(200); }

static void *many_x(hk_heap *h) { return hk_alloc(h, 0, 16); }
static void *many_y(hk_heap *h) { return hk_alloc(h, 0, 48); }

/* Two sites taking turns and every fourth block freed: the walk has as
 * many ranges as blocks (nothing merges), the hardest case for view. */
static int many(unsigned long n, const char *out)
{
    hk_heap *h = hk_heap_create("arena", 0, 0, 0);
    void *prev = NULL;
    unsigned long i;
    if (!h)
        return 1;
    for (i = 0; i < n; i++) {
        void *p = i & 1 ? many_y(h) : many_x(h);
        if (!p)
            return 1;
        if (i % 4 == 3)
            hk_free(h, 0, prev);
        prev = p;
    }
    return hk_debug_snapshot(out) ? 0 : 1;
}

int main(int argc, char **argv)
{
    hk_heap *h;
    int i, ok = 1;
    if (argc == 4 && strcmp(argv[1], "--blocks") == 0)
        return many(strtoul(argv[2], NULL, 10), argv[3]);
    if (!(argc == 3 || (argc == 2 && (strcmp(argv[1], "--exit") == 0
                                      || strcmp(argv[1], "--signal") == 0
                                      || strcmp(argv[1], "--wait") == 0)))) {
        fprintf(stderr, "usage: grow OLD.json NEW.json | --blocks N OUT.json | --exit"
                        " | --signal | --wait\n");
        return 2;
    }
    h = hk_heap_create("arena", 0, 0, 0);
    if (!h)
        return 1;
    for (i = 0; i < SNAP_A0; i++)
        a_blocks[i] = grow_a();
    for (i = 0; i < 30; i++)
        b_blocks[i] = shrink_b();
    for (i = 0; i < 50; i++)
        h_blocks[i] = hk_alloc(h, 0, 64);
    for (i = 0; i < 50; i += 2)
        hk_free(h, 0, h_blocks[i]);
    hk_alloc(h, 0, 4 << 20);           /* a large block */
    if (argc == 3)
        ok = hk_debug_snapshot(argv[1]);
    for (i = SNAP_A0; i < SNAP_A0 + 100; i++)
        a_blocks[i] = grow_a();
    for (i = 0; i < 10; i++)
        free(b_blocks[i]);
    if (argc == 3)
        ok &= hk_debug_snapshot(argv[2]);
#ifndef _WIN32
    if (argc == 2 && strcmp(argv[1], "--signal") == 0)
        raise(SIGUSR1);
    if (argc == 2 && strcmp(argv[1], "--exit") != 0)
        usleep(500000);
#else
    if (argc == 2 && strcmp(argv[1], "--exit") != 0)
        Sleep(500);
#endif
    return ok ? 0 : 1;
}
