/* tests/plant.c - planted bugs in arena blocks, for tests/sanity.c to run
 * under Valgrind's memcheck (and as an ASan build).  Each mode prints
 * "PLANT <mode> plant.c:<line>" with the line of its faulting statement,
 * then commits the bug; "clean" is a correct program that must give no
 * report at all.  Not a test by itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapkit.h"

#define PLANT(mode) (printf("PLANT %s plant.c:%d\n", (mode), __LINE__ + 1), fflush(stdout))

/* A correct program exercising the arena's paths: caches, splits and
 * merges, realloc in place and moving, zeroed blocks, large blocks (and
 * their cache), walk, compact, mark/release, destroy with live blocks. */
static int clean(void)
{
    hk_heap *h = hk_heap_create("arena", 0, 0, 0);
    char *p[64], *q;
    hk_heap_entry e;
    uintptr_t m;
    unsigned long sum = 0;
    int i, r;
    if (!h) return 2;
    for (r = 0; r < 3; r++) {
        for (i = 0; i < 64; i++) {
            size_t n = (size_t)(1 + i * 37 % 700);
            p[i] = hk_alloc(h, i % 3 == 0 ? HK_HEAP_ZERO_MEMORY : 0, n);
            if (!p[i]) return 3;
            if (i % 3) memset(p[i], i, n);
            sum += (unsigned char)p[i][n - 1];
        }
        for (i = 0; i < 64; i += 2) {
            size_t n = (size_t)(1 + i * 53 % 1500);
            if (!(q = hk_realloc(h, i % 4 ? 0 : HK_HEAP_ZERO_MEMORY, p[i], n))) return 4;
            p[i] = q;
            memset(p[i], 7, n);
        }
        for (i = 1; i < 64; i += 2) hk_free(h, 0, p[i]);
        for (i = 0; i < 64; i += 2) hk_free(h, 0, p[i]);
    }
    q = hk_alloc(h, HK_HEAP_ZERO_MEMORY, (size_t)2 << 20);
    if (!q) return 5;
    sum += (unsigned char)q[12345];
    q = hk_realloc(h, 0, q, (size_t)3 << 20);
    if (!q) return 6;
    q[(3 << 20) - 1] = 1;
    hk_free(h, 0, q);
    q = hk_alloc(h, 0, (size_t)2 << 20);
    if (!q) return 7;
    memset(q, 1, (size_t)2 << 20);
    hk_free(h, 0, q);
    m = hk_heap_mark(h);
    for (i = 0; i < 16; i++) { p[i] = hk_alloc(h, 0, 100); if (!p[i]) return 8; p[i][99] = 1; }
    if (!hk_heap_release(h, m)) return 9;
    memset(&e, 0, sizeof e);
    hk_lock(h);
    while (hk_walk(h, &e)) sum += e.size;
    hk_unlock(h);
    hk_compact(h, 0);
    p[0] = hk_alloc(h, 0, 40);
    if (!p[0]) return 10;
    strcpy(p[0], "kept");
    if (!hk_heap_destroy(h)) return 11;
    printf("clean %lu\n", sum & 1);
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    hk_heap *h;
    volatile char *p;
    int i;
    if (!strcmp(mode, "clean")) return clean();
    h = hk_heap_create("arena", 0, 0, 0);
    if (!h) return 2;
    if (!strcmp(mode, "overflow")) {        /* 14 bytes past a 32-byte block */
        p = hk_alloc(h, 0, 32);
        if (!p) return 3;
        PLANT(mode);
        for (i = 0; i < 32 + 14; i++) p[i] = 'x';
    } else if (!strcmp(mode, "uaf")) {      /* read after free */
        p = hk_alloc(h, 0, 100);
        if (!p) return 3;
        memset((char *)p, 'a', 100);
        hk_free(h, 0, (void *)p);
        PLANT(mode);
        i = p[50];
        printf("read %d\n", i);
    } else if (!strcmp(mode, "uninit")) {   /* a branch on unwritten bytes */
        p = hk_alloc(h, 0, 64);
        if (!p) return 3;
        PLANT(mode);
        if (p[7] == 'q') puts("q");
    } else {
        fprintf(stderr, "usage: plant clean|overflow|uaf|uninit\n");
        return 2;
    }
    return 0;
}
