/* hdrbad.c - what the preload's header mode must survive (issue 11, H8):
 * bad frees that read unmapped or forged memory, the program's own
 * SIGSEGV handler, and blocks made inside the tracker's internal guard.
 * Exits 0 when every check of its own held (the report is checked by
 * tests/preload.c): 4 FM, one leak of 33 bytes. */
#include <dlfcn.h>
#include <malloc.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void *volatile hkrun_sink;
static sigjmp_buf jb;
static volatile int handled, handled_bsd;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    (void)sig; (void)si; (void)uc;
    handled++;
    siglongjmp(jb, 1);
}

static void on_segv_bsd(int sig)
{
    (void)sig;
    handled_bsd++;
    siglongjmp(jb, 1);
}

#define FAIL(code, what) do { fprintf(stderr, "hdrbad: %s\n", what); return code; } while (0)

int main(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    struct sigaction sa, old;
    void (*guard)(int);
    char *p, *q, *u;
    void *a;
    _Alignas(16) unsigned char stackbuf[64];

    /* 1. a free into a page that was unmapped: FM, no crash */
    u = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (u == MAP_FAILED)
        FAIL(10, "mmap");
    munmap(u, (size_t)pg);
    free(u + 16);

    /* 2. a double free of a large block (glibc maps it, and unmaps it at the
     * first free): one FM */
    p = malloc(300000);
    if (!p)
        FAIL(11, "malloc 300000");
    memset(p, 1, 300000);
    free(p);
    free(p);

    /* 3. a forged header: the 16 bytes before a live block, copied before a
     * stack buffer, do not make it a block (the check covers the address) */
    q = malloc(48);
    if ((*(uint64_t *)(void *)(q - 16) & 0xFFFFFFFFu) != 48)
        FAIL(26, "no header before the block: not header mode");
    memcpy(stackbuf, q - 16, 16);
    free(stackbuf + 16);
    free(q);

    /* 4. the program's own SIGSEGV handler gets its faults, and the
     * probe's own faults are not its */
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &old) != 0)
        FAIL(12, "sigaction");
    if (sigsetjmp(jb, 1) == 0)
        *(volatile int *)(uintptr_t)8 = 1;           /* a real fault */
    if (handled != 1)
        FAIL(13, "the program's SA_SIGINFO handler was not called");
    u = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(u, (size_t)pg);
    free(u + 32);                                    /* FM, the handler not called */
    if (handled != 1)
        FAIL(14, "a bad free reached the program's handler");
    if (sigaction(SIGSEGV, NULL, &old) != 0 || old.sa_sigaction != on_segv)
        FAIL(15, "sigaction does not give back the program's handler");
    if (signal(SIGSEGV, on_segv_bsd) == SIG_ERR)
        FAIL(16, "signal");
    if (sigsetjmp(jb, 1) == 0)
        *(volatile int *)(uintptr_t)8 = 1;
    if (handled_bsd != 1 || handled != 1)
        FAIL(17, "the program's signal() handler was not called");
    signal(SIGSEGV, SIG_DFL);

    /* 5. blocks made inside the internal guard (the report's stdio, libdw's
     * caches), freed or grown outside it: no FM, not listed */
    guard = (void (*)(int))dlsym(RTLD_DEFAULT, "hk__preload_guard");
    if (!guard)
        FAIL(18, "no hk__preload_guard: not under the preload");
    guard(1);
    p = malloc(40);
    q = calloc(3, 7);
    guard(0);
    if (!p || !q)
        FAIL(19, "malloc in the guard");
    free(p);
    q = realloc(q, 500);
    free(q);
    /* ... and one made outside, freed inside */
    p = malloc(41);
    guard(1);
    free(p);
    guard(0);

    /* 6. usable size and alignments */
    p = malloc(100);
    if (malloc_usable_size(p) < 100 || malloc_usable_size(p) > 100 + 32)
        FAIL(20, "malloc_usable_size");
    free(p);
    if (posix_memalign(&a, 4096, 10) != 0 || ((uintptr_t)a & 4095))
        FAIL(21, "posix_memalign 4096");
    free(a);
    a = aligned_alloc(64, 128);
    if (!a || ((uintptr_t)a & 63))
        FAIL(22, "aligned_alloc 64");
    free(a);
    a = memalign(256, 3);
    if (!a || ((uintptr_t)a & 255))
        FAIL(23, "memalign 256");
    a = realloc(a, 5000);                            /* an aligned block grows */
    if (!a)
        FAIL(24, "realloc of an aligned block");
    free(a);
    a = valloc(1);
    if (!a || ((uintptr_t)a & (uintptr_t)(pg - 1)))
        FAIL(25, "valloc");
    free(a);

    hkrun_sink = malloc(33);                         /* the one leak */
    return 0;
}
