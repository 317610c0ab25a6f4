/*
 * preload.c - libheapkit-preload.so: the whole malloc family of a process,
 * recorded by the Heap Debugger (LD_PRELOAD, or `heapkit run`).
 *
 * Built from the library's own sources with -DHK_PRELOAD=1, so the
 * tracker, the report and every hk_* function are the library's; in that
 * build the tracker reaches the real allocator through HK__RT_* (below),
 * never through the names this file takes over.
 *
 *  - The real allocator is glibc's, through its exported __libc_malloc &
 *    co.: no dlsym, so nothing to bootstrap (dlsym itself calls calloc).
 *    HEAPKIT_BACKEND=arena makes an arena heap (the backend's own entry
 *    points: thread-safe, not in the hk heap table, not recorded at that
 *    level) the real allocator; =mimalloc mimalloc's thread-safe default
 *    heap (mi_malloc & co.: the mimalloc backend's hk heaps belong to the
 *    thread that made them, which a process-wide malloc cannot be).
 *    Requests the backend cannot serve (alignment above 16 for the arena,
 *    mimalloc blocks it could not vouch for later) go to glibc; a free
 *    goes to whichever allocator owns the block.
 *  - The tracker starts on the first call (lazily: a constructor of
 *    another library may allocate before ours runs).  While it starts, and
 *    while the calling thread is inside the internal guard
 *    (hk__dbg_internal_enter: the report writer, later symbolization),
 *    calls go straight to the real allocator, unrecorded.
 *  - fork: the tracker's locks are taken around fork() (pthread_atfork),
 *    so the child never inherits a lock held by a thread it lacks; it
 *    keeps the inherited records and writes its own report at its exit
 *    (HEAPKIT_REPORT's %p gives it its own file).
 *  - TLS is initial-exec only (tracker.c): a global-dynamic access can
 *    call malloc.
 */
#ifndef _GNU_SOURCE
#  define _GNU_SOURCE 1
#endif
#include "../debugger/tracker.h"
#include "header.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#ifdef HK_HAVE_MIMALLOC
#  include <mimalloc.h>
#endif

#define HK__PL_API __attribute__((visibility("default")))
#define HK__PL_RET ((uintptr_t)__builtin_return_address(0))

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t c, size_t n);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t align, size_t n);

/* Exported, so that a program with libheapkit linked in statically (or
 * a test) can tell the preload is there: dlsym(RTLD_DEFAULT, ...). */
HK__PL_API const int hk__preload_present = 1;

/* The internal guard, for tests (tests/run/hdrbad.c): 1 enters, 0 leaves. */
HK__PL_API void hk__preload_guard(int enter)
{
    if (enter)
        hk__dbg_internal_enter();
    else
        hk__dbg_internal_leave();
}

/* ---- the real allocator ------------------------------------------------------ */

enum { HK__BE_GLIBC, HK__BE_ARENA, HK__BE_MIMALLOC };
static int hk__be;                       /* HEAPKIT_BACKEND */
static const hk_backend *hk__be_arena;   /* set once the arena heap exists */
static void *hk__be_bh;

/* mimalloc: blocks this large are mapped where mi_is_in_heap_region
 * cannot vouch for them (backends/mimalloc.c), so they come from glibc. */
#define HK__MI_MAX ((size_t)1 << 29)

static int hk__arena_owns(const void *p)
{
    size_t n;
    return hk__be_arena && p && hk__be_arena->size(hk__be_bh, 0, p, &n) == HK_OK;
}

void *hk__rt_malloc(size_t n)
{
    void *p;
#ifdef HK_HAVE_MIMALLOC
    if (hk__be == HK__BE_MIMALLOC && n < HK__MI_MAX)
        return mi_malloc(n);
#endif
    if (hk__be_arena)
        return hk__be_arena->alloc(hk__be_bh, 0, n, &p) == HK_OK ? p : NULL;
    return __libc_malloc(n);
}

