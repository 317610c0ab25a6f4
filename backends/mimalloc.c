/*
 * mimalloc.c - the "mimalloc" backend: one mi_heap_t per hk heap.
 *
 * mimalloc keeps neither the size a caller asked for nor any way to tell a
 * live block from a stale or foreign pointer, and Win32 semantics need
 * both.  So every block carries a 16-byte header in front of the user
 * pointer: the requested size and a tag derived from the block's address,
 * that size and a per-heap secret (a size-free "freed" tag once the block
 * is freed, since mimalloc then reuses the size word).  A pointer
 * is accepted only if mimalloc says it lies in a page of *this* heap and its
 * tag matches, so double frees, interior pointers and other heaps' blocks
 * are refused before mimalloc ever sees them.
 *
 * "mimalloc says it lies in a page of this heap" needs mimalloc's segment
 * map (mi_is_in_heap_region), and 2.0.9 maps only segments below its
 * MI_MAX_ADDRESS: a block of 1 GiB or more is mapped without an address
 * hint and lands above it, and under ASan/TSan (whose shadow takes the hint
 * area) every segment does.  Such blocks are registered at allocation, with
 * their heap, in a side table of our own (OS memory, one lock) and removed
 * before they are freed; a pointer the map does not vouch for is accepted
 * only if it is in that table.  Either way nothing is read before the
 * pointer is known to be a block of ours.
 *
 * What mimalloc cannot express (the API reports it honestly, see caps):
 *   - free blocks and uncommitted ranges are not walked: areas come out as
 *     REGION entries (with their committed/uncommitted sizes) followed by
 *     their BUSY blocks;
 *   - there is no step-wise walk: the core walks a snapshot;
 *   - a mimalloc heap belongs to the thread that created it: only that
 *     thread may allocate, reallocate or destroy (others get
 *     HK_ERR_NOT_SUPPORTED from the core); any thread may free;
 *   - "maximum" is emulated by counting the bytes of live blocks.
 */
#include "../src/internal.h"
#include "../src/prim/prim.h"

#ifdef HK_HAVE_MIMALLOC

#include <mimalloc.h>
#include <stdlib.h>
#include <string.h>

#define HK__MI_HDR 16u
#define HK__MI_LIMIT ((size_t)PTRDIFF_MAX - 4096u)

struct hk__mi_hdr {
    size_t size;       /* requested size; mimalloc reuses this word when free */
    uintptr_t tag;     /* busy tag while live, its complement once freed */
};

struct hk__mi_heap {
    mi_heap_t *mh;
    uintptr_t secret;
    size_t maximum;    /* 0: growable */
    size_t used;       /* bytes of live blocks, headers included (atomic) */
};

/* The size enters the busy tag, so an overwritten size word is caught
 * like any other damage (a realloc would copy that many bytes). */
static uintptr_t hk__mi_busy_tag(const struct hk__mi_heap *b, const void *base, size_t n)
{
    return (((uintptr_t)base * (uintptr_t)0x9E3779B97F4A7C15ull) ^ b->secret)
        + ((uintptr_t)n + 1) * (uintptr_t)0xC2B2AE3D27D4EB4Full;
}

static uintptr_t hk__mi_freed_tag(const struct hk__mi_heap *b, const void *base)
{
    return ~(((uintptr_t)base * (uintptr_t)0x9E3779B97F4A7C15ull) ^ b->secret);
}

/* ---- blocks outside mimalloc's segment map ------------------------------
 * An open-addressing hash table (linear probing, deletion by backward
 * shift, so no tombstones) of block bases and their heaps, kept at most
 * half full.  It lives in OS memory: never in a heap the debugger tracks,
 * and not in mimalloc, whose blocks it describes. */

struct hk__mi_far {
    uintptr_t base;                  /* the block's header address, 0: empty */
    const struct hk__mi_heap *heap;
};

static struct {
    struct hk__mi_far *slot;
    size_t mask;                     /* capacity - 1, capacity a power of 2 */
    size_t count;
} hk__mi_far_tab;

