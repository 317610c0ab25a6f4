/* tracker.h - the Heap Debugger's internals, shared by tracker.c (records),
 * report.c (the diagnosis) and debug.c (the malloc-family entry points). */
#ifndef HK_TRACKER_H
#define HK_TRACKER_H

#include "../internal.h"

#define HK_DEBUG_NO_MACROS       /* the library itself uses the real names */
#include "heapkit/debug.h"

/* Where a call came from: the macros give file/line/func, the return
 * address is always there. */
typedef struct hk__src {
    const char *file;
    const char *func;
    const char *type;          /* object instances (HK_NEW) */
    uintptr_t caller;
    int line;
    uint32_t stack;            /* stacks.c: the backtrace's id; 0 none */
} hk__src;

/* A call site, interned once; records and events hold its id. */
typedef struct hk__site {
    const char *file, *func, *type;
    uintptr_t caller;
    int line;
    uint32_t stack;            /* stacks.c: the backtrace's id; 0 none */
    int runtime;               /* a runtime's code (runtime.c): numbered apart */
} hk__site;

/* Allocation numbers: the program's count 1, 2, ... below HK__NO_RT; the
 * blocks a C or C++ runtime allocates itself (runtime.c) have numbers of
 * their own, HK__NO_RT | 1, 2, ..., shown "r1", "r2": what each OS's
 * runtimes allocate differs, the program's numbers stay the same. */
#define HK__NO_RT 0x80000000u
#define HK__NO_IS_RT(no) (((no) & HK__NO_RT) != 0)
/* 1: pc is a C or C++ runtime's code (once per call site; may take the
 * loader's lock, so never with a lock of the tracker's held). */
int hk__dbg_runtime_pc(uintptr_t pc);
#ifndef _WIN32
/* heapkit's own shared object's base, 0 where linked into the program. */
uintptr_t hk__dbg_self_base(void);
#endif

/* Record kinds (the low bits of hk__rec.meta). */
#define HK__K_IGNORE  0x1u   /* suspended or zero-size: matched, never reported */
#define HK__K_OBJECT  0x2u   /* HK_NEW instance */
#define HK__K_ALIGNED 0x4u   /* Windows _aligned_malloc: free with _aligned_free */
/* The allocating family (bits 3-4; the preload's C++ operators): a free by
 * another family's function is an FK event. */
#define HK__K_FAM_SHIFT 3
#define HK__K_NEW     0x8u   /* operator new */
#define HK__K_NEWARR  0x10u  /* operator new[] */
#define HK__REC_FAM(r) ((unsigned)(((r)->meta >> HK__K_FAM_SHIFT) & 0x3u))
/* HK__FAM_ALIGNED: Windows' _aligned_malloc under heapkit.exe run (both
 * family bits: the fast paths' NEW|NEWARR test sends it the slow way) */
enum { HK__FAM_MALLOC, HK__FAM_NEW, HK__FAM_NEWARR, HK__FAM_ALIGNED };

/* One live block: 24 bytes.  meta = size << 24 | heap << 8 | kind (bits
 * 3-7 unused). */
typedef struct hk__rec {
    uintptr_t ptr;
    uint64_t meta;
    uint32_t no;               /* allocation number */
    uint32_t site;
} hk__rec;

#define HK__REC_SIZE(r)  ((size_t)((r)->meta >> 24))
#define HK__REC_HEAP(r)  ((unsigned)(((r)->meta >> 8) & 0xFFFFu))
#define HK__REC_KIND(r)  ((unsigned)((r)->meta & 0x7u))
#define HK__META(size, heap, kind) \
    (((uint64_t)(size) << 24) | ((uint64_t)(heap) << 8) | (uint64_t)(kind))
#define HK__MAX_SIZE ((((uint64_t)1) << 40) - 1)

/* Heap ids: 0 is the C runtime's malloc; an hk heap is its slot + 1. */
#define HK__HEAP_MALLOC 0u

/* Events: what a report shows besides the live records. */
enum {
    HK__EV_S = 1,      /* allocation of a block freed with the wrong size */
    HK__EV_FS,         /* that free */
    HK__EV_FM,         /* a free that matched nothing */
    HK__EV_LEAK,       /* live when its hk heap was destroyed */
    HK__EV_FK          /* freed by another family's function (delete of a
                        * new[] block, free of a new block, ...) */
};

