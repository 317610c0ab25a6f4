/*
 * heap.c - the public heap API: handle checks, flags, locking fallback,
 * the heap registry, and dispatch to the backend.
 *
 * Heap handles are slots of one static table.  Checking a handle is then an
 * address range test plus a magic number, so a garbage handle is refused
 * without ever being dereferenced outside the table.
 */
#include "debugger/tracker.h"

#include <stdlib.h>
#include <string.h>

union hk__slot {
    struct hk_heap h;
    char pad[HK__SLOT_SIZE];
};
typedef char hk__slot_fits[sizeof(union hk__slot) == HK__SLOT_SIZE ? 1 : -1];

static union hk__slot hk__slots[HK__MAX_HEAPS];
static size_t hk__used;      /* slots handed out at least once          */
/* The slots hk_alloc/hk_free may jump through: hk__used, and 0 from the
 * debugger's start on, so that every call then reaches the full path
 * from hk_alloc/hk_free themselves, whose return address is the caller's
 * even where the compiler makes no tail call (-O0/-O1, TSan).  (atomic) */
static size_t hk__fast_lim;
static size_t hk__cursor;    /* where reuse of dead slots resumes       */
static uint64_t hk__seq;
static hk_heap *hk__process;

#define HK__ANY_FLAGS (HK_HEAP_NO_SERIALIZE | HK_HEAP_GENERATE_EXCEPTIONS)

/* The table's address in a variable the compiler cannot fold, so that
 * the handle tests subtract it from memory in one instruction (a PIC
 * build would otherwise spend two on it). */
uintptr_t hk__slots_at = (uintptr_t)hk__slots;

/* h's slot number, one rotate after the subtraction: an address inside
 * the table that is not a slot's start rotates its low bits up, out of
 * range, and so does one outside it.  Only a number in range may be read. */
static inline __attribute__((always_inline)) uintptr_t hk__slot_no(const hk_heap *h)
{
    uintptr_t off = (uintptr_t)h - hk__slots_at;
    return (off >> 7) | (off << (sizeof off * 8 - 7));
}
typedef char hk__slot_is_128[HK__SLOT_SIZE == 128 ? 1 : -1];

/* Is h a slot of the table? */
static inline int hk__in_table(const hk_heap *h)
{
    return hk__slot_no(h) < HK__MAX_HEAPS;
}

/* The fast paths' handle test: a slot handed out at least once, and the
 * debugger off (hk__fast_lim).  Such a slot's fa/ff are never NULL (a live
 * heap's entries, or the full path, which refuses a dead one). */
static inline __attribute__((always_inline)) int hk__handed_out(const hk_heap *h)
{
    return hk__slot_no(h) < __atomic_load_n(&hk__fast_lim, __ATOMIC_RELAXED);
}

hk_heap *hk__heap_check(hk_heap *h)
{
    return hk__in_table(h) && h->magic == HK__MAGIC ? h : NULL;
}

void hk__call_lock(hk_heap *h, unsigned flags)
{
    if (!h->be->lock && !(flags & HK_HEAP_NO_SERIALIZE))
        hk__mutex_lock(&h->mutex);
}

void hk__call_unlock(hk_heap *h, unsigned flags)
{
    if (!h->be->lock && !(flags & HK_HEAP_NO_SERIALIZE))
        hk__mutex_unlock(&h->mutex);
}

static void *hk__alloc_tramp(hk_heap *h, unsigned flags, size_t n, void *bh);
static int hk__free_tramp(hk_heap *h, unsigned flags, void *p, void *bh);

/* Where hk_alloc/hk_free jump for h: the backend's fast entries if the
 * dispatch word leaves the core nothing to do (free ignores the owner
 * check), else the full path.  Also when the word changes. */
