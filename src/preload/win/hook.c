/*
 * hook.c - heapkit-hook.dll: the Heap Debugger inside an unmodified
 * Windows program (`heapkit.exe run` loads it before the program's own
 * code runs).  Built from the library's own sources, linked statically:
 * no other heapkit DLL is needed.
 *
 * On DLL_PROCESS_ATTACH it starts the tracker and rewrites the import
 * address tables of the modules loaded so far; modules loaded later are
 * patched when the loader says they are mapped (LdrRegisterDllNotification,
 * before their DllMain), and again after the real LoadLibrary* call
 * returns (a CRT loaded with them is learnt only then).  An IAT entry is
 * matched by the address it holds, not by the name it imports: on Wine
 * kernel32's HeapAlloc is a forwarder to ntdll's RtlAllocateHeap, and the
 * api-ms-win-crt-heap sets resolve to ucrtbase, so the loaded value is
 * what tells which function a call reaches.
 *
 * Only modules outside the system directory are patched (the program and
 * its own DLLs): the system DLLs implement the heap functions on top of
 * one another (msvcrt's malloc calls HeapAlloc), and hooking both layers
 * would record one block twice.  Our own DLL is skipped too, so the
 * tracker's own malloc calls reach the C runtime directly.
 *
 * The real functions are called underneath, each CRT its own (msvcrt's
 * and ucrtbase's heaps differ).  A free of a pointer no hook recorded (a
 * block the CRT allocated internally: _strdup, getenv copies) is passed
 * on when HeapValidate on that CRT's heap (or the heap given to
 * HeapFree) vouches for it; only what no heap vouches for is FM, reported
 * and not passed on.
 */
#include "../../debugger/tracker.h"

#include <windows.h>
#include <tlhelp32.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HK__RET ((uintptr_t)__builtin_return_address(0))

/* ---- one C runtime's functions ------------------------------------------ */

typedef struct hk__crt {
    HMODULE mod;
    HANDLE heap;                         /* its _get_heap_handle() */
    volatile LONG ready;                 /* 2: heap known and exit hook set (hk__crt_ready) */
    void *(*malloc)(size_t);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    void (*free)(void *);
    size_t (*msize)(void *);
    void *(*recalloc)(void *, size_t, size_t);
    void *(*aligned_malloc)(size_t, size_t);
    void (*aligned_free)(void *);
    void *(*aligned_realloc)(void *, size_t, size_t);
} hk__crt;

enum { HK__MSVCRT, HK__UCRT, HK__NCRT };
static hk__crt hk__crts[HK__NCRT];

/* The real kernel32 functions (whatever they forward to). */
static LPVOID (WINAPI *hk__HeapAlloc)(HANDLE, DWORD, SIZE_T);
static LPVOID (WINAPI *hk__HeapReAlloc)(HANDLE, DWORD, LPVOID, SIZE_T);
static BOOL (WINAPI *hk__HeapFree)(HANDLE, DWORD, LPVOID);
static SIZE_T (WINAPI *hk__HeapSize)(HANDLE, DWORD, LPCVOID);
static BOOL (WINAPI *hk__HeapDestroy)(HANDLE);
static HMODULE (WINAPI *hk__LoadLibraryA)(LPCSTR);
static HMODULE (WINAPI *hk__LoadLibraryW)(LPCWSTR);
static HMODULE (WINAPI *hk__LoadLibraryExA)(LPCSTR, HANDLE, DWORD);
static HMODULE (WINAPI *hk__LoadLibraryExW)(LPCWSTR, HANDLE, DWORD);

/* 1: record nothing now (inside the tracker's guard: the report writer,
 * symbolization). */
static int hk__off(void)
{
    return hk__dbg_internal_depth() > 0;
}

/* A C++ operator of libstdc++'s DLL in progress on this thread (set by
 * its hook, below): the real operator is called, and the CRT call it
 * makes through its own imports - the first one - takes the operator's
 * family and caller.  One slot per thread (TlsAlloc: no allocation). */
typedef struct hk__cxx_call {
    unsigned fam;                        /* HK__FAM_NEW, HK__FAM_NEWARR */
    int del, sized;
    size_t declared;
    uintptr_t caller;
} hk__cxx_call;

static DWORD hk__cxx_tls = TLS_OUT_OF_INDEXES;
static uintptr_t hk__cxx_lo, hk__cxx_hi;   /* libstdc++-6.dll's image */

/* The pending operator call, taken (one CRT call per operator call: a
 * nested one, such as a new_handler's, is the CRT's own again). */
static hk__cxx_call *hk__cxx_take(int del)
{
    hk__cxx_call *c;
    if (hk__cxx_tls == TLS_OUT_OF_INDEXES || !(c = TlsGetValue(hk__cxx_tls)) || c->del != del)
        return NULL;
    TlsSetValue(hk__cxx_tls, NULL);
    return c;
}

