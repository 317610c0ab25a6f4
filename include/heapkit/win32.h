/*
 * heapkit/win32.h - the Win32 heap API by its Win32 names, for POSIX.
 *
 * Include this instead of <windows.h> in code that uses HeapCreate,
 * HeapAlloc, HeapWalk ... and the same source builds unchanged:
 *   - on Windows this header just includes <windows.h> (the real heap);
 *   - elsewhere it declares the Win32 types, constants and functions as
 *     static inline wrappers over heapkit's "arena" backend, which follows
 *     the Win32 heap contract (link with -lheapkit).
 * Code that includes <windows.h> or <heapapi.h> itself builds unchanged
 * with `pkg-config --cflags --libs heapkit-win32`, whose include directory
 * (heapkit/win32/) has a <windows.h> that is this header.
 *
 * What is here: the Heap* functions, GetProcessHeap(s), HeapSetInformation
 * / HeapQueryInformation, HeapSummary, the Local* and Global* families
 * (fixed and moveable memory with lock counts), Get/SetLastError, the
 * types, HEAP_ / LMEM_ / GMEM_ / PROCESS_HEAP_ flags, ERROR_ and STATUS_
 * codes they use.
 *
 * Differences from Windows, by design: HEAP_CREATE_ENABLE_EXECUTE is
 * ignored (arena memory is never executable); GetProcessHeap() is heapkit's
 * process heap (the default backend, "arena" unless HEAPKIT_BACKEND says
 * otherwise); GetLastError() only reports what heapkit set.
 * HEAP_GENERATE_EXCEPTIONS calls the handler set with
 * hk_set_exception_handler (it may longjmp out: that is the POSIX
 * __except); without one, heapkit prints "exception STATUS_NO_MEMORY
 * (0xC0000017)" on stderr and aborts.  HeapEnableTerminationOnCorruption
 * ends the process with a message naming STATUS_HEAP_CORRUPTION.
 */
#ifndef HEAPKIT_WIN32_H
#define HEAPKIT_WIN32_H

#ifdef _WIN32
#  ifndef WIN32_LEAN_AND_MEAN
#    define WIN32_LEAN_AND_MEAN
#  endif
#  include <windows.h>
#else

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../heapkit.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- types (the Win64 sizes: LONG and DWORD are 32 bits) -------------- */
typedef int BOOL, *PBOOL, *LPBOOL;
typedef unsigned char BOOLEAN, *PBOOLEAN;
typedef uint8_t BYTE, *PBYTE, *LPBYTE;
typedef uint16_t WORD, *PWORD, *LPWORD;
typedef uint32_t DWORD, *PDWORD, *LPDWORD;
typedef int32_t LONG, *PLONG, *LPLONG;
typedef uint32_t ULONG, *PULONG;
typedef int INT;
typedef unsigned int UINT, *PUINT;
typedef char CHAR;
typedef uint16_t WCHAR;
typedef CHAR *LPSTR;
typedef const CHAR *LPCSTR;
typedef WCHAR *LPWSTR;
typedef const WCHAR *LPCWSTR;
typedef intptr_t INT_PTR, LONG_PTR;
typedef uintptr_t UINT_PTR, ULONG_PTR, DWORD_PTR;
typedef size_t SIZE_T, *PSIZE_T;
typedef ptrdiff_t SSIZE_T;
typedef void *HANDLE, *LPVOID, *PVOID, **PHANDLE;
typedef const void *LPCVOID;
typedef HANDLE HLOCAL, HGLOBAL;

#ifndef VOID
#  define VOID void
#endif
#ifndef CONST
#  define CONST const
#endif
#ifndef TRUE
#  define TRUE 1
#endif
#ifndef FALSE
#  define FALSE 0
#endif
#ifndef WINAPI
#  define WINAPI
#endif
#ifndef WINBASEAPI
#  define WINBASEAPI
#endif
#define INVALID_HANDLE_VALUE ((HANDLE)(LONG_PTR)-1)

