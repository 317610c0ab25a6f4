/*
 * os-win.c - arena OS layer for Windows: SRWLOCK + condition variable,
 * FlushProcessWriteBuffers, the thread id; the memory members are
 * src/prim/win.c's.
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

typedef struct { SRWLOCK m; CONDITION_VARIABLE c; } hk__wsync;
typedef char hk__wsync_fits[sizeof(hk__wsync) <= sizeof(hk__arena_sync) ? 1 : -1];

/* FlushProcessWriteBuffers is the documented asymmetric barrier; some
 * emulations stub it, so also lower the protection of a touched page, whose
 * TLB shootdown interrupts every CPU running one of our threads. */
static void hk__os_barrier(void)
{
    size_t pg = hk__prim_page_size();
    volatile char *p;
    FlushProcessWriteBuffers();
    p = hk__prim_map(pg, 0);
    if (p) {
        p[0] = 1;
        hk__prim_protect((void *)p, pg, HK__PRIM_READ);
        hk__prim_unmap((void *)p, pg);
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

const struct hk__arena_os hk__arena_os = {
    HK__PRIM_GRAN,
    hk__arena_os_reserve, hk__prim_commit, hk__prim_decommit, hk__arena_os_map,
    hk__prim_unmap,
    hk__os_barrier,
    hk__os_sync_init, hk__os_sync_fini, hk__os_sync_lock, hk__os_sync_unlock,
    hk__os_sync_wait, hk__os_sync_wake,
    hk__os_tid, hk__prim_commit_limit, hk__prim_reset
};

#else
/* ISO C forbids an empty translation unit. */
typedef int hk__arena_os_win_unused;
#endif /* _WIN32 */