void *hk__rt_calloc(size_t c, size_t n)
{
    size_t t;
    void *p;
    if (__builtin_mul_overflow(c, n, &t)) {
        errno = ENOMEM;
        return NULL;
    }
#ifdef HK_HAVE_MIMALLOC
    if (hk__be == HK__BE_MIMALLOC && t < HK__MI_MAX)
        return mi_calloc(c, n);
#endif
    if (hk__be_arena)
        return hk__be_arena->alloc(hk__be_bh, HK_HEAP_ZERO_MEMORY, t, &p) == HK_OK ? p : NULL;
    return __libc_calloc(c, n);
}

void hk__rt_free(void *p)
{
    if (!p)
        return;
#ifdef HK_HAVE_MIMALLOC
    if (hk__be == HK__BE_MIMALLOC && mi_is_in_heap_region(p)) {
        mi_free(p);
        return;
    }
#endif
    if (hk__arena_owns(p)) {
        hk__be_arena->free(hk__be_bh, 0, p);
        return;
    }
    __libc_free(p);
}

static size_t hk__rt_usable(const void *p)
{
    static size_t (*glibc_usable)(void *);
    size_t n;
#ifdef HK_HAVE_MIMALLOC
    if (hk__be == HK__BE_MIMALLOC && mi_is_in_heap_region(p))
        return mi_usable_size(p);
#endif
    if (hk__arena_owns(p) && hk__be_arena->size(hk__be_bh, 0, p, &n) == HK_OK)
        return n;
    if (!glibc_usable) {
        hk__dbg_internal_enter();
        glibc_usable = (size_t (*)(void *))dlsym(RTLD_NEXT, "malloc_usable_size");
        hk__dbg_internal_leave();
    }
    return glibc_usable ? glibc_usable((void *)p) : 0;
}

/* From one allocator to another: a new block, the old contents, the old
 * block freed. */
static void *hk__rt_move(void *p, size_t n)
{
    size_t old = hk__rt_usable(p);
    void *q = hk__rt_malloc(n);
    if (!q)
        return NULL;
    memcpy(q, p, old < n ? old : n);
    hk__rt_free(p);
    return q;
}

void *hk__rt_realloc(void *p, size_t n)
{
    void *q;
    if (!p)
        return hk__rt_malloc(n);
    if (n == 0) {
        hk__rt_free(p);
        return NULL;
    }
#ifdef HK_HAVE_MIMALLOC
    if (hk__be == HK__BE_MIMALLOC) {
        if (mi_is_in_heap_region(p))
            return n < HK__MI_MAX ? mi_realloc(p, n) : hk__rt_move(p, n);
        return n < HK__MI_MAX ? hk__rt_move(p, n) : __libc_realloc(p, n);
    }
#endif
    if (hk__be_arena) {
        if (hk__arena_owns(p))
            return hk__be_arena->realloc(hk__be_bh, 0, p, n, &q) == HK_OK ? q : NULL;
        return hk__rt_move(p, n);
    }
    return __libc_realloc(p, n);
}

void *hk__rt_memalign(size_t align, size_t n)
{
#ifdef HK_HAVE_MIMALLOC
    if (hk__be == HK__BE_MIMALLOC && n < HK__MI_MAX && align < HK__MI_MAX)
        return mi_malloc_aligned(n, align);
#endif
    if (hk__be_arena && align <= 16)
        return hk__rt_malloc(n);
    return __libc_memalign(align, n);    /* the arena's blocks are 16-aligned */
}

/* ---- start ------------------------------------------------------------------------ */

static void hk__pl_fork_prepare(void) { hk__dbg_fork_prepare(); }
static void hk__pl_fork_release(void) { hk__dbg_fork_release(); }

static void hk__pl_say(const char *a, const char *b)
{
    if (write(2, a, strlen(a)) < 0 || write(2, b, strlen(b)) < 0 || write(2, "\n", 1) < 0)
        return;
}