typedef struct hk__event {
    uint8_t kind;
    uint8_t rkind;             /* record kind bits of the block */
    uint16_t pad;              /* FK: allocating family | freeing family << 4 */
    uint32_t no;               /* S, LEAK, FK: the allocation number; else 0 */
    uint32_t after;            /* the last allocation number at the time */
    uint32_t site;
    uint64_t size;
    uintptr_t ptr;
    const char *heap_backend;  /* NULL: malloc */
    uint64_t heap_seq;
} hk__event;

/* The process-wide state the hot paths read. */
extern volatile int hk__dbg_active;     /* the debugger is running */

/* tracker.c */
void hk__dbg_start(void);               /* idempotent */
extern int hk__dbg_started;
extern volatile int hk__dbg_lost;       /* hk__dbg_records_lost() */
/* hk__dbg_start() where it has not run yet: one load on the hot paths. */
#define HK__DBG_START() \
    do { if (HK_UNLIKELY(!__atomic_load_n(&hk__dbg_started, __ATOMIC_ACQUIRE))) \
             hk__dbg_start(); } while (0)
void hk__dbg_autostart(void);           /* start if HEAPKIT_DEBUG=1 */
int hk__dbg_suspended(void);
/* Record a new block (IGNORE added when suspended / zero-size). */
void hk__dbg_add(void *p, size_t n, unsigned heap, unsigned kind, const hk__src *src);
/* Remove p's record into *out.  1 found (heap matched), 0 no record,
 * -1 a record of another heap (left in place). */
int hk__dbg_take(const void *p, unsigned heap, hk__rec *out);
/* hk__dbg_take after the fast path missed p in the caller's own table:
 * the table p's address hints at first. */
int hk__dbg_take_elsewhere(const void *p, unsigned heap, hk__rec *out);
/* Does p have a record of this heap?  Copies it into *out. */
int hk__dbg_peek(const void *p, unsigned heap, hk__rec *out);
/* Put a taken record back unchanged (a realloc that failed). */
void hk__dbg_put_back(const hk__rec *r);
/* Re-add a record (realloc): same number and kind, new place/size/site. */
void hk__dbg_readd(const hk__rec *old, void *p, size_t n, const hk__src *src);
/* Problems, reported at the time they happen (fail-fast lives here). */
void hk__dbg_wrong_size(const hk__rec *r, size_t declared, const hk__src *src);
void hk__dbg_unknown_free(const void *p, unsigned heap, const hk__src *src);
/* hk heaps: destroy turns live records into LEAK events; release drops
 * the records of blocks that are gone. */
void hk__dbg_heap_destroyed(hk_heap *h);
void hk__dbg_heap_released(hk_heap *h);

/* Iteration for the report: every live, non-ignored record; the events. */
typedef void (*hk__rec_fn)(const hk__rec *r, void *arg);
void hk__dbg_each_record(hk__rec_fn fn, void *arg, int locked);
size_t hk__dbg_events(const hk__event **out);
const hk__site *hk__dbg_site(uint32_t id);
uint32_t hk__dbg_nsites(void);          /* site ids are 1..this */
unsigned long hk__dbg_registered(void);
/* The calling thread's state (and alternate signal stack), made now. */
void hk__dbg_thread_setup(void);
/* No more thread-exit callbacks into this copy (a DLL being unloaded). */
void hk__dbg_threads_stop(void);
unsigned long hk__dbg_missed(void);
/* 1 once a block's record could not be kept (the tracker's memory ran
 * out): from then on a pointer without a record may be a live block. */
int hk__dbg_records_lost(void);
/* Record a block the tracker had no record of (a realloc passed on after
 * its memory ran out): a new number, not counted as registered again. */
void hk__dbg_adopt(void *p, size_t n, unsigned heap, const hk__src *src);
/* After records were lost: p goes back to the C runtime (note, before
 * the free), comes back from it (forget), was freed and not handed out
 * again since (recently). */
void hk__dbg_freed_note(const void *p);
void hk__dbg_freed_forget(const void *p);
int hk__dbg_freed_recently(const void *p);
/* A thread took p's record to free it and may not have freed it yet. */
int hk__dbg_being_freed(const void *p);
/* The block whose record this thread took last is freed (or kept). */
void hk__dbg_freeing_done(void);

