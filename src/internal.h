/* internal.h - what the core's files share; nothing here is public. */
#ifndef HK_INTERNAL_H
#define HK_INTERNAL_H

#ifdef HAVE_CONFIG_H
#  include "config.h"     /* HK_HAVE_* from configure */
#endif
/* A copy of heapkit linked into an unloadable DLL must leave mimalloc out:
 * mimalloc 2.0.9 linked statically into a DLL corrupts the process heap
 * when that DLL is unloaded (tests/dbgdll.c). */
#ifdef HK_NO_MIMALLOC
#  undef HK_HAVE_MIMALLOC
#endif
/* On POSIX libheapkit.a never has the mimalloc backend, so that a static
 * link never needs (Debian's malloc-overriding) libmimalloc: libtool
 * compiles only the shared library's objects with -DPIC (configure.ac). */
#if defined(HK_BUILDING) && !defined(_WIN32) && !defined(PIC)
#  undef HK_HAVE_MIMALLOC
#endif

#include "heapkit.h"
#include "heapkit/backend.h"

#include <stddef.h>
#include <stdint.h>

#ifdef _WIN32
#  ifndef WIN32_LEAN_AND_MEAN
#    define WIN32_LEAN_AND_MEAN
#  endif
#  include <windows.h>
typedef DWORD hk__thread_id;
#else
#  include <pthread.h>
typedef pthread_t hk__thread_id;
#endif

/* A recursive lock that knows its holder: a plain OS lock plus an owner and
 * a depth of its own, so "does this thread hold it?" is a question answered
 * by the lock and never an unlock attempted to see whether it fails. */
typedef struct hk__mutex {
#ifdef _WIN32
    SRWLOCK os;
#else
    pthread_mutex_t os;
#endif
    uintptr_t owner;            /* hk__thread_key() of the holder, 0: free (atomic) */
    unsigned depth;             /* read and written by the holder only */
} hk__mutex;

#if defined(__GNUC__)
#  define HK_LIKELY(x)   __builtin_expect(!!(x), 1)
#  define HK_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#  define HK_LIKELY(x)   (x)
#  define HK_UNLIKELY(x) (x)
#endif

void hk__mutex_init(hk__mutex *m);
void hk__mutex_fini(hk__mutex *m);
void hk__mutex_lock(hk__mutex *m);
void hk__mutex_unlock(hk__mutex *m);
int hk__mutex_unlock_owned(hk__mutex *m); /* 0 if not held by caller */
uintptr_t hk__thread_key(void);          /* non-zero, unique among live threads */
hk__thread_id hk__thread_self(void);
int hk__thread_equal(hk__thread_id a, hk__thread_id b);

/* The process-wide registry lock (heap table, backend table). */
void hk__global_lock(void);
void hk__global_unlock(void);

/* A snapshot of a walk, for backends that can only visit (core fallback). */
struct hk__snapshot {
    hk_heap_entry *entries;
    size_t count, cap;
    uintptr_t id;
    int failed;                 /* ran out of memory while taking it */
};

#define HK__HEAP_PROCESS 0x1u   /* the process heap: never destroyed      */
#define HK__HEAP_FOREIGN 0x2u   /* an OS heap heapkit did not create      */

/* What hk_alloc/hk_free jump to once the handle and the flags pass: the
 * backend's fast entry, or the core's full path (hk__heap_fast_set). */
typedef void *(*hk__fast_alloc_fn)(hk_heap *h, unsigned flags, size_t n, void *bh);
typedef int (*hk__fast_free_fn)(hk_heap *h, unsigned flags, void *p, void *bh);

struct hk_heap {
    /* First, and never zero in a slot that was ever handed out: a stale
     * handle jumps to the full path, which refuses it. */
    hk__fast_alloc_fn fa;
    hk__fast_free_fn ff;
    uint32_t magic;             /* HK__MAGIC while the slot is live       */
    uint32_t kind;              /* HK__HEAP_* bits                        */
    unsigned flags;             /* creation flags, merged into each call  */
    unsigned disp;              /* HK__D_*: the dispatch facts, one word  */
    const hk_backend *be;
    void *bh;                   /* the backend's heap                     */
    uint64_t seq;               /* creation order, for enumeration        */
    hk__thread_id owner;        /* creator, for !HK_CAP_ANY_THREAD        */
    struct hk__snapshot *snap;  /* walk snapshot (visit-only backends)    */
    hk__mutex mutex;            /* used only when be->lock is NULL        */
};

#define HK__MAGIC 0x48654b74u   /* "HeKt" */
#define HK__SLOT_SIZE 128
#define HK__MAX_HEAPS 16384

/* The dispatch word: everything hk_realloc/hk_size must know before
 * calling the backend, precomputed, so that the fast path tests one word
 * (hk_alloc/hk_free go further: fa/ff above are chosen from it).  A live
 * slot has HK__D_LIVE plus the heap's own HK_HEAP_NO_SERIALIZE (passed on
 * to the backend); any other bit sends the call down the slow path.  A
 * dead or unused slot's word is 0. */
#define HK__D_LIVE   0x40000000u  /* the slot is a live heap               */
#define HK__D_LOCK   0x01000000u  /* the core serializes (no backend lock) */
#define HK__D_OWNER  0x02000000u  /* only the creator thread may allocate  */
#define HK__D_DEBUG  0x04000000u  /* the Heap Debugger records calls       */

/* heap.c */
hk_heap *hk__heap_check(hk_heap *h);   /* h if live, else NULL */
void hk__heaps_debug_on(void);         /* the debugger started: every heap */
void hk__call_lock(hk_heap *h, unsigned flags);
void hk__call_unlock(hk_heap *h, unsigned flags);

/* error.c */
void hk__set_error(int err);
void hk__raise_no_memory(size_t n);

/* backends.c */
const hk_backend *hk__backend_find(const char *name);
const hk_backend *hk__backend_default(void);
size_t hk__backend_list(const hk_backend **out, size_t n);

/* walk.c */
void hk__snapshot_free(hk_heap *h);

/* src/debugger/config.c: settings from the environment.  The error is one
 * line on stderr: heapkit: VAR="value" is not ACCEPTED; using the default, DFLT */
int hk__cfg_streq(const char *a, const char *b);
void hk__cfg_error(const char *var, const char *value, const char *accepted,
                   const char *dflt);

#endif
