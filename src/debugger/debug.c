/*
 * debug.c - the Heap Debugger's entry points: the functions behind
 * heapkit/debug.h's macros (the C runtime's allocator, recorded), and the
 * hooks the core calls for hk heaps.
 *
 * A free the tracker cannot match is reported (FM) and NOT passed on: the
 * pointer is not a block the tracker knows, and handing it to the C
 * runtime could crash the program (a double free) or corrupt its heap.
 * Once the tracker's own memory ran out, though, a live block may simply
 * have no record: then a free or realloc of a pointer the C runtime
 * vouches for (vouch.c) is passed on, silently, since it cannot be told
 * from a block that was never recorded; what it does not vouch for is
 * still FM and kept, and so is an address freed since then and not handed
 * out again (a double free, whatever the allocator's memory says).
 */
#include "tracker.h"
#ifdef HK_PRELOAD
#  include "../preload/header.h"
#endif

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#  include <malloc.h>
#else
#  include <sched.h>
#endif

#define HK__RET ((uintptr_t)__builtin_return_address(0))
#define HK__SRC(name, type) \
    hk__src name = { file, func, type, HK__RET, line, 0 }

/* ---- the C runtime's allocator ------------------------------------------- */

static void hk__real_free(void *p, unsigned kind)
{
    if (HK_UNLIKELY(hk__dbg_lost))
        hk__dbg_freed_note(p);       /* before: once freed, p may be reused */
#ifdef _WIN32
    if (kind & HK__K_ALIGNED) {
        _aligned_free(p);
        return;
    }
#else
    (void)kind;
#endif
    HK__RT_FREE(p);
    hk__dbg_freeing_done();
}

static void *hk__record(void *p, size_t n, unsigned kind, const hk__src *src)
{
    if (p) {
        if (HK_UNLIKELY(hk__dbg_lost))
            hk__dbg_freed_forget(p);
        hk__dbg_add(p, n, HK__HEAP_MALLOC, kind, src);
    }
    return p;
}

/* realloc, keeping the tracker's list of freed addresses right */
static void *hk__real_realloc(void *p, size_t n)
{
    void *q;
    hk__dbg_freed_note(p);
    q = HK__RT_REALLOC(p, n);
    hk__dbg_freeing_done();
    if (q)
        hk__dbg_freed_forget(q);
    else if (n != 0)
        hk__dbg_freed_forget(p);     /* failed: p is still live */
    return q;
}

/* hk_dbg_malloc is in tracker.c (its common case); the rest is here. */
void *hk__dbg_malloc_record(void *p, size_t n, const char *file, int line, const char *func,
                            uintptr_t caller)
{
    hk__src src = { file, func, NULL, caller, line, 0 };
    return hk__record(p, n, 0, &src);
}

void *hk_dbg_calloc(size_t count, size_t n, HK_DBG_SITE)
{
    HK__SRC(src, NULL);
    hk__dbg_start();
    if (HK__FWD(calloc))
        return hk__dbg_fwd->calloc(count, n, file, line, func);
#ifdef HK_PRELOAD
    if (hk__hdr_mode) {
        size_t t;
        if (__builtin_mul_overflow(count, n, &t)) {
            errno = ENOMEM;
            return NULL;
        }
        return hk__hdr_alloc(t, 0, HK__FAM_MALLOC, 1, &src);
    }
#endif
    /* calloc checks the product; once it succeeded the product fits */
    return hk__record(HK__RT_CALLOC(count, n), count * n, 0, &src);
}

/* No record of p, but a live block of the C runtime's when it vouches for
 * it: memory the macros never saw (libc's getline or strdup, a library's
 * block, a block whose record was lost to the tracker's OOM), which the
 * program may free.  Passed on, not FM: heapkit must not turn a correct
 * free into a leak.  Under the preload every block is seen, so there only
 * the tracker's own untracked memory and lost records get here.  An
 * address freed since records were lost is a double free, whatever the
 * allocator's memory says. */
static int hk__unrecorded_block(const void *p)
{
#ifdef _WIN32
    /* Wine's HeapValidate passes a block msvcrt has just freed, so a double
     * free would go through: on Windows only after records were lost (the
     * CRT hooks of issue 12 will see every block instead) */
    if (!hk__dbg_records_lost())
        return 0;
#endif
    /* a thread freeing p this moment (its record taken, the C runtime's
     * free not run yet): p is its block, and this free a double one */
    if (hk__dbg_freed_recently(p) || hk__dbg_being_freed(p) || !hk__rt_vouches(p))
        return 0;
    /* Belt and braces: let any such free finish, then ask again (a freed
     * block is not vouched for). */
#ifdef _WIN32
    SwitchToThread();
#else
    sched_yield();
#endif
    return !hk__dbg_freed_recently(p) && !hk__dbg_being_freed(p) && hk__rt_vouches(p);
}

