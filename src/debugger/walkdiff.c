/*
 * walkdiff.c - `heapkit.exe run --walk-diff` (HEAPKIT_WALK_DIFF): a safety
 * net under the hooks.  When the hook DLL loads, every process heap is
 * walked (GetProcessHeaps, HeapLock, HeapWalk, HeapUnlock) and the busy
 * blocks are kept; just before the exit report the heaps are walked again.
 * A block busy now that was not busy then and that no record covers is
 * "untracked": reached through a path no hook sees (GetProcAddress'd
 * HeapAlloc, RtlAllocateHeap, a system DLL's own HeapAlloc calls).
 *
 * Everything here lives in OS memory (hk__dbg_os_alloc), never in a heap
 * it walks, so heapkit's own bookkeeping never shows up; the report's own
 * allocations (DbgHelp) come after the exit walk.  HeapSummary is never
 * called (Wine 8 aborts in it).  Linux: config.c says it is not supported.
 */
#include "tracker.h"

#include <string.h>

#ifdef _WIN32
#  include <windows.h>
#  include <stdio.h>
#  include <stdlib.h>

/* One more word (w: an hk__dbg_vec of uintptr_t); 0: out of OS memory. */
static int hk__words_push(hk__dbg_vec *w, uintptr_t x)
{
    uintptr_t *slot = hk__dbg_vec_push(w);
    if (!slot)
        return 0;
    *slot = x;
    return 1;
}

