/*
 * app.c - a program that uses an installed heapkit, built by
 * tests/install.sh through pkg-config or CMake alone.
 *   app [mimalloc|no-mimalloc] [glibc-malloc]
 * Exits 0 when every backend of the library works, the mimalloc backend
 * is there or not as asked, and (glibc-malloc) the program's malloc is
 * still glibc's.
 */
#define _GNU_SOURCE
#include <heapkit.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__GLIBC__)
#  include <dlfcn.h>
#  include <malloc.h>
#endif

static int fail(const char *what)
{
    fprintf(stderr, "app: FAILED: %s\n", what);
    return 1;
}

/* glibc's malloc counts what it hands out in mallinfo2(); an interposed
 * allocator (mimalloc's override) leaves it alone.  In a dynamic program
 * malloc must also resolve into libc itself. */
static int malloc_is_glibc(void)
{
#if defined(__GLIBC__)
    struct mallinfo2 a = mallinfo2(), b;
    void *p = malloc(100000 / 8);     /* below the mmap threshold */
    Dl_info di;
    int ok;
    b = mallinfo2();
    ok = p && b.uordblks >= a.uordblks + 100000 / 8;
    free(p);
    if (dladdr((void *)&malloc, &di) && di.dli_fname)  /* NULL when static */
        ok = ok && strstr(di.dli_fname, "libc.so") != NULL;
    return ok;
#else
    return 0;
#endif
}

int main(int argc, char **argv)
{
    const char *const *b = hk_backends();
    int want_mi = -1, mi = 0, i, n = 0;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "mimalloc")) want_mi = 1;
        else if (!strcmp(argv[i], "no-mimalloc")) want_mi = 0;
        else if (!strcmp(argv[i], "glibc-malloc") && !malloc_is_glibc())
            return fail("malloc is not glibc's");
    }
    if (strcmp(hk_version(), HK_VERSION_STRING) != 0)
        return fail("hk_version() differs from HK_VERSION_STRING");
    for (; *b; b++, n++) {
        hk_heap *h = hk_heap_create(*b, 0, 0, 0);
        hk_heap_entry e;
        char *p;
        int busy = 0;
        if (!h) return fail(*b);
        p = hk_alloc(h, HK_HEAP_ZERO_MEMORY, 1000);
        if (!p || p[999] != 0 || hk_size(h, 0, p) != 1000) return fail("alloc");
        memset(&e, 0, sizeof e);
        while (hk_walk(h, &e))
            busy += e.flags == HK_ENTRY_BUSY && e.data == p;
        if (busy != 1 || hk_last_error() != HK_ERR_NO_MORE_ITEMS) return fail("walk");
        if (!hk_free(h, 0, p) || !hk_heap_destroy(h)) return fail("free");
        mi |= !strcmp(*b, "mimalloc");
        printf("%s ", *b);
    }
    printf("(heapkit %s)\n", hk_version());
    if (n == 0) return fail("no backend");
    if (want_mi >= 0 && mi != want_mi)
        return fail(want_mi ? "mimalloc backend missing" : "mimalloc backend present");
    return 0;
}