/* missed: hk_dbg_free's fast path did not find p in the thread's table;
 * fam: the freeing function's family (HK__FAM_*), checked against the
 * block's. */
static void hk__free_fam_at(void *p, unsigned fam, int sized, size_t declared,
                            const hk__src *src, int missed)
{
    hk__rec r;
    int found;
    if (!p)
        return;
    HK__DBG_START();
#ifdef HK_PRELOAD
    /* header mode: a block of the preload's malloc freed by a macro */
    if (hk__hdr_mode && hk__hdr_free(p, fam, sized, declared, src))
        return;
#endif
    found = missed ? hk__dbg_take_elsewhere(p, HK__HEAP_MALLOC, &r)
                   : hk__dbg_take(p, HK__HEAP_MALLOC, &r);
    if (HK_UNLIKELY(found != 1)) {
        if (found == 0 && hk__unrecorded_block(p)) {
            hk__real_free(p, 0);
            return;
        }
        hk__dbg_unknown_free(p, HK__HEAP_MALLOC, src);
        return;
    }
    if (HK_UNLIKELY(HK__REC_FAM(&r) != fam))
        hk__dbg_wrong_family(&r, fam, src);
    else if (sized && declared != HK__REC_SIZE(&r))
        hk__dbg_wrong_size(&r, declared, src);
    hk__real_free(p, HK__REC_KIND(&r));
}

static void hk__free_at(void *p, int sized, size_t declared, const hk__src *src, int missed)
{
    hk__free_fam_at(p, HK__FAM_MALLOC, sized, declared, src, missed);
}

void hk__dbg_free_fam(void *p, unsigned fam, int sized, size_t declared, const hk__src *src)
{
    hk__free_fam_at(p, fam, sized, declared, src, 0);
}

void *hk__dbg_record_kind(void *p, size_t n, unsigned kind, const hk__src *src)
{
    return hk__record(p, n, kind, src);
}

/* hk_dbg_free is in tracker.c (its common case); the rest is here. */
void hk__dbg_free_rest(void *p, const hk__rec *taken, const char *file, int line,
                       const char *func, uintptr_t caller)
{
    hk__src src = { file, func, NULL, caller, line, 0 };
    HK__DBG_START();                 /* a free first: learn to forward */
    if (HK__FWD(free) && !taken) {
        hk__dbg_fwd->free(p, file, line, func);
        return;
    }
    if (taken)
        hk__real_free(p, HK__REC_KIND(taken));
    else
        hk__free_at(p, 0, 0, &src, 1);
}

void hk_dbg_free_sized(void *p, size_t n, HK_DBG_SITE)
{
    HK__SRC(src, NULL);
    hk__dbg_start();
    if (HK__FWD(free_sized)) {
        hk__dbg_fwd->free_sized(p, n, file, line, func);
        return;
    }
    hk__free_at(p, 1, n, &src, 0);
}

void hk_free_sized(void *p, size_t n)
{
    hk__src src = { NULL, NULL, NULL, HK__RET, 0, 0 };
    hk__dbg_start();
    if (HK__FWD(free_sized)) {
        hk__dbg_fwd->free_sized(p, n, NULL, 0, NULL);
        return;
    }
    hk__free_at(p, 1, n, &src, 0);
}

void hk_dbg_delete(void *p, size_t n, HK_DBG_SITE)
{
    HK__SRC(src, NULL);
    hk__dbg_start();
    if (HK__FWD(delete_)) {
        hk__dbg_fwd->delete_(p, n, file, line, func);
        return;
    }
    hk__free_at(p, 1, n, &src, 0);
}

void hk_dbg_aligned_free(void *p, HK_DBG_SITE)
{
    HK__SRC(src, NULL);
    hk__dbg_start();
    if (HK__FWD(aligned_free)) {
        hk__dbg_fwd->aligned_free(p, file, line, func);
        return;
    }
    hk__free_at(p, 0, 0, &src, 0);      /* the record knows how to free it */
}

#ifdef _WIN32
/* Windows has no aligned_alloc: _aligned_malloc, freed by _aligned_free. */
static void *hk__aligned(size_t align, size_t n)
{
    return _aligned_malloc(n ? n : 1, align);
}
#define HK__ALIGNED_KIND HK__K_ALIGNED
#else
static void *hk__aligned(size_t align, size_t n)
{
    void *p = NULL;
    if (align < sizeof(void *))
        align = sizeof(void *);
#ifdef HK_PRELOAD
    (void)p;
    return hk__rt_memalign(align, n);
#else
    return posix_memalign(&p, align, n) == 0 ? p : NULL;
#endif
}
#define HK__ALIGNED_KIND 0u
#endif