#ifdef _WIN32
static SRWLOCK hk__mi_far_mx = SRWLOCK_INIT;
static void hk__mi_far_lock(void) { AcquireSRWLockExclusive(&hk__mi_far_mx); }
static void hk__mi_far_unlock(void) { ReleaseSRWLockExclusive(&hk__mi_far_mx); }
#else
static pthread_mutex_t hk__mi_far_mx = PTHREAD_MUTEX_INITIALIZER;
static void hk__mi_far_lock(void) { pthread_mutex_lock(&hk__mi_far_mx); }
static void hk__mi_far_unlock(void) { pthread_mutex_unlock(&hk__mi_far_mx); }
#endif
static void *hk__mi_os_alloc(size_t n) { return hk__prim_map(n, 0); }
static void hk__mi_os_free(void *p, size_t n) { hk__prim_unmap(p, n); }

static size_t hk__mi_far_home(uintptr_t base, size_t mask)
{
    uint64_t x = (uint64_t)(base >> 4) * 0x9E3779B97F4A7C15ull;
    return (size_t)(x >> 32 ^ x) & mask;
}

/* Index of base's slot, or of the empty slot ending its probe. */
static size_t hk__mi_far_find(uintptr_t base)
{
    size_t i = hk__mi_far_home(base, hk__mi_far_tab.mask);
    while (hk__mi_far_tab.slot[i].base && hk__mi_far_tab.slot[i].base != base)
        i = (i + 1) & hk__mi_far_tab.mask;
    return i;
}

/* Double the table (or make the first one).  Lock held. */
static int hk__mi_far_grow(void)
{
    size_t cap = hk__mi_far_tab.slot ? (hk__mi_far_tab.mask + 1) * 2 : 256;
    struct hk__mi_far *old = hk__mi_far_tab.slot, *nw;
    size_t oldcap = old ? hk__mi_far_tab.mask + 1 : 0, i;
    if (cap > SIZE_MAX / 2 / sizeof *nw)
        return 0;
    nw = hk__mi_os_alloc(cap * sizeof *nw);      /* zero-filled */
    if (!nw)
        return 0;
    hk__mi_far_tab.slot = nw;
    hk__mi_far_tab.mask = cap - 1;
    for (i = 0; i < oldcap; i++)
        if (old[i].base)
            nw[hk__mi_far_find(old[i].base)] = old[i];
    if (old)
        hk__mi_os_free(old, oldcap * sizeof *old);
    return 1;
}

/* Remove slot i, moving later members of its cluster back.  Lock held. */
static void hk__mi_far_erase(size_t i)
{
    size_t mask = hk__mi_far_tab.mask, j = i, home;
    for (;;) {
        j = (j + 1) & mask;
        if (!hk__mi_far_tab.slot[j].base)
            break;
        home = hk__mi_far_home(hk__mi_far_tab.slot[j].base, mask);
        /* j may fill the hole unless its home lies cyclically in (i, j] */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            hk__mi_far_tab.slot[i] = hk__mi_far_tab.slot[j];
            i = j;
        }
    }
    hk__mi_far_tab.slot[i].base = 0;
    hk__mi_far_tab.slot[i].heap = NULL;
    hk__mi_far_tab.count--;
}

/* Register the block at base if the segment map does not cover it; 0 if
 * that needed memory we could not get (the caller frees the block). */
static int hk__mi_far_add(const struct hk__mi_heap *b, const void *base)
{
    size_t i;
    int ok = 1;
    if (mi_is_in_heap_region(base))
        return 1;
    hk__mi_far_lock();
    if ((hk__mi_far_tab.count + 1) * 2 > (hk__mi_far_tab.slot ? hk__mi_far_tab.mask + 1 : 0))
        ok = hk__mi_far_grow();
    if (ok) {
        i = hk__mi_far_find((uintptr_t)base);
        if (!hk__mi_far_tab.slot[i].base)
            hk__mi_far_tab.count++;
        hk__mi_far_tab.slot[i].base = (uintptr_t)base;
        hk__mi_far_tab.slot[i].heap = b;
    }
    hk__mi_far_unlock();
    return ok;
}

