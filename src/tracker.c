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
#include "tracker.h"

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
#  include <sys/mman.h>
#  include <unistd.h>
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
    void *p;
#ifdef _WIN32
    p = VirtualAlloc(NULL, n, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
#else
    p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        p = NULL;
#endif
    return p;
}

void hk__dbg_os_free(void *p, size_t n)
{
    if (!p)
        return;
#ifdef _WIN32
    (void)n;
    VirtualFree(p, 0, MEM_RELEASE);
#else
    munmap(p, n);
#endif
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

/* ---- start -------------------------------------------------------------- */

static hk__spin hk__start_lock;
int hk__dbg_started;                 /* tracker.h: HK__DBG_START */

static long hk__env_long(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 10) : 0;
}

void hk__dbg_start(void)
{
    const char *v;
    if (__atomic_load_n(&hk__dbg_started, __ATOMIC_ACQUIRE))
        return;
    hk__spin_lock(&hk__start_lock);
    if (!hk__dbg_started) {
        v = getenv("HEAPKIT_FORMAT");
        hk__dbg_cfg.json = v && strcmp(v, "json") == 0;
        v = getenv("HEAPKIT_LANG");
        hk__dbg_cfg.german = v && strncmp(v, "de", 2) == 0;
        hk__dbg_cfg.record_zero = hk__env_long("HEAPKIT_RECORD_ZERO_SIZE") != 0;
        hk__dbg_cfg.abort_wrong_size = (int)hk__env_long("HEAPKIT_ABORT_ON_WRONG_SIZE");
        hk__dbg_cfg.abort_unknown_free = (int)hk__env_long("HEAPKIT_ABORT_ON_UNKNOWN_FREE");
        hk__dbg_cfg.break_alloc = (unsigned long)hk__env_long("HEAPKIT_BREAK_ALLOC");
        hk__dbg_read_max_entries();
        v = getenv("HEAPKIT_REPORT");
        if (v && *v) {
            strncpy(hk__dbg_cfg.report_path, v, sizeof hk__dbg_cfg.report_path - 1);
            hk__dbg_cfg.report_path[sizeof hk__dbg_cfg.report_path - 1] = 0;
        }
        hk__dbg_install_exit_hooks();
        __atomic_store_n(&hk__dbg_active, 1, __ATOMIC_RELEASE);
        hk__heaps_debug_on();
        __atomic_store_n(&hk__dbg_started, 1, __ATOMIC_RELEASE);
    }
    hk__spin_unlock(&hk__start_lock);
}

/* A value that is no number is a typo: say so (one line, no stdio: the
 * debugger may start inside the first malloc) and keep the default. */
void hk__dbg_read_max_entries(void)
{
    const char *v = getenv("HEAPKIT_MAX_ENTRIES");
    char *end;
    unsigned long n;
    hk__dbg_cfg.max_entries = HK__DEFAULT_MAX_ENTRIES;
    if (!v || !*v)
        return;
    n = strtoul(v, &end, 10);
    while (*end == ' ' || *end == '\t')
        end++;
    if (end != v && *end == 0 && *v != '-' && *v != '+') {
        hk__dbg_cfg.max_entries = n;
        return;
    }
    {
        static const char a[] = "heapkit: HEAPKIT_MAX_ENTRIES=\"",
                          b[] = "\" is not a number; using the default, "
                                HK__XSTR(HK__DEFAULT_MAX_ENTRIES) "\n";
        char msg[160];
        size_t k = strlen(v) > 64 ? 64 : strlen(v);
        memcpy(msg, a, sizeof a - 1);
        memcpy(msg + sizeof a - 1, v, k);
        memcpy(msg + sizeof a - 1 + k, b, sizeof b - 1);
#ifdef _WIN32
        _write(2, msg, (unsigned)(sizeof a - 1 + k + sizeof b - 1));
#else
        if (write(2, msg, sizeof a - 1 + k + sizeof b - 1) < 0)
            return;
#endif
    }
}

void hk__dbg_autostart(void)
{
    static int checked;
    if (!__atomic_load_n(&checked, __ATOMIC_ACQUIRE)) {
        if (hk__env_long("HEAPKIT_DEBUG") != 0)
            hk__dbg_start();
        __atomic_store_n(&checked, 1, __ATOMIC_RELEASE);
    }
}

