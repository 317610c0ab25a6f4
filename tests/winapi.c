/*
 * winapi.c - Win32 heap code as it is written for Windows: it includes
 * <windows.h> and uses HeapSetInformation, the Local* and Global*
 * families, the Win32 types and constants.  Built unchanged twice: by
 * MinGW against the real <windows.h> (run under Wine), and by gcc on Linux
 * with heapkit's opt-in include directory (pkg-config --cflags
 * heapkit-win32), whose <windows.h> is heapkit/win32.h.  The same
 * assertions hold on both.
 *
 * Check's bookkeeping between two asserts may reset the last error, so
 * every GetLastError() is read right after its call.
 */
#include <windows.h>

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The boilerplate at the top of many Win32 mains. */
START_TEST(main_boilerplate)
{
    HANDLE h = HeapCreate(HEAP_CREATE_ALIGN_16 | HEAP_GROWABLE, 0, 0);
    ULONG lfh = 2, got = 99;
    SIZE_T len = 0;
    void *p;
    BOOL ok;
    DWORD err;
    ck_assert(HeapSetInformation(NULL, HeapEnableTerminationOnCorruption, NULL, 0));
    ck_assert_ptr_nonnull(h);
    ck_assert(HeapSetInformation(h, HeapCompatibilityInformation, &lfh, sizeof lfh));
    ck_assert(HeapQueryInformation(h, HeapCompatibilityInformation, &got, sizeof got, &len));
    ck_assert_uint_eq(len, sizeof(ULONG));
    /* 2 (LFH) on Windows and heapkit; Wine 8 accepts LFH but reports 0 */
    ck_assert(got == 0 || got == 2);
    SetLastError(0);
    ok = HeapQueryInformation(h, HeapCompatibilityInformation, &got, 1, &len);
    err = GetLastError();
    ck_assert(!ok);
    ck_assert_uint_eq(err, ERROR_INSUFFICIENT_BUFFER);
    p = HeapAlloc(h, 0, 24);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq((uintptr_t)p % 16, 0);
    ck_assert(HeapFree(h, 0, p));
    ck_assert(HeapDestroy(h));
}
END_TEST

START_TEST(types_and_constants)
{
    PVOID pv = NULL;
    ULONG_PTR up = (ULONG_PTR)-1;
    ck_assert_uint_eq(sizeof(ULONG), 4);
    ck_assert_uint_eq(sizeof(LONG), 4);
    ck_assert_uint_eq(sizeof(DWORD), 4);
    ck_assert_uint_eq(sizeof(WORD), 2);
    ck_assert_uint_eq(sizeof(BYTE), 1);
    ck_assert_uint_eq(sizeof(SIZE_T), sizeof(void *));
    ck_assert_uint_eq(sizeof(ULONG_PTR), sizeof(void *));
    ck_assert_uint_eq(sizeof(HLOCAL), sizeof(void *));
    ck_assert_ptr_eq(INVALID_HANDLE_VALUE, (HANDLE)up);
    ck_assert_ptr_null(pv);
    ck_assert_uint_eq(HEAP_CREATE_ALIGN_16, 0x10000);
    ck_assert_uint_eq(LPTR, 0x40);
    ck_assert_uint_eq(GHND, 0x42);
    ck_assert_uint_eq(LMEM_MOVEABLE, GMEM_MOVEABLE);
    ck_assert_uint_eq(ERROR_NOT_LOCKED, 158);
    ck_assert_uint_eq(STATUS_NO_MEMORY, 0xC0000017u);
    ck_assert_uint_eq(sizeof(HEAP_SUMMARY) > sizeof(DWORD), 1);
}
END_TEST

/* What FormatMessage(...ALLOCATE_BUFFER) and CommandLineToArgvW callers
 * do with the buffer they get: LocalFree it. */
START_TEST(local_fixed)
{
    unsigned char *p = LocalAlloc(LPTR, 300);
    DWORD err;
    HLOCAL r;
    ck_assert_ptr_nonnull(p);
    for (int i = 0; i < 300; i++)
        ck_assert_uint_eq(p[i], 0);
    ck_assert_uint_ge(LocalSize(p), 300);
    ck_assert_uint_eq(LocalFlags(p) & LMEM_LOCKCOUNT, 0);
    ck_assert_ptr_eq(LocalLock(p), p);          /* fixed: the handle is the pointer */
    ck_assert_ptr_eq(LocalHandle(p), p);
    memset(p, 0x33, 300);
    p = LocalReAlloc(p, 600, LMEM_MOVEABLE);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(p[299], 0x33);
    SetLastError(1234);
    r = LocalFree(p);
    err = GetLastError();
    ck_assert_ptr_null(r);                      /* NULL is success */
    ck_assert_uint_eq(err, 1234);
    ck_assert_ptr_null(LocalFree(NULL));
}
END_TEST