static void *hk__rec_new(void *p, size_t n, unsigned kind, uintptr_t caller)
{
    hk__cxx_call *c = hk__cxx_take(0);
    hk__src src = { NULL, NULL, NULL, caller, 0, 0 };
    if (c) {                    /* an operator's block: its family (an aligned
                                   new's comes from _aligned_malloc) */
        kind = (kind & ~(3u << HK__K_FAM_SHIFT)) | c->fam << HK__K_FAM_SHIFT;
        src.caller = c->caller;
    }
    if (p && !hk__off())
        hk__dbg_add(p, n, HK__HEAP_MALLOC, kind, &src);
    return p;
}

/* p about to be freed (or moved) by the real function of a heap, of
 * family fam (free/realloc: HK__FAM_MALLOC, _aligned_*: HK__FAM_ALIGNED;
 * a pending C++ delete's own otherwise): 2 its record taken (into *r), 1
 * a live block we never saw (the heap vouches for it), 0 neither: FM
 * reported, p is not to be passed on. */
static int hk__rec_free(const void *p, HANDLE heap, unsigned fam, uintptr_t caller, hk__rec *r)
{
    hk__cxx_call *c = hk__cxx_take(1);
    hk__src src = { NULL, NULL, NULL, c ? c->caller : caller, 0, 0 };
    if (c)
        fam = c->fam;
    if (hk__dbg_take(p, HK__HEAP_MALLOC, r) == 1) {
        /* the family and, for a delete, the declared size checked, as the
         * Linux preload does.  A malloc-family block that libstdc++
         * allocated itself came from its own operator new, whose calls
         * inside the DLL no hook sees: no FK for it. */
        if (HK__REC_FAM(r) != fam
            && !(c && HK__REC_FAM(r) == HK__FAM_MALLOC && hk__dbg_site(r->site)
                 && hk__dbg_site(r->site)->caller >= hk__cxx_lo
                 && hk__dbg_site(r->site)->caller < hk__cxx_hi))
            hk__dbg_wrong_family(r, fam, &src);
        else if (c && c->sized && c->declared != HK__REC_SIZE(r))
            hk__dbg_wrong_size(r, c->declared, &src);
        return 2;
    }
    if (hk__off() || (heap && HeapValidate(heap, 0, p)))
        return 1;
    hk__dbg_unknown_free(p, HK__HEAP_MALLOC, &src);
    return 0;
}

/* A recorded block is released the way it was allocated (its kind; FK,
 * if any, is reported by family): free() of an _aligned_malloc block
 * (or an aligned new's) would hand the CRT
 * an address inside its block, _aligned_free() of a malloc block would
 * read a header that is not there; either corrupts the heap. */
static int hk__rec_aligned(int how, const hk__rec *r)
{
    return how == 2 && (HK__REC_KIND(r) & HK__K_ALIGNED);
}

/* The alignment p has (what _aligned_malloc was asked for, at least). */
static size_t hk__align_of(const void *p)
{
    uintptr_t a = (uintptr_t)p & (0 - (uintptr_t)p);
    return a == 0 || a > 4096 ? 4096 : (size_t)a;
}

/* After the real realloc: the record follows the block (its allocation
 * number kept, the site the realloc's, as the macros do); a block we
 * never saw is adopted; a failed realloc leaves p as it was. */
static void *hk__rec_moved(int how, const hk__rec *r, void *q, size_t n, uintptr_t caller)
{
    hk__src src = { NULL, NULL, NULL, caller, 0, 0 };
    hk__dbg_freeing_done();
    if (!q) {
        if (how == 2 && n != 0)
            hk__dbg_put_back(r);
        return NULL;
    }
    if (hk__off())
        return q;
    if (how == 2)
        hk__dbg_readd(r, q, n, &src);
    else
        hk__dbg_adopt(q, n, HK__HEAP_MALLOC, &src);
    return q;
}

static void *hk__malloc(int c, size_t n, uintptr_t caller)
{
    return hk__rec_new(hk__crts[c].malloc(n), n, 0, caller);
}

static void *hk__calloc(int c, size_t k, size_t n, uintptr_t caller)
{
    void *p = hk__crts[c].calloc(k, n);
    return hk__rec_new(p, p ? k * n : 0, 0, caller);   /* calloc checked the product */
}

static void hk__free(int c, void *p, uintptr_t caller)
{
    hk__rec r;
    int how;
    if (!p)
        return;
    if ((how = hk__rec_free(p, hk__crts[c].heap, HK__FAM_MALLOC, caller, &r)))
        (hk__rec_aligned(how, &r) ? hk__crts[c].aligned_free : hk__crts[c].free)(p);
    hk__dbg_freeing_done();
}

