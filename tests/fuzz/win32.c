/*
 * tests/fuzz/win32.c - the Win32 heap API by its Win32 names, through
 * heapkit/win32.h: HeapCreate, HeapAlloc, HeapReAlloc, HeapFree, HeapSize,
 * HeapValidate, HeapCompact, HeapLock/HeapUnlock, HeapWalk, GetProcessHeap(s),
 * HeapDestroy, with GetLastError checked after each call.
 *
 * On POSIX the names are heapkit's inline wrappers over the arena, and the
 * input also brings hostile pointers and handles.  Built with MinGW (the
 * replay under Wine) the same source calls the real Win32 heap, which, by
 * design, may crash on a bad pointer or handle: there only valid arguments,
 * stale pointers no block has reused and pointers outside every heap (for
 * HeapValidate) are used, and the same model must hold.
 */
#include <heapkit/win32.h>      /* first: on Windows it is <windows.h> */

#define FZ_DEFINE_GLOBALS
#include "fuzz.h"

#ifdef _WIN32
#  define HOSTILE 0
#else
#  define HOSTILE 1
#endif

#define MAX_HEAPS 4
#define MAX_BLOCKS 64
#define MAX_OPS 300

typedef struct {
    HANDLE h;
    DWORD flags;
    SIZE_T maximum;
    int depth;
} w_heap;

typedef struct {
    unsigned char *p;
    SIZE_T n;
    unsigned seed;
    int heap;
} w_blk;

static w_heap heaps[MAX_HEAPS];
static int nheaps;
static w_blk blks[MAX_BLOCKS];
static int nblks;
static void *freed[16];          /* stale pointers, dropped when reused */
static int nfreed;
static HANDLE dead[8];
static int ndead;
static unsigned seed_ctr;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static int blk_find(const void *p)
{
    int i;
    for (i = 0; i < nblks; i++)
        if (blks[i].p == p)
            return i;
    return -1;
}

/* A pointer handed out again is no longer stale. */
static void unstale(const void *p)
{
    int i;
    for (i = 0; i < nfreed; i++)
        if (freed[i] == p)
            freed[i--] = freed[--nfreed];
}

static void add_stale(void *p)
{
    if (nfreed < 16)
        freed[nfreed++] = p;
}

static void check_blk(const w_blk *b, const char *when)
{
    size_t i = fz_verify(b->p, b->n, b->seed);
    HK_FZ_CHECK(i == b->n, "%s: block %p differs at %zu", when, (void *)b->p, i);
}

static void check_all(const char *when)
{
    int i;
    for (i = 0; i < nblks; i++)
        check_blk(&blks[i], when);
}

static void expect_err(DWORD want, const char *what)
{
    DWORD got = GetLastError();
    HK_FZ_CHECK(got == want, "%s: GetLastError() %lu, expected %lu", what,
                (unsigned long)got, (unsigned long)want);
}

static int heap_of(HANDLE h)
{
    int i;
    for (i = 0; i < nheaps; i++)
        if (heaps[i].h == h)
            return i;
    return -1;
}

static void drop_blk(int b)
{
    add_stale(blks[b].p);
    blks[b] = blks[--nblks];
}

/* An argument pointer: a live block (any heap's), or, where it is safe, a
 * stale, interior or wild one.  *ok: it is a live block of heap hi.
 * Windows reads what a pointer points at to check it (so a stale or interior
 * pointer may be taken for a block): there, only live blocks, and for
 * HeapValidate also pointers outside every heap. */
static void *pick_ptr(fz_in *in, int hi, int for_validate, void *sbuf, int *ok)
{
    unsigned k = fz_u8(in);
    void *p = NULL;
    if (k < 170 && nblks) {
        p = blks[k % (unsigned)nblks].p;
        if (!HOSTILE && !for_validate && blks[k % (unsigned)nblks].heap != hi)
            p = NULL;                  /* another heap's block */
    } else if (HOSTILE && k % 4 == 0 && nfreed) {
        p = freed[k % (unsigned)nfreed];
    } else if (HOSTILE && k % 4 == 1 && nblks) {
        p = blks[k % (unsigned)nblks].p + 16 * (1 + fz_u8(in) % 4);
    } else if ((HOSTILE || for_validate) && k % 4 == 2) {
        p = (k & 8) ? (void *)sbuf : (void *)(fz_wild_static + 64);
    }
    *ok = p && blk_find(p) >= 0 && blks[blk_find(p)].heap == hi;
    return p;
}