/* Is base a registered block of heap b? */
static int hk__mi_far_has(const struct hk__mi_heap *b, const void *base)
{
    int yes = 0;
    hk__mi_far_lock();
    if (hk__mi_far_tab.count) {
        size_t i = hk__mi_far_find((uintptr_t)base);
        yes = hk__mi_far_tab.slot[i].base != 0 && hk__mi_far_tab.slot[i].heap == b;
    }
    hk__mi_far_unlock();
    return yes;
}

/* Unregister a block about to be freed: before mi_free, so that its
 * address, once reused by another thread's block, is never removed. */
static void hk__mi_far_del(const void *base)
{
    size_t i;
    hk__mi_far_lock();
    i = hk__mi_far_find((uintptr_t)base);
    if (hk__mi_far_tab.slot[i].base)
        hk__mi_far_erase(i);
    hk__mi_far_unlock();
}

/* Unregister every block of a heap about to be destroyed. */
static void hk__mi_far_purge(const struct hk__mi_heap *b)
{
    size_t i = 0;
    hk__mi_far_lock();
    while (hk__mi_far_tab.count && i <= hk__mi_far_tab.mask) {
        if (hk__mi_far_tab.slot[i].base && hk__mi_far_tab.slot[i].heap == b)
            hk__mi_far_erase(i);       /* slot i may now hold a moved member */
        else
            i++;
    }
    hk__mi_far_unlock();
}

/* The header of p if p is a live block of this heap, else NULL; *unmapped
 * tells whether it is in the side table.  Each test makes the next one safe:
 * mimalloc's segment map (or our table) before touching the page, the
 * page's heap before reading the header. */
static struct hk__mi_hdr *hk__mi_hdr_of(const struct hk__mi_heap *b, const void *p, int *unmapped)
{
    const char *base;
    struct hk__mi_hdr *h;
    if (((uintptr_t)p & 15u) != 0 || (uintptr_t)p < HK__MI_HDR)
        return NULL;
    base = (const char *)p - HK__MI_HDR;
    if (mi_is_in_heap_region(base)) {
        *unmapped = 0;
        if (!mi_heap_contains_block(b->mh, base))
            return NULL;
    } else {
        *unmapped = 1;
        if (!hk__mi_far_has(b, base))
            return NULL;
    }
    h = (struct hk__mi_hdr *)base;
    return h->tag == hk__mi_busy_tag(b, base, h->size) ? h : NULL;
}

static size_t hk__mi_used_add(struct hk__mi_heap *b, size_t n)
{
    return __atomic_add_fetch(&b->used, n, __ATOMIC_RELAXED);
}

static int hk__mi_create(unsigned flags, size_t initial, size_t maximum, void **out)
{
    struct hk__mi_heap *b;
    static uintptr_t counter;
    uintptr_t x;
    (void)flags;
    (void)initial;                 /* mimalloc commits on demand */
    b = malloc(sizeof *b);
    if (!b)
        return HK_ERR_NO_MEMORY;
    b->mh = mi_heap_new();
    if (!b->mh) {
        free(b);
        return HK_ERR_NO_MEMORY;
    }
    /* A secret per heap, so that tags of one heap never match in another. */
    x = (uintptr_t)b ^ ((uintptr_t)b->mh << 17)
        ^ __atomic_add_fetch(&counter, 0x632BE59BD9B4E019ull, __ATOMIC_RELAXED);
    x ^= x >> 31; x *= 0xBF58476D1CE4E5B9ull; x ^= x >> 29;
    b->secret = x | 1;
    b->maximum = maximum;
    b->used = 0;
    *out = b;
    return HK_OK;
}

static int hk__mi_destroy(void *bh)
{
    struct hk__mi_heap *b = bh;
    hk__mi_far_purge(b);
    mi_heap_destroy(b->mh);        /* frees every block at once */
    free(b);
    return HK_OK;
}