/* ---- suspend ------------------------------------------------------------ */

static volatile int hk__suspend;

void hk_debug_suspend(int suspend)
{
    hk__dbg_start();
    if (suspend)
        __atomic_add_fetch(&hk__suspend, 1, __ATOMIC_SEQ_CST);
    else if (__atomic_load_n(&hk__suspend, __ATOMIC_SEQ_CST) > 0)
        __atomic_sub_fetch(&hk__suspend, 1, __ATOMIC_SEQ_CST);
}

int hk__dbg_suspended(void)
{
    return __atomic_load_n(&hk__suspend, __ATOMIC_RELAXED) > 0;
}

/* ---- per-thread state: allocation numbers and the site cache ------------ */

#define HK__NO_BATCH 16u
#define HK__SITE_CACHE 64u

struct hk__site_slot {
    uintptr_t caller;
    const char *file, *type;
    int line;
    uint32_t id;
};

struct hk__thread {
    uint32_t next_no, end_no;        /* the batch of numbers in hand */
    uint32_t epoch;                  /* hk__no_epoch when it was taken */
    uint32_t last_no;
    unsigned long registered;
    struct hk__site_slot cache[HK__SITE_CACHE];
    struct hk__thread *link;
    void *map;                       /* the OS memory: [guard][alt stack][this] */
    size_t map_size;
    void *alt;                       /* our alternate signal stack, if set up */
    struct hk__tab *tab;             /* this thread's records */
#ifdef _WIN32
    DWORD tid;
#endif
};

static volatile uint32_t hk__no_next = 1;
static volatile uint32_t hk__no_epoch;  /* a checkpoint voids every batch */
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

#if defined(__GNUC__) && !defined(_WIN32)
static __thread struct hk__thread *hk__me __attribute__((tls_model("initial-exec")));
#else
static _Thread_local struct hk__thread *hk__me;
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
#ifdef _WIN32
    return 4096;
#else
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
#endif
}

static void hk__thread_retire(struct hk__thread *t);
struct hk__tab;
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
#ifndef _WIN32
    if (mprotect(m, guard, PROT_NONE) != 0)
        alt = 0;
#endif
    t = (struct hk__thread *)(m + guard + alt);
    memset(t, 0, sizeof *t);
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
    return t;
}