static void hk__pl_backend(void)
{
    const char *v = getenv("HEAPKIT_BACKEND");
    if (!v || !*v || strcasecmp(v, "glibc") == 0)
        return;
    if (strcasecmp(v, "arena") == 0) {
        const hk_backend *be = hk__backend_find("arena");
        void *bh;
        if (be && be->create(0, 0, 0, &bh) == HK_OK) {
            hk__be_bh = bh;
            __atomic_store_n(&hk__be_arena, be, __ATOMIC_RELEASE);
            hk__be = HK__BE_ARENA;
            return;
        }
        hk__pl_say("heapkit: HEAPKIT_BACKEND=arena: the arena heap could not be made; ",
                   "using glibc's malloc");
        return;
    }
    if (strcasecmp(v, "mimalloc") == 0) {
#ifdef HK_HAVE_MIMALLOC
        hk__be = HK__BE_MIMALLOC;
#else
        hk__pl_say("heapkit: HEAPKIT_BACKEND=mimalloc: this build has no mimalloc; ",
                   "using glibc's malloc");
#endif
        return;
    }
    hk__pl_say("heapkit: HEAPKIT_BACKEND: unknown value (glibc, arena or mimalloc): ", v);
    _exit(2);
}

/* 0: not started, 1: starting (one thread), 2: running */
static volatile int hk__pl_state;

