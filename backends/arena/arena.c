/*
 * arena.c - heapkit's own allocator: Win32 heap semantics over reserved and
 * committed virtual memory on any OS (os.h is the only OS-specific part).
 *
 * Why it looks like this:
 *  - A heap is a few regions (reservations).  The first one starts with the
 *    heap struct, so the heap's base is its first region's base.  A region is
 *    a run of blocks ending in a 16-byte busy sentinel at the end of the
 *    committed part; the commit grows in 64 KiB steps.  A free tail is
 *    decommitted down to a margin, but never below what the tail was used up
 *    to lately (a high-water mark over two windows of slow operations), so a
 *    loop that fills and empties the heap does not call the OS each time.
 *  - Every block starts with a 16-byte header {size, prev size, info, check}.
 *    Sizes in 16-byte units are boundary tags both ways (O(1) coalescing, no
 *    footers); info holds the busy/cached flags, the slack (block size - 16 -
 *    requested size, always < 64, so the exact size is kept) and the mark
 *    epoch; check is a keyed hash of the other three words and the address,
 *    so an overwritten header word, a stale or forged pointer is refused
 *    (prev enters by a keyed add and an xor, so that a split or merge
 *    updates the next block's check by the difference).  A header
 *    swallowed by a merge is poisoned, so a double free after coalescing
 *    is refused too.
 *  - Free blocks sit in TLSF-style segregated lists with two-level bitmaps:
 *    O(1) good-fit search, insert and remove.  Nothing read from a free
 *    block is trusted: before a listed block is taken, split or merged, its
 *    header, its successor's boundary tag and both list links (inside a
 *    region, at a valid free header that links back) are checked, so a
 *    heap overflow into free memory gives HK_ERR_HEAP_CORRUPT, not a crash.
 *  - In front, per-size LIFO caches of exact 16-byte classes (like glibc's
 *    tcache or Windows' LFH) serve most small requests with no split or
 *    merge.  A cached block is marked free in its header, so free/size/
 *    validate refuse it and the walk shows it FREE; walks, compaction and
 *    mark/release flush the caches first so they see a coalesced heap.  A
 *    cached block is used, and its link followed, only if a keyed guard of
 *    its header and link (in the otherwise unused second link word) holds.
 *  - A pointer is mapped to its region through a 4 MiB-chunk map (one load)
 *    before anything at it is read; large requests (n >= 0xFEFD9) get their
 *    own mapping, listed after the regions and found through a small
 *    open-addressing hash set.  So any pointer can be checked safely.
 *  - The lock is biased: the first thread to use the heap enters it with
 *    plain loads and stores (an uncontended atomic costs more than the rest
 *    of an alloc/free).  When another thread comes, the bias is revoked once
 *    with a process-wide barrier (membarrier / FlushProcessWriteBuffers),
 *    after which an owner-tid word lock with a blocking slow path is used.
 *  - mark/release: each block records the epoch (number of marks taken)
 *    current when it was allocated, and keeps it when realloc moves it;
 *    release(m) frees, in one pass over the heap, every busy block whose
 *    epoch >= m: O(blocks + large blocks).  Marks stay valid after releases.
 */
#ifdef HAVE_CONFIG_H
#  include "config.h"
#endif
#include <heapkit/backend.h>

#include <string.h>

#include "os.h"

/* ---- Constants ---------------------------------------------------------- */
#define HK_LARGE_N     ((size_t)0xFEFD9)    /* first large request size    */
#define HK_LHDR        64                   /* large block header          */
#define HK_GRAN        ((size_t)0x10000)    /* commit / reserve step       */
#define HK_FIRST_RES   ((size_t)4 << 20)    /* first growable reservation  */
#define HK_MAX_GROW    ((size_t)1 << 30)
#define HK_MAX_REGION  ((size_t)32 << 30)   /* keeps units in 31 bits      */
#define HK_MAX_REGIONS 64
#define HK_TRIM_MARGIN ((size_t)0x10000)    /* free tail kept committed    */
#define HK_TRIM_HYST   ((size_t)256 << 10)  /* decommit only past this     */
#define HK_TRIM_EVERY  4096                 /* slow allocations per
                                               high-water-mark window     */
#define HK_LARGE_INDEX 64                   /* region_index of large blocks */
#define HK_RMAP_SHIFT  22                   /* region map: 4 MiB chunks    */
#define HK_RMAP_N      1024
#define HK_PAGE        ((uintptr_t)4096)    /* smallest page we give back  */
#define HK_LC_N        8                    /* freed large mappings kept    */
#define HK_LC_BYTES    ((size_t)64 << 20)   /* ... and their byte budget    */
#define HK_LC_MAXMAP   ((size_t)32 << 20)   /* larger ones always go back   */

/* info word of a block header */
#define HK_SLACK   0x3Fu
#define HK_BUSY    0x40u
#define HK_CACHED  0x80u
#define HK_SENT    0x100u
#define HK_DEAD    0xFFFFFFFFu /* header swallowed by a merge: never valid */
#define HK_EP_SHIFT 10
#define HK_EP_MAX  0x3FFFFFu

/* TLSF: first level = log2 of the size in units, 16 second-level classes. */
#define HK_SL_BITS 4
#define HK_SL_N    16
#define HK_FL_N    29

/* Front-end caches: exact classes of 2..HK_CMAX units (32 B .. 2 KiB). */
#define HK_CMAX    128
#define HK_CBYTES  ((size_t)32 << 10)       /* per-class byte budget        */
#define HK_CCAP    64                       /* per-class count limit        */

#define HK_K1 0x9E3779B97F4A7C15ull
#define HK_K2 0xD6E8FEB86659FD93ull

#define HK_OS hk__arena_os

#if defined(__GNUC__)
#  define HK_NOINLINE    __attribute__((noinline))
#  define HK_HOT          inline __attribute__((always_inline))
#  define HK_LIKELY(x)   __builtin_expect(!!(x), 1)
#  define HK_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#  define HK_NOINLINE
#  define HK_HOT          inline
#  define HK_LIKELY(x)   (x)
#  define HK_UNLIKELY(x) (x)
#endif

#include "san.h"

/* ---- Types -------------------------------------------------------------- */
typedef struct hk__blk {
    uint32_t size;    /* block size in 16-byte units, header included   */
    uint32_t prev;    /* size of the previous block, 0 for the first    */
    uint32_t info;    /* slack | flags | epoch                          */
    uint32_t check;   /* keyed hash of the above and the address        */
} hk__blk;

typedef struct hk__fblk {        /* a free (or cached) block            */
    hk__blk h;
    struct hk__fblk *next, *prev;
} hk__fblk;

typedef struct hk__region {
    char *base, *end;            /* the reservation                     */
    char *commit;                /* end of the committed part           */
    char *floor;                 /* never decommit below this           */
    hk__blk *first, *sent;       /* first block, end sentinel           */
    char *hwm[2];                /* highest end of a block carved from
                                    the tail, this window and the last */
} hk__region;

typedef struct hk__large {     /* at the mapping base; user data at +64 */
    uint64_t pad[2];
    struct hk__large *next, *prev;
    size_t map;
    uint32_t epoch, reused;      /* reused: from the cache, not zero    */
    size_t n;
    uint64_t check;              /* last, like a small block's           */
} hk__large;

typedef struct hk__heap {
    hk__region r0;               /* first: heap base == region 0 base   */
    /* hot path */
    uint64_t key;
    uint32_t epinfo;             /* current epoch << HK_EP_SHIFT        */
    unsigned flags;
    uintptr_t bias_tid;          /* thread the lock is biased to        */
    unsigned bias_depth;
    int revoke, revoked;
    unsigned waiters;
    uintptr_t owner;             /* after revocation: owner-tid lock    */
    unsigned depth;
    uint8_t croom[HK_CMAX + 1];  /* blocks each cache may still take    */
    hk__fblk *cache[HK_CMAX + 1];
    /* TLSF */
    uint32_t flmap;
    uint32_t slmap[HK_FL_N];
    hk__fblk *lists[HK_FL_N][HK_SL_N];
    /* regions */
    unsigned nreg;
    int fixed;
    size_t grow;
    hk__region *reg[HK_MAX_REGIONS];
    hk__region *rmap[HK_RMAP_N][2]; /* 4 MiB chunk -> regions, hk__rmap */
    int rmap_full;               /* a chunk has > 2 regions: may scan   */
    /* large blocks */
    hk__large *lhead, *ltail;
    uintptr_t *ltab;
    size_t lcap, lcount;
    struct { void *base; size_t map; } lc[HK_LC_N]; /* freed mappings, newest last */
    unsigned lcn;
    size_t lcbytes;
    int lcused;                  /* the cache served since the last tidy */
    size_t climit;               /* OS commit limit, see commit_limit    */
    uint32_t epoch, salt;
    unsigned wleft;              /* slow allocations left in the window */
    int fail;                    /* why the last slow allocation failed  */
    int vg;                      /* running under Valgrind (san.h)       */
    hk__arena_sync sync;
} hk__heap;

#define HK_RHDR   ((sizeof(hk__region) + 15) & ~(size_t)15)
#define HK_HHDR   ((sizeof(hk__heap) + 15) & ~(size_t)15)
#define HK_NEXT(b) ((hk__blk *)((char *)(b) + (size_t)(b)->size * 16))
#define HK_PREV(b) ((hk__blk *)((char *)(b) - (size_t)(b)->prev * 16))
#define HK_TFREE(b) ((b)->info == 0)   /* free and in the TLSF lists     */


HK_NOSAN static size_t hk__round(size_t n, size_t g) { return (n + g - 1) & ~(g - 1); }

/* ---- Valgrind / ASan (san.h) -------------------------------------------- */
#if defined(HK_ASAN)
/* The arena's own copies: ASan's memcpy/memset interceptors would check
 * them against the poison the arena keeps on its own memory. */
HK_NOSAN static HK_NOSAN void hk__mset(void *d, int c, size_t n)
{
    volatile unsigned char *q = d;
    while (n--) *q++ = (unsigned char)c;
}
HK_NOSAN static HK_NOSAN void hk__mcpy(void *d, const void *s, size_t n)
{
    volatile unsigned char *q = d;
    const unsigned char *r = s;
    while (n--) *q++ = *r++;
}
#  define memset(d, c, n) hk__mset((d), (c), (n))
#  define memcpy(d, s, n) hk__mcpy((d), (s), (n))
#endif

/* Give a reservation or mapping back; ASan's shadow of it is cleared
 * first, as the next mapping at that address is someone else's. */
HK_NOSAN static void hk__unmap(void *p, size_t n)
{
    HK_AUNPOISON(p, n);
    HK_OS.release(p, n);
}

/* [a, a+n) is arena-only memory (fresh commit, free tail): no access. */
HK_NOSAN static inline void hk__san_none(const void *h, void *a, size_t n)
{
    HK_APOISON(a, n);
#ifdef HK_VG
    if (HK_VG_ON((const struct hk__heap *)h)) VALGRIND_MAKE_MEM_NOACCESS(a, n);
#endif
    (void)h; (void)a; (void)n;
}