static void hk__heap_fast_set(hk_heap *h)
{
    const hk_backend *be = h->be;
    unsigned d = __atomic_load_n(&h->disp, __ATOMIC_ACQUIRE) & ~HK_HEAP_NO_SERIALIZE;
    hk__fast_alloc_fn fa = hk__alloc_tramp;
    hk__fast_free_fn ff = hk__free_tramp;
    if (be->version >= 2 && d == HK__D_LIVE && be->fast_alloc)
        fa = be->fast_alloc;
    if (be->version >= 2 && (d & ~HK__D_OWNER) == HK__D_LIVE && be->fast_free)
        ff = be->fast_free;
    __atomic_store_n(&h->fa, fa, __ATOMIC_RELEASE);
    __atomic_store_n(&h->ff, ff, __ATOMIC_RELEASE);
}

/* Fresh slots are used before dead ones are reused, so a stale handle
 * stays invalid for as long as possible.  Caller holds the global lock. */
static hk_heap *hk__slot_new(const hk_backend *be, void *bh, unsigned flags,
                             unsigned kind)
{
    hk_heap *h = NULL;
    size_t i;
    if (hk__used < HK__MAX_HEAPS) {
        h = &hk__slots[hk__used++].h;
        /* before the fast paths can see the slot */
        __atomic_store_n(&h->fa, hk__alloc_tramp, __ATOMIC_RELAXED);
        __atomic_store_n(&h->ff, hk__free_tramp, __ATOMIC_RELAXED);
        if (!__atomic_load_n(&hk__dbg_active, __ATOMIC_ACQUIRE))
            __atomic_store_n(&hk__fast_lim, hk__used, __ATOMIC_RELEASE);
    } else {
        for (i = 0; i < HK__MAX_HEAPS && !h; i++) {
            size_t k = (hk__cursor + i) % HK__MAX_HEAPS;
            if (hk__slots[k].h.magic != HK__MAGIC) {
                h = &hk__slots[k].h;
                hk__cursor = k + 1;
            }
        }
        if (!h)
            return NULL;
    }
    /* all but fa/ff, which a stale handle may be jumping through */
    memset(&h->magic, 0, sizeof *h - offsetof(hk_heap, magic));
    h->kind = kind;
    h->flags = flags;
    h->be = be;
    h->bh = bh;
    h->seq = ++hk__seq;
    h->owner = hk__thread_self();
    if (!be->lock)
        hk__mutex_init(&h->mutex);
    h->magic = HK__MAGIC;
    h->disp = HK__D_LIVE | (flags & HK_HEAP_NO_SERIALIZE)
        | (!be->lock && !(flags & HK_HEAP_NO_SERIALIZE) ? HK__D_LOCK : 0)
        | (be->caps & HK_CAP_ANY_THREAD ? 0 : HK__D_OWNER)
        | (__atomic_load_n(&hk__dbg_active, __ATOMIC_ACQUIRE) ? HK__D_DEBUG : 0);
    hk__heap_fast_set(h);
    return h;
}

/* The debugger is on from now: every heap's calls take the slow path,
 * where they are recorded.  (It is never switched off.) */
void hk__heaps_debug_on(void)
{
    size_t i;
    hk__global_lock();
    __atomic_store_n(&hk__fast_lim, 0, __ATOMIC_RELEASE);
    for (i = 0; i < hk__used; i++)
        if (hk__slots[i].h.magic == HK__MAGIC) {
            __atomic_or_fetch(&hk__slots[i].h.disp, HK__D_DEBUG, __ATOMIC_RELEASE);
            hk__heap_fast_set(&hk__slots[i].h);
        }
    hk__global_unlock();
}

static void hk__slot_kill(hk_heap *h)
{
    __atomic_store_n(&h->fa, hk__alloc_tramp, __ATOMIC_RELEASE);
    __atomic_store_n(&h->ff, hk__free_tramp, __ATOMIC_RELEASE);
    h->disp = 0;
    h->magic = 0;
    hk__snapshot_free(h);
    if (!h->be->lock)
        hk__mutex_fini(&h->mutex);
}

static int hk__owner_ok(hk_heap *h)
{
    return (h->be->caps & HK_CAP_ANY_THREAD)
        || hk__thread_equal(h->owner, hk__thread_self());
}