#define MoveMemory(d, s, n)    memmove((d), (s), (n))
#define CopyMemory(d, s, n)    memcpy((d), (s), (n))
#define FillMemory(d, n, v)    memset((d), (v), (n))
#define ZeroMemory(d, n)       memset((d), 0, (n))
#define RtlMoveMemory          MoveMemory
#define RtlCopyMemory          CopyMemory
#define RtlFillMemory          FillMemory
#define RtlZeroMemory          ZeroMemory

/* ---- heap flags --------------------------------------------------------- */
#define HEAP_NO_SERIALIZE             0x00000001
#define HEAP_GROWABLE                 0x00000002
#define HEAP_GENERATE_EXCEPTIONS      0x00000004
#define HEAP_ZERO_MEMORY              0x00000008
#define HEAP_REALLOC_IN_PLACE_ONLY    0x00000010
#define HEAP_TAIL_CHECKING_ENABLED    0x00000020
#define HEAP_FREE_CHECKING_ENABLED    0x00000040
#define HEAP_DISABLE_COALESCE_ON_FREE 0x00000080
#define HEAP_CREATE_ALIGN_16          0x00010000
#define HEAP_CREATE_ENABLE_TRACING    0x00020000
#define HEAP_CREATE_ENABLE_EXECUTE    0x00040000
#define HEAP_MAXIMUM_TAG              0x0FFF
#define HEAP_PSEUDO_TAG_FLAG          0x8000
#define HEAP_TAG_SHIFT                18
#define HEAP_MAKE_TAG_FLAGS(b, o)     ((DWORD)((b) + ((o) << HEAP_TAG_SHIFT)))

#define PROCESS_HEAP_REGION            0x0001
#define PROCESS_HEAP_UNCOMMITTED_RANGE 0x0002
#define PROCESS_HEAP_ENTRY_BUSY        0x0004
#define PROCESS_HEAP_SEG_ALLOC         0x0008
#define PROCESS_HEAP_ENTRY_MOVEABLE    0x0010
#define PROCESS_HEAP_ENTRY_DDESHARE    0x0020

/* ---- LocalAlloc / GlobalAlloc flags ------------------------------------- */
#define LMEM_FIXED          0x0000
#define LMEM_MOVEABLE       0x0002
#define LMEM_NOCOMPACT      0x0010
#define LMEM_NODISCARD      0x0020
#define LMEM_ZEROINIT       0x0040
#define LMEM_MODIFY         0x0080
#define LMEM_DISCARDABLE    0x0F00
#define LMEM_VALID_FLAGS    0x0F72
#define LMEM_INVALID_HANDLE 0x8000
#define LMEM_DISCARDED      0x4000
#define LMEM_LOCKCOUNT      0x00FF
#define LHND                (LMEM_MOVEABLE | LMEM_ZEROINIT)
#define LPTR                (LMEM_FIXED | LMEM_ZEROINIT)
#define NONZEROLHND         (LMEM_MOVEABLE)
#define NONZEROLPTR         (LMEM_FIXED)

#define GMEM_FIXED          0x0000
#define GMEM_MOVEABLE       0x0002
#define GMEM_NOCOMPACT      0x0010
#define GMEM_NODISCARD      0x0020
#define GMEM_ZEROINIT       0x0040
#define GMEM_MODIFY         0x0080
#define GMEM_DISCARDABLE    0x0100
#define GMEM_NOT_BANKED     0x1000
#define GMEM_SHARE          0x2000
#define GMEM_DDESHARE       0x2000
#define GMEM_NOTIFY         0x4000
#define GMEM_LOWER          GMEM_NOT_BANKED
#define GMEM_VALID_FLAGS    0x7F72
#define GMEM_INVALID_HANDLE 0x8000
#define GMEM_DISCARDED      0x4000
#define GMEM_LOCKCOUNT      0x00FF
#define GHND                (GMEM_MOVEABLE | GMEM_ZEROINIT)
#define GPTR                (GMEM_FIXED | GMEM_ZEROINIT)

