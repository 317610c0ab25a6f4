/*
 * tracker.c - the Heap Debugger's records: one per live block, found by its
 * pointer in O(1), in memory taken straight from the OS.
 *
 * Why it looks like this:
 *  - 64 shards, picked by the pointer's hash, each with its own spin lock:
 *    no global lock on the hot path, and threads rarely meet.
 *  - A shard keeps its 24-byte records in one Robin Hood table, 75-90%
 *    full: a lookup is one or two cache lines, a live record costs 27-32
 *    bytes.
 *  - Allocation numbers come from a global counter in per-thread batches,
 *    so a thread takes no shared cache line per allocation; a single-
 *    threaded program still numbers its allocations 1, 2, 3, ...
 *  - Call sites are interned once (a per-thread cache in front of a global
 *    table), so a record holds a 32-bit site id.
 *  - A thread's state (number batch, site cache, alternate signal stack)
 *    is one piece of OS memory, given back when the thread ends (pthread
 *    key destructor / FLS callback); its counters are folded into global
 *    ones, so "registered" stays exact however many threads came and went.
 *  - Problems (wrong-size frees, unknown frees, leaks of destroyed heaps)
 *    go to an append-only event log; they are rare.
 */
#if !defined(_WIN32) && !defined(_GNU_SOURCE)
#  define _GNU_SOURCE 1           /* pthread_getattr_np */
#endif
#include "tracker.h"
#ifdef HK_PRELOAD
#  include "../preload/header.h"
#endif
#include "stacks.h"
#include "../prim/prim.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#  include <emmintrin.h>
#endif

#ifdef _WIN32
#  include <io.h>
#  include <windows.h>
#else
#  include <pthread.h>
#  include <signal.h>
#  include <unistd.h>
#  include <sched.h>
#  include <sys/syscall.h>
#  include <unistd.h>
#  ifndef HK_PRELOAD
#    include <dlfcn.h>
#  endif
#endif

volatile int hk__dbg_active;

/* ---- the tracker's own memory ------------------------------------------ */

static volatile long hk__fail_after = -1;     /* < 0: never fail */
static volatile unsigned long hk__missed_ops;

void hk_debug_fail_after(long n)
{
    hk__dbg_start();
    __atomic_store_n(&hk__fail_after, n, __ATOMIC_SEQ_CST);
}

void *hk__dbg_os_alloc(size_t n)
{
    long left = __atomic_load_n(&hk__fail_after, __ATOMIC_RELAXED);
    if (left >= 0) {
        if (left == 0)
            return NULL;
        __atomic_sub_fetch(&hk__fail_after, 1, __ATOMIC_RELAXED);
    }
    return hk__dbg_os_alloc_raw(n);
}

/* Never fails on purpose: the report's scratch memory must be there to
 * tell that the tracker's ran out. */
void *hk__dbg_os_alloc_raw(size_t n)
{
    return hk__prim_map(n, 0);
}

void hk__dbg_os_free(void *p, size_t n)
{
    hk__prim_unmap(p, n);
}

void *hk__dbg_vec_push(hk__dbg_vec *v)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 1024;
        void *np = hk__dbg_os_alloc(cap * v->each);
        if (!np) {
            v->failed = 1;
            return NULL;
        }
        if (v->p) {
            memcpy(np, v->p, v->n * v->each);
            hk__dbg_os_free(v->p, v->cap * v->each);
        }
        v->p = np;
        v->cap = cap;
    }
    return (char *)v->p + v->each * v->n++;
}

void hk__dbg_vec_free(hk__dbg_vec *v)
{
    if (v->p)
        hk__dbg_os_free(v->p, v->cap * v->each);
    v->p = NULL;
    v->n = v->cap = 0;
    v->failed = 0;
}

static void hk__count_missed(void)
{
    __atomic_add_fetch(&hk__missed_ops, 1, __ATOMIC_RELAXED);
}

unsigned long hk__dbg_missed(void)
{
    return __atomic_load_n(&hk__missed_ops, __ATOMIC_RELAXED);
}

/* ---- spin lock (short critical sections only) --------------------------- */

typedef volatile int hk__spin;

static void hk__spin_lock(hk__spin *l)
{
    int n = 0;
    if (HK_LIKELY(!__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE)))
        return;
    while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE)) {
        while (__atomic_load_n(l, __ATOMIC_RELAXED)) {
            if (++n < 16) {
#if defined(__x86_64__) || defined(__i386__)
                __builtin_ia32_pause();
#endif
            } else {
#ifdef _WIN32
                SwitchToThread();
#else
                sched_yield();
#endif
            }
        }
    }
}

