/*
 * mem.c - LocalAlloc/GlobalAlloc memory for heapkit/win32.h on POSIX.
 *
 * Fixed memory is a block of the process heap and its own handle.  A
 * moveable block is a slot here (the handle) holding a lock count and the
 * data pointer, which points into the process heap.  Handles are slot
 * addresses plus 8, so they can never be mistaken for a heap block (always
 * 16-byte aligned), and a handle is checked against the slot chunks before
 * it is used: a bad handle is ERROR_INVALID_HANDLE, never a crash.
 */
#include "internal.h"
#include "heapkit/win32.h"

#include <pthread.h>
#include <stdlib.h>

struct hk__mslot {
    void *data;                 /* NULL: discarded (or size 0)             */
    unsigned locks;             /* lock count, at most GMEM_LOCKCOUNT      */
    unsigned flags;             /* GMEM_DISCARDABLE, HK__MSLOT_USED        */
    struct hk__mslot *next_free;
    void *pad;                  /* 32 bytes: slots stay 16-byte aligned    */
};
#define HK__MSLOT_USED  0x80000000u
#define HK__MCHUNK      256     /* slots per chunk                         */
#define HK__MCHUNKS     256     /* at most 65536 moveable handles          */

static pthread_mutex_t hk__mem_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct hk__mslot *hk__mchunk[HK__MCHUNKS];
static size_t hk__nchunks;
static size_t hk__nused;
static struct hk__mslot *hk__mfree;

static int hk__is_moveable(const void *h)
{
    return ((uintptr_t)h & 15u) == 8u;
}

/* The live slot behind handle h, or NULL.  Caller holds hk__mem_mutex. */
static struct hk__mslot *hk__slot_of(const void *h)
{
    uintptr_t a = (uintptr_t)h - 8u;
    size_t i;
    if (!hk__is_moveable(h))
        return NULL;
    for (i = 0; i < hk__nchunks; i++) {
        uintptr_t lo = (uintptr_t)hk__mchunk[i];
        uintptr_t hi = lo + HK__MCHUNK * sizeof(struct hk__mslot);
        if (a >= lo && a < hi && (a - lo) % sizeof(struct hk__mslot) == 0) {
            struct hk__mslot *s = (struct hk__mslot *)a;
            return (s->flags & HK__MSLOT_USED) ? s : NULL;
        }
    }
    return NULL;
}

static struct hk__mslot *hk__slot_new(void)
{
    struct hk__mslot *s;
    if (!hk__mfree) {
        size_t i;
        if (hk__nchunks == HK__MCHUNKS)
            return NULL;
        /* malloc, not the process heap: slots are no blocks of the walk */
        if (posix_memalign((void **)&s, 16, HK__MCHUNK * sizeof *s) != 0)
            return NULL;
        for (i = 0; i < HK__MCHUNK; i++) {
            s[i].flags = 0;
            s[i].next_free = i + 1 < HK__MCHUNK ? &s[i + 1] : NULL;
        }
        hk__mchunk[hk__nchunks++] = s;
        hk__mfree = s;
    }
    s = hk__mfree;
    hk__mfree = s->next_free;
    s->data = NULL;
    s->locks = 0;
    s->flags = HK__MSLOT_USED;
    hk__nused++;
    return s;
}

static void hk__slot_release(struct hk__mslot *s)
{
    s->flags = 0;
    s->data = NULL;
    s->next_free = hk__mfree;
    hk__mfree = s;
    hk__nused--;
}

static HANDLE hk__handle(struct hk__mslot *s) { return (char *)s + 8; }

static unsigned hk__zero(unsigned flags)
{
    return (flags & GMEM_ZEROINIT) ? HK_HEAP_ZERO_MEMORY : 0;
}

