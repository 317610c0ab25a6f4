/* platform.c - the few OS primitives the core needs (mutex, thread id). */
#include "internal.h"

#ifdef _WIN32

void hk__mutex_init(hk__mutex *m) { InitializeCriticalSection(m); }
void hk__mutex_fini(hk__mutex *m) { DeleteCriticalSection(m); }
void hk__mutex_lock(hk__mutex *m) { EnterCriticalSection(m); }
void hk__mutex_unlock(hk__mutex *m) { LeaveCriticalSection(m); }
int hk__mutex_unlock_owned(hk__mutex *m)
{
    /* Leaving a critical section one does not own corrupts it: ask first. */
    if ((DWORD)(uintptr_t)m->OwningThread != GetCurrentThreadId())
        return 0;
    LeaveCriticalSection(m);
    return 1;
}
hk__thread_id hk__thread_self(void) { return GetCurrentThreadId(); }
int hk__thread_equal(hk__thread_id a, hk__thread_id b) { return a == b; }

/* An SRW lock needs no run-time initialisation, so the registry can be
 * used from any constructor. */
static SRWLOCK hk__global = SRWLOCK_INIT;
void hk__global_lock(void) { AcquireSRWLockExclusive(&hk__global); }
void hk__global_unlock(void) { ReleaseSRWLockExclusive(&hk__global); }

#else

void hk__mutex_init(hk__mutex *m)
{
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
}
void hk__mutex_fini(hk__mutex *m) { pthread_mutex_destroy(m); }
void hk__mutex_lock(hk__mutex *m) { pthread_mutex_lock(m); }
void hk__mutex_unlock(hk__mutex *m) { pthread_mutex_unlock(m); }
/* A recursive mutex refuses (EPERM) an unlock by a thread that does not
 * hold it, so the answer comes for free. */
int hk__mutex_unlock_owned(hk__mutex *m) { return pthread_mutex_unlock(m) == 0; }
hk__thread_id hk__thread_self(void) { return pthread_self(); }
int hk__thread_equal(hk__thread_id a, hk__thread_id b) { return pthread_equal(a, b); }

static pthread_mutex_t hk__global = PTHREAD_MUTEX_INITIALIZER;
void hk__global_lock(void) { pthread_mutex_lock(&hk__global); }
void hk__global_unlock(void) { pthread_mutex_unlock(&hk__global); }

#endif
