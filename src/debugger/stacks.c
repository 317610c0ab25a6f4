/*
 * stacks.c - backtraces at allocation (HEAPKIT_BACKTRACE=N) and the stack
 * depot.
 *
 * A stack is taken only when N > 0; then the tracker's fast path is off
 * (the gate) and every allocation comes here through the call-site
 * interning, so N = 0 costs the malloc path nothing.  The frames come
 * from libgcc's _Unwind_Backtrace (heapkit itself is built without frame
 * pointers, so a frame-pointer walk would stop at once); the frames above
 * the caller -- heapkit's own and the allocator's entry points -- are
 * left out by starting at the caller's return address, which the entry
 * point knows.  Each distinct stack is stored once, in OS memory, under a
 * 32-bit id that the call site carries.
 */
#include "tracker.h"
#include "stacks.h"

#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#  include <unwind.h>
#  include <unistd.h>
#endif

int hk__bt_depth;

/* Read once at start; a value that is no number in 0..HK__BT_MAX is an
 * error on stderr and leaves backtraces off.
 * TODO(merge): H3's shared parser helper replaces this. */
void hk__stacks_init(void)
{
    const char *v = getenv("HEAPKIT_BACKTRACE");
    char *end;
    long n;
    if (!v || !*v)
        return;
    n = strtol(v, &end, 10);
    if (end == v || *end || n < 0) {
        static const char msg[] = "heapkit: HEAPKIT_BACKTRACE is not a number of frames; "
                                  "backtraces off\n";
#ifdef _WIN32
        (void)msg;
#else
        if (write(2, msg, sizeof msg - 1) < 0)
            return;
#endif
        return;
    }
    hk__bt_depth = n > HK__BT_MAX ? HK__BT_MAX : (int)n;
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

static size_t hk__size_min_bt(size_t a, size_t b) { return a < b ? a : b; }

uint32_t hk__stack_capture(uintptr_t caller)
{
    hk__bt_walk w;
    size_t i;
    if (hk__bt_depth <= 0 || !caller)
        return 0;
    w.n = 0;
    w.max = (size_t)hk__bt_depth + HK__BT_SKIP_MAX;
    /* libgcc's unwinder finds the frame data through dl_iterate_phdr /
     * _dl_find_object, which take the loader's lock but allocate nothing
     * (glibc 2.35+) */
    _Unwind_Backtrace(hk__bt_step, &w);
    for (i = 0; i < w.n; i++)
        if (w.f[i] == caller)
            break;
    if (i == w.n)
        return 0;                  /* the caller is not on this stack: no backtrace */
    return hk__stack_intern(w.f + i, hk__size_min_bt(w.n - i, (size_t)hk__bt_depth));
}

#else

/* Windows: not yet (issue 12 brings DbgHelp); the caller alone. */
uint32_t hk__stack_capture(uintptr_t caller)
{
    (void)caller;
    (void)hk__stack_intern;
    return 0;
}

#endif
