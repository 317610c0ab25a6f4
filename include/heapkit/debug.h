/*
 * heapkit/debug.h - the Heap Debugger.
 *
 * Include it LAST in a translation unit (after every system header), like
 * curl's memdebug.h: it maps that unit's malloc, calloc, realloc, free,
 * strdup, strndup, aligned_alloc, posix_memalign, free_sized (C23),
 * _aligned_malloc/_aligned_free (Windows), hk_alloc, hk_realloc, hk_free
 * exit, and HeapAlloc/HeapReAlloc/HeapFree (kernel32's on Windows,
 * heapkit/win32.h's elsewhere; include order free) onto the tracker,
 * which records every block with its caller
 * (__FILE__, __LINE__, __func__ and the return address).  At exit (and on
 * demand) it writes the diagnosis: blocks never freed, object instances
 * never freed, frees with a wrong declared size, frees that match no
 * allocation.  Define HK_DEBUG_NO_MACROS before including it to get the
 * functions without the renaming.
 *
 * hk heaps are tracked whether or not their calls go through the macros
 * (without them the caller is the return address and File is "?"), once
 * the debugger is active: from the first call of any function below, or
 * from the start when HEAPKIT_DEBUG=1.
 *
 * To bypass the macros for one call, parenthesize the name: (free)(p)
 * frees memory the tracker never saw (e.g. from libc's realpath) without
 * an FM entry.
 *
 * Environment (read once, when the debugger starts):
 *   HEAPKIT_DEBUG=1                 track hk heaps from the first hk_ call
 *   HEAPKIT_REPORT=path             append the report to path (default stderr)
 *   HEAPKIT_FORMAT=text|json        report format (default text)
 *   HEAPKIT_LANG=en|de              report language (default en)
 *   HEAPKIT_RECORD_ZERO_SIZE=1      report zero-size blocks too (default: not)
 *   HEAPKIT_ABORT_ON_WRONG_SIZE=N   on a wrong-size free: write the report,
 *                                   end the process with status N (0 = off)
 *   HEAPKIT_ABORT_ON_UNKNOWN_FREE=N the same for a free that matches nothing
 *   HEAPKIT_BREAK_ALLOC=N           stop in the debugger (SIGTRAP /
 *                                   DebugBreak) at allocation No. N
 *   HEAPKIT_MAX_ENTRIES=N           list at most N entries (problems first,
 *                                   then the oldest blocks) and at most
 *                                   min(N, 100) call sites; 0 = all
 *                                   (default 600)
 *   HEAPKIT_SNAPSHOT_ON=LIST        snapshots (hk_debug_snapshot) at exit,
 *                                   on a signal (SIGUSR1...), every N
 *                                   allocations: "exit,SIGUSR1,1000-allocs"
 *                                   (signal and N: under heapkit run)
 *   HEAPKIT_SNAPSHOT=path           their path (%p pid, %n number; default
 *                                   heapkit-snapshot.%p.%n.json)
 *
 * Report (text, English; HEAPKIT_LANG=de gives German):
 *
 *   HEAP DEBUGGER DIAGNOSIS:
 *      <R> pointers were registered
 *      <E> debug-entries available
 *     No  Pointer             Size  Flags  Caller              File            Line  Object
 *      2  0x55d0c1a3f2a0       256         0x55d0c19e1234      heapbug.c         16
 *
 * R counts every allocation observed, E the entries.  One entry per
 * problem, in sequence order:
 *   (no flag)  a block never freed; O when it is an object instance
 *              (HK_NEW), with its type in the Object column;
 *   S          the allocation of a block freed with a different declared
 *              size, and FS the free itself (size = the declared size);
 *   FM         a free that matches no live block (unknown, interior,
 *              double, another heap's); No is empty;
 * a block still live when its hk heap is destroyed is a leak of that heap
 * (Object column: heap:<backend>#<n>).  Entries past HEAPKIT_MAX_ENTRIES
 * are left out with one line saying how many.  Then a summary by call site:
 * its loss records (count, bytes, first and last allocation No. of the
 * blocks still held, largest first; First/Last are shown when a site has
 * more than one block or entries were left out) and the special lines:
 *   Program stopped by exit(N)           the exit status was not 0
 *   runtime-error <SIGNAL|EXCEPTION> at <address>   a fatal signal or an
 *                                        unhandled Windows exception
 *   internal error: out of memory, N operations not recorded
 *                                        the tracker's own memory ran out;
 *                                        from then on a free or realloc of
 *                                        a pointer it has no record of is
 *                                        passed to the C runtime when the
 *                                        runtime vouches for the block (no
 *                                        FM), else it is FM and kept
 *
 * JSON (HEAPKIT_FORMAT=json): one object per report,
 *   {"registered":R,"entries":[{"no":2|null,"pointer":"0x...","size":256,
 *     "flags":"", "caller":"0x...","function":"main"|null,"file":"heapbug.c",
 *     "line":16,"type":null,"heap":"malloc"}...],
 *    "entries_omitted":0,
 *    "sites":[{"file":..,"line":..,"function":..,"caller":..,"count":..,
 *     "bytes":..,"first":..,"last":..}...],"sites_omitted":0,
 *    "messages":["Program stopped by exit(3)"...]}
 */
