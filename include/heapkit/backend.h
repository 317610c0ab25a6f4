/*
 * heapkit/backend.h - the contract between heapkit's core and a backend.
 *
 * A backend is one constant struct of function pointers, in the spirit of
 * SQLite's sqlite3_mem_methods: the core (src/) owns everything that is the
 * same for every backend, and a backend only does what only it can do.
 *
 * The core, before it calls a member:
 *   - checks the heap handle (a member is never given a bad `bh`),
 *   - merges the heap's creation flags into `flags` and strips
 *     HK_HEAP_GENERATE_EXCEPTIONS (the core raises, backends just fail),
 *   - answers the trivial cases itself: hk_free(NULL), hk_realloc(NULL),
 *     a NULL entry or visitor,
 *   - refuses allocation from a foreign thread when caps lacks
 *     HK_CAP_ANY_THREAD,
 *   - holds its own per-heap recursive lock around the call when `lock` is
 *     NULL and flags lacks HK_HEAP_NO_SERIALIZE.
 * and after it: stores the returned error as the thread's last error.
 *
 * A backend, in every member:
 *   - returns HK_OK or one HK_ERR_* code, translating OS errors at this
 *     boundary (errno, GetLastError, a NULL from its allocator);
 *   - must refuse, without crashing and without changing the heap, any
 *     pointer that is not the start of a live block of *this* heap
 *     (HK_ERR_INVALID_PARAMETER), including freed blocks;
 *   - must not call back into the public hk_* API on the same heap (but
 *     for the fast entries' hand-over to hk_alloc_full/hk_free_full).
 *
 * Members marked "may be NULL" have the fallback the core uses named next
 * to them.  Register a backend of your own with hk_backend_register().
 */
#ifndef HEAPKIT_BACKEND_H
#define HEAPKIT_BACKEND_H

#include "../heapkit.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 2 added fast_alloc/fast_free; a version 1 struct (without them) is
 * still accepted and works as before. */
#define HK_BACKEND_VERSION 2