/* The C runtime's allocator as the tracker calls it: plain malloc & co.,
 * except in the preload (HK_PRELOAD), where those names are the
 * preload's own entry points and the real allocator is glibc's
 * __libc_* functions or the HEAPKIT_BACKEND heap (src/preload/). */
#ifdef HK_PRELOAD
void *hk__rt_malloc(size_t n);
void *hk__rt_calloc(size_t c, size_t n);
void *hk__rt_realloc(void *p, size_t n);
void hk__rt_free(void *p);
void *hk__rt_memalign(size_t align, size_t n);
/* The preload's header mode (src/preload/header.c): a number and a
 * site for a block whose record is its header (the site: the stack's
 * when backtraces are on); *ignore: not to be listed (suspended, size 0). */
uint32_t hk__dbg_hdr_take(size_t n, const hk__src *src, uint32_t *site, unsigned *ignore);
uint32_t hk__dbg_hdr_site(size_t n, const hk__src *src, unsigned *ignore);
/* Header mode's malloc and operator new (fam: HK__FAM_*), outside the guard. */
void *hk__dbg_hdr_malloc(size_t n, unsigned fam, uintptr_t caller);
/* The guard's depth, read inline by the preload's malloc and free. */
extern __thread int hk__internal __attribute__((tls_model("initial-exec")));
#  define HK__RT_MALLOC(n)      hk__rt_malloc(n)
#  define HK__RT_CALLOC(c, n)   hk__rt_calloc((c), (n))
#  define HK__RT_REALLOC(p, n)  hk__rt_realloc((p), (n))
#  define HK__RT_FREE(p)        hk__rt_free(p)
#else
#  define HK__RT_MALLOC(n)      malloc(n)
#  define HK__RT_CALLOC(c, n)   calloc((c), (n))
#  define HK__RT_REALLOC(p, n)  realloc((p), (n))
#  define HK__RT_FREE(p)        free(p)
#endif

/* The internal guard: while the calling thread's depth is > 0 (the report
 * writer, anything at report or scan time that may allocate), the
 * preload passes malloc-family calls straight to the real allocator,
 * unrecorded.  A thread-local counter (initial-exec TLS); it nests. */
void hk__dbg_internal_enter(void);
void hk__dbg_internal_leave(void);
int hk__dbg_internal_depth(void);

/* Record p with record-kind bits (HK__K_NEW, ...); the preload's path. */
void *hk__dbg_record_kind(void *p, size_t n, unsigned kind, const hk__src *src);
/* Free p as family fam (HK__FAM_*): FM if unknown, FK if the block came
 * from another family, S/FS if sized and the size differs; the real free
 * unless FM.  */
void hk__dbg_free_fam(void *p, unsigned fam, int sized, size_t declared, const hk__src *src);
/* realloc with the caller's place (hk_dbg_realloc's body). */
void *hk__dbg_realloc_src(void *p, size_t n, const hk__src *src);
/* Report an FK: r's block freed by family fam at src. */
void hk__dbg_wrong_family(const hk__rec *r, unsigned fam, const hk__src *src);
/* fork: the tracker's locks held across fork() by one thread only
 * (prepare), released in parent and child. */
void hk__dbg_fork_prepare(void);
void hk__dbg_fork_release(void);
/* A copy of the library linked in statically, in a process that also has
 * libheapkit-preload.so: it records nothing itself and hands every
 * debug.h call, with its file and line, to the preload's tracker (one
 * record per block, one report).  NULL otherwise; set at start. */
typedef struct hk__dbg_fwd_t {
    void *(*malloc)(size_t, HK_DBG_SITE);
    void *(*calloc)(size_t, size_t, HK_DBG_SITE);
    void *(*realloc)(void *, size_t, HK_DBG_SITE);
    void (*free)(void *, HK_DBG_SITE);
    void (*free_sized)(void *, size_t, HK_DBG_SITE);
    char *(*strdup)(const char *, HK_DBG_SITE);
    char *(*strndup)(const char *, size_t, HK_DBG_SITE);
    void *(*aligned_alloc)(size_t, size_t, HK_DBG_SITE);
    int (*posix_memalign)(void **, size_t, size_t, HK_DBG_SITE);
    void (*aligned_free)(void *, HK_DBG_SITE);
    void *(*new_)(size_t, const char *, HK_DBG_SITE);
    void (*delete_)(void *, size_t, HK_DBG_SITE);
    void (*exit)(int);
    void (*suspend)(int);
    int (*report)(void);
    unsigned long (*checkpoint)(void);
    void (*stats)(hk_debug_stats *);
    int (*snapshot)(const char *);
} hk__dbg_fwd_t;
extern const hk__dbg_fwd_t *hk__dbg_fwd;
#define HK__FWD(f) (HK_UNLIKELY(hk__dbg_fwd != NULL) && hk__dbg_fwd->f)