#ifndef HEAPKIT_DEBUG_H
#define HEAPKIT_DEBUG_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../heapkit.h"
#if defined(_WIN32) && !defined(HK_DEBUG_NO_MACROS)
/* kernel32's declarations of HeapAlloc, HeapReAlloc and HeapFree before
 * the macros of the same names (a later <windows.h> declares them no
 * more); <heapapi.h> alone, not all of <windows.h> */
#  include <heapapi.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- control --------------------------------------------------------- */

/* 1: stop recording (blocks allocated now are never reported, also when
 * freed later); 0: record again.  Process-wide, nests like a counter. */
HK_API void hk_debug_suspend(int suspend);

/* Write the report now (as at exit).  Returns 1 if it was written. */
HK_API int hk_debug_report(void);

/* From now on, reports show only what is newer than this point.  Returns
 * the number of the last allocation before the mark. */
HK_API unsigned long hk_debug_checkpoint(void);

/* Write a snapshot of the heap now: one JSON document (schema
 * "heapkit-snapshot", version 1) with the live blocks (allocation number,
 * size, site, heap), their sites and stacks (symbolized), and the walk of
 * every heap that can be walked (hk heaps; on Windows the process's Win32
 * heaps too) as ranges per region.  path NULL: HEAPKIT_SNAPSHOT's path
 * (%p the pid, %n the snapshot's number; default
 * heapkit-snapshot.%p.%n.json).  Returns 1 if it was written, else 0 with
 * the last error set.  Not from a signal handler: HEAPKIT_SNAPSHOT_ON=SIG
 * (heapkit run --snapshot-on) takes one on a signal safely. */
HK_API int hk_debug_snapshot(const char *path);

/* Free p, declaring its size; a size that differs from the allocation
 * gives an S/FS pair in the report. */
HK_API void hk_free_sized(void *p, size_t n);

/* Counters, for tests and benchmarks. */
typedef struct hk_debug_stats {
    unsigned long registered;   /* allocations observed                    */
    unsigned long live;         /* records of live blocks                   */
    unsigned long entries;      /* entries the report would have now        */
    unsigned long missed;       /* operations not recorded (tracker OOM)    */
    size_t record_bytes;        /* bytes of tracker memory per live record  */
    unsigned long threads;      /* per-thread states held (threads alive    */
                                /* that allocated; freed at thread exit)    */
    size_t thread_bytes;        /* OS memory those states take              */
} hk_debug_stats;
HK_API void hk_debug_stats_get(hk_debug_stats *st);

/* Testing aid: the tracker's own allocator fails after n more requests
 * (n < 0: never).  What it cannot record is counted as missed. */
HK_API void hk_debug_fail_after(long n);

/* ---- the functions behind the macros ----------------------------------- */

#define HK_DBG_SITE const char *file, int line, const char *func
HK_API void *hk_dbg_malloc(size_t n, HK_DBG_SITE);
HK_API void *hk_dbg_calloc(size_t count, size_t n, HK_DBG_SITE);
HK_API void *hk_dbg_realloc(void *p, size_t n, HK_DBG_SITE);
HK_API void hk_dbg_free(void *p, HK_DBG_SITE);
HK_API void hk_dbg_free_sized(void *p, size_t n, HK_DBG_SITE);
HK_API char *hk_dbg_strdup(const char *s, HK_DBG_SITE);
HK_API char *hk_dbg_strndup(const char *s, size_t n, HK_DBG_SITE);
HK_API void *hk_dbg_aligned_alloc(size_t align, size_t n, HK_DBG_SITE);
HK_API int hk_dbg_posix_memalign(void **out, size_t align, size_t n, HK_DBG_SITE);
HK_API void hk_dbg_aligned_free(void *p, HK_DBG_SITE);
HK_API void *hk_dbg_new(size_t n, const char *type, HK_DBG_SITE);
HK_API void hk_dbg_delete(void *p, size_t n, HK_DBG_SITE);
HK_API void *hk_dbg_alloc(hk_heap *h, unsigned flags, size_t n, HK_DBG_SITE);
HK_API void *hk_dbg_heap_realloc(hk_heap *h, unsigned flags, void *p, size_t n, HK_DBG_SITE);
HK_API int hk_dbg_heap_free(hk_heap *h, unsigned flags, void *p, HK_DBG_SITE);
/* The Win32 heap functions behind the HeapAlloc, HeapReAlloc and HeapFree
 * macros.  On POSIX, heapkit/win32.h's heaps (hk heaps).  On Windows,
 * kernel32's: the real function is called and its block recorded; a
 * HeapFree or HeapReAlloc of a block the tracker never saw is passed on
 * when HeapValidate vouches for it (else it is FM and not passed on). */
