/*
 * dispatch.c - the program behind make bench's dispatch figure.
 *
 * bench.c's churn (10k slots of 8..1032 B, one op = free + alloc) through
 * hk_alloc/hk_free, then a quarter as many hk_realloc calls, on one heap of
 * the named backend with the debugger off.  dispatch.sh runs it under
 * callgrind and counts the instructions each call spends in heapkit's core
 * (src/) above the backend; this program only does the calls.
 *
 *   dispatch [backend [ops]]      default: arena 200000
 */
#include <heapkit.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define SLOTS 10000

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17;
    return *s;
}

int main(int argc, char **argv)
{
    const char *backend = argc > 1 ? argv[1] : "arena";
    long ops = argc > 2 ? atol(argv[2]) : 200000, i;
    static void *slot[SLOTS];
    uint64_t r = 0x9E3779B97F4A7C15ull;
    hk_heap *h = hk_heap_create(backend, 0, 0, 0);
    if (!h) {
        fprintf(stderr, "dispatch: no %s heap (error %d)\n", backend, hk_last_error());
        return 1;
    }
    for (i = 0; i < SLOTS; i++)
        if (!(slot[i] = hk_alloc(h, 0, 8 + (size_t)(rnd(&r) % 1025)))) return 1;
    for (i = 0; i < ops; i++) {
        size_t k = (size_t)(rnd(&r) % SLOTS);
        if (!hk_free(h, 0, slot[k])) return 1;
        if (!(slot[k] = hk_alloc(h, 0, 8 + (size_t)(rnd(&r) % 1025)))) return 1;
        *(char *)slot[k] = 1;
    }
    for (i = 0; i < ops / 4; i++) {
        size_t k = (size_t)(rnd(&r) % SLOTS);
        void *q = hk_realloc(h, 0, slot[k], 8 + (size_t)(rnd(&r) % 1025));
        if (!q) return 1;
        slot[k] = q;
    }
    for (i = 0; i < SLOTS; i++)
        if (!hk_free(h, 0, slot[i])) return 1;
    if (!hk_heap_destroy(h)) return 1;
    printf("dispatch: %ld ops on %s\n", ops, backend);
    return 0;
}