/* Reserve n + header bytes against a fixed heap's maximum. */
static int hk__mi_charge(struct hk__mi_heap *b, size_t bytes)
{
    if (!b->maximum)
        return HK_OK;
    if (hk__mi_used_add(b, bytes) > b->maximum) {
        hk__mi_used_add(b, (size_t)0 - bytes);
        return HK_ERR_NO_MEMORY;
    }
    return HK_OK;
}

static void hk__mi_refund(struct hk__mi_heap *b, size_t bytes)
{
    if (b->maximum)
        hk__mi_used_add(b, (size_t)0 - bytes);
}

static int hk__mi_alloc(void *bh, unsigned flags, size_t n, void **out)
{
    struct hk__mi_heap *b = bh;
    struct hk__mi_hdr *h;
    if (n > HK__MI_LIMIT || hk__mi_charge(b, n + HK__MI_HDR))
        return HK_ERR_NO_MEMORY;
    h = (flags & HK_HEAP_ZERO_MEMORY) ? mi_heap_zalloc(b->mh, n + HK__MI_HDR)
                                      : mi_heap_malloc(b->mh, n + HK__MI_HDR);
    if (h && !hk__mi_far_add(b, h)) {
        mi_free(h);
        h = NULL;
    }
    if (!h) {
        hk__mi_refund(b, n + HK__MI_HDR);
        return HK_ERR_NO_MEMORY;
    }
    h->size = n;
    h->tag = hk__mi_busy_tag(b, h, n);
    *out = (char *)h + HK__MI_HDR;
    return HK_OK;
}

static int hk__mi_realloc(void *bh, unsigned flags, void *p, size_t n, void **out)
{
    struct hk__mi_heap *b = bh;
    int unmapped;
    struct hk__mi_hdr *h = hk__mi_hdr_of(b, p, &unmapped), *nh;
    size_t old;
    if (!h)
        return HK_ERR_INVALID_PARAMETER;
    old = h->size;
    if (n > HK__MI_LIMIT)
        return HK_ERR_NO_MEMORY;
    if (n > old && hk__mi_charge(b, n - old))
        return HK_ERR_NO_MEMORY;
    /* Move by hand rather than with mi_heap_realloc, so the old block's
     * tag is cleared before mimalloc frees it: its stale pointer must fail
     * like any other freed one. */
    nh = mi_expand(h, n + HK__MI_HDR);
    if (!nh && !(flags & HK_HEAP_REALLOC_IN_PLACE_ONLY)) {
        nh = mi_heap_malloc(b->mh, n + HK__MI_HDR);
        if (nh && !hk__mi_far_add(b, nh)) {
            mi_free(nh);
            nh = NULL;
        }
        if (nh) {
            memcpy((char *)nh + HK__MI_HDR, p, old < n ? old : n);
            h->tag = hk__mi_freed_tag(b, h);
            if (unmapped)
                hk__mi_far_del(h);
            mi_free(h);
        }
    }
    if (!nh) {
        if (n > old)
            hk__mi_refund(b, n - old);
        return HK_ERR_NO_MEMORY;
    }
    if (n < old)
        hk__mi_refund(b, old - n);
    nh->size = n;
    nh->tag = hk__mi_busy_tag(b, nh, n);
    if ((flags & HK_HEAP_ZERO_MEMORY) && n > old)
        memset((char *)nh + HK__MI_HDR + old, 0, n - old);
    *out = (char *)nh + HK__MI_HDR;
    return HK_OK;
}

static int hk__mi_free(void *bh, unsigned flags, void *p)
{
    struct hk__mi_heap *b = bh;
    int unmapped;
    struct hk__mi_hdr *h = hk__mi_hdr_of(b, p, &unmapped);
    (void)flags;
    if (!h)
        return HK_ERR_INVALID_PARAMETER;
    hk__mi_refund(b, h->size + HK__MI_HDR);
    h->tag = hk__mi_freed_tag(b, h);   /* a second free now fails the tag test */
    if (unmapped)
        hk__mi_far_del(h);
    mi_free(h);
    return HK_OK;
}

