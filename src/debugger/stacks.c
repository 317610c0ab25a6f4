/*
 * stacks.c - backtraces at allocation (HEAPKIT_BACKTRACE=N) and the stack
 * depot.
 *
 * A stack is taken only when N > 0; then the tracker's fast path is off
 * (the gate) and every allocation comes here through the call-site
 * interning, so N = 0 costs the malloc path nothing.  The frames come
 * from a frame-pointer walk where the program keeps frame pointers, else
 * from the cached unwinder (unwind.c, x86-64 Linux: each return address's
 * frame rule read once from .eh_frame), else from libgcc's
 * _Unwind_Backtrace: the first time a call site is seen the frame-pointer
 * walk is tried against the unwinder's frames, and trusted for that site
 * from then on only if it gave the same frames.  The frames above the caller -- heapkit's own
 * and the allocator's entry points -- are left out by starting at the
 * caller's return address, which the entry point knows.  Each distinct stack is stored once, in OS memory, under a
 * 32-bit id that the call site carries.
 */
#if !defined(_WIN32) && !defined(_GNU_SOURCE)
#  define _GNU_SOURCE 1           /* pthread_getattr_np */
#endif
#include "tracker.h"
#include "stacks.h"

#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#  include <pthread.h>
#  include <unwind.h>
#  include <unistd.h>
#else
#  include <windows.h>
#endif

int hk__bt_depth;

/* HEAPKIT_BACKTRACE, as the settings parser read it (config.c: 0..64; a
 * bad value is said there and leaves backtraces off). */
void hk__stacks_init(void)
{
    int d = hk__dbg_cfg.backtrace > HK__BT_MAX ? HK__BT_MAX : hk__dbg_cfg.backtrace;
    /* other threads may read it already (before the gate is set): only a
     * change is written, atomically */
    if (d != __atomic_load_n(&hk__bt_depth, __ATOMIC_RELAXED))
        __atomic_store_n(&hk__bt_depth, d, __ATOMIC_RELAXED);
    hk__stacks_check_init();
}

/* ---- the depot ------------------------------------------------------------ */

/* A stack: its frame count, then the frames.  Stored in chunks of OS
 * memory that are never freed (ids stay valid for every report). */
typedef struct {
    uint64_t hash;
    uint32_t n;
    uintptr_t f[];
} hk__stack;

#define HK__DEPOT_CHUNK ((size_t)256 * 1024)
static char *hk__depot_at, *hk__depot_end;
static hk__stack **hk__stacks;             /* id - 1 -> stack */
static uint32_t hk__nstacks, hk__stacks_cap;
static uint32_t *hk__stack_index;          /* open addressing of ids; 0 empty */
static uint32_t hk__stack_icap;
static volatile int hk__depot_lock;

static void hk__depot_lock_take(void)
{
    while (__atomic_exchange_n(&hk__depot_lock, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&hk__depot_lock, __ATOMIC_RELAXED))
            ;
}

static void hk__depot_lock_give(void)
{
    __atomic_store_n(&hk__depot_lock, 0, __ATOMIC_RELEASE);
}

static uint64_t hk__stack_hash(const uintptr_t *f, size_t n)
{
    uint64_t h = 0xCBF29CE484222325ull ^ n;
    size_t i;
    for (i = 0; i < n; i++)
        h = (h ^ (uint64_t)f[i]) * 0x100000001B3ull, h ^= h >> 31;
    return h ? h : 1;
}

/* Lock held. */
static int hk__depot_grow(void)
{
    uint32_t ncap = hk__stack_icap ? hk__stack_icap * 2 : 4096, i, pos;
    uint32_t *ni;
    if (hk__nstacks + 1 > hk__stacks_cap) {
        uint32_t c = hk__stacks_cap ? hk__stacks_cap * 2 : 2048;
        hk__stack **ns = hk__dbg_os_alloc(c * sizeof *ns);
        if (!ns)
            return 0;
        if (hk__stacks) {
            memcpy(ns, hk__stacks, hk__nstacks * sizeof *ns);
            hk__dbg_os_free(hk__stacks, hk__stacks_cap * sizeof *ns);
        }
        hk__stacks = ns;
        hk__stacks_cap = c;
    }
    if ((hk__nstacks + 1) * 2 <= hk__stack_icap)
        return 1;
    ni = hk__dbg_os_alloc(ncap * sizeof *ni);
    if (!ni)
        return 0;
    memset(ni, 0, ncap * sizeof *ni);
    for (i = 1; i <= hk__nstacks; i++) {
        for (pos = (uint32_t)hk__stacks[i - 1]->hash & (ncap - 1); ni[pos];
             pos = (pos + 1) & (ncap - 1))
            ;
        ni[pos] = i;
    }
    if (hk__stack_index)
        hk__dbg_os_free(hk__stack_index, hk__stack_icap * sizeof *ni);
    hk__stack_index = ni;
    hk__stack_icap = ncap;
    return 1;
}