/* A pointer no heap vouches for is FM and left alone (NULL). */
static void *hk__realloc(int c, void *p, size_t n, uintptr_t caller)
{
    hk__rec r;
    int how;
    if (!p)
        return hk__malloc(c, n, caller);
    if (!(how = hk__rec_free(p, hk__crts[c].heap, HK__FAM_MALLOC, caller, &r))) {
        hk__dbg_freeing_done();
        return NULL;
    }
    if (hk__rec_aligned(how, &r))          /* FK: the block stays an aligned one */
        return hk__rec_moved(how, &r, hk__crts[c].aligned_realloc(p, n, hk__align_of(p)), n,
                             caller);
    return hk__rec_moved(how, &r, hk__crts[c].realloc(p, n), n, caller);
}

static void *hk__recalloc(int c, void *p, size_t k, size_t n, uintptr_t caller)
{
    hk__rec r;
    int how;
    if (!p) {
        void *q = hk__crts[c].recalloc(NULL, k, n);
        return hk__rec_new(q, q ? k * n : 0, 0, caller);
    }
    if (!(how = hk__rec_free(p, hk__crts[c].heap, HK__FAM_MALLOC, caller, &r))) {
        hk__dbg_freeing_done();
        return NULL;
    }
    if (hk__rec_aligned(how, &r)) {        /* FK; no aligned _recalloc: left alone */
        hk__dbg_put_back(&r);
        hk__dbg_freeing_done();
        return NULL;
    }
    /* _recalloc checks the product: a result means it fits */
    return hk__rec_moved(how, &r, hk__crts[c].recalloc(p, k, n), k * n, caller);
}

/* A recorded block: the size it was asked for; else the CRT's answer. */
static size_t hk__msize(int c, void *p)
{
    hk__rec r;
    if (p && !hk__off() && hk__dbg_peek(p, HK__HEAP_MALLOC, &r) == 1)
        return HK__REC_SIZE(&r);
    return hk__crts[c].msize(p);
}

/* _aligned_*: the block starts inside a CRT block, so no heap can vouch
 * for it; a pointer without a record is FM. */
static void *hk__amalloc(int c, size_t n, size_t a, uintptr_t caller)
{
    return hk__rec_new(hk__crts[c].aligned_malloc(n, a), n,
                       HK__K_ALIGNED | HK__FAM_ALIGNED << HK__K_FAM_SHIFT, caller);
}

static void hk__afree(int c, void *p, uintptr_t caller)
{
    hk__rec r;
    int how;
    if (!p)
        return;
    if ((how = hk__rec_free(p, NULL, HK__FAM_ALIGNED, caller, &r)))
        (how == 2 && !hk__rec_aligned(how, &r) ? hk__crts[c].free : hk__crts[c].aligned_free)(p);
    hk__dbg_freeing_done();
}

static void *hk__arealloc(int c, void *p, size_t n, size_t a, uintptr_t caller)
{
    hk__rec r;
    int how;
    if (!p)
        return hk__amalloc(c, n, a, caller);
    if (!(how = hk__rec_free(p, NULL, HK__FAM_ALIGNED, caller, &r))) {
        hk__dbg_freeing_done();
        return NULL;
    }
    if (how == 2 && !hk__rec_aligned(how, &r))   /* FK: the block stays a malloc one */
        return hk__rec_moved(how, &r, hk__crts[c].realloc(p, n), n, caller);
    return hk__rec_moved(how, &r, hk__crts[c].aligned_realloc(p, n, a), n, caller);
}

/* A CRT that was not initialised yet when we learnt it (ucrtbase, when
 * the hook DLL is a static import of the program: it is initialised
 * before the program's DLLs but after its own dependencies) is finished
 * at the first call through it, when the CRT is surely up: asking it for
 * its heap or registering an exit function earlier breaks it. */
static void hk__crt_ready(int c);
#define HK__READY(c)                                                                       \
    do {                                                                                   \
        if (__builtin_expect(hk__crts[c].ready != 2, 0))                                   \
            hk__crt_ready(c);                                                              \
    } while (0)

/* The entry points, one set per CRT: the return address is the caller's. */
#define HK__CRT_HOOKS(c)                                                                  \
    static void *hk__malloc_##c(size_t n)                                                 \
    { HK__READY(c); return hk__malloc(c, n, HK__RET); }                                   \
    static void *hk__calloc_##c(size_t k, size_t n)                                       \
    { HK__READY(c); return hk__calloc(c, k, n, HK__RET); }                                \
    static void *hk__realloc_##c(void *p, size_t n)                                       \
    { HK__READY(c); return hk__realloc(c, p, n, HK__RET); }                               \
    static void hk__free_##c(void *p) { HK__READY(c); hk__free(c, p, HK__RET); }          \
    static size_t hk__msize_##c(void *p) { HK__READY(c); return hk__msize(c, p); }        \
    static void *hk__recalloc_##c(void *p, size_t k, size_t n)                            \
    { HK__READY(c); return hk__recalloc(c, p, k, n, HK__RET); }                           \
    static void *hk__amalloc_##c(size_t n, size_t a)                                      \
    { HK__READY(c); return hk__amalloc(c, n, a, HK__RET); }                               \
    static void hk__afree_##c(void *p) { HK__READY(c); hk__afree(c, p, HK__RET); }        \
    static void *hk__arealloc_##c(void *p, size_t n, size_t a)                            \
    { HK__READY(c); return hk__arealloc(c, p, n, a, HK__RET); }