hk_heap *hk_heap_create(const char *backend, unsigned flags, size_t initial,
                        size_t maximum)
{
    const hk_backend *be;
    hk_heap *h;
    void *bh = NULL;
    int err;

    hk__dbg_autostart();
    be = backend ? hk__backend_find(backend) : hk__backend_default();
    if (!be || (flags & ~HK__ANY_FLAGS)) {
        hk__set_error(HK_ERR_INVALID_PARAMETER);
        return NULL;
    }
    if (maximum && !(be->caps & HK_CAP_FIXED_SIZE)) {
        hk__set_error(HK_ERR_NOT_SUPPORTED);
        return NULL;
    }
    err = be->create(flags & HK_HEAP_NO_SERIALIZE, initial, maximum, &bh);
    if (err) {
        hk__set_error(err);
        return NULL;
    }
    hk__global_lock();
    h = hk__slot_new(be, bh, flags, 0);
    hk__global_unlock();
    if (!h) {
        be->destroy(bh);
        hk__set_error(HK_ERR_NO_MEMORY);
    }
    return h;
}

int hk_heap_destroy(hk_heap *h)
{
    int err;
    hk__global_lock();
    if (!hk__heap_check(h) || (h->kind & (HK__HEAP_PROCESS | HK__HEAP_FOREIGN)))
        err = HK_ERR_INVALID_HANDLE;
    else if (!hk__owner_ok(h))
        err = HK_ERR_NOT_SUPPORTED;
    else {
        if (hk__dbg_active)
            hk__dbg_heap_destroyed(h);      /* its live blocks are leaks */
        err = h->be->destroy(h->bh);
        if (!err)
            hk__slot_kill(h);
    }
    hk__global_unlock();
    if (err) {
        hk__set_error(err);
        return 0;
    }
    return 1;
}

hk_heap *hk_process_heap(void)
{
    const hk_backend *be;
    hk_heap *h;
    void *bh = NULL;
    int err;

    hk__global_lock();
    h = hk__process;
    hk__global_unlock();
    if (HK_LIKELY(h != NULL))
        return h;

    hk__dbg_autostart();
    be = hk__backend_default();
    if (!be) {
        hk__set_error(HK_ERR_NOT_SUPPORTED);
        return NULL;
    }
    err = be->process_heap ? be->process_heap(&bh) : be->create(0, 0, 0, &bh);
    if (err) {
        hk__set_error(err);
        return NULL;
    }
    hk__global_lock();
    if (hk__process) {               /* another thread won the race */
        h = hk__process;
        hk__global_unlock();
        if (!be->process_heap)
            be->destroy(bh);
        return h;
    }
    h = hk__process = hk__slot_new(be, bh, 0, HK__HEAP_PROCESS);
    hk__global_unlock();
    if (!h) {
        if (!be->process_heap)
            be->destroy(bh);
        hk__set_error(HK_ERR_NO_MEMORY);
    }
    return h;
}

/* Is bh already behind a live slot of backend be? Global lock held. */
static int hk__known(const hk_backend *be, void *bh)
{
    size_t i;
    for (i = 0; i < hk__used; i++) {
        hk_heap *h = &hk__slots[i].h;
        if (h->magic == HK__MAGIC && h->be == be && h->bh == bh)
            return 1;
    }
    return 0;
}

/* Bring the FOREIGN slots of be in line with the OS's list of heaps.
 * Global lock held. */
static void hk__refresh_os_heaps(const hk_backend *be)
{
    void *stack[64], **list = stack;
    size_t cap = 64, cnt, i, j;

    for (;;) {
        cnt = be->os_heaps(list, cap);
        if (cnt <= cap)
            break;
        if (list != stack)
            free(list);
        cap = cnt + 16;
        list = malloc(cap * sizeof *list);
        if (!list)
            return;      /* keep the slots we have; enumeration is best effort */
    }
    for (i = 0; i < hk__used; i++) {
        hk_heap *h = &hk__slots[i].h;
        int seen = 0;
        if (h->magic != HK__MAGIC || h->be != be || !(h->kind & HK__HEAP_FOREIGN))
            continue;
        for (j = 0; j < cnt && !seen; j++)
            seen = list[j] == h->bh;
        if (!seen)
            hk__slot_kill(h);
    }
    for (j = 0; j < cnt; j++)
        if (!hk__known(be, list[j]))
            hk__slot_new(be, list[j], 0, HK__HEAP_FOREIGN);
    if (list != stack)
        free(list);
}

