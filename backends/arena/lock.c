/*
 * lock.c - the arena's biased lock: its slow paths (the inline entry and
 * exit are in arena.h).  See arena.h for the design.
 */
#include "arena.h"

#ifdef _WIN32
#  include <windows.h>
#else
#  include <sched.h>
#endif

/* ---- Lock --------------------------------------------------------------- */
HK_NOSAN static void hk__pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

HK_NOSAN static void hk__yield(void)
{
#ifdef _WIN32
    SwitchToThread();
#else
    sched_yield();
#endif
}

/* Take the lock word of thread cache t (not if this thread has it).  A
 * cache's own thread holds it only for a pop or push (it never waits
 * while holding it), so this spins briefly.  1: taken here. */
HK_NOSAN int hk__tc_grab(hk__tc *t, uintptr_t me)
{
    unsigned n;
    uintptr_t z = 0;
    if (__atomic_load_n(&t->lock, __ATOMIC_RELAXED) == me) return 0;
    for (n = 0; !(__atomic_load_n(&t->lock, __ATOMIC_RELAXED) == 0 &&
                  __atomic_compare_exchange_n(&t->lock, &z, me, 0, __ATOMIC_ACQUIRE,
                                              __ATOMIC_RELAXED)); n++) {
        z = 0;
        if (n < 64) hk__pause();
        else hk__yield();   /* its holder may be preempted */
    }
    return 1;
}

/* Every thread cache's lock word, for the holder of the word lock (until
 * it lets the word lock go): then no other thread runs in the heap. */
HK_NOSAN void hk__tc_lockall(hk__heap *h, uintptr_t me)
{
    unsigned i;
    if (h->tcheld) return;
    for (i = 0; i < HK_TC_N; i++) hk__tc_grab(&h->tc[i], me);
    h->tcheld = 1;
}

HK_NOSAN void hk__tc_unlockall(hk__heap *h)
{
    unsigned i;
    if (!h->tcheld) return;
    h->tcheld = 0;
    for (i = 0; i < HK_TC_N; i++) __atomic_store_n(&h->tc[i].lock, 0, __ATOMIC_RELEASE);
}

HK_NOSAN void hk__bias_wake(hk__heap *h)
{
    HK_OS.sync_lock(&h->sync);
    HK_OS.sync_wake(&h->sync);
    HK_OS.sync_unlock(&h->sync);
}

HK_NOSAN static void hk__revoke(hk__heap *h)
{
    HK_OS.sync_lock(&h->sync);
    if (!__atomic_load_n(&h->revoked, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&h->revoke, 1, __ATOMIC_SEQ_CST);
        /* After this every thread has fenced: either the owner sees revoke
         * on its next entry/exit, or we see its depth. */
        HK_OS.barrier();
        while (__atomic_load_n(&h->bias_depth, __ATOMIC_ACQUIRE) != 0)
            HK_OS.sync_wait(&h->sync);
        __atomic_store_n(&h->bias_tid, ~(uintptr_t)0, __ATOMIC_RELAXED);
        __atomic_store_n(&h->fast_tid, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&h->revoked, 1, __ATOMIC_RELEASE);
    }
    HK_OS.sync_unlock(&h->sync);
}

/* full: also every thread cache's lock word (hk__tc_lockall); without
 * it (the thread caches' refill and spill) the caller takes what it
 * needs. */
HK_NOSAN static void hk__wlock(hk__heap *h, uintptr_t me, int full)
{
    uintptr_t z;
    int i;
    if (__atomic_load_n(&h->owner, __ATOMIC_RELAXED) == me) {
        h->depth++;
        if (full) hk__tc_lockall(h, me);
        return;
    }
    for (i = 0; i < 256; i++) {
        z = 0;
        if (__atomic_load_n(&h->owner, __ATOMIC_RELAXED) == 0 &&
            __atomic_compare_exchange_n(&h->owner, &z, me, 0, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED)) {
            h->depth = 1;
            if (full) hk__tc_lockall(h, me);
            return;
        }
        hk__pause();
    }
    HK_OS.sync_lock(&h->sync);
    __atomic_add_fetch(&h->waiters, 1, __ATOMIC_SEQ_CST);
    for (;;) {
        z = 0;
        if (__atomic_compare_exchange_n(&h->owner, &z, me, 0, __ATOMIC_SEQ_CST,
                                        __ATOMIC_RELAXED)) break;
        HK_OS.sync_wait(&h->sync);
    }
    __atomic_sub_fetch(&h->waiters, 1, __ATOMIC_SEQ_CST);
    HK_OS.sync_unlock(&h->sync);
    h->depth = 1;
    if (full) hk__tc_lockall(h, me);
}

HK_NOSAN void hk__wunlock(hk__heap *h)
{
    if (--h->depth) return;
    hk__tc_unlockall(h);
    __atomic_exchange_n(&h->owner, 0, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&h->waiters, __ATOMIC_SEQ_CST)) {
        HK_OS.sync_lock(&h->sync);
        HK_OS.sync_wake(&h->sync);
        HK_OS.sync_unlock(&h->sync);
    }
}

HK_NOSAN int hk__enter_slow(hk__heap *h, uintptr_t me)
{
    if (!__atomic_load_n(&h->revoked, __ATOMIC_ACQUIRE)) {
        uintptr_t z = 0;
        if (__atomic_compare_exchange_n(&h->bias_tid, &z, me, 0, __ATOMIC_SEQ_CST,
                                        __ATOMIC_RELAXED) && hk__bias_enter(h))
            return 1;   /* its hk__leave sets fast_tid */
        hk__revoke(h);
    }
    hk__wlock(h, me, 1);
    return 2;
}

/* The word lock alone, on a heap whose bias is revoked. */
HK_NOSAN void hk__enter_light(hk__heap *h, uintptr_t me)
{
    hk__wlock(h, me, 0);
}