static void hk__spin_unlock(hk__spin *l)
{
    __atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

/* ---- the gate: every reason for the slow way in one word ---------------- */

/* The fast paths run only while hk__gate equals the calling thread's
 * th->gate: one load and compare instead of a test per reason.  The
 * flags below keep it unequal to every thread's value; a checkpoint
 * adds HK__G_EPOCH, which voids every thread's batch of numbers.  Bit 0
 * is never set here: a thread without a batch holds 1. */
#define HK__G_NONE     1u            /* th->gate: no batch (never equal) */
#define HK__G_OFF      2u            /* the debugger has not started */
#define HK__G_LOST     4u            /* records were lost (hk__dbg_lost) */
#define HK__G_SUSPEND  8u            /* hk_debug_suspend(1) in force */
#define HK__G_BREAK    16u           /* HEAPKIT_BREAK_ALLOC set */
#define HK__G_FLAGS    31u
#define HK__G_EPOCH    32u

static volatile uint32_t hk__gate = HK__G_OFF;

static void hk__gate_set(uint32_t flag, int on)
{
    if (on)
        __atomic_fetch_or(&hk__gate, flag, __ATOMIC_SEQ_CST);
    else
        __atomic_fetch_and(&hk__gate, ~flag, __ATOMIC_SEQ_CST);
}

/* ---- start -------------------------------------------------------------- */

static hk__spin hk__start_lock;
int hk__dbg_started;                 /* tracker.h: HK__DBG_START */

const hk__dbg_fwd_t *hk__dbg_fwd;

#if !defined(_WIN32) && !defined(HK_PRELOAD)
/* libheapkit-preload.so in the process, and this copy is not the one the
 * program's calls bind to (a static link): the preload's functions. */
static int hk__fwd_find(void)
{
    static hk__dbg_fwd_t f;
    if (!dlsym(RTLD_DEFAULT, "hk__preload_present")
        || dlsym(RTLD_DEFAULT, "hk_dbg_malloc") == (void *)hk_dbg_malloc)
        return 0;
#  define HK__FWD_SYM(field, name) *(void **)&f.field = dlsym(RTLD_DEFAULT, name)
    HK__FWD_SYM(malloc, "hk_dbg_malloc");
    HK__FWD_SYM(calloc, "hk_dbg_calloc");
    HK__FWD_SYM(realloc, "hk_dbg_realloc");
    HK__FWD_SYM(free, "hk_dbg_free");
    HK__FWD_SYM(free_sized, "hk_dbg_free_sized");
    HK__FWD_SYM(strdup, "hk_dbg_strdup");
    HK__FWD_SYM(strndup, "hk_dbg_strndup");
    HK__FWD_SYM(aligned_alloc, "hk_dbg_aligned_alloc");
    HK__FWD_SYM(posix_memalign, "hk_dbg_posix_memalign");
    HK__FWD_SYM(aligned_free, "hk_dbg_aligned_free");
    HK__FWD_SYM(new_, "hk_dbg_new");
    HK__FWD_SYM(delete_, "hk_dbg_delete");
    HK__FWD_SYM(exit, "hk_dbg_exit");
    HK__FWD_SYM(suspend, "hk_debug_suspend");
    HK__FWD_SYM(report, "hk_debug_report");
    HK__FWD_SYM(checkpoint, "hk_debug_checkpoint");
    HK__FWD_SYM(stats, "hk_debug_stats_get");
    HK__FWD_SYM(snapshot, "hk_debug_snapshot");
#  undef HK__FWD_SYM
    if (!f.malloc || !f.free)
        return 0;
    __atomic_store_n(&hk__dbg_fwd, &f, __ATOMIC_RELEASE);
    return 1;
}
#else
static int hk__fwd_find(void) { return 0; }
#endif

void hk__dbg_start(void)
{
    if (__atomic_load_n(&hk__dbg_started, __ATOMIC_ACQUIRE))
        return;
    hk__spin_lock(&hk__start_lock);
    if (!hk__dbg_started && hk__fwd_find()) {
        /* nothing of ours runs: no exit hooks, no records, the gate stays
         * shut (every call takes the way that forwards) */
        __atomic_store_n(&hk__dbg_started, 1, __ATOMIC_RELEASE);
    }
    if (!hk__dbg_started) {
        hk__cfg_read(&hk__dbg_cfg);        /* config.c: every HEAPKIT_* variable */
        hk__dbg_read_leak_kinds();         /* leakscan.c: its mask, from the settings */
        hk__dbg_install_exit_hooks();
        __atomic_store_n(&hk__dbg_active, 1, __ATOMIC_RELEASE);
        hk__heaps_debug_on();
        hk__stacks_init();          /* before started: read without the lock */
        __atomic_store_n(&hk__dbg_started, 1, __ATOMIC_RELEASE);
        /* backtraces: the malloc fast path never finds a site (they are
         * kept by stack, hk__add_bt); frees keep theirs */
        hk__gate_set(HK__G_BREAK, hk__dbg_cfg.break_alloc != 0);
        hk__gate_set(HK__G_OFF, 0);
    }
    hk__spin_unlock(&hk__start_lock);
}

void hk__dbg_autostart(void)
{
    static int checked;
    if (!__atomic_load_n(&checked, __ATOMIC_ACQUIRE)) {
        if (hk__cfg_bool("HEAPKIT_DEBUG", 0))
            hk__dbg_start();
        __atomic_store_n(&checked, 1, __ATOMIC_RELEASE);
    }
}

/* ---- suspend ------------------------------------------------------------ */

static volatile int hk__suspend;
static hk__spin hk__suspend_lock;

/* The count and the gate's flag change together (under a lock): two
 * threads suspending and resuming at once leave them agreeing. */
void hk_debug_suspend(int suspend)
{
    hk__dbg_start();
    if (HK__FWD(suspend)) {
        hk__dbg_fwd->suspend(suspend);
        return;
    }
    hk__spin_lock(&hk__suspend_lock);
    if (suspend)
        __atomic_add_fetch(&hk__suspend, 1, __ATOMIC_SEQ_CST);
    else if (__atomic_load_n(&hk__suspend, __ATOMIC_SEQ_CST) > 0)
        __atomic_sub_fetch(&hk__suspend, 1, __ATOMIC_SEQ_CST);
    hk__gate_set(HK__G_SUSPEND, __atomic_load_n(&hk__suspend, __ATOMIC_SEQ_CST) > 0);
    hk__spin_unlock(&hk__suspend_lock);
}

int hk__dbg_suspended(void)
{
    return __atomic_load_n(&hk__suspend, __ATOMIC_RELAXED) > 0;
}

/* ---- the internal guard (tracker.h) -------------------------------------- */

/* initial-exec: a global-dynamic TLS access may call malloc, which in the
 * preload would come back here */
#ifdef _WIN32
static _Thread_local int hk__internal;
#elif defined(HK_PRELOAD)
/* the preload's malloc and free read it inline (tracker.h) */
__thread int hk__internal __attribute__((tls_model("initial-exec")));
#else
static __thread int hk__internal __attribute__((tls_model("initial-exec")));
#endif

void hk__dbg_internal_enter(void) { hk__internal++; }
void hk__dbg_internal_leave(void) { hk__internal--; }
int hk__dbg_internal_depth(void) { return hk__internal; }

/* ---- per-thread state: allocation numbers and the site cache ------------ */

/* Numbers come in batches of this many; the fast paths hand them out
 * (one compare per malloc), the slow way takes the next batch. */
#define HK__NO_BATCH 256u
#define HK__SITE_CACHE 64u

/* An empty slot has caller 0, which no call has: no separate valid flag. */
struct hk__site_slot {
    uintptr_t caller;
    const char *file, *type;
    int line;
    uint32_t id;
};

/* Backtraces on (stacks.c): a site is also its stack, so the thread's
 * sites by (caller, place, stack), apart from the cache above (whose
 * slots the malloc fast path reads without a stack). */
struct hk__bt_slot {
    uintptr_t caller;
    const char *file, *type;
    int line;
    uint32_t stack, id;
};

struct hk__tab;

/* The owner writes the number fields with relaxed atomic stores, other
 * threads read them (counters, checkpoints).  Nothing is counted per
 * allocation: registered = issued + (next_no - batch_start) - uncounted,
 * and the last number is next_no - 1 (prev_last before the batch's
 * first); seq is odd while the owner changes batch. */
struct hk__thread {
    uint32_t next_no;                /* the next number to hand out */
    uint32_t fast_end;               /* the fast paths hand out below this */
    uint32_t gate;                   /* hk__gate's epoch of the batch */
    uint32_t end_no;                 /* the batch's end */
    struct hk__tab *fast_tab;        /* never NULL: tab, or an empty one */
    uintptr_t freeing;               /* the block whose record this thread took
                                      * last (hk__dbg_being_freed) */
    uint32_t batch_start, prev_last;
    volatile unsigned seq;
    unsigned long issued;            /* numbers of earlier batches */
    unsigned long uncounted;         /* numbers not registered (adopted) */
    struct hk__site_slot cache[HK__SITE_CACHE];
    struct hk__bt_slot bt_cache[HK__SITE_CACHE];
    struct hk__thread *link;
    void *map;                       /* the OS memory: [guard][alt stack][this] */
    size_t map_size;
    void *alt;                       /* our alternate signal stack, if set up */
    struct hk__tab *tab;             /* this thread's records */
    uintptr_t stk_lo, stk_hi, tp;    /* its stack and thread pointer (leak scan) */
#ifdef _WIN32
    DWORD tid;
#endif
};

static volatile uint32_t hk__no_next = 1;
static struct hk__thread *hk__threads;
static hk__spin hk__threads_lock;
static struct hk__thread hk__fallback_thread;   /* when memory ran out */
static hk__spin hk__fallback_lock;

/* Threads that ended: their counters, folded in when their state went.
 * hk__threads_seq is odd while a thread leaves (readers retry), and
 * hk__threads_readers keeps the state of a leaving thread mapped until
 * no reader can be looking at it. */
static volatile unsigned long hk__dead_registered;
static volatile uint32_t hk__dead_last_no;
static volatile unsigned hk__threads_seq;
static volatile int hk__threads_readers;
static volatile size_t hk__thread_bytes;        /* OS memory of live states */
static volatile unsigned long hk__nthreads;

/* A thread without a state of its own points at this one: the fast
 * paths read it without a NULL test, and it sends them the slow way
 * (its gate never matches, it has no budget, its table is empty).  It is
 * never written. */
extern struct hk__tab hk__empty_tab;
static struct hk__thread hk__no_thread = {
    .gate = HK__G_NONE, .fast_tab = &hk__empty_tab
};

#if defined(__GNUC__) && !defined(_WIN32)
static __thread struct hk__thread *hk__me __attribute__((tls_model("initial-exec")))
    = &hk__no_thread;
#else
static _Thread_local struct hk__thread *hk__me = &hk__no_thread;
#endif

static void hk__yield(void)
{
#ifdef _WIN32
    SwitchToThread();
#else
    sched_yield();
#endif
}

#define HK__ALT_STACK (64u * 1024u)      /* room for the report writer */

static size_t hk__page(void)
{
    return hk__prim_page_size();
}

static void hk__thread_retire(struct hk__thread *t);
static void hk__thread_counts(struct hk__thread *t, unsigned long *reg, uint32_t *last);
static void hk__budget_return(struct hk__thread *th);
static struct hk__tab *hk__tab_get(void);
static void hk__tab_orphan(struct hk__tab *t);

/* The state goes when its thread ends: a pthread key destructor on POSIX;
 * on Windows an FLS callback, which needs no DLL entry point, so it works
 * in the static library and in an .exe (Wine too). */
#ifdef _WIN32
static DWORD hk__fls = FLS_OUT_OF_INDEXES;
static volatile int hk__fls_stopping;

static void WINAPI hk__thread_done(void *p)
{
    struct hk__thread *t = p;
    /* FlsFree (a DLL copy being unloaded) calls this for every thread's
     * value from the unloading thread, when this copy's thread-local
     * variables may be gone already: then the states stay (the module
     * goes with them); else only the owner retires its own */
    if (t && !__atomic_load_n(&hk__fls_stopping, __ATOMIC_ACQUIRE)
        && t->tid == GetCurrentThreadId())
        hk__thread_retire(t);
}

static int hk__key_ready(void)
{
    if (hk__fls == FLS_OUT_OF_INDEXES)
        hk__fls = FlsAlloc(hk__thread_done);
    return hk__fls != FLS_OUT_OF_INDEXES;
}

static void hk__key_set(struct hk__thread *t)
{
    t->tid = GetCurrentThreadId();
    if (hk__fls != FLS_OUT_OF_INDEXES)
        FlsSetValue(hk__fls, t);
}

/* The unhandled-exception filter runs on the faulting thread's stack; after
 * a stack overflow Windows leaves it only the thread's guarantee, so make
 * that room for the report (the writer itself needs about 2 KiB, the
 * exception dispatch a few more).  A program's larger guarantee stays, and
 * a small stack (under 16 times that) is left alone: it is the program's.
 * (Wine runs the filter with room to spare either way.) */
#define HK__STACK_GUARANTEE (16u * 1024u)

static void hk__alt_stack_setup(struct hk__thread *t, void *mem, size_t n)
{
    ULONG_PTR lo = 0, hi = 0;
    ULONG g = 0;
    (void)t, (void)mem, (void)n;
    GetCurrentThreadStackLimits(&lo, &hi);
    if (hi - lo >= 16 * HK__STACK_GUARANTEE && SetThreadStackGuarantee(&g)
        && g < HK__STACK_GUARANTEE) {
        g = HK__STACK_GUARANTEE;
        SetThreadStackGuarantee(&g);
    }
}

static int hk__alt_stack_drop(struct hk__thread *t) { (void)t; return 1; }

void hk__dbg_threads_stop(void)
{
    /* the callback lives in this module: no call into it once it is gone */
    DWORD k = hk__fls;
    __atomic_store_n(&hk__fls_stopping, 1, __ATOMIC_RELEASE);
    hk__fls = FLS_OUT_OF_INDEXES;
    if (k != FLS_OUT_OF_INDEXES)
        FlsFree(k);
}
#else
static pthread_key_t hk__key;
static volatile int hk__key_state;       /* 0 not yet, 1 ready, -1 failed */

static void hk__thread_done(void *p)
{
    if (p)
        hk__thread_retire(p);
}

static int hk__key_ready(void)          /* threads lock held */
{
    if (hk__key_state == 0)
        hk__key_state = pthread_key_create(&hk__key, hk__thread_done) == 0 ? 1 : -1;
    return hk__key_state > 0;
}

static void hk__key_set(struct hk__thread *t)
{
    if (hk__key_state > 0)
        pthread_setspecific(hk__key, t);
}

/* A stack overflow runs the fatal-signal handler on this stack; a thread
 * that set up its own alternate stack keeps it. */
static void hk__alt_stack_setup(struct hk__thread *t, void *mem, size_t n)
{
    stack_t ss, cur;
    if (!mem || sigaltstack(NULL, &cur) != 0 || !(cur.ss_flags & SS_DISABLE))
        return;
    ss.ss_sp = mem;
    ss.ss_size = n;
    ss.ss_flags = 0;
    if (sigaltstack(&ss, NULL) == 0)
        t->alt = mem;
}

/* Before the memory goes, a signal must not land on a freed stack: 1 if
 * ours is no longer the thread's alternate stack. */
static int hk__alt_stack_drop(struct hk__thread *t)
{
    stack_t cur, off;
    if (!t->alt)
        return 1;
    if (sigaltstack(NULL, &cur) != 0)
        return 0;
    if (cur.ss_sp != t->alt || (cur.ss_flags & SS_DISABLE))
        return 1;                    /* the program put its own in place */
    if (cur.ss_flags & SS_ONSTACK)
        return 0;
    memset(&off, 0, sizeof off);
    off.ss_flags = SS_DISABLE;
    return sigaltstack(&off, NULL) == 0;
}

void hk__dbg_threads_stop(void) { }
#endif

/* Where this thread's stack is, for the leak scan.  After hk__me is set:
 * pthread_getattr_np may call malloc, which then finds the state made;
 * the internal guard keeps that memory out of the program's records. */
static void hk__stack_note(struct hk__thread *t)
{
#if defined(__linux__) && defined(__GLIBC__)
    pthread_attr_t a;
    void *addr;
    size_t size;
    /* the main thread: its stack is the [stack] mapping, found at scan
     * time (pthread_getattr_np would read /proc/self/maps through stdio,
     * and libc's data kept a pointer to what it freed, which a block
     * handed out later held: a false "still reachable") */
    hk__dbg_internal_enter();
    if (getpid() != (pid_t)syscall(SYS_gettid) && pthread_getattr_np(pthread_self(), &a) == 0) {
        if (pthread_attr_getstack(&a, &addr, &size) == 0) {
            t->stk_lo = (uintptr_t)addr;
            t->stk_hi = (uintptr_t)addr + size;
        }
        pthread_attr_destroy(&a);
    }
    hk__dbg_internal_leave();
#  if defined(__x86_64__)
    __asm__ volatile ("mov %%fs:0, %0" : "=r"(t->tp));
#  endif
#elif defined(_WIN32)
    /* the TEB: its StackBase is the top; the bottom is where the stack's
     * reservation starts (StackLimit moves down as the stack grows), the
     * scan reads only its committed pages */
    MEMORY_BASIC_INFORMATION mi;
    NT_TIB *tib;
#  if defined(__x86_64__)
    __asm__ ("movq %%gs:0x30, %0" : "=r"(tib));      /* NtCurrentTeb, without gcc 12's warning */
#  else
    tib = (NT_TIB *)NtCurrentTeb();
#  endif
    t->tp = (uintptr_t)tib;
    if (VirtualQuery((char *)tib->StackBase - 1, &mi, sizeof mi) == sizeof mi) {
        t->stk_lo = (uintptr_t)mi.AllocationBase;
        t->stk_hi = (uintptr_t)tib->StackBase;
    }
#else
    (void)t;
#endif
}

void hk__dbg_each_thread_stack(hk__stack_fn fn, void *arg)
{
    struct hk__thread *t;
    hk__spin_lock(&hk__threads_lock);
    for (t = hk__threads; t; t = t->link)
        if (t->stk_hi > t->stk_lo || t->tp)
            fn(t->stk_lo, t->stk_hi, t->tp, arg);
    hk__spin_unlock(&hk__threads_lock);
}

uintptr_t hk__dbg_stack_lo(void)
{
    return hk__me->stk_hi > hk__me->stk_lo ? hk__me->stk_lo : 0;
}

int hk__dbg_thread_stack_known(uintptr_t tp)
{
    struct hk__thread *t;
    int known = 0;
    hk__spin_lock(&hk__threads_lock);
    for (t = hk__threads; t; t = t->link)
        known |= tp && t->tp == tp && t->stk_hi > t->stk_lo;
    hk__spin_unlock(&hk__threads_lock);
    return known;
}

/* The calling thread's state, made on its first use: the record numbers,
 * the site cache and the alternate signal stack, in one piece of OS
 * memory (a guard page below the stack catches a handler that overflows
 * it). */
static struct hk__thread *hk__thread_new(void)
{
    struct hk__thread *t;
    size_t page = hk__page(), body = (sizeof *t + page - 1) / page * page;
    size_t alt = 0, guard = 0, n;
    char *m;
#ifndef _WIN32
    alt = HK__ALT_STACK;
    guard = page;
#endif
    n = guard + alt + body;
    m = hk__dbg_os_alloc(n);
    if (!m)
        return NULL;
    if (guard && hk__prim_protect(m, guard, HK__PRIM_NONE) != HK_OK)
        alt = 0;
    t = (struct hk__thread *)(m + guard + alt);
    memset(t, 0, sizeof *t);
    t->gate = HK__G_NONE;
    t->fast_tab = &hk__empty_tab;
    t->map = m;
    t->map_size = n;
    hk__alt_stack_setup(t, alt ? m + guard : NULL, alt);
    hk__spin_lock(&hk__threads_lock);
    hk__key_ready();
    t->link = hk__threads;
    __atomic_store_n(&hk__threads, t, __ATOMIC_RELEASE);
    __atomic_add_fetch(&hk__thread_bytes, n, __ATOMIC_RELAXED);
    __atomic_add_fetch(&hk__nthreads, 1, __ATOMIC_RELAXED);
    hk__spin_unlock(&hk__threads_lock);
    hk__key_set(t);
    t->tab = hk__tab_get();
    hk__me = t;
    hk__stack_note(t);
    return t;
}

static struct hk__thread *hk__thread_get(void)
{
    struct hk__thread *t = hk__me;
    if (HK_LIKELY(t != &hk__no_thread))
        return t;
    return hk__thread_new();
}

void hk__dbg_thread_setup(void)
{
    hk__thread_get();
}

/* The thread ends: its counters go to the dead ones and its memory back
 * to the OS.  Exactly once per state, on its own thread. */
static void hk__thread_retire(struct hk__thread *t)
{
    struct hk__thread **pp;
    int may_free;
    unsigned long reg;
    uint32_t last;
    if (hk__me == t)
        hk__me = &hk__no_thread;
    hk__budget_return(t);
    t->fast_tab = &hk__empty_tab;
    hk__tab_orphan(t->tab);
    t->tab = NULL;
    hk__thread_counts(t, &reg, &last);
    may_free = hk__alt_stack_drop(t);
    hk__spin_lock(&hk__threads_lock);
    __atomic_add_fetch(&hk__threads_seq, 1, __ATOMIC_SEQ_CST);     /* odd */
    for (pp = &hk__threads; *pp && *pp != t; pp = &(*pp)->link)
        ;
    if (*pp)
        __atomic_store_n(pp, t->link, __ATOMIC_RELEASE);
    __atomic_add_fetch(&hk__dead_registered, reg, __ATOMIC_RELAXED);
    if (last > hk__dead_last_no)
        __atomic_store_n(&hk__dead_last_no, last, __ATOMIC_RELAXED);
    __atomic_sub_fetch(&hk__thread_bytes, t->map_size, __ATOMIC_RELAXED);
    __atomic_sub_fetch(&hk__nthreads, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&hk__threads_seq, 1, __ATOMIC_SEQ_CST);     /* even */
    hk__spin_unlock(&hk__threads_lock);
    /* a reader that came in before the unlink may still be on t */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    while (__atomic_load_n(&hk__threads_readers, __ATOMIC_SEQ_CST))
        hk__yield();
    if (may_free)                    /* else still the signal stack: kept */
        hk__dbg_os_free(t->map, t->map_size);
}

/* Sum over live and dead threads without a lock (the report may run in a
 * crash handler): retry while a thread is leaving, a bounded number of
 * times (generous: a slow reader, e.g. under TSan, among threads that
 * keep exiting must still see an exact, never decreasing sum). */
static void hk__threads_scan(unsigned long *registered, uint32_t *last)
{
    struct hk__thread *t;
    unsigned s1, s2;
    int tries = 0;
    __atomic_add_fetch(&hk__threads_readers, 1, __ATOMIC_SEQ_CST);
    for (;;) {
        unsigned long r;
        uint32_t l;
        s1 = __atomic_load_n(&hk__threads_seq, __ATOMIC_SEQ_CST);
        r = __atomic_load_n(&hk__dead_registered, __ATOMIC_RELAXED);
        l = __atomic_load_n(&hk__dead_last_no, __ATOMIC_RELAXED);
        for (t = __atomic_load_n(&hk__threads, __ATOMIC_ACQUIRE); t;
             t = __atomic_load_n(&t->link, __ATOMIC_ACQUIRE)) {
            unsigned long tr;
            uint32_t tl;
            hk__thread_counts(t, &tr, &tl);
            r += tr;
            if (tl > l)
                l = tl;
        }
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        s2 = __atomic_load_n(&hk__threads_seq, __ATOMIC_SEQ_CST);
        if ((s1 == s2 && !(s1 & 1)) || ++tries > 100000) {
            *registered = r;
            *last = l;
            break;
        }
        hk__yield();
    }
    __atomic_sub_fetch(&hk__threads_readers, 1, __ATOMIC_SEQ_CST);
}

/* Is another thread (or this one) freeing p this moment: its record just
 * taken, the C runtime's free perhaps not run yet?  Then p is no block
 * the tracker never saw (debug.c's hk__unrecorded_block). */
int hk__dbg_being_freed(const void *p)
{
    struct hk__thread *t;
    int found = 0;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    __atomic_add_fetch(&hk__threads_readers, 1, __ATOMIC_SEQ_CST);
    for (t = __atomic_load_n(&hk__threads, __ATOMIC_ACQUIRE); t && !found;
         t = __atomic_load_n(&t->link, __ATOMIC_ACQUIRE))
        found = t != hk__me           /* this thread is here, not in a free */
                && __atomic_load_n(&t->freeing, __ATOMIC_RELAXED) == (uintptr_t)p;
    __atomic_sub_fetch(&hk__threads_readers, 1, __ATOMIC_SEQ_CST);
    return found;
}

static void hk__break_here(void)
{
#ifdef _WIN32
    DebugBreak();
#else
    raise(SIGTRAP);
#endif
}

/* A thread's registered count and last number, read by any thread: a
 * consistent pair (retried while the owner changes batch). */
static void hk__thread_counts(struct hk__thread *t, unsigned long *reg, uint32_t *last)
{
    int tries = 0;
    for (;;) {
        unsigned s1 = __atomic_load_n(&t->seq, __ATOMIC_ACQUIRE);
        uint32_t next = __atomic_load_n(&t->next_no, __ATOMIC_RELAXED);
        uint32_t start = __atomic_load_n(&t->batch_start, __ATOMIC_RELAXED);
        uint32_t prev = __atomic_load_n(&t->prev_last, __ATOMIC_RELAXED);
        unsigned long issued = __atomic_load_n(&t->issued, __ATOMIC_RELAXED);
        unsigned long unc = __atomic_load_n(&t->uncounted, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if ((__atomic_load_n(&t->seq, __ATOMIC_RELAXED) == s1 && !(s1 & 1))
            || ++tries > 100000) {
            *reg = issued + (uint32_t)(next - start) - unc;
            *last = next != start ? next - 1 : prev;
            return;
        }
        hk__yield();
    }
}

/* The thread's next batch of numbers (the owner alone calls this). */
static void hk__no_batch(struct hk__thread *t, uint32_t epoch)
{
    uint32_t start = __atomic_fetch_add(&hk__no_next, HK__NO_BATCH, __ATOMIC_RELAXED);
    /* the program's numbers stay below the runtime's (HK__NO_RT): they
     * wrap to 1 there, a batch never straddles it */
    start = 1 + (start - 1) % ((HK__NO_RT - 1) / HK__NO_BATCH * HK__NO_BATCH);
    unsigned s = t->seq;
    hk__budget_return(t);
    __atomic_store_n(&t->seq, s + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&t->issued, t->issued + (uint32_t)(t->next_no - t->batch_start),
                     __ATOMIC_RELAXED);
    if (t->next_no != t->batch_start)
        __atomic_store_n(&t->prev_last, t->next_no - 1, __ATOMIC_RELAXED);
    __atomic_store_n(&t->batch_start, start, __ATOMIC_RELAXED);
    __atomic_store_n(&t->next_no, start, __ATOMIC_RELAXED);
    t->end_no = start + HK__NO_BATCH;
    t->gate = epoch;
    __atomic_store_n(&t->seq, s + 2, __ATOMIC_RELEASE);
}

/* The next allocation number from the thread's batch (a checkpoint voids
 * the batch); the slow way's, the fast paths count up next_no alone. */
static uint32_t hk__next_no(struct hk__thread *t, int count)
{
    uint32_t no, epoch = __atomic_load_n(&hk__gate, __ATOMIC_RELAXED) & ~HK__G_FLAGS;
    hk__budget_return(t);                   /* this number is not the budget's */
    if (HK_UNLIKELY(t->next_no == t->end_no || t->gate != epoch))
        hk__no_batch(t, epoch);
    no = t->next_no;
    __atomic_store_n(&t->next_no, no + 1, __ATOMIC_RELAXED);
    t->fast_end = no + 1;
    if (!count)
        __atomic_store_n(&t->uncounted, t->uncounted + 1, __ATOMIC_RELAXED);
    return no;
}

/* ... and the break at HEAPKIT_BREAK_ALLOC (the fast path runs only
 * without one). */
static uint32_t hk__take_no(struct hk__thread *t, int count)
{
    uint32_t no = hk__next_no(t, count);
    if (HK_UNLIKELY(hk__dbg_cfg.break_alloc != 0 && no == hk__dbg_cfg.break_alloc))
        hk__break_here();
    return no;
}

/* The runtime's blocks: numbers of their own, never the program's count
 * (registered) nor HEAPKIT_BREAK_ALLOC's; rare, so one shared counter. */
static volatile uint32_t hk__rt_next = 1;

static uint32_t hk__rt_no(void)
{
    uint32_t n = __atomic_fetch_add(&hk__rt_next, 1, __ATOMIC_RELAXED) & (HK__NO_RT - 1);
    return HK__NO_RT | (n ? n : 1);
}

unsigned long hk__dbg_registered(void)
{
    unsigned long n, fb;
    uint32_t last;
    hk__threads_scan(&n, &last);
    hk__thread_counts(&hk__fallback_thread, &fb, &last);
    return n + fb;
}

static uint32_t hk__last_no(void)
{
    struct hk__thread *t = hk__me;
    unsigned long reg;
    uint32_t last;
    hk__thread_counts(t != &hk__no_thread ? t : &hk__fallback_thread, &reg, &last);
    return last;
}

/* ---- call sites ---------------------------------------------------------- */

#define HK__SITE_CHUNK 1024u
#define HK__SITE_CHUNKS 1024u

static hk__site *hk__site_chunk[HK__SITE_CHUNKS];
static uint32_t hk__nsites;                 /* ids 1..hk__nsites are valid */
static uint32_t *hk__site_index;            /* open addressing, 0 = empty */
static uint32_t hk__site_icap;
static hk__spin hk__sites_lock;

static uint64_t hk__site_hash(const hk__src *s)
{
    uint64_t h = (uint64_t)s->caller * 0x9E3779B97F4A7C15ull;
    h ^= (uint64_t)(uintptr_t)s->file * 0xC2B2AE3D27D4EB4Full;
    h ^= (uint64_t)(unsigned)s->line * 0x165667B19E3779F9ull;
    h ^= (uint64_t)(uintptr_t)s->type * 0xD6E8FEB86659FD93ull;
    h ^= (uint64_t)s->stack * 0x9FB21C651E98DF25ull;
    return h ^ (h >> 29);
}

uint32_t hk__dbg_nsites(void)
{
    return __atomic_load_n(&hk__nsites, __ATOMIC_ACQUIRE);
}

/* A site known valid (interned by this thread, or read from its cache). */
static inline const hk__site *hk__site_at(uint32_t id)
{
    return &hk__site_chunk[(id - 1) / HK__SITE_CHUNK][(id - 1) % HK__SITE_CHUNK];
}

const hk__site *hk__dbg_site(uint32_t id)
{
    if (id == 0 || id > __atomic_load_n(&hk__nsites, __ATOMIC_ACQUIRE))
        return NULL;
    return hk__site_at(id);
}

static int hk__site_same(const hk__site *s, const hk__src *src)
{
    return s->caller == src->caller && s->file == src->file && s->line == src->line
        && s->type == src->type && s->stack == src->stack;
}

/* Global lock held. */
static int hk__site_index_grow(void)
{
    uint32_t ncap = hk__site_icap ? hk__site_icap * 2 : 1024, i;
    uint32_t *ni = hk__dbg_os_alloc(ncap * sizeof *ni);
    if (!ni)
        return 0;
    memset(ni, 0, ncap * sizeof *ni);
    for (i = 1; i <= hk__nsites; i++) {
        const hk__site *s = hk__dbg_site(i);
        hk__src k;
        uint32_t pos;
        k.caller = s->caller; k.file = s->file; k.line = s->line; k.type = s->type;
        k.stack = s->stack;
        pos = (uint32_t)hk__site_hash(&k) & (ncap - 1);
        while (ni[pos])
            pos = (pos + 1) & (ncap - 1);
        ni[pos] = i;
    }
    hk__dbg_os_free(hk__site_index, hk__site_icap * sizeof *ni);
    hk__site_index = ni;
    hk__site_icap = ncap;
    return 1;
}

static uint32_t hk__site_intern(const hk__src *src)
{
    uint64_t h = hk__site_hash(src);
    uint32_t pos, id = 0;
    int rt = -1;                            /* a runtime's code: not asked yet */
again:
    hk__spin_lock(&hk__sites_lock);
    if (hk__site_icap == 0 || (hk__nsites + 1) * 2 > hk__site_icap)
        if (!hk__site_index_grow())
            goto out;
    for (pos = (uint32_t)h & (hk__site_icap - 1); hk__site_index[pos];
         pos = (pos + 1) & (hk__site_icap - 1))
        if (hk__site_same(hk__dbg_site(hk__site_index[pos]), src)) {
            id = hk__site_index[pos];
            goto out;
        }
    if (rt < 0 && !src->file && src->caller) {
        /* a new site of a hook (no macro's place): whose code is it?
         * Asked without the lock (the loader's lock may be taken), inside
         * the internal guard (an allocation meanwhile is not recorded) */
        hk__spin_unlock(&hk__sites_lock);
        hk__dbg_internal_enter();
        rt = hk__dbg_runtime_pc(src->caller);
        hk__dbg_internal_leave();
        goto again;
    }
    {
        uint32_t c = hk__nsites / HK__SITE_CHUNK;
        hk__site *s;
        if (c >= HK__SITE_CHUNKS)
            goto out;
        if (!hk__site_chunk[c]) {
            hk__site_chunk[c] = hk__dbg_os_alloc(HK__SITE_CHUNK * sizeof(hk__site));
            if (!hk__site_chunk[c])
                goto out;
        }
        s = &hk__site_chunk[c][hk__nsites % HK__SITE_CHUNK];
        s->caller = src->caller;
        s->file = src->file;
        s->func = src->func;
        s->type = src->type;
        s->line = src->line;
        s->stack = src->stack;
        s->runtime = rt > 0;
        id = hk__nsites + 1;
        __atomic_store_n(&hk__nsites, id, __ATOMIC_RELEASE);
        hk__site_index[pos] = id;
    }
out:
    hk__spin_unlock(&hk__sites_lock);
    return id;
}


/* The line of a runtime's site in the thread's caches: no caller's line,
 * so the fast paths (which hand out the program's numbers) miss it. */
#define HK__LINE_RT INT_MIN

/* Slot c (either cache's kind) holds a runtime's site for this caller and
 * type: the marker, no file. */
#define HK__SLOT_RT(c, caller_, type_) \
    (!(c)->file && (c)->caller == (caller_) && (c)->line == HK__LINE_RT && (c)->type == (type_))

/* The line a slot stores for site id: the marker for a runtime's site. */
static inline int hk__slot_line(uint32_t id, int line)
{
    return hk__site_at(id)->runtime ? HK__LINE_RT : line;
}

/* Sites with a type (HK_NEW) in the cache's upper half, the others in
 * the lower: a malloc's slot never holds a typed site, so its fast path
 * needs no type test. */
static inline unsigned hk__slot_ix(uintptr_t caller, int line, const char *type)
{
    return (unsigned)(caller + (uintptr_t)line) % (HK__SITE_CACHE / 2)
         + (type ? HK__SITE_CACHE / 2 : 0);
}

static inline struct hk__bt_slot *hk__bt_slot_of(struct hk__thread *t, const hk__src *src,
                                                 uint32_t stack)
{
    return &t->bt_cache[((src->caller + (uintptr_t)src->line) * 0x9E3779B97F4A7C15ull
                         + stack * 0x85EBCA6Bu) >> 58];
}

/* The slot of src (whose stack is set) if it holds src's site, else NULL:
 * the one match of the three bt paths (site lookup, add, header malloc). */
static inline struct hk__bt_slot *hk__bt_slot_hit(struct hk__thread *t, const hk__src *src)
{
    struct hk__bt_slot *c = hk__bt_slot_of(t, src, src->stack);
    if (c->caller == src->caller && c->file == src->file && c->line == src->line
        && c->type == src->type && c->stack == src->stack)
        return c;
    return NULL;
}

/* The site is (caller, place, stack): the stack (the given one, else
 * taken now), then the thread's sites by all of them. */
static __attribute__((noinline)) uint32_t hk__site_of_bt(struct hk__thread *t, const hk__src *src)
{
    struct hk__bt_slot *c;
    hk__src k = *src;
    uint32_t id;
    if (!k.stack)
        k.stack = hk__stack_capture(src->caller);
    if (!t)
        return hk__site_intern(&k);
    c = hk__bt_slot_hit(t, &k);
    if (c)
        return c->id;
    c = hk__bt_slot_of(t, &k, k.stack);
    if (!k.file && HK__SLOT_RT(c, k.caller, k.type) && c->stack == k.stack)
        return c->id;                       /* a runtime's site */
    id = hk__site_intern(&k);
    if (id) {
        c->caller = 0;        /* a handler that allocates meanwhile misses it */
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        c->file = k.file;
        c->type = k.type;
        c->line = hk__slot_line(id, k.line);
        c->stack = k.stack;
        c->id = id;
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        c->caller = k.caller;
    }
    return id;
}

static uint32_t hk__site_of(struct hk__thread *t, const hk__src *src)
{
    struct hk__site_slot *c;
    uint32_t id;
    if (HK_UNLIKELY(__atomic_load_n(&hk__bt_depth, __ATOMIC_RELAXED) > 0))
        return hk__site_of_bt(t, src);
    if (!t)
        return hk__site_intern(src);
    c = &t->cache[hk__slot_ix(src->caller, src->line, src->type)];
    if (HK_LIKELY(c->caller == src->caller && c->file == src->file
                  && c->line == src->line && c->type == src->type))
        return c->id;
    if (!src->file && !src->line && HK__SLOT_RT(c, src->caller, src->type))
        return c->id;                       /* a runtime's site */
    id = hk__site_intern(src);
    if (id) {
        c->caller = src->caller;
        c->file = src->file;
        /* a runtime's site never matches the fast paths: its number is
         * not the batch's */
        c->line = hk__slot_line(id, src->line);
        c->type = src->type;
        c->id = id;
    }
    return id;
}

static inline int hk__site_rt(uint32_t id)
{
    return id && hk__site_at(id)->runtime;
}

/* The slow way's site and number: a runtime's site takes a runtime
 * number, any other the thread's batch (t NULL: the fallback's). */
static uint32_t hk__site_no(struct hk__thread *t, const hk__src *src, int count, uint32_t *site)
{
    uint32_t no;
    *site = hk__site_of(t, src);
    if (hk__site_rt(*site))
        return hk__rt_no();
    if (t)
        return hk__take_no(t, count);
    hk__spin_lock(&hk__fallback_lock);
    no = hk__take_no(&hk__fallback_thread, count);
    hk__spin_unlock(&hk__fallback_lock);
    return no;
}

/* ---- per-thread tables of records ----------------------------------------- */

/* Each thread records its allocations in a table of its own, so that its
 * mallocs and frees take no lock and write no shared cache line:
 *  - records lie in one reserved range of address space, committed as it
 *    grows, so they never move and id -> record is base + 24 * id; they
 *    are reused through a free list: 24 bytes per record, and a reader on
 *    another thread never sees one move;
 *  - an index of 32-bit entries, linear probing with tombstones (entries
 *    never move either, except in a rebuild): record id and 6 more bits of
 *    the pointer's hash, so a probe rarely reads a record that is not it.
 *    Runs do not wrap (slack entries after the end), so the fast paths
 *    look at 8 entries at once with no bounds test.  It is kept 56% to 72%
 *    full: a lookup reads one cache line of it, a live record costs
 *    24 + 4 / load, about 30 bytes;
 *  - the fast paths (hk_dbg_malloc, hk_dbg_free, hk__dbg_add) test one
 *    gate word for every process-wide reason to go the slow way and, in
 *    malloc, one budget the slow way sets (numbers left in the batch,
 *    records set aside on the free list, room in the index), and keep no
 *    counters: live and registered are derived when asked;
 *  - a free of another thread's block looks in the table the address
 *    hints at, then in the others, each under its spin lock (the index's
 *    place and size are copied to a line of their own, so such a reader
 *    does not touch the owner's), and marks the record gone with one CAS
 *    on its pointer (bit 0), then lists its id for the owner.  The owner
 *    lets the listed records go on its slow paths, in batches (and drops
 *    any marked record it meets in a probe or a rebuild).  The owner
 *    changes its index without the lock and takes the lock only to
 *    replace the index (a rebuild): that is all a reader on another
 *    thread must not see half done;
 *  - a thread's table outlives it: at thread exit it becomes shared
 *    (every change under its lock) until a new thread adopts it.
 * A pointer is freed by one thread at a time in a correct program; two
 * threads freeing the same block at the same moment are not told apart. */

#define HK__TAG_BITS 6u
#define HK__TAG_MASK ((1u << HK__TAG_BITS) - 1)
#define HK__E_EMPTY 0u
#define HK__E_TOMB 1u                        /* id 0, tag 1 */
#define HK__GONE ((uintptr_t)1)              /* rec.ptr bit 0: freed elsewhere */
/* Other threads hand the ids they marked gone back to the owner in a list
 * (appended under the table's lock); the owner swaps it for its spare one
 * on its slow path once HK__PEND_MIN wait and lets those records go, so
 * its index keeps few dead entries and the ids come back to its free list.
 * A list that cannot grow loses nothing: the owner drops marked records it
 * meets in a probe or a rebuild. */
#define HK__PEND_MIN 64u
/* Entries after the last home slot: runs end there instead of wrapping to
 * the start, and the last HK__WIN of them stay empty, so the 4-entry
 * window needs no bounds check and every run ends. */
#define HK__SLACK 64u
#define HK__WIN 8u
/* Record 0's heap: no block's (heap ids are 16 bits, hk heaps far fewer),
 * so free's fast path, which takes heap 0 only, needs no NULL test: a NULL
 * meets record 0 (ptr 0) through an empty entry and is refused here. */
#define HK__REC0_HEAP 0xFFFFu

struct __attribute__((aligned(64))) hk__tab {
    /* the owner's line: other threads only read it */
    volatile int shared;            /* no owner: every change under lock   */
    uint32_t cap, used;             /* home slots; index entries not empty */
    uint32_t limit;                 /* used < limit: room (72% of cap)     */
    uint32_t *idx;                  /* cap + HK__SLACK entries; idx[-1] is
                                       always empty (no test before a walk back) */
    hk__rec *recs;                  /* reserved once, committed as it grows */
    uint32_t nrec;                  /* ids below are handed out; 0: none   */
    uint32_t free_id;               /* free list head; 0: none             */
    uint32_t nfree;                 /* records on the free list            */
    uint32_t ncommit, nreserve;     /* records committed, reserved         */
    unsigned long cleaned;          /* gone records the owner dropped      */
    struct hk__tab *link;           /* every table, newest first           */
    struct hk__tab *orphan;         /* shared tables waiting for a thread  */
    /* idx, cap and shared as of the last change under the lock: what other
     * threads read, on a line nobody writes but then (not the owner's, so
     * they do not take it from the owner; not the lock's, so they can read
     * it to prefetch the index before the lock is theirs) */
    uint32_t *ridx __attribute__((aligned(64)));
    uint32_t rcap;
    int rshared;
    /* what other threads write, on a line of its own (no false sharing
     * with the owner's hot fields) */
    hk__spin lock __attribute__((aligned(64)));  /* rebuilds, other threads, shared use */
    unsigned long gone;             /* records marked gone by others        */
    uint32_t *pend;                 /* ids of the records marked gone       */
    uint32_t npend, pcap;
    uint32_t *spare;                /* the owner's: the list it drained last */
    uint32_t scap;
};

static struct hk__tab *volatile hk__tabs;    /* prepend only, never freed */
static struct hk__tab *hk__orphans;
static hk__spin hk__tabs_lock;
static struct hk__tab hk__fallback_tab = { .shared = 1, .rshared = 1 };  /* no thread state */
static volatile int hk__fallback_linked;

/* The table of hk__no_thread and of a thread whose table has no index yet:
 * its entries are all empty and its one record (id 0) is no block, so
 * every fast lookup misses.  Never written. */
static uint32_t hk__empty_idx[1 + HK__WIN];
static hk__rec hk__empty_rec = { 0, HK__META(0, HK__REC0_HEAP, 0), 0, 0 };
struct hk__tab hk__empty_tab = { .idx = hk__empty_idx + 1, .recs = &hk__empty_rec };

/* Which table first recorded a block in each 16 MiB of address space: a
 * free from another thread looks there first.  Allocators hand a thread
 * blocks from its own regions (glibc's arenas, mimalloc's pages), so the
 * hint is mostly right.  The first, not the last: glibc's thread cache
 * hands a thread the blocks it freed for others, so the last one to
 * record there is mostly the thread now freeing (measured: the last-writer
 * hint was right for 3% of the crossing frees, the first-writer one for
 * half).  Claimed once, given up when the table loses its thread; read
 * without a lock. */
#define HK__HINTS 4096u
static struct hk__tab *hk__hint[HK__HINTS];

static inline struct hk__tab **hk__hint_of(uintptr_t p)
{
    return &hk__hint[(p >> 24) & (HK__HINTS - 1)];
}

static inline void hk__hint_set(uintptr_t p, struct hk__tab *t)
{
    struct hk__tab **h = hk__hint_of(p);
    if (HK_UNLIKELY(!__atomic_load_n(h, __ATOMIC_RELAXED)))
        __atomic_store_n(h, t, __ATOMIC_RELAXED);
}

/* A table without owner leaves the hints: the next thread to record in
 * those places claims them. */
static void hk__hint_drop(struct hk__tab *t)
{
    unsigned i;
    for (i = 0; i < HK__HINTS; i++) {
        struct hk__tab *want = t;
        if (__atomic_load_n(&hk__hint[i], __ATOMIC_RELAXED) == t)
            __atomic_compare_exchange_n(&hk__hint[i], &want, NULL, 0, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED);
    }
}

static inline uint64_t hk__hash(uintptr_t p)
{
    return (uint64_t)(p >> 4) * 0x9E3779B97F4A7C15ull;
}

/* h scaled to [0, cap): the high half of a product (one multiply). */
static inline uint32_t hk__home(uint64_t h, uint32_t cap)
{
#ifdef __SIZEOF_INT128__
    return (uint32_t)((unsigned __int128)h * cap >> 64);
#else
    return (uint32_t)((h >> 32) * cap >> 32);
#endif
}

/* The tag: the 6 bits of h * cap after the home slot's (the same
 * multiply), so records sharing a home rarely share a tag.  A rebuild
 * (new cap) tags every entry anew. */
static inline uint32_t hk__tag(uint64_t h, uint32_t cap)
{
#ifdef __SIZEOF_INT128__
    return (uint32_t)((uint64_t)((unsigned __int128)h * cap) >> (64 - HK__TAG_BITS));
#else
    (void)cap;
    return (uint32_t)(h >> 20) & HK__TAG_MASK;
#endif
}

/* Runs do not wrap (HK__SLACK). */
static inline uint32_t hk__next(uint32_t pos, uint32_t cap)
{
    (void)cap;
    return pos + 1;
}

/* Index entry: record id << 6 | 6 bits of the pointer's hash.  Ids start
 * at 1: id 0 (empty, tombstone) is the table's record 0, never a block. */
static inline uint32_t hk__e_id(uint32_t e)
{
    return e >> HK__TAG_BITS;
}

/* The last position an entry may take (the window's entries after it
 * stay empty). */
static inline uint32_t hk__idx_last(uint32_t cap)
{
    return cap + HK__SLACK - HK__WIN - 1;
}

static inline size_t hk__idx_bytes(uint32_t cap)
{
    return (size_t)(1 + cap + HK__SLACK) * sizeof(uint32_t);
}

/* The fast paths look at the 8 entries from the home slot at once (x86:
 * two loads, compares into bit masks): how far a run goes then costs no
 * mispredicted branch, and a run longer than that is rare (a few in a
 * hundred at 72% full; 4 entries missed about 1 in 10).  Bit i: entry
 * home + i. */
#ifdef __SSE2__
static inline unsigned hk__mask4(__m128i c)
{
    return (unsigned)_mm_movemask_ps(_mm_castsi128_ps(c));
}

/* Empty or a tombstone: where an insert goes. */
static inline unsigned hk__win_free(const uint32_t *idx, uint32_t home)
{
    __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(idx + home));
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(idx + home + 4));
    __m128i z = _mm_setzero_si128();
    return hk__mask4(_mm_cmpeq_epi32(_mm_srli_epi32(a, HK__TAG_BITS), z))
         | hk__mask4(_mm_cmpeq_epi32(_mm_srli_epi32(b, HK__TAG_BITS), z)) << 4;
}