size_t hk_process_heaps(hk_heap **heaps, size_t n)
{
    const hk_backend *bes[16];
    size_t nb, i, total = 0;
    hk_heap *proc = hk_process_heap();

    nb = hk__backend_list(bes, 16);
    hk__global_lock();
    for (i = 0; i < nb; i++)
        if (bes[i]->os_heaps)
            hk__refresh_os_heaps(bes[i]);
    /* Count first: the buffer is filled only if everything fits. */
    for (i = 0; i < hk__used; i++)
        total += hk__slots[i].h.magic == HK__MAGIC;
    if (heaps && total <= n) {
        size_t k = 0;
        if (proc)
            heaps[k++] = proc;
        for (i = 0; i < hk__used; i++) {
            hk_heap *h = &hk__slots[i].h;
            if (h->magic == HK__MAGIC && h != proc)
                heaps[k++] = h;
        }
    }
    hk__global_unlock();
    return total;
}

const char *hk_heap_backend(hk_heap *h)
{
    if (!hk__heap_check(h)) {
        hk__set_error(HK_ERR_INVALID_HANDLE);
        return NULL;
    }
    return h->be->name;
}

unsigned hk_heap_caps(hk_heap *h)
{
    if (!hk__heap_check(h)) {
        hk__set_error(HK_ERR_INVALID_HANDLE);
        return 0;
    }
    return h->be->caps;
}

/* ---- blocks ------------------------------------------------------------ */

/* The common failure path of alloc/realloc: record, maybe raise. */
static void *hk__fail_alloc(int err, unsigned flags, size_t n)
{
    hk__set_error(err);
    if (err == HK_ERR_NO_MEMORY && (flags & HK_HEAP_GENERATE_EXCEPTIONS))
        hk__raise_no_memory(n);
    return NULL;
}

/* The body of hk_alloc, shared with the debugger's entry point, which
 * knows the caller's file and line. */
static inline __attribute__((always_inline))
void *hk__alloc_at(hk_heap *h, unsigned flags, size_t n, const hk__src *src, void *ret)
{
    void *p = NULL;
    int err;
    if (HK_UNLIKELY(!hk__heap_check(h))) {
        hk__set_error(HK_ERR_INVALID_HANDLE);
        return NULL;
    }
    if (HK_UNLIKELY(flags & ~(HK__ANY_FLAGS | HK_HEAP_ZERO_MEMORY)))
        return hk__fail_alloc(HK_ERR_INVALID_PARAMETER, 0, n);
    flags |= h->flags;
    if (HK_UNLIKELY(!hk__owner_ok(h)))
        return hk__fail_alloc(HK_ERR_NOT_SUPPORTED, 0, n);
    hk__call_lock(h, flags);
    err = h->be->alloc(h->bh, flags & ~HK_HEAP_GENERATE_EXCEPTIONS, n, &p);
    hk__call_unlock(h, flags);
    if (HK_LIKELY(err == HK_OK)) {
        if (HK_UNLIKELY(hk__dbg_active))
            hk__dbg_on_heap_alloc(h, p, n, src, ret);
        return p;
    }
    return hk__fail_alloc(err, flags, n);
}


/* The fast paths: a live heap whose word has no slow bit (no core lock,
 * no owner check, no debugger; dok: the ones this call ignores) and a call
 * with only the flags the backend takes as they are (ok).  Everything else, and every failure, goes the full
 * way, which sets the error and raises. */
#define HK__FAST(h, f, ok, dok) \
    (HK_LIKELY(hk__in_table(h)) \
     && HK_LIKELY(((h)->disp & ~(unsigned)(HK_HEAP_NO_SERIALIZE | (dok))) == HK__D_LIVE) \
     && HK_LIKELY(!((f) & ~(unsigned)(ok))))

