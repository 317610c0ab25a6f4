/*
 * arena.h - heapkit's own allocator: Win32 heap semantics over reserved and
 * committed virtual memory on any OS (os.h is the only OS-specific part).
 *
 * Why it looks like this:
 *  - A heap is a few regions (reservations).  The first one starts with the
 *    heap struct, so the heap's base is its first region's base.  A region is
 *    a run of blocks ending in a busy sentinel (a bare 8-byte header) at the
 *    end of the committed part; the commit grows in 64 KiB steps.  A free tail is
 *    decommitted down to a margin, but never below what the tail was used up
 *    to lately (a high-water mark over two windows of slow operations), so a
 *    loop that fills and empties the heap does not call the OS each time.
 *  - Every block starts with an 8-byte header {word, check} and hands out
 *    the 16-byte aligned address right after it, so blocks start at 8 mod
 *    16 and are multiples of 16 bytes (32 at least): 8 bytes + rounding is
 *    all a busy block costs.  word holds the size in 16-byte units and the
 *    flags; a busy block also keeps its slack there (block size - 8 -
 *    requested, < 64 with the unit a split could not take, so the exact
 *    size is kept; its size fits 16 bits, as busy blocks are < HK_LARGE_N),
 *    a free one the full 27-bit size (regions stay below 2 GiB).  check is
 *    a keyed hash of the word and the address, so an overwritten header, a
 *    stale or forged pointer is refused.  A header swallowed by a merge is
 *    poisoned, so a double free after coalescing is refused too.
 *  - Boundary tags, glibc-style: a listed free block keeps its size in its
 *    last 8 bytes (footer), and the next block's header says PFREE.  Only
 *    then is the footer read, and trusted only if it leads to an intact
 *    free header of that size ending right there.  A split or merge that
 *    flips a neighbour's flag reseals an intact header and leaves a
 *    damaged one damaged (hk__set_pfree): it is never laundered.
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
 *    caches touch no other block.  Before a split or merge (which may flip
 *    the PFREE flag of a neighbour in another thread's cache), and whenever
 *    the word lock is taken for anything else, every thread cache's lock
 *    word is taken too: HeapLock, walk, validate, compact, mark/release and
 *    every slow path exclude all threads, and see cached blocks marked
 *    free as before (walks and compaction flush them).  The caches belong
 *    to the heap, not to the threads: a thread's exit loses nothing (the
 *    next thread in that slot uses them; flushes give them back).
 *  - mark/release: the headers have no room for an epoch, and most heaps
 *    never take a mark.  Once one was taken (h->epoch > 0), each new small
 *    block gets 8 more bytes at its end: the epoch current when it was
 *    allocated and a keyed check of it and the address (flag EP); realloc
 *    keeps it.  Before any mark nothing is spent (and only then are the
 *    fast paths taken).  release(m) frees, in one pass over the heap, every
 *    busy block whose epoch >= m: O(blocks + large blocks).  Marks stay
 *    valid after releases.

 *
 * Files (all share this header; hot inline helpers live here):
 *   arena.c   the backend's members, small blocks, coalescing, the
 *             caches' slow paths, realloc, validate/compact
 *   fast.c    the front end: alloc/free entries, cache hot paths, thread
 *             caches, the fast entries
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
#define HK_MAX_REGION  ((size_t)2 << 30)    /* keeps units in 27 bits      */
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

/* The word of a block header: flags in bits 0-4, the size in units from
 * bit 5 (27 bits; a busy block's 16, its slack in bits 21-26). */
#define HK_BUSY    0x1u
#define HK_CACHED  0x2u
#define HK_PFREE   0x4u        /* the previous block is listed free         */
#define HK_SENT    0x8u
#define HK_EP      0x10u       /* busy: epoch tag in its last 8 bytes       */
#define HK_KIND    (HK_BUSY | HK_CACHED | HK_SENT)
#define HK_SZ_SHIFT 5
#define HK_SL_SHIFT 21
#define HK_DEAD    0xFFFFFFFFu /* header swallowed by a merge: never valid */
#define HK_EP_MAX  0x3FFFFFu
#define HK_HDR     8           /* block header; user data follows          */
#define HK_ETAG    8           /* the epoch tag of an EP block             */
#define HK_FREE_OFF 24         /* a free block's walk data: after its links */

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
/* The depot of a shared heap: per class, up to HK_DEP_N chains of cached
 * blocks that one thread cache spilled whole and another takes whole
 * (fast.c), within HK_DEPBYTES per class. */
