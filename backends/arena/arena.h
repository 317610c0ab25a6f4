/*
 * arena.h - heapkit's own allocator: Win32 heap semantics over reserved and
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
 *  - Once a second thread has come (the bias revoked), each thread has a
 *    thread cache per heap (one of HK_TC_N, by thread sequence number; a
 *    thread that meets another in its slot moves on to the next): the
 *    same guarded LIFO lists of cached blocks, behind the cache's own
 *    lock word, so an alloc/free served there takes no heap lock and
 *    writes no line of the heap's.  A miss refills HK_TCFILL blocks, or
 *    spills as many, under the heap's word lock and the thread's cache
 *    lock: blocks moved between the thread cache and the heap's own
 *    caches touch no other block.  Before a split or merge (which may set
 *    the prev of a neighbour in another thread's cache), and whenever the
 *    word lock is taken for anything else, every thread cache's lock word
 *    is taken too: HeapLock, walk, validate, compact, mark/release and
 *    every slow path exclude all threads, and see cached blocks marked
 *    free as before (walks and compaction flush them).  The caches belong
 *    to the heap, not to the threads: a thread's exit loses nothing (the
 *    next thread in that slot uses them; flushes give them back).
 *  - mark/release: each block records the epoch (number of marks taken)
 *    current when it was allocated, and keeps it when realloc moves it;
 *    release(m) frees, in one pass over the heap, every busy block whose
 *    epoch >= m: O(blocks + large blocks).  Marks stay valid after releases.

 *
 * Files (all share this header; hot inline helpers live here):
 *   arena.c   the backend's members, small blocks, front-end caches,
 *             coalescing, validate/compact
 *   lock.c    the biased lock's slow paths (revocation, word lock)
 *   tlsf.c    the segregated free lists
 *   region.c  regions: the region map, commit growth, trimming, give-back
 *   large.c   large blocks, their lookup table and the freed-mapping cache
 *   walk.c    the walk (iterator and visitor)
 *   mark.c    mark/release
 *   san.h     Valgrind client requests and ASan poisoning
 *   os.h      the OS layer (os-posix.c, os-win.c)
 */
#ifndef HK_ARENA_H
#define HK_ARENA_H
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
/* Freed large mappings kept, and their byte budget: with 8 and 64 MiB a
 * working set of 16 blocks of 1-16 MiB evicted (munmap) on a third of its
 * frees; emptied by hk_compact and after a window with no hit. */
#define HK_LC_N        16
#define HK_LC_BYTES    ((size_t)128 << 20)
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
/* Thread caches (once a second thread uses the heap): HK_TC_N per heap,
 * a thread uses the one its sequence number picks; same classes. */
#define HK_TC_N    4
#define HK_TCCAP   32                       /* blocks per class (more: the
                                               consumer of prodcons spills
                                               too late, its producer splits) */
#define HK_TCFILL  16                       /* taken per refill             */

#define HK_K1 0x9E3779B97F4A7C15ull
#define HK_K2 0xD6E8FEB86659FD93ull

#define HK_OS hk__arena_os

#if defined(__GNUC__)
#  define HK_NOINLINE    __attribute__((noinline))
#  define HK_HOT          inline __attribute__((always_inline))
#  define HK_LIKELY(x)   __builtin_expect(!!(x), 1)
#  define HK_UNLIKELY(x) __builtin_expect(!!(x), 0)
/* Fetch the line of a block about to be used (written: a cached block's
 * header is rewritten when it is popped); never faults. */
#  define hk__prefetch(p) __builtin_prefetch((p), 1, 3)
#else
#  define HK_NOINLINE
#  define HK_HOT          inline
#  define HK_LIKELY(x)   (x)
#  define HK_UNLIKELY(x) (x)
#  define hk__prefetch(p) ((void)(p))
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

/* A thread cache: its own lock word (0 or the holder's tid), taken by
 * its thread around a pop or push, and by whoever holds the heap's word
 * lock (all of them, hk__wlock), so the heap lock still excludes all. */
typedef struct hk__tc {
    uintptr_t lock;
    uint8_t room[HK_CMAX + 1];   /* blocks each class may still take    */
    hk__fblk *cache[HK_CMAX + 1];
} __attribute__((aligned(64))) hk__tc;

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
    int tcheld;                  /* the word lock's holder has them all */
    hk__tc tc[HK_TC_N];          /* used once revoked (lock.c)          */
} hk__heap;

#define HK_RHDR   ((sizeof(hk__region) + 15) & ~(size_t)15)
#define HK_HHDR   ((sizeof(hk__heap) + 15) & ~(size_t)15)
#define HK_NEXT(b) ((hk__blk *)((char *)(b) + (size_t)(b)->size * 16))
#define HK_PREV(b) ((hk__blk *)((char *)(b) - (size_t)(b)->prev * 16))
#define HK_TFREE(b) ((b)->info == 0)   /* free and in the TLSF lists     */

HK_NOSAN static inline size_t hk__round(size_t n, size_t g) { return (n + g - 1) & ~(g - 1); }

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
HK_NOSAN static inline void hk__unmap(void *p, size_t n)
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

