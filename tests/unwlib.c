/*
 * unwlib.c - a shared library of the cached unwinder's test (tests/debug.c,
 * debug:symbols), built -O2 -fomit-frame-pointer as Debian's libraries
 * are: two frames of the stack tests/unwchild allocates under, with no
 * frame pointer to walk.
 */
#define UNW_NOINLINE __attribute__((visibility("default"), noinline))

UNW_NOINLINE void *unwlib_c(void *(*fn)(int), int n)
{
    void *p = fn(n + 1);
    __asm__ volatile("" ::: "memory");      /* no tail call */
    return p;
}

UNW_NOINLINE void *unwlib_b(void *(*fn)(int), int n)
{
    void *p = unwlib_c(fn, n + 1);
    __asm__ volatile("" ::: "memory");
    return p;
}