static struct hk__thread *hk__thread_get(void)
{
    struct hk__thread *t = hk__me;
    if (HK_LIKELY(t != NULL))
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
    if (hk__me == t)
        hk__me = NULL;
    hk__tab_orphan(t->tab);
    t->tab = NULL;
    may_free = hk__alt_stack_drop(t);
    hk__spin_lock(&hk__threads_lock);
    __atomic_add_fetch(&hk__threads_seq, 1, __ATOMIC_SEQ_CST);     /* odd */
    for (pp = &hk__threads; *pp && *pp != t; pp = &(*pp)->link)
        ;
    if (*pp)
        __atomic_store_n(pp, t->link, __ATOMIC_RELEASE);
    __atomic_add_fetch(&hk__dead_registered, t->registered, __ATOMIC_RELAXED);
    if (t->last_no > hk__dead_last_no)
        __atomic_store_n(&hk__dead_last_no, t->last_no, __ATOMIC_RELAXED);
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
            uint32_t tl = __atomic_load_n(&t->last_no, __ATOMIC_RELAXED);
            r += __atomic_load_n(&t->registered, __ATOMIC_RELAXED);
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

static void hk__break_here(void)
{
#ifdef _WIN32
    DebugBreak();
#else
    raise(SIGTRAP);
#endif
}

/* The next allocation number from the thread's batch (a checkpoint voids
 * the batch).  The owner thread alone writes last_no and registered; other
 * threads read them (counters, checkpoints), hence the relaxed atomic
 * stores.  Inlined into malloc's fast path too. */
static inline __attribute__((always_inline))
uint32_t hk__next_no(struct hk__thread *t, int count)
{
    uint32_t no;
    uint32_t epoch = __atomic_load_n(&hk__no_epoch, __ATOMIC_RELAXED);
    if (HK_UNLIKELY(t->next_no == t->end_no || t->epoch != epoch)) {
        t->next_no = __atomic_fetch_add(&hk__no_next, HK__NO_BATCH, __ATOMIC_RELAXED);
        t->end_no = t->next_no + HK__NO_BATCH;
        t->epoch = epoch;
    }
    no = t->next_no++;
    __atomic_store_n(&t->last_no, no, __ATOMIC_RELAXED);
    if (count)
        __atomic_store_n(&t->registered, t->registered + 1, __ATOMIC_RELAXED);
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

unsigned long hk__dbg_registered(void)
{
    unsigned long n;
    uint32_t last;
    hk__threads_scan(&n, &last);
    return n + __atomic_load_n(&hk__fallback_thread.registered, __ATOMIC_RELAXED);
}

static uint32_t hk__last_no(void)
{
    struct hk__thread *t = hk__me;
    return t ? t->last_no : hk__fallback_thread.last_no;
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
    return h ^ (h >> 29);
}

uint32_t hk__dbg_nsites(void)
{
    return __atomic_load_n(&hk__nsites, __ATOMIC_ACQUIRE);
}

const hk__site *hk__dbg_site(uint32_t id)
{
    if (id == 0 || id > hk__nsites)
        return NULL;
    return &hk__site_chunk[(id - 1) / HK__SITE_CHUNK][(id - 1) % HK__SITE_CHUNK];
}

static int hk__site_same(const hk__site *s, const hk__src *src)
{
    return s->caller == src->caller && s->file == src->file && s->line == src->line
        && s->type == src->type;
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
        id = ++hk__nsites;
        hk__site_index[pos] = id;
    }
out:
    hk__spin_unlock(&hk__sites_lock);
    return id;
}


static uint32_t hk__site_of(struct hk__thread *t, const hk__src *src)
{
    struct hk__site_slot *c;
    uint32_t id;
    if (!t)
        return hk__site_intern(src);
    c = &t->cache[((src->caller >> 2) ^ (uintptr_t)src->line) % HK__SITE_CACHE];
    if (HK_LIKELY(c->id && c->caller == src->caller && c->file == src->file
                  && c->line == src->line && c->type == src->type))
        return c->id;
    id = hk__site_intern(src);
    if (id) {
        c->caller = src->caller;
        c->file = src->file;
        c->line = src->line;
        c->type = src->type;
        c->id = id;
    }
    return id;
}

/* ---- per-thread tables of records ----------------------------------------- */

/* Each thread records its allocations in a table of its own, so that its
 * mallocs and frees take no lock and write no shared cache line:
 *  - records sit in chunks that never move (chunk k holds HK__CHUNK0 << k
 *    records, so a record id finds its chunk with one bit scan), reused
 *    through a free list: 24 bytes per record, and a reader on another
 *    thread never sees one move;
 *  - an index of 32-bit entries, linear probing with tombstones (entries
 *    never move either, except in a rebuild): record id and 6 bits of the
 *    pointer's hash, so a probe rarely reads a record that is not it.  It is
 *    kept 56% to 72% full: a lookup reads one cache line of it, a live
 *    record costs 24 + 4 / load, about 30 bytes;
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

#define HK__CHUNK0_LOG 10u
#define HK__CHUNK0 (1u << HK__CHUNK0_LOG)
#define HK__CHUNKS 16u                       /* 1024 * (2^16 - 1) records */
#define HK__TAG_BITS 6u
#define HK__TAG_MASK ((1u << HK__TAG_BITS) - 1)
#define HK__MAX_RECS (HK__CHUNK0 * ((1u << HK__CHUNKS) - 1))
#define HK__E_EMPTY 0u
#define HK__E_TOMB 1u
#define HK__GONE ((uintptr_t)1)              /* rec.ptr bit 0: freed elsewhere */
/* Other threads hand the ids they marked gone back to the owner in a list
 * (appended under the table's lock); the owner swaps it for its spare one
 * on its slow path once HK__PEND_MIN wait and lets those records go, so
 * its index keeps few dead entries and the ids come back to its free list.
 * A list that cannot grow loses nothing: the owner drops marked records it
 * meets in a probe or a rebuild. */
#define HK__PEND_MIN 64u

struct __attribute__((aligned(64))) hk__tab {
    /* the owner's line: other threads only read it */
    volatile int shared;            /* no owner: every change under lock   */
    uint32_t cap, used;             /* index slots; those not empty        */
    uint32_t limit;                 /* used < limit: room (72% of cap)     */
    uint32_t *idx;
    uint32_t nrec;                  /* record ids handed out so far        */
    uint32_t free_id;               /* free list head, id + 1; 0: none     */
    unsigned long live;             /* records in the index (owner writes) */
    unsigned long cleaned;          /* gone records the owner dropped      */
    hk__rec *chunk[HK__CHUNKS];
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

static inline uint32_t hk__home(uint64_t h, uint32_t cap)
{
    return (uint32_t)((h >> 32) * cap >> 32);
}

static inline uint32_t hk__tag(uint64_t h)
{
    return (uint32_t)(h >> 20) & HK__TAG_MASK;
}

static inline uint32_t hk__next(uint32_t pos, uint32_t cap)
{
    return pos + 1 == cap ? 0 : pos + 1;
}

/* The owner's probes look at the 4 entries from the home slot at once
 * (x86: one load, compares into bit masks): how far a run goes then costs
 * no mispredicted branch.  The loops behind them handle the rest (longer
 * runs, the end of the index).  Bit i: entry home + i. */
#ifdef __SSE2__
#define HK__WIN 4u
static inline __m128i hk__win(const uint32_t *idx, uint32_t home)
{
    return _mm_loadu_si128((const __m128i *)(const void *)(idx + home));
}

/* Empty or a tombstone: where an insert goes. */
static inline unsigned hk__win_free(__m128i v)
{
    return (unsigned)_mm_movemask_ps(_mm_castsi128_ps(
        _mm_cmpeq_epi32(_mm_srli_epi32(v, HK__TAG_BITS), _mm_setzero_si128())));
}

/* A record with this tag before the first empty entry. */
static inline unsigned hk__win_match(__m128i v, uint32_t tag, unsigned *empty)
{
    __m128i z = _mm_setzero_si128();
    __m128i rec = _mm_cmpeq_epi32(_mm_srli_epi32(v, HK__TAG_BITS), z);
    __m128i tg = _mm_cmpeq_epi32(_mm_and_si128(v, _mm_set1_epi32((int)HK__TAG_MASK)),
                                 _mm_set1_epi32((int)tag));
    unsigned m = (unsigned)_mm_movemask_ps(_mm_castsi128_ps(_mm_andnot_si128(rec, tg)));
    unsigned e = (unsigned)_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(v, z)));
    *empty = e;
    return m & ((e & (0u - e)) - 1u);
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
    uint32_t v = id + HK__CHUNK0;
    unsigned k = 31u - (unsigned)__builtin_clz(v) - HK__CHUNK0_LOG;
    return &t->chunk[k][v - (HK__CHUNK0 << k)];
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

static inline void hk__count(unsigned long *c, long d)
{
    __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + (unsigned long)d,
                     __ATOMIC_RELAXED);
}