static int hk__pow2(size_t a) { return a && !(a & (a - 1)); }

void *hk_dbg_realloc(void *p, size_t n, HK_DBG_SITE)
{
    HK__SRC(src, NULL);
    hk__dbg_start();
    if (HK__FWD(realloc))
        return hk__dbg_fwd->realloc(p, n, file, line, func);
    return hk__dbg_realloc_src(p, n, &src);
}

void *hk__dbg_realloc_src(void *p, size_t n, const hk__src *srcp)
{
    hk__src src = *srcp;
    hk__rec r;
    void *q;
    int found;
    hk__dbg_start();
    if (!p)
        return hk__record(HK__RT_MALLOC(n), n, 0, &src);
#ifdef HK_PRELOAD
    if (hk__hdr_mode && hk__hdr_realloc(p, n, &src, &q))
        return q;
#endif
    if ((found = hk__dbg_peek(p, HK__HEAP_MALLOC, &r)) != 1) {
        if (found == 0 && hk__unrecorded_block(p)) {
            /* a live block the tracker never saw or could not record:
             * realloc it (never NULL for a valid block), record the result */
            q = hk__real_realloc(p, n);
            if (q)
                hk__dbg_adopt(q, n, HK__HEAP_MALLOC, &src);
            return q;
        }
        hk__dbg_unknown_free(p, HK__HEAP_MALLOC, &src);
        return NULL;                  /* not ours: never handed on */
    }
#ifdef _WIN32
    if (HK__REC_KIND(&r) & HK__K_ALIGNED) {
        /* keep the block's alignment: the largest power of two of its address */
        size_t align = (size_t)((uintptr_t)p & (~(uintptr_t)p + 1)), old = HK__REC_SIZE(&r);
        if (align > 4096)
            align = 4096;
        q = n ? hk__aligned(align, n) : NULL;
        if (n && !q)
            return NULL;
        if (q) {
            memcpy(q, p, old < n ? old : n);
            hk__dbg_freed_forget(q);
        }
        hk__dbg_take(p, HK__HEAP_MALLOC, &r);
        hk__real_free(p, HK__K_ALIGNED);
        if (q)
            hk__dbg_readd(&r, q, n, &src);
        return q;
    }
#endif
    /* The record leaves before realloc runs (after it, p is not to be
     * touched, even as a key) and comes back if realloc fails. */
    hk__dbg_take(p, HK__HEAP_MALLOC, &r);
    q = hk__real_realloc(p, n);
    if (!q) {
        if (n != 0)                   /* failed: the block is still there */
            hk__dbg_put_back(&r);
        return NULL;                  /* n == 0: the C runtime freed it */
    }
    hk__dbg_readd(&r, q, n, &src);
    return q;
}

char *hk_dbg_strdup(const char *s, HK_DBG_SITE)
{
    HK__SRC(src, NULL);
    size_t n;
    char *p;
    hk__dbg_start();
    if (HK__FWD(strdup))
        return hk__dbg_fwd->strdup(s, file, line, func);
    if (!s)
        return NULL;
    n = strlen(s) + 1;
    p = HK__RT_MALLOC(n);
    if (p)
        memcpy(p, s, n);
    return hk__record(p, n, 0, &src);
}