/* ---- errors and status codes -------------------------------------------- */
#define NO_ERROR                    0
#define ERROR_SUCCESS               0
#define ERROR_INVALID_FUNCTION      1
#define ERROR_INVALID_HANDLE        6
#define ERROR_NOT_ENOUGH_MEMORY     8
#define ERROR_INVALID_BLOCK         9
#define ERROR_INVALID_DATA          13
#define ERROR_OUTOFMEMORY           14
#define ERROR_GEN_FAILURE           31
#define ERROR_NOT_SUPPORTED         50
#define ERROR_INVALID_PARAMETER     87
#define ERROR_CALL_NOT_IMPLEMENTED  120
#define ERROR_INSUFFICIENT_BUFFER   122
#define ERROR_DISCARDED             157
#define ERROR_NOT_LOCKED            158
#define ERROR_NO_MORE_ITEMS         259
#define ERROR_INVALID_ADDRESS       487

#define STATUS_ACCESS_VIOLATION     ((DWORD)0xC0000005)
#define STATUS_NO_MEMORY            ((DWORD)0xC0000017)
#define STATUS_HEAP_CORRUPTION      ((DWORD)0xC0000374)

/* ---- HeapSetInformation / HeapQueryInformation / HeapSummary ------------ */
typedef enum _HEAP_INFORMATION_CLASS {
    HeapCompatibilityInformation = 0,
    HeapEnableTerminationOnCorruption = 1,
    HeapOptimizeResources = 3
} HEAP_INFORMATION_CLASS;

#define HEAP_OPTIMIZE_RESOURCES_CURRENT_VERSION 1
typedef struct _HEAP_OPTIMIZE_RESOURCES_INFORMATION {
    DWORD Version;
    DWORD Flags;
} HEAP_OPTIMIZE_RESOURCES_INFORMATION, *PHEAP_OPTIMIZE_RESOURCES_INFORMATION;

typedef struct _HEAP_SUMMARY {
    DWORD cb;
    SIZE_T cbAllocated;
    SIZE_T cbCommitted;
    SIZE_T cbReserved;
    SIZE_T cbMaxReserve;
} HEAP_SUMMARY, *PHEAP_SUMMARY, *LPHEAP_SUMMARY;

/* ---- PROCESS_HEAP_ENTRY -------------------------------------------------- */
/* The union members are named types declared outside the entry: C++
 * forbids types declared inside an anonymous union, and a C99 compiler
 * accepts the anonymous union itself only as an extension. */
typedef struct hk__w32_entry_block {
    HANDLE hMem;
    DWORD dwReserved[3];
} hk__w32_entry_block;

typedef struct hk__w32_entry_region {
    DWORD dwCommittedSize;
    DWORD dwUnCommittedSize;
    LPVOID lpFirstBlock;
    LPVOID lpLastBlock;
} hk__w32_entry_region;

#if defined(__GNUC__) && !defined(__cplusplus) \
    && (!defined(__STDC_VERSION__) || __STDC_VERSION__ < 201112L)
#  define HK__ANON_UNION __extension__ union
#else
#  define HK__ANON_UNION union
#endif

typedef struct _PROCESS_HEAP_ENTRY {
    LPVOID lpData;
    DWORD cbData;
    BYTE cbOverhead;
    BYTE iRegionIndex;
    WORD wFlags;
    HK__ANON_UNION {
        hk__w32_entry_block Block;
        hk__w32_entry_region Region;
    };
    /* heapkit's walk position (hk_heap_entry.walk_state): Windows keeps it
     * in the heap, heapkit in the entry; zeroed with the rest of it. */
    uintptr_t hk__walk_state[2];
} PROCESS_HEAP_ENTRY, *LPPROCESS_HEAP_ENTRY, *PPROCESS_HEAP_ENTRY;

#undef HK__ANON_UNION