static __attribute__((noinline)) int hk__pl_start(void)
{
    int s = 0;
    if (__atomic_compare_exchange_n(&hk__pl_state, &s, 1, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
        hk__dbg_internal_enter();        /* whatever starting allocates */
        hk__pl_backend();
        hk__dbg_start();
        hk__hdr_init(hk__be == HK__BE_GLIBC);   /* HEAPKIT_PRELOAD_MODE */
        pthread_atfork(hk__pl_fork_prepare, hk__pl_fork_release, hk__pl_fork_release);
        hk__dbg_internal_leave();
        __atomic_store_n(&hk__pl_state, 2, __ATOMIC_RELEASE);
        return 1;
    }
    while (__atomic_load_n(&hk__pl_state, __ATOMIC_ACQUIRE) != 2)
        sched_yield();                  /* another thread is starting it */
    return 1;
}

/* 1: this call goes to the real allocator unrecorded (the guard is up,
 * or the tracker is starting on this very thread). */
static inline int hk__pl_off(void)
{
    if (HK_UNLIKELY(hk__dbg_internal_depth() > 0))
        return 1;
    if (HK_UNLIKELY(__atomic_load_n(&hk__pl_state, __ATOMIC_ACQUIRE) != 2))
        hk__pl_start();
    return 0;
}

/* Start before main at the latest (a library initialised before this one
 * may have started it already, by allocating). */
__attribute__((constructor)) static void hk__pl_ctor(void)
{
    (void)hk__pl_off();
    /* HEAPKIT_SNAPSHOT_ON's thread: here, where starting one is safe
     * (never inside the first malloc) */
    hk__dbg_snapshot_triggers();
}


/* A free under the guard of a block that has a record: the record goes
 * too (the address may come back, recorded, later). */
static void hk__pl_free_off(void *p)
{
    hk__rec r;
    if (hk__hdr_mode && hk__hdr_free(p, 0, 0, 0, NULL))
        return;
    if (p && __atomic_load_n(&hk__pl_state, __ATOMIC_ACQUIRE) == 2)
        hk__dbg_take(p, HK__HEAP_MALLOC, &r);
    hk__rt_free(p);
    hk__dbg_freeing_done();
}

/* ---- the C functions ---------------------------------------------------------------- */

/* Under the guard: the real allocator's block, or in header mode one with
 * a header that is never listed (so a free outside the guard knows it). */
static void *hk__pl_raw(size_t n, size_t align, int zero)
{
    if (hk__hdr_mode)
        return hk__hdr_alloc_quiet(n, align, zero);
    if (align)
        return hk__rt_memalign(align, n);
    return zero ? hk__rt_calloc(1, n) : hk__rt_malloc(n);
}

static unsigned hk__pl_fam(unsigned kind)
{
    return (kind & HK__K_NEW) ? HK__FAM_NEW : (kind & HK__K_NEWARR) ? HK__FAM_NEWARR
                                                                     : HK__FAM_MALLOC;
}

static void *hk__pl_alloc(size_t n, size_t align, unsigned kind, uintptr_t caller)
{
    hk__src src = { NULL, NULL, NULL, caller, 0, 0 };
    void *p;
    if (hk__hdr_mode)
        return hk__hdr_alloc(n, align, hk__pl_fam(kind), 0, &src);
    p = align ? hk__rt_memalign(align, n) : hk__rt_malloc(n);
    return hk__dbg_record_kind(p, n, kind, &src);
}

static void hk__pl_free(void *p, unsigned fam, int sized, size_t n, uintptr_t caller)
{
    hk__src src = { NULL, NULL, NULL, caller, 0, 0 };
    if (!p)
        return;
    if (hk__pl_off()) {
        hk__pl_free_off(p);
        return;
    }
    if (hk__hdr_mode && HK_LIKELY(hk__hdr_free(p, fam, sized, n, &src)))
        return;
    hk__dbg_free_fam(p, fam, sized, n, &src);
}

static int hk__pow2(size_t a) { return a && !(a & (a - 1)); }

HK__PL_API void *malloc(size_t n)
{
    if (HK_LIKELY(hk__hdr_mode))
        return hk__dbg_hdr_malloc(n, HK__FAM_MALLOC, HK__PL_RET);
    if (hk__pl_off())
        return hk__pl_raw(n, 0, 0);
    return hk__pl_alloc(n, 0, 0, HK__PL_RET);
}

HK__PL_API void free(void *p)
{
#ifdef HK__HDR_PROBE
    /* header mode's common case: a malloc block with a valid header, taken
     * here (inside the guard too); anything else the full way */
    uint64_t w[2];
    if (HK_LIKELY(hk__hdr_mode) && HK_LIKELY(hk__h_check(p, w))
        && HK_LIKELY((HK__A0_KIND(w[0]) & 3u) == HK__FAM_MALLOC)
        && HK_LIKELY(hk__h_claim(p, w[1]))) {
        __libc_free((char *)p - HK__A0_OFF(w[0]));
        return;
    }
#endif
    hk__pl_free(p, HK__FAM_MALLOC, 0, 0, HK__PL_RET);
}

HK__PL_API void *calloc(size_t c, size_t n)
{
    hk__src src = { NULL, NULL, NULL, HK__PL_RET, 0, 0 };
    size_t t;
    if (__builtin_mul_overflow(c, n, &t)) {
        errno = ENOMEM;
        return NULL;
    }
    if (hk__pl_off())
        return hk__pl_raw(t, 0, 1);
    if (hk__hdr_mode)
        return hk__hdr_alloc(t, 0, HK__FAM_MALLOC, 1, &src);
    return hk__dbg_record_kind(hk__rt_calloc(c, n), c * n, 0, &src);
}

static void *hk__pl_realloc(void *p, size_t n, uintptr_t caller)
{
    hk__src src = { NULL, NULL, NULL, caller, 0, 0 };
    void *q;
    if (hk__pl_off()) {
        if (hk__hdr_mode) {
            if (!p)
                return hk__pl_raw(n, 0, 0);
            if (hk__hdr_realloc(p, n, NULL, &q))
                return q;
        }
        if (p && __atomic_load_n(&hk__pl_state, __ATOMIC_ACQUIRE) == 2) {
            hk__rec r;
            void *q;
            hk__dbg_take(p, HK__HEAP_MALLOC, &r);
            q = hk__rt_realloc(p, n);
            hk__dbg_freeing_done();
            return q;
        }
        return hk__rt_realloc(p, n);
    }
    if (hk__hdr_mode) {
        if (!p)
            return hk__hdr_alloc(n, 0, HK__FAM_MALLOC, 0, &src);
        if (HK_LIKELY(hk__hdr_realloc(p, n, &src, &q)))
            return q;
    }
    return hk__dbg_realloc_src(p, n, &src);
}

HK__PL_API void *realloc(void *p, size_t n)
{
    return hk__pl_realloc(p, n, HK__PL_RET);
}

HK__PL_API void *reallocarray(void *p, size_t c, size_t n)
{
    size_t t;
    if (__builtin_mul_overflow(c, n, &t)) {
        errno = ENOMEM;
        return NULL;
    }
    return hk__pl_realloc(p, t, HK__PL_RET);
}

HK__PL_API int posix_memalign(void **out, size_t align, size_t n)
{
    void *p;
    if (!hk__pow2(align) || align % sizeof(void *) != 0)
        return EINVAL;
    if (hk__pl_off())
        p = hk__pl_raw(n, align, 0);
    else
        p = hk__pl_alloc(n, align, 0, HK__PL_RET);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

HK__PL_API void *aligned_alloc(size_t align, size_t n)
{
    if (!hk__pow2(align)) {
        errno = EINVAL;
        return NULL;
    }
    if (hk__pl_off())
        return hk__pl_raw(n, align, 0);
    return hk__pl_alloc(n, align, 0, HK__PL_RET);
}

HK__PL_API void *memalign(size_t align, size_t n)
{
    /* glibc: a non-power of two is rounded up to one */
    while (!hk__pow2(align))
        align = align ? (align | (align - 1)) + 1 : 1;
    if (hk__pl_off())
        return hk__pl_raw(n, align, 0);
    return hk__pl_alloc(n, align, 0, HK__PL_RET);
}

HK__PL_API void *valloc(size_t n)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    if (hk__pl_off())
        return hk__pl_raw(n, pg, 0);
    return hk__pl_alloc(n, pg, 0, HK__PL_RET);
}

HK__PL_API void *pvalloc(size_t n)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), r;
    if (__builtin_add_overflow(n, pg - 1, &r)) {
        errno = ENOMEM;
        return NULL;
    }
    r &= ~(pg - 1);
    if (r == 0)
        r = pg;
    if (hk__pl_off())
        return hk__pl_raw(r, pg, 0);
    return hk__pl_alloc(r, pg, 0, HK__PL_RET);
}