/* Out of line, so that the fast paths save no registers for them. */
static __attribute__((noinline))
void *hk__alloc_slow(hk_heap *h, unsigned flags, size_t n, void *ret)
{
    return hk__alloc_at(h, flags, n, NULL, ret);
}

/* hk_alloc/hk_free: a slot that was ever handed out, the debugger off
 * (hk__handed_out) and flags the fast entry takes, then a jump through the
 * slot (hk__heap_fast_set): to the backend's fast entry, or to the full
 * path for a heap that needs the core (its lock, its owner check). */
void *hk_alloc(hk_heap *h, unsigned flags, size_t n)
{
    if (HK_LIKELY(hk__handed_out(h))
        && HK_LIKELY(!(flags & ~(HK__ANY_FLAGS | HK_HEAP_ZERO_MEMORY))))
        return h->fa(h, flags, n, h->bh);
    return hk__alloc_slow(h, flags, n, __builtin_return_address(0));
}

static void *hk__alloc_tramp(hk_heap *h, unsigned flags, size_t n, void *bh)
{
    (void)bh;
    return hk__alloc_slow(h, flags, n, __builtin_return_address(0));
}

void *hk_alloc_full(hk_heap *h, unsigned flags, size_t n)
{
    return hk__alloc_slow(h, flags, n, __builtin_return_address(0));
}

void *hk__alloc_src(hk_heap *h, unsigned flags, size_t n, const hk__src *src)
{
    return hk__alloc_at(h, flags, n, src, NULL);
}

static void *hk__realloc_at(hk_heap *h, unsigned flags, void *p, size_t n,
                            const hk__src *src, void *ret)
{
    void *q = NULL;
    int err;
    if (!hk__heap_check(h)) {
        hk__set_error(HK_ERR_INVALID_HANDLE);
        return NULL;
    }
    if (!p || (flags & ~(HK__ANY_FLAGS | HK_HEAP_ZERO_MEMORY
                         | HK_HEAP_REALLOC_IN_PLACE_ONLY)))
        return hk__fail_alloc(HK_ERR_INVALID_PARAMETER, 0, n);
    flags |= h->flags;
    if (!hk__owner_ok(h))
        return hk__fail_alloc(HK_ERR_NOT_SUPPORTED, 0, n);
    hk__call_lock(h, flags);
    err = h->be->realloc(h->bh, flags & ~HK_HEAP_GENERATE_EXCEPTIONS, p, n, &q);
    hk__call_unlock(h, flags);
    if (HK_UNLIKELY(hk__dbg_active))
        hk__dbg_on_heap_realloc(h, p, q, n, err, src, ret);
    if (err == HK_OK)
        return q;
    return hk__fail_alloc(err, flags, n);
}

void *hk_realloc(hk_heap *h, unsigned flags, void *p, size_t n)
{
    if (p && HK__FAST(h, flags, HK_HEAP_NO_SERIALIZE | HK_HEAP_ZERO_MEMORY
                                | HK_HEAP_REALLOC_IN_PLACE_ONLY, 0)) {
        void *q;
        int err = h->be->realloc(h->bh, (h->disp | flags) & ~HK__D_LIVE, p, n, &q);
        if (HK_LIKELY(err == HK_OK))
            return q;
        return hk__fail_alloc(err, flags | h->flags, n);
    }
    return hk__realloc_at(h, flags, p, n, NULL, __builtin_return_address(0));
}

void *hk__realloc_src(hk_heap *h, unsigned flags, void *p, size_t n, const hk__src *src)
{
    return hk__realloc_at(h, flags, p, n, src, NULL);
}