static HANDLE pick_heap(fz_in *in, int *hi)
{
    unsigned k = fz_u8(in);
    if (HOSTILE && k >= 230) {
        *hi = -1;
        if (k & 1 && ndead) {          /* its slot may serve a new heap by now */
            *hi = heap_of(dead[k % (unsigned)ndead]);
            return dead[k % (unsigned)ndead];
        }
        return (k & 2) ? (HANDLE)fz_wild_static : NULL;
    }
    *hi = (int)(k % (unsigned)nheaps);
    return heaps[*hi].h;
}

static void op_create(fz_in *in)
{
    unsigned k = fz_u8(in);
    DWORD flags = (k & 1 ? HEAP_NO_SERIALIZE : 0) | (k & 2 ? HEAP_CREATE_ENABLE_EXECUTE : 0);
    SIZE_T initial = (SIZE_T)fz_u8(in) << 12, maximum = 0;
    HANDLE h;
    if (nheaps == MAX_HEAPS)
        return;
    if (k & 4)
        maximum = ((SIZE_T)2 + fz_u8(in)) << 14;
    SetLastError(1234);
    h = HeapCreate(flags, initial, maximum);
    HK_FZ_CHECK(h != NULL, "HeapCreate(0x%lx, %zu, %zu) failed: %lu", (unsigned long)flags,
                (size_t)initial, (size_t)maximum, (unsigned long)GetLastError());
    heaps[nheaps].h = h;
    heaps[nheaps].flags = flags;
    heaps[nheaps].maximum = maximum;
    heaps[nheaps].depth = 0;
    nheaps++;
}

static void forget_heap(int hi)
{
    int i;
    for (i = nblks - 1; i >= 0; i--)
        if (blks[i].heap == hi)
            blks[i] = blks[--nblks];   /* its memory is gone: not even stale */
    nfreed = 0;                        /* stale pointers may be unmapped now */
    if (ndead < 8)
        dead[ndead++] = heaps[hi].h;
    heaps[hi] = heaps[--nheaps];
    for (i = 0; i < nblks; i++)
        if (blks[i].heap == nheaps)
            blks[i].heap = hi;
}

static void op_destroy(fz_in *in)
{
    int hi;
    HANDLE h = pick_heap(in, &hi);
    BOOL ok;
    if (hi >= 0 && nheaps == 1)
        return;                        /* keep one heap to work on */
    if (hi >= 0)
        while (heaps[hi].depth > 0) {
            HK_FZ_CHECK(HeapUnlock(h), "HeapUnlock");
            heaps[hi].depth--;
        }
    if (!(fz_u8(in) & 7)) {
        /* the process heap is not destroyed: ERROR_INVALID_HANDLE */
        SetLastError(0);
        ok = HeapDestroy(GetProcessHeap());
        HK_FZ_CHECK(!ok, "HeapDestroy(GetProcessHeap()) succeeded");
        expect_err(ERROR_INVALID_HANDLE, "HeapDestroy(process heap)");
        return;
    }
    SetLastError(0);
    ok = HeapDestroy(h);
    if (hi < 0) {
        HK_FZ_CHECK(!ok, "HeapDestroy of a bad handle succeeded");
        expect_err(ERROR_INVALID_HANDLE, "HeapDestroy(bad)");
        return;
    }
    HK_FZ_CHECK(ok, "HeapDestroy failed: %lu", (unsigned long)GetLastError());
    forget_heap(hi);
    check_all("after HeapDestroy");
}