START_TEST(global_moveable)
{
    HGLOBAL h = GlobalAlloc(GHND, 100);
    unsigned char *p, *q;
    BOOL ok;
    DWORD err;
    ck_assert_ptr_nonnull(h);
    ck_assert_uint_eq(GlobalFlags(h) & GMEM_LOCKCOUNT, 0);
    p = GlobalLock(h);
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_ne(p, h);                     /* a handle, not the data */
    for (int i = 0; i < 100; i++)
        ck_assert_uint_eq(p[i], 0);
    ck_assert_uint_eq(GlobalFlags(h) & GMEM_LOCKCOUNT, 1);
    q = GlobalLock(h);
    ck_assert_ptr_eq(q, p);
    ck_assert_uint_eq(GlobalFlags(h) & GMEM_LOCKCOUNT, 2);
    ck_assert_ptr_eq(GlobalHandle(p), h);
    ck_assert_uint_ge(GlobalSize(h), 100);
    memset(p, 0x5A, 100);
    ck_assert(GlobalUnlock(h));                 /* still locked once */
    SetLastError(1234);
    ok = GlobalUnlock(h);
    err = GetLastError();
    ck_assert(!ok);                             /* now unlocked ... */
    ck_assert_uint_eq(err, NO_ERROR);           /* ... which is no error */
    ck_assert_uint_eq(GlobalFlags(h) & GMEM_LOCKCOUNT, 0);
    SetLastError(0);
    ok = GlobalUnlock(h);
    err = GetLastError();
    ck_assert(!ok);
    ck_assert_uint_eq(err, ERROR_NOT_LOCKED);
    /* unlocked, it may move: the handle stays, the data follows */
    ck_assert_ptr_eq(GlobalReAlloc(h, 100000, GMEM_MOVEABLE), h);
    p = GlobalLock(h);
    ck_assert_ptr_nonnull(p);
    for (int i = 0; i < 100; i++)
        ck_assert_uint_eq(p[i], 0x5A);
    ck_assert_uint_ge(GlobalSize(h), 100000);
    GlobalUnlock(h);
    ck_assert_ptr_null(GlobalFree(h));
}
END_TEST

START_TEST(moveable_zero_is_discarded)
{
    HLOCAL h = LocalAlloc(LMEM_MOVEABLE, 0);
    LPVOID p;
    ck_assert_ptr_nonnull(h);
    ck_assert_uint_eq(LocalFlags(h) & LMEM_DISCARDED, LMEM_DISCARDED);
    ck_assert_uint_eq(LocalSize(h), 0);
    p = LocalLock(h);
    ck_assert_ptr_null(p);
    ck_assert_ptr_eq(LocalReAlloc(h, 64, LMEM_MOVEABLE), h);   /* brought back */
    ck_assert_uint_eq(LocalFlags(h) & LMEM_DISCARDED, 0);
    p = LocalLock(h);
    ck_assert_ptr_nonnull(p);
    LocalUnlock(h);
    ck_assert_ptr_null(LocalFree(h));
}
END_TEST

/* A walk of the process heap shows the moveable block's data, flagged
 * MOVEABLE with its handle (Windows, heapkit: tests/w32posix.c checks the
 * flag there; Wine 8 leaves the flag out, so here only: if flagged, then
 * with this handle). */
START_TEST(walk_shows_moveable)
{
    HGLOBAL h = GlobalAlloc(GMEM_MOVEABLE, 777);
    HANDLE ph = GetProcessHeap();
    PROCESS_HEAP_ENTRY e;
    void *p;
    int found = 0;
    DWORD err;
    ck_assert_ptr_nonnull(h);
    p = GlobalLock(h);
    ck_assert_ptr_nonnull(p);
    memset(&e, 0, sizeof e);
    ck_assert(HeapLock(ph));
    while (HeapWalk(ph, &e)) {
        if ((e.wFlags & PROCESS_HEAP_ENTRY_BUSY) && e.lpData == p) {
            ck_assert_uint_ge(e.cbData, 777);
            if (e.wFlags & PROCESS_HEAP_ENTRY_MOVEABLE)
                ck_assert_ptr_eq(e.Block.hMem, h);
            found++;
        }
    }
    err = GetLastError();
    ck_assert(HeapUnlock(ph));
    ck_assert_uint_eq(err, ERROR_NO_MORE_ITEMS);
    ck_assert_int_eq(found, 1);
    GlobalUnlock(h);
    ck_assert_ptr_null(GlobalFree(h));
}
END_TEST

#ifndef _WIN32
/* Wine 8's HeapSummary is a stub that aborts: Linux only. */
START_TEST(heap_summary)
{
    HANDLE h = HeapCreate(0, 0, 0);
    HEAP_SUMMARY s;
    void *p, *q;
    BOOL ok;
    DWORD err;
    ck_assert_ptr_nonnull(h);
    p = HeapAlloc(h, 0, 1000);
    q = HeapAlloc(h, 0, 3000);
    ck_assert(p && q);
    memset(&s, 0, sizeof s);
    s.cb = sizeof s;
    ck_assert(HeapSummary(h, 0, &s));
    ck_assert_uint_eq(s.cbAllocated, 4000);
    ck_assert_uint_ge(s.cbCommitted, s.cbAllocated);
    ck_assert_uint_ge(s.cbReserved, s.cbCommitted);
    s.cb = 3;
    SetLastError(0);
    ok = HeapSummary(h, 0, &s);
    err = GetLastError();
    ck_assert(!ok);
    ck_assert_uint_eq(err, ERROR_INVALID_PARAMETER);
    ck_assert(HeapFree(h, 0, q));
    ck_assert(HeapFree(h, 0, p));
    ck_assert(HeapDestroy(h));
}
END_TEST
#endif

int main(void)
{
    Suite *s = suite_create("winapi");
    TCase *tc = tcase_create("windows.h heap subset");
    SRunner *sr;
    int failed;
    tcase_add_test(tc, main_boilerplate);
    tcase_add_test(tc, types_and_constants);
    tcase_add_test(tc, local_fixed);
    tcase_add_test(tc, global_moveable);
    tcase_add_test(tc, moveable_zero_is_discarded);
    tcase_add_test(tc, walk_shows_moveable);
#ifndef _WIN32
    tcase_add_test(tc, heap_summary);
#endif
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
