/*
 * tests/fuzz/fuzz.h - what the fuzz targets share: the libFuzzer entry
 * points, reading the input, failing loudly, and the shadow model's
 * helpers (block contents, hostile pointers, the exception handler).
 *
 * Each target is one .c file defining LLVMFuzzerTestOneInput.  It is built
 * twice: with clang -fsanitize=fuzzer,address,undefined (make fuzz), and
 * with the normal compiler and tests/fuzz/replay.c (make check, both lanes),
 * which runs it over every committed corpus and regression input.  So the
 * targets use the public API only and nothing POSIX-only.
 */
#ifndef HK_FUZZ_H
#define HK_FUZZ_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapkit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* ---- failing ------------------------------------------------------------ */

/* The replay driver points this at Check's failure (so a broken contract is
 * a failed test with its message); under libFuzzer a failure aborts, which
 * libFuzzer records as a crash with the input that caused it. */
extern void (*fz_fail_hook)(const char *msg);

static inline void fz_fail(const char *file, int line, const char *fmt, ...)
{
    char msg[1024];
    int k = snprintf(msg, sizeof msg, "%s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + k, sizeof msg - (size_t)k, fmt, ap);
    va_end(ap);
    fprintf(stderr, "fuzz: contract broken: %s\n", msg);
    fflush(stderr);
    if (fz_fail_hook)
        fz_fail_hook(msg);
    abort();
}

#define HK_FZ_CHECK(cond, ...) \
    do { if (!(cond)) fz_fail(__FILE__, __LINE__, __VA_ARGS__); } while (0)

/* ---- the input ------------------------------------------------------------ */

/* The input is a stream of choices; once it is used up every read is 0, so
 * any prefix of an input is itself a valid, shorter program. */
typedef struct {
    const uint8_t *p;
    size_t n;
} fz_in;

/* Does this build have the backend? */
static inline int fz_have_backend(const char *name)
{
    const char *const *b;
    for (b = hk_backends(); *b; b++)
        if (strcmp(*b, name) == 0)
            return 1;
    return 0;
}

static inline int fz_more(const fz_in *in) { return in->n > 0; }

static inline unsigned fz_u8(fz_in *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

static inline unsigned fz_u16(fz_in *in)
{
    unsigned a = fz_u8(in);
    return a | fz_u8(in) << 8;
}

static inline uint32_t fz_u32(fz_in *in)
{
    uint32_t a = fz_u16(in);
    return a | (uint32_t)fz_u16(in) << 16;
}

/* A value in [0, n), n > 0. */
static inline unsigned fz_pick(fz_in *in, unsigned n)
{
    return n <= 256 ? fz_u8(in) % n : fz_u16(in) % n;
}

/* Sizes: mostly small, some medium, now and then a large block (its own
 * mapping in the arena), rarely a request no heap can satisfy. */
#define FZ_HUGE_N 4
static const size_t fz_huge[FZ_HUGE_N] = {
    (size_t)-1, (size_t)-16, (size_t)PTRDIFF_MAX + 1, (size_t)PTRDIFF_MAX - 100
};

static inline size_t fz_size(fz_in *in, int *huge)
{
    unsigned k = fz_u8(in);
    *huge = 0;
    if (k < 160)
        return fz_u8(in);                              /* 0..255   */
    if (k < 220)
        return fz_u16(in) % 4097;                      /* ..4 KiB  */
    if (k < 245)
        return fz_u32(in) % (256u << 10);              /* ..256 KiB */
    if (k < 252)
        return 0xFEFD9 - 2 + fz_u32(in) % (2u << 20);  /* around the large cut */
    *huge = 1;
    return fz_huge[k % FZ_HUGE_N];
}

/* ---- block contents --------------------------------------------------------- */

/* A pattern that depends on the seed and the position, so a block moved,
 * overlapped or partly copied shows up. */
static inline unsigned char fz_byte(unsigned seed, size_t i)
{
    return (unsigned char)(seed * 131u + (unsigned)i * 7u + (unsigned)(i >> 8));
}

static inline void fz_fill(void *p, size_t n, unsigned seed)
{
    unsigned char *c = p;
    size_t i;
    for (i = 0; i < n; i++)
        c[i] = fz_byte(seed, i);
}

/* Index of the first byte that differs from the pattern, or n.  Blocks
 * over 16 KiB are sampled (both ends in full, a stride in between): the
 * models check contents after most calls, and a full pass over megabytes
 * each time would starve the fuzzer. */
static inline size_t fz_verify(const void *p, size_t n, unsigned seed)
{
    const unsigned char *c = p;
    size_t i, step;
    for (i = 0; i < n; i += step) {
        if (c[i] != fz_byte(seed, i))
            return i;
        step = (n > 16384 && i >= 4096 && i + 4096 < n) ? 509 : 1;
    }
    return n;
}

static inline size_t fz_zero_at(const void *p, size_t from, size_t n)
{
    const unsigned char *c = p;
    size_t i;
    for (i = from; i < n; i++)
        if (c[i])
            return i;
    return n;
}

/* ---- errors ------------------------------------------------------------------- */

/* Set before each call so that a success that touches the last error shows
 * (the contract: a successful call leaves it alone). */
#define FZ_SENTINEL 0x5A5A

static inline void fz_arm(void) { hk_set_last_error(FZ_SENTINEL); }

/* ---- HK_HEAP_GENERATE_EXCEPTIONS ---------------------------------------------- */

/* The handler returns, so the failing call fails normally and the model
 * can count the raises. */
extern unsigned long fz_raised;
static inline void fz_on_exception(unsigned code, size_t n)
{
    (void)n;
    HK_FZ_CHECK(code == HK_STATUS_NO_MEMORY, "exception code 0x%x", code);
    fz_raised++;
}

/* ---- hostile pointers ----------------------------------------------------------- */

/* Mapped memory that belongs to no heap: readable, so a backend that reads
 * a header there before checking may not crash, but must still refuse. */
extern unsigned char fz_wild_static[4096];

/* An address that is mapped (a static buffer, the stack, the C runtime's
 * heap) or plainly unmapped, at a 16-byte or odd offset. */
static inline void *fz_wild(fz_in *in, void *stack_buf, void *malloc_buf)
{
    unsigned k = fz_u8(in), off = fz_u16(in) % 2048;
    if (fz_u8(in) & 1)
        off &= ~15u;
    switch (k % 5) {
    case 0: return fz_wild_static + 64 + off;
    case 1: return (char *)stack_buf + (off % 256);
    case 2: return (char *)malloc_buf + (off % 256);
    case 3: return (void *)(uintptr_t)(0x10000u + off);    /* unmapped, low */
    default: return fz_wild_static + (off % 64);
    }
}

/* One translation unit per program (the target) defines the shared state. */
#ifdef FZ_DEFINE_GLOBALS
void (*fz_fail_hook)(const char *msg);
unsigned long fz_raised;
unsigned char fz_wild_static[4096];
#endif

#endif
