/* platform.c - the few OS primitives the core needs (mutex, thread id). */
#include "internal.h"

/* The recursive lock, the same on every OS: the OS lock is taken once, at
 * depth 0 -> 1, and the owner word says who holds it.  Only the holder ever
 * stores its own key there, so a thread reading its own key knows it holds
 * the lock; any other value (another key, 0) means it does not.  The word
 * is atomic because other threads read it while the holder writes it. */

static uintptr_t hk__owner_of(hk__mutex *m)
{
    return __atomic_load_n(&m->owner, __ATOMIC_RELAXED);
}

#ifdef _WIN32

void hk__mutex_init(hk__mutex *m)
{
    InitializeSRWLock(&m->os);
    m->owner = 0;
    m->depth = 0;
}
void hk__mutex_fini(hk__mutex *m) { (void)m; }   /* an SRW lock owns nothing */
static void hk__os_lock(hk__mutex *m) { AcquireSRWLockExclusive(&m->os); }
static void hk__os_unlock(hk__mutex *m) { ReleaseSRWLockExclusive(&m->os); }
hk__thread_id hk__thread_self(void) { return GetCurrentThreadId(); }
/* Thread ids are never 0 and unique among live threads; reading one is a
 * load from the TEB. */
uintptr_t hk__thread_key(void) { return GetCurrentThreadId(); }
int hk__thread_equal(hk__thread_id a, hk__thread_id b) { return a == b; }

/* An SRW lock needs no run-time initialisation, so the registry can be
 * used from any constructor. */
static SRWLOCK hk__global = SRWLOCK_INIT;
void hk__global_lock(void) { AcquireSRWLockExclusive(&hk__global); }
void hk__global_unlock(void) { ReleaseSRWLockExclusive(&hk__global); }

#else

void hk__mutex_init(hk__mutex *m)
{
    pthread_mutex_init(&m->os, NULL);
    m->owner = 0;
    m->depth = 0;
}
void hk__mutex_fini(hk__mutex *m) { pthread_mutex_destroy(&m->os); }
static void hk__os_lock(hk__mutex *m) { pthread_mutex_lock(&m->os); }
static void hk__os_unlock(hk__mutex *m) { pthread_mutex_unlock(&m->os); }
hk__thread_id hk__thread_self(void) { return pthread_self(); }
/* The thread pointer is the thread's descriptor (what glibc's pthread_self
 * returns), read without a call: it is on every lock.  Elsewhere pthread_t
 * is an integer or a pointer wherever heapkit runs; a struct pthread_t would
 * not compile here, which is the honest answer. */
uintptr_t hk__thread_key(void)
{
#if defined(__GNUC__) && defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))
    return (uintptr_t)__builtin_thread_pointer();
#else
    return (uintptr_t)pthread_self();
#endif
}
int hk__thread_equal(hk__thread_id a, hk__thread_id b) { return pthread_equal(a, b); }

static pthread_mutex_t hk__global = PTHREAD_MUTEX_INITIALIZER;
void hk__global_lock(void) { pthread_mutex_lock(&hk__global); }
void hk__global_unlock(void) { pthread_mutex_unlock(&hk__global); }

#endif

void hk__mutex_lock(hk__mutex *m)
{
    uintptr_t me = hk__thread_key();
    if (hk__owner_of(m) == me) {
        m->depth++;
        return;
    }
    hk__os_lock(m);
    __atomic_store_n(&m->owner, me, __ATOMIC_RELAXED);
    m->depth = 1;
}

/* Caller holds m (the core's own lock/unlock pairs). */
void hk__mutex_unlock(hk__mutex *m)
{
    if (--m->depth == 0) {
        __atomic_store_n(&m->owner, 0, __ATOMIC_RELAXED);
        hk__os_unlock(m);
    }
}

int hk__mutex_unlock_owned(hk__mutex *m)
{
    if (hk__owner_of(m) != hk__thread_key() || m->depth == 0)
        return 0;
    hk__mutex_unlock(m);
    return 1;
}
