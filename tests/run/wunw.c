/* wunw.c - call chains of every frame shape for heapkit's Windows
 * unwinder (no heapkit header): plain -O1 frames, a frame-pointer frame
 * (alloca), a 20000-byte frame (___chkstk_ms, a large allocation code),
 * an -O0 function, a recursion 20 deep, a callback called from the
 * program's DLL (wrunlib.dll) and one from msvcrt's qsort, a second
 * thread.  Each path leaks one block of its own size.  tests/winrun.sh
 * runs it with HEAPKIT_UNWIND_CHECK=1, which compares each stack heapkit
 * takes with RtlCaptureStackBackTrace's. */
#include <windows.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline))

void hkrun_destroy_all(void **v, int n, void (*destroy)(void *));

void *volatile sink;
static volatile size_t want;

static NOINLINE void *leaf(size_t n)
{
    void *p = malloc(n);
    sink = p;                           /* not a tail call */
    return p;
}

static NOINLINE void *with_alloca(size_t n, int k)
{
    char *b = alloca(k);
    void *p;
    memset(b, 1, k);
    sink = b;
    p = leaf(n);
    sink = b;
    return p;
}

static NOINLINE void *big_frame(size_t n)
{
    volatile char buf[20000];
    buf[0] = 1;
    buf[19999] = 2;
    return with_alloca(n + buf[0] - 1, 100);
}

__attribute__((optimize("O0"))) static NOINLINE void *at_o0(size_t n)
{
    void *p = big_frame(n);
    return p;
}

static volatile int depth_seen;

static NOINLINE void *rec(int d, size_t n)
{
    void *p;
    if (d == 0)
        return at_o0(n);
    p = rec(d - 1, n);
    depth_seen = d;                     /* not a tail call */
    return p;
}

static void from_dll(void *arg)
{
    (void)arg;
    rec(3, 1003);
}

static int from_qsort(const void *a, const void *b)
{
    if (want) {
        leaf(want);
        want = 0;
    }
    return *(const int *)a - *(const int *)b;
}

static DWORD WINAPI thread_main(void *arg)
{
    (void)arg;
    rec(2, 1005);
    return 0;
}

int main(void)
{
    void *v[1] = { NULL };
    int keys[4] = { 4, 3, 2, 1 };
    HANDLE t;
    leaf(1000);
    with_alloca(1001, 64);
    rec(20, 1002);
    hkrun_destroy_all(v, 1, from_dll);
    want = 1004;
    qsort(keys, 4, sizeof keys[0], from_qsort);
    t = CreateThread(NULL, 0, thread_main, NULL, 0, NULL);
    if (!t)
        return 90;
    WaitForSingleObject(t, INFINITE);
    CloseHandle(t);
    return 0;
}