static int hk__mi_size(void *bh, unsigned flags, const void *p, size_t *n)
{
    int unmapped;
    struct hk__mi_hdr *h = hk__mi_hdr_of(bh, p, &unmapped);
    (void)flags;
    if (!h)
        return HK_ERR_INVALID_PARAMETER;
    *n = h->size;
    return HK_OK;
}

/* ---- walking ----------------------------------------------------------- */

struct hk__mi_visit {
    const struct hk__mi_heap *b;
    hk_visit_fn fn;        /* NULL: only check headers (validate) */
    void *arg;
    hk_heap_entry e;
    unsigned short region;
    int stopped, corrupt;
};

static bool hk__mi_visitor(const mi_heap_t *mh, const mi_heap_area_t *area,
                           void *block, size_t block_size, void *arg)
{
    struct hk__mi_visit *v = arg;
    hk_heap_entry *e = &v->e;
    (void)mh;
    memset(e, 0, sizeof *e);
    if (block == NULL) {
        e->flags = HK_ENTRY_REGION;
        e->data = area->blocks;
        e->region_index = ++v->region;
        e->u.region.committed = area->committed;
        e->u.region.uncommitted = area->reserved - area->committed;
        e->u.region.first_block = area->blocks;
        e->u.region.last_block = (char *)area->blocks + area->reserved;
    } else {
        struct hk__mi_hdr *h = block;
        if (h->tag == hk__mi_freed_tag(v->b, block))
            return true;           /* freed by another thread, not yet reclaimed */
        if (h->tag != hk__mi_busy_tag(v->b, block, h->size)
            || h->size + HK__MI_HDR > block_size) {
            v->corrupt = 1;
            return false;
        }
        e->flags = HK_ENTRY_BUSY;
        e->data = (char *)block + HK__MI_HDR;
        e->size = h->size;
        e->overhead = area->full_block_size - h->size;
        e->region_index = v->region;
    }
    if (v->fn && v->fn(e, v->arg)) {
        v->stopped = 1;
        return false;
    }
    return true;
}

static int hk__mi_visit(void *bh, hk_visit_fn fn, void *arg)
{
    struct hk__mi_visit v;
    memset(&v, 0, sizeof v);
    v.b = bh;
    v.fn = fn;
    v.arg = arg;
    mi_heap_visit_blocks(v.b->mh, true, hk__mi_visitor, &v);
    return v.corrupt ? HK_ERR_HEAP_CORRUPT : HK_OK;
}

static int hk__mi_validate(void *bh, unsigned flags, const void *p)
{
    struct hk__mi_hdr *h;
    int unmapped;
    (void)flags;
    if (!p)
        return hk__mi_visit(bh, NULL, NULL);
    h = hk__mi_hdr_of(bh, p, &unmapped);
    if (!h)
        return HK_ERR_INVALID_PARAMETER;
    return h->size + HK__MI_HDR <= mi_usable_size(h) ? HK_OK : HK_ERR_HEAP_CORRUPT;
}

const hk_backend hk__backend_mimalloc = {
    HK_BACKEND_VERSION,
    "mimalloc",
    HK_CAP_FIXED_SIZE | HK_CAP_REALLOC_IN_PLACE | HK_CAP_VALIDATE,
    hk__mi_create,
    hk__mi_destroy,
    hk__mi_alloc,
    hk__mi_realloc,
    hk__mi_free,
    hk__mi_size,
    hk__mi_validate,
    NULL,                  /* compact: mimalloc cannot name its largest free block */
    NULL, NULL,            /* lock: the core's mutex */
    NULL,                  /* walk: the core steps through a snapshot */
    hk__mi_visit,
    NULL, NULL,            /* mark/release */
    NULL,                  /* process heap: the core makes one */
    NULL,                  /* os heaps: none */
    NULL, NULL,            /* fast entries: its heaps need the core's lock */
};

#endif /* HK_HAVE_MIMALLOC */
