/*
 * vouch.c - can the C runtime's allocator vouch for a pointer?
 *
 * hk__rt_vouches(p) is 1 only when p is the start of a block the C
 * runtime's malloc handed out and has not taken back, so that free(p) and
 * realloc(p, n) are safe.  The Heap Debugger asks it about a pointer it
 * has no record of (its own memory ran out; later: macros-only mode).
 * Every answer errs on the side of 0: a block refused is reported and
 * kept, a block wrongly vouched for would be a double free.
 *
 *  - Windows: HeapValidate on the C runtime's heap (_get_heap_handle) is
 *    exact: a freed, interior or foreign pointer fails it.
 *  - glibc (2.34 or newer, 64-bit): no exact test exists, so the chunk is
 *    read the way glibc lays it out, with reads that cannot fault
 *    (process_vm_readv on ourselves): header size and alignment, the next
 *    chunk's PREV_INUSE bit (clear after a free that went to the bins), a
 *    free predecessor's size and bin links (as glibc's unlink checks), the
 *    tcache key in a freed chunk (learnt once from a block of our own),
 *    the safe-linked fastbin pointer, an mmapped chunk's page alignment,
 *    and the chunk lying inside its arena and below its top chunk (a stale
 *    header in memory merged into top is refused).  main_arena is found
 *    once in libc's data by its shape (bins pointing at themselves, the
 *    ring of arenas, top reaching the arena's end).
 *  - under ASan/TSan/LSan (their malloc replaces glibc's): the
 *    sanitizer's own allocator interface, which is exact.
 *  - anything else: 0.
 */
#if !defined(_WIN32) && !defined(_GNU_SOURCE)
#  define _GNU_SOURCE 1           /* process_vm_readv, dl_iterate_phdr */
#endif
#include "tracker.h"
#include "../prim/prim.h"

#include <stdlib.h>
#include <string.h>

#ifdef HK_PRELOAD
/* the probes learn glibc's own chunks, not the preload's entry points */
extern void *__libc_malloc(size_t n);
extern void __libc_free(void *p);
#  define HK__V_MALLOC(n) __libc_malloc(n)
#  define HK__V_FREE(p)   __libc_free(p)
#else
#  define HK__V_MALLOC(n) malloc(n)
#  define HK__V_FREE(p)   free(p)
#endif

#ifdef _WIN32
#  include <malloc.h>
#  include <windows.h>

int hk__rt_vouches(const void *p)
{
    HANDLE h = (HANDLE)_get_heap_handle();
    if (!p || !h)
        return 0;
    /* only the heap free() gives back to: a block of another heap passed
     * to free() would corrupt both */
    return HeapValidate(h, 0, p) != 0;
}

#else

/* A process under ASan, TSan or LSan has the sanitizer's malloc, not the
 * C library's, and its allocator knows its blocks exactly.  Weak, so that
 * an ordinary process (or a static link) finds them NULL. */
extern int __sanitizer_get_ownership(const volatile void *p)
    __attribute__((weak, visibility("default")));
extern size_t __sanitizer_get_allocated_size(const volatile void *p)
    __attribute__((weak, visibility("default")));

static int hk__rt_vouches_libc(const void *p);

int hk__rt_vouches(const void *p)
{
    if (__sanitizer_get_ownership && __sanitizer_get_allocated_size) {
        /* ownership first: ASan's size query aborts on a foreign pointer;
         * TSan's ownership also says yes inside a freed or interior cell,
         * its size query does not (for 16-aligned starts) */
        return p && !((uintptr_t)p & 15) && __sanitizer_get_ownership(p)
            && __sanitizer_get_allocated_size(p) != 0;
    }
    return hk__rt_vouches_libc(p);
}

#endif

#if defined(_WIN32)
/* above */
#elif defined(__GLIBC__) && (defined(__x86_64__) || defined(__aarch64__)) \
    && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))

#include <link.h>
#include <pthread.h>
#include <sys/uio.h>
#include <unistd.h>

/* glibc's malloc on a 64-bit target (malloc/malloc.c, arena.c). */
#define HK__PREV_INUSE  0x1u
#define HK__IS_MMAPPED  0x2u
#define HK__NON_MAIN    0x4u
#define HK__MINSIZE     32u
#define HK__FAST_MAX    0xb0u          /* largest fastbin chunk (M_MXFAST max) */
#define HK__HEAP_MAX    ((uintptr_t)64 << 20)   /* a thread arena's heap */
/* struct malloc_state: mutex, flags, have_fastchunks, fastbinsY[10], top,
 * last_remainder, bins[254], binmap[4], next, next_free,
 * attached_threads, system_mem */