static uint32_t hk__stack_intern(const uintptr_t *f, size_t n)
{
    uint64_t h = hk__stack_hash(f, n);
    uint32_t pos, id = 0;
    size_t need = sizeof(hk__stack) + n * sizeof(uintptr_t);
    hk__stack *s;
    hk__depot_lock_take();
    if (!hk__depot_grow())
        goto out;
    for (pos = (uint32_t)h & (hk__stack_icap - 1); hk__stack_index[pos];
         pos = (pos + 1) & (hk__stack_icap - 1)) {
        s = hk__stacks[hk__stack_index[pos] - 1];
        if (s->hash == h && s->n == n && memcmp(s->f, f, n * sizeof *f) == 0) {
            id = hk__stack_index[pos];
            goto out;
        }
    }
    need = (need + 15) & ~(size_t)15;
    if ((size_t)(hk__depot_end - hk__depot_at) < need) {
        char *c = hk__dbg_os_alloc(HK__DEPOT_CHUNK);
        if (!c)
            goto out;
        hk__depot_at = c;
        hk__depot_end = c + HK__DEPOT_CHUNK;
    }
    s = (hk__stack *)(void *)hk__depot_at;
    hk__depot_at += need;
    s->hash = h;
    s->n = (uint32_t)n;
    memcpy(s->f, f, n * sizeof *f);
    hk__stacks[hk__nstacks] = s;
    id = ++hk__nstacks;
    __atomic_store_n(&hk__stack_index[pos], id, __ATOMIC_RELEASE);
out:
    hk__depot_lock_give();
    return id;
}

size_t hk__stack_frames(uint32_t id, const uintptr_t **frames)
{
    hk__stack *s;
    *frames = NULL;
    hk__depot_lock_take();
    if (id == 0 || id > hk__nstacks) {
        hk__depot_lock_give();
        return 0;
    }
    s = hk__stacks[id - 1];
    hk__depot_lock_give();
    *frames = s->f;
    return s->n;
}

/* ---- capture ---------------------------------------------------------------- */

#ifndef _WIN32

/* heapkit's own frames above the caller: a few; room for them and N. */
#define HK__BT_SKIP_MAX 16

static size_t hk__size_min_bt(size_t a, size_t b) { return a < b ? a : b; }

typedef struct {
    uintptr_t f[HK__BT_MAX + HK__BT_SKIP_MAX];
    size_t n, max;
} hk__bt_walk;

static _Unwind_Reason_Code hk__bt_step(struct _Unwind_Context *ctx, void *arg)
{
    hk__bt_walk *w = arg;
    uintptr_t ip = (uintptr_t)_Unwind_GetIP(ctx);
    if (!ip)
        return _URC_END_OF_STACK;
    w->f[w->n++] = ip;
    return w->n >= w->max ? _URC_END_OF_STACK : _URC_NO_REASON;
}

/* libgcc's unwinder: right wherever there is unwind information (every
 * frame gcc builds on Linux), but it interprets the frame data of every
 * frame: about 1,700 instructions a frame. */
static size_t hk__bt_unwind(uintptr_t caller, uintptr_t *out, size_t depth)
{
    hk__bt_walk w;
    size_t i;
    w.n = 0;
    w.max = depth + HK__BT_SKIP_MAX;
    /* libgcc finds the frame data through _dl_find_object (glibc 2.35+):
     * no allocation */
    _Unwind_Backtrace(hk__bt_step, &w);
    for (i = 0; i < w.n; i++)
        if (w.f[i] == caller)
            break;
    if (i == w.n)
        return 0;                  /* the caller is not on this stack */
    w.n = hk__size_min_bt(w.n - i, depth);
    memcpy(out, w.f + i, w.n * sizeof *out);
    return w.n;
}

#if defined(__x86_64__) || defined(__aarch64__)
/* The frame-pointer walk: a few instructions a frame instead of the
 * unwinder's 1,700, right where the program keeps frame pointers.
 * heapkit's own frames keep none, so the walk cannot start from the
 * register: it starts from where the caller's return address lies on the
 * stack and the caller's frame record above it, at distances from this
 * function's frame that are fixed for a call site.  They are learnt the
 * first time a site is seen, from the unwinder's frames, and trusted only
 * if the walk gives exactly those frames then.  At each later call the
 * slot must still hold the caller, and each step must go up the stack,
 * stay below the thread's stack top and be aligned; anything else ends
 * the walk. */
static __thread uintptr_t hk__bt_stack_hi, hk__bt_stack_lo;

static uintptr_t hk__bt_stack_top(void)
{
    pthread_attr_t a;
    void *lo;
    size_t size;
    if (hk__bt_stack_hi)
        return hk__bt_stack_hi;
    /* once per thread (it may read /proc/self/maps) */
    hk__dbg_internal_enter();         /* its memory is not the program's */
    if (pthread_getattr_np(pthread_self(), &a) == 0) {
        if (pthread_attr_getstack(&a, &lo, &size) == 0) {
            hk__bt_stack_lo = (uintptr_t)lo;
            hk__bt_stack_hi = (uintptr_t)lo + size;
        }
        pthread_attr_destroy(&a);
    }
    hk__dbg_internal_leave();
    return hk__bt_stack_hi;
}

/* Per caller: 0 not seen, 1 walk (at these distances, in words), 2 the
 * unwinder.  Lock-free: a lost race only asks the unwinder once more. */