static void op_alloc(fz_in *in)
{
    int hi, huge;
    HANDLE h = pick_heap(in, &hi);
    DWORD flags = (fz_u8(in) & 1 ? HEAP_ZERO_MEMORY : 0);
    SIZE_T n = fz_size(in, &huge);
    unsigned char *p;
    if (!huge && n > (1u << 20))
        n &= 0xFFFFF;                  /* keep Wine's heap quick */
    SetLastError(1234);
    p = HeapAlloc(h, flags, n);
    if (hi < 0) {
        HK_FZ_CHECK(!p, "HeapAlloc with a bad handle succeeded");
        expect_err(ERROR_INVALID_HANDLE, "HeapAlloc(bad)");
        return;
    }
    if (!p) {
        HK_FZ_CHECK(huge || heaps[hi].maximum, "HeapAlloc(%zu) failed: %lu", (size_t)n,
                    (unsigned long)GetLastError());
        expect_err(ERROR_NOT_ENOUGH_MEMORY, "HeapAlloc(no memory)");
        return;
    }
    HK_FZ_CHECK(!huge, "HeapAlloc of %zu bytes succeeded", (size_t)n);
    expect_err(1234, "HeapAlloc");
    HK_FZ_CHECK(blk_find(p) < 0, "HeapAlloc returned a live block");
    if (flags & HEAP_ZERO_MEMORY)
        HK_FZ_CHECK(fz_zero_at(p, 0, n) == n, "HEAP_ZERO_MEMORY block not zero");
    unstale(p);
    if (nblks == MAX_BLOCKS) {
        HK_FZ_CHECK(HeapFree(h, 0, p), "HeapFree of a fresh block");
        add_stale(p);
        return;
    }
    blks[nblks].p = p;
    blks[nblks].n = n;
    blks[nblks].seed = ++seed_ctr;
    blks[nblks].heap = hi;
    fz_fill(p, n, blks[nblks].seed);
    nblks++;
}

static void op_realloc(fz_in *in, void *sbuf)
{
    int hi, ok, huge, b;
    HANDLE h = pick_heap(in, &hi);
    DWORD flags = fz_u8(in) & (HEAP_ZERO_MEMORY | HEAP_REALLOC_IN_PLACE_ONLY);
    void *p = pick_ptr(in, hi, 0, sbuf, &ok);
    SIZE_T n = fz_size(in, &huge), old;
    unsigned char *q;
    if (!huge && n > (1u << 20))
        n &= 0xFFFFF;
    if (!p)
        return;
    SetLastError(1234);
    q = HeapReAlloc(h, flags, p, n);
    if (hi < 0 || !ok) {
        HK_FZ_CHECK(!q, "HeapReAlloc of a pointer that is no live block succeeded");
        expect_err(hi < 0 ? ERROR_INVALID_HANDLE : ERROR_INVALID_PARAMETER, "HeapReAlloc(bad)");
        check_all("after a refused HeapReAlloc");
        return;
    }
    b = blk_find(p);
    old = blks[b].n;
    if (!q) {
        HK_FZ_CHECK(huge || (flags & HEAP_REALLOC_IN_PLACE_ONLY) || heaps[hi].maximum,
                    "HeapReAlloc %zu -> %zu failed: %lu", (size_t)old, (size_t)n,
                    (unsigned long)GetLastError());
        expect_err(ERROR_NOT_ENOUGH_MEMORY, "HeapReAlloc(no memory)");
        check_blk(&blks[b], "after a failed HeapReAlloc");
        return;
    }
    expect_err(1234, "HeapReAlloc");
    if (flags & HEAP_REALLOC_IN_PLACE_ONLY)
        HK_FZ_CHECK(q == p, "in-place HeapReAlloc moved the block");
    {
        SIZE_T keep = old < n ? old : n;
        HK_FZ_CHECK(fz_verify(q, keep, blks[b].seed) == keep, "HeapReAlloc lost contents");
        if ((flags & HEAP_ZERO_MEMORY) && n > old)
            HK_FZ_CHECK(fz_zero_at(q, old, n) == n, "HeapReAlloc growth not zero");
    }
    if (q != p)
        add_stale(p);
    unstale(q);
    blks[b].p = q;
    blks[b].n = n;
    blks[b].seed = ++seed_ctr;
    fz_fill(q, n, blks[b].seed);
}