#define HK_DEP_N     2
#define HK_DEPBYTES  ((size_t)32 << 10)

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
    uint32_t w;       /* size, flags, slack (see HK_BUSY)               */
    uint32_t check;   /* keyed hash of w and the address                */
} hk__blk;

typedef struct hk__fblk {        /* a free (or cached) block            */
    hk__blk h;
    struct hk__fblk *next, *prev; /* cached: prev holds the guard       */
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
    uint32_t epoch;              /* marks taken; > 0: new blocks get a tag */
    unsigned flags;
    uintptr_t bias_tid;          /* thread the lock is biased to        */
    /* The thread whose hk_alloc/hk_free may take the fast entries: the
     * bias owner while it is outside the heap (depth 0) and nothing rules
     * them out (the heap's HK_HEAP_NO_SERIALIZE, Valgrind, a mark taken,
     * a revocation), else 0: one compare instead of five on the hot path.
     * Only the owner sets it, as it leaves to depth 0 (hk__leave), and
     * clears it as it enters from depth 0 by the general path; the
     * revoker clears it once the owner is out (after its last store). */
    uintptr_t fast_tid;
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
    unsigned npin;               /* reg[0..npin) came with the heap: a
                                    heap above HK_MAX_REGION is several
                                    regions, never dropped              */
    int fixed;
    size_t grow;
    hk__region *reg[HK_MAX_REGIONS];
    hk__region *rmap[HK_RMAP_N][2]; /* 4 MiB chunk -> regions, hk__rmap */
    hk__region rnone;            /* the map's "none": holds no block    */
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
    uint32_t salt;
    unsigned wleft;              /* slow allocations left in the window */
    uint64_t taken;              /* units taken from the lists, ever    */
    uint64_t flushed_at;         /* taken at the last miss-time flush   */
    int fail;                    /* why the last slow allocation failed  */
    int vg;                      /* running under Valgrind (san.h)       */
    hk__arena_sync sync;
    int tcheld;                  /* the word lock's holder has them all */
    hk__tc tc[HK_TC_N];          /* used once revoked (lock.c)          */
    /* Once revoked, under the word lock: chains of guarded cached blocks
     * (NULL-terminated, like a cache list) and their lengths.  Moving one
     * touches no block but the cut, so a thread that takes another's
     * spill does not hold the word lock while those lines come over. */
    hk__fblk *dep[HK_CMAX + 1][HK_DEP_N];
    uint8_t depn[HK_CMAX + 1][HK_DEP_N];
} hk__heap;

#define HK_RHDR   ((sizeof(hk__region) + 15) & ~(size_t)15)
#define HK_HHDR   ((sizeof(hk__heap) + 15) & ~(size_t)15)
/* Size in units of a block with header word w (a busy one has 16 bits). */
HK_NOSAN static inline uint32_t hk__wsz(uint32_t w)
{
    /* a select, not a shifted mask: this is on the walk's critical path
     * (the next header's address), two cycles shorter as a cmov */
    uint32_t s = w >> HK_SZ_SHIFT;
    return (w & HK_BUSY) ? (s & 0xFFFFu) : s;
}
#define HK_SZ(b)   hk__wsz((b)->w)
/* The same where the kind is known: not busy (free, cached, sentinel), or
 * busy or cached (both < 2^16 units); a shift and a mask fewer. */
#define HK_FSZ(b)  ((b)->w >> HK_SZ_SHIFT)
#define HK_BSZ(b)  (((b)->w >> HK_SZ_SHIFT) & 0xFFFFu)
#define HK_NEXT(b) ((hk__blk *)((char *)(b) + (size_t)HK_SZ(b) * 16))
#define HK_TFREE(b) (((b)->w & 31u) == 0)   /* free and in the TLSF lists  */
#define HK_ISCACHED(b) (((b)->w & HK_KIND) == HK_CACHED)
/* A block header's address (8 mod 16), as a user pointer's is 0 mod 16. */
#define HK_HALIGNED(a) (((uintptr_t)(a) & 15) == HK_HDR)

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
/* Two 32-bit words as one 8-byte load of them would read them. */
HK_NOSAN static inline uint64_t hk__pair(uint32_t first, uint32_t second)
{
    union { uint32_t w[2]; uint64_t q; } x;
    x.w[0] = first;
    x.w[1] = second;
    return x.q;
}