#define HK__FP_SLOTS 4096u
typedef struct {
    uintptr_t caller;
    int state;
    int d_ret, d_fp;
} hk__fp_site;
static hk__fp_site hk__fp_seen[HK__FP_SLOTS];

static hk__fp_site *hk__fp_site_of(uintptr_t caller)
{
    unsigned i = (unsigned)((caller * 0x9E3779B97F4A7C15ull) >> 52), k;
    for (k = 0; k < 16; k++, i = (i + 1) & (HK__FP_SLOTS - 1)) {
        uintptr_t c = __atomic_load_n(&hk__fp_seen[i].caller, __ATOMIC_ACQUIRE), z = 0;
        if (c == caller)
            return &hk__fp_seen[i];
        if (c == 0 && (__atomic_compare_exchange_n(&hk__fp_seen[i].caller, &z, caller, 0,
                                                   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)
                       || z == caller))
            return &hk__fp_seen[i];
    }
    return NULL;                   /* crowded: the unwinder every time */
}

/* The walk reads other functions' frames on purpose (AddressSanitizer
 * would call that an underflow of this one's). */
#define HK__READS_STACK __attribute__((noinline, no_sanitize_address))

/* Up the frame records from fp: out[1..]; returns the count with out[0]. */
static HK__READS_STACK size_t hk__bt_chain(const uintptr_t *fp, const uintptr_t *prev, uintptr_t hi,
                           uintptr_t *out, size_t depth, hk__bt_log *log)
{
    size_t n = 1;
    uintptr_t ra;
    while (n < depth) {
        if (((uintptr_t)fp & 7) || fp <= prev || (uintptr_t)(fp + 2) > hi
            || (ra = hk__bt_logged(log, fp + 1)) < 4096)
            break;
        out[n++] = ra;
        prev = fp;
        fp = (const uintptr_t *)hk__bt_logged(log, fp);
    }
    return n;
}

/* The walk, at the distances learnt for this call site (log: the words
 * read).  Its frame lies where hk__bt_fp_learn's does: both are called
 * from hk__stack_capture's frame with every argument in a register
 * (six at most), so the distances hold for both. */
static HK__READS_STACK size_t hk__bt_fp_walk(hk__fp_site *site, uintptr_t caller,
                                             uintptr_t *out, size_t depth, hk__bt_log *log)
{
    const uintptr_t *self = __builtin_frame_address(0), *slot, *fp;
    uintptr_t hi = hk__bt_stack_top();
    if (!hi)
        return 0;
    out[0] = caller;
    slot = self + __atomic_load_n(&site->d_ret, __ATOMIC_RELAXED);
    if ((uintptr_t)(slot + 1) > hi || hk__bt_logged(log, slot) != caller)
        return 0;
    fp = slot + __atomic_load_n(&site->d_fp, __ATOMIC_RELAXED);
    return hk__bt_chain(fp, slot, hi, out, depth, log);
}

/* Learn the distances from the unwinder's frames learn[0..n). */
static HK__READS_STACK size_t hk__bt_fp_learn(hk__fp_site *site, uintptr_t caller,
                                              uintptr_t *out, size_t depth,
                                              const uintptr_t *learn, size_t n)
{
    const uintptr_t *self = __builtin_frame_address(0), *slot;
    uintptr_t hi = hk__bt_stack_top();
    size_t i, k, m;
    if (!hi)
        return 0;
    out[0] = caller;
    for (i = 2; i < 1024 && (uintptr_t)(self + i + 1) <= hi; i++) {
        if (self[i] != caller)
            continue;
        slot = self + i;
        for (k = 1; k < 2048 && (uintptr_t)(slot + k + 2) <= hi; k++) {
            if (n < 2 || slot[k + 1] != learn[1])
                continue;
            m = hk__bt_chain(slot + k, slot, hi, out, depth, NULL);
            if (m == n && memcmp(out, learn, n * sizeof *out) == 0) {
                /* two threads may learn at once: the same values */
                __atomic_store_n(&site->d_ret, (int)i, __ATOMIC_RELAXED);
                __atomic_store_n(&site->d_fp, (int)k, __ATOMIC_RELAXED);
                return m;
            }
        }
        break;                     /* the first slot with the caller is the one */
    }
    return 0;
}
#endif

/* A loop allocates from one stack many times over: each thread keeps its
 * last stack and id, and the same frames again need no hash, no lock. */
static __thread uint32_t hk__bt_last_id, hk__bt_last_n;
static __thread uintptr_t hk__bt_last[HK__BT_MAX];

static uint32_t hk__stack_intern_last(const uintptr_t *f, size_t n)
{
    uint32_t id;
    if (hk__bt_last_id && hk__bt_last_n == n
        && memcmp(hk__bt_last, f, n * sizeof *f) == 0)
        return hk__bt_last_id;
    id = hk__stack_intern(f, n);
    if (id) {
        memcpy(hk__bt_last, f, n * sizeof *f);
        hk__bt_last_n = (uint32_t)n;
        hk__bt_last_id = id;
    }
    return id;
}

/* ---- the stack cache ------------------------------------------------------ */