static inline __attribute__((always_inline))
int hk__free_at(hk_heap *h, unsigned flags, void *p, const hk__src *src, void *ret)
{
    int err;
    if (!p)                      /* Win32: TRUE, even with a bad heap */
        return 1;
    if (HK_UNLIKELY(!hk__heap_check(h))) {
        /* Wine 8 / Windows: a NULL handle is a bad parameter (87), any
         * other non-heap is a bad handle (6). */
        hk__set_error(h ? HK_ERR_INVALID_HANDLE : HK_ERR_INVALID_PARAMETER);
        return 0;
    }
    if (HK_UNLIKELY(flags & ~HK__ANY_FLAGS)) {
        hk__set_error(HK_ERR_INVALID_PARAMETER);
        return 0;
    }
    flags |= h->flags;
    hk__call_lock(h, flags);
    err = h->be->free(h->bh, flags & ~HK_HEAP_GENERATE_EXCEPTIONS, p);
    hk__call_unlock(h, flags);
    if (HK_UNLIKELY(hk__dbg_active))
        hk__dbg_on_heap_free(h, p, err, src, ret);
    if (HK_LIKELY(err == HK_OK))
        return 1;
    hk__set_error(err);
    return 0;
}

static __attribute__((noinline))
int hk__free_slow(hk_heap *h, unsigned flags, void *p, void *ret)
{
    return hk__free_at(h, flags, p, NULL, ret);
}

/* p == NULL too goes through the slot: the fast entry refuses it (not a
 * block), the full path answers 1. */
int hk_free(hk_heap *h, unsigned flags, void *p)
{
    if (HK_LIKELY(hk__handed_out(h)) && HK_LIKELY(!(flags & ~HK__ANY_FLAGS)))
        return h->ff(h, flags, p, h->bh);
    return hk__free_slow(h, flags, p, __builtin_return_address(0));
}

static int hk__free_tramp(hk_heap *h, unsigned flags, void *p, void *bh)
{
    (void)bh;
    return hk__free_slow(h, flags, p, __builtin_return_address(0));
}

int hk_free_full(hk_heap *h, unsigned flags, void *p)
{
    return hk__free_slow(h, flags, p, __builtin_return_address(0));
}

int hk__free_src(hk_heap *h, unsigned flags, void *p, const hk__src *src)
{
    return hk__free_at(h, flags, p, src, NULL);
}

size_t hk_size(hk_heap *h, unsigned flags, const void *p)
{
    size_t n = 0;
    int err;
    if (p && HK__FAST(h, flags, HK_HEAP_NO_SERIALIZE, HK__D_OWNER | HK__D_DEBUG)) {
        err = h->be->size(h->bh, (h->disp | flags) & HK_HEAP_NO_SERIALIZE, p, &n);
        if (HK_LIKELY(err == HK_OK))
            return n;
        hk__set_error(err);
        return (size_t)-1;
    }
    if (!hk__heap_check(h)) {
        hk__set_error(h ? HK_ERR_INVALID_HANDLE : HK_ERR_INVALID_PARAMETER);
        return (size_t)-1;
    }
    if (!p || (flags & ~HK__ANY_FLAGS)) {
        hk__set_error(HK_ERR_INVALID_PARAMETER);
        return (size_t)-1;
    }
    flags |= h->flags;
    hk__call_lock(h, flags);
    err = h->be->size(h->bh, flags & ~HK_HEAP_GENERATE_EXCEPTIONS, p, &n);
    hk__call_unlock(h, flags);
    if (err) {
        hk__set_error(err);
        return (size_t)-1;
    }
    return n;
}

int hk_validate(hk_heap *h, unsigned flags, const void *p)
{
    int saved = hk_last_error(), err;
    size_t n;
    if (!hk__heap_check(h) || (flags & ~HK__ANY_FLAGS))
        return 0;
    flags = (flags | h->flags) & ~HK_HEAP_GENERATE_EXCEPTIONS;
    hk__call_lock(h, flags);
    if (h->be->validate)
        err = h->be->validate(h->bh, flags, p);
    else
        err = p ? h->be->size(h->bh, flags, p, &n) : HK_OK;
    hk__call_unlock(h, flags);
    hk_set_last_error(saved);    /* HeapValidate never changes it */
    return err == HK_OK;
}