HK_API void *hk_dbg_win_heap_alloc(void *heap, unsigned flags, size_t n, HK_DBG_SITE);
HK_API void *hk_dbg_win_heap_realloc(void *heap, unsigned flags, void *p, size_t n, HK_DBG_SITE);
HK_API int hk_dbg_win_heap_free(void *heap, unsigned flags, void *p, HK_DBG_SITE);
#if defined(__GNUC__)
__attribute__((noreturn))
#endif
HK_API void hk_dbg_exit(int status);

#define HK_DBG_HERE __FILE__, __LINE__, __func__

/* Object instances: a zeroed block recorded with its type name, and its
 * release, which checks the size against the type. */
#define HK_NEW(type) ((type *)hk_dbg_new(sizeof(type), #type, HK_DBG_HERE))
#define HK_DELETE(p) hk_dbg_delete((p), sizeof *(p), HK_DBG_HERE)

#ifndef HK_DEBUG_NO_MACROS
#  undef malloc
#  undef calloc
#  undef realloc
#  undef free
#  undef strdup
#  undef strndup
#  undef aligned_alloc
#  undef posix_memalign
#  undef free_sized
#  undef exit
#  define malloc(n)            hk_dbg_malloc((n), HK_DBG_HERE)
#  define calloc(c, n)         hk_dbg_calloc((c), (n), HK_DBG_HERE)
#  define realloc(p, n)        hk_dbg_realloc((p), (n), HK_DBG_HERE)
#  define free(p)              hk_dbg_free((p), HK_DBG_HERE)
#  define strdup(s)            hk_dbg_strdup((s), HK_DBG_HERE)
#  define strndup(s, n)        hk_dbg_strndup((s), (n), HK_DBG_HERE)
#  define aligned_alloc(a, n)  hk_dbg_aligned_alloc((a), (n), HK_DBG_HERE)
#  define posix_memalign(o, a, n) hk_dbg_posix_memalign((o), (a), (n), HK_DBG_HERE)
#  define free_sized(p, n)     hk_dbg_free_sized((p), (n), HK_DBG_HERE)
#  define hk_free_sized(p, n)  hk_dbg_free_sized((p), (n), HK_DBG_HERE)
#  define hk_alloc(h, f, n)    hk_dbg_alloc((h), (f), (n), HK_DBG_HERE)
#  define hk_realloc(h, f, p, n) hk_dbg_heap_realloc((h), (f), (p), (n), HK_DBG_HERE)
#  define hk_free(h, f, p)     hk_dbg_heap_free((h), (f), (p), HK_DBG_HERE)
#  define exit(s)              hk_dbg_exit(s)
#  undef HeapAlloc
#  undef HeapReAlloc
#  undef HeapFree
#  define HeapAlloc(h, f, n)   hk_dbg_win_heap_alloc((h), (f), (n), HK_DBG_HERE)
#  define HeapReAlloc(h, f, p, n) hk_dbg_win_heap_realloc((h), (f), (p), (n), HK_DBG_HERE)
#  define HeapFree(h, f, p)    hk_dbg_win_heap_free((h), (f), (p), HK_DBG_HERE)
#  ifdef _WIN32
#    undef _aligned_malloc
#    undef _aligned_free
#    define _aligned_malloc(n, a) hk_dbg_aligned_alloc((a), (n), HK_DBG_HERE)
#    define _aligned_free(p)      hk_dbg_aligned_free((p), HK_DBG_HERE)
#  endif
#endif

#ifdef __cplusplus
}
#  ifndef HK_DEBUG_NO_MACROS
/* std::malloc(n) becomes std::hk_dbg_malloc(n, ...): make those names
 * std's too, so C++ code that spells the std:: names still compiles. */
namespace std {
using ::hk_dbg_malloc;
using ::hk_dbg_calloc;
using ::hk_dbg_realloc;
using ::hk_dbg_free;
using ::hk_dbg_aligned_alloc;
using ::hk_dbg_exit;
}
#  endif
#endif
#endif /* HEAPKIT_DEBUG_H */
