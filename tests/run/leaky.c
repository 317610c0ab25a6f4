/* leaky.c - an unmodified C program (no heapkit header) for tests/run,
 * built for Linux (`heapkit run`) and MinGW (`heapkit.exe run`): a block
 * leaked before main (a constructor), in main and in a shared library /
 * DLL of its own; a double free and an interior free (FM, the program
 * goes on); blocks the C library allocated itself (getline's or
 * _getcwd's, and strdup's) freed (not FM); free passed as a function
 * pointer.  Prints "done" at the end, so the test knows it got there.
 * Its whole report, masked, is the same on Linux and Windows
 * (tests/golden/run/leaky.txt, issue 12). */
#define _GNU_SOURCE 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#  include <direct.h>
#  include <io.h>
#  define write _write
#else
#  include <unistd.h>
#endif

void *hkrun_lib_leak(size_t n);
void hkrun_destroy_all(void **v, int n, void (*destroy)(void *));

/* volatile: the compiler must not drop a malloc/free pair */
void *volatile hkrun_sink;

__attribute__((constructor)) static void before_main(void)
{
    hkrun_sink = malloc(7);                         /* leak 7 */
}

/* The leak of main is made in a helper that is not inlined, and main
 * scrubs the dead stack below its frame before it returns: a conservative
 * scan takes any word on a live stack for a pointer, and which dead slot
 * still holds a leaked block's address at exit depends on the compiler,
 * the C runtime and the OS (under Wine a slot of main's frame kept the
 * 100 bytes, so "still reachable" there and "definitely lost" on Linux).
 * With no copy left but the overwritten global, the block is definitely
 * lost on both. */
/* noclone: no "leak.constprop.0" in the report */
static __attribute__((noinline, noclone)) void leak(size_t n)
{
    hkrun_sink = malloc(n);
}

static __attribute__((noinline, noclone)) void scrub_stack(void)
{
    char pad[16384];
    memset(pad, 0, sizeof pad);
    /* the stores must happen although pad is dead afterwards */
    __asm__ __volatile__("" : : "r"(pad) : "memory");
}

/* A block the C library allocated itself, with its own malloc (msvcrt
 * has no getline; its _getcwd(NULL, 0) allocates inside msvcrt). */
static char *crt_block(const char *self)
{
    char *line = NULL;
#ifdef _WIN32
    (void)self;
    line = _getcwd(NULL, 0);
#else
    size_t cap = 0;
    FILE *f = fopen(self, "r");
    if (!f)
        return NULL;
    if (getline(&line, &cap, f) < 0) {
        free(line);
        line = NULL;
    }
    fclose(f);
#endif
    return line;
}

int main(int argc, char **argv)
{
    char *line, *d, *p, *q;
    void *v[3];
    int i;
    (void)argc;
    if (!(line = crt_block(argv[0])))
        return 90;
    free(line);                                     /* libc's block: no FM */
    d = strdup("hello");
    hkrun_sink = d;
    free(d);
    for (i = 0; i < 3; i++)
        v[i] = malloc(16 + (size_t)i);
    hkrun_destroy_all(v, 3, free);                  /* free by pointer */
    leak(100);                                      /* leak 100 */
    hkrun_sink = hkrun_lib_leak(200);               /* leak 200, in the library */
    p = malloc(30);
    hkrun_sink = p;
    free(p);
    free(hkrun_sink);                               /* double free: FM */
    q = malloc(40);
    hkrun_sink = q + 8;
    free(hkrun_sink);                               /* interior: FM */
    free(q);
    p = realloc(NULL, 50);
    p = realloc(p, 5000);
    free(p);
    if (write(1, "done\n", 5) != 5)
        return 91;
    scrub_stack();
    return 0;
}
