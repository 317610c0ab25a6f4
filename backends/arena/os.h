/*
 * os.h - the OS layer of the arena backend (virtual memory, a mutex +
 * condition variable for the lock's slow path, a process-wide barrier).
 * The virtual memory is src/prim's (one call site per OS operation for
 * all of heapkit); the rest is the arena's own.
 *
 * os-posix.c and os-win.c each define `hk__arena_os` for their platform and
 * compile to nothing on the other one, so exactly one definition links.
 */
#ifndef HK_ARENA_OS_H
#define HK_ARENA_OS_H

#include <stddef.h>
#include <stdint.h>

#include "../../src/prim/prim.h"

/* Room for a mutex and a condition variable (pthread or SRWLOCK + CV); the
 * OS files check at compile time that theirs fit. */
typedef struct hk__arena_sync {
    union { void *p[24]; long long ll[12]; double d[12]; } u;
} hk__arena_sync;

struct hk__arena_os {
    size_t gran;                           /* reserve/commit step: 64 KiB  */
    /* Reserve size bytes, no access, aligned to gran; NULL on failure. */
    void *(*reserve)(size_t size);
    /* Make [p, p+n) of a reservation read/write (zeroed if new). 0 = OK. */
    int (*commit)(void *p, size_t n);
    /* Give [p, p+n) back to the OS and make it inaccessible.  0 = OK. */
    int (*decommit)(void *p, size_t n);
    /* Reserve and commit size bytes at once, aligned to gran (zeroed). */
    void *(*map)(size_t size);
    /* Release a whole reservation or mapping made above (POSIX: or the
     * tail of a mapping from map, which the large-block cache cuts). */
    void (*release)(void *p, size_t size);
    /* Every thread of the process executes a full memory barrier before
     * this returns (the bias-revocation half of an asymmetric fence). */
    void (*barrier)(void);
    /* A mutex and condition variable (slow paths only). 0 = OK. */
    int  (*sync_init)(hk__arena_sync *s);
    void (*sync_fini)(hk__arena_sync *s);
    void (*sync_lock)(hk__arena_sync *s);
    void (*sync_unlock)(hk__arena_sync *s);
    void (*sync_wait)(hk__arena_sync *s);      /* lock held              */
    void (*sync_wake)(hk__arena_sync *s);      /* wake all; lock held    */
    /* Current thread's identity (nonzero); used when no inline one. */
    uintptr_t (*tid)(void);
    /* Bytes the machine could ever commit (physical memory plus swap /
     * the commit limit); SIZE_MAX if unknown.  A request beyond it fails
     * up front, as Windows' commit charge would. */
    size_t (*commit_limit)(void);
    /* Give the pages of [p, p+n) (page aligned) back to the OS, keeping
     * them usable: they read as zero (POSIX) or undefined (Windows) when
     * touched again. */
    void (*reset)(void *p, size_t n);
};

extern const struct hk__arena_os hk__arena_os;

/* The memory members are the same on every OS: src/prim's calls, at the
 * 64 KiB alignment the arena lays its heaps out by (commit, decommit,
 * release, commit_limit and reset are prim's functions themselves). */
static inline void *hk__arena_os_reserve(size_t size)
{
    return hk__prim_reserve(size, HK__PRIM_GRAN);
}

static inline void *hk__arena_os_map(size_t size)
{
    return hk__prim_map(size, HK__PRIM_GRAN);
}

/* A nonzero word unique to the calling thread, in one instruction where the
 * ABI gives one: the thread control block's self pointer (x86-64 ELF TLS ABI:
 * %fs:0; Windows x64: the TEB at %gs:0x30). */
static inline uintptr_t hk__arena_tid(void)
{
    uintptr_t t;
#if defined(_WIN32) && defined(__x86_64__) && defined(__GNUC__)
    __asm__ ("movq %%gs:0x30, %0" : "=r" (t));
#elif defined(__x86_64__) && defined(__linux__) && defined(__GNUC__)
    __asm__ ("movq %%fs:0, %0" : "=r" (t));
#elif defined(__aarch64__) && defined(__linux__) && defined(__GNUC__)
    __asm__ ("mrs %0, tpidr_el0" : "=r" (t));
#else
    t = hk__arena_os.tid();
#endif
    return t;
}

#endif /* HK_ARENA_OS_H */