/* A loop or a hot path allocates from the same stack again and again.
 * Each thread keeps, per (caller, stack pointer here), the stack id of
 * the last walk from there and every stack word that walk read, with its
 * value.  The walks are functions of those words alone: the stack
 * pointer here fixes where they start, the frame rules are fixed per
 * address (unwind.c) and the frame-pointer walk's distances per caller;
 * a walk that used the register rbp (an rbp-based frame before any saved
 * rbp was read) is not kept.  So when the same words hold the same
 * values, the walk would give the same frames: a few loads and compares,
 * no walk, no hash, no lock.  Only walks whose words all lie in this
 * thread's stack above here are kept (mapped whenever this frame is).
 * A signal handler that allocates while its thread is inside the cache
 * walks without it (busy), so it never sees an entry half written. */
#define HK__SC_ENTRIES 64u
typedef struct {
    uintptr_t caller, sp;       /* the key; caller 0: empty */
    uint32_t id, n;             /* the stack; words checked */
    uint32_t off[HK__BT_LOG];   /* in words above sp */
    uintptr_t v[HK__BT_LOG];
} hk__sc_entry;
static __thread hk__sc_entry *hk__sc __attribute__((tls_model("initial-exec")));
static __thread int hk__sc_off __attribute__((tls_model("initial-exec")));   /* 1: none */
static __thread volatile int hk__sc_busy __attribute__((tls_model("initial-exec")));
static pthread_key_t hk__sc_key;
static pthread_once_t hk__sc_once = PTHREAD_ONCE_INIT;
static int hk__sc_key_ok;

/* Thread exit: the cache goes back to the OS, and none is made again for
 * the allocations of later destructors. */
static void hk__sc_done(void *p)
{
    hk__sc_off = 1;
    hk__sc = NULL;
    if (p)
        hk__dbg_os_free(p, HK__SC_ENTRIES * sizeof(hk__sc_entry));
}

static void hk__sc_key_make(void)
{
    hk__sc_key_ok = pthread_key_create(&hk__sc_key, hk__sc_done) == 0;
}

/* The thread's cache, made the first time (busy held). */
static __attribute__((noinline)) hk__sc_entry *hk__sc_make(void)
{
    hk__sc_entry *c;
    hk__sc_off = 1;                 /* until it is made, and if it cannot be */
    hk__dbg_internal_enter();       /* pthread_setspecific may allocate */
    pthread_once(&hk__sc_once, hk__sc_key_make);
    c = hk__sc_key_ok ? hk__dbg_os_alloc_raw(HK__SC_ENTRIES * sizeof *c) : NULL;
    if (c && pthread_setspecific(hk__sc_key, c) != 0) {
        hk__dbg_os_free(c, HK__SC_ENTRIES * sizeof *c);
        c = NULL;
    }
    hk__dbg_internal_leave();
    if (c) {
        hk__sc = c;
        hk__sc_off = 0;
    }
    return c;
}

static inline hk__sc_entry *hk__sc_slot(hk__sc_entry *c, uintptr_t caller, uintptr_t sp)
{
    return &c[((caller ^ (sp >> 3)) * 0x9E3779B97F4A7C15ull) >> 58];
}

/* The entry's words still hold its values: its stack id, else 0. */
static HK__READS_STACK uint32_t hk__sc_check(const hk__sc_entry *e, uintptr_t sp)
{
    const uintptr_t *base = (const uintptr_t *)sp;
    uint32_t i;
    for (i = 0; i < e->n; i++)
        if (base[e->off[i]] != e->v[i])
            return 0;
    return e->id;
}

/* Keep a walk's words, if they all lie in this thread's stack above sp.
 * Below sp lie only the frames of the walkers this function calls, each
 * from one place: the return addresses there are fixed by the code and
 * left out; a saved rbp there that a rule used is not, and such a walk
 * is not kept. */
static void hk__sc_fill(hk__sc_entry *e, uintptr_t caller, uintptr_t sp, uint32_t id,
                        const hk__bt_log *log)
{
    uint32_t i, k;
    if (log->bad || !hk__bt_stack_top() || sp < hk__bt_stack_lo || sp >= hk__bt_stack_hi)
        return;
    for (i = 0; i < log->n; i++) {
        uintptr_t at = log->at[i] & ~(uintptr_t)1;
        if (at < sp ? (log->at[i] & 1) != 0
                    : at + 8 > hk__bt_stack_hi || (at & 7) || (at - sp) / 8 > UINT32_MAX)
            return;
    }
    e->caller = 0;
    for (i = k = 0; i < log->n; i++) {
        uintptr_t at = log->at[i] & ~(uintptr_t)1;
        if (at < sp)
            continue;
        e->off[k] = (uint32_t)((at - sp) / 8);
        e->v[k++] = log->v[i];
    }
    e->n = k;
    e->id = id;
    e->sp = sp;
    e->caller = caller;
}

/* The stack's id: the walk where it was found right for this call site,
 * else the cached unwinder, else libgcc's (signal frames, code without
 * frame data, other stacks); the thread's stack cache first. */