/* The check covers the word and the address: for a fixed address the map
 * from word to check is one-to-one (w enters the high half of an odd
 * multiply's input), so any change of one header word is seen. */
HK_NOSAN static inline uint32_t hk__chkv(const hk__heap *h, const void *b, uint32_t w)
{
    uint64_t x = ((uint64_t)w << 32) ^ (uint64_t)(uintptr_t)b ^ h->key;
    x *= HK_K2;
    return (uint32_t)(x >> 32);
}
HK_NOSAN static inline uint32_t hk__chk(const hk__heap *h, const hk__blk *b)
{
    return hk__chkv(h, b, b->w);
}
HK_NOSAN static inline int hk__ok(const hk__heap *h, const hk__blk *b) { return b->check == hk__chk(h, b); }
/* Write a header (word and check) as one 8-byte store. */
HK_NOSAN static inline void hk__put(const hk__heap *h, hk__blk *b, uint32_t w)
{
    uint64_t q = hk__pair(w, hk__chkv(h, b, w));
    memcpy(b, &q, 8);
}
/* The header word of a busy block of u units with n bytes, epoch tag or
 * not, following a free block or not (pf: HK_PFREE or 0). */
HK_NOSAN static inline uint32_t hk__busyw(uint32_t u, size_t n, uint32_t pf, uint32_t ep)
{
    /* u << 5 | slack << 21 | flags, with slack = u * 16 - 8 - n (- 8),
     * as a sum (the fields do not overlap): one multiply for both uses
     * of u instead of two shifts and ors. */
    return u * ((1u << HK_SZ_SHIFT) + (16u << HK_SL_SHIFT)) -
           ((uint32_t)(n + HK_HDR + (ep ? HK_ETAG : 0)) << HK_SL_SHIFT) +
           (HK_BUSY | pf | (ep ? HK_EP : 0));
}

/* The epoch tag of an EP block b of u units: its last 8 bytes, the epoch
 * and a keyed check of it and the address. */
HK_NOSAN static inline uint64_t *hk__etag_at(const hk__blk *b, uint32_t u)
{
    return (uint64_t *)(void *)((char *)b + (size_t)u * 16 - HK_ETAG);
}
HK_NOSAN static inline uint64_t hk__etagv(const hk__heap *h, const hk__blk *b, uint32_t ep)
{
    uint64_t x = ((uint64_t)ep << 32) ^ (uint64_t)(uintptr_t)b ^ h->key ^ HK_K1;
    x *= HK_K2;
    return (x & 0xFFFFFFFF00000000ull) | ep;
}
/* Epoch of the checked busy block b (0: none), or (uint32_t)-1: its tag
 * is damaged. */
HK_NOSAN static inline uint32_t hk__epoch(const hk__heap *h, const hk__blk *b)
{
    uint64_t t;
    if (!(b->w & HK_EP)) return 0;
    t = *hk__etag_at(b, HK_SZ(b));
    if ((uint32_t)t == 0 || (uint32_t)t > HK_EP_MAX || t != hk__etagv(h, b, (uint32_t)t))
        return (uint32_t)-1;
    return (uint32_t)t;
}
/* Make b (its size and PFREE flag in its word already) busy with n bytes
 * and epoch ep (0: none). */
HK_NOSAN static inline void hk__set_busy(const hk__heap *h, hk__blk *b, uint32_t u, size_t n,
                                         uint32_t ep)
{
    hk__put(h, b, hk__busyw(u, n, b->w & HK_PFREE, ep));
    if (ep) *hk__etag_at(b, u) = hk__etagv(h, b, ep);
}

