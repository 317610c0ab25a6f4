/*
 * heapkit.h - one heap API with Win32 heap semantics, on Windows and POSIX.
 *
 * A heap is created on a named backend ("win32", "arena", "mimalloc"; see
 * hk_backends()) and then used through the functions below, which behave like
 * their Win32 namesakes (HeapCreate, HeapAlloc, HeapWalk, ...).  Every
 * function checks its arguments: a bad heap handle, an unknown pointer or a
 * double free returns a failure and sets a named error code (hk_last_error),
 * it never crashes the process and never loses another block.
 *
 * Conventions
 *   - Functions that return int return 1 on success and 0 on failure
 *     (like Win32 BOOL); on failure hk_last_error() says why.
 *   - A successful call leaves the last error alone unless documented.
 *   - Error codes have the numeric values of the Win32 ERROR_* codes they
 *     stand for, so Win32 code can compare them directly.
 *   - The last error is per thread.
 */
#ifndef HEAPKIT_H
#define HEAPKIT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(HK_BUILDING) && defined(DLL_EXPORT)
#  define HK_API __declspec(dllexport)
#elif defined(HK_BUILDING) && defined(__GNUC__) && !defined(_WIN32)
#  define HK_API __attribute__((visibility("default")))
#else
#  define HK_API
#endif

#define HK_VERSION_MAJOR 0
#define HK_VERSION_MINOR 1
#define HK_VERSION_PATCH 0
#define HK_VERSION_STRING "0.1.0"
/* major * 10000 + minor * 100 + patch, for #if comparisons */
#define HK_VERSION_NUMBER \
    (HK_VERSION_MAJOR * 10000 + HK_VERSION_MINOR * 100 + HK_VERSION_PATCH)

/* ---- Error codes (values are the Win32 ERROR_* numbers) --------------- */
#define HK_OK                       0
#define HK_ERR_INVALID_HANDLE       6    /* not a live heap of this process   */
#define HK_ERR_NO_MEMORY            8    /* request cannot be satisfied       */
#define HK_ERR_HEAP_CORRUPT         13   /* a block header was overwritten    */
#define HK_ERR_NOT_SUPPORTED        50   /* the backend cannot do this        */
#define HK_ERR_INVALID_PARAMETER    87   /* bad pointer, flag or argument     */
#define HK_ERR_INSUFFICIENT_BUFFER  122  /* caller's buffer is too small      */
#define HK_ERR_NO_MORE_ITEMS        259  /* walk finished                     */

/* Status passed to the exception handler (Win32 STATUS_NO_MEMORY). */
#define HK_STATUS_NO_MEMORY         0xC0000017u

/* ---- Flags (values are the Win32 HEAP_* numbers) ----------------------- */
#define HK_HEAP_NO_SERIALIZE          0x00000001u /* skip the heap's lock   */
#define HK_HEAP_GENERATE_EXCEPTIONS   0x00000004u /* failure raises         */
#define HK_HEAP_ZERO_MEMORY           0x00000008u /* new bytes read as zero */
#define HK_HEAP_REALLOC_IN_PLACE_ONLY 0x00000010u /* never move on realloc  */

/* ---- Walk entry kinds (values are the Win32 PROCESS_HEAP_* numbers) ---- */
#define HK_ENTRY_FREE         0x0000u  /* a free block                      */
#define HK_ENTRY_REGION       0x0001u  /* start of a reserved region        */
#define HK_ENTRY_UNCOMMITTED  0x0002u  /* reserved, not committed range     */
#define HK_ENTRY_BUSY         0x0004u  /* a live (allocated) block          */

/* ---- Backend capabilities (hk_heap_caps / hk_backend_caps) ------------- */
#define HK_CAP_WALK_FREE        0x0001u /* walk reports free blocks         */
#define HK_CAP_WALK_UNCOMMITTED 0x0002u /* walk reports uncommitted ranges  */
#define HK_CAP_WALK_ITERATE     0x0004u /* hk_walk steps natively; without
                                           it hk_walk walks a snapshot taken
                                           at its first step                 */