char *hk_dbg_strndup(const char *s, size_t max, HK_DBG_SITE)
{
    HK__SRC(src, NULL);
    size_t n = 0;
    char *p;
    hk__dbg_start();
    if (HK__FWD(strndup))
        return hk__dbg_fwd->strndup(s, max, file, line, func);
    if (!s)
        return NULL;
    while (n < max && s[n])
        n++;
    p = HK__RT_MALLOC(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return hk__record(p, n + 1, 0, &src);
}

void *hk_dbg_aligned_alloc(size_t align, size_t n, HK_DBG_SITE)
{
    HK__SRC(src, NULL);
    hk__dbg_start();
    if (HK__FWD(aligned_alloc))
        return hk__dbg_fwd->aligned_alloc(align, n, file, line, func);
    if (!hk__pow2(align)) {
        errno = EINVAL;
        return NULL;
    }
    return hk__record(hk__aligned(align, n), n, HK__ALIGNED_KIND, &src);
}

int hk_dbg_posix_memalign(void **out, size_t align, size_t n, HK_DBG_SITE)
{
    HK__SRC(src, NULL);
    void *p;
    hk__dbg_start();
    if (HK__FWD(posix_memalign))
        return hk__dbg_fwd->posix_memalign(out, align, n, file, line, func);
    if (!out || !hk__pow2(align) || align % sizeof(void *) != 0)
        return EINVAL;
    p = hk__aligned(align, n);
    if (!p)
        return ENOMEM;
    *out = hk__record(p, n, HK__ALIGNED_KIND, &src);
    return 0;
}

void *hk_dbg_new(size_t n, const char *type, HK_DBG_SITE)
{
    HK__SRC(src, type);
    hk__dbg_start();
    if (HK__FWD(new_))
        return hk__dbg_fwd->new_(n, type, file, line, func);
    return hk__record(HK__RT_CALLOC(1, n ? n : 1), n, HK__K_OBJECT, &src);
}

/* ---- hk heaps ------------------------------------------------------------- */

void *hk_dbg_alloc(hk_heap *h, unsigned flags, size_t n, HK_DBG_SITE)
{
    HK__SRC(src, NULL);
    hk__dbg_start();
    return hk__alloc_src(h, flags, n, &src);
}

void *hk_dbg_heap_realloc(hk_heap *h, unsigned flags, void *p, size_t n, HK_DBG_SITE)
{
    HK__SRC(src, NULL);
    hk__dbg_start();
    return hk__realloc_src(h, flags, p, n, &src);
}

int hk_dbg_heap_free(hk_heap *h, unsigned flags, void *p, HK_DBG_SITE)
{
    HK__SRC(src, NULL);
    hk__dbg_start();
    return hk__free_src(h, flags, p, &src);
}

/* ---- Win32 heaps (the HeapAlloc, HeapReAlloc, HeapFree macros) ----------- */

#ifndef _WIN32
/* heapkit/win32.h's heaps are hk heaps */
void *hk_dbg_win_heap_alloc(void *heap, unsigned flags, size_t n, HK_DBG_SITE)
{
    HK__SRC(src, NULL);
    hk__dbg_start();
    return hk__alloc_src((hk_heap *)heap, flags, n, &src);
}

void *hk_dbg_win_heap_realloc(void *heap, unsigned flags, void *p, size_t n, HK_DBG_SITE)
{
    HK__SRC(src, NULL);
    hk__dbg_start();
    return hk__realloc_src((hk_heap *)heap, flags, p, n, &src);
}

int hk_dbg_win_heap_free(void *heap, unsigned flags, void *p, HK_DBG_SITE)
{
    HK__SRC(src, NULL);
    hk__dbg_start();
    return hk__free_src((hk_heap *)heap, flags, p, &src);
}
#else
/* kernel32's heaps, each under its own id, so that a block freed on
 * another heap than its own is told (FM).  Heaps are few: a short table,
 * filled in order; past it they share the last id. */
static HANDLE hk__w32_heaps[HK__W32_HEAPS];
static volatile LONG hk__w32_nheaps, hk__w32_lock;

static unsigned hk__w32_heap_id(HANDLE h)
{
    LONG i, n = __atomic_load_n(&hk__w32_nheaps, __ATOMIC_ACQUIRE);
    for (i = 0; i < n; i++)
        if (__atomic_load_n(&hk__w32_heaps[i], __ATOMIC_RELAXED) == h)
            return HK__W32_HEAP_ID0 + (unsigned)i;
    while (InterlockedExchange(&hk__w32_lock, 1))
        SwitchToThread();
    n = hk__w32_nheaps;
    for (i = 0; i < n && hk__w32_heaps[i] != h; i++)
        ;
    if (i == n && n < (LONG)HK__W32_HEAPS) {
        __atomic_store_n(&hk__w32_heaps[n], h, __ATOMIC_RELAXED);
        __atomic_store_n(&hk__w32_nheaps, n + 1, __ATOMIC_RELEASE);
    }
    InterlockedExchange(&hk__w32_lock, 0);
    return HK__W32_HEAP_ID0 + (unsigned)(i < (LONG)HK__W32_HEAPS ? i : (LONG)HK__W32_HEAPS - 1);
}

int hk__w32_heap_describe(unsigned heap, const char **backend, uint64_t *seq)
{
    if (heap < HK__W32_HEAP_ID0 || heap >= HK__W32_HEAP_ID0 + HK__W32_HEAPS)
        return 0;
    *backend = "kernel32";
    *seq = heap - HK__W32_HEAP_ID0 + 1;
    return 1;
}

void *hk_dbg_win_heap_alloc(void *heap, unsigned flags, size_t n, HK_DBG_SITE)
{
    HK__SRC(src, NULL);
    void *p;
    hk__dbg_start();
    p = HeapAlloc(heap, flags, n);
    if (p)
        hk__dbg_add(p, n, hk__w32_heap_id(heap), 0, &src);
    return p;
}

/* A block of this heap the tracker has no record of (allocated by code
 * without the macros, or before the debugger started): the heap itself
 * says whether it is a live block of its own. */
static int hk__w32_vouches(HANDLE heap, const void *p)
{
    return !hk__dbg_being_freed(p) && HeapValidate(heap, 0, p);
}

void *hk_dbg_win_heap_realloc(void *heap, unsigned flags, void *p, size_t n, HK_DBG_SITE)
{
    HK__SRC(src, NULL);
    hk__rec r;
    void *q;
    unsigned id;
    int found;
    hk__dbg_start();
    if (!p)
        return HeapReAlloc(heap, flags, p, n);   /* fails, as Windows says */
    id = hk__w32_heap_id(heap);
    found = hk__dbg_peek(p, id, &r);
    if (found == 0 && hk__w32_vouches(heap, p)) {
        q = HeapReAlloc(heap, flags, p, n);
        if (q)
            hk__dbg_adopt(q, n, id, &src);
        return q;
    }
    if (found != 1) {
        hk__dbg_unknown_free(p, id, &src);
        SetLastError(ERROR_INVALID_PARAMETER);
        return NULL;                  /* not ours: never handed on */
    }
    hk__dbg_take(p, id, &r);
    q = HeapReAlloc(heap, flags, p, n);
    hk__dbg_freeing_done();
    if (!q) {
        hk__dbg_put_back(&r);         /* failed: the block is still there */
        return NULL;
    }
    hk__dbg_readd(&r, q, n, &src);
    return q;
}

int hk_dbg_win_heap_free(void *heap, unsigned flags, void *p, HK_DBG_SITE)
{
    HK__SRC(src, NULL);
    hk__rec r;
    unsigned id;
    int found;
    BOOL ok;
    hk__dbg_start();
    if (!p)
        return HeapFree(heap, flags, p);
    id = hk__w32_heap_id(heap);
    found = hk__dbg_take(p, id, &r);
    if (found == 1) {
        ok = HeapFree(heap, flags, p);
        hk__dbg_freeing_done();
        return ok;
    }
    if (found == 0 && hk__w32_vouches(heap, p))
        return HeapFree(heap, flags, p);
    hk__dbg_unknown_free(p, id, &src);
    SetLastError(ERROR_INVALID_PARAMETER);
    return FALSE;
}
#endif

static const hk__src *hk__src_or(const hk__src *src, void *ret, hk__src *tmp)
{
    if (src)
        return src;
    memset(tmp, 0, sizeof *tmp);
    tmp->caller = (uintptr_t)ret;
    return tmp;
}

void hk__dbg_on_heap_alloc(hk_heap *h, void *p, size_t n, const hk__src *src, void *ret)
{
    hk__src tmp;
    hk__dbg_add(p, n, hk__heap_id(h), 0, hk__src_or(src, ret, &tmp));
}

void hk__dbg_on_heap_realloc(hk_heap *h, void *p, void *q, size_t n, int err,
                             const hk__src *src, void *ret)
{
    hk__src tmp;
    hk__rec r;
    int found;
    unsigned id = hk__heap_id(h);
    src = hk__src_or(src, ret, &tmp);
    if (err == HK_ERR_INVALID_PARAMETER) {
        hk__dbg_unknown_free(p, id, src);
        return;
    }
    if (err)
        return;                       /* out of memory: the block stays */
    found = hk__dbg_take(p, id, &r);
    hk__dbg_freeing_done();          /* the backend moved it already */
    if (found == 1)
        hk__dbg_readd(&r, q, n, src);
    else if (hk__dbg_records_lost())
        hk__dbg_adopt(q, n, id, src);  /* its allocation was counted already */
    else
        hk__dbg_add(q, n, id, 0, src); /* from before the debugger started */
}

void hk__dbg_on_heap_free(hk_heap *h, void *p, int err, const hk__src *src, void *ret)
{
    hk__src tmp;
    hk__rec r;
    unsigned id = hk__heap_id(h);
    if (err == HK_OK) {
        hk__dbg_take(p, id, &r);
        hk__dbg_freeing_done();      /* the backend freed it already */
    }
    else if (err == HK_ERR_INVALID_PARAMETER)
        hk__dbg_unknown_free(p, id, hk__src_or(src, ret, &tmp));
}