/* ---- Local / Global memory: what the inline wrappers below call --------- */
/* The Local* and Global* families are one and the same on Win32, and so
 * here: fixed blocks are blocks of the process heap (the handle is the
 * pointer); a moveable block is a handle with a lock count, whose data
 * lives in the process heap and is reached through hk_mem_lock. */
HK_API HANDLE hk_mem_alloc(unsigned flags, size_t n);
HK_API HANDLE hk_mem_realloc(HANDLE mem, size_t n, unsigned flags);
HK_API HANDLE hk_mem_free(HANDLE mem);
HK_API LPVOID hk_mem_lock(HANDLE mem);
HK_API BOOL hk_mem_unlock(HANDLE mem);
HK_API SIZE_T hk_mem_size(HANDLE mem);
HK_API UINT hk_mem_flags(HANDLE mem);
HK_API HANDLE hk_mem_handle(LPCVOID p);
/* The moveable handle whose data starts at p, NULL for anything else. */
HK_API HANDLE hk_mem_moveable_of(LPCVOID p);

/* ---- functions ----------------------------------------------------------- */
static inline DWORD GetLastError(void) { return (DWORD)hk_last_error(); }
static inline void SetLastError(DWORD e) { hk_set_last_error((int)e); }

static inline HANDLE GetProcessHeap(void) { return (HANDLE)hk_process_heap(); }

static inline DWORD GetProcessHeaps(DWORD n, PHANDLE heaps)
{
    return (DWORD)hk_process_heaps((hk_heap **)heaps, n);
}

/* The other HEAP_* creation flags are accepted and have nothing to do:
 * blocks are always 16-byte aligned, arena memory is never executable,
 * heapkit checks blocks itself, and a growable heap is maximum == 0. */
static inline HANDLE HeapCreate(DWORD flags, SIZE_T initial, SIZE_T maximum)
{
    return (HANDLE)hk_heap_create("arena",
        flags & (HEAP_NO_SERIALIZE | HEAP_GENERATE_EXCEPTIONS), initial, maximum);
}

static inline BOOL HeapDestroy(HANDLE h) { return hk_heap_destroy((hk_heap *)h); }

/* The names in parentheses: heapkit/debug.h, included before or after
 * this header, maps a unit's HeapAlloc, HeapReAlloc, HeapFree, hk_alloc,
 * hk_realloc and hk_free calls onto the tracker by function-like macros;
 * here they must stay the functions (the caller's place is the macro's). */
static inline LPVOID (HeapAlloc)(HANDLE h, DWORD flags, SIZE_T n)
{
    return (hk_alloc)((hk_heap *)h, flags, n);
}

static inline LPVOID (HeapReAlloc)(HANDLE h, DWORD flags, LPVOID p, SIZE_T n)
{
    return (hk_realloc)((hk_heap *)h, flags, p, n);
}

static inline BOOL (HeapFree)(HANDLE h, DWORD flags, LPVOID p)
{
    return (hk_free)((hk_heap *)h, flags, p);
}

static inline SIZE_T HeapSize(HANDLE h, DWORD flags, LPCVOID p)
{
    return hk_size((hk_heap *)h, flags, p);
}

static inline BOOL HeapValidate(HANDLE h, DWORD flags, LPCVOID p)
{
    return hk_validate((hk_heap *)h, flags, p);
}

static inline SIZE_T HeapCompact(HANDLE h, DWORD flags)
{
    return hk_compact((hk_heap *)h, flags);
}

static inline BOOL HeapLock(HANDLE h) { return hk_lock((hk_heap *)h); }
static inline BOOL HeapUnlock(HANDLE h) { return hk_unlock((hk_heap *)h); }

/* The entry carries the walk's position (lpData, wFlags and the private
 * hk__walk_state), as hk_walk's entry does; every backend relies on it. */