/* A recorded block: the size it was asked for (all the program may use);
 * else what the allocator says. */
HK__PL_API size_t malloc_usable_size(void *p)
{
    hk__rec r;
    size_t u;
    if (!p)
        return 0;
    if (hk__hdr_mode && hk__hdr_usable(p, &u))
        return u;
    if (!hk__pl_off() && hk__dbg_peek(p, HK__HEAP_MALLOC, &r) == 1)
        return HK__REC_SIZE(&r);
    return hk__rt_usable(p);
}

/* C23 */
HK__PL_API void free_sized(void *p, size_t n)
{
    hk__pl_free(p, HK__FAM_MALLOC, 1, n, HK__PL_RET);
}

HK__PL_API void free_aligned_sized(void *p, size_t align, size_t n)
{
    (void)align;
    hk__pl_free(p, HK__FAM_MALLOC, 1, n, HK__PL_RET);
}

/* ---- C++: operator new / delete, by their mangled names -------------------------------- */

/* The standard's loop: the new_handler until it is gone, then
 * std::bad_alloc.  Both come from libstdc++, which a program calling
 * operator new has loaded; looked up only when memory ran out. */
static void *hk__pl_new(size_t n, size_t align, unsigned kind, int nothrow, uintptr_t caller)
{
    for (;;) {
        void *p;
        void (*handler)(void) = NULL;
        void (*(*get)(void))(void);
        void (*thrower)(void);
        if (HK_LIKELY(hk__hdr_mode) && !align)
            p = hk__dbg_hdr_malloc(n ? n : 1, hk__pl_fam(kind), caller);
        else if (hk__pl_off())
            p = hk__pl_raw(n ? n : 1, align, 0);
        else
            p = hk__pl_alloc(n ? n : 1, align, kind, caller);
        if (HK_LIKELY(p != NULL))
            return p;
        hk__dbg_internal_enter();
        get = (void (*(*)(void))(void))dlsym(RTLD_DEFAULT, "_ZSt15get_new_handlerv");
        thrower = (void (*)(void))dlsym(RTLD_DEFAULT, "_ZSt17__throw_bad_allocv");
        hk__dbg_internal_leave();
        if (get)
            handler = get();
        if (handler) {
            handler();                  /* may throw, or free memory */
            continue;
        }
        if (nothrow)
            return NULL;
        if (thrower)
            thrower();
        hk__pl_say("heapkit: operator new: out of memory and no std::bad_alloc to throw ",
                   "(libstdc++ not loaded); aborting");
        abort();
    }
}