HANDLE hk_mem_alloc(unsigned flags, size_t n)
{
    hk_heap *ph = hk_process_heap();
    struct hk__mslot *s;
    void *p = NULL;
    if (flags & ~(unsigned)(GMEM_VALID_FLAGS | LMEM_VALID_FLAGS)) {
        hk_set_last_error(HK_ERR_INVALID_PARAMETER);
        return NULL;
    }
    if (!(flags & GMEM_MOVEABLE))
        return hk_alloc(ph, hk__zero(flags), n);
    /* A moveable block of size 0 is born discarded, as on Windows. */
    if (n && !(p = hk_alloc(ph, hk__zero(flags), n)))
        return NULL;
    pthread_mutex_lock(&hk__mem_mutex);
    s = hk__slot_new();
    if (s) {
        s->data = p;
        s->flags |= flags & (GMEM_DISCARDABLE | LMEM_DISCARDABLE);
    }
    pthread_mutex_unlock(&hk__mem_mutex);
    if (!s) {
        hk_free(ph, 0, p);
        hk_set_last_error(HK_ERR_NO_MEMORY);
        return NULL;
    }
    return hk__handle(s);
}

/* A fixed block: a live block of the process heap. */
static int hk__fixed_ok(const void *p)
{
    return p && hk_validate(hk_process_heap(), 0, p);
}

HANDLE hk_mem_free(HANDLE h)
{
    struct hk__mslot *s;
    void *data;
    if (!h)
        return NULL;
    if (!hk__is_moveable(h)) {
        if (hk_free(hk_process_heap(), 0, h))
            return NULL;
        hk_set_last_error(HK_ERR_INVALID_HANDLE);
        return h;
    }
    pthread_mutex_lock(&hk__mem_mutex);
    s = hk__slot_of(h);
    data = s ? s->data : NULL;
    if (s)
        hk__slot_release(s);
    pthread_mutex_unlock(&hk__mem_mutex);
    if (!s) {
        hk_set_last_error(HK_ERR_INVALID_HANDLE);
        return h;
    }
    if (data)
        hk_free(hk_process_heap(), 0, data);
    return NULL;
}

LPVOID hk_mem_lock(HANDLE h)
{
    struct hk__mslot *s;
    void *data = NULL;
    int err = HK_OK;
    if (!hk__is_moveable(h)) {
        if (hk__fixed_ok(h))
            return h;
        hk_set_last_error(HK_ERR_INVALID_HANDLE);
        return NULL;
    }
    pthread_mutex_lock(&hk__mem_mutex);
    s = hk__slot_of(h);
    if (!s)
        err = HK_ERR_INVALID_HANDLE;
    else if (!s->data)
        err = ERROR_DISCARDED;
    else {
        if (s->locks < GMEM_LOCKCOUNT)
            s->locks++;
        data = s->data;
    }
    pthread_mutex_unlock(&hk__mem_mutex);
    if (err)
        hk_set_last_error(err);
    return data;
}

BOOL hk_mem_unlock(HANDLE h)
{
    struct hk__mslot *s;
    int err = HK_OK;
    BOOL still = FALSE;
    if (!hk__is_moveable(h)) {
        /* fixed memory has no lock count */
        hk_set_last_error(hk__fixed_ok(h) ? ERROR_NOT_LOCKED : HK_ERR_INVALID_HANDLE);
        return FALSE;
    }
    pthread_mutex_lock(&hk__mem_mutex);
    s = hk__slot_of(h);
    if (!s)
        err = HK_ERR_INVALID_HANDLE;
    else if (!s->locks)
        err = ERROR_NOT_LOCKED;
    else
        still = --s->locks != 0;
    pthread_mutex_unlock(&hk__mem_mutex);
    /* The last unlock returns FALSE with NO_ERROR, as on Windows. */
    hk_set_last_error(err);
    return still;
}

SIZE_T hk_mem_size(HANDLE h)
{
    struct hk__mslot *s;
    void *data = NULL;
    size_t n;
    if (!hk__is_moveable(h)) {
        n = h ? hk_size(hk_process_heap(), 0, h) : (size_t)-1;
        if (n == (size_t)-1) {
            hk_set_last_error(HK_ERR_INVALID_HANDLE);
            return 0;
        }
        return n;
    }
    pthread_mutex_lock(&hk__mem_mutex);
    s = hk__slot_of(h);
    if (s)
        data = s->data;
    pthread_mutex_unlock(&hk__mem_mutex);
    if (!s) {
        hk_set_last_error(HK_ERR_INVALID_HANDLE);
        return 0;
    }
    return data ? hk_size(hk_process_heap(), 0, data) : 0;
}