/* The block [p - hdr, end) became busy with n bytes at p. */
HK_NOSAN static inline void hk__san_busy(const void *h, char *p, size_t hdr, size_t n, char *end)
{
    HK_APOISON(p - hdr, (size_t)(end - p) + hdr);
    HK_AUNPOISON(p, n);
#ifdef HK_VG
    if (HK_VG_ON((const struct hk__heap *)h)) {
        VALGRIND_MEMPOOL_ALLOC(h, p, n);
        VALGRIND_MAKE_MEM_NOACCESS(p - hdr, hdr);
        VALGRIND_MAKE_MEM_NOACCESS(p + n, (size_t)(end - p) - n);
    }
#endif
    (void)h; (void)p; (void)hdr; (void)n; (void)end;
}

/* The busy block at p, ending at end, was freed. */
HK_NOSAN static inline void hk__san_free(const void *h, char *p, size_t hdr, char *end)
{
    HK_APOISON(p - hdr, (size_t)(end - p) + hdr);
#ifdef HK_VG
    if (HK_VG_ON((const struct hk__heap *)h)) {
        VALGRIND_MEMPOOL_FREE(h, p);
        VALGRIND_MAKE_MEM_NOACCESS(p - hdr, (size_t)(end - p) + hdr);
    }
#endif
    (void)h; (void)p; (void)hdr; (void)end;
}

/* The busy block at p changed from old to n bytes in place; end: the
 * farther of its old and new ends.  Growth is undefined until written. */
HK_NOSAN static inline void hk__san_resize(const void *h, char *p, size_t hdr, size_t old, size_t n,
                                  char *end)
{
    HK_APOISON(p - hdr, (size_t)(end - p) + hdr);
    HK_AUNPOISON(p, n);
#ifdef HK_VG
    if (HK_VG_ON((const struct hk__heap *)h)) {
        VALGRIND_MEMPOOL_CHANGE(h, p, p, n);
        if (n > old) VALGRIND_MAKE_MEM_UNDEFINED(p + old, n - old);
        VALGRIND_MAKE_MEM_NOACCESS(p + n, (size_t)(end - p) - n);
    }
#endif
    (void)h; (void)p; (void)hdr; (void)old; (void)n; (void)end;
}

/* ---- Header checks ------------------------------------------------------ */
/* Two header words as one 8-byte load of them would read them. */
HK_NOSAN static inline uint64_t hk__pair(uint32_t first, uint32_t second)
{
    union { uint32_t w[2]; uint64_t q; } x;
    x.w[0] = first;
    x.w[1] = second;
    return x.q;
}

/* The check covers every other header word (size, prev, info) and the
 * address, so a per-block check sees any overwrite of the header.  prev
 * enters apart, by a keyed add and an xor: a neighbour's prev changes with
 * every split and merge, and this way it is updated without re-checking
 * and re-hashing the neighbour's header (hk__set_prev) - damage elsewhere
 * in that header survives the update, it is never laundered. */
HK_NOSAN static inline uint32_t hk__pmix(const hk__heap *h, uint32_t prev)
{
    return prev + (uint32_t)(h->key >> 32);
}
HK_NOSAN static inline uint32_t hk__chkv(const hk__heap *h, const void *b, uint32_t size, uint32_t prev,
                                uint32_t info)
{
    uint64_t x = ((uint64_t)size << 32 | info) ^ (uint64_t)(uintptr_t)b ^ h->key;
    x *= HK_K2;
    return (uint32_t)(x >> 32) ^ hk__pmix(h, prev);
}
HK_NOSAN static inline uint32_t hk__chk(const hk__heap *h, const hk__blk *b)
{
    return hk__chkv(h, b, b->size, b->prev, b->info);
}
HK_NOSAN static inline void hk__seal(const hk__heap *h, hk__blk *b) { b->check = hk__chk(h, b); }
HK_NOSAN static inline int hk__ok(const hk__heap *h, const hk__blk *b) { return b->check == hk__chk(h, b); }
/* Write info and check of a block of u units in one go (size not read). */
HK_NOSAN static inline void hk__stamp(const hk__heap *h, hk__blk *b, uint32_t u, uint32_t info)
{
    b->info = info;
    b->check = hk__chkv(h, b, u, b->prev, info);
}

/* A cached block keeps its link in next and, in prev (unused while
 * cached), a keyed guard of the link, the address and all 16 header bytes
 * as they were when it was cached: one compare on the hot path checks
 * both the header and the link before either is used.  (Whoever changes
 * a cached block's header - its prev, when a neighbour changes - renews
 * the guard: hk__set_prev.) */
HK_NOSAN static inline uintptr_t hk__cfold(uint64_t x)
{
    if (sizeof(uintptr_t) < 8) x ^= x >> 32;
    return (uintptr_t)x;
}
HK_NOSAN static inline hk__fblk *hk__cguardv(const hk__heap *h, const hk__fblk *f, const hk__fblk *next,
                                    uint64_t w0, uint64_t w1)
{
    return (hk__fblk *)hk__cfold((uint64_t)(uintptr_t)next ^ (uint64_t)(uintptr_t)f ^ h->key ^
                                 w0 ^ (w1 << 32 | w1 >> 32));
}
HK_NOSAN static inline hk__fblk *hk__cguard(const hk__heap *h, const hk__fblk *f, const hk__fblk *next)
{
    uint64_t w0, w1;
    memcpy(&w0, &f->h.size, 8);
    memcpy(&w1, &f->h.info, 8);
    return hk__cguardv(h, f, next, w0, w1);
}
HK_NOSAN static inline int hk__cfast(const hk__heap *h, const hk__fblk *f)
{
    return f->prev == hk__cguard(h, f, f->next);
}
/* The same, spelled out for the slow paths: f (reached through the cache
 * head or a guarded link) is an intact cached block of u units whose link
 * may be followed. */
HK_NOSAN static inline int hk__cok(const hk__heap *h, const hk__fblk *f, uint32_t u)
{
    return f->h.info == HK_CACHED && f->h.size == u && hk__ok(h, &f->h) && hk__cfast(h, f);
}

/* n, the block after one that changes, is intact (a cached one with its
 * guard) and follows a block of u units: for a neighbour that is read. */
HK_NOSAN static inline int hk__nb(const hk__heap *h, const hk__blk *n, uint32_t u)
{
    return hk__ok(h, n) && n->prev == u &&
           (n->info != HK_CACHED || hk__cfast(h, (const hk__fblk *)n));
}
/* Set the prev of n (the block after one that changed): check and, for a
 * cached n, guard are updated by the difference alone, so an intact header
 * stays intact and a damaged one stays detectably damaged. */
HK_NOSAN static inline void hk__set_prev(const hk__heap *h, hk__blk *n, uint32_t u)
{
    hk__fblk *f = (hk__fblk *)n;
    uint32_t dp = n->prev ^ u, dc = hk__pmix(h, n->prev) ^ hk__pmix(h, u);
    n->prev = u;
    n->check ^= dc;
    if (n->info == HK_CACHED) {
        uint64_t d0 = hk__pair(0, dp), d1 = hk__pair(0, dc);
        f->prev = (hk__fblk *)((uintptr_t)f->prev ^ hk__cfold(d0 ^ (d1 << 32 | d1 >> 32)));
    }
}

/* One bijective step per word: any change of one word changes the result. */
HK_NOSAN static inline uint64_t hk__lmix(uint64_t x, uint64_t w, uint64_t k)
{
    x = (x ^ w) * k;
    return x ^ (x >> 31);
}
/* Covers every word of the 64-byte header (the padding, always 0, too). */
HK_NOSAN static inline uint64_t hk__lchk(const hk__heap *h, const hk__large *l)
{
    uint64_t x = (uint64_t)(uintptr_t)l ^ h->key;
    x = hk__lmix(x, (uint64_t)l->n, HK_K1);
    x = hk__lmix(x, (uint64_t)l->map, HK_K2);
    x = hk__lmix(x, (uint64_t)l->epoch | (uint64_t)l->reused << 32, HK_K1);
    x = hk__lmix(x, (uint64_t)(uintptr_t)l->next, HK_K2);
    x = hk__lmix(x, (uint64_t)(uintptr_t)l->prev, HK_K1);
    x = hk__lmix(x, l->pad[0], HK_K2);
    return hk__lmix(x, l->pad[1], HK_K1);
}

HK_NOSAN static inline uint32_t hk__units(size_t n)
{
    uint32_t u = (uint32_t)((n + 31) >> 4);
    return u < 2 ? 2 : u;
}
HK_NOSAN static inline size_t hk__bn(const hk__blk *b)   /* requested size of busy b */
{
    return (size_t)b->size * 16 - 16 - (b->info & HK_SLACK);
}

/* ---- Lock --------------------------------------------------------------- */
/* Returns how it entered: 0 not at all, 1 biased, 2 word lock. */
HK_NOSAN static void hk__pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

HK_NOSAN static void hk__bias_wake(hk__heap *h)
{
    HK_OS.sync_lock(&h->sync);
    HK_OS.sync_wake(&h->sync);
    HK_OS.sync_unlock(&h->sync);
}

HK_NOSAN static void hk__revoke(hk__heap *h)
{
    HK_OS.sync_lock(&h->sync);
    if (!__atomic_load_n(&h->revoked, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&h->revoke, 1, __ATOMIC_SEQ_CST);
        /* After this every thread has fenced: either the owner sees revoke
         * on its next entry/exit, or we see its depth. */
        HK_OS.barrier();
        while (__atomic_load_n(&h->bias_depth, __ATOMIC_ACQUIRE) != 0)
            HK_OS.sync_wait(&h->sync);
        __atomic_store_n(&h->bias_tid, ~(uintptr_t)0, __ATOMIC_RELAXED);
        __atomic_store_n(&h->revoked, 1, __ATOMIC_RELEASE);
    }
    HK_OS.sync_unlock(&h->sync);
}

HK_NOSAN static void hk__wlock(hk__heap *h, uintptr_t me)
{
    uintptr_t z;
    int i;
    if (__atomic_load_n(&h->owner, __ATOMIC_RELAXED) == me) { h->depth++; return; }
    for (i = 0; i < 256; i++) {
        z = 0;
        if (__atomic_load_n(&h->owner, __ATOMIC_RELAXED) == 0 &&
            __atomic_compare_exchange_n(&h->owner, &z, me, 0, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED)) { h->depth = 1; return; }
        hk__pause();
    }
    HK_OS.sync_lock(&h->sync);
    __atomic_add_fetch(&h->waiters, 1, __ATOMIC_SEQ_CST);
    for (;;) {
        z = 0;
        if (__atomic_compare_exchange_n(&h->owner, &z, me, 0, __ATOMIC_SEQ_CST,
                                        __ATOMIC_RELAXED)) break;
        HK_OS.sync_wait(&h->sync);
    }
    __atomic_sub_fetch(&h->waiters, 1, __ATOMIC_SEQ_CST);
    HK_OS.sync_unlock(&h->sync);
    h->depth = 1;
}

HK_NOSAN static void hk__wunlock(hk__heap *h)
{
    if (--h->depth) return;
    __atomic_exchange_n(&h->owner, 0, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&h->waiters, __ATOMIC_SEQ_CST)) {
        HK_OS.sync_lock(&h->sync);
        HK_OS.sync_wake(&h->sync);
        HK_OS.sync_unlock(&h->sync);
    }
}

/* Biased entry by the bias owner; 0 if the bias is being revoked. */
HK_NOSAN static inline int hk__bias_enter(hk__heap *h)
{
    unsigned d = h->bias_depth;
    __atomic_store_n(&h->bias_depth, d + 1, __ATOMIC_RELAXED);
    if (d == 0) {
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        if (HK_UNLIKELY(__atomic_load_n(&h->revoke, __ATOMIC_RELAXED))) {
            __atomic_store_n(&h->bias_depth, 0, __ATOMIC_RELEASE);
            hk__bias_wake(h);
            return 0;
        }
    }
    return 1;
}