/* A cached block keeps its link in next and, in prev (unused while
 * cached), a keyed guard of the link, the address and its 8-byte header
 * as it was when it was cached: one compare on the hot path checks both
 * the header and the link before either is used.  (Whoever changes a
 * cached block's header - its PFREE flag, when a neighbour changes -
 * renews the guard: hk__set_pfree.) */
HK_NOSAN static inline uintptr_t hk__cfold(uint64_t x)
{
    if (sizeof(uintptr_t) < 8) x ^= x >> 32;
    return (uintptr_t)x;
}
HK_NOSAN static inline uint64_t hk__crot(uint64_t hdr)
{
    return hdr << 32 | hdr >> 32;
}
HK_NOSAN static inline hk__fblk *hk__cguardv(const hk__heap *h, const hk__fblk *f, const hk__fblk *next,
                                    uint64_t hdr)
{
    return (hk__fblk *)hk__cfold((uint64_t)(uintptr_t)next ^ (uint64_t)(uintptr_t)f ^ h->key ^
                                 hk__crot(hdr));
}
HK_NOSAN static inline hk__fblk *hk__cguard(const hk__heap *h, const hk__fblk *f, const hk__fblk *next)
{
    uint64_t hdr;
    memcpy(&hdr, &f->h, 8);
    return hk__cguardv(h, f, next, hdr);
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
    return (f->h.w & ~HK_PFREE) == (u << HK_SZ_SHIFT | HK_CACHED) && hk__ok(h, &f->h) &&
           hk__cfast(h, f);
}

/* n, the block after one that changes, is intact (a cached one with its
 * guard) and its PFREE flag is pf: for a neighbour that is read. */
HK_NOSAN static inline int hk__nb(const hk__heap *h, const hk__blk *n, uint32_t pf)
{
    return hk__ok(h, n) && (n->w & HK_PFREE) == pf &&
           (!HK_ISCACHED(n) || hk__cfast(h, (const hk__fblk *)n));
}
/* Flip the PFREE flag of n, whose header was just checked: resealed, a
 * cached n's guard updated by the difference alone. */
HK_NOSAN static inline void hk__flip_pfree(const hk__heap *h, hk__blk *n)
{
    hk__fblk *f = (hk__fblk *)n;
    uint64_t oq, nq;
    uint32_t w = n->w ^ HK_PFREE;
    memcpy(&oq, n, 8);
    nq = hk__pair(w, hk__chkv(h, n, w));
    memcpy(n, &nq, 8);
    if (HK_ISCACHED(n))
        f->prev = (hk__fblk *)((uintptr_t)f->prev ^ hk__cfold(hk__crot(oq ^ nq)));
}
/* Set or clear the PFREE flag of n (the block after one that changed): an
 * intact header is resealed, a damaged one only gets the flag, so it stays
 * detectably damaged - it is never laundered. */
HK_NOSAN static inline void hk__set_pfree(const hk__heap *h, hk__blk *n, int on)
{
    if (!(n->w & HK_PFREE) == !on) return;
    if (hk__ok(h, n)) hk__flip_pfree(h, n);
    else n->w ^= HK_PFREE;
}

/* The footer of the listed free block b of u units: its size, in its last
 * 8 bytes, read by the next block (PFREE) to find it. */
HK_NOSAN static inline void hk__set_foot(hk__blk *b, uint32_t u)
{
    ((uint64_t *)(void *)((char *)b + (size_t)u * 16))[-1] = u;
}
/* b (of region r) says PFREE: the listed free block before it, found by
 * the footer and checked against its own header (intact, free, of that
 * size, so ending at b); NULL if any of that fails. */