HK__CRT_HOOKS(0)
HK__CRT_HOOKS(1)

/* ---- kernel32's heap functions -------------------------------------------- */

static LPVOID WINAPI hk__HeapAlloc_hook(HANDLE h, DWORD flags, SIZE_T n)
{
    return hk__rec_new(hk__HeapAlloc(h, flags, n), n, 0, HK__RET);
}

static BOOL WINAPI hk__HeapFree_hook(HANDLE h, DWORD flags, LPVOID p)
{
    BOOL ok = FALSE;
    hk__rec r;
    if (!p)
        return hk__HeapFree(h, flags, p);
    if (hk__rec_free(p, h, HK__FAM_MALLOC, HK__RET, &r))
        ok = hk__HeapFree(h, flags, p);
    else
        SetLastError(ERROR_INVALID_PARAMETER);
    hk__dbg_freeing_done();
    return ok;
}

static LPVOID WINAPI hk__HeapReAlloc_hook(HANDLE h, DWORD flags, LPVOID p, SIZE_T n)
{
    uintptr_t caller = HK__RET;
    LPVOID q;
    hk__rec r;
    int how;
    if (!p)
        return hk__HeapReAlloc(h, flags, p, n);   /* the real error for NULL */
    if (!(how = hk__rec_free(p, h, HK__FAM_MALLOC, caller, &r))) {
        hk__dbg_freeing_done();
        SetLastError(ERROR_INVALID_PARAMETER);
        return NULL;
    }
    /* n == 0 is a valid size here: a failure always leaves p alive */
    if (!(q = hk__HeapReAlloc(h, flags, p, n)) && how == 2) {
        hk__dbg_freeing_done();
        hk__dbg_put_back(&r);
        return NULL;
    }
    return hk__rec_moved(how, &r, q, n, caller);
}

/* HeapDestroy frees every block of the heap at once: their records go
 * with it (a correct program need not free them first).  Which records
 * are the heap's, HeapValidate on it tells, before it is destroyed. */
typedef struct hk__ptrs {
    uintptr_t *v;
    size_t n, cap;
} hk__ptrs;

static void hk__collect(const hk__rec *r, void *arg)
{
    hk__ptrs *a = arg;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 256;
        uintptr_t *v = realloc(a->v, cap * sizeof *v);   /* ours: not hooked */
        if (!v)
            return;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = r->ptr;
}

static BOOL WINAPI hk__HeapDestroy_hook(HANDLE h)
{
    hk__ptrs a = { NULL, 0, 0 };
    hk__rec r;
    size_t i;
    if (h && h != GetProcessHeap() && !hk__off()) {
        hk__dbg_each_record(hk__collect, &a, 1);
        for (i = 0; i < a.n; i++)
            if (HeapValidate(h, 0, (void *)a.v[i]))
                hk__dbg_take((void *)a.v[i], HK__HEAP_MALLOC, &r);
        free(a.v);
    }
    return hk__HeapDestroy(h);
}

static SIZE_T WINAPI hk__HeapSize_hook(HANDLE h, DWORD flags, LPCVOID p)
{
    hk__rec r;
    if (p && !hk__off() && hk__dbg_peek(p, HK__HEAP_MALLOC, &r) == 1)
        return HK__REC_SIZE(&r);
    return hk__HeapSize(h, flags, p);
}

/* ---- C++ new/delete of libstdc++-6.dll --------------------------------------- */

/* Each hook marks the call pending, calls the real operator (its
 * new_handler loop, std::bad_alloc and alignment stay libstdc++'s), which
 * reaches the CRT through libstdc++'s own (patched) imports. */
enum {
    HK__NW, HK__NA, HK__NW_NT, HK__NA_NT, HK__NW_AL, HK__NA_AL, HK__NW_AL_NT, HK__NA_AL_NT,
    HK__DL, HK__DA, HK__DL_SZ, HK__DA_SZ, HK__DL_NT, HK__DA_NT, HK__DL_AL, HK__DA_AL,
    HK__DL_SZ_AL, HK__DA_SZ_AL, HK__DL_AL_NT, HK__DA_AL_NT, HK__NCXX
};
static void *hk__cxx_real[HK__NCXX];

static void hk__cxx_begin(hk__cxx_call *c)
{
    if (hk__cxx_tls != TLS_OUT_OF_INDEXES)
        TlsSetValue(hk__cxx_tls, c);
}