#define HK_CAP_FIXED_SIZE       0x0008u /* maximum != 0 is honoured         */
#define HK_CAP_REALLOC_IN_PLACE 0x0010u /* realloc can grow in place        */
#define HK_CAP_ANY_THREAD       0x0020u /* any thread may allocate; without
                                           it only the creating thread may
                                           (others get HK_ERR_NOT_SUPPORTED);
                                           frees work from any thread        */
#define HK_CAP_VALIDATE         0x0040u /* hk_validate checks block headers */
#define HK_CAP_MARK_RELEASE     0x0080u /* hk_heap_mark / hk_heap_release   */
#define HK_CAP_OS_HEAP          0x0100u /* heaps are the OS's own heaps     */

typedef struct hk_heap hk_heap;  /* opaque heap handle */

/*
 * One walk entry, laid out like Win32's PROCESS_HEAP_ENTRY.
 *   data/size    REGION: region base, size of the region header.
 *                BUSY:   user pointer, size requested by the caller.
 *                FREE:   start of the free space, usable free bytes.
 *                UNCOMMITTED: start of the range, its length.
 *   overhead     bytes the heap spends on the entry beyond size.
 *   region_index index of the region the entry belongs to.
 *   flags        exactly one HK_ENTRY_* kind.
 * The walk keeps its position in the entry itself (data, flags and
 * walk_state); do not change them between calls.
 */
typedef struct hk_heap_entry {
    void          *data;
    size_t         size;
    size_t         overhead;
    unsigned short region_index;
    unsigned short flags;
    union {
        struct {
            void  *mem;           /* moveable handle; always NULL here */
            void  *reserved[3];
        } block;
        struct {
            size_t committed;     /* committed bytes in the region     */
            size_t uncommitted;   /* reserved minus committed          */
            void  *first_block;   /* first block of the region         */
            void  *last_block;    /* end of the reserved range         */
        } region;
    } u;
    uintptr_t      walk_state[2]; /* private to the walker              */
} hk_heap_entry;

/* Visitor for hk_visit: return 0 to go on, nonzero to stop the walk. */
typedef int (*hk_visit_fn)(const hk_heap_entry *entry, void *arg);

/* Called instead of returning NULL when a request made with
 * HK_HEAP_GENERATE_EXCEPTIONS fails.  code is HK_STATUS_NO_MEMORY, size the
 * request.  If the handler returns, the call fails normally (NULL + error). */
typedef void (*hk_exception_fn)(unsigned code, size_t size);

/* ---- Backends ---------------------------------------------------------- */

/* NULL-terminated list of the backend names this build has, default first. */
HK_API const char *const *hk_backends(void);

/* Name of the backend used when hk_heap_create is given NULL: the
 * HEAPKIT_BACKEND environment variable if it names one, else "win32" on
 * Windows and "arena" elsewhere (the first available one). */
HK_API const char *hk_default_backend(void);

/* HK_CAP_* bits of a backend by name; 0 and HK_ERR_INVALID_PARAMETER if the
 * name is unknown. */
HK_API unsigned hk_backend_caps(const char *backend);

/* ---- Heaps ------------------------------------------------------------- */

/* Create a heap (HeapCreate).  backend: a name from hk_backends(), or NULL
 * for the default.  flags: HK_HEAP_NO_SERIALIZE and/or
 * HK_HEAP_GENERATE_EXCEPTIONS, applied to every call on the heap.
 * initial: bytes to commit up front.  maximum: 0 for a growable heap, else
 * the heap's fixed size (HK_ERR_NOT_SUPPORTED where the backend lacks
 * HK_CAP_FIXED_SIZE).  Returns NULL on failure (HK_ERR_INVALID_PARAMETER for
 * an unknown backend or flag, HK_ERR_NO_MEMORY). */