uint32_t hk__stack_capture(uintptr_t caller)
{
    uintptr_t f[HK__BT_MAX];
    int want = __atomic_load_n(&hk__bt_depth, __ATOMIC_RELAXED);
    size_t depth = want > 0 ? (size_t)want : 0, n = 0;
    /* where this frame lies (not __builtin_frame_address: that would give
     * this function a frame pointer, and an rbp-based frame rule) */
    uintptr_t sp = (uintptr_t)f;
    hk__sc_entry *c = NULL, *e = NULL;
    hk__bt_log log, *lp = NULL;
    uint32_t id;
    int keep = 0;
    if (want <= 0 || !caller)
        return 0;
    if (!hk__sc_busy && !hk__sc_off) {
        hk__sc_busy = 1;
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        c = hk__sc ? hk__sc : hk__sc_make();
        if (c) {
            e = hk__sc_slot(c, caller, sp);
            if (e->caller == caller && e->sp == sp && (id = hk__sc_check(e, sp)) != 0) {
                __atomic_signal_fence(__ATOMIC_SEQ_CST);
                hk__sc_busy = 0;
                return id;
            }
            log.n = 0;
            log.bad = 0;
            lp = &log;
        } else {
            __atomic_signal_fence(__ATOMIC_SEQ_CST);
            hk__sc_busy = 0;
        }
    }
#if defined(__x86_64__) || defined(__aarch64__)
    {
        hk__fp_site *site = hk__fp_site_of(caller);
        int state = site ? __atomic_load_n(&site->state, __ATOMIC_ACQUIRE) : 2;
        if (state == 1)
            n = hk__bt_fp_walk(site, caller, f, depth, lp);
        if (!n)
            n = hk__unwind_cached(caller, f, depth, lp);
        keep = n && state != 0;      /* a logged walk, the site's way settled */
        if (!n)
            n = hk__bt_unwind(caller, f, depth);
        if (state == 0 && n) {
            uintptr_t g[HK__BT_MAX];
            /* the learning scans this frame too: no copy of the caller
             * in the log for it to take for the caller's slot (kept
             * only from a settled site, not this walk) */
            if (lp)
                memset(lp, 0, sizeof *lp);
            __atomic_store_n(&site->state, hk__bt_fp_learn(site, caller, g, depth, f, n) ? 1 : 2,
                             __ATOMIC_RELEASE);
        }
    }
#else
    n = hk__bt_unwind(caller, f, depth);
#endif
    id = n ? hk__stack_intern_last(f, n) : 0;
    if (lp) {
        if (id && keep)
            hk__sc_fill(e, caller, sp, id, lp);
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        hk__sc_busy = 0;
    }
    return id;
}

void hk__stacks_check_init(void) { }
void hk__stacks_check_note(void) { }

#else

/* Windows.  The reference is RtlCaptureStackBackTrace, which unwinds each
 * frame from the modules' unwind tables (.pdata/UNWIND_INFO, which every
 * x64 module has, MinGW's too).  Under Wine that costs about 2 us a frame,
 * so heapkit unwinds with the same tables itself and keeps, per return
 * address, what the unwind of that frame does: where the return address
 * lies (rsp- or rbp-relative) and where rbp was saved.  A frame the
 * rules do not cover for certain (no unwind data, another frame register,
 * a machine frame, a jump in an epilog, a read outside the thread's
 * stack) sends the whole stack to RtlCaptureStackBackTrace.  heapkit's own
 * frames come first: the stack is kept from the caller's return address
 * on; Wine's walk goes on past the thread's start, where a null frame
 * ends it.  Not found (a caller with no unwind data): the caller alone. */

/* heapkit's frames above the caller's: the hooks or macros, the tracker,
 * this function (more are found by the second walk) */
#define HK__BT_OWN_FRAMES 10u

/* Where caller's return address is among raw[0..got): its index, or got. */
static WORD hk__bt_find(void *const *raw, WORD got, uintptr_t caller)
{
    WORD i;
    for (i = 0; i < got && (uintptr_t)raw[i] != caller; i++)
        ;
    return i;
}

/* The reference: RtlCaptureStackBackTrace, from caller on. */
static size_t hk__bt_rtl(uintptr_t caller, uintptr_t *f, size_t depth)
{
    void *raw[HK__BT_MAX + 32];
    size_t n = 0, k;
    WORD got, i;
    /* Each frame costs an unwind (slow under Wine, whose walk also goes on
     * past the thread's start): first only what is wanted plus room for
     * heapkit's own frames; all of it when the caller is not there, or
     * too near the end for depth frames */
    got = RtlCaptureStackBackTrace(1, (DWORD)(depth + HK__BT_OWN_FRAMES), raw, NULL);
    i = hk__bt_find(raw, got, caller);
    if (got == depth + HK__BT_OWN_FRAMES && (i == got || (size_t)(got - i) < depth)) {
        got = RtlCaptureStackBackTrace(1, (DWORD)(sizeof raw / sizeof raw[0]), raw, NULL);
        i = hk__bt_find(raw, got, caller);
    }
    if (i == got) {
        f[n++] = caller;
    } else {
        /* Wine's walk may go on past the thread's start: a null frame ends it */
        for (k = i; k < got && n < depth && raw[k]; k++)
            f[n++] = (uintptr_t)raw[k];
    }
    return n;
}