/* Entries with this tag (a tag-0 search also sees the empty ones, a tag-1
 * one the tombstones: their record 0 is no block, so they never match). */
static inline unsigned hk__win_tag(const uint32_t *idx, uint32_t home, uint32_t tag)
{
    __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(idx + home));
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(idx + home + 4));
    __m128i k = _mm_set1_epi32((int)HK__TAG_MASK), t = _mm_set1_epi32((int)tag);
    return hk__mask4(_mm_cmpeq_epi32(_mm_and_si128(a, k), t))
         | hk__mask4(_mm_cmpeq_epi32(_mm_and_si128(b, k), t)) << 4;
}
#else
static inline unsigned hk__win_free(const uint32_t *idx, uint32_t home)
{
    unsigned m = 0, i;
    for (i = 0; i < HK__WIN; i++)
        m |= (unsigned)(hk__e_id(idx[home + i]) == 0) << i;
    return m;
}

static inline unsigned hk__win_tag(const uint32_t *idx, uint32_t home, uint32_t tag)
{
    unsigned m = 0, i;
    for (i = 0; i < HK__WIN; i++)
        m |= (unsigned)((idx[home + i] & HK__TAG_MASK) == tag) << i;
    return m;
}
#endif

/* A line this thread is about to write: x86's PREFETCHW (a no-op on
 * CPUs without it; GCC emits it for __builtin_prefetch only when told the
 * CPU has it). */
