/*
 * os-posix.c - arena OS layer for POSIX: pthread mutex + condition variable,
 * membarrier, the thread id; the memory members are src/prim/posix.c's.
 */
#ifndef _WIN32

#if !defined(_DEFAULT_SOURCE)
#  define _DEFAULT_SOURCE 1
#endif

#include "os.h"

#include <pthread.h>
#include <unistd.h>
#if defined(__linux__)
#  include <sys/syscall.h>
#endif

typedef struct { pthread_mutex_t m; pthread_cond_t c; } hk__psync;
typedef char hk__psync_fits[sizeof(hk__psync) <= sizeof(hk__arena_sync) ? 1 : -1];

/* membarrier(PRIVATE_EXPEDITED) where the kernel has it; otherwise lowering
 * the protection of a touched page, whose TLB shootdown interrupts every CPU
 * running one of our threads (the classic serialization-page trick). */
static void hk__os_barrier(void)
{
#if defined(__linux__) && defined(SYS_membarrier)
    static int state; /* 0 unknown, 1 usable, -1 not */
    int s = __atomic_load_n(&state, __ATOMIC_ACQUIRE);
    if (s == 0) {
        s = syscall(SYS_membarrier, 1 << 4 /* REGISTER_PRIVATE_EXPEDITED */,
                    0, 0) == 0 ? 1 : -1;
        __atomic_store_n(&state, s, __ATOMIC_RELEASE);
    }
    if (s == 1 && syscall(SYS_membarrier, 1 << 3 /* PRIVATE_EXPEDITED */,
                          0, 0) == 0)
        return;
#endif
    {
        size_t pg = hk__prim_page_size();
        volatile char *p = hk__prim_map(pg, 0);
        if (!p) { __atomic_thread_fence(__ATOMIC_SEQ_CST); return; }
        p[0] = 1;
        hk__prim_protect((void *)p, pg, HK__PRIM_READ);
        hk__prim_unmap((void *)p, pg);
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static int hk__os_sync_init(hk__arena_sync *s)
{
    hk__psync *q = (hk__psync *)s;
    if (pthread_mutex_init(&q->m, NULL)) return -1;
    if (pthread_cond_init(&q->c, NULL)) { pthread_mutex_destroy(&q->m); return -1; }
    return 0;
}

static void hk__os_sync_fini(hk__arena_sync *s)
{
    hk__psync *q = (hk__psync *)s;
    pthread_cond_destroy(&q->c);
    pthread_mutex_destroy(&q->m);
}

static void hk__os_sync_lock(hk__arena_sync *s)   { pthread_mutex_lock(&((hk__psync *)s)->m); }
static void hk__os_sync_unlock(hk__arena_sync *s) { pthread_mutex_unlock(&((hk__psync *)s)->m); }
static void hk__os_sync_wait(hk__arena_sync *s)
{
    hk__psync *q = (hk__psync *)s;
    pthread_cond_wait(&q->c, &q->m);
}
static void hk__os_sync_wake(hk__arena_sync *s) { pthread_cond_broadcast(&((hk__psync *)s)->c); }

static uintptr_t hk__os_tid(void) { return (uintptr_t)pthread_self() | 1; }

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
typedef int hk__arena_os_posix_unused;
#endif /* !_WIN32 */
