/*
 * plain.c - an unmodified program (no heapkit header) for snapshots under
 * heapkit run --snapshot-on exit, on Linux and, built with MinGW, under
 * Wine (tests/view.sh, tests/winview.sh): 50 blocks of 24 B from
 * plain_a, 10 of 200 B from plain_b; on Windows also a heap of its own
 * (HeapCreate) with 40 blocks of 64 B, every other one freed, so the
 * snapshot's walk has a fragmented region of the program's own.
 */
#include <stdlib.h>
#ifdef _WIN32
#  include <windows.h>
#endif

static void *keep[100];
static void *volatile last;

/* the store after the call: no tail call, so the caller is plain_a */
__attribute__((noinline)) static void *plain_a(void)
{
    void *p = malloc(24);
    last = p;
    return p;
}

__attribute__((noinline)) static void *plain_b(void)
{
    void *p = malloc(200);
    last = p;
    return p;
}

int main(void)
{
    int i;
    for (i = 0; i < 50; i++)
        keep[i] = plain_a();
    for (i = 0; i < 10; i++)
        keep[50 + i] = plain_b();
#ifdef _WIN32
    {
        HANDLE h = HeapCreate(0, 0, 0);
        void *b[40];
        if (!h)
            return 1;
        for (i = 0; i < 40; i++)
            b[i] = HeapAlloc(h, 0, 64);
        for (i = 0; i < 40; i += 2)
            HeapFree(h, 0, b[i]);
    }
#endif
    return keep[0] && keep[59] ? 0 : 1;
}
