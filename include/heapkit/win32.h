/*
 * heapkit/win32.h - the Win32 heap API by its Win32 names, for POSIX.
 *
 * Include this instead of <windows.h> in code that uses HeapCreate,
 * HeapAlloc, HeapWalk ... and the same source builds unchanged:
 *   - on Windows this header just includes <windows.h> (the real heap);
 *   - elsewhere it declares the Win32 types, constants and functions as
 *     static inline wrappers over heapkit's "arena" backend, which follows
 *     the Win32 heap contract (link with -lheapkit).
 *
 * Differences from Windows, by design: HEAP_CREATE_ENABLE_EXECUTE is
 * ignored (arena memory is never executable); GetProcessHeap() is heapkit's
 * process heap (the default backend, "arena" unless HEAPKIT_BACKEND says
 * otherwise); GetLastError() only reports what heapkit set.
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

typedef int BOOL;
typedef uint8_t BYTE;
typedef uint16_t WORD;
typedef uint32_t DWORD;
typedef size_t SIZE_T;
typedef void *HANDLE, *LPVOID, **PHANDLE;
typedef const void *LPCVOID;

#ifndef TRUE
#  define TRUE 1
#endif
#ifndef FALSE
#  define FALSE 0
#endif
#ifndef WINAPI
#  define WINAPI
#endif

#define HEAP_NO_SERIALIZE             0x00000001
#define HEAP_GENERATE_EXCEPTIONS      0x00000004
#define HEAP_ZERO_MEMORY              0x00000008
#define HEAP_REALLOC_IN_PLACE_ONLY    0x00000010
#define HEAP_CREATE_ENABLE_EXECUTE    0x00040000

#define PROCESS_HEAP_REGION            0x0001
#define PROCESS_HEAP_UNCOMMITTED_RANGE 0x0002
#define PROCESS_HEAP_ENTRY_BUSY        0x0004
#define PROCESS_HEAP_ENTRY_MOVEABLE    0x0010
#define PROCESS_HEAP_ENTRY_DDESHARE    0x0020

#define ERROR_SUCCESS               0
#define ERROR_INVALID_HANDLE        6
#define ERROR_NOT_ENOUGH_MEMORY     8
#define ERROR_INVALID_DATA          13
#define ERROR_NOT_SUPPORTED         50
#define ERROR_INVALID_PARAMETER     87
#define ERROR_INSUFFICIENT_BUFFER   122
#define ERROR_NO_MORE_ITEMS         259

#define STATUS_NO_MEMORY            ((DWORD)0xC0000017)

typedef struct _PROCESS_HEAP_ENTRY {
    LPVOID lpData;
    DWORD cbData;
    BYTE cbOverhead;
    BYTE iRegionIndex;
    WORD wFlags;
    union {
        struct {
            HANDLE hMem;
            DWORD dwReserved[3];
        } Block;
        struct {
            DWORD dwCommittedSize;
            DWORD dwUnCommittedSize;
            LPVOID lpFirstBlock;
            LPVOID lpLastBlock;
        } Region;
    };
} PROCESS_HEAP_ENTRY, *LPPROCESS_HEAP_ENTRY, *PPROCESS_HEAP_ENTRY;

static inline DWORD GetLastError(void) { return (DWORD)hk_last_error(); }
static inline void SetLastError(DWORD e) { hk_set_last_error((int)e); }

static inline HANDLE GetProcessHeap(void) { return (HANDLE)hk_process_heap(); }

static inline DWORD GetProcessHeaps(DWORD n, PHANDLE heaps)
{
    return (DWORD)hk_process_heaps((hk_heap **)heaps, n);
}

static inline HANDLE HeapCreate(DWORD flags, SIZE_T initial, SIZE_T maximum)
{
    return (HANDLE)hk_heap_create("arena",
        flags & (HEAP_NO_SERIALIZE | HEAP_GENERATE_EXCEPTIONS), initial, maximum);
}

static inline BOOL HeapDestroy(HANDLE h) { return hk_heap_destroy((hk_heap *)h); }

static inline LPVOID HeapAlloc(HANDLE h, DWORD flags, SIZE_T n)
{
    return hk_alloc((hk_heap *)h, flags, n);
}

static inline LPVOID HeapReAlloc(HANDLE h, DWORD flags, LPVOID p, SIZE_T n)
{
    return hk_realloc((hk_heap *)h, flags, p, n);
}

static inline BOOL HeapFree(HANDLE h, DWORD flags, LPVOID p)
{
    return hk_free((hk_heap *)h, flags, p);
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

/* The entry carries the walk's position (lpData + wFlags), as on Windows. */
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
    e.flags = pe->wFlags;
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
    if (e.flags & PROCESS_HEAP_REGION) {
        pe->Region.dwCommittedSize = (DWORD)e.u.region.committed;
        pe->Region.dwUnCommittedSize = (DWORD)e.u.region.uncommitted;
        pe->Region.lpFirstBlock = e.u.region.first_block;
        pe->Region.lpLastBlock = e.u.region.last_block;
    } else {
        pe->Block.hMem = NULL;
        memset(pe->Block.dwReserved, 0, sizeof pe->Block.dwReserved);
    }
    return TRUE;
}

#ifdef __cplusplus
}
#endif
#endif /* !_WIN32 */
#endif /* HEAPKIT_WIN32_H */
