/* family.c - the rest of the malloc family under the preload: each
 * function leaks one block of a size of its own (so the test can tell
 * them apart) and frees another; alignment and malloc_usable_size are
 * checked here (exit 3 / 4 when wrong).  C23's free_sized is declared
 * weak: glibc 2.36 has none, the preload has. */
#define _GNU_SOURCE 1
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

extern void free_sized(void *p, size_t n) __attribute__((weak));
extern void free_aligned_sized(void *p, size_t a, size_t n) __attribute__((weak));

void *volatile hkrun_sink;

static int aligned(void *p, size_t a) { return p && ((uintptr_t)p & (a - 1)) == 0; }

int main(void)
{
    void *p;
    volatile size_t huge = SIZE_MAX / 2;        /* volatile: no compile-time warning */
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    if (!aligned(hkrun_sink = aligned_alloc(64, 100), 64))      /* leak 100 */
        return 3;
    if (!aligned(hkrun_sink = memalign(32, 101), 32))           /* leak 101 */
        return 3;
    if (!aligned(hkrun_sink = valloc(102), pg))                 /* leak 102 */
        return 3;
    if (!aligned(hkrun_sink = pvalloc(103), pg))                /* leak: a page */
        return 3;
    if (posix_memalign(&p, 128, 104) != 0 || !aligned(p, 128))  /* leak 104 */
        return 3;
    hkrun_sink = p;
    hkrun_sink = reallocarray(NULL, 5, 21);                     /* leak 105 */
    hkrun_sink = calloc(2, 53);                                 /* leak 106 */
    /* leak 107, aligned to 1 MiB: the block starts a granule of header
     * mode's scan, its header ends the granule before */
    if (!aligned(hkrun_sink = aligned_alloc((size_t)1 << 20, 107), (size_t)1 << 20))
        return 3;
    p = malloc(10);
    if (malloc_usable_size(p) < 10)
        return 4;
    free(p);
    p = aligned_alloc(256, 1000);
    if (!aligned(p, 256))
        return 3;
    free(p);
    if (!free_sized || !free_aligned_sized)
        return 5;                                               /* no preload */
    free_sized(malloc(50), 50);                                 /* right: nothing */
    free_sized(malloc(51), 60);                                 /* S 51, FS 60 */
    p = aligned_alloc(64, 64);
    free_aligned_sized(p, 64, 64);                              /* right: nothing */
    if (reallocarray(NULL, huge, 3) != NULL)            /* overflow: NULL */
        return 6;
    return 0;
}