/* A frame's rule, packed in one word (0: not known yet): bit 0 valid,
 * bit 1 unsure (RtlCaptureStackBackTrace for the whole stack), bit 2 the
 * return address is rbp-relative, bit 3 rbp is restored, bit 4 from an
 * rbp-relative slot; bits 8-35 the return address's offset, bits 36-63
 * the saved rbp's (signed, bytes). */
#define HK__R_VALID  1u
#define HK__R_UNSURE 2u
#define HK__R_RET_BP 4u
#define HK__R_HAS_BP 8u
#define HK__R_BP_BP  16u
#define HK__R_OFFMAX ((1ll << 27) - 1)

static uint64_t hk__rule_pack(int ret_bp, long long ret, int has_bp, int bp_bp, long long bp)
{
    if (ret > HK__R_OFFMAX || ret < -HK__R_OFFMAX || bp > HK__R_OFFMAX || bp < -HK__R_OFFMAX)
        return HK__R_VALID | HK__R_UNSURE;
    return HK__R_VALID | (ret_bp ? HK__R_RET_BP : 0) | (has_bp ? HK__R_HAS_BP : 0)
        | (bp_bp ? HK__R_BP_BP : 0) | ((uint64_t)(ret & 0xFFFFFFF) << 8)
        | ((uint64_t)(bp & 0xFFFFFFF) << 36);
}

static long long hk__rule_off(uint64_t r, int shift)
{
    long long v = (long long)((r >> shift) & 0xFFFFFFF);
    return v & 0x8000000 ? v - 0x10000000 : v;
}

/* An address: relative to the frame's rsp (bp 0) or its rbp (bp 1). */
typedef struct {
    int bp;
    long long off;
} hk__wexpr;

/* Wine's and Windows' unwinders take a return address that starts an
 * epilog (add/lea rsp, pops, ret) as inside it and run the epilog instead
 * of the prolog's codes: the same here.  1 done, 0 not an epilog, -1
 * unsure (a jump ends it). */
static int hk__epilog_rule(const unsigned char *pc, uintptr_t begin, uintptr_t end,
                           uint64_t *rule)
{
    hk__wexpr sp = { 0, 0 }, bp_at = { 0, 0 };
    int has_bp = 0, i;
    if ((pc[0] & 0xf8) == 0x48) {
        if (pc[1] == 0x81 && pc[0] == 0x48 && pc[2] == 0xc4) {
            int32_t imm;
            memcpy(&imm, pc + 3, 4);
            sp.off += imm;
            pc += 7;
        } else if (pc[1] == 0x83 && pc[0] == 0x48 && pc[2] == 0xc4) {
            sp.off += (int8_t)pc[3];
            pc += 4;
        } else if (pc[1] == 0x8d) {
            int reg = (pc[2] & 7) | (pc[0] & 1) << 3;
            if ((pc[0] & 0x06) || ((pc[2] >> 3) & 7) != 4 || (pc[2] & 7) == 4)
                return 0;
            if ((pc[2] >> 6) != 1 && (pc[2] >> 6) != 2)
                return 0;
            if (reg != 5)
                return -1;              /* only rbp is followed */
            sp.bp = 1;
            if ((pc[2] >> 6) == 1) {
                sp.off = (int8_t)pc[3];
                pc += 4;
            } else {
                int32_t d;
                memcpy(&d, pc + 3, 4);
                sp.off = d;
                pc += 7;
            }
        }
    }
    for (i = 0; i < 32; i++) {
        int rex = 0;
        if ((*pc & 0xf0) == 0x40)
            rex = *pc++;
        if (*pc >= 0x58 && *pc <= 0x5f) {
            if ((*pc & 7) == 5 && !(rex & 1)) {
                bp_at = sp;
                has_bp = 1;
            }
            sp.off += 8;
            pc++;
            continue;
        }
        if (*pc == 0xc3 || *pc == 0xc2 || (*pc == 0xf3 && pc[1] == 0xc3)) {
            *rule = hk__rule_pack(sp.bp, sp.off, has_bp, bp_at.bp, bp_at.off);
            return 1;
        }
        if (*pc == 0xe9 || *pc == 0xeb) {
            /* a jump within the function is no epilog; a tail jump out
             * of it is one: the reference decides that */
            uintptr_t to;
            if (*pc == 0xe9) {
                int32_t d;
                memcpy(&d, pc + 1, 4);
                to = (uintptr_t)pc + 5 + (intptr_t)d;
            } else {
                to = (uintptr_t)pc + 2 + (intptr_t)(int8_t)pc[1];
            }
            return to >= begin && to < end ? 0 : -1;
        }
        if (*pc == 0xff)
            return -1;                  /* an indirect jump */
        return 0;
    }
    return 0;
}

/* The rule of the frame whose code is at pc, from its unwind codes, as
 * RtlVirtualUnwind applies them (chained entries too). */