static void hk__cxx_end(void)
{
    if (hk__cxx_tls != TLS_OUT_OF_INDEXES)
        TlsSetValue(hk__cxx_tls, NULL);
}

#define HK__CXX_NEW(i, fam, params, args)                                                  \
    static void *hk__cxx_##i params                                                        \
    {                                                                                      \
        hk__cxx_call c = { fam, 0, 0, 0, HK__RET };                                        \
        void *p;                                                                           \
        hk__cxx_begin(&c);                                                                 \
        p = ((void *(*)params)hk__cxx_real[i])args;                                        \
        hk__cxx_end();                                                                     \
        return p;                                                                          \
    }
#define HK__CXX_DEL(i, fam, sized, n, params, args)                                        \
    static void hk__cxx_##i params                                                         \
    {                                                                                      \
        hk__cxx_call c = { fam, 1, sized, n, HK__RET };                                    \
        hk__cxx_begin(&c);                                                                 \
        ((void (*)params)hk__cxx_real[i])args;                                             \
        hk__cxx_end();                                                                     \
    }
typedef const void *hk__nt;              /* std::nothrow_t const & */
HK__CXX_NEW(HK__NW, HK__FAM_NEW, (size_t n), (n))
HK__CXX_NEW(HK__NA, HK__FAM_NEWARR, (size_t n), (n))
HK__CXX_NEW(HK__NW_NT, HK__FAM_NEW, (size_t n, hk__nt t), (n, t))
HK__CXX_NEW(HK__NA_NT, HK__FAM_NEWARR, (size_t n, hk__nt t), (n, t))
HK__CXX_NEW(HK__NW_AL, HK__FAM_NEW, (size_t n, size_t a), (n, a))
HK__CXX_NEW(HK__NA_AL, HK__FAM_NEWARR, (size_t n, size_t a), (n, a))
HK__CXX_NEW(HK__NW_AL_NT, HK__FAM_NEW, (size_t n, size_t a, hk__nt t), (n, a, t))
HK__CXX_NEW(HK__NA_AL_NT, HK__FAM_NEWARR, (size_t n, size_t a, hk__nt t), (n, a, t))
HK__CXX_DEL(HK__DL, HK__FAM_NEW, 0, 0, (void *p), (p))
HK__CXX_DEL(HK__DA, HK__FAM_NEWARR, 0, 0, (void *p), (p))
HK__CXX_DEL(HK__DL_SZ, HK__FAM_NEW, 1, n, (void *p, size_t n), (p, n))
HK__CXX_DEL(HK__DA_SZ, HK__FAM_NEWARR, 1, n, (void *p, size_t n), (p, n))
HK__CXX_DEL(HK__DL_NT, HK__FAM_NEW, 0, 0, (void *p, hk__nt t), (p, t))
HK__CXX_DEL(HK__DA_NT, HK__FAM_NEWARR, 0, 0, (void *p, hk__nt t), (p, t))
HK__CXX_DEL(HK__DL_AL, HK__FAM_NEW, 0, 0, (void *p, size_t a), (p, a))
HK__CXX_DEL(HK__DA_AL, HK__FAM_NEWARR, 0, 0, (void *p, size_t a), (p, a))
HK__CXX_DEL(HK__DL_SZ_AL, HK__FAM_NEW, 1, n, (void *p, size_t n, size_t a), (p, n, a))
HK__CXX_DEL(HK__DA_SZ_AL, HK__FAM_NEWARR, 1, n, (void *p, size_t n, size_t a), (p, n, a))
HK__CXX_DEL(HK__DL_AL_NT, HK__FAM_NEW, 0, 0, (void *p, size_t a, hk__nt t), (p, a, t))
HK__CXX_DEL(HK__DA_AL_NT, HK__FAM_NEWARR, 0, 0, (void *p, size_t a, hk__nt t), (p, a, t))

/* ---- patching ------------------------------------------------------------- */

typedef struct hk__pair {
    void *real, *hook;
} hk__pair;

#define HK__NPAIRS 96
static hk__pair hk__pairs[HK__NPAIRS];
static int hk__npairs;
static HMODULE hk__self;
static CRITICAL_SECTION hk__patch_lock;   /* hk__learn: one writer of the pairs */

static void hk__pair_add(void *real, void *hook)
{
    int i;
    if (!real)
        return;
    for (i = 0; i < hk__npairs; i++)
        if (hk__pairs[i].real == real)
            return;
    if (hk__npairs < HK__NPAIRS) {
        hk__pairs[hk__npairs].real = real;
        hk__pairs[hk__npairs].hook = hook;
        __atomic_store_n(&hk__npairs, hk__npairs + 1, __ATOMIC_RELEASE);   /* the loader's
                                                                         * callback reads */
    }
}