HK_NOSAN static int hk__enter_slow(hk__heap *h, uintptr_t me)
{
    if (!__atomic_load_n(&h->revoked, __ATOMIC_ACQUIRE)) {
        uintptr_t z = 0;
        if (__atomic_compare_exchange_n(&h->bias_tid, &z, me, 0, __ATOMIC_SEQ_CST,
                                        __ATOMIC_RELAXED) && hk__bias_enter(h))
            return 1;
        hk__revoke(h);
    }
    hk__wlock(h, me);
    return 2;
}

HK_NOSAN static inline int hk__enter(hk__heap *h, unsigned flags)
{
    uintptr_t me;
    if (flags & HK_HEAP_NO_SERIALIZE) return 0;
    me = hk__arena_tid();
    if (HK_LIKELY(__atomic_load_n(&h->bias_tid, __ATOMIC_RELAXED) == me) &&
        HK_LIKELY(hk__bias_enter(h)))
        return 1;
    return hk__enter_slow(h, me);
}

HK_NOSAN static inline void hk__leave(hk__heap *h, int how)
{
    if (how == 1) {
        unsigned d = h->bias_depth - 1;
        __atomic_store_n(&h->bias_depth, d, __ATOMIC_RELEASE);
        if (d == 0) {
            __atomic_signal_fence(__ATOMIC_SEQ_CST);
            if (HK_UNLIKELY(__atomic_load_n(&h->revoke, __ATOMIC_RELAXED)))
                hk__bias_wake(h);
        }
    } else if (how == 2) {
        hk__wunlock(h);
    }
}

/* ---- TLSF lists --------------------------------------------------------- */
HK_NOSAN static inline void hk__map(uint32_t u, unsigned *fl, unsigned *sl)
{
    if (u < HK_SL_N) { *fl = 0; *sl = u; return; }
    {
        unsigned k = 31u - (unsigned)__builtin_clz(u);
        *fl = k - 3;
        *sl = (u >> (k - HK_SL_BITS)) & (HK_SL_N - 1);
    }
}

HK_NOSAN static void hk__ins(hk__heap *h, hk__blk *b)
{
    hk__fblk *f = (hk__fblk *)b, *hd;
    unsigned fl, sl;
    hk__map(b->size, &fl, &sl);
    hd = h->lists[fl][sl];
    f->prev = NULL;
    f->next = hd;
    if (hd) hd->prev = f;
    h->lists[fl][sl] = f;
    h->flmap |= 1u << fl;
    h->slmap[fl] |= 1u << sl;
}

HK_NOSAN static void hk__rem(hk__heap *h, hk__blk *b)
{
    hk__fblk *f = (hk__fblk *)b;
    unsigned fl, sl;
    if (f->next) f->next->prev = f->prev;
    if (f->prev) { f->prev->next = f->next; return; }
    hk__map(b->size, &fl, &sl);
    h->lists[fl][sl] = f->next;
    if (!f->next) {
        h->slmap[fl] &= ~(1u << sl);
        if (!h->slmap[fl]) h->flmap &= ~(1u << fl);
    }
}

/* A free block of at least u units, or NULL (good fit: round the request up
 * to the next class, then any block of that class or above fits). */
HK_NOSAN static hk__blk *hk__find(hk__heap *h, uint32_t u)
{
    unsigned fl, sl;
    uint32_t m;
    if (u >= HK_SL_N) {
        unsigned k = 31u - (unsigned)__builtin_clz(u);
        u += (1u << (k - HK_SL_BITS)) - 1;
    }
    hk__map(u, &fl, &sl);
    if (fl >= HK_FL_N) return NULL;
    m = h->slmap[fl] & (~0u << sl);
    if (!m) {
        uint32_t f = fl + 1 < 32 ? h->flmap & (~0u << (fl + 1)) : 0;
        if (!f) return NULL;
        fl = (unsigned)__builtin_ctz(f);
        m = h->slmap[fl];
    }
    sl = (unsigned)__builtin_ctz(m);
    return &h->lists[fl][sl]->h;
}

/* ---- Regions ------------------------------------------------------------ */
HK_NOSAN static inline int hk__in(const hk__region *r, uintptr_t b)
{
    return b - (uintptr_t)r->first < (uintptr_t)r->sent - (uintptr_t)r->first;
}

/* Region whose blocks [first, sent) hold the header address b: the two
 * regions the map lists for b's 4 MiB chunk, never a scan unless some
 * chunk is shared by more than two regions (every region of a growable
 * heap is >= 4 MiB, so only address aliasing modulo the map can do that).
 * Nothing at b is read. */
HK_NOSAN static inline hk__region *hk__region_of(hk__heap *h, uintptr_t b)
{
    hk__region *const *m = h->rmap[(b >> HK_RMAP_SHIFT) & (HK_RMAP_N - 1)];
    unsigned i;
    if (HK_LIKELY(m[0] != NULL) && HK_LIKELY(hk__in(m[0], b))) return m[0];
    if (m[1] != NULL && hk__in(m[1], b)) return m[1];
    if (HK_LIKELY(!h->rmap_full)) return NULL;
    for (i = 0; i < h->nreg; i++)
        if (hk__in(h->reg[i], b)) return h->reg[i];
    return NULL;
}

/* f may be read and written through: inside one of our regions (so its
 * 32 bytes are committed), aligned, with an intact free header. */
HK_NOSAN static inline int hk__fok(hk__heap *h, const hk__fblk *f)
{
    return !((uintptr_t)f & 15) && hk__region_of(h, (uintptr_t)f) != NULL &&
           f->h.info == 0 && hk__ok(h, &f->h);
}

/* b, a listed free block with a checked header, may be unlinked: its list
 * neighbours are valid free blocks that link back to it, or it heads the
 * list of its class (the classic safe-unlink check). */
HK_NOSAN static int hk__linked(hk__heap *h, const hk__blk *b)
{
    const hk__fblk *f = (const hk__fblk *)b;
    unsigned fl, sl;
    if (f->next && (!hk__fok(h, f->next) || f->next->prev != f)) return 0;
    if (f->prev) return hk__fok(h, f->prev) && f->prev->next == f;
    hk__map(b->size, &fl, &sl);
    return fl < HK_FL_N && h->lists[fl][sl] == f;
}

/* Rebuild the map of 4 MiB chunks to regions: two slots per chunk, as a
 * region boundary inside a chunk puts two regions there (the old one-slot,
 * first-come map sent ~40% of frees to a scan).  A third region in a slot
 * pair sets rmap_full, and only then may a lookup scan. */
HK_NOSAN static void hk__rmap(hk__heap *h)
{
    unsigned i;
    memset(h->rmap, 0, sizeof h->rmap);
    h->rmap_full = 0;
    for (i = 0; i < h->nreg; i++) {
        uintptr_t c = (uintptr_t)h->reg[i]->base >> HK_RMAP_SHIFT;
        uintptr_t e = ((uintptr_t)h->reg[i]->end - 1) >> HK_RMAP_SHIFT;
        unsigned k;
        for (k = 0; c <= e && k < HK_RMAP_N; c++, k++) {
            hk__region **m = h->rmap[c & (HK_RMAP_N - 1)];
            if (!m[0]) m[0] = h->reg[i];
            else if (!m[1]) m[1] = h->reg[i];
            else h->rmap_full = 1;
        }
        if (c <= e) h->rmap_full = 1;   /* wider than the map: aliases */
    }
}

HK_NOSAN static int hk__region_index(const hk__heap *h, uintptr_t b, uintptr_t hint)
{
    unsigned i;
    if (hint < h->nreg && hk__in(h->reg[hint], b)) return (int)hint;
    for (i = 0; i < h->nreg; i++)
        if (hk__in(h->reg[i], b)) return (int)i;
    return -1;
}

/* Make b, a free block, the last one of region r, ending at a fresh busy
 * sentinel s at the commit edge, and list it free.  Region setup, commit
 * growth and tail trimming all end this way. */
HK_NOSAN static void hk__set_tail(hk__heap *h, hk__region *r, hk__blk *b, hk__blk *s)
{
    b->size = (uint32_t)(((char *)s - (char *)b) >> 4);
    hk__seal(h, b);
    s->size = 1;
    s->prev = b->size;
    s->info = HK_SENT | HK_BUSY;
    hk__seal(h, s);
    hk__ins(h, b);
    r->sent = s;
}

/* Lay out [first, commit) as one free block and the sentinel. */
HK_NOSAN static void hk__region_init(hk__heap *h, hk__region *r, char *base, size_t res,
                           size_t com, size_t hdr, size_t floor)
{
    hk__blk *b = (hk__blk *)(base + hdr), *s = (hk__blk *)(base + com - 16);
    r->base = base;
    r->end = base + res;
    r->commit = base + com;
    r->floor = base + floor;
    r->first = b;
    b->prev = 0;
    b->info = 0;
    hk__set_tail(h, r, b, s);
    hk__san_none(h, b, com - hdr);
}

HK_NOSAN static void hk__region_drop(hk__heap *h, hk__region *r)
{
    unsigned i, j;
    for (i = 1; i < h->nreg; i++) {
        if (h->reg[i] != r) continue;
        hk__rem(h, r->first);
        for (j = i; j + 1 < h->nreg; j++) h->reg[j] = h->reg[j + 1];
        h->nreg--;
        hk__rmap(h);
        hk__unmap(r->base, (size_t)(r->end - r->base));
        return;
    }
}

/* b is the free block just before r's sentinel: give an empty extra region
 * back (keeping one spare), or decommit a free tail past the margin.
 * Hysteresis: never below what the tail was used up to in the last two
 * windows of HK_TRIM_EVERY slow operations, and only by HK_TRIM_HYST or
 * more, so a loop that fills and empties the heap keeps its commit. */
HK_NOSAN static void hk__tidy(hk__heap *h, hk__region *r, hk__blk *b)
{
    char *keep;
    if (!hk__linked(h, b)) return;   /* damaged neighbour: leave it alone */
    if (b == r->first && r != &h->r0 && h->nreg > 2 && !r->hwm[0] && !r->hwm[1]) {
        hk__region_drop(h, r);
        return;
    }
    keep = (char *)b + 32 + HK_TRIM_MARGIN + 16;
    if (keep < r->hwm[0]) keep = r->hwm[0];
    if (keep < r->hwm[1]) keep = r->hwm[1];
    keep = (char *)hk__round((uintptr_t)keep, HK_GRAN);
    if (keep < r->floor) keep = r->floor;
    if (keep >= r->commit || (size_t)(r->commit - keep) < HK_TRIM_HYST) return;
    hk__rem(h, b);
    hk__set_tail(h, r, b, (hk__blk *)(keep - 16));
    HK_OS.decommit(keep, (size_t)(r->commit - keep));
    r->commit = keep;
}

/* Start a new high-water window and tidy every region whose last block is
 * free (newest first, so dropping one does not skip another). */
