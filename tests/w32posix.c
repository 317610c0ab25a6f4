/*
 * w32posix.c - what heapkit/win32.h does on POSIX beyond the shared
 * Win32 behaviour (tests/winapi.c): HeapEnableTerminationOnCorruption ends
 * the process with a message, HEAP_GENERATE_EXCEPTIONS can be caught (and
 * its default names STATUS_NO_MEMORY), bad Local/Global handles are named
 * errors, and the version.  Children are forked by hand so their exit and
 * stderr can be checked.
 */
#include <heapkit/win32.h>

#include <check.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__)
/* This program damages heaps on purpose, right where the arena keeps its
 * ASan poison (headers, free memory): the poison is off here, ASan still
 * checks everything else.  tests/sanity checks the poison. */
const char *__asan_default_options(void);
__attribute__((visibility("default"), used))
const char *__asan_default_options(void) { return "allow_user_poisoning=0"; }
#endif

/* Run fn in a child; its stderr into buf, its wait status returned. */
static int run_child(void (*fn)(void), char *buf, size_t cap)
{
    int fds[2], st = -1;
    size_t got = 0;
    ssize_t r;
    pid_t pid;
    ck_assert_int_eq(pipe(fds), 0);
    fflush(NULL);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        fn();
        _exit(0);
    }
    close(fds[1]);
    while (got + 1 < cap && (r = read(fds[0], buf + got, cap - 1 - got)) > 0)
        got += (size_t)r;
    buf[got] = 0;
    close(fds[0]);
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    return st;
}

/* A heap with b's header overwritten (tests/model.c does the same). */
static HANDLE corrupt_heap(void **b_out)
{
    HANDLE h = HeapCreate(0, 0, 0);
    char *a = HeapAlloc(h, 0, 64), *b = HeapAlloc(h, 0, 64), *c = HeapAlloc(h, 0, 64);
    if (!a || !b || !c)
        _exit(10);
    memset(b - 16, 0xA5, 16);
    *b_out = b;
    return h;
}

static void child_walk_corrupt(void)
{
    PROCESS_HEAP_ENTRY e;
    void *b;
    HANDLE h;
    if (!HeapSetInformation(NULL, HeapEnableTerminationOnCorruption, NULL, 0))
        _exit(11);
    h = corrupt_heap(&b);
    if (HeapValidate(h, 0, NULL))            /* validating only reports */
        _exit(12);
    memset(&e, 0, sizeof e);
    while (HeapWalk(h, &e))
        ;
    _exit(13);                               /* must not get here */
}

START_TEST(termination_on_corruption)
{
    char buf[4096];
    int st = run_child(child_walk_corrupt, buf, sizeof buf);
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "status %#x: %s", st, buf);
    ck_assert_ptr_nonnull(strstr(buf, "heap corruption"));
    ck_assert_ptr_nonnull(strstr(buf, "0xC0000374"));
}
END_TEST

static void child_walk_corrupt_off(void)
{
    PROCESS_HEAP_ENTRY e;
    void *b;
    HANDLE h = corrupt_heap(&b);
    memset(&e, 0, sizeof e);
    while (HeapWalk(h, &e))
        ;
    _exit(GetLastError() == ERROR_INVALID_DATA ? 0 : 14);
}

START_TEST(corruption_without_termination)
{
    char buf[4096];
    int st = run_child(child_walk_corrupt_off, buf, sizeof buf);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x: %s", st, buf);
}
END_TEST

static void child_no_memory(void)
{
    HANDLE h = HeapCreate(HEAP_GENERATE_EXCEPTIONS, 0, 0);
    HeapAlloc(h, 0, ~(SIZE_T)0 >> 2);
    _exit(15);                               /* must not get here */
}

START_TEST(generate_exceptions_default)
{
    char buf[4096];
    int st = run_child(child_no_memory, buf, sizeof buf);
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "status %#x: %s", st, buf);
    ck_assert_ptr_nonnull(strstr(buf, "STATUS_NO_MEMORY"));
    ck_assert_ptr_nonnull(strstr(buf, "0xC0000017"));
}
END_TEST

static jmp_buf g_catch;
static unsigned g_code;
static size_t g_size;

static void on_exception(unsigned code, size_t size)
{
    g_code = code;
    g_size = size;
    longjmp(g_catch, 1);
}

/* A ported __try/__except: the handler leaves by longjmp, and the heap
 * is fully usable afterwards (no heapkit lock was held). */
START_TEST(generate_exceptions_caught)
{
    HANDLE h = HeapCreate(0, 0, 0);
    volatile int caught = 0;
    void *p;
    hk_exception_fn old = hk_set_exception_handler(on_exception);
    ck_assert_ptr_nonnull(h);
    if (setjmp(g_catch) == 0)
        HeapAlloc(h, HEAP_GENERATE_EXCEPTIONS, (SIZE_T)1 << 62);
    else
        caught = 1;
    hk_set_exception_handler(old);
    ck_assert_int_eq(caught, 1);
    ck_assert_uint_eq(g_code, STATUS_NO_MEMORY);
    ck_assert_uint_eq(g_size, (SIZE_T)1 << 62);
    ck_assert(HeapLock(h));
    p = HeapAlloc(h, 0, 100);
    ck_assert_ptr_nonnull(p);
    ck_assert(HeapFree(h, 0, p));
    ck_assert(HeapUnlock(h));
    ck_assert(HeapDestroy(h));
}
END_TEST