HK_NOSAN static inline hk__blk *hk__pred(const hk__heap *h, const hk__region *r, const hk__blk *b)
{
    uint64_t pu = ((const uint64_t *)(const void *)b)[-1];
    hk__blk *p;
    if (pu < 2 || pu > (uint64_t)((const char *)b - (const char *)r->first) / 16) return NULL;
    p = (hk__blk *)((char *)b - (size_t)pu * 16);
    return hk__ok(h, p) && HK_TFREE(p) && HK_FSZ(p) == pu ? p : NULL;
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
 * first page after its first 40 bytes (header, links, and these 16) to the
 * last whole page before its footer; those 16 bytes (kept) say so: the
 * span's end and a keyed check of it, the block's address and size.  The
 * walk shows the span UNCOMMITTED.  hk__ins clears the check, so a block
 * listed again (merged, split, trimmed, freed) walks FREE, never with a
 * stale span; a block too small for a page has none. */
#define HK_GONE_MIN 256u                    /* units: below, no whole page  */
#define HK_GONE_AT  24                      /* the mark, after the links    */
#define HK_GONE_END (HK_GONE_AT + 16)
HK_NOSAN static inline uint64_t hk__gkey(const hk__heap *h, const hk__blk *b, uint32_t u,
                                          uint64_t hi)
{
    uint64_t x = hk__lmix((uint64_t)(uintptr_t)b ^ h->key ^ HK_K2, u, HK_K1);
    return hk__lmix(x, hi, HK_K2) | 1;      /* never the cleared 0 */
}
HK_NOSAN static inline void hk__gone_set(const hk__heap *h, hk__blk *b, uintptr_t hi)
{
    uint64_t *m = (uint64_t *)(void *)((char *)b + HK_GONE_AT);
    m[0] = hi;
    m[1] = hk__gkey(h, b, HK_SZ(b), hi);
}
HK_NOSAN static inline void hk__gone_clear(hk__blk *b, uint32_t u)
{
    if (u >= HK_GONE_MIN) ((uint64_t *)(void *)((char *)b + HK_GONE_AT))[1] = 0;
}
/* b, a checked free listed block ending at or before end: its given-back
 * span [*lo, *hi), or 0. */
HK_NOSAN static inline int hk__gone(const hk__heap *h, const hk__blk *b, uintptr_t *lo,
                                    uintptr_t *hi)
{
    const uint64_t *m = (const uint64_t *)(const void *)((const char *)b + HK_GONE_AT);
    uintptr_t l = ((uintptr_t)b + HK_GONE_END + HK_PAGE - 1) & ~(HK_PAGE - 1);
    uint32_t u = HK_SZ(b);
    if (!HK_TFREE(b) || u < HK_GONE_MIN || m[1] != hk__gkey(h, b, u, m[0]) ||
        (m[0] & (HK_PAGE - 1)) || m[0] <= l || m[0] > (uintptr_t)b + (size_t)u * 16 - 8)
        return 0;
    *lo = l;
    *hi = (uintptr_t)m[0];
    return 1;
}

/* Units of a block for n bytes (and an epoch tag: ep). */
HK_NOSAN static inline uint32_t hk__units(size_t n)
{
    uint32_t u = (uint32_t)((n + HK_HDR + 15) >> 4);
    return u < 2 ? 2 : u;
}
HK_NOSAN static inline uint32_t hk__units_ep(size_t n, uint32_t ep)
{
    return hk__units(n + (ep ? HK_ETAG : 0));
}
HK_NOSAN static inline size_t hk__bn(const hk__blk *b)   /* requested size of busy b */
{
    return (size_t)HK_SZ(b) * 16 - HK_HDR - ((b->w >> HK_SL_SHIFT) & 63u) -
           ((b->w & HK_EP) ? HK_ETAG : 0);
}

/* ---- The caches' push and pop, zeroing (arena.c and fast.c) ----------- */
/* Between two 8-byte stores of values just computed in registers: gcc
 * would pair them into one 16-byte vector store, four instructions for
 * two (movq, movq, punpcklqdq, movups). */
#if defined(__GNUC__)
#  define hk__nopair() __asm__ volatile("" ::: "memory")
#else
#  define hk__nopair() ((void)0)
#endif
/* Put the busy (or just uncached) block b of u units into its cache, which
 * has room.  The guard is made from the values written, and the header is
 * written as one 8-byte store, which the 8-byte load of the next pop
 * (often right after: LIFO) can take straight from the store buffer. */
/* w: the cached word, u << 5 | HK_CACHED | b's PFREE flag. */
HK_NOSAN static inline void hk__cpushw(hk__heap *h, hk__fblk **head, uint8_t *room, hk__blk *b,
                                       uint32_t w)
{
    hk__fblk *f = (hk__fblk *)b, *hd = *head;
    uint64_t q = hk__pair(w, hk__chkv(h, b, w));
    hk__fblk *g = hk__cguardv(h, f, hd, q);   /* before the stores: one load of the key */
    --*room;
    memcpy(b, &q, 8);
    f->next = hd;
    hk__nopair();
    f->prev = g;
    *head = f;
}

HK_NOSAN static inline void hk__cpush(hk__heap *h, hk__fblk **head, uint8_t *room, hk__blk *b,
                                      uint32_t u)
{
    hk__cpushw(h, head, room, b, u << HK_SZ_SHIFT | HK_CACHED | (b->w & HK_PFREE));
}

HK_NOSAN static inline void hk__cache_push(hk__heap *h, hk__blk *b, uint32_t u)
{
    hk__cpush(h, &h->cache[u], &h->croom[u], b, u);
}

/* f, just popped from a cache of u units, becomes busy with n bytes. */
HK_NOSAN static inline void *hk__pop_busy(hk__heap *h, hk__fblk *f, uint32_t u, size_t n,
                                          uint32_t ep)
{
    hk__set_busy(h, &f->h, u, n, ep);
    hk__san_busy(h, (char *)(&f->h + 1), HK_HDR, n, (char *)f + (size_t)u * 16);
    return &f->h + 1;
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

#ifdef HK_VG
/* Under Valgrind the arena reads its own no-access memory (headers, free
 * blocks): error reporting is off for the thread while an entry point
 * runs, so only the program's own accesses are judged. */
#define HK_VG_IN(h)  do { if (HK_VG_ON(h)) VALGRIND_DISABLE_ERROR_REPORTING; } while (0)
#define HK_VG_OUT(v) do { if (HK_UNLIKELY(v)) VALGRIND_ENABLE_ERROR_REPORTING; } while (0)
#endif

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
hk__region *hk__region_add(hk__heap *h, size_t res, size_t com, size_t floor);
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
hk__blk *hk__take(hk__heap *h, uint32_t u, hk__region **pr);
void *hk__alloc_small(hk__heap *h, size_t n, uint32_t ep);
hk__blk *hk__lookup(hk__heap *h, const void *p, hk__region **pr);
int hk__free_blk(hk__heap *h, hk__region *r, hk__blk *b, uint32_t u);

/* fast.c: the entries and the front end */
int hk__arena_alloc(void *bh, unsigned flags, size_t n, void **out);
int hk__arena_free(void *bh, unsigned flags, void *p);
void *hk__arena_fast_alloc(hk_heap *hh, unsigned flags, size_t n, void *bh);
int hk__arena_fast_free(hk_heap *hh, unsigned flags, void *p, void *bh);

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
        /* a call of this thread from inside (HeapLock held, a walk) must
         * not take the fast entries, which assume depth 0 */
        __atomic_store_n(&h->fast_tid, 0, __ATOMIC_RELAXED);
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
        /* Back to depth 0: the fast entries again, unless something rules
         * them out.  Stored before the depth, so a revoker that sees depth
         * 0 clears it after this store. */
        if (d == 0 && !(h->flags & HK_HEAP_NO_SERIALIZE) && !HK_VG_ON(h) && !h->epoch &&
            !__atomic_load_n(&h->revoke, __ATOMIC_RELAXED))
            __atomic_store_n(&h->fast_tid, hk__arena_tid(), __ATOMIC_RELAXED);   /* the owner */
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
    /* no NULL test: an empty entry is h->rnone, which holds nothing */
    if (HK_LIKELY(hk__in(m[0], b))) return m[0];
    if (hk__in(m[1], b)) return m[1];
    if (HK_LIKELY(!h->rmap_full)) return NULL;
    for (i = 0; i < h->nreg; i++)
        if (hk__in(h->reg[i], b)) return h->reg[i];
    return NULL;
}

/* f may be read and written through: inside one of our regions (so its
 * 32 bytes are committed), aligned, with an intact free header. */
HK_NOSAN static inline int hk__fok(hk__heap *h, const hk__fblk *f)
{
    return HK_HALIGNED(f) && hk__region_of(h, (uintptr_t)f) != NULL &&
           HK_TFREE(&f->h) && hk__ok(h, &f->h);
}

#endif /* HK_ARENA_H */