static void hk__lc_clear(hk__heap *h);
HK_NOSAN static void hk__tidy_all(hk__heap *h)
{
    unsigned i;
    if (!h->lcused) hk__lc_clear(h);
    h->lcused = 0;
    for (i = h->nreg; i-- > 0;) {
        hk__region *r = h->reg[i];
        r->hwm[1] = r->hwm[0];
        r->hwm[0] = NULL;
    }
    for (i = h->nreg; i-- > 0;) {
        hk__region *r = h->reg[i];
        hk__blk *s = r->sent, *last;
        if (!hk__ok(h, s) || (char *)s - (size_t)s->prev * 16 < (char *)r->first) continue;
        last = HK_PREV(s);
        if (last != s && HK_TFREE(last) && hk__ok(h, last) && HK_NEXT(last) == s)
            hk__tidy(h, r, last);
    }
}

/* Make the free tail of r at least u units by committing more; returns the
 * tail block (in the lists) or NULL. */
HK_NOSAN static hk__blk *hk__grow(hk__heap *h, hk__region *r, uint32_t u)
{
    hk__blk *s = r->sent, *last, *b, *ns;
    uint32_t have;
    size_t need;
    char *nc;
    if (!hk__ok(h, s) || s->prev < 1 || (char *)s - (size_t)s->prev * 16 < (char *)r->first)
        return NULL;
    last = HK_PREV(s);
    if (!hk__ok(h, last) || last->size != s->prev) return NULL;
    have = HK_TFREE(last) ? last->size : 0;
    if (have && !hk__linked(h, last)) return NULL;
    if (have >= u) return last;
    need = (size_t)(u - have) * 16;
    if (need > (size_t)(r->end - r->commit)) return NULL;
    nc = (char *)hk__round((uintptr_t)r->commit + need, HK_GRAN);
    if (nc > r->end) nc = r->end;
    if (HK_OS.commit(r->commit, (size_t)(nc - r->commit))) return NULL;
    hk__san_none(h, r->commit, (size_t)(nc - r->commit));
    ns = (hk__blk *)(nc - 16);
    if (have) { hk__rem(h, last); s->info = HK_DEAD; b = last; }
    else b = s;
    b->info = 0;
    hk__set_tail(h, r, b, ns);
    r->commit = nc;
    return b;
}

HK_NOSAN static hk__region *hk__region_new(hk__heap *h, uint32_t u)
{
    size_t need = HK_RHDR + (size_t)u * 16 + 16, res, com;
    hk__region *r;
    char *base;
    if (h->fixed || h->nreg >= HK_MAX_REGIONS) return NULL;
    com = hk__round(need, HK_GRAN);
    res = com > h->grow ? com : h->grow;
    if (!(base = HK_OS.reserve(res))) return NULL;
    if (HK_OS.commit(base, com)) { hk__unmap(base, res); return NULL; }
    r = (hk__region *)base;
    hk__region_init(h, r, base, res, com, HK_RHDR, HK_GRAN);
    h->reg[h->nreg++] = r;
    hk__rmap(h);
    if (h->grow < HK_MAX_GROW) h->grow *= 2;
    return r;
}

/* ---- Coalescing core ---------------------------------------------------- */
/* Turn b (busy, or just taken out of a cache; its header checked by the
 * caller) into a free listed block, merged with free neighbours.  Both
 * neighbours, and the list links of a free one, are checked before
 * anything changes.  tidy: may decommit the tail / drop the region
 * afterwards. */
HK_NOSAN static int hk__coalesce(hk__heap *h, hk__region *r, hk__blk *b, int tidy, hk__blk **out)
{
    uint32_t u = b->size;
    hk__blk *n = HK_NEXT(b), *p = NULL, *nn = NULL;
    if (u < 2 || (char *)n > (char *)r->sent || !hk__nb(h, n, u) ||
        (!b->prev) != (b == r->first))
        return HK_ERR_HEAP_CORRUPT;
    if (b->prev) {
        p = HK_PREV(b);
        if ((char *)p < (char *)r->first || !hk__ok(h, p) || p->size != b->prev)
            return HK_ERR_HEAP_CORRUPT;
        if (!HK_TFREE(p)) p = NULL;
        else if (!hk__linked(h, p)) return HK_ERR_HEAP_CORRUPT;
    }
    if (HK_TFREE(n)) {
        nn = HK_NEXT(n);
        if ((char *)nn > (char *)r->sent || !hk__linked(h, n))   /* nn: only its prev */
            return HK_ERR_HEAP_CORRUPT;
    }
    if (p) { hk__rem(h, p); u += p->size; b->info = HK_DEAD; b = p; }
    if (nn) { hk__rem(h, n); u += n->size; n->info = HK_DEAD; n = nn; }
    b->size = u;
    b->info = 0;
    hk__seal(h, b);
    hk__set_prev(h, n, u);
    hk__ins(h, b);
    if (out) *out = b;
    if (tidy && n == r->sent) hk__tidy(h, r, b);
    return HK_OK;
}

/* ---- Front-end caches --------------------------------------------------- */
HK_NOSAN static inline void hk__clink(const hk__heap *h, hk__fblk *f, hk__fblk *next)
{
    f->next = next;
    f->prev = hk__cguard(h, f, next);
}

/* Merge the blocks of cache u back into the heap.  One with a damaged
 * neighbour stays cached; at a damaged entry the walk stops and leaves it
 * and the rest of the cache as they are (its link cannot be trusted). */
HK_NOSAN static int hk__flush_class(hk__heap *h, uint32_t u)
{
    hk__fblk *f = h->cache[u], *keep = NULL, *tail = NULL, *nx;
    int rc = HK_OK;
    unsigned steps = 0;
    while (f) {
        hk__region *r;
        if (++steps > HK_CCAP || !hk__cok(h, f, u)) { rc = HK_ERR_HEAP_CORRUPT; break; }
        nx = f->next;
        r = hk__region_of(h, (uintptr_t)f);
        if (r && hk__coalesce(h, r, &f->h, 1, NULL) == HK_OK) {
            h->croom[u]++;
        } else {
            rc = HK_ERR_HEAP_CORRUPT;
            if (tail) hk__clink(h, tail, f);
            else keep = f;
            tail = f;
        }
        f = nx;
    }
    if (tail) hk__clink(h, tail, f);
    else keep = f;
    h->cache[u] = keep;
    return rc;
}

HK_NOSAN static int hk__flush(hk__heap *h)
{
    uint32_t u;
    int rc = HK_OK;
    for (u = 2; u <= HK_CMAX; u++)
        if (h->cache[u] && hk__flush_class(h, u) != HK_OK) rc = HK_ERR_HEAP_CORRUPT;
    return rc;
}

/* Take the cached block b out of its cache; 0 if it is not there (or the
 * cache is damaged before it). */
HK_NOSAN static int hk__uncache(hk__heap *h, hk__blk *b)
{
    hk__fblk *f, *prev = NULL;
    uint32_t u = b->size;
    unsigned steps = 0;
    if (u > HK_CMAX) return 0;
    for (f = h->cache[u]; f && steps <= HK_CCAP; prev = f, f = f->next, steps++) {
        if (!hk__cok(h, f, u)) return 0;
        if (&f->h == b) {
            if (prev) hk__clink(h, prev, f->next);
            else h->cache[u] = f->next;
            h->croom[u]++;
            return 1;
        }
    }
    return 0;
}

/* Put the busy (or just uncached) block b of u units into its cache, which
 * has room.  The guard is made from the values written, and info + check
 * are written as one 8-byte store, which the 8-byte load of the next pop
 * (often right after: LIFO) can take straight from the store buffer. */
HK_NOSAN static inline void hk__cache_push(hk__heap *h, hk__blk *b, uint32_t u)
{
    hk__fblk *f = (hk__fblk *)b, *hd = h->cache[u];
    uint32_t pv = b->prev;
    uint64_t w1 = hk__pair(HK_CACHED, hk__chkv(h, b, u, pv, HK_CACHED));
    h->croom[u]--;
    memcpy(&b->info, &w1, 8);
    f->next = hd;
    f->prev = hk__cguardv(h, f, hd, hk__pair(u, pv), w1);
    h->cache[u] = f;
}

/* ---- Small blocks ------------------------------------------------------- */
/* A free block of at least u units, split to size, out of the lists; the
 * caller marks it busy.  Grows the commit, flushes the caches or adds a
 * region as needed.  *pr gets the block's region.  NULL: no memory, or
 * h->fail = HK_ERR_HEAP_CORRUPT when the block found (its header, its
 * successor's boundary tag or its list links) is damaged; then nothing has
 * changed. */
HK_NOSAN static hk__blk *hk__take(hk__heap *h, uint32_t u, hk__region **pr)
{
    hk__blk *b, *n;
    hk__region *r = NULL;
    uint32_t bu;
    if (HK_UNLIKELY(!h->wleft--)) { h->wleft = HK_TRIM_EVERY; hk__tidy_all(h); }
    b = hk__find(h, u);
    if (!b) {
        unsigned i;
        for (i = 0; i < h->nreg && !b; i++) b = hk__grow(h, r = h->reg[i], u);
        if (!b) { hk__flush(h); b = hk__find(h, u); r = NULL; }
        if (!b && (r = hk__region_new(h, u)) != NULL) b = r->first;
        if (!b) return NULL;
    }
    if ((!r && !(r = hk__region_of(h, (uintptr_t)b))) || ((uintptr_t)b & 15) ||
        !hk__ok(h, b) || !HK_TFREE(b) || b->size < u ||
        (char *)(n = HK_NEXT(b)) > (char *)r->sent || !hk__linked(h, b)) {
        h->fail = HK_ERR_HEAP_CORRUPT;
        return NULL;
    }
    if (n == r->sent && (char *)b + (size_t)u * 16 > r->hwm[0])
        r->hwm[0] = (char *)b + (size_t)u * 16;
    hk__rem(h, b);
    bu = b->size;
    if (bu - u >= 2) {
        hk__blk *rest = (hk__blk *)((char *)b + (size_t)u * 16);
        rest->size = bu - u;
        rest->prev = u;
        rest->info = 0;
        hk__seal(h, rest);
        hk__set_prev(h, n, rest->size);
        hk__ins(h, rest);
        b->size = u;
    }
    *pr = r;
    return b;
}

HK_NOSAN static inline void hk__set_busy(hk__heap *h, hk__blk *b, size_t n, uint32_t ep)
{
    hk__stamp(h, b, b->size, (uint32_t)((size_t)b->size * 16 - 16 - n) | HK_BUSY | ep);
}

HK_NOSAN static inline void *hk__alloc_small(hk__heap *h, size_t n, uint32_t ep)
{
    uint32_t u = hk__units(n);
    hk__region *r;
    hk__blk *b;
    if (HK_LIKELY(u <= HK_CMAX)) {
        hk__fblk *f = h->cache[u];
        /* A damaged cache is left as it is (validate reports it, a repair
         * makes it work again); the lists serve meanwhile. */
        if (HK_LIKELY(f != NULL) && HK_LIKELY(hk__cfast(h, f))) {
            b = &f->h;
            h->cache[u] = f->next;
            h->croom[u]++;
            hk__stamp(h, b, u, (uint32_t)((size_t)u * 16 - 16 - n) | HK_BUSY | ep);
            hk__san_busy(h, (char *)(b + 1), 16, n, (char *)HK_NEXT(b));
            return b + 1;
        }
    }
    if (!(b = hk__take(h, u, &r))) return NULL;
    (void)r;
    hk__set_busy(h, b, n, ep);
    hk__san_busy(h, (char *)(b + 1), 16, n, (char *)HK_NEXT(b));
    return b + 1;
}

