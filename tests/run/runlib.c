/* runlib.c - a shared library of tests/run's own (no heapkit header): a
 * leak made inside it, and a destroy function taking free by pointer. */
#include <stdlib.h>

void *hkrun_lib_leak(size_t n);
void hkrun_destroy_all(void **v, int n, void (*destroy)(void *));

void *volatile hkrun_lib_last;

/* Not a tail call: the caller of malloc must be this library. */
void *hkrun_lib_leak(size_t n)
{
    void *p = malloc(n);
    hkrun_lib_last = p;
    return p;
}

void hkrun_destroy_all(void **v, int n, void (*destroy)(void *))
{
    int i;
    for (i = 0; i < n; i++)
        destroy(v[i]);
}

/* Its constructor runs before the preload's (a program's own library is
 * loaded after LD_PRELOAD's and initialised first): an allocation before
 * the tracker's constructor ran, which must still be recorded. */
void *volatile hkrun_lib_early;

__attribute__((constructor)) static void hkrun_lib_init(void)
{
    hkrun_lib_early = malloc(3);                    /* leak 3 */
}