static void op_free(fz_in *in, void *sbuf)
{
    int hi, ok;
    HANDLE h = pick_heap(in, &hi);
    void *p = pick_ptr(in, hi, 0, sbuf, &ok);
    BOOL r;
    SetLastError(1234);
    r = HeapFree(h, 0, p);
    if (!p) {
        HK_FZ_CHECK(r, "HeapFree(NULL) failed");
        expect_err(1234, "HeapFree(NULL) changed the last error");
        return;
    }
    if (hi < 0 || !ok) {
        HK_FZ_CHECK(!r, "HeapFree of a pointer that is no live block succeeded");
        /* a NULL heap is 87, as on Wine 8 */
        expect_err(hi < 0 && h ? ERROR_INVALID_HANDLE : ERROR_INVALID_PARAMETER, "HeapFree(bad)");
        check_all("after a refused HeapFree");
        return;
    }
    HK_FZ_CHECK(r, "HeapFree failed: %lu", (unsigned long)GetLastError());
    expect_err(1234, "HeapFree");
    drop_blk(blk_find(p));
}

static void op_size_validate(fz_in *in, void *sbuf)
{
    int hi, ok, val = fz_u8(in) & 1;
    HANDLE h = pick_heap(in, &hi);
    void *p = pick_ptr(in, hi, val, sbuf, &ok);
    if (val) {
        BOOL r;
        SetLastError(1234);
        r = HeapValidate(h, 0, p);
        HK_FZ_CHECK(r == (hi >= 0 && (p ? ok : 1)), "HeapValidate(%p) = %d", p, r);
        if (HOSTILE)
            expect_err(1234, "HeapValidate changed the last error");
        return;
    }
    if (p) {
        SIZE_T n;
        SetLastError(1234);
        n = HeapSize(h, 0, p);
        if (hi >= 0 && ok) {
            HK_FZ_CHECK(n == blks[blk_find(p)].n, "HeapSize %zu, expected %zu", (size_t)n,
                        (size_t)blks[blk_find(p)].n);
            expect_err(1234, "HeapSize");
        } else {
            HK_FZ_CHECK(n == (SIZE_T)-1, "HeapSize of a bad pointer gave %zu", (size_t)n);
            if (HOSTILE)
                expect_err(hi < 0 && h ? ERROR_INVALID_HANDLE : ERROR_INVALID_PARAMETER,
                           "HeapSize(bad)");
        }
    }
}

static void op_lock(fz_in *in)
{
    int hi, unlock = fz_u8(in) & 1;
    HANDLE h = pick_heap(in, &hi);
    BOOL r;
    if (hi < 0 || (unlock && heaps[hi].depth == 0)) {
        if (!HOSTILE)
            return;                    /* Windows: undefined */
        SetLastError(0);
        r = unlock ? HeapUnlock(h) : HeapLock(h);
        if (hi >= 0 && (heaps[hi].flags & HEAP_NO_SERIALIZE)) {
            HK_FZ_CHECK(r, "HeapUnlock of a NO_SERIALIZE heap failed");
            return;
        }
        HK_FZ_CHECK(!r, "HeapLock/HeapUnlock of a bad handle or unheld heap succeeded");
        expect_err(hi < 0 ? ERROR_INVALID_HANDLE : ERROR_INVALID_PARAMETER, "HeapUnlock(bad)");
        return;
    }
    if (!unlock && heaps[hi].depth >= 8)
        return;
    HK_FZ_CHECK(unlock ? HeapUnlock(h) : HeapLock(h), "HeapLock/HeapUnlock failed");
    heaps[hi].depth += unlock ? -1 : 1;
}