static uint64_t hk__rule_make(uintptr_t pc)
{
    DWORD64 base = 0;
    PRUNTIME_FUNCTION fn = RtlLookupFunctionEntry((DWORD64)pc, &base, NULL);
    const unsigned char *info;
    hk__wexpr sp = { 0, 0 }, bp_at = { 0, 0 };
    int has_bp = 0, first = 1, chain;
    uint64_t rule;
    if (!fn)
        return HK__R_VALID | HK__R_UNSURE;  /* a leaf, or no module: the reference's way */
    for (;;) {
        hk__wexpr frame;
        unsigned count, i, freg, foff, flags;
        uintptr_t prolog_off = pc - (uintptr_t)base - fn->BeginAddress;
        info = (const unsigned char *)(uintptr_t)(base + fn->UnwindData);
        if ((info[0] & 7) != 1)
            return HK__R_VALID | HK__R_UNSURE;   /* version 2's epilog codes: not read */
        flags = info[0] >> 3;
        count = info[2];
        freg = info[3] & 15;
        foff = info[3] >> 4;
        if (freg) {
            if (freg != 5 || !first || has_bp)
                return HK__R_VALID | HK__R_UNSURE;
            frame.bp = 1;
            frame.off = -(long long)foff * 16;
        } else {
            frame = sp;
        }
        if (first && !(flags & UNW_FLAG_CHAININFO) && prolog_off >= info[1]) {
            int e = hk__epilog_rule((const unsigned char *)pc, (uintptr_t)base + fn->BeginAddress,
                                    (uintptr_t)base + fn->EndAddress, &rule);
            if (e > 0)
                return rule;
            if (e < 0)
                return HK__R_VALID | HK__R_UNSURE;
        }
        for (i = 0; i < count;) {
            const unsigned char *c = info + 4 + 2 * i;
            unsigned code = c[1] & 15, op = c[1] >> 4, n = 1;
            int skip = prolog_off < c[0];
            switch (code) {
            case 0:                     /* UWOP_PUSH_NONVOL */
                if (!skip) {
                    if (op == 5) {
                        bp_at = sp;
                        has_bp = 1;
                    }
                    sp.off += 8;
                }
                break;
            case 1:                     /* UWOP_ALLOC_LARGE */
                if (op == 0) {
                    uint16_t v;
                    memcpy(&v, c + 2, 2);
                    n = 2;
                    if (!skip)
                        sp.off += (long long)v * 8;
                } else {
                    uint32_t v;
                    memcpy(&v, c + 2, 4);
                    n = 3;
                    if (!skip)
                        sp.off += v;
                }
                break;
            case 2:                     /* UWOP_ALLOC_SMALL */
                if (!skip)
                    sp.off += (long long)op * 8 + 8;
                break;
            case 3:                     /* UWOP_SET_FPREG */
                if (!skip) {
                    if (!freg)
                        return HK__R_VALID | HK__R_UNSURE;
                    sp = frame;
                }
                break;
            case 4:                     /* UWOP_SAVE_NONVOL */
            case 5: {                   /* UWOP_SAVE_NONVOL_FAR */
                long long off;
                if (code == 4) {
                    uint16_t v;
                    memcpy(&v, c + 2, 2);
                    off = (long long)v * 8;
                    n = 2;
                } else {
                    uint32_t v;
                    memcpy(&v, c + 2, 4);
                    off = v;
                    n = 3;
                }
                if (!skip && op == 5) {
                    bp_at.bp = frame.bp;
                    bp_at.off = frame.off + off;
                    has_bp = 1;
                }
                break;
            }
            case 8:                     /* UWOP_SAVE_XMM128 */
                n = 2;
                break;
            case 9:                     /* UWOP_SAVE_XMM128_FAR */
                n = 3;
                break;
            default:                    /* a machine frame, or unknown */
                return HK__R_VALID | HK__R_UNSURE;
            }
            i += n;
        }
        chain = (flags & UNW_FLAG_CHAININFO) != 0;
        if (!chain)
            break;
        fn = (PRUNTIME_FUNCTION)(uintptr_t)(info + 4 + 2 * ((count + 1) & ~1u));
        first = 0;
    }
    return hk__rule_pack(sp.bp, sp.off, has_bp, bp_at.bp, bp_at.off);
}

/* Rules by return address: open addressing, lock-free.  A slot's key is
 * claimed once (compare-and-swap from 0), its rule written after; a
 * reader that finds the key without a rule yet makes the rule itself.
 * Full: rules are made each time (correct, only slower). */
#define HK__RULE_BITS 13
#define HK__RULE_PROBES 16
typedef struct {
    uintptr_t pc;
    uint64_t rule;
} hk__rule_slot;
static hk__rule_slot hk__rules[1u << HK__RULE_BITS];

static uint64_t hk__rule_of(uintptr_t pc)
{
    size_t h = (size_t)((pc * 0x9E3779B97F4A7C15ull) >> (64 - HK__RULE_BITS)), i;
    uint64_t r;
    for (i = 0; i < HK__RULE_PROBES; i++) {
        hk__rule_slot *s = &hk__rules[(h + i) & ((1u << HK__RULE_BITS) - 1)];
        uintptr_t k = __atomic_load_n(&s->pc, __ATOMIC_ACQUIRE);
        if (k == pc) {
            r = __atomic_load_n(&s->rule, __ATOMIC_ACQUIRE);
            return r ? r : hk__rule_make(pc);
        }
        if (k == 0) {
            r = hk__rule_make(pc);
            if (__atomic_compare_exchange_n(&s->pc, &k, pc, 0, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE)) {
                __atomic_store_n(&s->rule, r, __ATOMIC_RELEASE);
                return r;
            }
            if (k == pc)
                return r;               /* another thread claimed it: same rule */
        }
    }
    return hk__rule_make(pc);
}