/* The busy small block whose user pointer is p, header intact, or NULL. */
HK_NOSAN static hk__blk *hk__lookup(hk__heap *h, const void *p, hk__region **pr)
{
    uintptr_t a = (uintptr_t)p - 16;
    hk__region *r;
    hk__blk *b;
    if ((a & 15) || !(r = hk__region_of(h, a))) return NULL;
    b = (hk__blk *)a;
    if ((b->info & (HK_BUSY | HK_SENT)) != HK_BUSY || !hk__ok(h, b) ||
        (char *)HK_NEXT(b) > (char *)r->sent)
        return NULL;
    *pr = r;
    return b;
}

/* Free the busy block b (of u units) of region r: cache it or merge it. */
HK_NOSAN static inline int hk__free_blk(hk__heap *h, hk__region *r, hk__blk *b, uint32_t u)
{
    int rc;
    if (HK_LIKELY(u <= HK_CMAX) && HK_LIKELY(h->croom[u])) {
        hk__cache_push(h, b, u);
        hk__san_free(h, (char *)(b + 1), 16, (char *)b + (size_t)u * 16);
        return HK_OK;
    }
    rc = hk__coalesce(h, r, b, 1, NULL);
    if (rc == HK_OK) hk__san_free(h, (char *)(b + 1), 16, (char *)b + (size_t)u * 16);
    return rc;
}

HK_NOSAN static int hk__free_small(hk__heap *h, hk__region *r, hk__blk *b)
{
    return hk__free_blk(h, r, b, b->size);
}

/* ---- Large blocks ------------------------------------------------------- */
HK_NOSAN static size_t hk__lslot(uintptr_t k, size_t cap)
{
    return (size_t)((((uint64_t)k >> 12) * HK_K1) >> 40) & (cap - 1);
}

HK_NOSAN static int hk__ltab_put(hk__heap *h, uintptr_t k)
{
    size_t i;
    if ((h->lcount + 1) * 2 > h->lcap) {
        size_t cap = h->lcap ? h->lcap * 2 : 512, j;
        uintptr_t *t = HK_OS.map(cap * sizeof *t);
        if (!t) return 0;
        for (j = 0; j < h->lcap; j++) {
            if (!h->ltab[j]) continue;
            for (i = hk__lslot(h->ltab[j], cap); t[i]; i = (i + 1) & (cap - 1)) {}
            t[i] = h->ltab[j];
        }
        if (h->ltab) hk__unmap(h->ltab, h->lcap * sizeof *t);
        h->ltab = t;
        h->lcap = cap;
    }
    for (i = hk__lslot(k, h->lcap); h->ltab[i]; i = (i + 1) & (h->lcap - 1)) {}
    h->ltab[i] = k;
    h->lcount++;
    return 1;
}

HK_NOSAN static size_t hk__ltab_find(const hk__heap *h, uintptr_t k)
{
    size_t i;
    if (!h->lcap) return (size_t)-1;
    for (i = hk__lslot(k, h->lcap); h->ltab[i]; i = (i + 1) & (h->lcap - 1))
        if (h->ltab[i] == k) return i;
    return (size_t)-1;
}

HK_NOSAN static void hk__ltab_del(hk__heap *h, size_t i)
{
    size_t m = h->lcap - 1, j = i;
    for (;;) {
        size_t k;
        j = (j + 1) & m;
        if (!h->ltab[j]) break;
        k = hk__lslot(h->ltab[j], h->lcap);
        if (((j - k) & m) >= ((j - i) & m)) { h->ltab[i] = h->ltab[j]; i = j; }
    }
    h->ltab[i] = 0;
    h->lcount--;
}

HK_NOSAN static hk__large *hk__llookup(const hk__heap *h, const void *p)
{
    uintptr_t a = (uintptr_t)p;
    hk__large *l;
    if ((a & 0xFFF) != HK_LHDR || hk__ltab_find(h, a - HK_LHDR) == (size_t)-1) return NULL;
    l = (hk__large *)(a - HK_LHDR);
    return l->check == hk__lchk(h, l) ? l : NULL;
}

/* The cache of freed large mappings: each costs an mmap + munmap and page
 * faults anew otherwise.  Bounded (HK_LC_N, HK_LC_BYTES), only mappings up
 * to HK_LC_MAXMAP; its list lives in the heap struct, never in the
 * mappings, so no damage can reach it.  Hysteresis: a window of slow
 * operations in which the cache served nothing gives it all back
 * (hk__tidy_all), and so does compaction. */
HK_NOSAN static void hk__lc_drop(hk__heap *h, unsigned i)
{
    hk__unmap(h->lc[i].base, h->lc[i].map);
    h->lcbytes -= h->lc[i].map;
    for (; i + 1 < h->lcn; i++) h->lc[i] = h->lc[i + 1];
    h->lcn--;
}

HK_NOSAN static void hk__lc_clear(hk__heap *h)
{
    while (h->lcn) hk__lc_drop(h, h->lcn - 1);
}

/* Keep (or give back) the mapping at l of map bytes. */
HK_NOSAN static void hk__lc_put(hk__heap *h, void *l, size_t map)
{
    if (map > HK_LC_MAXMAP) { hk__unmap(l, map); return; }
    while (h->lcn && (h->lcn == HK_LC_N || h->lcbytes + map > HK_LC_BYTES)) hk__lc_drop(h, 0);
    h->lc[h->lcn].base = l;
    h->lc[h->lcn].map = map;
    h->lcn++;
    h->lcbytes += map;
}

/* The smallest cached mapping of at least *map bytes; *map gets the size
 * kept.  Where the OS can give back part of a mapping (POSIX), one more
 * than twice too big is cut to size; elsewhere only one up to twice the
 * size is taken.  Its header is cleared: it reads like a fresh one but
 * for reused. */
HK_NOSAN static hk__large *hk__lc_take(hk__heap *h, size_t *map)
{
    unsigned i, best = HK_LC_N;
    hk__large *l;
    size_t have;
    for (i = 0; i < h->lcn; i++)
        if (h->lc[i].map >= *map && (best == HK_LC_N || h->lc[i].map < h->lc[best].map))
            best = i;
    if (best == HK_LC_N) return NULL;
    have = h->lc[best].map;
#if defined(_WIN32)
    if (have / 2 > *map) return NULL;
#endif
    l = h->lc[best].base;
    h->lcbytes -= have;
    for (i = best; i + 1 < h->lcn; i++) h->lc[i] = h->lc[i + 1];
    h->lcn--;
    h->lcused = 1;
    if (have / 2 > *map) hk__unmap((char *)l + *map, have - *map);
    else *map = have;
    memset(l, 0, HK_LHDR);
    l->reused = 1;
    return l;
}

HK_NOSAN static void *hk__alloc_large(hk__heap *h, size_t n, uint32_t epoch)
{
    size_t map;
    hk__large *l;
    if (h->fixed || n > ((size_t)1 << 47)) return NULL;
    /* The tail's header is resealed below: a damaged one must not be. */
    if (h->ltail && h->ltail->check != hk__lchk(h, h->ltail)) {
        h->fail = HK_ERR_HEAP_CORRUPT;
        return NULL;
    }
    map = hk__round(n + HK_LHDR, HK_GRAN);
    if (HK_UNLIKELY(map > h->climit)) return NULL;
    l = hk__lc_take(h, &map);
    if (!l && !(l = HK_OS.map(map))) return NULL;
    if (!hk__ltab_put(h, (uintptr_t)l)) { hk__lc_put(h, l, map); return NULL; }
    l->n = n;
    l->map = map;
    l->epoch = epoch;
    l->next = NULL;
    l->prev = h->ltail;
    if (h->ltail) { h->ltail->next = l; h->ltail->check = hk__lchk(h, h->ltail); }
    else h->lhead = l;
    h->ltail = l;
    l->check = hk__lchk(h, l);
    hk__san_busy(h, (char *)l + HK_LHDR, HK_LHDR, n, (char *)l + map);
    return (char *)l + HK_LHDR;
}

/* l's list neighbours are resealed when l goes: refuse if one is damaged
 * (resealing would make its bad size look valid). */
HK_NOSAN static int hk__large_nb_ok(const hk__heap *h, const hk__large *l)
{
    return (!l->prev || l->prev->check == hk__lchk(h, l->prev)) &&
           (!l->next || l->next->check == hk__lchk(h, l->next));
}

HK_NOSAN static void hk__free_large(hk__heap *h, hk__large *l)
{
    size_t i = hk__ltab_find(h, (uintptr_t)l), map = l->map;
    hk__san_free(h, (char *)l + HK_LHDR, HK_LHDR, (char *)l + map);
    if (i != (size_t)-1) hk__ltab_del(h, i);
    if (l->prev) { l->prev->next = l->next; l->prev->check = hk__lchk(h, l->prev); }
    else h->lhead = l->next;
    if (l->next) { l->next->prev = l->prev; l->next->check = hk__lchk(h, l->next); }
    else h->ltail = l->prev;
    /* A stale pointer to it must fail the check even if the header is
     * reused by a later block at the same address: the check is keyed by
     * the address, so the header is wiped. */
    memset(l, 0, HK_LHDR);
    hk__lc_put(h, l, map);
}

/* ---- Members ------------------------------------------------------------ */
HK_NOSAN static int hk__create(unsigned flags, size_t initial, size_t maximum, void **out)
{
    size_t res, com, minc = hk__round(HK_HHDR + 64, HK_GRAN);
    hk__heap *h;
    char *base;
    uint32_t u;
    static unsigned long seq;
    if (maximum) res = maximum > initial ? maximum : initial;
    else res = initial > HK_FIRST_RES ? initial : HK_FIRST_RES;
    if (res > HK_MAX_REGION) return HK_ERR_NO_MEMORY;
    res = hk__round(res, HK_GRAN);
    if (res < minc) res = minc;
    com = hk__round(initial ? initial : 1, HK_GRAN);
    if (com < minc) com = minc;
    if (com > res) com = res;
    if (!(base = HK_OS.reserve(res))) return HK_ERR_NO_MEMORY;
    if (HK_OS.commit(base, com)) { hk__unmap(base, res); return HK_ERR_NO_MEMORY; }
    h = (hk__heap *)base;   /* committed memory reads as zero */
    {
        uint64_t k = (uint64_t)(uintptr_t)h ^ ((uint64_t)(uintptr_t)&seq << 17)
                     ^ (uint64_t)__atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED) * HK_K2
                     ^ (uint64_t)(uintptr_t)out * HK_K1;
#if defined(__x86_64__) || defined(__i386__)
        k ^= (uint64_t)__builtin_ia32_rdtsc() << 23;
#endif
        k ^= k >> 29; k *= HK_K1; k ^= k >> 32;
        h->key = k;
        h->salt = (uint32_t)((k >> 40) & 0xFFFFF) | 1;
    }
    h->flags = flags & HK_HEAP_NO_SERIALIZE;
    h->fixed = maximum != 0;
    h->grow = HK_FIRST_RES * 2;
    h->climit = HK_OS.commit_limit();
#ifdef HK_VG
    h->vg = RUNNING_ON_VALGRIND != 0;
    if (h->vg) VALGRIND_CREATE_MEMPOOL(h, 0, 0);