/* vouch.c: 1 if p is a live block of the C runtime's malloc, so free(p)
 * and realloc(p, n) are safe; 0 when that cannot be told for sure. */
int hk__rt_vouches(const void *p);
/* The tracker's own memory: straight from the OS, never from a heap it
 * tracks.  May fail on purpose (hk_debug_fail_after). */
void *hk__dbg_os_alloc(size_t n);
void *hk__dbg_os_alloc_raw(size_t n);
void hk__dbg_os_free(void *p, size_t n);
/* A growable array in that memory (snapshots, --walk-diff): elements of
 * each bytes; failed is set when it could not grow. */
typedef struct hk__dbg_vec {
    void *p;
    size_t n, cap, each;
    int failed;
} hk__dbg_vec;
/* Room for one more element at the end (not cleared), or NULL. */
void *hk__dbg_vec_push(hk__dbg_vec *v);
void hk__dbg_vec_free(hk__dbg_vec *v);

/* tracker.c: the stacks of the threads the tracker knows ([lo, hi), 0 0
 * when unknown) and their thread pointers, for the leak scan; fn runs
 * with the thread list locked. */
typedef void (*hk__stack_fn)(uintptr_t lo, uintptr_t hi, uintptr_t tp, void *arg);
void hk__dbg_each_thread_stack(hk__stack_fn fn, void *arg);
int hk__dbg_thread_stack_known(uintptr_t tp);
uintptr_t hk__dbg_stack_lo(void);       /* the calling thread's; 0 unknown */

/* leakscan.c: leak kinds.  hk__dbg_leak_scan classifies the live records
 * (1 done; 0 not on this platform or out of memory) and keeps the result
 * until the next scan; hk__dbg_leak_kind gives a record's kind, NONE when
 * it was not classified. */
enum { HK__LK_NONE = 0, HK__LK_DEFINITE = 1, HK__LK_INDIRECT = 2, HK__LK_REACHABLE = 3 };
#define HK__LK_ALL     ((1u << HK__LK_DEFINITE) | (1u << HK__LK_INDIRECT) | (1u << HK__LK_REACHABLE))
#define HK__LK_DEFAULT ((1u << HK__LK_DEFINITE) | (1u << HK__LK_INDIRECT))
extern unsigned hk__dbg_leak_kinds;     /* HEAPKIT_LEAK_KINDS: bit 1 << kind */
void hk__dbg_read_leak_kinds(void);
int hk__dbg_leak_scan(void);
/* At exit, before the report: the exiting thread's scan starts at its
 * innermost frame of the program's own, not in the C runtime's exit path
 * or heapkit's frames below it (dead slots there keep stale pointers). */
void hk__dbg_leak_exit_frames(void);
void hk__dbg_leak_scan_drop(void);
int hk__dbg_leak_scanned(void);         /* the kinds are known */
/* Before the report (not from a crash): zero this much stack below the
 * caller, so stale pointers of returned calls do not keep blocks. */
#define HK__SCRUB_BYTES 16384
void hk__dbg_stack_scrub(void);
unsigned hk__dbg_leak_kind(const hk__rec *r);
/* Listed as an entry and counted as a finding: unclassified, or a kind
 * HEAPKIT_LEAK_KINDS asks for. */
int hk__dbg_leak_is_finding(const hk__rec *r);