/* A record id for a new record, or UINT32_MAX (out of memory). */
static uint32_t hk__id_new(struct hk__tab *t)
{
    uint32_t id, v;
    unsigned k;
    if (t->free_id) {
        id = t->free_id - 1;
        t->free_id = hk__rec_at(t, id)->no;
        return id;
    }
    if (t->nrec >= HK__MAX_RECS)
        return UINT32_MAX;
    id = t->nrec;
    v = id + HK__CHUNK0;
    k = 31u - (unsigned)__builtin_clz(v) - HK__CHUNK0_LOG;
    if (!t->chunk[k]) {
        hk__rec *c = hk__dbg_os_alloc((size_t)(HK__CHUNK0 << k) * sizeof(hk__rec));
        if (!c)
            return UINT32_MAX;
        __atomic_store_n(&t->chunk[k], c, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&t->nrec, id + 1, __ATOMIC_RELEASE);
    return id;
}

static inline __attribute__((always_inline)) void hk__id_free(struct hk__tab *t, uint32_t id)
{
    hk__rec *r = hk__rec_at(t, id);
    __atomic_store_n(&r->ptr, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&r->no, t->free_id, __ATOMIC_RELAXED);
    t->free_id = id + 1;
}

/* Drop the index entry at pos (owner, or lock held on a shared table):
 * empty when the run ends there (so runs stay short), else a tombstone. */
static inline __attribute__((always_inline)) void hk__idx_drop(struct hk__tab *t, uint32_t pos)
{
    /* without a branch on the neighbours but for the rare walk back */
    uint32_t cap = t->cap, prev = pos ? pos - 1 : cap - 1;
    uint32_t end = t->idx[hk__next(pos, cap)] == HK__E_EMPTY;
    hk__idx_set(t, pos, end ? HK__E_EMPTY : HK__E_TOMB);
    t->used -= end;
    if (HK_UNLIKELY(end & (t->idx[prev] == HK__E_TOMB))) {
        for (pos = prev; t->idx[pos] == HK__E_TOMB; pos = pos ? pos - 1 : cap - 1) {
            hk__idx_set(t, pos, HK__E_EMPTY);
            t->used--;
        }
    }
}

/* Remove the record at index slot pos (record id) from a table the caller
 * owns or has locked as shared. */
static inline __attribute__((always_inline))
void hk__remove_mine(struct hk__tab *t, uint32_t pos, uint32_t id)
{
    hk__idx_drop(t, pos);
    hk__id_free(t, id);
    hk__count(&t->live, -1);
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
        want = ((id + 1) << HK__TAG_BITS) | hk__tag(h);
        for (pos = hk__home(h, t->cap); (e = t->idx[pos]) != HK__E_EMPTY && e != want;
             pos = hk__next(pos, t->cap))
            ;
        if (e == want) {
            hk__clean(t, pos, id);
        } else {                            /* not indexed: only the id */
            hk__id_free(t, id);
            hk__count(&t->live, -1);
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

/* Rebuild the index for the live records, at most 56% full (lock held).
 * Marked records go now. */
static int hk__rebuild(struct hk__tab *t)
{
    uint32_t ncap, i, *ni, live = 0;
    for (i = 0; i < t->nrec; i++) {
        uintptr_t p = hk__rec_ptr(hk__rec_at(t, i));
        live += p && !(p & HK__GONE);
    }
    ncap = live + live / 5 * 4 + 64;
    ni = hk__dbg_os_alloc((size_t)ncap * sizeof *ni);
    if (!ni)
        return 0;
    memset(ni, 0, (size_t)ncap * sizeof *ni);
    for (i = 0; i < t->nrec; i++) {
        hk__rec *r = hk__rec_at(t, i);
        uintptr_t p = hk__rec_ptr(r);
        uint64_t h;
        uint32_t pos;
        if (!p)
            continue;
        if (p & HK__GONE) {
            hk__id_free(t, i);
            hk__count(&t->live, -1);
            hk__count(&t->cleaned, 1);
            continue;
        }
        h = hk__hash(p);
        for (pos = hk__home(h, ncap); ni[pos]; pos = hk__next(pos, ncap))
            ;
        ni[pos] = ((i + 1) << HK__TAG_BITS) | hk__tag(h);
    }
    hk__dbg_os_free(t->idx, (size_t)t->cap * sizeof *ni);
    __atomic_store_n(&t->idx, ni, __ATOMIC_RELEASE);
    t->cap = ncap;
    t->limit = (uint32_t)((uint64_t)ncap * 18 / 25);
    t->used = live;
    __atomic_store_n(&t->ridx, ni, __ATOMIC_RELAXED);
    __atomic_store_n(&t->rcap, ncap, __ATOMIC_RELAXED);
    return 1;
}

/* Insert the record of r->ptr (owner, or lock held on a shared table)
 * at the first free or tombstone slot of its run: one short probe, no
 * lookup first.  (A block freed behind the tracker's back, (free)(p), and
 * handed out again gets a second record; its first one stays behind the
 * new one and is reported as a leak.)  0: out of memory. */
static int hk__tab_put(struct hk__tab *t, const hk__rec *r, int locked)
{
    uint64_t h = hk__hash(r->ptr);
    uint32_t tag = hk__tag(h), pos, e, id;
    hk__drain_some(t, locked);
    if (HK_UNLIKELY((uint64_t)(t->used + 1) * 25 > (uint64_t)t->cap * 18)) {
        int ok;
        if (!locked)
            hk__spin_lock(&t->lock);
        ok = hk__rebuild(t);
        if (!locked)
            hk__spin_unlock(&t->lock);
        if (!ok && t->used + 1 >= t->cap)
            return 0;                       /* full and no memory */
    }
    id = hk__id_new(t);
    if (HK_UNLIKELY(id == UINT32_MAX))
        return 0;
    hk__rec_store(hk__rec_at(t, id), r);
    for (pos = hk__home(h, t->cap); (e = t->idx[pos]) > HK__E_TOMB;
         pos = hk__next(pos, t->cap))
        ;
    if (e == HK__E_EMPTY)
        t->used++;
    hk__idx_set(t, pos, ((id + 1) << HK__TAG_BITS) | tag);
    hk__count(&t->live, 1);
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
    uint32_t tag = hk__tag(h), pos, e;
    uint32_t cap = mine ? t->cap : __atomic_load_n(&t->rcap, __ATOMIC_RELAXED);
    const uint32_t *idx = mine ? t->idx : __atomic_load_n(&t->ridx, __ATOMIC_RELAXED);
    if (!cap)
        return 0;
    for (pos = hk__home(h, cap); (e = __atomic_load_n(&idx[pos], __ATOMIC_ACQUIRE))
                                 != HK__E_EMPTY; pos = hk__next(pos, cap)) {
        if (e != HK__E_TOMB && (e & HK__TAG_MASK) == tag) {
            uint32_t id = (e >> HK__TAG_BITS) - 1;
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

/* The owner thread ends: its records stay, the table waits for another. */
static void hk__tab_orphan(struct hk__tab *t)
{
    if (!t)
        return;
    hk__spin_lock(&t->lock);
    __atomic_store_n(&t->shared, 1, __ATOMIC_RELEASE);
    t->rshared = 1;
    if (t->live == t->gone - t->cleaned) {
        /* nothing live: its memory goes back (a thread that freed all it
         * allocated leaves nothing behind) */
        unsigned k;
        __atomic_store_n(&t->nrec, 0, __ATOMIC_RELEASE);
        for (k = 0; k < HK__CHUNKS && t->chunk[k]; k++) {
            hk__dbg_os_free(t->chunk[k], (size_t)(HK__CHUNK0 << k) * sizeof(hk__rec));
            t->chunk[k] = NULL;
        }
        hk__dbg_os_free(t->idx, (size_t)t->cap * sizeof *t->idx);
        t->idx = NULL;
        t->cap = t->used = t->free_id = t->limit = 0;
        __atomic_store_n(&t->ridx, NULL, __ATOMIC_RELAXED);
        __atomic_store_n(&t->rcap, 0, __ATOMIC_RELAXED);
        t->live = t->gone = t->cleaned = 0;
        hk__dbg_os_free(t->pend, (size_t)t->pcap * sizeof *t->pend);
        hk__dbg_os_free(t->spare, (size_t)t->scap * sizeof *t->spare);
        t->pend = t->spare = NULL;
        t->npend = t->pcap = t->scap = 0;
    }
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
    if (take)
        hk__remove_mine(t, pos, id);
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
        if (!__atomic_compare_exchange_n(&r->ptr, &want, p | HK__GONE, 0,
                                         __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            return 0;                       /* freed at this moment by its owner */
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

/* The common free: the block is in the caller's own table, of this heap
 * (and not a Windows aligned block: its free differs).  One probe, no
 * lock, no shared write; 0 leaves everything as it was, for the full way.
 * *out: the record. */
static inline __attribute__((always_inline)) int hk__take_fast(struct hk__thread *th,
                                                               const void *p, unsigned heap,
                                                               hk__rec *out)
{
    struct hk__tab *t;
    if (HK_LIKELY(th != NULL && (t = th->tab) != NULL && t->cap)) {
        uint64_t h = hk__hash((uintptr_t)p);
        uint32_t tag = hk__tag(h), pos, e, id, cap = t->cap;
        const uint32_t *idx = t->idx;
        hk__rec *r;
        pos = hk__home(h, cap);
#ifdef __SSE2__
        if (HK_LIKELY(pos + HK__WIN <= cap)) {
            unsigned empty, m = hk__win_match(hk__win(idx, pos), tag, &empty);
            if (HK_LIKELY(m != 0)) {
                pos += (uint32_t)__builtin_ctz(m);   /* the first candidate */
                e = idx[pos];
                goto found;
            }
            if (empty)
                return 0;                       /* not in this table */
        }
#endif
        for (;; pos = hk__next(pos, cap)) {
            e = idx[pos];
            if (e == HK__E_EMPTY)
                return 0;
            if (e != HK__E_TOMB && (e & HK__TAG_MASK) == tag)
                break;
        }
    found:
        id = (e >> HK__TAG_BITS) - 1;
        r = hk__rec_at(t, id);
        if (__atomic_load_n(&r->ptr, __ATOMIC_RELAXED) != (uintptr_t)p)
            return 0;                           /* rare: the full way */
        *out = *r;
        if (HK_UNLIKELY(HK__REC_HEAP(out) != heap))
            return 0;
        hk__remove_mine(t, pos, id);
        return 1;
    }
    return 0;
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
static void hk__put_or_miss(const hk__rec *r)
{
    if (!hk__put(r)) {
        __atomic_store_n(&hk__dbg_lost, 1, __ATOMIC_RELAXED);
        hk__count_missed();
    }
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
    if (HK_LIKELY(t != NULL)) {
        r.no = hk__take_no(t, count);
        r.site = hk__site_of(t, src);
    } else {
        hk__spin_lock(&hk__fallback_lock);
        r.no = hk__take_no(&hk__fallback_thread, count);
        hk__spin_unlock(&hk__fallback_lock);
        r.site = hk__site_of(NULL, src);
    }
    hk__put_or_miss(&r);
}

/* The common malloc: a thread with its table, a number in hand, a known
 * call site, a free record id and room in the index.  0: nothing done,
 * the full way. */
static inline __attribute__((always_inline)) int hk__add_fast(
    struct hk__thread *th, void *p, size_t n, unsigned heap, unsigned kind,
    uintptr_t caller, const char *file, int line, const char *type)
{
    struct hk__tab *t;
    if (HK_LIKELY(th != NULL && (t = th->tab) != NULL && t->free_id
                  && n - 1 < HK__MAX_SIZE && t->used < t->limit
                  && !(__atomic_load_n(&hk__suspend, __ATOMIC_RELAXED)
                       | hk__dbg_cfg.break_alloc))) {
        struct hk__site_slot *c =
            &th->cache[((caller >> 2) ^ (uintptr_t)line) % HK__SITE_CACHE];
        if (HK_LIKELY(c->id && c->caller == caller && c->file == file
                      && c->line == line && c->type == type)) {
            uint32_t id = t->free_id - 1, no, pos, e, cap = t->cap;
            uint64_t h = hk__hash((uintptr_t)p);
            uint32_t *idx = t->idx;
            hk__rec *r = hk__rec_at(t, id);
            t->free_id = r->no;               /* the free list's next id */
            no = hk__next_no(th, 1);
            __atomic_store_n(&r->meta, HK__META(n, heap, kind), __ATOMIC_RELAXED);
            __atomic_store_n(&r->no, no, __ATOMIC_RELAXED);
            __atomic_store_n(&r->site, c->id, __ATOMIC_RELAXED);
            __atomic_store_n(&r->ptr, (uintptr_t)p, __ATOMIC_RELEASE);
            pos = hk__home(h, cap);
#ifdef __SSE2__
            if (HK_LIKELY(pos + HK__WIN <= cap)) {
                unsigned m = hk__win_free(hk__win(idx, pos));
                if (HK_LIKELY(m != 0))
                    pos += (uint32_t)__builtin_ctz(m);
            }
#endif
            for (; (e = idx[pos]) > HK__E_TOMB; pos = hk__next(pos, cap))
                ;
            t->used += e == HK__E_EMPTY;
            hk__idx_set(t, pos, ((id + 1) << HK__TAG_BITS) | hk__tag(h));
            hk__count(&t->live, 1);
            hk__hint_set((uintptr_t)p, t);
            return 1;
        }
    }
    return 0;
}

void hk__dbg_add(void *p, size_t n, unsigned heap, unsigned kind, const hk__src *src)
{
    if (HK_LIKELY(hk__add_fast(hk__me, p, n, heap, kind, src->caller, src->file, src->line,
                               src->type)))
        return;
    hk__add(p, n, heap, kind, src, 1);
}

/* malloc and free through debug.h, the common case in one function each
 * (no call into the tracker, no call site built); anything else goes the
 * full way in debug.c. */
void *hk_dbg_malloc(size_t n, HK_DBG_SITE)
{
    uintptr_t caller = (uintptr_t)__builtin_return_address(0);
    void *p;
    HK__DBG_START();
    p = malloc(n);
    if (HK_UNLIKELY(p == NULL))
        return NULL;
    if (HK_LIKELY(!__atomic_load_n(&hk__dbg_lost, __ATOMIC_RELAXED)
                  && hk__add_fast(hk__me, p, n, HK__HEAP_MALLOC, 0, caller, file, line,
                                  NULL)))
        return p;
    return hk__dbg_malloc_record(p, n, file, line, func, caller);
}

void hk_dbg_free(void *p, HK_DBG_SITE)
{
    uintptr_t caller = (uintptr_t)__builtin_return_address(0);
    hk__rec r;
    int taken = 0;
    if (HK_LIKELY(p != NULL)) {
        taken = hk__take_fast(hk__me, p, HK__HEAP_MALLOC, &r);
        if (HK_LIKELY(taken && !(HK__REC_KIND(&r) & HK__K_ALIGNED)
                      && !__atomic_load_n(&hk__dbg_lost, __ATOMIC_RELAXED))) {
            free(p);
            return;
        }
    }
    hk__dbg_free_rest(p, taken ? &r : NULL, file, line, func, caller);
}

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
    r.meta = HK__META(n > HK__MAX_SIZE ? HK__MAX_SIZE : n, HK__REC_HEAP(old),
                      HK__REC_KIND(old));
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

/* ---- hk heaps: destroy and release --------------------------------------- */

/* Remove the records of heap `id` (release: those whose blocks are gone),
 * from every thread's table; turn them into LEAK events when `leak`. */
static void hk__sweep_heap(unsigned id, hk_heap *h, int leak)
{
    struct hk__thread *th = hk__thread_get();
    struct hk__tab *mine = th ? th->tab : NULL, *t;
    for (t = __atomic_load_n(&hk__tabs, __ATOMIC_ACQUIRE); t;
         t = __atomic_load_n(&t->link, __ATOMIC_ACQUIRE)) {
        uint32_t i, n;
        hk__spin_lock(&t->lock);
        n = __atomic_load_n(&t->nrec, __ATOMIC_ACQUIRE);
        for (i = 0; i < n; i++) {
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
size_t hk__dbg_mark_event;

/* The mark is the last number any thread handed out; every thread then
 * drops its batch, so whatever comes next is numbered past the mark. */
unsigned long hk_debug_checkpoint(void)
{
    unsigned long reg;
    uint32_t last;
    hk__dbg_start();
    hk__threads_scan(&reg, &last);
    if (__atomic_load_n(&hk__fallback_thread.last_no, __ATOMIC_RELAXED) > last)
        last = __atomic_load_n(&hk__fallback_thread.last_no, __ATOMIC_RELAXED);
    __atomic_add_fetch(&hk__no_epoch, 1, __ATOMIC_SEQ_CST);
    hk__dbg_mark_no = last;
    hk__spin_lock(&hk__ev_lock);
    hk__dbg_mark_event = hk__nev;
    hk__spin_unlock(&hk__ev_lock);
    return hk__dbg_mark_no;
}

/* ---- public counters ------------------------------------------------------- */

/* The tracker's record memory: the records handed out (a chunk's pages
 * are touched only as far as that) and the indexes. */
static size_t hk__tracker_bytes(unsigned long *live)
{
    size_t bytes = 0;
    struct hk__tab *t;
    *live = 0;
    for (t = __atomic_load_n(&hk__tabs, __ATOMIC_ACQUIRE); t;
         t = __atomic_load_n(&t->link, __ATOMIC_ACQUIRE)) {
        hk__spin_lock(&t->lock);
        bytes += (size_t)__atomic_load_n(&t->nrec, __ATOMIC_RELAXED) * sizeof(hk__rec)
               + (size_t)t->cap * sizeof(uint32_t);
        *live += __atomic_load_n(&t->live, __ATOMIC_RELAXED)
               - (__atomic_load_n(&t->gone, __ATOMIC_RELAXED)
                  - __atomic_load_n(&t->cleaned, __ATOMIC_RELAXED));
        hk__spin_unlock(&t->lock);
    }
    return bytes;
}

struct hk__count_arg { unsigned long live, entries; };

static void hk__count_rec(const hk__rec *r, void *arg)
{
    struct hk__count_arg *c = arg;
    c->live++;
    if (r->no > hk__dbg_mark_no)
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
