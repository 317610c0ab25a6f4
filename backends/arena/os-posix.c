/*
 * os-posix.c - arena OS layer for POSIX: mmap(PROT_NONE) reserves, mprotect
 * commits, madvise + mprotect decommits, munmap releases.
 */
#ifndef _WIN32

#if !defined(_DEFAULT_SOURCE)
#  define _DEFAULT_SOURCE 1
#endif

#include "os.h"

#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>
#if defined(__linux__)
#  include <sys/syscall.h>
#  include <sys/sysinfo.h>
#endif

#ifndef MAP_ANONYMOUS
#  define MAP_ANONYMOUS MAP_ANON
#endif
#ifndef MAP_NORESERVE
#  define MAP_NORESERVE 0
#endif

#define HK_OS_GRAN ((size_t)0x10000)

typedef struct { pthread_mutex_t m; pthread_cond_t c; } hk__psync;
typedef char hk__psync_fits[sizeof(hk__psync) <= sizeof(hk__arena_sync) ? 1 : -1];

/* Over-reserve by one granule and trim, so reservations are 64 KiB aligned
 * like VirtualAlloc's (the heap handle and region bases then are too). */
static void *hk__os_reserve(size_t size)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    size_t len;
    char *p, *a;
    if (size > SIZE_MAX - HK_OS_GRAN) return NULL;
    len = size + HK_OS_GRAN - pg;
    p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
             -1, 0);
    if (p == MAP_FAILED) return NULL;
    a = (char *)(((uintptr_t)p + HK_OS_GRAN - 1) & ~(uintptr_t)(HK_OS_GRAN - 1));
    if (a > p) munmap(p, (size_t)(a - p));
    if (p + len > a + size) munmap(a + size, (size_t)(p + len - (a + size)));
    return a;
}

static int hk__os_commit(void *p, size_t n)
{
    return mprotect(p, n, PROT_READ | PROT_WRITE) ? -1 : 0;
}

static int hk__os_decommit(void *p, size_t n)
{
    if (madvise(p, n, MADV_DONTNEED)) return -1;
    return mprotect(p, n, PROT_NONE) ? -1 : 0;
}

/* One read/write mapping, trimmed to alignment like a reservation: no
 * mprotect, which would split the area and cost a call more.  Without
 * MAP_NORESERVE, so the kernel's overcommit check applies to it. */
static void *hk__os_map(size_t size)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    size_t len;
    char *p, *a;
    if (size > SIZE_MAX - HK_OS_GRAN) return NULL;
    len = size + HK_OS_GRAN - pg;
    p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    a = (char *)(((uintptr_t)p + HK_OS_GRAN - 1) & ~(uintptr_t)(HK_OS_GRAN - 1));
    if (a > p) munmap(p, (size_t)(a - p));
    if (p + len > a + size) munmap(a + size, (size_t)(p + len - (a + size)));
    return a;
}

static void hk__os_release(void *p, size_t size)
{
    munmap(p, size);
}

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
        size_t pg = (size_t)sysconf(_SC_PAGESIZE);
        volatile char *p = mmap(NULL, pg, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) { __atomic_thread_fence(__ATOMIC_SEQ_CST); return; }
        p[0] = 1;
        mprotect((void *)p, pg, PROT_READ);
        munmap((void *)p, pg);
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

/* MAP_NORESERVE would let any size through overcommit; Linux's default
 * heuristic refuses more than RAM + swap, and so does this. */
static size_t hk__os_commit_limit(void)
{
#if defined(__linux__)
    struct sysinfo si;
    if (sysinfo(&si) == 0) {
        unsigned long long t = ((unsigned long long)si.totalram + si.totalswap) *
                               (si.mem_unit ? si.mem_unit : 1);
        return t > SIZE_MAX ? SIZE_MAX : (size_t)t;
    }
#endif
    {
        long pg = sysconf(_SC_PAGESIZE), np = sysconf(_SC_PHYS_PAGES);
        if (pg > 0 && np > 0 && (unsigned long long)np <= SIZE_MAX / (size_t)pg)
            return (size_t)np * (size_t)pg;
    }
    return SIZE_MAX;
}

static void hk__os_reset(void *p, size_t n)
{
    madvise(p, n, MADV_DONTNEED);
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
typedef int hk__arena_os_posix_unused;
#endif /* !_WIN32 */
