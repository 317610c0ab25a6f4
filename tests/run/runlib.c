/* runlib.c - a shared library of tests/run's own (no heapkit header): a
 * leak made inside it, and a destroy function taking free by pointer. */
#include <stdlib.h>

void *hkrun_lib_leak(size_t n);
void hkrun_destroy_all(void **v, int n, void (*destroy)(void *));

void *hkrun_lib_leak(size_t n)
{
    return malloc(n);
}

void hkrun_destroy_all(void **v, int n, void (*destroy)(void *))
{
    int i;
    for (i = 0; i < n; i++)
        destroy(v[i]);
}