static inline BOOL HeapWalk(HANDLE h, LPPROCESS_HEAP_ENTRY pe)
{
    hk_heap_entry e;
    if (!pe) {
        hk_set_last_error(HK_ERR_INVALID_PARAMETER);
        return FALSE;
    }
    memset(&e, 0, sizeof e);
    e.data = pe->lpData;
    e.size = pe->cbData;
    e.overhead = pe->cbOverhead;
    e.region_index = pe->iRegionIndex;
    e.flags = (unsigned short)(pe->wFlags & ~PROCESS_HEAP_ENTRY_MOVEABLE);
    e.walk_state[0] = pe->hk__walk_state[0];
    e.walk_state[1] = pe->hk__walk_state[1];
    if (pe->wFlags & PROCESS_HEAP_REGION) {
        e.u.region.committed = pe->Region.dwCommittedSize;
        e.u.region.uncommitted = pe->Region.dwUnCommittedSize;
        e.u.region.first_block = pe->Region.lpFirstBlock;
        e.u.region.last_block = pe->Region.lpLastBlock;
    }
    if (!hk_walk((hk_heap *)h, &e))
        return FALSE;
    pe->lpData = e.data;
    pe->cbData = (DWORD)e.size;
    pe->cbOverhead = (BYTE)(e.overhead > 255 ? 255 : e.overhead);
    pe->iRegionIndex = (BYTE)e.region_index;
    pe->wFlags = e.flags;
    pe->hk__walk_state[0] = e.walk_state[0];
    pe->hk__walk_state[1] = e.walk_state[1];
    if (e.flags & PROCESS_HEAP_REGION) {
        pe->Region.dwCommittedSize = (DWORD)e.u.region.committed;
        pe->Region.dwUnCommittedSize = (DWORD)e.u.region.uncommitted;
        pe->Region.lpFirstBlock = e.u.region.first_block;
        pe->Region.lpLastBlock = e.u.region.last_block;
    } else {
        pe->Block.hMem = NULL;
        memset(pe->Block.dwReserved, 0, sizeof pe->Block.dwReserved);
        if (e.flags & PROCESS_HEAP_ENTRY_BUSY) {
            pe->Block.hMem = hk_mem_moveable_of(e.data);
            if (pe->Block.hMem)
                pe->wFlags |= PROCESS_HEAP_ENTRY_MOVEABLE;
        }
    }
    return TRUE;
}

/* HeapEnableTerminationOnCorruption applies to the whole process (h is
 * ignored, as on Windows); HeapCompatibilityInformation accepts the
 * standard heap (0) and the low-fragmentation heap (2), which is what
 * every heapkit heap already is; HeapOptimizeResources has nothing to do. */
static inline BOOL HeapSetInformation(HANDLE h, HEAP_INFORMATION_CLASS cls,
                                      PVOID info, SIZE_T len)
{
    switch (cls) {
    case HeapEnableTerminationOnCorruption:
        hk_terminate_on_corruption();
        return TRUE;
    case HeapCompatibilityInformation:
        if (!hk_heap_caps((hk_heap *)h))
            return FALSE;                       /* ERROR_INVALID_HANDLE */
        if (!info || len < sizeof(ULONG)) {
            hk_set_last_error(HK_ERR_INSUFFICIENT_BUFFER);
            return FALSE;
        }
        if (*(const ULONG *)info != 0 && *(const ULONG *)info != 2) {
            hk_set_last_error(HK_ERR_INVALID_PARAMETER);
            return FALSE;
        }
        return TRUE;
    case HeapOptimizeResources:
        if (!info || len < sizeof(HEAP_OPTIMIZE_RESOURCES_INFORMATION)) {
            hk_set_last_error(HK_ERR_INSUFFICIENT_BUFFER);
            return FALSE;
        }
        return TRUE;
    default:
        hk_set_last_error(HK_ERR_INVALID_PARAMETER);
        return FALSE;
    }
}