static inline void hk__prefetch_w(const void *p)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __asm__ volatile("prefetchw %0" : : "m"(*(const char *)p));
#else
    __builtin_prefetch(p, 1);
#endif
}

static inline hk__rec *hk__rec_at(const struct hk__tab *t, uint32_t id)
{
    return &t->recs[id];
}

static inline uintptr_t hk__rec_ptr(const hk__rec *r)
{
    return __atomic_load_n(&r->ptr, __ATOMIC_ACQUIRE);
}

/* Records are read by other threads (lookups, reports) while the owner
 * writes: relaxed atomic accesses, plain moves on x86. */
static inline void hk__rec_load(const hk__rec *r, hk__rec *out)
{
    out->ptr = __atomic_load_n(&r->ptr, __ATOMIC_ACQUIRE);
    out->meta = __atomic_load_n(&r->meta, __ATOMIC_RELAXED);
    out->no = __atomic_load_n(&r->no, __ATOMIC_RELAXED);
    out->site = __atomic_load_n(&r->site, __ATOMIC_RELAXED);
}

static inline void hk__rec_store(hk__rec *r, const hk__rec *in)
{
    __atomic_store_n(&r->meta, in->meta, __ATOMIC_RELAXED);
    __atomic_store_n(&r->no, in->no, __ATOMIC_RELAXED);
    __atomic_store_n(&r->site, in->site, __ATOMIC_RELAXED);
    __atomic_store_n(&r->ptr, in->ptr, __ATOMIC_RELEASE);
}

static inline void hk__idx_set(struct hk__tab *t, uint32_t pos, uint32_t e)
{
    __atomic_store_n(&t->idx[pos], e, __ATOMIC_RELEASE);
}

/* A counter one thread writes and others read. */
static inline void hk__count(unsigned long *c, long d)
{
    __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + (unsigned long)d,
                     __ATOMIC_RELAXED);
}

/* Live records (in the index, some maybe marked gone): all handed out but
 * record 0 and the free ones.  Derived, so no path counts per call. */
static inline unsigned long hk__tab_live(const struct hk__tab *t)
{
    uint32_t n = __atomic_load_n(&t->nrec, __ATOMIC_RELAXED);
    return n ? (unsigned long)(n - 1 - t->nfree) : 0;
}

/* The free records the budget set aside and the fast path did not take
 * go back to the table's count (nfree counts the others, so the fast path
 * needs no count of its own).  Before the batch or the budget changes. */
static void hk__budget_return(struct hk__thread *th)
{
    if (th->fast_end != th->next_no && th->tab)
        th->tab->nfree += th->fast_end - th->next_no;
    th->fast_end = th->next_no;
}

/* ---- record memory: one reservation per table ---------------------------- */

/* A table's records lie in one range of address space reserved at its
 * first record and committed as it grows (straight from the OS, never a
 * tracked heap), so id -> record is one multiply-add and records never
 * move: a reader on another thread never sees one move. */
#if UINTPTR_MAX > 0xFFFFFFFFu
#define HK__MAX_RECS (1u << 26)
#else
#define HK__MAX_RECS (1u << 22)
#endif
#define HK__COMMIT0 1024u

/* hk_debug_fail_after: 1 if this piece of the tracker's memory is to fail. */
static int hk__os_fails(void)
{
    long left = __atomic_load_n(&hk__fail_after, __ATOMIC_RELAXED);
    if (left >= 0) {
        if (left == 0)
            return 1;
        __atomic_sub_fetch(&hk__fail_after, 1, __ATOMIC_RELAXED);
    }
    return 0;
}

static int hk__recs_reserve(struct hk__tab *t)
{
    uint32_t n;
    void *p = NULL;
    if (hk__os_fails())
        return 0;
    for (n = HK__MAX_RECS; n >= HK__COMMIT0 * 16 && !p; n /= 2) {
        p = hk__prim_reserve((size_t)n * sizeof(hk__rec), 0);
        if (p)
            t->nreserve = n;
    }
    if (!p)
        return 0;
    __atomic_store_n(&t->recs, (hk__rec *)p, __ATOMIC_RELEASE);
    return 1;
}