#define HK__AV_FLAGS    4u
#define HK__AV_TOP      96u
#define HK__AV_BINS     112u
#define HK__AV_NBINS    127u
#define HK__AV_NEXT     2160u
#define HK__AV_SYSMEM   2184u
#define HK__AV_SIZE     2200u
#define HK__NONCONTIG   0x2u

static int hk__peek(uintptr_t at, void *buf, size_t n)
{
    struct iovec local = { buf, n }, remote = { (void *)at, n };
    if (at == 0 || at + n < at)
        return 0;
    return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)n;
}

static int hk__word(uintptr_t at, uintptr_t *w)
{
    return hk__peek(at, w, sizeof *w);
}

static pthread_once_t hk__vouch_once = PTHREAD_ONCE_INIT;
static int hk__vouch_ok;              /* both facts below are known */
static uintptr_t hk__tc_key;          /* glibc's tcache_key */
static uintptr_t hk__main_arena;

/* Free a block of our own into the tcache, read its key, and take the
 * block back (tcache is LIFO and per thread, so it is the same block, and
 * glibc clears the key when it hands it out). */
static int hk__learn_key(void)
{
    static const size_t sizes[] = { 1000, 904, 808, 712, 616, 520 };
    size_t i;
    for (i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        void *a = HK__V_MALLOC(sizes[i]), *b;
        uintptr_t at = (uintptr_t)a, w[2], v[2];
        int ok;
        if (!a)
            return 0;
        HK__V_FREE(a);
        ok = hk__peek(at, w, sizeof w);
        b = HK__V_MALLOC(sizes[i]);
        ok = ok && (uintptr_t)b == at && hk__peek(at, v, sizeof v) && w[1] != 0 && v[1] == 0;
        HK__V_FREE(b);
        if (ok) {
            hk__tc_key = w[1];
            return 1;
        }
    }
    return 0;
}

static int hk__looks_like_arena(uintptr_t av)
{
    uintptr_t top, tsz, sys, w[2], next = av;
    unsigned i, empty = 0;
    if (!hk__word(av + HK__AV_TOP, &top) || !top || (top & 15)
        || !hk__word(top + 8, &tsz) || !(tsz & HK__PREV_INUSE)
        || !hk__word(av + HK__AV_SYSMEM, &sys) || sys < (tsz & ~(uintptr_t)7))
        return 0;
    for (i = 0; i < HK__AV_NBINS; i++) {
        uintptr_t self = av + HK__AV_BINS + 16 * i - 16;
        if (!hk__peek(av + HK__AV_BINS + 16 * i, w, sizeof w))
            return 0;
        if (w[0] == self && w[1] == self)
            empty++;
        else if (!w[0] || !w[1] || (w[0] & 15) || (w[1] & 15))
            return 0;
    }
    if (empty < HK__AV_NBINS / 2)
        return 0;
    for (i = 0; i < 256; i++) {          /* the ring of arenas comes back */
        if (!hk__word(next + HK__AV_NEXT, &next))
            return 0;
        if (next == av)
            return 1;
    }
    return 0;
}

static int hk__scan_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    int i;
    (void)size;
    for (i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t a, lo, hi;
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W))
            continue;
        lo = (info->dlpi_addr + ph->p_vaddr + 7) & ~(uintptr_t)7;
        hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
        for (a = lo; a + HK__AV_SIZE <= hi; a += 8) {
            uintptr_t top = *(const uintptr_t *)(a + HK__AV_TOP);
            uintptr_t self = a + HK__AV_BINS - 16;   /* the unsorted bin */
            const uintptr_t *b = (const uintptr_t *)(a + HK__AV_BINS);
            if (!top || (top & 15) || (b[0] != self && (b[0] & 15)))
                continue;
            if (hk__looks_like_arena(a)) {
                *(uintptr_t *)arg = a;
                return 1;
            }
        }
    }
    return 0;
}

static int hk__main_chunk_ok(uintptr_t c, uintptr_t csz);

static void hk__vouch_init(void)
{
    uintptr_t av = 0, hdr[2];
    void *probe;
    if (!hk__learn_key())
        return;
    dl_iterate_phdr(hk__scan_object, &av);
    if (!av)
        return;
    hk__main_arena = av;
    /* check what was found against a block of the main arena */
    probe = HK__V_MALLOC(40);
    if (probe && hk__peek((uintptr_t)probe - 16, hdr, sizeof hdr)
        && !(hdr[1] & (HK__NON_MAIN | HK__IS_MMAPPED))
        && hk__main_chunk_ok((uintptr_t)probe - 16, hdr[1] & ~(uintptr_t)7))
        hk__vouch_ok = 1;
    HK__V_FREE(probe);
}