#endif
    if (HK_OS.sync_init(&h->sync)) { hk__unmap(base, res); return HK_ERR_NO_MEMORY; }
    for (u = 2; u <= HK_CMAX; u++) {
        size_t c = HK_CBYTES / ((size_t)u * 16);
        h->croom[u] = (uint8_t)(c > HK_CCAP ? HK_CCAP : c < 8 ? 8 : c);
    }
    h->reg[0] = &h->r0;
    h->nreg = 1;
    hk__region_init(h, &h->r0, base, res, com, HK_HHDR, com);
    hk__rmap(h);
    *out = h;
    return HK_OK;
}

HK_NOSAN static int hk__destroy(void *bh)
{
    hk__heap *h = bh;
    unsigned i;
    size_t j;
#ifdef HK_VG
    if (h->vg) VALGRIND_DESTROY_MEMPOOL(h);
#endif
    /* Through the table, not the list: a damaged header is skipped (its
     * mapping leaks) instead of being followed. */
    for (j = 0; j < h->lcap; j++) {
        hk__large *l = (hk__large *)h->ltab[j];
        if (l && l->check == hk__lchk(h, l)) hk__unmap(l, l->map);
    }
    if (h->ltab) hk__unmap(h->ltab, h->lcap * sizeof *h->ltab);
    hk__lc_clear(h);
    for (i = 1; i < h->nreg; i++)
        hk__unmap(h->reg[i]->base, (size_t)(h->reg[i]->end - h->reg[i]->base));
    HK_OS.sync_fini(&h->sync);
    hk__unmap(h->r0.base, (size_t)(h->r0.end - h->r0.base));
    return HK_OK;
}

/* Outermost call by the thread the lock is biased to: plain stores only
 * (the depth-0 case of hk__bias_enter / hk__leave, inlined into the hot
 * paths). */
HK_NOSAN static inline int hk__fast_enter(hk__heap *h, unsigned flags)
{
    if ((flags & HK_HEAP_NO_SERIALIZE) ||
        __atomic_load_n(&h->bias_tid, __ATOMIC_RELAXED) != hk__arena_tid() || h->bias_depth)
        return 0;
    return hk__bias_enter(h);
}

HK_NOSAN static inline void hk__fast_leave(hk__heap *h)
{
    hk__leave(h, 1);
}

/* NULL: h->fail says why (kept out of the hot path's frame). */
HK_NOSAN static HK_NOINLINE void *hk__alloc_slow(hk__heap *h, size_t n)
{
    h->fail = HK_ERR_NO_MEMORY;
    if (n < HK_LARGE_N) return hk__alloc_small(h, n, h->epinfo);
    return hk__alloc_large(h, n, h->epinfo >> HK_EP_SHIFT);
}

/* Pop a block of the exact class from its cache, or go the long way. */
HK_NOSAN static HK_HOT void *hk__alloc_op(hk__heap *h, size_t n)
{
    if (HK_LIKELY(n <= (size_t)HK_CMAX * 16 - 16)) {
        uint32_t u = hk__units(n);
        hk__fblk *f = h->cache[u];
        if (HK_LIKELY(f != NULL) && HK_LIKELY(hk__cfast(h, f))) {
            h->cache[u] = f->next;
            h->croom[u]++;
            hk__stamp(h, &f->h, u, (uint32_t)((size_t)u * 16 - 16 - n) | HK_BUSY | h->epinfo);
            hk__san_busy(h, (char *)(&f->h + 1), 16, n, (char *)f + (size_t)u * 16);
            return &f->h + 1;
        }
    }
    return hk__alloc_slow(h, n);
}

/* Zero-memory: a fresh large mapping is zero already (clearing it would
 * only make every page resident); one from the cache is not. */
HK_NOSAN static inline void hk__zero_from(const hk__heap *h, void *p, size_t from, size_t n)
{
    if (n < HK_LARGE_N || ((const hk__large *)((char *)p - HK_LHDR))->reused)
        memset((char *)p + from, 0, n - from);
#ifdef HK_VG
    else if (HK_VG_ON(h)) VALGRIND_MAKE_MEM_DEFINED((char *)p + from, n - from); /* zero pages */
#endif
    (void)h;
}

HK_NOSAN static inline void hk__zero_new(const hk__heap *h, void *p, size_t n)
{
    hk__zero_from(h, p, 0, n);
}

/* Any thread, any lock state: the general path. */
HK_NOSAN static HK_NOINLINE int hk__alloc_locked(hk__heap *h, unsigned flags, size_t n, void **out)
{
    int rc = HK_OK, lk = hk__enter(h, flags);
    void *p = hk__alloc_op(h, n);
    if (!p) rc = h->fail;
    hk__leave(h, lk);
    if (!p) return rc;
    if (flags & HK_HEAP_ZERO_MEMORY) hk__zero_new(h, p, n);
    *out = p;
    return HK_OK;
}

HK_NOSAN static int hk__alloc(void *bh, unsigned flags, size_t n, void **out)
{
    hk__heap *h = bh;
    int rc;
    void *p;
    if (HK_UNLIKELY(!hk__fast_enter(h, flags))) return hk__alloc_locked(h, flags, n, out);
    p = hk__alloc_op(h, n);
    if (HK_UNLIKELY(!p)) {
        rc = h->fail;
        hk__fast_leave(h);
        return rc;
    }
    hk__fast_leave(h);
    if (flags & HK_HEAP_ZERO_MEMORY) hk__zero_new(h, p, n);
    *out = p;
    return HK_OK;
}

HK_NOSAN static HK_NOINLINE int hk__free_slow(hk__heap *h, void *p)
{
    hk__region *r;
    hk__blk *b = hk__lookup(h, p, &r);
    hk__large *l;
    if (b) return hk__free_blk(h, r, b, b->size);
    if ((l = hk__llookup(h, p)) != NULL) {
        if (!hk__large_nb_ok(h, l)) return HK_ERR_HEAP_CORRUPT;
        hk__free_large(h, l);
        return HK_OK;
    }
    return HK_ERR_INVALID_PARAMETER;
}

/* Check the header (flags + keyed check: not a block start, a freed block
 * or another heap's block all fail it), then cache or merge. */
HK_NOSAN static HK_HOT int hk__free_op(hk__heap *h, void *p)
{
    hk__region *r;
    uintptr_t a = (uintptr_t)p - 16;
    if (HK_LIKELY(!(a & 15)) && HK_LIKELY((r = hk__region_of(h, a)) != NULL)) {
        hk__blk *b = (hk__blk *)a;
        uint32_t u = b->size, info = b->info;
        if (HK_LIKELY((info & (HK_BUSY | HK_SENT)) == HK_BUSY) &&
            HK_LIKELY(b->check == hk__chkv(h, b, u, b->prev, info)))
            return hk__free_blk(h, r, b, u);
    }
    return hk__free_slow(h, p);
}

HK_NOSAN static HK_NOINLINE int hk__free_locked(hk__heap *h, unsigned flags, void *p)
{
    int lk = hk__enter(h, flags), rc = hk__free_op(h, p);
    hk__leave(h, lk);
    return rc;
}

HK_NOSAN static int hk__free(void *bh, unsigned flags, void *p)
{
    hk__heap *h = bh;
    int rc;
    if (HK_UNLIKELY(!hk__fast_enter(h, flags))) return hk__free_locked(h, flags, p);
    rc = hk__free_op(h, p);
    hk__fast_leave(h);
    return rc;
}

HK_NOSAN static int hk__size(void *bh, unsigned flags, const void *p, size_t *n)
{
    hk__heap *h = bh;
    hk__region *r;
    hk__blk *b;
    hk__large *l;
    int rc = HK_OK, lk = hk__enter(h, flags);
    if ((b = hk__lookup(h, p, &r)) != NULL) *n = hk__bn(b);
    else if ((l = hk__llookup(h, p)) != NULL) *n = l->n;
    else rc = HK_ERR_INVALID_PARAMETER;
    hk__leave(h, lk);
    return rc;
}

/* Move a block: allocate n bytes anew (same epoch), copy, zero the growth
 * (not in a fresh large mapping, which is zero already). */
HK_NOSAN static void *hk__move(hk__heap *h, unsigned flags, void *p, size_t old, size_t n,
                      uint32_t epoch)
{
    void *q;
    h->fail = HK_ERR_NO_MEMORY;
    q = n < HK_LARGE_N ? hk__alloc_small(h, n, epoch << HK_EP_SHIFT)
                       : hk__alloc_large(h, n, epoch);
    if (!q) return NULL;
    memcpy(q, p, old < n ? old : n);
    if ((flags & HK_HEAP_ZERO_MEMORY) && n > old)
        hk__zero_from(h, q, old, n);
    return q;
}

/* Undo a move whose old block could not be freed (damaged neighbours). */
HK_NOSAN static void hk__unmove(hk__heap *h, void *q)
{
    hk__region *r;
    hk__blk *b = hk__lookup(h, q, &r);
    hk__large *l;
    if (b) hk__free_blk(h, r, b, b->size);
    else if ((l = hk__llookup(h, q)) != NULL && hk__large_nb_ok(h, l)) hk__free_large(h, l);
}

HK_NOSAN static int hk__realloc_small(hk__heap *h, unsigned flags, hk__region *r, hk__blk *b,
                             size_t n, void **out)
{
    uint32_t ou = b->size, nu, ep = b->info & ~(HK_SLACK | HK_BUSY);
    size_t old = hk__bn(b);
    hk__blk *nx = HK_NEXT(b);
    void *p = b + 1, *q;
    int rc;
    if ((char *)nx > (char *)r->sent || !hk__nb(h, nx, ou))
        return HK_ERR_HEAP_CORRUPT;
    if (n >= HK_LARGE_N) goto move;   /* never becomes large in place */
    nu = hk__units(n);
    if (nu <= ou) {
        if (ou - nu >= 2) {
            /* The rest merges with a free successor: check its successor
             * and list links first, so that nothing changes on damage (the
             * other paths check before they change anything, and a move
             * that cannot free b is undone). */
            if (HK_TFREE(nx) &&
                ((char *)HK_NEXT(nx) > (char *)r->sent || !hk__linked(h, nx)))
                return HK_ERR_HEAP_CORRUPT;
            hk__blk *rest = (hk__blk *)((char *)b + (size_t)nu * 16);
            rest->size = ou - nu;
            rest->prev = nu;
            rest->info = HK_BUSY;
            hk__seal(h, rest);
            hk__set_prev(h, nx, rest->size);
            b->size = nu;
            hk__set_busy(h, b, n, ep);
            hk__coalesce(h, r, rest, 1, NULL);
        } else {
            hk__set_busy(h, b, n, ep);
        }
        goto in_place;
    }
    /* Grow into the next block: take it out of its cache, extend the commit
     * when the free run reaches the sentinel. */
    if (nx->info == HK_CACHED && hk__uncache(h, nx)) {
        if (hk__coalesce(h, r, nx, 0, NULL) != HK_OK)
            hk__cache_push(h, nx, nx->size);   /* damaged beyond: put it back */
        nx = HK_NEXT(b);
    }
    if (HK_TFREE(nx) ? ou + nx->size < nu && HK_NEXT(nx) == r->sent : nx == r->sent) {
        hk__grow(h, r, nu - ou);
        nx = HK_NEXT(b);
    }
    if (HK_TFREE(nx) && ou + nx->size >= nu) {
        uint32_t total = ou + nx->size;
        hk__blk *nn = HK_NEXT(nx);
        if ((char *)nn > (char *)r->sent || !hk__linked(h, nx))
            return HK_ERR_HEAP_CORRUPT;
        hk__rem(h, nx);
        nx->info = HK_DEAD;
        if (nn == r->sent && (char *)b + (size_t)nu * 16 > r->hwm[0])
            r->hwm[0] = (char *)b + (size_t)nu * 16;
        if (total - nu >= 2) {
            hk__blk *rest = (hk__blk *)((char *)b + (size_t)nu * 16);
            rest->size = total - nu;
            rest->prev = nu;
            rest->info = 0;
            hk__seal(h, rest);
            hk__ins(h, rest);
            hk__set_prev(h, nn, rest->size);
            b->size = nu;
        } else {
            hk__set_prev(h, nn, total);
            b->size = total;
        }
        hk__set_busy(h, b, n, ep);
        goto in_place;
    }
move:
    if (flags & HK_HEAP_REALLOC_IN_PLACE_ONLY) return HK_ERR_NO_MEMORY;
    if (!(q = hk__move(h, flags, p, old, n, ep >> HK_EP_SHIFT))) return h->fail;
    if ((rc = hk__free_small(h, r, b)) != HK_OK) {
        hk__unmove(h, q);   /* b stays as it was */
        return rc;
    }
    *out = q;
    return HK_OK;
in_place:
    hk__san_resize(h, p, 16, old, n, (char *)b + (size_t)(ou > b->size ? ou : b->size) * 16);
    if ((flags & HK_HEAP_ZERO_MEMORY) && n > old) memset((char *)p + old, 0, n - old);
    *out = p;
    return HK_OK;
}