/* Room for at least one more record (owner, or lock held). */
static int hk__recs_commit(struct hk__tab *t)
{
    uint32_t add = t->ncommit ? t->ncommit : HK__COMMIT0, n;
    size_t from, to, pg = hk__page();
    if (t->ncommit >= t->nreserve || hk__os_fails())
        return 0;
    if (add > (1u << 20))
        add = 1u << 20;
    n = t->ncommit + add > t->nreserve ? t->nreserve : t->ncommit + add;
    from = (size_t)t->ncommit * sizeof(hk__rec) / pg * pg;
    to = ((size_t)n * sizeof(hk__rec) + pg - 1) / pg * pg;
    if (hk__prim_commit((char *)t->recs + from, to - from) != HK_OK)
        return 0;
    t->ncommit = (uint32_t)(to / sizeof(hk__rec));
    if (t->ncommit > t->nreserve)
        t->ncommit = t->nreserve;
    return 1;
}

/* Nothing live (an orphan): the pages go back, the range stays. */
static void hk__recs_drop(struct hk__tab *t)
{
    if (!t->recs || !t->ncommit)
        return;
    /* POSIX: reset pages read as zero again, so they stay committed;
     * Windows' reset ones need not, so they are decommitted. */
#ifdef _WIN32
    hk__prim_decommit(t->recs, (size_t)t->ncommit * sizeof(hk__rec));
    t->ncommit = 0;
#else
    hk__prim_reset(t->recs, (size_t)t->ncommit * sizeof(hk__rec));
#endif
}

/* A record id for a new record, or UINT32_MAX (out of memory). */
static uint32_t hk__id_new(struct hk__tab *t)
{
    uint32_t id;
    if (t->free_id) {
        id = t->free_id;
        t->free_id = hk__rec_at(t, id)->no;
        t->nfree--;
        return id;
    }
    if (!t->recs && !hk__recs_reserve(t))
        return UINT32_MAX;
    id = t->nrec ? t->nrec : 1;               /* record 0 stays no block */
    if (id >= t->ncommit && !hk__recs_commit(t))
        return UINT32_MAX;
    if (id == 1)
        __atomic_store_n(&hk__rec_at(t, 0)->meta, HK__META(0, HK__REC0_HEAP, 0),
                         __ATOMIC_RELAXED);
    __atomic_store_n(&t->nrec, id + 1, __ATOMIC_RELEASE);
    return id;
}

static inline __attribute__((always_inline)) void hk__id_free(struct hk__tab *t, uint32_t id)
{
    hk__rec *r = hk__rec_at(t, id);
    __atomic_store_n(&r->ptr, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&r->no, t->free_id, __ATOMIC_RELAXED);
    t->free_id = id;
    t->nfree++;
}

/* Drop the index entry at pos (owner, or lock held on a shared table):
 * empty when the run ends there (so runs stay short), else a tombstone. */
static inline __attribute__((always_inline)) void hk__idx_drop(struct hk__tab *t, uint32_t pos)
{
    /* without a branch on the neighbours but for the rare walk back */
    uint32_t *e = t->idx + pos;
    uint32_t more = e[1] != HK__E_EMPTY;      /* the run goes on: a tombstone */
    __atomic_store_n(e, more * HK__E_TOMB, __ATOMIC_RELEASE);
    t->used += more - 1;
    if (HK_UNLIKELY(e[-1] == HK__E_TOMB) && !more) {
        for (e--; *e == HK__E_TOMB; e--) {      /* idx[-1] is empty */
            __atomic_store_n(e, HK__E_EMPTY, __ATOMIC_RELEASE);
            t->used--;
        }
    }
}

/* Before a free takes p's record: p is this thread's block being freed.
 * Another thread that then finds no record of p sees it here (the fence
 * keeps this store before the record's removal), so it does not take p
 * for memory the tracker never saw and free it a second time. */