static void *hk__hook_for(void *real)
{
    int i, n = __atomic_load_n(&hk__npairs, __ATOMIC_ACQUIRE);
    for (i = 0; i < n; i++)
        if (hk__pairs[i].real == real)
            return hk__pairs[i].hook;
    return NULL;
}

#define HK__GET(m, name) ((void *)GetProcAddress((m), (name)))

/* 1 while DllMain runs in the loader's initialisation of the process (the
 * hook DLL is a static import): CRTs other than our own are not up yet. */
static int hk__at_init;
static void hk__exit_report(void);

/* A CRT learnt once it is loaded (ucrtbase may come with a later DLL). */
static void hk__crt_learn(int c, const wchar_t *name)
{
    static void *const hooks[HK__NCRT][9] = {
        { hk__malloc_0, hk__calloc_0, hk__realloc_0, hk__free_0, hk__msize_0, hk__recalloc_0,
          hk__amalloc_0, hk__afree_0, hk__arealloc_0 },
        { hk__malloc_1, hk__calloc_1, hk__realloc_1, hk__free_1, hk__msize_1, hk__recalloc_1,
          hk__amalloc_1, hk__afree_1, hk__arealloc_1 },
    };
    static const char *const names[9] = { "malloc", "calloc", "realloc", "free", "_msize",
                                          "_recalloc", "_aligned_malloc", "_aligned_free",
                                          "_aligned_realloc" };
    hk__crt *t = &hk__crts[c];
    HMODULE m;
    void **slot[9];
    int i;
    if (t->mod || !(m = GetModuleHandleW(name)))
        return;
    slot[0] = (void **)&t->malloc;
    slot[1] = (void **)&t->calloc;
    slot[2] = (void **)&t->realloc;
    slot[3] = (void **)&t->free;
    slot[4] = (void **)&t->msize;
    slot[5] = (void **)&t->recalloc;
    slot[6] = (void **)&t->aligned_malloc;
    slot[7] = (void **)&t->aligned_free;
    slot[8] = (void **)&t->aligned_realloc;
    for (i = 0; i < 9; i++)
        *slot[i] = HK__GET(m, names[i]);
    t->mod = m;
    for (i = 0; i < 9; i++)
        if (*slot[i])
            hk__pair_add(*slot[i], hooks[c][i]);
    /* msvcrt is our own dependency, so it is up; any other CRT is, unless
     * the loader is still initialising the process */
    if (c == HK__MSVCRT || !hk__at_init)
        hk__crt_ready(c);
}

/* The rest of learning a CRT, which calls into it: its heap (for
 * vouching) and, for ucrtbase, the report at its exit().  Once, by
 * whichever thread comes first; the others wait the few calls it takes. */
static void hk__crt_ready(int c)
{
    hk__crt *t = &hk__crts[c];
    intptr_t (*heap)(void);
    if (!t->mod || InterlockedCompareExchange(&t->ready, 1, 0) != 0) {
        while (t->mod && t->ready == 1)
            SwitchToThread();
        return;
    }
    heap = (intptr_t (*)(void))HK__GET(t->mod, "_get_heap_handle");
    t->heap = heap ? (HANDLE)heap() : NULL;
    if (c == HK__UCRT) {
        int (*crt_atexit)(void (*)(void)) =
            (int (*)(void (*)(void)))(void *)HK__GET(t->mod, "_crt_atexit");
        if (crt_atexit)
            crt_atexit(hk__exit_report);
    }
    InterlockedExchange(&t->ready, 2);
}

/* MinGW's libstdc++ DLL, once loaded: its operators' exports (size_t
 * is 'y' on 64-bit Windows).  A program linked with -static-libstdc++
 * has them inside: their blocks are seen as malloc's, without FK. */