/* The frames from caller on with the cached rules: n, or 0 when a frame
 * is not covered for certain (the reference walk then).  The walk starts
 * at this function's own frame (RtlCaptureContext). */
static __attribute__((noinline)) size_t hk__bt_rules(uintptr_t caller, uintptr_t *f, size_t depth)
{
    CONTEXT ctx;
    NT_TIB *tib;
    uintptr_t lo, hi, pc, sp, bp;
    size_t n = 0, steps;
    int found = 0;
    /* the TEB starts with the NT_TIB; gs:0x30 is its own address */
    __asm__("movq %%gs:0x30, %0" : "=r"(tib));
    lo = (uintptr_t)tib->StackLimit;
    hi = (uintptr_t)tib->StackBase;
    RtlCaptureContext(&ctx);
    pc = (uintptr_t)ctx.Rip;
    sp = (uintptr_t)ctx.Rsp;
    bp = (uintptr_t)ctx.Rbp;
    for (steps = 0; steps < HK__BT_MAX + 64; steps++) {
        uint64_t r = hk__rule_of(pc);
        uintptr_t at, bat = 0;
        if (r & HK__R_UNSURE)
            return 0;
        at = (r & HK__R_RET_BP ? bp : sp) + (uintptr_t)hk__rule_off(r, 8);
        if (r & HK__R_HAS_BP)
            bat = (r & HK__R_BP_BP ? bp : sp) + (uintptr_t)hk__rule_off(r, 36);
        /* every read inside the thread's stack, and the stack moves up */
        if (at < sp || at < lo || at + 8 > hi || (at & 7)
            || (bat && (bat < lo || bat + 8 > hi || (bat & 7))))
            return 0;
        if (bat)
            bp = *(const uintptr_t *)bat;
        pc = *(const uintptr_t *)at;
        sp = at + 8;
        if (!pc)
            break;                      /* the thread's start */
        if (!found && pc == caller)
            found = 1;
        if (found) {
            f[n++] = pc;
            if (n == depth)
                return n;
        }
    }
    return found ? n : 0;               /* not found: the reference decides */
}

/* HEAPKIT_UNWIND_CHECK=1 (tests): every stack both ways, compared. */
static int hk__bt_check;
static volatile long hk__bt_checked, hk__bt_differ, hk__bt_fallback;

void hk__stacks_check_init(void)
{
    hk__bt_check = hk__dbg_cfg.unwind_check;
}

/* "text N" into buf (the messages keep their strings, not numbers). */
static const char *hk__bt_msg(char *buf, size_t cap, const char *text, long v)
{
    char d[24];
    int k = 0;
    size_t n = 0;
    do
        d[k++] = (char)('0' + v % 10);
    while ((v /= 10) > 0);
    while (*text && n + 1 < cap)
        buf[n++] = *text++;
    if (n + 1 < cap)
        buf[n++] = ' ';
    while (k && n + 1 < cap)
        buf[n++] = d[--k];
    buf[n] = 0;
    return buf;
}

void hk__stacks_check_note(void)
{
    static char m[3][2][96];
    if (!hk__bt_check)
        return;
    hk__dbg_message(hk__bt_msg(m[0][0], 96, "unwind check: stacks compared:", hk__bt_checked),
                    hk__bt_msg(m[0][1], 96, "Unwind-Pruefung: verglichene Stapel:", hk__bt_checked), 0);
    hk__dbg_message(hk__bt_msg(m[1][0], 96, "unwind check: stacks that differ:", hk__bt_differ),
                    hk__bt_msg(m[1][1], 96, "Unwind-Pruefung: abweichende Stapel:", hk__bt_differ), 0);
    hk__dbg_message(hk__bt_msg(m[2][0], 96, "unwind check: taken by RtlCaptureStackBackTrace:",
                               hk__bt_fallback),
                    hk__bt_msg(m[2][1], 96, "Unwind-Pruefung: von RtlCaptureStackBackTrace:",
                               hk__bt_fallback), 0);
}

uint32_t hk__stack_capture(uintptr_t caller)
{
    uintptr_t f[HK__BT_MAX];
    int want = __atomic_load_n(&hk__bt_depth, __ATOMIC_RELAXED);
    size_t depth = want > 0 ? (size_t)want : 0, n;
    if (want <= 0 || !caller)
        return 0;
    n = hk__bt_rules(caller, f, depth);
    if (HK_UNLIKELY(hk__bt_check)) {
        uintptr_t g[HK__BT_MAX];
        size_t m = hk__bt_rtl(caller, g, depth);
        __atomic_add_fetch(&hk__bt_checked, 1, __ATOMIC_RELAXED);
        if (!n)
            __atomic_add_fetch(&hk__bt_fallback, 1, __ATOMIC_RELAXED);
        else if (n != m || memcmp(f, g, n * sizeof *f) != 0)
            __atomic_add_fetch(&hk__bt_differ, 1, __ATOMIC_RELAXED);
    }
    if (!n)
        n = hk__bt_rtl(caller, f, depth);
    return hk__stack_intern(f, n);
}

#endif