/* report.c */
typedef struct hk__dbg_config {
    int json, german, record_zero;
    int abort_wrong_size, abort_unknown_free;
    unsigned long break_alloc;
    unsigned long max_entries;          /* rows per table; 0: all */
    char report_path[1024];
    /* issue 11 (config.c reads them all) */
    int backtrace;                      /* HEAPKIT_BACKTRACE: frames, 0 = caller only */
    int error_exitcode;                 /* HEAPKIT_ERROR_EXITCODE: 0 = off */
    unsigned leak_kinds;                /* HEAPKIT_LEAK_KINDS: HK__LEAK_* bits */
    int backend;                        /* HEAPKIT_BACKEND (preload): HK__BACKEND_* */
    char suppressions[1024];            /* HEAPKIT_SUPPRESSIONS: "" = none */
    int suppressions_default;           /* HEAPKIT_SUPPRESSIONS_DEFAULT: the built-in set */
    /* HEAPKIT_SNAPSHOT_ON: exit, a signal, every N allocations (any of them) */
    int snapshot_exit, snapshot_signal;
    unsigned long long snapshot_allocs;
    char snapshot_path[1024];           /* HEAPKIT_SNAPSHOT: "" = the default */
    int walk_diff;                      /* HEAPKIT_WALK_DIFF (Windows hook DLL): walkdiff.c */
    int unwind_check;                   /* HEAPKIT_UNWIND_CHECK (Windows, tests): stacks.c */
} hk__dbg_config;
#define HK__SNAP_DEFAULT_PATH "heapkit-snapshot.%p.%n.json"
#define HK__LEAK_DEFINITE  1u
#define HK__LEAK_INDIRECT  2u
#define HK__LEAK_REACHABLE 4u
#define HK__LEAK_ALL       7u
#define HK__LEAK_DEFAULT   (HK__LEAK_DEFINITE | HK__LEAK_INDIRECT)
#define HK__BACKEND_GLIBC    0
#define HK__BACKEND_ARENA    1
#define HK__BACKEND_MIMALLOC 2
#define HK__MAX_BACKTRACE 64
/* The report's format version: 1 before issue 11 (no program/pid/schema). */
#define HK__REPORT_SCHEMA 2

/* config.c: every HEAPKIT_* variable into *cfg (values case-insensitive;
 * a bad value: one line on stderr and the default). */
void hk__cfg_read(hk__dbg_config *cfg);
/* The helpers it uses, for other settings.  An unset or empty variable
 * is the default, silently. */
/* hk__cfg_streq (ASCII, no case) and hk__cfg_error: internal.h. */
/* names: NULL-terminated; returns the index of the match, or dflt. */
int hk__cfg_choice(const char *var, const char *const *names, int dflt);
/* A decimal number in lo..hi, or dflt. */
unsigned long long hk__cfg_number(const char *var, unsigned long long lo,
                                  unsigned long long hi, unsigned long long dflt);
/* A number (not 0: on) or on|off|yes|no|true|false, or dflt. */
int hk__cfg_bool(const char *var, int dflt);
/* definite,indirect,reachable (comma list) | all | none, or dflt. */
unsigned hk__cfg_leak_kinds(const char *var, unsigned dflt);

/* A report a person can page through: every problem and the oldest leaks
 * up to this many rows (a few hundred lines); the loss records account for
 * the rest. */
#define HK__DEFAULT_MAX_ENTRIES 600
/* Loss records shown: the largest, at most this many (and at most
 * max_entries; all when that is 0), then one line for the rest. */
#define HK__MAX_SITES 100
#define HK__STR(x) #x
#define HK__XSTR(x) HK__STR(x)
extern hk__dbg_config hk__dbg_cfg;
extern unsigned long hk__dbg_mark_no;     /* checkpoint: allocation number */
extern uint32_t hk__dbg_mark_rt;          /* ... and the runtime's (HK__NO_RT | n) */
/* Made after the checkpoint: each series against its own mark. */
static inline int hk__dbg_past_mark(uint32_t no)
{
    return HK__NO_IS_RT(no) ? no > hk__dbg_mark_rt : no > hk__dbg_mark_no;
}
extern size_t hk__dbg_mark_event;         /* checkpoint: first event shown (tracker.c) */
void hk__dbg_install_exit_hooks(void);
/* The exit report (once), then the exit status HEAPKIT_ERROR_EXITCODE asks for. */
void hk__dbg_at_exit(void);
void hk__dbg_note_exit(int status);
/* Write the report; from a crash path (no locks, no stdio) when crashing. */
int hk__dbg_write_report(int crashing);
/* The number of entries that count as findings (FM, S/FS, leaks): what
 * HEAPKIT_ERROR_EXITCODE looks at.  Not from a crash path. */