static inline BOOL HeapQueryInformation(HANDLE h, HEAP_INFORMATION_CLASS cls,
                                        PVOID info, SIZE_T len, PSIZE_T ret_len)
{
    if (cls != HeapCompatibilityInformation) {
        hk_set_last_error(HK_ERR_INVALID_PARAMETER);
        return FALSE;
    }
    if (!hk_heap_caps((hk_heap *)h))
        return FALSE;                           /* ERROR_INVALID_HANDLE */
    if (ret_len)
        *ret_len = sizeof(ULONG);
    if (!info || len < sizeof(ULONG)) {
        hk_set_last_error(HK_ERR_INSUFFICIENT_BUFFER);
        return FALSE;
    }
    *(ULONG *)info = 2;                         /* low fragmentation */
    return TRUE;
}

/* Windows' own HeapSummary: totals of a walk of the heap. */
static inline BOOL HeapSummary(HANDLE h, DWORD flags, LPHEAP_SUMMARY s)
{
    hk_heap_entry e;
    char *lo = NULL, *hi = NULL;
    int err;
    (void)flags;
    if (!s || s->cb != sizeof *s) {
        hk_set_last_error(HK_ERR_INVALID_PARAMETER);
        return FALSE;
    }
    s->cbAllocated = s->cbCommitted = s->cbReserved = s->cbMaxReserve = 0;
    memset(&e, 0, sizeof e);
    if (!hk_lock((hk_heap *)h))
        return FALSE;
    while (hk_walk((hk_heap *)h, &e)) {
        if (e.flags & HK_ENTRY_REGION) {
            lo = (char *)e.data;
            hi = (char *)e.u.region.last_block;
            s->cbCommitted += e.u.region.committed;
            s->cbReserved += e.u.region.committed + e.u.region.uncommitted;
        } else if (e.flags & HK_ENTRY_BUSY) {
            s->cbAllocated += e.size;
            if ((char *)e.data < lo || (char *)e.data >= hi) {
                /* a large block outside any region */
                s->cbCommitted += e.size + e.overhead;
                s->cbReserved += e.size + e.overhead;
            }
        }
    }
    err = hk_last_error();
    hk_unlock((hk_heap *)h);
    if (err != HK_ERR_NO_MORE_ITEMS) {
        hk_set_last_error(err);
        return FALSE;
    }
    s->cbMaxReserve = s->cbReserved;
    hk_set_last_error(HK_OK);
    return TRUE;
}

/* ---- Local* and Global* -------------------------------------------------- */
static inline HLOCAL LocalAlloc(UINT flags, SIZE_T n) { return hk_mem_alloc(flags, n); }
static inline HLOCAL LocalReAlloc(HLOCAL m, SIZE_T n, UINT flags) { return hk_mem_realloc(m, n, flags); }
static inline HLOCAL LocalFree(HLOCAL m) { return hk_mem_free(m); }
static inline LPVOID LocalLock(HLOCAL m) { return hk_mem_lock(m); }
static inline BOOL LocalUnlock(HLOCAL m) { return hk_mem_unlock(m); }
static inline SIZE_T LocalSize(HLOCAL m) { return hk_mem_size(m); }
static inline UINT LocalFlags(HLOCAL m) { return hk_mem_flags(m); }
static inline HLOCAL LocalHandle(LPCVOID p) { return hk_mem_handle(p); }

static inline HGLOBAL GlobalAlloc(UINT flags, SIZE_T n) { return hk_mem_alloc(flags, n); }
static inline HGLOBAL GlobalReAlloc(HGLOBAL m, SIZE_T n, UINT flags) { return hk_mem_realloc(m, n, flags); }
static inline HGLOBAL GlobalFree(HGLOBAL m) { return hk_mem_free(m); }
static inline LPVOID GlobalLock(HGLOBAL m) { return hk_mem_lock(m); }
static inline BOOL GlobalUnlock(HGLOBAL m) { return hk_mem_unlock(m); }
static inline SIZE_T GlobalSize(HGLOBAL m) { return hk_mem_size(m); }
static inline UINT GlobalFlags(HGLOBAL m) { return hk_mem_flags(m); }
static inline HGLOBAL GlobalHandle(LPCVOID p) { return hk_mem_handle(p); }

#ifdef __cplusplus
}
#endif
#endif /* !_WIN32 */
#endif /* HEAPKIT_WIN32_H */