static void op_walk(fz_in *in)
{
    int hi, i, busy = 0;
    HANDLE h = pick_heap(in, &hi);
    unsigned char seen[MAX_BLOCKS];
    PROCESS_HEAP_ENTRY e;
    long steps = 0;
    BOOL locked = 0;
    memset(seen, 0, sizeof seen);
    memset(&e, 0, sizeof e);
    if (hi < 0) {
        SetLastError(0);
        HK_FZ_CHECK(!HeapWalk(h, &e), "HeapWalk of a bad handle succeeded");
        expect_err(ERROR_INVALID_HANDLE, "HeapWalk(bad)");
        return;
    }
    if (HOSTILE && (fz_u8(in) & 3) == 0) {
        SetLastError(0);
        HK_FZ_CHECK(!HeapWalk(h, NULL), "HeapWalk(NULL) succeeded");
        expect_err(ERROR_INVALID_PARAMETER, "HeapWalk(NULL)");
        return;
    }
    if (fz_u8(in) & 1)
        locked = HeapLock(h);
    while (HeapWalk(h, &e)) {
        HK_FZ_CHECK(++steps < 1000000, "HeapWalk does not end");
        if (!(e.wFlags & PROCESS_HEAP_ENTRY_BUSY))
            continue;
        i = blk_find(e.lpData);
        if (i < 0 || blks[i].heap != hi) {
            HK_FZ_CHECK(!HOSTILE, "HeapWalk: busy %p is none of the heap's blocks", e.lpData);
            continue;
        }
        HK_FZ_CHECK(!seen[i], "HeapWalk: block seen twice");
        HK_FZ_CHECK(e.cbData == (DWORD)blks[i].n, "HeapWalk: size %lu, expected %zu",
                    (unsigned long)e.cbData, (size_t)blks[i].n);
        seen[i] = 1;
        busy++;
    }
    expect_err(ERROR_NO_MORE_ITEMS, "HeapWalk end");
    if (locked)
        HK_FZ_CHECK(HeapUnlock(h), "HeapUnlock after the walk");
    for (i = 0; i < nblks; i++)
        if (blks[i].heap == hi)
            HK_FZ_CHECK(seen[i], "HeapWalk missed block %p", (void *)blks[i].p);
}

static void op_misc(fz_in *in)
{
    HANDLE list[256];
    DWORD n;
    int i, hi;
    HANDLE h;
    switch (fz_u8(in) % 3) {
    case 0:
        n = GetProcessHeaps(256, list);
        HK_FZ_CHECK(n >= (DWORD)nheaps + 1, "GetProcessHeaps: %lu", (unsigned long)n);
        if (n <= 256) {
            HK_FZ_CHECK(list[0] == GetProcessHeap(), "process heap not first");
            for (i = 0; i < nheaps; i++) {
                DWORD j, found = 0;
                for (j = 0; j < n; j++)
                    found += list[j] == heaps[i].h;
                HK_FZ_CHECK(found == 1, "heap listed %lu times", (unsigned long)found);
            }
        }
        break;
    case 1: {
        void *p = HeapAlloc(GetProcessHeap(), 0, fz_u8(in));
        HK_FZ_CHECK(p != NULL, "HeapAlloc(GetProcessHeap())");
        HK_FZ_CHECK(HeapFree(GetProcessHeap(), 0, p), "HeapFree(GetProcessHeap())");
        break;
    }
    default:
        h = pick_heap(in, &hi);
        SetLastError(1234);
        HeapCompact(h, 0);
        if (hi < 0)
            expect_err(ERROR_INVALID_HANDLE, "HeapCompact(bad)");
        check_all("after HeapCompact");
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = { data, size };
    unsigned char sbuf[256];
    int ops = 0;
    memset(sbuf, 0x77, sizeof sbuf);
    nheaps = nblks = nfreed = ndead = 0;
    op_create(&(fz_in){ (const uint8_t *)"\0\0", 2 });
    while (fz_more(&in) && ops++ < MAX_OPS) {
        switch (fz_u8(&in) % 12) {
        case 0: op_create(&in); break;
        case 1: op_destroy(&in); break;
        case 2: case 3: case 4: op_alloc(&in); break;
        case 5: op_realloc(&in, sbuf); break;
        case 6: case 7: op_free(&in, sbuf); break;
        case 8: op_size_validate(&in, sbuf); break;
        case 9: op_lock(&in); break;
        case 10: op_walk(&in); break;
        default: op_misc(&in); break;
        }
    }
    check_all("at the end");
    while (nheaps) {
        int hi = nheaps - 1;
        while (heaps[hi].depth > 0) {
            HK_FZ_CHECK(HeapUnlock(heaps[hi].h), "HeapUnlock at the end");
            heaps[hi].depth--;
        }
        HK_FZ_CHECK(HeapValidate(heaps[hi].h, 0, NULL), "HeapValidate(heap) at the end");
        HK_FZ_CHECK(HeapDestroy(heaps[hi].h), "HeapDestroy at the end");
        forget_heap(hi);
    }
    return 0;
}