int hk__dbg_findings(void);
/* report.c: the program's full path ("?" unknown), no heap, no stdio. */
const char *hk__dbg_program(void);
/* snapshot.c: write a snapshot (path NULL: HEAPKIT_SNAPSHOT's, numbered);
 * 1 written.  Not from a signal handler. */
int hk__dbg_snapshot(const char *path, const char *trigger);
/* HEAPKIT_SNAPSHOT_ON=exit: at exit, before the report. */
void hk__dbg_snapshot_at_exit(void);
/* Its signal and N-allocations triggers: the handler and the thread that
 * takes them (the preload's constructor, the hook DLL's start). */
void hk__dbg_snapshot_triggers(void);
/* Add a message line (fail-fast reasons); fixed storage. */
void hk__dbg_message(const char *en, const char *de, long arg);
/* End the process now with the report written (fail-fast). */
void hk__dbg_stop(int status);
/* Heap names for the report. */
int hk__heap_describe(unsigned heap, const char **backend, uint64_t *seq);
#ifdef _WIN32
/* debug.c: kernel32 heaps seen by the HeapAlloc macros get ids above the
 * hk heaps' (HK__W32_HEAP_ID0 + n); named kernel32#n+1 in the report. */
#define HK__W32_HEAP_ID0 0xC000u
#define HK__W32_HEAPS 256u
int hk__w32_heap_describe(unsigned heap, const char **backend, uint64_t *seq);
/* leakscan.c: module m (an HMODULE) lies in the system directory (msvcrt,
 * kernel32, ntdll...), or its path is unknown.  The hook DLL leaves such
 * modules unpatched; the exit scan skips their frames. */
int hk__dbg_system_module(void *m);
/* The same for a module's file name already read (n wide characters,
 * GetModuleFileNameW's count; 0 or >= MAX_PATH: unknown). */
int hk__dbg_system_path(const wchar_t *path, unsigned long n);
#endif

/* walkdiff.c (HEAPKIT_WALK_DIFF, heapkit.exe run): the busy blocks of every
 * process heap at start (begin, from the hook DLL) and, just before the
 * exit report (end), those busy now that were not then and that no record
 * covers.  hk__walkdiff_blocks: their number, -1 when no walk was done
 * (off, Linux, a crash), -2 when OS memory ran out (the list is partial). */
typedef struct hk__untracked {
    uintptr_t ptr, heap;
    size_t size;
    unsigned nbytes;                    /* of bytes: the block's first ones */
    unsigned char bytes[16];
} hk__untracked;
void hk__walkdiff_begin(void);
void hk__walkdiff_end(void);
int hk__walkdiff_blocks(const hk__untracked **out);
void hk__walkdiff_heap_name(uintptr_t heap, char *buf, size_t cap);

/* debug.c: the hooks the core calls while the debugger is active. */
void hk__dbg_on_heap_alloc(hk_heap *h, void *p, size_t n, const hk__src *src, void *ret);
void hk__dbg_on_heap_realloc(hk_heap *h, void *p, void *q, size_t n, int err,
                             const hk__src *src, void *ret);
void hk__dbg_on_heap_free(hk_heap *h, void *p, int err, const hk__src *src, void *ret);
/* debug.c: the rest of hk_dbg_malloc / hk_dbg_free, whose common case is
 * in tracker.c.  Record p (a new block of n bytes); free p, whose record
 * the caller took already into *taken, or, NULL, not yet. */
void *hk__dbg_malloc_record(void *p, size_t n, const char *file, int line, const char *func,
                            uintptr_t caller);
void hk__dbg_free_rest(void *p, const hk__rec *taken, const char *file, int line,
                       const char *func, uintptr_t caller);

/* heap.c: the hk_* calls with the caller's place, for the macros. */
void *hk__alloc_src(hk_heap *h, unsigned flags, size_t n, const hk__src *src);
void *hk__realloc_src(hk_heap *h, unsigned flags, void *p, size_t n, const hk__src *src);
int hk__free_src(hk_heap *h, unsigned flags, void *p, const hk__src *src);

/* heap.c: the tracker's view of the heap table. */
unsigned hk__heap_id(const hk_heap *h);          /* slot + 1 */
hk_heap *hk__heap_from_id(unsigned id);          /* NULL if dead */

#endif