HK_NOSAN static int hk__realloc(void *bh, unsigned flags, void *p, size_t n, void **out)
{
    hk__heap *h = bh;
    hk__region *r;
    hk__blk *b;
    hk__large *l;
    int rc, lk = hk__enter(h, flags);
    if ((b = hk__lookup(h, p, &r)) != NULL) {
        rc = hk__realloc_small(h, flags, r, b, n, out);
    } else if ((l = hk__llookup(h, p)) != NULL) {
        size_t old = l->n;
        rc = HK_OK;
        if (n <= l->map - HK_LHDR && (n >= HK_LARGE_N || (flags & HK_HEAP_REALLOC_IN_PLACE_ONLY))) {
            hk__san_resize(h, p, HK_LHDR, old, n, (char *)l + l->map);
            if ((flags & HK_HEAP_ZERO_MEMORY) && n > old) memset((char *)p + old, 0, n - old);
            l->n = n;
            l->check = hk__lchk(h, l);
            *out = p;
        } else if (flags & HK_HEAP_REALLOC_IN_PLACE_ONLY) {
            rc = HK_ERR_NO_MEMORY;
        } else if (!hk__large_nb_ok(h, l)) {
            rc = HK_ERR_HEAP_CORRUPT;
        } else {
            void *q = hk__move(h, flags, p, old, n, l->epoch);
            if (q) {
                hk__free_large(h, l);   /* after the move: l may be the tail */
                *out = q;
            } else {
                rc = h->fail;
            }
        }
    } else {
        rc = HK_ERR_INVALID_PARAMETER;
    }
    hk__leave(h, lk);
    return rc;
}

/* Check region r block by block; *nfree counts listed free blocks. */
HK_NOSAN static int hk__check_region(hk__heap *h, hk__region *r, size_t *nfree)
{
    hk__blk *b = r->first, *s = r->sent;
    uint32_t prev = 0;
    int prev_free = 0;
    if ((char *)s < (char *)r->first || (char *)s + 16 != r->commit || !hk__ok(h, s) ||
        s->info != (HK_SENT | HK_BUSY) || s->size != 1)
        return HK_ERR_HEAP_CORRUPT;
    while (b != s) {
        if ((char *)b + 32 > (char *)s || !hk__ok(h, b) || (b->info & HK_SENT) ||
            b->prev != prev || b->size < 2 || (char *)HK_NEXT(b) > (char *)s)
            return HK_ERR_HEAP_CORRUPT;
        if (b->info & HK_BUSY) {
            if ((b->info & HK_SLACK) > (size_t)b->size * 16 - 16) return HK_ERR_HEAP_CORRUPT;
            prev_free = 0;
        } else if (b->info == 0) {
            if (prev_free) return HK_ERR_HEAP_CORRUPT;   /* not coalesced */
            prev_free = 1;
            ++*nfree;
        } else if (b->info == HK_CACHED) {
            prev_free = 0;
        } else {
            return HK_ERR_HEAP_CORRUPT;
        }
        prev = b->size;
        b = HK_NEXT(b);
    }
    return s->prev == prev ? HK_OK : HK_ERR_HEAP_CORRUPT;
}

HK_NOSAN static int hk__check_heap(hk__heap *h)
{
    size_t nfree = 0, seen = 0, nl = 0;
    unsigned i, fl, sl;
    uint32_t u;
    hk__large *l, *pl = NULL;
    int rc;
    for (i = 0; i < h->nreg; i++)
        if ((rc = hk__check_region(h, h->reg[i], &nfree)) != HK_OK) return rc;
    for (fl = 0; fl < HK_FL_N; fl++) {
        for (sl = 0; sl < HK_SL_N; sl++) {
            hk__fblk *f = h->lists[fl][sl], *pf = NULL;
            if (!f != !((h->slmap[fl] >> sl) & 1)) return HK_ERR_HEAP_CORRUPT;
            for (; f; pf = f, f = f->next) {
                unsigned a, c;
                if (++seen > nfree || (uintptr_t)f & 15 || !hk__region_of(h, (uintptr_t)f) ||
                    f->h.info != 0 || !hk__ok(h, &f->h) || f->prev != pf)
                    return HK_ERR_HEAP_CORRUPT;
                hk__map(f->h.size, &a, &c);
                if (a != fl || c != sl) return HK_ERR_HEAP_CORRUPT;
            }
        }
        if (!h->slmap[fl] != !((h->flmap >> fl) & 1)) return HK_ERR_HEAP_CORRUPT;
    }
    if (seen != nfree) return HK_ERR_HEAP_CORRUPT;
    for (u = 2, seen = 0; u <= HK_CMAX; u++) {
        hk__fblk *f = h->cache[u];
        unsigned k = 0;
        for (; f; f = f->next) {
            if (++k > HK_CCAP || (uintptr_t)f & 15 || !hk__region_of(h, (uintptr_t)f) ||
                !hk__cok(h, f, u))
                return HK_ERR_HEAP_CORRUPT;
        }
        seen += k;
    }
    for (l = h->lhead; l; pl = l, l = l->next) {
        if (++nl > h->lcount || hk__ltab_find(h, (uintptr_t)l) == (size_t)-1 ||
            l->check != hk__lchk(h, l) || l->prev != pl)
            return HK_ERR_HEAP_CORRUPT;
    }
    return nl == h->lcount && pl == h->ltail ? HK_OK : HK_ERR_HEAP_CORRUPT;
}

HK_NOSAN static int hk__validate(void *bh, unsigned flags, const void *p)
{
    hk__heap *h = bh;
    hk__region *r;
    uintptr_t a = (uintptr_t)p - 16;
    int rc = HK_OK, lk = hk__enter(h, flags);
    if (!p) {
        rc = hk__check_heap(h);
    } else if (!hk__lookup(h, p, &r) && !hk__llookup(h, p)) {
        /* Not a live block: a damaged header, or no block start at all?  Walk
         * the region up to p to tell (failure path only). */
        rc = HK_ERR_INVALID_PARAMETER;
        if (!(a & 15) && (r = hk__region_of(h, a)) != NULL) {
            const hk__blk *b = r->first;
            while ((uintptr_t)b < a) {
                if (!hk__ok(h, b) || b->size < 2 || (char *)HK_NEXT(b) > (char *)r->sent) {
                    rc = HK_ERR_HEAP_CORRUPT;
                    break;
                }
                b = HK_NEXT(b);
            }
            if ((uintptr_t)b == a && !hk__ok(h, b)) rc = HK_ERR_HEAP_CORRUPT;
        }
    }
    hk__leave(h, lk);
    return rc;
}

/* Give the whole pages inside r's free blocks back to the OS (the free
 * header and links, in the first 32 bytes, stay).  Stops at the first
 * damaged header: validate reports it. */
HK_NOSAN static void hk__reset_region(hk__heap *h, hk__region *r)
{
    hk__blk *b = r->first, *s = r->sent;
    while (b != s) {
        hk__blk *n;
        if ((char *)b + 32 > (char *)s || !hk__ok(h, b) || b->size < 2 ||
            (char *)(n = HK_NEXT(b)) > (char *)s)
            return;
        if (HK_TFREE(b)) {
            uintptr_t lo = hk__round((uintptr_t)b + 32, HK_PAGE), hi = (uintptr_t)n & ~(HK_PAGE - 1);
            if (hi > lo) HK_OS.reset((void *)lo, hi - lo);
        }
        b = n;
    }
}

HK_NOSAN static int hk__compact(void *bh, unsigned flags, size_t *largest)
{
    hk__heap *h = bh;
    size_t best = 0;
    int lk = hk__enter(h, flags), rc = hk__flush(h);
    unsigned i;
    /* Compaction gives memory back: cached large mappings, free tails past
     * the margin, and the pages inside free blocks. */
    hk__lc_clear(h);
    if (rc == HK_OK) {
        hk__tidy_all(h);
        for (i = 0; i < h->nreg; i++) hk__reset_region(h, h->reg[i]);
    }
    if (rc == HK_OK && h->flmap) {
        unsigned fl = 31u - (unsigned)__builtin_clz(h->flmap);
        unsigned sl = h->slmap[fl] ? 31u - (unsigned)__builtin_clz(h->slmap[fl]) : 0;
        const hk__fblk *f, *pf = NULL;
        /* The largest class's list, each link checked before it is followed
         * (the back-link check also ends a cycle). */
        for (f = h->lists[fl][sl]; f; pf = f, f = f->next) {
            if (!hk__fok(h, f) || f->prev != pf) {
                rc = HK_ERR_HEAP_CORRUPT;
                break;
            }
            if ((size_t)f->h.size * 16 - 32 > best) best = (size_t)f->h.size * 16 - 32;
        }
    }
    hk__leave(h, lk);
    *largest = best;
    return rc;
}

HK_NOSAN static int hk__lock(void *bh)
{
    hk__heap *h = bh;
    if (!(h->flags & HK_HEAP_NO_SERIALIZE)) hk__enter(h, 0);
    return HK_OK;
}

HK_NOSAN static int hk__unlock(void *bh)
{
    hk__heap *h = bh;
    uintptr_t me;
    if (h->flags & HK_HEAP_NO_SERIALIZE) return HK_OK;
    me = hk__arena_tid();
    if (__atomic_load_n(&h->bias_tid, __ATOMIC_RELAXED) == me && h->bias_depth) hk__leave(h, 1);
    else if (__atomic_load_n(&h->owner, __ATOMIC_RELAXED) == me && h->depth) hk__leave(h, 2);
    else return HK_ERR_INVALID_PARAMETER;
    return HK_OK;
}

/* ---- Walk --------------------------------------------------------------- */
HK_NOSAN static void hk__e_region(const hk__heap *h, unsigned ri, hk_heap_entry *e)
{
    const hk__region *r = h->reg[ri];
    e->data = r->base;
    e->size = (size_t)((char *)r->first - r->base);
    e->overhead = 0;
    e->region_index = (unsigned short)ri;
    e->flags = HK_ENTRY_REGION;
    e->u.region.committed = (size_t)(r->commit - r->base);
    e->u.region.uncommitted = (size_t)(r->end - r->commit);
    e->u.region.first_block = r->first;
    e->u.region.last_block = r->end;
    e->walk_state[0] = (uintptr_t)r->first;
    e->walk_state[1] = ri;
}