HK_API hk_heap *hk_heap_create(const char *backend, unsigned flags,
                               size_t initial, size_t maximum);

/* Destroy a heap and every block in it (HeapDestroy).  The process heap and
 * heaps heapkit did not create cannot be destroyed: HK_ERR_INVALID_HANDLE. */
HK_API int hk_heap_destroy(hk_heap *heap);

/* The process heap of the default backend (GetProcessHeap).  Never NULL
 * unless the default backend cannot make one (then HK_ERR_NO_MEMORY). */
HK_API hk_heap *hk_process_heap(void);

/* All heaps of the process (GetProcessHeaps): the process heap first, then
 * every live heap; on Windows also the OS heaps heapkit did not create.
 * Returns the total count; fills heaps[0..n) only if the total fits in n.
 * heaps may be NULL when n is 0. */
HK_API size_t hk_process_heaps(hk_heap **heaps, size_t n);

/* Backend name and HK_CAP_* bits of a heap (NULL / 0 on a bad handle). */
HK_API const char *hk_heap_backend(hk_heap *heap);
HK_API unsigned hk_heap_caps(hk_heap *heap);

/* ---- Blocks ------------------------------------------------------------ */

/* Allocate n bytes, 16-byte aligned (HeapAlloc).  n == 0 gives a valid
 * block of size 0.  flags: HK_HEAP_ZERO_MEMORY, HK_HEAP_NO_SERIALIZE,
 * HK_HEAP_GENERATE_EXCEPTIONS.  NULL on failure: HK_ERR_NO_MEMORY,
 * HK_ERR_INVALID_HANDLE. */
HK_API void *hk_alloc(hk_heap *heap, unsigned flags, size_t n);

/* Resize a block (HeapReAlloc).  Keeps min(old, n) bytes; with
 * HK_HEAP_ZERO_MEMORY the growth reads as zero; with
 * HK_HEAP_REALLOC_IN_PLACE_ONLY the block never moves and the call fails
 * with HK_ERR_NO_MEMORY when it cannot grow in place.  On failure the block
 * is unchanged and still valid.  p == NULL: NULL, HK_ERR_INVALID_PARAMETER. */
HK_API void *hk_realloc(hk_heap *heap, unsigned flags, void *p, size_t n);

/* Free a block (HeapFree).  p == NULL succeeds and leaves the last error
 * alone.  A pointer that is not a live block of this heap (double free,
 * interior pointer, another heap's block) fails with
 * HK_ERR_INVALID_PARAMETER and changes nothing. */
HK_API int hk_free(hk_heap *heap, unsigned flags, void *p);

/* The size requested for a live block (HeapSize); (size_t)-1 and
 * HK_ERR_INVALID_PARAMETER for anything else. */
HK_API size_t hk_size(hk_heap *heap, unsigned flags, const void *p);

/* Check one block (p != NULL: is it the start of a live block of this heap?)
 * or, with p == NULL, the whole heap (HeapValidate).  Returns 1 if valid.
 * Never changes the last error. */
HK_API int hk_validate(hk_heap *heap, unsigned flags, const void *p);

/* Size of the largest free block after coalescing (HeapCompact); 0 if the
 * heap has none or the backend cannot tell (then HK_ERR_NOT_SUPPORTED). */
HK_API size_t hk_compact(hk_heap *heap, unsigned flags);

/* ---- Locking and walking ----------------------------------------------- */

/* Take / release the heap's recursive lock (HeapLock / HeapUnlock).  While
 * one thread holds it, other threads' calls on the heap wait, except calls
 * made with HK_HEAP_NO_SERIALIZE.  On a heap created with
 * HK_HEAP_NO_SERIALIZE both do nothing and succeed. */
HK_API int hk_lock(hk_heap *heap);
HK_API int hk_unlock(hk_heap *heap);