#define HK__NEW(name, params, n, align, kind, nothrow) \
    HK__PL_API void *name params { return hk__pl_new((n), (align), (kind), (nothrow), HK__PL_RET); }
#define HK__DEL(name, params, p, fam, sized, n) \
    HK__PL_API void name params { hk__pl_free((p), (fam), (sized), (n), HK__PL_RET); }

/* std::nothrow_t const& and std::align_val_t, as C sees them */
typedef struct hk__nothrow hk__nothrow;

HK__NEW(_Znwm, (size_t n), n, 0, HK__K_NEW, 0)
HK__NEW(_Znam, (size_t n), n, 0, HK__K_NEWARR, 0)
HK__NEW(_ZnwmRKSt9nothrow_t, (size_t n, const hk__nothrow *t), n, 0, HK__K_NEW, ((void)t, 1))
HK__NEW(_ZnamRKSt9nothrow_t, (size_t n, const hk__nothrow *t), n, 0, HK__K_NEWARR, ((void)t, 1))
HK__NEW(_ZnwmSt11align_val_t, (size_t n, size_t a), n, a, HK__K_NEW, 0)
HK__NEW(_ZnamSt11align_val_t, (size_t n, size_t a), n, a, HK__K_NEWARR, 0)
HK__NEW(_ZnwmSt11align_val_tRKSt9nothrow_t, (size_t n, size_t a, const hk__nothrow *t),
        n, a, HK__K_NEW, ((void)t, 1))
HK__NEW(_ZnamSt11align_val_tRKSt9nothrow_t, (size_t n, size_t a, const hk__nothrow *t),
        n, a, HK__K_NEWARR, ((void)t, 1))

HK__DEL(_ZdlPv, (void *p), p, HK__FAM_NEW, 0, 0)
HK__DEL(_ZdaPv, (void *p), p, HK__FAM_NEWARR, 0, 0)
HK__DEL(_ZdlPvm, (void *p, size_t n), p, HK__FAM_NEW, 1, n)
HK__DEL(_ZdaPvm, (void *p, size_t n), p, HK__FAM_NEWARR, 1, n)
HK__DEL(_ZdlPvRKSt9nothrow_t, (void *p, const hk__nothrow *t), p, HK__FAM_NEW, ((void)t, 0), 0)
HK__DEL(_ZdaPvRKSt9nothrow_t, (void *p, const hk__nothrow *t), p, HK__FAM_NEWARR, ((void)t, 0), 0)
HK__DEL(_ZdlPvSt11align_val_t, (void *p, size_t a), p, HK__FAM_NEW, ((void)a, 0), 0)
HK__DEL(_ZdaPvSt11align_val_t, (void *p, size_t a), p, HK__FAM_NEWARR, ((void)a, 0), 0)
HK__DEL(_ZdlPvmSt11align_val_t, (void *p, size_t n, size_t a), p, HK__FAM_NEW, ((void)a, 1), n)
HK__DEL(_ZdaPvmSt11align_val_t, (void *p, size_t n, size_t a), p, HK__FAM_NEWARR, ((void)a, 1), n)
HK__DEL(_ZdlPvSt11align_val_tRKSt9nothrow_t, (void *p, size_t a, const hk__nothrow *t), p,
        HK__FAM_NEW, ((void)a, (void)t, 0), 0)
HK__DEL(_ZdaPvSt11align_val_tRKSt9nothrow_t, (void *p, size_t a, const hk__nothrow *t), p,
        HK__FAM_NEWARR, ((void)a, (void)t, 0), 0)