/* A main-arena chunk lies in the arena's memory, wholly below top. */
static int hk__main_chunk_ok(uintptr_t c, uintptr_t csz)
{
    uintptr_t av = hk__main_arena, flags, top, tsz, sys;
    if (!hk__word(av + HK__AV_FLAGS, &flags) || ((uint32_t)flags & HK__NONCONTIG)
        || !hk__word(av + HK__AV_TOP, &top) || !hk__word(top + 8, &tsz)
        || !hk__word(av + HK__AV_SYSMEM, &sys))
        return 0;
    tsz &= ~(uintptr_t)7;
    return top + tsz >= sys && c >= top + tsz - sys && c + csz <= top;
}

/* A thread-arena chunk lies in its heap, below that arena's top when the
 * top is in the same heap. */
static int hk__thread_chunk_ok(uintptr_t c, uintptr_t csz)
{
    uintptr_t heap = c & ~(HK__HEAP_MAX - 1), hi[3], top;
    if (!hk__peek(heap, hi, sizeof hi) || !hi[0] || (hi[0] & 7)
        || hi[2] > HK__HEAP_MAX || c + csz > heap + hi[2] || c < heap + 32
        || !hk__word(hi[0] + HK__AV_TOP, &top))
        return 0;
    if ((top & ~(HK__HEAP_MAX - 1)) == heap && c + csz > top)
        return 0;
    return 1;
}

static int hk__rt_vouches_libc(const void *ptr)
{
    uintptr_t p = (uintptr_t)ptr, c = p - 16, hdr[2], csz, nsz, w[2], dec, dsz;
    uintptr_t page = hk__prim_page_size();
    if (!p || (p & 15) || c > p)
        return 0;
    pthread_once(&hk__vouch_once, hk__vouch_init);
    if (!hk__vouch_ok || !hk__peek(c, hdr, sizeof hdr))
        return 0;
    csz = hdr[1] & ~(uintptr_t)7;
    if (hdr[1] & HK__IS_MMAPPED) {
        /* its own mapping, page-aligned at both ends (what munmap_chunk
         * checks); gone after a free, so a double free fails the reads */
        uintptr_t base = c - hdr[0], total = hdr[0] + csz;
        if ((hdr[1] & HK__NON_MAIN) || (hdr[0] & 15) || base > c
            || ((base | total) & (page - 1)) || total == 0
            || !hk__word(base, &dec) || !hk__word(base + total - 8, &dec))
            return 0;
        return 1;
    }
    if (csz < HK__MINSIZE || (csz & 15) || c + csz < c)
        return 0;
    /* the next chunk says this one is in use (a free to the bins clears it) */
    if (!hk__word(c + csz + 8, &nsz) || !(nsz & HK__PREV_INUSE)
        || (nsz & 8) || (nsz & ~(uintptr_t)15) < 16)
        return 0;
    /* a free predecessor (in the bins, doubly linked) must be one: its size
     * is our prev_size and its neighbours point back at it, as glibc's
     * unlink checks; a stale header left in merged memory fails this */
    if (!(hdr[1] & HK__PREV_INUSE)) {
        uintptr_t pc = c - hdr[0], ph[4], back;
        if (hdr[0] < HK__MINSIZE || (hdr[0] & 15) || pc > c
            || !hk__peek(pc, ph, sizeof ph) || (ph[1] & ~(uintptr_t)7) != hdr[0]
            || !hk__word(ph[2] + 24, &back) || back != pc
            || !hk__word(ph[3] + 16, &back) || back != pc)
            return 0;
    }
    /* freed into the tcache: glibc's own key in the second word */
    if (!hk__peek(p, w, sizeof w) || w[1] == hk__tc_key)
        return 0;
    /* freed into a fastbin: a safe-linked pointer to a chunk of the same
     * size, or the end of the list */
    if (csz <= HK__FAST_MAX) {
        dec = w[0] ^ (p >> 12);
        if (dec == 0)
            return 0;
        if (!(dec & 15) && hk__word(dec + 8, &dsz) && (dsz & ~(uintptr_t)7) == csz)
            return 0;
    }
    return (hdr[1] & HK__NON_MAIN) ? hk__thread_chunk_ok(c, csz)
                                   : hk__main_chunk_ok(c, csz);
}

#else

/* No allocator here whose blocks can be told from other memory. */
static int hk__rt_vouches_libc(const void *p)
{
    (void)p;
    return 0;
}

#endif