static void hk__cxx_learn(void)
{
    static void *const hooks[HK__NCXX] = {
        hk__cxx_HK__NW, hk__cxx_HK__NA, hk__cxx_HK__NW_NT, hk__cxx_HK__NA_NT, hk__cxx_HK__NW_AL,
        hk__cxx_HK__NA_AL, hk__cxx_HK__NW_AL_NT, hk__cxx_HK__NA_AL_NT, hk__cxx_HK__DL,
        hk__cxx_HK__DA, hk__cxx_HK__DL_SZ, hk__cxx_HK__DA_SZ, hk__cxx_HK__DL_NT, hk__cxx_HK__DA_NT,
        hk__cxx_HK__DL_AL, hk__cxx_HK__DA_AL, hk__cxx_HK__DL_SZ_AL, hk__cxx_HK__DA_SZ_AL,
        hk__cxx_HK__DL_AL_NT, hk__cxx_HK__DA_AL_NT,
    };
    static const char *const names[HK__NCXX] = {
        "_Znwy", "_Znay", "_ZnwyRKSt9nothrow_t", "_ZnayRKSt9nothrow_t", "_ZnwySt11align_val_t",
        "_ZnaySt11align_val_t", "_ZnwySt11align_val_tRKSt9nothrow_t",
        "_ZnaySt11align_val_tRKSt9nothrow_t", "_ZdlPv", "_ZdaPv", "_ZdlPvy", "_ZdaPvy",
        "_ZdlPvRKSt9nothrow_t", "_ZdaPvRKSt9nothrow_t", "_ZdlPvSt11align_val_t",
        "_ZdaPvSt11align_val_t", "_ZdlPvySt11align_val_t", "_ZdaPvySt11align_val_t",
        "_ZdlPvSt11align_val_tRKSt9nothrow_t", "_ZdaPvSt11align_val_tRKSt9nothrow_t",
    };
    HMODULE m;
    IMAGE_NT_HEADERS *nt;
    int i;
    if (hk__cxx_lo || !(m = GetModuleHandleW(L"libstdc++-6.dll")))
        return;
    if (hk__cxx_tls == TLS_OUT_OF_INDEXES)
        hk__cxx_tls = TlsAlloc();
    if (hk__cxx_tls == TLS_OUT_OF_INDEXES)
        return;                          /* no slot: its blocks stay malloc's */
    nt = (IMAGE_NT_HEADERS *)((BYTE *)m + ((IMAGE_DOS_HEADER *)m)->e_lfanew);
    hk__cxx_hi = (uintptr_t)m + nt->OptionalHeader.SizeOfImage;
    for (i = 0; i < HK__NCXX; i++)
        hk__cxx_real[i] = HK__GET(m, names[i]);
    for (i = 0; i < HK__NCXX; i++)
        if (hk__cxx_real[i])
            hk__pair_add(hk__cxx_real[i], hooks[i]);
    __atomic_store_n(&hk__cxx_lo, (uintptr_t)m, __ATOMIC_RELEASE);
}

static void hk__learn(void)
{
    hk__crt_learn(HK__MSVCRT, L"msvcrt.dll");
    hk__crt_learn(HK__UCRT, L"ucrtbase.dll");
    hk__cxx_learn();
}

static void hk__patch_module(HMODULE m)
{
    BYTE *base = (BYTE *)m;
    IMAGE_DOS_HEADER *dos = (IMAGE_DOS_HEADER *)base;
    IMAGE_NT_HEADERS *nt;
    IMAGE_DATA_DIRECTORY *dir;
    IMAGE_IMPORT_DESCRIPTOR *d;
    if (m == hk__self || dos->e_magic != IMAGE_DOS_SIGNATURE || hk__dbg_system_module(m))
        return;
    nt = (IMAGE_NT_HEADERS *)(base + dos->e_lfanew);
    if (nt->Signature != IMAGE_NT_SIGNATURE)
        return;
    dir = &nt->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_IMPORT];
    if (!dir->VirtualAddress || !dir->Size)
        return;
    for (d = (IMAGE_IMPORT_DESCRIPTOR *)(base + dir->VirtualAddress); d->Name; d++) {
        IMAGE_THUNK_DATA *t = (IMAGE_THUNK_DATA *)(base + d->FirstThunk);
        for (; t->u1.Function; t++) {
            void *hook = hk__hook_for((void *)(uintptr_t)t->u1.Function);
            DWORD old;
            if (!hook)
                continue;
            /* left writable: two threads patching one module at once
             * (a LoadLibrary each) must not make it read-only under the
             * other's write; both write the same values */
            if (!VirtualProtect(&t->u1.Function, sizeof t->u1.Function, PAGE_READWRITE, &old))
                continue;
            __atomic_store_n(&t->u1.Function, (ULONG_PTR)hook, __ATOMIC_RELEASE);
        }
    }
}

/* Every loaded module, through the loader's own list (no psapi). */
static void hk__patch_all(void)
{
    HANDLE snap;
    MODULEENTRY32W me;
    EnterCriticalSection(&hk__patch_lock);
    hk__learn();
    LeaveCriticalSection(&hk__patch_lock);
    snap = CreateToolhelp32Snapshot(TH32CS_SNAPMODULE, GetCurrentProcessId());
    if (snap != INVALID_HANDLE_VALUE) {
        me.dwSize = sizeof me;
        if (Module32FirstW(snap, &me))
            do
                hk__patch_module(me.hModule);
            while (Module32NextW(snap, &me));
        CloseHandle(snap);
    }
}

/* ---- modules loaded later ----------------------------------------------------- */

static HMODULE WINAPI hk__LoadLibraryA_hook(LPCSTR name)
{
    HMODULE m = hk__LoadLibraryA(name);
    if (m)
        hk__patch_all();
    return m;
}

static HMODULE WINAPI hk__LoadLibraryW_hook(LPCWSTR name)
{
    HMODULE m = hk__LoadLibraryW(name);
    if (m)
        hk__patch_all();
    return m;
}