static inline __attribute__((always_inline)) void hk__freeing(struct hk__thread *th, const void *p)
{
    __atomic_store_n(&th->freeing, (uintptr_t)p, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
}

/* The free of the block marked by hk__freeing is done. */
static inline __attribute__((always_inline)) void hk__freeing_end(struct hk__thread *th)
{
    __atomic_store_n(&th->freeing, (uintptr_t)0, __ATOMIC_RELAXED);
}

void hk__dbg_freeing_done(void)
{
    struct hk__thread *th = hk__me;
    if (__atomic_load_n(&th->freeing, __ATOMIC_RELAXED))
        hk__freeing_end(th);
}

/* Remove the record at index slot pos (record id) from a table the caller
 * owns or has locked as shared. */
static inline __attribute__((always_inline))
void hk__remove_mine(struct hk__tab *t, uint32_t pos, uint32_t id)
{
    hk__idx_drop(t, pos);
    hk__id_free(t, id);
}

/* A record another thread marked gone: the owner lets it go. */
static void hk__clean(struct hk__tab *t, uint32_t pos, uint32_t id)
{
    hk__remove_mine(t, pos, id);
    hk__count(&t->cleaned, 1);
}

/* Another thread marked the record id gone (t's lock held). */
static void hk__pend_push(struct hk__tab *t, uint32_t id)
{
    uint32_t n = t->npend;
    if (HK_UNLIKELY(n == t->pcap)) {
        uint32_t ncap = n ? 2 * n : 256u, *np;
        /* not the records' memory: hk_debug_fail_after leaves it alone */
        np = n <= HK__MAX_RECS ? hk__dbg_os_alloc_raw((size_t)ncap * sizeof *np) : NULL;
        if (!np)
            return;                         /* the owner meets it later */
        if (n) {
            memcpy(np, t->pend, (size_t)n * sizeof *np);
            hk__dbg_os_free(t->pend, (size_t)t->pcap * sizeof *np);
        }
        t->pend = np;
        t->pcap = ncap;
    }
    t->pend[n] = id;
    __atomic_store_n(&t->npend, n + 1, __ATOMIC_RELAXED);
}

/* Let go of the records whose ids other threads listed (owner; locked:
 * the caller holds the lock, of a shared table).  A record no longer
 * marked was let go already (met in a probe, or a rebuild): its id may be
 * in use again. */
static void hk__drain(struct hk__tab *t, int locked)
{
    uint32_t *list, n, cap, i;
    if (!locked)
        hk__spin_lock(&t->lock);
    list = t->pend;
    n = t->npend;
    cap = t->pcap;
    t->pend = t->spare;
    t->pcap = t->scap;
    __atomic_store_n(&t->npend, 0, __ATOMIC_RELAXED);
    t->spare = list;
    t->scap = cap;
    if (!locked)
        hk__spin_unlock(&t->lock);
    for (i = 0; i < n; i++) {
        uint32_t id = list[i], want, pos, e;
        uintptr_t p;
        uint64_t h;
        /* two misses each (the record, which another thread wrote last,
         * then the index), both written here: asked for, to write, a few
         * ids ahead */
        if (i + 8 < n && list[i + 8] < t->nrec)
            hk__prefetch_w(hk__rec_at(t, list[i + 8]));
        if (i + 4 < n && list[i + 4] < t->nrec) {
            uintptr_t q = hk__rec_ptr(hk__rec_at(t, list[i + 4]));
            if (q & HK__GONE)
                hk__prefetch_w(&t->idx[hk__home(hk__hash(q & ~HK__GONE), t->cap)]);
        }
        if (id >= t->nrec)
            continue;                       /* listed before the table was emptied */
        p = hk__rec_ptr(hk__rec_at(t, id));
        if (!(p & HK__GONE))
            continue;
        h = hk__hash(p & ~HK__GONE);
        want = (id << HK__TAG_BITS) | hk__tag(h, t->cap);
        for (pos = hk__home(h, t->cap); (e = t->idx[pos]) != HK__E_EMPTY && e != want;
             pos = hk__next(pos, t->cap))
            ;
        if (e == want) {
            hk__clean(t, pos, id);
        } else {                            /* not indexed: only the id */
            hk__id_free(t, id);
            hk__count(&t->cleaned, 1);
        }
    }
}

/* The owner's slow paths (a malloc's, a free's of another thread's
 * block) empty the list once enough wait: a few at a time would cost a
 * slow path each. */
static inline void hk__drain_some(struct hk__tab *t, int locked)
{
    if (HK_UNLIKELY(__atomic_load_n(&t->npend, __ATOMIC_RELAXED) >= HK__PEND_MIN))
        hk__drain(t, locked);
}

/* Rebuild the index for the live records (lock held): about 56% full,
 * i.e. 1.8 slots per record (bytes per record: 24 + 4 x 1.8 = 31.2 at
 * most, plus the free records).  Marked records go now. */
static int hk__rebuild(struct hk__tab *t)
{
    uint32_t ncap, i, *ni, *mem, live = 0, last;
    size_t bytes;
    for (i = 1; i < t->nrec; i++) {
        uintptr_t p = hk__rec_ptr(hk__rec_at(t, i));
        live += p && !(p & HK__GONE);
    }
    ncap = live + live / 5 * 4 + 64;
retry:
    bytes = hk__idx_bytes(ncap);
    mem = hk__dbg_os_alloc(bytes);
    if (!mem)
        return 0;
    memset(mem, 0, bytes);
    ni = mem + 1;
    last = hk__idx_last(ncap);
    for (i = 1; i < t->nrec; i++) {
        hk__rec *r = hk__rec_at(t, i);
        uintptr_t p = hk__rec_ptr(r);
        uint64_t h;
        uint32_t pos;
        if (!p || (p & HK__GONE))
            continue;
        h = hk__hash(p);
        for (pos = hk__home(h, ncap); ni[pos]; pos++)
            ;
        if (HK_UNLIKELY(pos > last)) {
            /* a run reached the end (rare): more room, again */
            hk__dbg_os_free(mem, bytes);
            ncap += ncap / 4 + HK__SLACK;
            goto retry;
        }
        ni[pos] = (i << HK__TAG_BITS) | hk__tag(h, ncap);
    }
    /* the marked records go once the new index no longer has them */
    for (i = 1; i < t->nrec; i++) {
        uintptr_t p = hk__rec_ptr(hk__rec_at(t, i));
        if (p & HK__GONE) {
            hk__id_free(t, i);
            hk__count(&t->cleaned, 1);
        }
    }
    if (t->idx)
        hk__dbg_os_free(t->idx - 1, hk__idx_bytes(t->cap));
    t->cap = ncap;
    __atomic_store_n(&t->idx, ni, __ATOMIC_RELEASE);
    t->limit = (uint32_t)((uint64_t)ncap * 18 / 25);
    t->used = live;
    __atomic_store_n(&t->ridx, ni, __ATOMIC_RELAXED);
    __atomic_store_n(&t->rcap, ncap, __ATOMIC_RELAXED);
    return 1;
}

/* The first free entry of h's run (tombstone or empty), or UINT32_MAX
 * past the last position an entry may take. */
static uint32_t hk__idx_slot(const struct hk__tab *t, uint64_t h)
{
    uint32_t pos, last = hk__idx_last(t->cap);
    for (pos = hk__home(h, t->cap); hk__e_id(t->idx[pos]) != 0; pos++)
        ;
    return pos <= last ? pos : UINT32_MAX;
}

/* Insert the record of r->ptr (owner, or lock held on a shared table)
 * at the first free or tombstone slot of its run: one short probe, no
 * lookup first.  (A block freed behind the tracker's back, (free)(p), and
 * handed out again gets a second record; its first one stays behind the
 * new one and is reported as a leak.)  0: out of memory. */
static int hk__tab_put(struct hk__tab *t, const hk__rec *r, int locked)
{
    uint64_t h = hk__hash(r->ptr);
    uint32_t pos, id;
    int tries = 0;
    hk__drain_some(t, locked);
    if (HK_UNLIKELY(!t->idx || (uint64_t)(t->used + 1) * 25 > (uint64_t)t->cap * 18)) {
    rebuild:
        {
            int ok;
            if (!locked)
                hk__spin_lock(&t->lock);
            ok = hk__rebuild(t);
            if (!locked)
                hk__spin_unlock(&t->lock);
            if (!ok && (!t->idx || t->used + 1 >= t->cap))
                return 0;                   /* full and no memory */
        }
    }
    pos = hk__idx_slot(t, h);
    if (HK_UNLIKELY(pos == UINT32_MAX)) {
        if (tries++)
            return 0;
        goto rebuild;                       /* the run reached the end */
    }
    id = hk__id_new(t);
    if (HK_UNLIKELY(id == UINT32_MAX))
        return 0;
    hk__rec_store(hk__rec_at(t, id), r);
    if (t->idx[pos] == HK__E_EMPTY)
        t->used++;
    hk__idx_set(t, pos, (id << HK__TAG_BITS) | hk__tag(h, t->cap));
    hk__hint_set(r->ptr, t);
    return 1;
}

/* Find p in t: its index position and record id, or 0.  mine: the
 * caller owns t (or holds the lock of a shared one) and may drop the
 * marked records it meets. */
static int hk__tab_find(struct hk__tab *t, uintptr_t p, uint32_t *pos_out,
                        uint32_t *id_out, int mine)
{
    uint64_t h = hk__hash(p);
    /* another thread (lock held) reads the copies on the lock's line */
    uint32_t pos, e;
    uint32_t cap = mine ? t->cap : __atomic_load_n(&t->rcap, __ATOMIC_RELAXED);
    const uint32_t *idx = mine ? t->idx : __atomic_load_n(&t->ridx, __ATOMIC_RELAXED);
    uint32_t tag = hk__tag(h, cap);
    if (!cap)
        return 0;
    for (pos = hk__home(h, cap); (e = __atomic_load_n(&idx[pos], __ATOMIC_ACQUIRE))
                                 != HK__E_EMPTY; pos = hk__next(pos, cap)) {
        if (hk__e_id(e) != 0 && (e & HK__TAG_MASK) == tag) {
            uint32_t id = hk__e_id(e);
            uintptr_t rp;
            /* another thread's record, marked right after if it is p's:
             * asked for to write, one transfer instead of a read and then
             * an upgrade */
            if (!mine)
                hk__prefetch_w(hk__rec_at(t, id));
            rp = hk__rec_ptr(hk__rec_at(t, id));
            if (rp == p) {
                *pos_out = pos;
                *id_out = id;
                return 1;
            }
            if (mine && rp == (p | HK__GONE)) {
                hk__clean(t, pos, id);
                if (idx[pos] == HK__E_EMPTY)
                    return 0;
            }
        }
    }
    return 0;
}

/* New tables are linked for good: other threads walk the list without a
 * lock. */
static void hk__tab_link(struct hk__tab *t)
{
    t->link = hk__tabs;
    __atomic_store_n(&hk__tabs, t, __ATOMIC_RELEASE);
}

/* A table for a new thread: an orphan if there is one, else new memory.
 * NULL: out of memory (the thread uses the shared fallback table). */
static struct hk__tab *hk__tab_get(void)
{
    struct hk__tab *t;
    hk__spin_lock(&hk__tabs_lock);
    t = hk__orphans;
    if (t) {
        hk__orphans = t->orphan;
        hk__spin_unlock(&hk__tabs_lock);
        hk__spin_lock(&t->lock);
        __atomic_store_n(&t->shared, 0, __ATOMIC_RELEASE);
        t->rshared = 0;
        hk__spin_unlock(&t->lock);
        return t;
    }
    t = hk__dbg_os_alloc(sizeof *t);
    if (t) {
        memset(t, 0, sizeof *t);
        hk__tab_link(t);
    }
    hk__spin_unlock(&hk__tabs_lock);
    return t;
}

/* Nothing live in t (lock held, no owner): its memory goes back (a thread
 * that freed all it allocated leaves nothing behind); the reserved range
 * stays for the next owner. */
static void hk__tab_release(struct hk__tab *t)
{
    __atomic_store_n(&t->nrec, 0, __ATOMIC_RELEASE);
    hk__recs_drop(t);
    if (t->idx)
        hk__dbg_os_free(t->idx - 1, hk__idx_bytes(t->cap));
    t->idx = NULL;
    t->cap = t->used = t->free_id = t->nfree = t->limit = 0;
    __atomic_store_n(&t->ridx, NULL, __ATOMIC_RELAXED);
    __atomic_store_n(&t->rcap, 0, __ATOMIC_RELAXED);
    t->gone = t->cleaned = 0;
    hk__dbg_os_free(t->pend, (size_t)t->pcap * sizeof *t->pend);
    hk__dbg_os_free(t->spare, (size_t)t->scap * sizeof *t->spare);
    t->pend = t->spare = NULL;
    t->npend = t->pcap = t->scap = 0;
}

/* The owner thread ends: its records stay, the table waits for another. */
static void hk__tab_orphan(struct hk__tab *t)
{
    if (!t)
        return;
    hk__spin_lock(&t->lock);
    __atomic_store_n(&t->shared, 1, __ATOMIC_RELEASE);
    t->rshared = 1;
    if (hk__tab_live(t) == t->gone - t->cleaned)
        hk__tab_release(t);
    hk__spin_unlock(&t->lock);
    hk__hint_drop(t);
    hk__spin_lock(&hk__tabs_lock);
    t->orphan = hk__orphans;
    hk__orphans = t;
    hk__spin_unlock(&hk__tabs_lock);
}

static struct hk__tab *hk__fallback(void)
{
    if (!__atomic_load_n(&hk__fallback_linked, __ATOMIC_ACQUIRE)) {
        hk__spin_lock(&hk__tabs_lock);
        if (!hk__fallback_linked) {
            hk__tab_link(&hk__fallback_tab);
            __atomic_store_n(&hk__fallback_linked, 1, __ATOMIC_RELEASE);
        }
        hk__spin_unlock(&hk__tabs_lock);
    }
    return &hk__fallback_tab;
}

static struct hk__tab *hk__my_tab(void)
{
    struct hk__thread *t = hk__thread_get();
    return t && t->tab ? t->tab : hk__fallback();
}

/* Insert or replace the record for r->ptr.  0 if out of memory. */
static int hk__put(const hk__rec *r)
{
    struct hk__tab *t = hk__my_tab();
    int ok;
    if (HK_LIKELY(!__atomic_load_n(&t->shared, __ATOMIC_RELAXED)))
        return hk__tab_put(t, r, 0);
    hk__spin_lock(&t->lock);
    ok = hk__tab_put(t, r, 1);
    hk__spin_unlock(&t->lock);
    return ok;
}

/* p in t, which the caller owns or has locked as shared: 1 / 0 / -1. */
static int hk__get_mine(struct hk__tab *t, uintptr_t p, unsigned heap, hk__rec *out,
                        int take)
{
    uint32_t pos, id;
    if (!hk__tab_find(t, p, &pos, &id, 1))
        return 0;
    hk__rec_load(hk__rec_at(t, id), out);
    if (HK__REC_HEAP(out) != heap)
        return -1;
    if (take) {
        hk__freeing(hk__me, (const void *)p);
        hk__remove_mine(t, pos, id);
        /* the last block of an orphan: its memory goes now, not when a
         * thread adopts it (bytes per record count it) */
        if (HK_UNLIKELY(t->shared) && t != &hk__fallback_tab
            && hk__tab_live(t) == t->gone - t->cleaned)
            hk__tab_release(t);
    }
    return 1;
}

/* p in another thread's table (lock held): taking marks it gone. */
static int hk__get_other(struct hk__tab *t, uintptr_t p, unsigned heap, hk__rec *out,
                         int take)
{
    uint32_t pos, id;
    hk__rec *r;
    uintptr_t want = p;
    if (!hk__tab_find(t, p, &pos, &id, 0))
        return 0;
    r = hk__rec_at(t, id);
    hk__rec_load(r, out);                   /* before the mark: then the owner may reuse it */
    if (HK__REC_HEAP(out) != heap)
        return -1;
    if (take) {
        hk__freeing(hk__me, (const void *)p);
        if (!__atomic_compare_exchange_n(&r->ptr, &want, p | HK__GONE, 0,
                                         __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            hk__freeing_end(hk__me);
            return 0;                       /* freed at this moment by its owner */
        }
        __atomic_add_fetch(&t->gone, 1, __ATOMIC_RELAXED);
        hk__pend_push(t, id);
    }
    return 1;
}

/* Look p up; with take, remove it.  Returns 1 / 0 / -1 as hk__dbg_take.
 * The caller's own table first, without a lock; then the others. */
/* Ask for the line of t's index where p would be, without the lock: its
 * miss then overlaps the lock's.  Possibly stale (a prefetch never
 * faults), only a hint. */
static inline void hk__idx_prefetch(struct hk__tab *t, const void *p)
{
    uint32_t cap = __atomic_load_n(&t->rcap, __ATOMIC_RELAXED);
    const uint32_t *idx = __atomic_load_n(&t->ridx, __ATOMIC_RELAXED);
    if (idx && cap)
        __builtin_prefetch(&idx[hk__home(hk__hash((uintptr_t)p), cap)]);
}

/* p in another thread's table or a shared one, under its lock. */
static int hk__get_in(struct hk__tab *t, const void *p, unsigned heap, hk__rec *out,
                      int take)
{
    int res;
    hk__idx_prefetch(t, p);
    hk__spin_lock(&t->lock);
    if (t->rshared)
        res = hk__get_mine(t, (uintptr_t)p, heap, out, take);
    else
        res = hk__get_other(t, (uintptr_t)p, heap, out, take);
    hk__spin_unlock(&t->lock);
    return res;
}

#if defined(__GNUC__) && !defined(_WIN32)
static __thread unsigned hk__cross_tick __attribute__((tls_model("initial-exec")));
#else
static _Thread_local unsigned hk__cross_tick;
#endif

/* mine_last: the caller's fast path missed p in its own table (mostly:
 * another thread's block), so the hinted table comes first. */
static int hk__get(const void *p, unsigned heap, hk__rec *out, int take, int mine_last)
{
    struct hk__thread *th = hk__thread_get();
    struct hk__tab *mine = th ? th->tab : NULL, *t, *hint;
    int res;
    if (!mine || __atomic_load_n(&mine->shared, __ATOMIC_RELAXED))
        mine = NULL;
    if (HK_LIKELY(mine && !mine_last)
        && HK_LIKELY((res = hk__get_mine(mine, (uintptr_t)p, heap, out, take)) != 0))
        return res;
    /* the list's count is on a line other threads write: looked at
     * every few frees of theirs */
    if (mine && mine_last && !(++hk__cross_tick & 15u))
        hk__drain_some(mine, 0);
    hint = __atomic_load_n(hk__hint_of((uintptr_t)p), __ATOMIC_RELAXED);
    if (hint == mine)
        hint = NULL;
    if (hint && (res = hk__get_in(hint, p, heap, out, take)) != 0)
        return res;
    if (mine && mine_last && (res = hk__get_mine(mine, (uintptr_t)p, heap, out, take)) != 0)
        return res;
    /* the hint was wrong: the lines of all the others at once */
    for (t = __atomic_load_n(&hk__tabs, __ATOMIC_ACQUIRE); t;
         t = __atomic_load_n(&t->link, __ATOMIC_ACQUIRE))
        if (t != mine && t != hint)
            hk__idx_prefetch(t, p);
    for (t = __atomic_load_n(&hk__tabs, __ATOMIC_ACQUIRE); t;
         t = __atomic_load_n(&t->link, __ATOMIC_ACQUIRE)) {
        if (t == mine || t == hint)
            continue;
        if ((res = hk__get_in(t, p, heap, out, take)) != 0)
            return res;
    }
    return 0;
}

/* The common free: the block is in the caller's own table, of this heap.
 * One probe, no lock, no shared write; 0 leaves everything as it was, for
 * the full way.  Records lost or not, Windows aligned or not: the
 * caller's to check in *out.  th: never NULL (hk__no_thread). */
static inline __attribute__((always_inline)) int hk__take_fast(struct hk__thread *th,
                                                               const void *p, unsigned heap,
                                                               hk__rec *out)
{
    struct hk__tab *t = th->fast_tab;
    uint64_t h = hk__hash((uintptr_t)p);
    uint32_t pos = hk__home(h, t->cap), id;
    unsigned m = hk__win_tag(t->idx, pos, hk__tag(h, t->cap));
    hk__rec *r;
    if (HK_UNLIKELY(m == 0 || p == NULL))
        return 0;                               /* further on, or not here */
    pos += (uint32_t)__builtin_ctz(m);          /* the first candidate */
    id = hk__e_id(t->idx[pos]);
    r = hk__rec_at(t, id);
    if (HK_UNLIKELY(__atomic_load_n(&r->ptr, __ATOMIC_RELAXED) != (uintptr_t)p))
        return 0;                               /* rare: the full way */
    hk__rec_load(r, out);
    if (HK_UNLIKELY(HK__REC_HEAP(out) != heap))
        return 0;
    hk__remove_mine(t, pos, id);
    return 1;
}

int hk__dbg_take(const void *p, unsigned heap, hk__rec *out)
{
    if (HK_LIKELY(hk__take_fast(hk__me, p, heap, out)))
        return 1;
    return hk__get(p, heap, out, 1, 0);
}

int hk__dbg_take_elsewhere(const void *p, unsigned heap, hk__rec *out)
{
    return hk__get(p, heap, out, 1, 1);
}

int hk__dbg_peek(const void *p, unsigned heap, hk__rec *out)
{
    return hk__get(p, heap, out, 0, 0);
}

volatile int hk__dbg_lost;

int hk__dbg_records_lost(void)
{
    return __atomic_load_n(&hk__dbg_lost, __ATOMIC_RELAXED);
}

/* Once records were lost, the C runtime's addresses freed since, until
 * it hands them out again: a second free of one is a double free whatever
 * its memory looks like now (the allocator's check is exact only on
 * Windows).  Direct-mapped, so it forgets the oldest; static, so it needs
 * no memory that may have run out. */
#define HK__FREED_SLOTS 16384u

static uintptr_t hk__freed[HK__FREED_SLOTS];

static inline uintptr_t *hk__freed_slot(const void *p)
{
    return &hk__freed[(hk__hash((uintptr_t)p) >> 50) & (HK__FREED_SLOTS - 1)];
}

void hk__dbg_freed_note(const void *p)
{
    if (hk__dbg_records_lost())
        __atomic_store_n(hk__freed_slot(p), (uintptr_t)p, __ATOMIC_RELEASE);
}

int hk__dbg_freed_recently(const void *p)
{
    return __atomic_load_n(hk__freed_slot(p), __ATOMIC_ACQUIRE) == (uintptr_t)p;
}

void hk__dbg_freed_forget(const void *p)
{
    uintptr_t *s, want = (uintptr_t)p;
    if (!hk__dbg_records_lost())
        return;
    s = hk__freed_slot(p);
    __atomic_compare_exchange_n(s, &want, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

/* A record the table could not keep: counted, and remembered. */
static void hk__budget(struct hk__thread *th);

static void hk__put_or_miss(const hk__rec *r)
{
    struct hk__thread *th = hk__me;
    if (!hk__put(r)) {
        __atomic_store_n(&hk__dbg_lost, 1, __ATOMIC_RELAXED);
        hk__gate_set(HK__G_LOST, 1);
        hk__count_missed();
    }
    if (th != &hk__no_thread)
        hk__budget(th);                     /* the put took a record and room */
}

/* The fast paths' budget: how many numbers they may hand out before the
 * slow way looks again.  Never more than the batch has left, the index has
 * room for and the free list has records (it is topped up here), so those
 * need no test of their own.  The owner, after any change of its table. */
static void hk__budget(struct hk__thread *th)
{
    struct hk__tab *t = th->tab;
    uint32_t k = 0;
    hk__budget_return(th);
    if (t && t->idx && !t->shared) {
        uint32_t room = t->limit > t->used ? t->limit - t->used : 0;
        k = th->end_no - th->next_no;
        if (k > room)
            k = room;
        /* new records from committed pages only: new pages come with a
         * put (a table with an index has records: nrec >= 2) */
        while (t->nfree < k && t->nrec < t->ncommit) {
            uint32_t id = t->nrec;
            __atomic_store_n(&t->nrec, id + 1, __ATOMIC_RELEASE);
            hk__id_free(t, id);
        }
        if (k > t->nfree)
            k = t->nfree;
        t->nfree -= k;                      /* set aside: the fast path pops them */
        th->fast_tab = t;
    }
    th->fast_end = th->next_no + k;
}

static void hk__add(void *p, size_t n, unsigned heap, unsigned kind, const hk__src *src,
                    int count)
{
    struct hk__thread *t = hk__thread_get();
    hk__rec r;
    if (hk__dbg_suspended() || (n == 0 && !hk__dbg_cfg.record_zero))
        kind |= HK__K_IGNORE;
    r.ptr = (uintptr_t)p;
    r.meta = HK__META(n > HK__MAX_SIZE ? HK__MAX_SIZE : n, heap, kind);
    r.no = hk__site_no(t, src, count, &r.site);
    hk__put_or_miss(&r);
}

/* The common malloc, first half: a thread with budget (a number in hand,
 * a free record, room in the index), no reason for the slow way (gate) and
 * a known call site.  Takes the number and fills the record but for its
 * pointer; NULL: nothing done, the full way. */
static inline __attribute__((always_inline)) hk__rec *hk__add_begin(
    struct hk__thread *th, size_t n, unsigned heap, unsigned kind,
    uintptr_t caller, const char *file, int line, const char *type, uint32_t *id_out)
{
    uint32_t no = th->next_no;
    if (HK_LIKELY(__atomic_load_n(&hk__gate, __ATOMIC_RELAXED) == th->gate
                  && no != th->fast_end && ((n - 1) >> 39) == 0)) {
        struct hk__site_slot *c = &th->cache[hk__slot_ix(caller, line, type)];
        if (HK_LIKELY(c->caller == caller && c->file == file && c->line == line
                      && (type == NULL || c->type == type))) {
            struct hk__tab *t = th->fast_tab;
            uint32_t id = t->free_id;
            hk__rec *r = hk__rec_at(t, id);
            t->free_id = r->no;               /* the free list's next id */
            __atomic_store_n(&th->next_no, no + 1, __ATOMIC_RELAXED);
            __atomic_store_n(&r->meta, HK__META(n, heap, kind), __ATOMIC_RELAXED);
            __atomic_store_n(&r->no, no, __ATOMIC_RELAXED);
            __atomic_store_n(&r->site, c->id, __ATOMIC_RELAXED);
            *id_out = id;
            return r;
        }
    }
    return NULL;
}

/* The run was full to the end of the window: the rest of the probe, or a
 * rebuild when the run reaches the end of the index.  Owner only. */
static __attribute__((noinline)) void *hk__add_place_slow(struct hk__tab *t, hk__rec *r,
                                                          uint32_t id, void *p)
{
    uint64_t h = hk__hash(r->ptr);
    uint32_t pos = hk__idx_slot(t, h);
    if (HK_UNLIKELY(pos == UINT32_MAX)) {
        hk__rec x = *r;
        hk__id_free(t, id);                   /* hk__tab_put takes one again */
        if (!hk__tab_put(t, &x, 0)) {
            __atomic_store_n(&hk__dbg_lost, 1, __ATOMIC_RELAXED);
            hk__gate_set(HK__G_LOST, 1);
            hk__count_missed();
        }
        hk__budget(hk__me);
        return p;
    }
    t->used += t->idx[pos] == HK__E_EMPTY;
    hk__idx_set(t, pos, (id << HK__TAG_BITS) | hk__tag(h, t->cap));
    hk__hint_set(r->ptr, t);
    return p;
}

/* The common malloc, second half: the block's pointer into its record,
 * the record into the index (room is there: the budget).  Returns p (so
 * that p need not live across a call). */
static inline __attribute__((always_inline)) void *hk__add_end(struct hk__tab *t, hk__rec *r,
                                                               uint32_t id, void *p)
{
    uint64_t h = hk__hash((uintptr_t)p);
    uint32_t *idx = t->idx, pos = hk__home(h, t->cap);
    unsigned m = hk__win_free(idx, pos);
    __atomic_store_n(&r->ptr, (uintptr_t)p, __ATOMIC_RELEASE);
    if (HK_LIKELY(m != 0)) {
        pos += (uint32_t)__builtin_ctz(m);
    } else {
        /* a longer run: on to its first free entry, unless it reaches the
         * end of the index (then the slow way rebuilds) */
        for (pos += HK__WIN; hk__e_id(idx[pos]) != 0; pos++)
            ;
        if (HK_UNLIKELY(pos > hk__idx_last(t->cap)))
            return hk__add_place_slow(t, r, id, p);
    }
    t->used += idx[pos] == HK__E_EMPTY;
    __atomic_store_n(&idx[pos], (id << HK__TAG_BITS) | hk__tag(h, t->cap), __ATOMIC_RELEASE);
    hk__hint_set((uintptr_t)p, t);
    return p;
}

/* A malloc that failed after hk__add_begin: the number and the record go
 * back (nothing ran on this thread in between). */
static __attribute__((noinline)) void *hk__add_undo(struct hk__thread *th, hk__rec *r,
                                                    uint32_t id)
{
    struct hk__tab *t = th->fast_tab;
    uint32_t no = r->no;
    __atomic_store_n(&r->no, t->free_id, __ATOMIC_RELAXED);
    t->free_id = id;
    if (th->next_no == no + 1)
        /* the number goes back too; the record is set aside again (the
         * budget), so it is not counted */
        __atomic_store_n(&th->next_no, no, __ATOMIC_RELAXED);
    else
        t->nfree++;         /* a malloc in between (a signal handler): a gap */
    return NULL;
}

/* Backtraces on: the fast path with the stack.  The malloc fast path
 * (hk__add_begin) never matches then (its cache is not filled: the sites
 * are in bt_cache), so every allocation comes here: the stack (stacks.c:
 * its own per-thread cache, a few compares when it is the last one from
 * this place), then the same budget as the fast path's and the site by
 * (caller, place, stack) from the thread's slots, no lock.  Anything
 * else: the full way, with the stack taken. */
static __attribute__((noinline)) void hk__add_bt(struct hk__thread *th, void *p, size_t n,
                                                 unsigned heap, unsigned kind,
                                                 const hk__src *src)
{
    hk__src k = *src;
    uint32_t no = th->next_no;
    k.stack = hk__stack_capture(src->caller);
    if (HK_LIKELY(__atomic_load_n(&hk__gate, __ATOMIC_RELAXED) == th->gate
                  && no != th->fast_end && ((n - 1) >> 39) == 0 && k.stack)) {
        struct hk__bt_slot *c = hk__bt_slot_hit(th, &k);
        if (HK_LIKELY(c != NULL)) {
            struct hk__tab *t = th->fast_tab;
            uint32_t id = t->free_id;
            hk__rec *r = hk__rec_at(t, id);
            t->free_id = r->no;
            __atomic_store_n(&th->next_no, no + 1, __ATOMIC_RELAXED);
            __atomic_store_n(&r->meta, HK__META(n, heap, kind), __ATOMIC_RELAXED);
            __atomic_store_n(&r->no, no, __ATOMIC_RELAXED);
            __atomic_store_n(&r->site, c->id, __ATOMIC_RELAXED);
            hk__add_end(t, r, id, p);
            return;
        }
    }
    hk__add(p, n, heap, kind, &k, 1);
}

void hk__dbg_add(void *p, size_t n, unsigned heap, unsigned kind, const hk__src *src)
{
    struct hk__thread *th = hk__me;
    uint32_t id;
    hk__rec *r = hk__add_begin(th, n, heap, kind, src->caller, src->file, src->line,
                               src->type, &id);
    if (HK_LIKELY(r != NULL)) {
        hk__add_end(th->fast_tab, r, id, p);
        return;
    }
    if (HK_UNLIKELY(__atomic_load_n(&hk__bt_depth, __ATOMIC_RELAXED) > 0) && !src->stack) {
        hk__add_bt(th, p, n, heap, kind, src);
        return;
    }
    hk__add(p, n, heap, kind, src, 1);
}

/* malloc and free through debug.h, the common case in one function each
 * (no call into the tracker, no call site built); anything else goes the
 * full way in debug.c.  malloc does its bookkeeping before the C
 * runtime's call, so only the record and table live across it. */
static __attribute__((noinline)) void *hk__dbg_malloc_slow(size_t n, const char *file, int line,
                                                           const char *func, uintptr_t caller)
{
    void *p;
    HK__DBG_START();
    if (HK__FWD(malloc))
        return hk__dbg_fwd->malloc(n, file, line, func);
    p = HK__RT_MALLOC(n);
    if (HK_UNLIKELY(p == NULL))
        return NULL;
    return hk__dbg_malloc_record(p, n, file, line, func, caller);
}

void *hk_dbg_malloc(size_t n, HK_DBG_SITE)
{
    uintptr_t caller = (uintptr_t)__builtin_return_address(0);
    struct hk__thread *th = hk__me;
    uint32_t id;
#ifdef HK_PRELOAD
    if (hk__hdr_mode) {
        /* the preload's header mode: the block's header has the macro's place */
        hk__src src = { file, func, NULL, caller, line, 0 };
        return hk__hdr_alloc(n, 0, HK__FAM_MALLOC, 0, &src);
    }
#endif
    hk__rec *r = hk__add_begin(th, n, HK__HEAP_MALLOC, 0, caller, file, line, NULL, &id);
    if (HK_LIKELY(r != NULL)) {
        void *p = HK__RT_MALLOC(n);
        if (HK_LIKELY(p != NULL))
            return hk__add_end(th->fast_tab, r, id, p);
        return hk__add_undo(th, r, id);
    }
    return hk__dbg_malloc_slow(n, file, line, func, caller);
}

/* free's fast path found no candidate of p in its window (or another's
 * tag first): the whole run in the thread's own table, then the full way
 * (not this thread's block, unknown, or a record of another kind). */
static __attribute__((noinline)) void hk__free_far(struct hk__tab *t, void *p,
                                                   const char *file, int line,
                                                   const char *func, uintptr_t caller)
{
    uint32_t pos, id;
    if (p != NULL && t != &hk__empty_tab && !__atomic_load_n(&hk__dbg_lost, __ATOMIC_RELAXED)
        && hk__tab_find(t, (uintptr_t)p, &pos, &id, 1)
        && !(hk__rec_at(t, id)->meta & (((uint64_t)0xFFFFu << 8) | HK__K_ALIGNED | HK__K_NEW | HK__K_NEWARR))) {
        struct hk__thread *th = hk__me;
        hk__freeing(th, p);
        hk__remove_mine(t, pos, id);
        HK__RT_FREE(p);
        hk__freeing_end(th);
        return;
    }
    hk__dbg_free_rest(p, NULL, file, line, func, caller);
}

void hk_dbg_free(void *p, HK_DBG_SITE)
{
    struct hk__thread *th = hk__me;
    struct hk__tab *t = th->fast_tab;
    uint64_t h = hk__hash((uintptr_t)p);
    uint32_t pos = hk__home(h, t->cap);
    unsigned m = hk__win_tag(t->idx, pos, hk__tag(h, t->cap));
    if (HK_LIKELY(m != 0)) {
        /* the first candidate (another's tag first is rare: the full way) */
        uint32_t id;
        hk__rec *r;
        pos += (uint32_t)__builtin_ctz(m);
        id = hk__e_id(t->idx[pos]);
        r = hk__rec_at(t, id);
        /* this heap (not record 0's: a NULL), no Windows aligned block (its
         * free differs), no records lost */
        if (HK_LIKELY(__atomic_load_n(&r->ptr, __ATOMIC_RELAXED) == (uintptr_t)p
                      && !(r->meta & (((uint64_t)0xFFFFu << 8) | HK__K_ALIGNED | HK__K_NEW | HK__K_NEWARR))
                      && !__atomic_load_n(&hk__dbg_lost, __ATOMIC_RELAXED))) {
            hk__freeing(th, p);
            hk__remove_mine(t, pos, id);
            HK__RT_FREE(p);
            hk__freeing_end(th);
            return;
        }
    }
    hk__free_far(t, p, file, line, func, (uintptr_t)__builtin_return_address(0));
}

#ifdef HK_PRELOAD
/* Header mode: a number and a site, nothing stored here.  The common
 * case takes the number straight from the batch when no table budget is
 * out (fast_end follows next_no, so the table's fast path stays exact). */
uint32_t hk__dbg_hdr_take(size_t n, const hk__src *src, uint32_t *site, unsigned *ignore)
{
    struct hk__thread *th = hk__me;
    uint32_t no = th->next_no;
    *ignore = hk__dbg_suspended() || (n == 0 && !hk__dbg_cfg.record_zero);
    if (HK_LIKELY(__atomic_load_n(&hk__gate, __ATOMIC_RELAXED) == th->gate
                  && no != th->end_no && no == th->fast_end)) {
        struct hk__site_slot *c = &th->cache[hk__slot_ix(src->caller, src->line, src->type)];
        if (HK_LIKELY(c->caller == src->caller && c->file == src->file
                      && c->line == src->line && c->type == src->type)) {
            __atomic_store_n(&th->next_no, no + 1, __ATOMIC_RELAXED);
            th->fast_end = no + 1;
            *site = c->id;
            return no;
        }
    }
    return hk__site_no(hk__thread_get(), src, 1, site);
}

/* Header mode's malloc (and operator new: fam), the common case inline:
 * a number from the batch with no table budget out, the caller's site in
 * the thread's cache, no reason for the slow way (gate: suspended,
 * backtraces, a break number), a size that fits; else header.c's full way. */
#ifdef HK__HDR_PROBE
extern void *__libc_malloc(size_t n);

static void *hk__hdr_malloc_undo(struct hk__thread *th, uint32_t no);

/* Both fast paths' end: number no (the batch's next) and the site taken,
 * the header's first word and the number made before the real call, as
 * only they live across it. */
static inline __attribute__((always_inline)) void *hk__hdr_malloc_put(struct hk__thread *th,
                                                                      uint32_t no, size_t n,
                                                                      uint32_t site, unsigned fam)
{
    uint64_t a0 = (uint64_t)n | (uint64_t)site << 32 | (uint64_t)4 << 56 | (uint64_t)fam << 61;
    char *p0;
    __atomic_store_n(&th->next_no, no + 1, __ATOMIC_RELAXED);
    th->fast_end = no + 1;
    p0 = __libc_malloc(n + HK__H);
    if (HK_UNLIKELY(!p0))
        return hk__hdr_malloc_undo(hk__me, no);
    return hk__h_put_a0(p0 + HK__H, a0, no);
}

/* The rest of hk__dbg_hdr_malloc: inside the guard a header never listed;
 * else, backtraces on: the inline path never matches (its site cache is not
 * filled: the sites are in bt_cache), so this is the common case.  The
 * stack first (stacks.c's per-thread cache: a few compares when it is the
 * last one from here), then, as the inline path, a number from the batch
 * and the site by (caller, stack) from the thread's slots; else the full
 * way, with the stack already taken. */
static __attribute__((noinline)) void *hk__hdr_malloc_slow(size_t n, unsigned fam,
                                                           uintptr_t caller)
{
    hk__src src = { NULL, NULL, NULL, caller, 0, 0 };
    struct hk__thread *th;
    uint32_t no;
    if (hk__internal > 0)
        return hk__hdr_alloc_quiet(n, 0, 0);
    if (__atomic_load_n(&hk__bt_depth, __ATOMIC_RELAXED) <= 0)
        return hk__hdr_alloc(n, 0, fam, 0, &src);
    src.stack = hk__stack_capture(caller);
    th = hk__me;
    no = th->next_no;
    if (HK_LIKELY(__atomic_load_n(&hk__gate, __ATOMIC_RELAXED) == th->gate
                  && no != th->end_no && no == th->fast_end && n - 1 < HK__H_MAXN
                  && src.stack)) {
        struct hk__bt_slot *c = hk__bt_slot_hit(th, &src);
        if (HK_LIKELY(c != NULL))
            return hk__hdr_malloc_put(th, no, n, c->id, fam);
    }
    return hk__hdr_alloc(n, 0, fam, 0, &src);
}

/* The real malloc failed after the number was taken: it goes back if
 * nothing took one since (a signal handler's malloc), else it is not
 * counted as registered. */
static __attribute__((noinline)) void *hk__hdr_malloc_undo(struct hk__thread *th, uint32_t no)
{
    if (th->next_no == no + 1 && th->fast_end == no + 1) {
        __atomic_store_n(&th->next_no, no, __ATOMIC_RELAXED);
        th->fast_end = no;
    } else {
        __atomic_store_n(&th->uncounted, th->uncounted + 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

void *hk__dbg_hdr_malloc(size_t n, unsigned fam, uintptr_t caller)
{
    struct hk__thread *th = hk__me;
    uint32_t no = th->next_no;
    struct hk__site_slot *c = &th->cache[hk__slot_ix(caller, 0, NULL)];
    if (HK_LIKELY(__atomic_load_n(&hk__gate, __ATOMIC_RELAXED) == th->gate
                  && no != th->end_no && no == th->fast_end && n - 1 < HK__H_MAXN
                  && c->caller == caller && c->file == NULL && c->line == 0
                  && hk__internal == 0))
        return hk__hdr_malloc_put(th, no, n, c->id, fam);
    return hk__hdr_malloc_slow(n, fam, caller);
}
#else
void *hk__dbg_hdr_malloc(size_t n, unsigned fam, uintptr_t caller)
{
    hk__src src = { NULL, NULL, NULL, caller, 0, 0 };
    if (hk__internal > 0)
        return hk__hdr_alloc_quiet(n, 0, 0);
    return hk__hdr_alloc(n, 0, fam, 0, &src);
}
#endif

uint32_t hk__dbg_hdr_site(size_t n, const hk__src *src, unsigned *ignore)
{
    *ignore = hk__dbg_suspended() || (n == 0 && !hk__dbg_cfg.record_zero);
    return hk__site_of(hk__thread_get(), src);
}
#endif

void hk__dbg_adopt(void *p, size_t n, unsigned heap, const hk__src *src)
{
    hk__add(p, n, heap, 0, src, 0);
}

void hk__dbg_put_back(const hk__rec *r)
{
    hk__put_or_miss(r);
}

void hk__dbg_readd(const hk__rec *old, void *p, size_t n, const hk__src *src)
{
    hk__rec r = *old;
    r.ptr = (uintptr_t)p;
    /* kind and family kept: the block is still freed the way it was made */
    r.meta = HK__META(n > HK__MAX_SIZE ? HK__MAX_SIZE : n, HK__REC_HEAP(old),
                      old->meta & 0xFFu);
    r.site = hk__site_of(hk__thread_get(), src);
    hk__put_or_miss(&r);
}

void hk__dbg_each_record(hk__rec_fn fn, void *arg, int locked)
{
    struct hk__tab *t;
    for (t = __atomic_load_n(&hk__tabs, __ATOMIC_ACQUIRE); t;
         t = __atomic_load_n(&t->link, __ATOMIC_ACQUIRE)) {
        uint32_t i, n;
        if (locked)
            hk__spin_lock(&t->lock);
        n = __atomic_load_n(&t->nrec, __ATOMIC_ACQUIRE);
        for (i = 0; i < n; i++) {
            hk__rec r;
            uintptr_t rp = hk__rec_ptr(hk__rec_at(t, i));
            if (!rp || (rp & HK__GONE))
                continue;                   /* free (its no is a link) or gone */
            hk__rec_load(hk__rec_at(t, i), &r);
            if (r.ptr == rp && !(HK__REC_KIND(&r) & HK__K_IGNORE))
                fn(&r, arg);
        }
        if (locked)
            hk__spin_unlock(&t->lock);
    }
#ifdef HK_PRELOAD
    if (hk__hdr_mode)
        hk__hdr_each(fn, arg);          /* the blocks whose record is a header */
#endif
}

/* ---- events ---------------------------------------------------------------- */

static hk__event *hk__ev;
static size_t hk__nev, hk__ev_cap;
static hk__spin hk__ev_lock;

static void hk__event_add(const hk__event *e)
{
    hk__spin_lock(&hk__ev_lock);
    if (hk__nev == hk__ev_cap) {
        size_t ncap = hk__ev_cap ? hk__ev_cap * 2 : 256;
        hk__event *ne = hk__dbg_os_alloc(ncap * sizeof *ne);
        if (!ne) {
            hk__spin_unlock(&hk__ev_lock);
            hk__count_missed();
            return;
        }
        if (hk__ev)
            memcpy(ne, hk__ev, hk__nev * sizeof *ne);
        hk__dbg_os_free(hk__ev, hk__ev_cap * sizeof *ne);
        hk__ev = ne;
        hk__ev_cap = ncap;
    }
    hk__ev[hk__nev++] = *e;
    hk__spin_unlock(&hk__ev_lock);
}

size_t hk__dbg_events(const hk__event **out)
{
    *out = hk__ev;
    return hk__nev;
}

static void hk__event_heap(hk__event *e, unsigned heap)
{
    e->heap_backend = NULL;
    e->heap_seq = 0;
    if (heap != HK__HEAP_MALLOC)
        hk__heap_describe(heap, &e->heap_backend, &e->heap_seq);
}

void hk__dbg_wrong_size(const hk__rec *r, size_t declared, const hk__src *src)
{
    hk__event e;
    if (hk__dbg_suspended() || (HK__REC_KIND(r) & HK__K_IGNORE))
        return;
    memset(&e, 0, sizeof e);
    e.kind = HK__EV_S;
    e.rkind = (uint8_t)HK__REC_KIND(r);
    e.no = r->no;
    e.after = hk__last_no();
    e.site = r->site;
    e.size = HK__REC_SIZE(r);
    e.ptr = r->ptr;
    hk__event_heap(&e, HK__REC_HEAP(r));
    hk__event_add(&e);
    e.kind = HK__EV_FS;
    e.site = hk__site_of(hk__thread_get(), src);
    e.size = declared;
    hk__event_add(&e);
    if (hk__dbg_cfg.abort_wrong_size) {
        hk__dbg_message("stopped at a free with a wrong size (HEAPKIT_ABORT_ON_WRONG_SIZE)",
                        "angehalten bei einer Freigabe mit falscher Groesse "
                        "(HEAPKIT_ABORT_ON_WRONG_SIZE)", -1);
        hk__dbg_stop(hk__dbg_cfg.abort_wrong_size);
    }
}

void hk__dbg_unknown_free(const void *p, unsigned heap, const hk__src *src)
{
    hk__event e;
    if (hk__dbg_suspended())
        return;
    memset(&e, 0, sizeof e);
    e.kind = HK__EV_FM;
    e.after = hk__last_no();
    e.site = hk__site_of(hk__thread_get(), src);
    e.ptr = (uintptr_t)p;
    hk__event_heap(&e, heap);
    hk__event_add(&e);
    if (hk__dbg_cfg.abort_unknown_free) {
        hk__dbg_message("stopped at a free that matches no allocation "
                        "(HEAPKIT_ABORT_ON_UNKNOWN_FREE)",
                        "angehalten bei einer Freigabe ohne passende Anforderung "
                        "(HEAPKIT_ABORT_ON_UNKNOWN_FREE)", -1);
        hk__dbg_stop(hk__dbg_cfg.abort_unknown_free);
    }
}

void hk__dbg_wrong_family(const hk__rec *r, unsigned fam, const hk__src *src)
{
    hk__event e;
    if (hk__dbg_suspended() || (HK__REC_KIND(r) & HK__K_IGNORE))
        return;
    memset(&e, 0, sizeof e);
    e.kind = HK__EV_FK;
    e.rkind = (uint8_t)HK__REC_KIND(r);
    e.pad = (uint16_t)(HK__REC_FAM(r) | fam << 4);
    e.no = r->no;
    e.after = hk__last_no();
    e.site = hk__site_of(hk__thread_get(), src);
    e.size = HK__REC_SIZE(r);
    e.ptr = r->ptr;
    hk__event_heap(&e, HK__REC_HEAP(r));
    hk__event_add(&e);
}

/* ---- hk heaps: destroy and release --------------------------------------- */

/* Remove the records of heap `id` (release: those whose blocks are gone),
 * from every thread's table; turn them into LEAK events when `leak`. */
static void hk__sweep_heap(unsigned id, hk_heap *h, int leak)
{
    struct hk__thread *th = hk__thread_get();
    struct hk__tab *mine = th ? th->tab : NULL, *t;
    for (t = __atomic_load_n(&hk__tabs, __ATOMIC_ACQUIRE); t;
         t = __atomic_load_n(&t->link, __ATOMIC_ACQUIRE)) {
        uint32_t i;
        hk__spin_lock(&t->lock);
        /* nrec read each time: a removal may release the table's memory */
        for (i = 0; i < __atomic_load_n(&t->nrec, __ATOMIC_ACQUIRE); i++) {
            hk__rec r, x;
            uintptr_t rp = hk__rec_ptr(hk__rec_at(t, i));
            if (!rp || (rp & HK__GONE))
                continue;
            hk__rec_load(hk__rec_at(t, i), &r);
            if (!r.ptr || (r.ptr & HK__GONE) || HK__REC_HEAP(&r) != id)
                continue;
            if (!leak) {
                size_t sz;
                /* release: keep the blocks the heap still has */
                if (h->be->size(h->bh, 0, (void *)r.ptr, &sz) == HK_OK)
                    continue;
            }
            if (leak && !(HK__REC_KIND(&r) & HK__K_IGNORE) && !hk__dbg_suspended()) {
                hk__event e;
                memset(&e, 0, sizeof e);
                e.kind = HK__EV_LEAK;
                e.rkind = (uint8_t)HK__REC_KIND(&r);
                e.no = r.no;
                e.after = r.no;
                e.site = r.site;
                e.size = HK__REC_SIZE(&r);
                e.ptr = r.ptr;
                hk__event_heap(&e, id);
                hk__event_add(&e);       /* lock order: table, then events */
            }
            if (t == mine || t->shared)
                hk__get_mine(t, r.ptr, id, &x, 1);
            else
                hk__get_other(t, r.ptr, id, &x, 1);
        }
        hk__spin_unlock(&t->lock);
    }
}

void hk__dbg_heap_destroyed(hk_heap *h)
{
    hk__sweep_heap(hk__heap_id(h), h, 1);
}

void hk__dbg_heap_released(hk_heap *h)
{
    hk__sweep_heap(hk__heap_id(h), h, 0);
}

/* ---- checkpoint ----------------------------------------------------------- */

unsigned long hk__dbg_mark_no;
uint32_t hk__dbg_mark_rt = HK__NO_RT;
size_t hk__dbg_mark_event;

/* The mark is the last number any thread handed out; every thread then
 * drops its batch, so whatever comes next is numbered past the mark. */
unsigned long hk_debug_checkpoint(void)
{
    unsigned long reg;
    uint32_t last, fb;
    hk__dbg_start();
    if (HK__FWD(checkpoint))
        return hk__dbg_fwd->checkpoint();
    hk__threads_scan(&reg, &last);
    hk__thread_counts(&hk__fallback_thread, &reg, &fb);
    if (fb > last)
        last = fb;
    __atomic_add_fetch(&hk__gate, HK__G_EPOCH, __ATOMIC_SEQ_CST);
    hk__dbg_mark_no = last;
    hk__dbg_mark_rt = HK__NO_RT | ((__atomic_load_n(&hk__rt_next, __ATOMIC_RELAXED) - 1)
                                   & (HK__NO_RT - 1));
    hk__spin_lock(&hk__ev_lock);
    hk__dbg_mark_event = hk__nev;
    hk__spin_unlock(&hk__ev_lock);
    return hk__dbg_mark_no;
}

/* ---- public counters ------------------------------------------------------- */

/* The tracker's record memory: the records handed out (the reserved
 * range's pages are touched only as far as that) and the indexes; and the
 * live records, counted (the owners keep no count). */
static size_t hk__tracker_bytes(unsigned long *live)
{
    size_t bytes = 0;
    struct hk__tab *t;
    *live = 0;
    for (t = __atomic_load_n(&hk__tabs, __ATOMIC_ACQUIRE); t;
         t = __atomic_load_n(&t->link, __ATOMIC_ACQUIRE)) {
        uint32_t i, n;
        hk__spin_lock(&t->lock);
        n = __atomic_load_n(&t->nrec, __ATOMIC_ACQUIRE);
        bytes += (size_t)n * sizeof(hk__rec);
        if (__atomic_load_n(&t->idx, __ATOMIC_ACQUIRE))
            bytes += hk__idx_bytes(t->cap);
        for (i = 1; i < n; i++) {
            uintptr_t p = hk__rec_ptr(hk__rec_at(t, i));
            *live += p && !(p & HK__GONE);
        }
        hk__spin_unlock(&t->lock);
    }
    return bytes;
}

struct hk__count_arg { unsigned long live, entries; };

static void hk__count_rec(const hk__rec *r, void *arg)
{
    struct hk__count_arg *c = arg;
    c->live++;
    if (hk__dbg_past_mark(r->no))
        c->entries++;
}

void hk_debug_stats_get(hk_debug_stats *st)
{
    struct hk__count_arg c = { 0, 0 };
    unsigned long all;
    size_t bytes;
    if (!st)
        return;
    hk__dbg_start();
    if (HK__FWD(stats)) {
        hk__dbg_fwd->stats(st);
        return;
    }
    hk__dbg_each_record(hk__count_rec, &c, 1);
    bytes = hk__tracker_bytes(&all);
    st->registered = hk__dbg_registered();
    st->live = c.live;
    st->entries = c.entries + (unsigned long)(hk__nev - hk__dbg_mark_event);
    st->missed = hk__dbg_missed();
    st->record_bytes = all ? bytes / all : 0;
    st->threads = __atomic_load_n(&hk__nthreads, __ATOMIC_RELAXED);
    st->thread_bytes = __atomic_load_n(&hk__thread_bytes, __ATOMIC_RELAXED);
}

/* ---- fork ------------------------------------------------------------------ */

/* Every tracker lock, taken by the forking thread before fork() and
 * released after it in both processes: no other thread holds one at the
 * moment of the fork, so the child (which has only this thread) never
 * waits for a lock whose owner did not come along.  Order: as the
 * tracker nests them (start, suspend, threads, fallback, sites, tables,
 * events). */
void hk__dbg_fork_prepare(void)
{
    struct hk__tab *t;
    hk__spin_lock(&hk__start_lock);
    hk__spin_lock(&hk__suspend_lock);
    hk__spin_lock(&hk__threads_lock);
    hk__spin_lock(&hk__fallback_lock);
    hk__spin_lock(&hk__sites_lock);
    hk__spin_lock(&hk__tabs_lock);
    for (t = __atomic_load_n(&hk__tabs, __ATOMIC_ACQUIRE); t;
         t = __atomic_load_n(&t->link, __ATOMIC_ACQUIRE))
        hk__spin_lock(&t->lock);
    hk__spin_lock(&hk__ev_lock);
}

void hk__dbg_fork_release(void)
{
    struct hk__tab *t;
    hk__spin_unlock(&hk__ev_lock);
    for (t = __atomic_load_n(&hk__tabs, __ATOMIC_ACQUIRE); t;
         t = __atomic_load_n(&t->link, __ATOMIC_ACQUIRE))
        hk__spin_unlock(&t->lock);
    hk__spin_unlock(&hk__tabs_lock);
    hk__spin_unlock(&hk__sites_lock);
    hk__spin_unlock(&hk__fallback_lock);
    hk__spin_unlock(&hk__threads_lock);
    hk__spin_unlock(&hk__suspend_lock);
    hk__spin_unlock(&hk__start_lock);
}