/* ---- Pages given back inside a free block (hk_compact) ----------------- */
/* hk_compact gives the whole pages of a listed free block back, from the
 * first page after its third 16 bytes to the last whole page; those 16
 * bytes (kept) say so: the span's end and a keyed check of it, the block's
 * address and size.  The walk shows the span UNCOMMITTED.  hk__ins clears
 * the check, so a block listed again (merged, split, trimmed, freed) walks
 * FREE, never with a stale span; a block too small for a page has none. */
#define HK_GONE_MIN 256u                    /* units: below, no whole page  */
HK_NOSAN static inline uint64_t hk__gkey(const hk__heap *h, const hk__blk *b, uint32_t u,
                                          uint64_t hi)
{
    uint64_t x = hk__lmix((uint64_t)(uintptr_t)b ^ h->key ^ HK_K2, u, HK_K1);
    return hk__lmix(x, hi, HK_K2) | 1;      /* never the cleared 0 */
}
HK_NOSAN static inline void hk__gone_set(const hk__heap *h, hk__blk *b, uintptr_t hi)
{
    uint64_t *m = (uint64_t *)(void *)((char *)b + 32);
    m[0] = hi;
    m[1] = hk__gkey(h, b, b->size, hi);
}
HK_NOSAN static inline void hk__gone_clear(hk__blk *b)
{
    if (b->size >= HK_GONE_MIN) ((uint64_t *)(void *)((char *)b + 32))[1] = 0;
}
/* b, a checked free listed block ending at or before end: its given-back
 * span [*lo, *hi), or 0. */
HK_NOSAN static inline int hk__gone(const hk__heap *h, const hk__blk *b, uintptr_t *lo,
                                    uintptr_t *hi)
{
    const uint64_t *m = (const uint64_t *)(const void *)((const char *)b + 32);
    uintptr_t l = ((uintptr_t)b + 48 + HK_PAGE - 1) & ~(HK_PAGE - 1);
    if (b->info != 0 || b->size < HK_GONE_MIN || m[1] != hk__gkey(h, b, b->size, m[0]) ||
        (m[0] & (HK_PAGE - 1)) || m[0] <= l || m[0] > (uintptr_t)b + (size_t)b->size * 16)
        return 0;
    *lo = l;
    *hi = (uintptr_t)m[0];
    return 1;
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

/* ---- Across the files ---------------------------------------------------- */
/* lock.c: the lock's slow paths */
void hk__bias_wake(hk__heap *h);
void hk__wunlock(hk__heap *h);
void hk__tc_lockall(hk__heap *h, uintptr_t me);
int hk__tc_grab(hk__tc *t, uintptr_t me);
void hk__enter_light(hk__heap *h, uintptr_t me);
void hk__tc_unlockall(hk__heap *h);
int hk__enter_slow(hk__heap *h, uintptr_t me);

/* tlsf.c: segregated free lists */
void hk__ins(hk__heap *h, hk__blk *b);
void hk__rem(hk__heap *h, hk__blk *b);
hk__blk *hk__find(hk__heap *h, uint32_t u);

/* region.c: regions, commit growth, trimming */
int hk__linked(hk__heap *h, const hk__blk *b);
void hk__rmap(hk__heap *h);
int hk__region_index(const hk__heap *h, uintptr_t b, uintptr_t hint);
void hk__region_init(hk__heap *h, hk__region *r, char *base, size_t res,
                     size_t com, size_t hdr, size_t floor);
void hk__tidy(hk__heap *h, hk__region *r, hk__blk *b);
void hk__tidy_all(hk__heap *h);
hk__blk *hk__grow(hk__heap *h, hk__region *r, uint32_t u);
hk__region *hk__region_new(hk__heap *h, uint32_t u);
void hk__reset_region(hk__heap *h, hk__region *r);

/* large.c: large blocks and their cache */
size_t hk__ltab_find(const hk__heap *h, uintptr_t k);
hk__large *hk__llookup(const hk__heap *h, const void *p);
void hk__lc_clear(hk__heap *h);
void *hk__alloc_large(hk__heap *h, size_t n, uint32_t epoch);
int hk__large_nb_ok(const hk__heap *h, const hk__large *l);
void hk__free_large(hk__heap *h, hk__large *l);

/* arena.c: blocks, caches, the backend's members */
int hk__coalesce(hk__heap *h, hk__region *r, hk__blk *b, int tidy, hk__blk **out);
int hk__flush(hk__heap *h);
int hk__check_heap(hk__heap *h);

/* walk.c */
int hk__arena_walk(void *bh, hk_heap_entry *e);
int hk__arena_visit(void *bh, hk_visit_fn fn, void *arg);

/* mark.c */
int hk__arena_mark(void *bh, uintptr_t *mark);
int hk__arena_release(void *bh, uintptr_t mark);

/* ---- Hot helpers of the lock, lists and regions (inline) ------------- */

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

/* Returns how it entered: 0 not at all, 1 biased, 2 word lock. */
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

HK_NOSAN static inline void hk__map(uint32_t u, unsigned *fl, unsigned *sl)
{
    if (u < HK_SL_N) { *fl = 0; *sl = u; return; }
    {
        unsigned k = 31u - (unsigned)__builtin_clz(u);
        *fl = k - 3;
        *sl = (u >> (k - HK_SL_BITS)) & (HK_SL_N - 1);
    }
}

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

#endif /* HK_ARENA_H */
