/* crashalloc.c - leaks 64 bytes, then dies of SIGSEGV inside malloc:
 * glibc's tcache link in a freed block is made to point at an unmapped
 * page (with safe-linking's mangling, so it passes the alignment check),
 * and the second malloc of that size follows it.  The crash report must
 * fall back to module+offset: no child may symbolize on that heap.  The
 * preload's header mode keeps 16 bytes before each block, the table mode
 * none, so the link is written at both places.  An allocator that is not
 * misled (another backend) gets the crash in main instead. */
#include <stdint.h>
#include <stdlib.h>

void *volatile hkrun_sink;
char *volatile hkrun_a, *volatile hkrun_b;
int *volatile hkrun_null;

static void poison(uintptr_t *at)
{
    /* PROTECT_PTR: the link's own address >> 12, xor the target */
    *at = ((uintptr_t)at >> 12) ^ (uintptr_t)0x1000;
}

int main(void)
{
    hkrun_sink = malloc(64);
    hkrun_a = malloc(40);
    hkrun_b = malloc(40);
    free(hkrun_a);
    free(hkrun_b);                  /* the list: b, then a */
    poison((uintptr_t *)(void *)hkrun_b);
    poison((uintptr_t *)(void *)(hkrun_b - 16));
    hkrun_sink = malloc(40);        /* b */
    hkrun_sink = malloc(40);        /* the poisoned link */
    *hkrun_null = 1;
    return 0;
}