size_t hk_compact(hk_heap *h, unsigned flags)
{
    size_t largest = 0;
    int err;
    if (!hk__heap_check(h)) {
        hk__set_error(HK_ERR_INVALID_HANDLE);
        return 0;
    }
    if (flags & ~HK__ANY_FLAGS) {
        hk__set_error(HK_ERR_INVALID_PARAMETER);
        return 0;
    }
    if (!h->be->compact) {
        hk__set_error(HK_ERR_NOT_SUPPORTED);
        return 0;
    }
    flags = (flags | h->flags) & ~HK_HEAP_GENERATE_EXCEPTIONS;
    hk__call_lock(h, flags);
    err = h->be->compact(h->bh, flags, &largest);
    hk__call_unlock(h, flags);
    if (err) {
        hk__set_error(err);
        return 0;
    }
    return largest;
}

/* ---- locking ----------------------------------------------------------- */

int hk_lock(hk_heap *h)
{
    int err = HK_OK;
    if (!hk__heap_check(h)) {
        hk__set_error(HK_ERR_INVALID_HANDLE);
        return 0;
    }
    if (h->flags & HK_HEAP_NO_SERIALIZE)
        return 1;
    if (h->be->lock)
        err = h->be->lock(h->bh);
    else
        hk__mutex_lock(&h->mutex);
    if (err) {
        hk__set_error(err);
        return 0;
    }
    return 1;
}

int hk_unlock(hk_heap *h)
{
    int err = HK_OK;
    if (!hk__heap_check(h)) {
        hk__set_error(HK_ERR_INVALID_HANDLE);
        return 0;
    }
    if (h->flags & HK_HEAP_NO_SERIALIZE)
        return 1;
    if (h->be->lock)
        err = h->be->unlock(h->bh);
    else if (!hk__mutex_unlock_owned(&h->mutex))
        err = HK_ERR_INVALID_PARAMETER;   /* not held by this thread */
    if (err) {
        hk__set_error(err);
        return 0;
    }
    return 1;
}

/* ---- mark / release ---------------------------------------------------- */

uintptr_t hk_heap_mark(hk_heap *h)
{
    uintptr_t m = 0;
    int err;
    if (!hk__heap_check(h)) {
        hk__set_error(HK_ERR_INVALID_HANDLE);
        return 0;
    }
    if (!h->be->mark) {
        hk__set_error(HK_ERR_NOT_SUPPORTED);
        return 0;
    }
    hk__call_lock(h, h->flags);
    err = h->be->mark(h->bh, &m);
    hk__call_unlock(h, h->flags);
    if (err) {
        hk__set_error(err);
        return 0;
    }
    return m;
}

int hk_heap_release(hk_heap *h, uintptr_t mark)
{
    int err;
    if (!hk__heap_check(h)) {
        hk__set_error(HK_ERR_INVALID_HANDLE);
        return 0;
    }
    if (!h->be->release) {
        hk__set_error(HK_ERR_NOT_SUPPORTED);
        return 0;
    }
    if (!mark) {
        hk__set_error(HK_ERR_INVALID_PARAMETER);
        return 0;
    }
    hk__call_lock(h, h->flags);
    err = h->be->release(h->bh, mark);
    hk__call_unlock(h, h->flags);
    if (!err && hk__dbg_active)
        hk__dbg_heap_released(h);           /* released blocks are not leaks */
    if (err) {
        hk__set_error(err);
        return 0;
    }
    return 1;
}

/* ---- the debugger's view of the heap table ------------------------------ */

unsigned hk__heap_id(const hk_heap *h)
{
    return (unsigned)(((const union hk__slot *)(const void *)h) - hk__slots) + 1;
}

hk_heap *hk__heap_from_id(unsigned id)
{
    if (id == 0 || id > HK__MAX_HEAPS)
        return NULL;
    return hk__slots[id - 1].h.magic == HK__MAGIC ? &hk__slots[id - 1].h : NULL;
}

int hk__heap_describe(unsigned id, const char **backend, uint64_t *seq)
{
    const hk_heap *h;
#ifdef _WIN32
    if (id > HK__MAX_HEAPS)
        return hk__w32_heap_describe(id, backend, seq);
#endif
    if (id == 0 || id > HK__MAX_HEAPS)
        return 0;
    h = &hk__slots[id - 1].h;
    *backend = h->be ? h->be->name : "?";
    *seq = h->seq;
    return 1;
}