static HMODULE WINAPI hk__LoadLibraryExA_hook(LPCSTR name, HANDLE f, DWORD flags)
{
    HMODULE m = hk__LoadLibraryExA(name, f, flags);
    if (m)
        hk__patch_all();
    return m;
}

static HMODULE WINAPI hk__LoadLibraryExW_hook(LPCWSTR name, HANDLE f, DWORD flags)
{
    HMODULE m = hk__LoadLibraryExW(name, f, flags);
    if (m)
        hk__patch_all();
    return m;
}

/* The loader's notification comes once a DLL is mapped and its imports
 * bound, before its DllMain runs: patched then, its initialisers'
 * allocations are seen too.  (ntdll's, since Vista; Wine has it.) */
typedef struct hk__ldr_data {
    ULONG flags;
    const void *full_name, *base_name;   /* UNICODE_STRING * */
    void *base;
    ULONG size;
} hk__ldr_data;

static void CALLBACK hk__on_dll(ULONG reason, const hk__ldr_data *d, void *ctx)
{
    (void)ctx;
    if (reason == 1 && d && d->base)    /* LDR_DLL_NOTIFICATION_REASON_LOADED */
        hk__patch_module((HMODULE)d->base);   /* no lock of ours: the loader's is held */
}

static void hk__watch_loads(void)
{
    typedef LONG (NTAPI *reg_fn)(ULONG, void (CALLBACK *)(ULONG, const hk__ldr_data *, void *),
                                 void *, void **);
    static void *cookie;
    reg_fn reg = (reg_fn)(void *)HK__GET(GetModuleHandleW(L"ntdll.dll"),
                                         "LdrRegisterDllNotification");
    if (reg)
        reg(0, hk__on_dll, NULL, &cookie);
}

/* The report at the program's exit(), after its own atexit functions
 * (registered before them, run after them) and before ExitProcess: at
 * DLL_PROCESS_DETACH (our DLL's own atexit, the fallback for a program
 * that calls ExitProcess itself) Wine has already begun to end the
 * process, and the status HEAPKIT_ERROR_EXITCODE asks for does not
 * always win. */
static void hk__exit_report(void)
{
    int c;
    /* the program's output first, from every CRT's buffers: with
     * HEAPKIT_ERROR_EXITCODE the report ends the process, and its own
     * fflush reaches only the CRT heapkit is linked with */
    for (c = 0; c < HK__NCRT; c++)
        if (hk__crts[c].mod) {
            int (*flush)(FILE *) = (int (*)(FILE *))(void *)HK__GET(hk__crts[c].mod, "fflush");
            if (flush)
                flush(NULL);
        }
    hk__dbg_at_exit();
}

/* msvcrt's; ucrtbase's is set when it is ready (hk__crt_ready) */
static void hk__exit_in_crt(void)
{
    HMODULE m;
    if ((m = GetModuleHandleW(L"msvcrt.dll"))) {
        void *(*onexit)(void (*)(void)) = (void *(*)(void (*)(void)))(void *)HK__GET(m, "_onexit");
        if (onexit)
            onexit(hk__exit_report);
    }
}

/* ---- start ---------------------------------------------------------------------- */

#define HK__K32(name) (*(void **)&hk__##name = HK__GET(k32, #name), \
                       hk__pair_add((void *)hk__##name, (void *)hk__##name##_hook))

static void hk__hook_start(HMODULE self)
{
    HMODULE k32 = GetModuleHandleW(L"kernel32.dll");
    hk__self = self;
    InitializeCriticalSection(&hk__patch_lock);
    HK__K32(HeapAlloc);
    HK__K32(HeapReAlloc);
    HK__K32(HeapFree);
    HK__K32(HeapSize);
    HK__K32(HeapDestroy);
    HK__K32(LoadLibraryA);
    HK__K32(LoadLibraryW);
    HK__K32(LoadLibraryExA);
    HK__K32(LoadLibraryExW);
    hk__dbg_start();                     /* HEAPKIT_*; the report at exit */
    hk__dbg_snapshot_triggers();         /* its thread runs once DllMain returns */
    hk__exit_in_crt();
    hk__patch_all();
    hk__watch_loads();
    /* last: what heapkit set up itself is in the baseline */
    if (hk__dbg_cfg.walk_diff)
        hk__walkdiff_begin();
}

/* Exported: the injector can tell the DLL it loaded is this one. */
__declspec(dllexport) int hk_hook_version(void) { return 1; }

BOOL WINAPI DllMain(HINSTANCE self, DWORD why, LPVOID reserved)
{
    if (why == DLL_PROCESS_ATTACH) {
        hk__at_init = reserved != NULL;   /* non-NULL: a static load */
        hk__hook_start(self);
        hk__at_init = 0;
    }
    return TRUE;
}
