/*
 * os-win.c - arena OS layer for Windows: VirtualAlloc MEM_RESERVE /
 * MEM_COMMIT, VirtualFree MEM_DECOMMIT / MEM_RELEASE.
 */
#ifdef _WIN32

#if !defined(_WIN32_WINNT) || _WIN32_WINNT < 0x0600
#  undef _WIN32_WINNT
#  define _WIN32_WINNT 0x0600
#endif
#ifndef WIN32_LEAN_AND_MEAN
#  define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include "os.h"

#define HK_OS_GRAN ((size_t)0x10000)

typedef struct { SRWLOCK m; CONDITION_VARIABLE c; } hk__wsync;
typedef char hk__wsync_fits[sizeof(hk__wsync) <= sizeof(hk__arena_sync) ? 1 : -1];

/* VirtualAlloc reservations are already 64 KiB aligned. */
static void *hk__os_reserve(size_t size)
{
    return VirtualAlloc(NULL, size, MEM_RESERVE, PAGE_NOACCESS);
}

static int hk__os_commit(void *p, size_t n)
{
    return VirtualAlloc(p, n, MEM_COMMIT, PAGE_READWRITE) ? 0 : -1;
}

static int hk__os_decommit(void *p, size_t n)
{
    return VirtualFree(p, n, MEM_DECOMMIT) ? 0 : -1;
}

static void *hk__os_map(size_t size)
{
    return VirtualAlloc(NULL, size, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
}

static void hk__os_release(void *p, size_t size)
{
    (void)size;
    VirtualFree(p, 0, MEM_RELEASE);
}

/* FlushProcessWriteBuffers is the documented asymmetric barrier; some
 * emulations stub it, so also lower the protection of a touched page, whose
 * TLB shootdown interrupts every CPU running one of our threads. */
static void hk__os_barrier(void)
{
    volatile char *p;
    DWORD old;
    FlushProcessWriteBuffers();
    p = VirtualAlloc(NULL, 4096, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    if (p) {
        p[0] = 1;
        VirtualProtect((void *)p, 4096, PAGE_READONLY, &old);
        VirtualFree((void *)p, 0, MEM_RELEASE);
    }
    MemoryBarrier();
}

static int hk__os_sync_init(hk__arena_sync *s)
{
    hk__wsync *q = (hk__wsync *)s;
    InitializeSRWLock(&q->m);
    InitializeConditionVariable(&q->c);
    return 0;
}

static void hk__os_sync_fini(hk__arena_sync *s) { (void)s; }
static void hk__os_sync_lock(hk__arena_sync *s)   { AcquireSRWLockExclusive(&((hk__wsync *)s)->m); }
static void hk__os_sync_unlock(hk__arena_sync *s) { ReleaseSRWLockExclusive(&((hk__wsync *)s)->m); }
static void hk__os_sync_wait(hk__arena_sync *s)
{
    hk__wsync *q = (hk__wsync *)s;
    SleepConditionVariableSRW(&q->c, &q->m, INFINITE, 0);
}
static void hk__os_sync_wake(hk__arena_sync *s) { WakeAllConditionVariable(&((hk__wsync *)s)->c); }

static uintptr_t hk__os_tid(void) { return (uintptr_t)GetCurrentThreadId() | 1; }

static size_t hk__os_commit_limit(void)
{
    MEMORYSTATUSEX ms;
    ms.dwLength = sizeof ms;
    if (!GlobalMemoryStatusEx(&ms)) return SIZE_MAX;
    return ms.ullTotalPageFile > SIZE_MAX ? SIZE_MAX : (size_t)ms.ullTotalPageFile;
}

/* MEM_RESET: the pages leave the working set and are not written to the
 * paging file; they stay committed. */
static void hk__os_reset(void *p, size_t n)
{
    VirtualAlloc(p, n, MEM_RESET, PAGE_READWRITE);
}

const struct hk__arena_os hk__arena_os = {
    HK_OS_GRAN,
    hk__os_reserve, hk__os_commit, hk__os_decommit, hk__os_map, hk__os_release,
    hk__os_barrier,
    hk__os_sync_init, hk__os_sync_fini, hk__os_sync_lock, hk__os_sync_unlock,
    hk__os_sync_wait, hk__os_sync_wake,
    hk__os_tid, hk__os_commit_limit, hk__os_reset
};

#else
/* ISO C forbids an empty translation unit. */
typedef int hk__arena_os_win_unused;
#endif /* _WIN32 */