HK_NOSAN static int hk__e_large(const hk__heap *h, const hk__large *l, hk_heap_entry *e)
{
    e->data = (char *)l + HK_LHDR;
    e->size = l->n;
    e->overhead = 0;
    e->region_index = HK_LARGE_INDEX;
    e->flags = HK_ENTRY_BUSY;
    memset(&e->u, 0, sizeof e->u);
    e->walk_state[0] = (uintptr_t)l;
    e->walk_state[1] = ~(uintptr_t)0;
    return l->check == hk__lchk(h, l) ? HK_OK : HK_ERR_HEAP_CORRUPT;
}

/* Entry for position b of region ri (a block or the sentinel), checked. */
HK_NOSAN static int hk__e_block(const hk__heap *h, unsigned ri, const hk__blk *b, uint32_t prev,
                       hk_heap_entry *e)
{
    const hk__region *r = h->reg[ri];
    memset(&e->u, 0, sizeof e->u);
    e->region_index = (unsigned short)ri;
    e->walk_state[0] = (uintptr_t)b;
    e->walk_state[1] = ri;
    if (!hk__ok(h, b) || b->prev != prev) return HK_ERR_HEAP_CORRUPT;
    if (b == r->sent) {
        e->data = r->commit;
        e->size = (size_t)(r->end - r->commit);
        e->overhead = 0;
        e->flags = HK_ENTRY_UNCOMMITTED;
        return HK_OK;
    }
    if ((b->info & HK_SENT) || b->size < 2 || (char *)HK_NEXT(b) > (char *)r->sent)
        return HK_ERR_HEAP_CORRUPT;
    if (b->info & HK_BUSY) {
        size_t n = hk__bn(b);
        e->data = (char *)(b + 1);
        e->size = n;
        e->overhead = (size_t)b->size * 16 - n;
        e->flags = HK_ENTRY_BUSY;
    } else {
        e->data = (char *)b + 32;
        e->size = (size_t)b->size * 16 - 32;
        e->overhead = 32;
        e->flags = HK_ENTRY_FREE;
    }
    return HK_OK;
}

HK_NOSAN static int hk__after_region(const hk__heap *h, unsigned ri, hk_heap_entry *e)
{
    if (ri + 1 < h->nreg) { hk__e_region(h, ri + 1, e); return HK_OK; }
    if (h->lhead) return hk__e_large(h, h->lhead, e);
    return HK_ERR_NO_MORE_ITEMS;
}

HK_NOSAN static int hk__walk_step(hk__heap *h, hk_heap_entry *e)
{
    uintptr_t a = (uintptr_t)e->data;
    unsigned i;
    if (!a) {
        hk__flush(h);
        hk__e_region(h, 0, e);
        return HK_OK;
    }
    switch (e->flags) {
    case HK_ENTRY_REGION:
        for (i = 0; i < h->nreg; i++)
            if ((uintptr_t)h->reg[i]->base == a) return hk__e_block(h, i, h->reg[i]->first, 0, e);
        return HK_ERR_INVALID_PARAMETER;
    case HK_ENTRY_BUSY:
    case HK_ENTRY_FREE: {
        uintptr_t off = e->flags == HK_ENTRY_BUSY ? 16 : 32;
        int ri = (a & 15) ? -1 : hk__region_index(h, a - off, e->walk_state[1]);
        if (ri >= 0) {
            const hk__blk *b = (const hk__blk *)(a - off);
            if (!hk__ok(h, b) || (b->info & HK_SENT) || !(b->info & HK_BUSY) != (off == 32) ||
                b->size < 2 || (char *)HK_NEXT(b) > (char *)h->reg[ri]->sent)
                return HK_ERR_INVALID_PARAMETER;
            return hk__e_block(h, (unsigned)ri, HK_NEXT(b), b->size, e);
        }
        if (off == 16) {
            const hk__large *l = hk__llookup(h, (void *)a);
            if (l) {
                if (!l->next) return HK_ERR_NO_MORE_ITEMS;
                return hk__e_large(h, l->next, e);
            }
        }
        return HK_ERR_INVALID_PARAMETER;
    }
    case HK_ENTRY_UNCOMMITTED:
        for (i = 0; i < h->nreg; i++)
            if ((uintptr_t)h->reg[i]->commit == a) return hk__after_region(h, i, e);
        return HK_ERR_INVALID_PARAMETER;
    default:
        return HK_ERR_INVALID_PARAMETER;
    }
}

HK_NOSAN static int hk__walk(void *bh, hk_heap_entry *e)
{
    hk__heap *h = bh;
    int lk = hk__enter(h, h->flags), rc = hk__walk_step(h, e);
    hk__leave(h, lk);
    return rc;
}

HK_NOSAN static int hk__visit(void *bh, hk_visit_fn fn, void *arg)
{
    hk__heap *h = bh;
    hk_heap_entry e;
    const hk__large *l;
    unsigned ri;
    int rc = HK_OK, lk = hk__enter(h, h->flags);
    hk__flush(h);
    memset(&e, 0, sizeof e);
    for (ri = 0; ri < h->nreg; ri++) {
        const hk__region *r = h->reg[ri];
        const hk__blk *b = r->first;
        uint32_t prev = 0;
        hk__e_region(h, ri, &e);
        if (fn(&e, arg)) goto out;
        for (;;) {
            if ((rc = hk__e_block(h, ri, b, prev, &e)) != HK_OK) goto out;
            if (fn(&e, arg)) goto out;
            if (b == r->sent) break;
            prev = b->size;
            b = HK_NEXT(b);
        }
    }
    for (l = h->lhead; l; l = l->next) {
        if ((rc = hk__e_large(h, l, &e)) != HK_OK) break;
        if (fn(&e, arg)) break;
    }
out:
    hk__leave(h, lk);
    return rc;
}

/* ---- Mark / release ----------------------------------------------------- */
HK_NOSAN static int hk__mark(void *bh, uintptr_t *mark)
{
    hk__heap *h = bh;
    int rc = HK_OK, lk = hk__enter(h, h->flags);
    if (h->epoch >= HK_EP_MAX) {
        rc = HK_ERR_NO_MEMORY;
    } else {
        h->epoch++;
        h->epinfo = h->epoch << HK_EP_SHIFT;
        *mark = ((uintptr_t)h->salt << 24) | h->epoch;
    }
    hk__leave(h, lk);
    return rc;
}

HK_NOSAN static int hk__release(void *bh, uintptr_t mark)
{
    hk__heap *h = bh;
    uint32_t m = (uint32_t)(mark & 0xFFFFFF);
    hk__large *l, *nl;
    unsigned i;
    int rc = HK_OK, lk = hk__enter(h, h->flags);
    if ((mark >> 24) != h->salt || m == 0 || m > h->epoch) {
        rc = HK_ERR_INVALID_PARAMETER;
        goto out;
    }
    /* All or nothing: a damaged heap is refused before any block is freed
     * (the pass is O(blocks) anyway). */
    if ((rc = hk__flush(h)) != HK_OK || (rc = hk__check_heap(h)) != HK_OK) goto out;
    for (i = 0; i < h->nreg && rc == HK_OK; i++) {
        hk__region *r = h->reg[i];
        hk__blk *b = r->first;
        while (b != r->sent) {
            if (!hk__ok(h, b) || b->size < 2 || (char *)HK_NEXT(b) > (char *)r->sent) {
                rc = HK_ERR_HEAP_CORRUPT;
                break;
            }
            if ((b->info & HK_BUSY) && (b->info >> HK_EP_SHIFT) >= m) {
                hk__blk *ob = b;
                char *oe = (char *)HK_NEXT(b);
                if ((rc = hk__coalesce(h, r, b, 0, &b)) != HK_OK) break;
                hk__san_free(h, (char *)(ob + 1), 16, oe);
            }
            b = HK_NEXT(b);
        }
    }
    for (l = h->lhead; l && rc == HK_OK; l = nl) {
        if (l->check != hk__lchk(h, l) || !hk__large_nb_ok(h, l)) {
            rc = HK_ERR_HEAP_CORRUPT;
            break;
        }
        nl = l->next;
        if (l->epoch >= m) hk__free_large(h, l);
    }
    /* Tidy afterwards: dropping a region mid-pass would shift the array. */
    hk__tidy_all(h);
out:
    hk__leave(h, lk);
    return rc;
}

#ifdef HK_VG
/* Under Valgrind the arena reads its own no-access memory (headers, free
 * blocks): error reporting is off for the thread while an entry point
 * runs, so only the program's own accesses are judged. */
#define HK_VG_IN(h)  do { if (HK_VG_ON(h)) VALGRIND_DISABLE_ERROR_REPORTING; } while (0)
#define HK_VG_OUT(v) do { if (HK_UNLIKELY(v)) VALGRIND_ENABLE_ERROR_REPORTING; } while (0)
#define HK_VG_WRAP(name, params, args)                                      \
    static int hk__vg_##name params                                        \
    {                                                                       \
        hk__heap *h = bh;                                                   \
        int v = h->vg, rc;                                                  \
        HK_VG_IN(h);                                                        \
        rc = hk__##name args;                                               \
        HK_VG_OUT(v);                                                       \
        return rc;                                                          \
    }
HK_VG_WRAP(destroy, (void *bh), (bh))
HK_VG_WRAP(alloc, (void *bh, unsigned f, size_t n, void **out), (bh, f, n, out))
HK_VG_WRAP(realloc, (void *bh, unsigned f, void *p, size_t n, void **out), (bh, f, p, n, out))
HK_VG_WRAP(free, (void *bh, unsigned f, void *p), (bh, f, p))
HK_VG_WRAP(size, (void *bh, unsigned f, const void *p, size_t *n), (bh, f, p, n))
HK_VG_WRAP(validate, (void *bh, unsigned f, const void *p), (bh, f, p))
HK_VG_WRAP(compact, (void *bh, unsigned f, size_t *largest), (bh, f, largest))
HK_VG_WRAP(walk, (void *bh, hk_heap_entry *e), (bh, e))
HK_VG_WRAP(visit, (void *bh, hk_visit_fn fn, void *arg), (bh, fn, arg))
HK_VG_WRAP(mark, (void *bh, uintptr_t *m), (bh, m))
HK_VG_WRAP(release, (void *bh, uintptr_t m), (bh, m))
#  define HK_M(name) hk__vg_##name
#else
#  define HK_M(name) hk__##name
#endif

const hk_backend hk__backend_arena = {
    HK_BACKEND_VERSION,
    "arena",
    HK_CAP_WALK_FREE | HK_CAP_WALK_UNCOMMITTED | HK_CAP_WALK_ITERATE |
        HK_CAP_FIXED_SIZE | HK_CAP_REALLOC_IN_PLACE | HK_CAP_ANY_THREAD |
        HK_CAP_VALIDATE | HK_CAP_MARK_RELEASE,
    hk__create,
    HK_M(destroy),
    HK_M(alloc),
    HK_M(realloc),
    HK_M(free),
    HK_M(size),
    HK_M(validate),
    HK_M(compact),
    hk__lock,
    hk__unlock,
    HK_M(walk),
    HK_M(visit),
    HK_M(mark),
    HK_M(release),
    NULL,
    NULL
};