static int hk__word_cmp(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

/* Index of the first word >= x in a sorted array. */
static size_t hk__words_lower(const hk__dbg_vec *w, uintptr_t x)
{
    const uintptr_t *v = w->p;
    size_t lo = 0, hi = w->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static hk__dbg_vec hk__start = { NULL, 0, 0, sizeof(uintptr_t), 0 };   /* busy blocks
                                                                     * at start, sorted */
static int hk__begun;                   /* 1 begun, 2 the exit walk done */
static int hk__failed;                  /* out of OS memory: the section says so */
static hk__dbg_vec hk__found = { NULL, 0, 0, sizeof(hk__untracked), 0 };

/* Walks heap h (locked), calling fn for each busy block; 0 if the lock
 * could not be taken. */
typedef int (*hk__busy_fn)(HANDLE h, const PROCESS_HEAP_ENTRY *e, void *arg);

static int hk__walk_heap(HANDLE h, hk__busy_fn fn, void *arg)
{
    PROCESS_HEAP_ENTRY e;
    if (!HeapLock(h))
        return 0;
    memset(&e, 0, sizeof e);
    while (HeapWalk(h, &e))
        if ((e.wFlags & PROCESS_HEAP_ENTRY_BUSY) && e.lpData)
            if (!fn(h, &e, arg))
                break;
    HeapUnlock(h);
    return 1;
}

/* The process's heaps into a buffer in OS memory (the list may grow
 * between the two calls). */
static HANDLE *hk__heaps(DWORD *n, size_t *bytes)
{
    DWORD want = GetProcessHeaps(0, NULL) + 16, got;
    HANDLE *v;
    for (;;) {
        *bytes = want * sizeof *v;
        if (!(v = hk__dbg_os_alloc(*bytes)))
            return NULL;
        got = GetProcessHeaps(want, v);
        if (got <= want) {
            *n = got;
            return v;
        }
        hk__dbg_os_free(v, *bytes);
        want = got + 16;
    }
}

static int hk__note_start(HANDLE h, const PROCESS_HEAP_ENTRY *e, void *arg)
{
    (void)h;
    (void)arg;
    if (!hk__words_push(&hk__start, (uintptr_t)e->lpData)) {
        hk__failed = 1;
        return 0;
    }
    return 1;
}

void hk__walkdiff_begin(void)
{
    DWORD n, i;
    size_t bytes;
    HANDLE *v;
    if (hk__begun)
        return;
    hk__begun = 1;
    if (!(v = hk__heaps(&n, &bytes))) {
        hk__failed = 1;
        return;
    }
    for (i = 0; i < n; i++)
        hk__walk_heap(v[i], hk__note_start, NULL);
    hk__dbg_os_free(v, bytes);
    qsort(hk__start.p, hk__start.n, sizeof(uintptr_t), hk__word_cmp);
}

static void hk__note_rec(const hk__rec *r, void *arg)
{
    if (!hk__words_push(arg, r->ptr))
        hk__failed = 1;
}

typedef struct hk__end_ctx {
    hk__dbg_vec recs;                   /* the live records' pointers, sorted */
} hk__end_ctx;

static int hk__note_end(HANDLE h, const PROCESS_HEAP_ENTRY *e, void *arg)
{
    hk__end_ctx *c = arg;
    uintptr_t p = (uintptr_t)e->lpData, end = p + e->cbData;
    size_t i;
    hk__rec r;
    hk__untracked *u;
    i = hk__words_lower(&hk__start, p);
    if (i < hk__start.n && ((const uintptr_t *)hk__start.p)[i] == p)
        return 1;                       /* busy at start */
    i = hk__words_lower(&c->recs, p);
    if (i < c->recs.n && ((const uintptr_t *)c->recs.p)[i] < (end > p ? end : p + 1))
        return 1;                       /* a record inside it (_aligned_malloc's too) */
    if (hk__dbg_peek((void *)p, HK__HEAP_MALLOC, &r) == 1)
        return 1;                       /* recorded, not listed (size 0, suspended) */
    if (!(u = hk__dbg_vec_push(&hk__found))) {
        hk__failed = 1;
        return 0;
    }
    memset(u, 0, sizeof *u);
    u->ptr = p;
    u->size = e->cbData;
    u->heap = (uintptr_t)h;
    u->nbytes = e->cbData < sizeof u->bytes ? (unsigned)e->cbData : (unsigned)sizeof u->bytes;
    memcpy(u->bytes, e->lpData, u->nbytes);   /* busy: committed and readable */
    return 1;
}

void hk__walkdiff_end(void)
{
    hk__end_ctx c;
    DWORD n, i;
    size_t bytes;
    HANDLE *v;
    if (hk__begun != 1)
        return;
    hk__begun = 2;
    memset(&c, 0, sizeof c);
    c.recs.each = sizeof(uintptr_t);
    hk__dbg_each_record(hk__note_rec, &c.recs, 1);
    qsort(c.recs.p, c.recs.n, sizeof(uintptr_t), hk__word_cmp);
    if ((v = hk__heaps(&n, &bytes))) {
        for (i = 0; i < n; i++)
            hk__walk_heap(v[i], hk__note_end, &c);
        hk__dbg_os_free(v, bytes);
    } else {
        hk__failed = 1;
    }
    hk__dbg_vec_free(&c.recs);
}

int hk__walkdiff_blocks(const hk__untracked **out)
{
    *out = hk__found.p;
    if (hk__begun != 2)
        return -1;
    return hk__failed ? -2 : (int)(hk__found.n > 0x7FFFFFFF ? 0x7FFFFFFF : hk__found.n);
}

/* The heap's name: the process heap, a C runtime's own, else its handle. */
void hk__walkdiff_heap_name(uintptr_t heap, char *buf, size_t cap)
{
    static const wchar_t *const crts[] = { L"msvcrt.dll", L"ucrtbase.dll" };
    static const char *const names[] = { "msvcrt", "ucrtbase" };
    size_t i;
    if ((HANDLE)heap == GetProcessHeap()) {
        snprintf(buf, cap, "process");
        return;
    }
    for (i = 0; i < 2; i++) {
        HMODULE m = GetModuleHandleW(crts[i]);
        intptr_t (*get)(void) = m ? (intptr_t (*)(void))(void *)GetProcAddress(m, "_get_heap_handle")
                                  : NULL;
        if (get && (uintptr_t)get() == heap) {
            snprintf(buf, cap, "%s", names[i]);
            return;
        }
    }
    snprintf(buf, cap, "0x%llx", (unsigned long long)heap);   /* as the program prints it */
}

#else /* !_WIN32 */

void hk__walkdiff_begin(void) { }
void hk__walkdiff_end(void) { }
int hk__walkdiff_blocks(const hk__untracked **out)
{
    *out = NULL;
    return -1;
}
void hk__walkdiff_heap_name(uintptr_t heap, char *buf, size_t cap)
{
    (void)heap;
    if (cap)
        buf[0] = 0;
}

#endif