/* Bad handles are named errors, never a crash, and change nothing. */
START_TEST(bad_mem_handles)
{
    HGLOBAL m = GlobalAlloc(GMEM_MOVEABLE, 10);
    char *fixed = LocalAlloc(LMEM_FIXED, 10);
    int on_stack[4];
    HANDLE junk = (HANDLE)((char *)on_stack + 8 - ((uintptr_t)on_stack & 15));
    DWORD err;
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_nonnull(fixed);
    SetLastError(0);
    ck_assert_ptr_eq(GlobalFree(junk), junk);          /* looks moveable */
    err = GetLastError();
    ck_assert_uint_eq(err, ERROR_INVALID_HANDLE);
    SetLastError(0);
    ck_assert_ptr_null(GlobalLock(junk));
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_HANDLE);
    ck_assert_uint_eq(GlobalFlags(junk), GMEM_INVALID_HANDLE);
    SetLastError(0);
    ck_assert_ptr_eq(LocalFree(on_stack), (HLOCAL)on_stack);   /* not a block */
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_HANDLE);
    ck_assert_uint_eq(LocalSize(fixed + 1), 0);
    SetLastError(0);
    ck_assert(!LocalUnlock(fixed));                   /* fixed: no lock count */
    ck_assert_uint_eq(GetLastError(), ERROR_NOT_LOCKED);
    ck_assert_ptr_null(GlobalFree(m));
    SetLastError(0);
    ck_assert_ptr_eq(GlobalFree(m), m);               /* double free */
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_HANDLE);
    ck_assert_ptr_null(LocalFree(fixed));
    SetLastError(0);
    ck_assert_ptr_eq(LocalFree(fixed), (HLOCAL)fixed); /* double free */
    ck_assert_uint_eq(GetLastError(), ERROR_INVALID_HANDLE);
}
END_TEST

/* A locked moveable block stays put unless the caller allows a move. */
START_TEST(locked_block_stays)
{
    HGLOBAL m = GlobalAlloc(GMEM_MOVEABLE, 64), r;
    void *fence, *p;
    DWORD err;
    ck_assert_ptr_nonnull(m);
    p = GlobalLock(m);
    fence = HeapAlloc(GetProcessHeap(), 0, 64);     /* no room to grow */
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(fence);
    SetLastError(0);
    r = GlobalReAlloc(m, 1 << 20, 0);    /* grows in place, or fails */
    err = GetLastError();
    ck_assert(r == m || (r == NULL && err == ERROR_NOT_ENOUGH_MEMORY));
    ck_assert_ptr_eq(GlobalLock(m), p);
    ck_assert_ptr_eq(GlobalReAlloc(m, 1 << 20, GMEM_MOVEABLE), m);
    ck_assert_uint_eq(GlobalSize(m), 1 << 20);
    ck_assert_uint_eq(GlobalFlags(m) & GMEM_LOCKCOUNT, 2);
    ck_assert(HeapFree(GetProcessHeap(), 0, fence));
    ck_assert_ptr_null(GlobalFree(m));
}
END_TEST

/* heapkit's walk flags a moveable block and names its handle (Windows
 * does too; Wine 8 does not, so tests/winapi.c cannot insist). */
START_TEST(walk_moveable_flag)
{
    HGLOBAL h = GlobalAlloc(GMEM_MOVEABLE, 777);
    HANDLE ph = GetProcessHeap();
    PROCESS_HEAP_ENTRY e;
    void *p = GlobalLock(h), *fixed = GlobalAlloc(GMEM_FIXED, 10);
    int moveable = 0, plain = 0;
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(fixed);
    memset(&e, 0, sizeof e);
    ck_assert(HeapLock(ph));
    while (HeapWalk(ph, &e)) {
        if (e.lpData == p) {
            ck_assert_uint_eq(e.wFlags, PROCESS_HEAP_ENTRY_BUSY | PROCESS_HEAP_ENTRY_MOVEABLE);
            ck_assert_ptr_eq(e.Block.hMem, h);
            moveable++;
        } else if (e.lpData == fixed) {
            ck_assert_uint_eq(e.wFlags, PROCESS_HEAP_ENTRY_BUSY);
            ck_assert_ptr_null(e.Block.hMem);
            plain++;
        }
    }
    ck_assert(HeapUnlock(ph));
    ck_assert_int_eq(moveable, 1);
    ck_assert_int_eq(plain, 1);
    ck_assert_ptr_null(GlobalFree(fixed));
    ck_assert_ptr_null(GlobalFree(h));
}
END_TEST

START_TEST(version)
{
    char s[32];
    snprintf(s, sizeof s, "%d.%d.%d", HK_VERSION_MAJOR, HK_VERSION_MINOR, HK_VERSION_PATCH);
    ck_assert_str_eq(s, HK_VERSION_STRING);
    ck_assert_str_eq(hk_version(), HK_VERSION_STRING);
    ck_assert_str_eq(hk_version(), PACKAGE_VERSION);
    ck_assert_int_eq(HK_VERSION_NUMBER,
                     HK_VERSION_MAJOR * 10000 + HK_VERSION_MINOR * 100 + HK_VERSION_PATCH);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("w32posix");
    TCase *tc = tcase_create("win32.h on POSIX");
    tcase_add_test(tc, termination_on_corruption);
    tcase_add_test(tc, corruption_without_termination);
    tcase_add_test(tc, generate_exceptions_default);
    tcase_add_test(tc, generate_exceptions_caught);
    tcase_add_test(tc, bad_mem_handles);
    tcase_add_test(tc, locked_block_stays);
    tcase_add_test(tc, walk_moveable_flag);
    tcase_add_test(tc, version);
    suite_add_tcase(s, tc);
    return tu_run(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