/* Step through a heap (HeapWalk).  Start with entry->data == NULL; each
 * call fills the next entry and returns 1; at the end it returns 0 with
 * HK_ERR_NO_MORE_ITEMS.  Per region: a REGION entry, its blocks in address
 * order (BUSY and FREE), then its UNCOMMITTED range; blocks outside regions
 * (large blocks) come last.  Backends without HK_CAP_WALK_FREE /
 * HK_CAP_WALK_UNCOMMITTED leave those kinds out.  Hold hk_lock around a
 * walk of a heap other threads use.  A corrupted heap ends the walk with
 * HK_ERR_HEAP_CORRUPT; an entry that matches nothing gives
 * HK_ERR_INVALID_PARAMETER. */
HK_API int hk_walk(hk_heap *heap, hk_heap_entry *entry);

/* Walk the whole heap, calling fn for each entry in hk_walk order.
 * Returns 1 when the walk completed or fn stopped it, 0 on error. */
HK_API int hk_visit(hk_heap *heap, hk_visit_fn fn, void *arg);

/* The classic heap-walk table of every heap of the process (the
 * hk_process_heaps list; on Windows the OS heaps too): each heap locked,
 * walked and unlocked, one row per entry with the columns heapno,
 * backend, dataptr, datasize, overhead, regindex, flags (REGION, BUSY,
 * FREE, UNCOMMITTED), committed, uncommitted, firstblock, lastblock (the
 * last four for REGION rows).  format: HK_TABLE_TEXT (aligned columns
 * under a header), HK_TABLE_CSV (a header line, then comma-separated
 * rows) or HK_TABLE_JSON (one object: {"heaps":N,"rows":[{...}]}).
 * Returns the number of rows written, or -1 (HK_ERR_INVALID_PARAMETER for
 * a bad format or NULL out, HK_ERR_NO_MEMORY). */
#define HK_TABLE_TEXT 0
#define HK_TABLE_CSV  1
#define HK_TABLE_JSON 2
HK_API long hk_walk_table(FILE *out, int format);

/* ---- Mark / Release ---------------------------------------------------- */

/* Remember the heap's state (returns a nonzero mark) ... */
HK_API uintptr_t hk_heap_mark(hk_heap *heap);
/* ... and free, in one step, every block allocated after that mark.
 * HK_ERR_NOT_SUPPORTED on backends without HK_CAP_MARK_RELEASE;
 * HK_ERR_INVALID_PARAMETER for a mark that is not live. */
HK_API int hk_heap_release(hk_heap *heap, uintptr_t mark);

/* ---- Errors ------------------------------------------------------------ */

/* The calling thread's last error (GetLastError) and its setter. */
HK_API int hk_last_error(void);
HK_API void hk_set_last_error(int err);

/* A short English description of an error code; never NULL. */
HK_API const char *hk_strerror(int err);

/* Install the handler for HK_HEAP_GENERATE_EXCEPTIONS failures; returns the
 * previous one.  NULL restores the default, which raises STATUS_NO_MEMORY on
 * Windows, and elsewhere prints "heapkit: exception STATUS_NO_MEMORY
 * (0xC0000017): ..." on stderr and calls abort().  The handler runs with no
 * heapkit lock held, so it may leave by longjmp: that is
 * how a POSIX program catches the exception. */
HK_API hk_exception_fn hk_set_exception_handler(hk_exception_fn fn);

/* From now on, any heapkit call that detects a corrupted heap
 * (HK_ERR_HEAP_CORRUPT) ends the process: a message naming
 * STATUS_HEAP_CORRUPTION on stderr, then abort().  Cannot be turned off
 * (Win32's HeapEnableTerminationOnCorruption).  HeapValidate/hk_validate
 * only report, they never terminate. */
HK_API void hk_terminate_on_corruption(void);

/* ---- Version ----------------------------------------------------------- */

/* The version of the library the program runs with ("0.1.0"); compare with
 * HK_VERSION_STRING, the one it was compiled against. */
HK_API const char *hk_version(void);

#ifdef __cplusplus
}
#endif
#endif /* HEAPKIT_H */
