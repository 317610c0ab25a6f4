/* header.h - the preload's header mode (header.c), for preload.c and the
 * tracker (each record, the macros' free and realloc). */
#ifndef HK_PRELOAD_HEADER_H
#define HK_PRELOAD_HEADER_H

#include "../debugger/tracker.h"

#define HK__H_API __attribute__((visibility("default")))

/* 1 once header mode is on (set at start, never cleared) */
extern int hk__hdr_mode;
/* At the preload's start: HEAPKIT_PRELOAD_MODE (header, the default, or
 * table); header mode only where allowed (glibc's allocator underneath). */
void hk__hdr_init(int allowed);
/* A block with a header (the tracker's number and site), or a table record
 * when no header can hold it (>= 4 GiB, alignment > 2^31). */
void *hk__hdr_alloc(size_t n, size_t align, unsigned fam, int zero, const hk__src *src);
/* Inside the internal guard: a header that is never listed. */
void *hk__hdr_alloc_quiet(size_t n, size_t align, int zero);
/* 1: p carried a header and is freed (FK, S/FS reported; src NULL: no
 * checks); 0: no header, nothing done (the table path's turn). */
int hk__hdr_free(void *p, unsigned fam, int sized, size_t declared, const hk__src *src);
/* 1: p carried a header, *out the result; 0: the table path's turn. */
int hk__hdr_realloc(void *p, size_t n, const hk__src *src, void **out);
int hk__hdr_usable(const void *p, size_t *n);
int hk__hdr_peek(const void *p, hk__rec *out);
/* Every live, listed header block (scan of the granules that held any). */
void hk__hdr_each(hk__rec_fn fn, void *arg);

#if defined(__x86_64__) && defined(__linux__)
#define HK__HDR_PROBE 1                  /* header mode can be on here */
#include <stdint.h>
#include <sys/single_threaded.h>

#define HK__H 16u
#define HK__H_IGN 4u                     /* kind bit: not listed (guard, ignored) */
#define HK__H_MAXN 0xFFFFFFFEu           /* larger: the table path */
#define HK__H_GRANS (1ull << 27)         /* 1 MiB granules of a 47-bit space */

/* header.c: the check's key (random per process) and the granule bitmap */
extern uint64_t hk__h_key __attribute__((visibility("hidden")));
extern uint64_t hk__h_gran[] __attribute__((visibility("hidden")));
void hk__h_gran_mark(uintptr_t g);

static inline uint32_t hk__h_mac(uintptr_t p, uint64_t a0, uint32_t no)
{
    return (uint32_t)(((((uint64_t)p ^ a0 ^ hk__h_key) + no) * 0xD6E8FEB86659FD93ull) >> 32) | 1u;
}

#define HK__A0_SIZE(a0) ((size_t)((a0) & 0xFFFFFFFFu))
#define HK__A0_SITE(a0) ((uint32_t)(((a0) >> 32) & 0xFFFFFFu))
#define HK__A0_OFF(a0)  ((size_t)1 << (((a0) >> 56) & 31))
#define HK__A0_KIND(a0) ((unsigned)((a0) >> 61))

/* ---- the fault-recovering read --------------------------------------------- */

/* Both words at a (16-aligned); 1: the read faulted.  Each load's address
 * and its fixup go into the hk__extab section; the handler looks there. */
static inline __attribute__((always_inline)) int hk__h_load(const uint64_t *a, uint64_t *w)
{
    uint64_t x0, x1;
    int f = 0;
    __asm__ volatile("1: movq (%[a]), %[x0]\n"
                     "2: movq 8(%[a]), %[x1]\n"
                     "5:\n"
                     ".pushsection hk__extab,\"aw\"\n .balign 8\n .quad 1b, 6f, 2b, 6f\n .popsection\n"
                     ".pushsection .text.unlikely,\"ax\"\n"
                     "6: movl $1, %[f]\n jmp 5b\n .popsection\n"
                     : [x0] "=&r"(x0), [x1] "=&r"(x1), [f] "+r"(f)
                     : [a] "r"(a)
                     : "memory");
    w[0] = x0;
    w[1] = x1;
    return f;
}

/* One word (the scan's glibc chunk size); 1: faulted. */
static inline int hk__h_load1(const uint64_t *a, uint64_t *w)
{
    uint64_t x;
    int f = 0;
    __asm__ volatile("1: movq (%[a]), %[x]\n"
                     "5:\n"
                     ".pushsection hk__extab,\"aw\"\n .balign 8\n .quad 1b, 6f\n .popsection\n"
                     ".pushsection .text.unlikely,\"ax\"\n"
                     "6: movl $1, %[f]\n jmp 5b\n .popsection\n"
                     : [x] "=&r"(x), [f] "+r"(f)
                     : [a] "r"(a)
                     : "memory");
    *w = x;
    return f;
}

extern const uintptr_t __start_hk__extab[] __attribute__((visibility("hidden")));
extern const uintptr_t __stop_hk__extab[] __attribute__((visibility("hidden")));

static inline __attribute__((always_inline)) void *hk__h_put(char *p0, size_t off, size_t n,
                                                              uint32_t site, unsigned kind,
                                                              uint32_t no)
{
    uint64_t *a = (uint64_t *)(void *)(p0 + off) - 2;
    uintptr_t p = (uintptr_t)(p0 + off), g = (uintptr_t)a >> 20;
    uint64_t a0 = (uint64_t)n | (uint64_t)(site & 0xFFFFFFu) << 32
                  | (uint64_t)__builtin_ctzl(off) << 56 | (uint64_t)kind << 61;
    if (HK_UNLIKELY(!((hk__h_gran[g >> 6] >> (g & 63)) & 1)))
        hk__h_gran_mark(g);
    a[0] = a0;
    a[1] = no | (uint64_t)hk__h_mac(p, a0, no) << 32;
    return (void *)p;
}

/* The header of p (its first word made already). */
static inline __attribute__((always_inline)) void *hk__h_put_a0(char *p, uint64_t a0, uint32_t no)
{
    uint64_t *a = (uint64_t *)(void *)p - 2;
    uintptr_t g = (uintptr_t)a >> 20;
    if (HK_UNLIKELY(!((hk__h_gran[g >> 6] >> (g & 63)) & 1)))
        hk__h_gran_mark(g);
    a[0] = a0;
    a[1] = no | (uint64_t)hk__h_mac((uintptr_t)p, a0, no) << 32;
    return p;
}

/* p's header into w; 0: p carries none (or not any more). */
static inline __attribute__((always_inline)) int hk__h_check(const void *pv, uint64_t *w)
{
    uintptr_t p = (uintptr_t)pv;
    if (HK_UNLIKELY(p & 15) || HK_UNLIKELY(p < 4096))
        return 0;
    if (HK_UNLIKELY(hk__h_load((const uint64_t *)pv - 2, w)))
        return 0;
    return (uint32_t)(w[1] >> 32) == hk__h_mac(p, w[0], (uint32_t)w[1]);
}

/* Take the block: a later free of p fails the check.  0: another thread
 * took it first. */
static inline __attribute__((always_inline)) int hk__h_claim(void *pv, uint64_t a1)
{
    uint64_t *a = (uint64_t *)pv - 1;
    if (HK_LIKELY(__libc_single_threaded)) {
        *a = 0;
        return 1;
    }
    return __atomic_compare_exchange_n(a, &a1, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

#endif

#endif