typedef struct hk_backend {
    int version;        /* HK_BACKEND_VERSION                              */
    const char *name;   /* unique, short, lower case: "arena"              */
    unsigned caps;      /* HK_CAP_* bits the backend honours               */

    /* Make a heap.  flags: HK_HEAP_NO_SERIALIZE or 0.  initial: bytes to
     * commit now; maximum: 0 = growable, else fixed size (only if caps has
     * HK_CAP_FIXED_SIZE; the core refuses it otherwise).  Stores the
     * backend's heap in *bh.  Required. */
    int (*create)(unsigned flags, size_t initial, size_t maximum, void **bh);

    /* Release the heap and all its blocks.  Required. */
    int (*destroy)(void *bh);

    /* Allocate n bytes (n may be 0), 16-byte aligned, remembering n for
     * `size`.  flags may hold HK_HEAP_ZERO_MEMORY, HK_HEAP_NO_SERIALIZE.
     * n too large: HK_ERR_NO_MEMORY.  Required. */
    int (*alloc)(void *bh, unsigned flags, size_t n, void **out);

    /* Resize the live block p (never NULL) to n bytes; *out is the block
     * afterwards.  HK_HEAP_REALLOC_IN_PLACE_ONLY: never move, fail with
     * HK_ERR_NO_MEMORY.  HK_HEAP_ZERO_MEMORY: zero the growth.  On failure
     * p is untouched.  Required. */
    int (*realloc)(void *bh, unsigned flags, void *p, size_t n, void **out);

    /* Free the live block p (never NULL).  Required. */
    int (*free)(void *bh, unsigned flags, void *p);

    /* The size requested for the live block p into *n.  Required. */
    int (*size)(void *bh, unsigned flags, const void *p, size_t *n);

    /* p != NULL: HK_OK if p starts a live block of this heap whose header
     * is intact.  p == NULL: check the whole heap.  A damaged header gives
     * HK_ERR_HEAP_CORRUPT.  May be NULL: the core answers HK_OK for the
     * heap and asks `size` for a block. */
    int (*validate)(void *bh, unsigned flags, const void *p);

    /* Largest free block into *largest.  May be NULL:
     * HK_ERR_NOT_SUPPORTED. */
    int (*compact)(void *bh, unsigned flags, size_t *largest);

    /* The heap's own recursive lock, which alloc/realloc/free/size/
     * validate/compact/walk/mark/release also take unless flags has
     * HK_HEAP_NO_SERIALIZE.  Both may be NULL (together): the core keeps a
     * recursive mutex per heap and holds it around every member. */
    int (*lock)(void *bh);
    int (*unlock)(void *bh);

    /* One HeapWalk step: e->data == NULL starts; otherwise e holds the
     * previous entry exactly as this member left it.  Fill the next entry
     * and return HK_OK, or HK_ERR_NO_MORE_ITEMS at the end.  May be NULL
     * (then caps lacks HK_CAP_WALK_ITERATE): the core takes a snapshot with
     * `visit` at the first step and steps through it. */
    int (*walk)(void *bh, hk_heap_entry *e);

    /* Call fn for every entry, in walk order, until fn returns nonzero.
     * May be NULL: the core loops over `walk`.  One of walk/visit is
     * required. */
    int (*visit)(void *bh, hk_visit_fn fn, void *arg);

    /* Mark/release (HK_CAP_MARK_RELEASE).  May be NULL:
     * HK_ERR_NOT_SUPPORTED. */
    int (*mark)(void *bh, uintptr_t *mark);
    int (*release)(void *bh, uintptr_t mark);

    /* The backend's process heap into *bh: a heap that lives as long as
     * the process and that nobody destroys.  May be NULL: the core makes
     * one with create(0, 0, 0) on first use. */
    int (*process_heap)(void **bh);

    /* OS heaps of the process that heapkit did not create (Windows'
     * GetProcessHeaps).  Fills bh[0..n) only if they fit and returns how
     * many there are.  May be NULL: there are none. */
    size_t (*os_heaps)(void **bh, size_t n);

    /* ---- version 2: optional fast entries (both may be NULL) ----------
     * hk_alloc/hk_free on a heap that needs nothing more from the core
     * (the backend has its own lock or the heap has
     * HK_HEAP_NO_SERIALIZE; any thread may allocate; the Heap Debugger
     * is off) jump here straight after the handle and flags checks, with
     * the public call's arguments in the public order and bh last:
     *   - flags are the call's only, already checked: alloc may see
     *     HK_HEAP_NO_SERIALIZE, HK_HEAP_ZERO_MEMORY and
     *     HK_HEAP_GENERATE_EXCEPTIONS, free HK_HEAP_NO_SERIALIZE and
     *     HK_HEAP_GENERATE_EXCEPTIONS.  The heap's creation flags are NOT
     *     merged in: honour the HK_HEAP_NO_SERIALIZE given to `create`.
     *     Ignore HK_HEAP_GENERATE_EXCEPTIONS (failures go to the core);
     *   - n may be anything; p may be anything, NULL included;
     *   - the return value is hk_alloc's / hk_free's own: the block, or 1.
     * On any failure (no memory, p not a live block of this heap, ...)
     * leave the heap unchanged and return hk_alloc_full(h, flags, n) /
     * hk_free_full(h, flags, p) with the arguments as received: the core
     * then runs the full path (the `alloc`/`free` members), which sets the
     * last error and raises as the API says.  Without them hk_alloc/hk_free
     * take the full path on every call. */
    void *(*fast_alloc)(hk_heap *h, unsigned flags, size_t n, void *bh);
    int (*fast_free)(hk_heap *h, unsigned flags, void *p, void *bh);
} hk_backend;

/* hk_alloc and hk_free without the fast entries: every check, then the
 * backend's `alloc` / `free` member.  For a fast entry's failures; any
 * caller gets exactly hk_alloc's / hk_free's behaviour. */
HK_API void *hk_alloc_full(hk_heap *h, unsigned flags, size_t n);
HK_API int hk_free_full(hk_heap *h, unsigned flags, void *p);

/* Add a backend (the struct must outlive its heaps).  HK_ERR_INVALID_PARAMETER
 * for a malformed struct or a name in use, HK_ERR_NO_MEMORY when the table
 * is full. Returns 1 on success. */
HK_API int hk_backend_register(const hk_backend *backend);

#ifdef __cplusplus
}
#endif
#endif /* HEAPKIT_BACKEND_H */