UINT hk_mem_flags(HANDLE h)
{
    struct hk__mslot *s;
    UINT f = GMEM_INVALID_HANDLE;
    if (!hk__is_moveable(h)) {
        if (hk__fixed_ok(h))
            return 0;
        hk_set_last_error(HK_ERR_INVALID_HANDLE);
        return GMEM_INVALID_HANDLE;
    }
    pthread_mutex_lock(&hk__mem_mutex);
    s = hk__slot_of(h);
    if (s)
        f = s->locks | (s->data ? 0 : GMEM_DISCARDED)
            | (s->flags & GMEM_DISCARDABLE);
    pthread_mutex_unlock(&hk__mem_mutex);
    if (!s)
        hk_set_last_error(HK_ERR_INVALID_HANDLE);
    return f;
}

/* Caller holds hk__mem_mutex. */
static struct hk__mslot *hk__slot_by_data(const void *p)
{
    size_t i, j;
    if (!p || !hk__nused)
        return NULL;
    for (i = 0; i < hk__nchunks; i++)
        for (j = 0; j < HK__MCHUNK; j++) {
            struct hk__mslot *s = &hk__mchunk[i][j];
            if ((s->flags & HK__MSLOT_USED) && s->data == p)
                return s;
        }
    return NULL;
}

HANDLE hk_mem_moveable_of(LPCVOID p)
{
    struct hk__mslot *s;
    if (!p)
        return NULL;
    pthread_mutex_lock(&hk__mem_mutex);
    s = hk__slot_by_data(p);
    pthread_mutex_unlock(&hk__mem_mutex);
    return s ? hk__handle(s) : NULL;
}

HANDLE hk_mem_handle(LPCVOID p)
{
    struct hk__mslot *s;
    if (!p) {
        hk_set_last_error(HK_ERR_INVALID_HANDLE);
        return NULL;
    }
    pthread_mutex_lock(&hk__mem_mutex);
    s = hk__is_moveable(p) ? hk__slot_of(p) : hk__slot_by_data(p);
    pthread_mutex_unlock(&hk__mem_mutex);
    if (s)
        return hk__handle(s);
    if (!hk__is_moveable(p) && hk__fixed_ok(p))
        return (HANDLE)p;
    hk_set_last_error(HK_ERR_INVALID_HANDLE);
    return NULL;
}

HANDLE hk_mem_realloc(HANDLE h, size_t n, unsigned flags)
{
    hk_heap *ph = hk_process_heap();
    struct hk__mslot *s;
    void *data, *q;
    unsigned hf = hk__zero(flags);
    if (!hk__is_moveable(h)) {
        if (!hk__fixed_ok(h)) {
            hk_set_last_error(HK_ERR_INVALID_HANDLE);
            return NULL;
        }
        if (flags & GMEM_MODIFY)
            return h;           /* no attribute of fixed memory to change */
        /* Fixed memory moves only when the caller allows it. */
        if (!(flags & GMEM_MOVEABLE))
            hf |= HK_HEAP_REALLOC_IN_PLACE_ONLY;
        return hk_realloc(ph, hf, h, n);
    }
    pthread_mutex_lock(&hk__mem_mutex);
    s = hk__slot_of(h);
    if (!s) {
        pthread_mutex_unlock(&hk__mem_mutex);
        hk_set_last_error(HK_ERR_INVALID_HANDLE);
        return NULL;
    }
    if (flags & GMEM_MODIFY) {
        s->flags = (s->flags & ~(unsigned)GMEM_DISCARDABLE) | (flags & GMEM_DISCARDABLE);
        pthread_mutex_unlock(&hk__mem_mutex);
        return h;
    }
    data = s->data;
    if (n == 0) {
        /* size 0 discards an unlocked moveable block */
        if (s->locks) {
            pthread_mutex_unlock(&hk__mem_mutex);
            hk_set_last_error(HK_ERR_INVALID_PARAMETER);
            return NULL;
        }
        s->data = NULL;
        pthread_mutex_unlock(&hk__mem_mutex);
        if (data)
            hk_free(ph, 0, data);
        return h;
    }
    /* A locked block stays where its users' pointers point. */
    if (s->locks && !(flags & GMEM_MOVEABLE))
        hf |= HK_HEAP_REALLOC_IN_PLACE_ONLY;
    q = data ? hk_realloc(ph, hf, data, n) : hk_alloc(ph, hf, n);
    if (q)
        s->data = q;
    pthread_mutex_unlock(&hk__mem_mutex);
    return q ? h : NULL;
}
