/*
 * Note: Check's own bookkeeping between two asserts may reset the Win32
 * last error, so every GetLastError() is read right after its call.
 *
 * win32port.c - Win32 heap code, written against the Win32 names only,
 * built unchanged twice: with MinGW (the real Win32 heap, run under Wine)
 * and with gcc on Linux through <heapkit/win32.h> (the arena backend).
 * The same assertions hold on both: that is the porting promise.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <heapkit/win32.h>

static HANDLE heap;

static void setup(void)
{
    heap = HeapCreate(0, 0, 0);
    ck_assert_ptr_nonnull(heap);
}

static void teardown(void)
{
    ck_assert(HeapDestroy(heap));
}

START_TEST(alloc_size_free)
{
    unsigned char *p = HeapAlloc(heap, 0, 123), *z;
    int on_stack;
    BOOL ok;
    DWORD err;
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq((uintptr_t)p % 16, 0);
    ck_assert_uint_eq(HeapSize(heap, 0, p), 123);
    ck_assert(HeapValidate(heap, 0, p));
    ck_assert(HeapValidate(heap, 0, NULL));
    z = HeapAlloc(heap, HEAP_ZERO_MEMORY, 4096);
    ck_assert_ptr_nonnull(z);
    for (int i = 0; i < 4096; i++)
        ck_assert_uint_eq(z[i], 0);
    ck_assert(HeapFree(heap, 0, z));
    ck_assert(HeapFree(heap, 0, p));
    SetLastError(0);
    ok = HeapFree(heap, 0, p);                         /* double free */
    err = GetLastError();
    ck_assert(!ok);
    ck_assert_uint_eq(err, ERROR_INVALID_PARAMETER);
    ck_assert_uint_eq(HeapSize(heap, 0, p), (SIZE_T)-1);
    ck_assert(!HeapValidate(heap, 0, &on_stack));
    SetLastError(1234);
    ok = HeapFree(heap, 0, NULL);
    err = GetLastError();
    ck_assert(ok);
    ck_assert_uint_eq(err, 1234);
    SetLastError(0);
    z = HeapAlloc(heap, 0, ~(SIZE_T)0);
    err = GetLastError();
    ck_assert_ptr_null(z);
    ck_assert_uint_eq(err, ERROR_NOT_ENOUGH_MEMORY);
    p = HeapAlloc(heap, 0, 0);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(HeapSize(heap, 0, p), 0);
    ck_assert(HeapFree(heap, 0, p));
}
END_TEST

START_TEST(realloc_cases)
{
    unsigned char *p = HeapAlloc(heap, 0, 64), *q;
    void *fence = HeapAlloc(heap, 0, 64);
    DWORD err;
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(fence);
    memset(p, 0x5A, 64);
    SetLastError(0);
    q = HeapReAlloc(heap, HEAP_REALLOC_IN_PLACE_ONLY, p, 2u << 20);
    err = GetLastError();
    ck_assert_ptr_null(q);
    ck_assert_uint_eq(err, ERROR_NOT_ENOUGH_MEMORY);
    ck_assert_uint_eq(HeapSize(heap, 0, p), 64);
    q = HeapReAlloc(heap, HEAP_REALLOC_IN_PLACE_ONLY, p, 16);
    ck_assert_ptr_eq(q, p);
    q = HeapReAlloc(heap, HEAP_ZERO_MEMORY, p, 1000);
    ck_assert_ptr_nonnull(q);
    for (int i = 0; i < 16; i++)
        ck_assert_uint_eq(q[i], 0x5A);
    for (int i = 16; i < 1000; i++)
        ck_assert_uint_eq(q[i], 0);
    p = HeapReAlloc(heap, 0, q, 0);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(HeapSize(heap, 0, p), 0);
    ck_assert(HeapFree(heap, 0, p));
    ck_assert(HeapFree(heap, 0, fence));
}
END_TEST

START_TEST(walk_empty_heap)
{
    PROCESS_HEAP_ENTRY e[8];
    PROCESS_HEAP_ENTRY cur;
    int n = 0;
    DWORD err;
    memset(&cur, 0, sizeof cur);
    ck_assert(HeapLock(heap));
    while (n < 8 && HeapWalk(heap, &cur))
        e[n++] = cur;
    err = GetLastError();
    ck_assert(HeapUnlock(heap));
    ck_assert_uint_eq(err, ERROR_NO_MORE_ITEMS);
    ck_assert_int_eq(n, 3);
    ck_assert_uint_eq(e[0].wFlags, PROCESS_HEAP_REGION);
    ck_assert_uint_eq(e[1].wFlags, 0);
    ck_assert_uint_eq(e[2].wFlags, PROCESS_HEAP_UNCOMMITTED_RANGE);
    ck_assert_ptr_eq(e[0].Region.lpLastBlock, (char *)e[2].lpData + e[2].cbData);
    ck_assert_uint_gt(e[0].Region.dwCommittedSize, 0);
}
END_TEST

START_TEST(walk_sees_blocks)
{
    void *p[20];
    int seen[20] = { 0 }, i;
    PROCESS_HEAP_ENTRY cur;
    DWORD err;
    for (i = 0; i < 20; i++) {
        p[i] = HeapAlloc(heap, 0, (SIZE_T)(i * 50 + 1));
        ck_assert_ptr_nonnull(p[i]);
    }
    memset(&cur, 0, sizeof cur);
    HeapLock(heap);
    while (HeapWalk(heap, &cur)) {
        if (!(cur.wFlags & PROCESS_HEAP_ENTRY_BUSY))
            continue;
        for (i = 0; i < 20; i++)
            if (cur.lpData == p[i]) {
                ck_assert_int_eq(seen[i], 0);
                ck_assert_uint_eq(cur.cbData, (DWORD)(i * 50 + 1));
                seen[i] = 1;
            }
    }
    err = GetLastError();
    HeapUnlock(heap);
    ck_assert_uint_eq(err, ERROR_NO_MORE_ITEMS);
    for (i = 0; i < 20; i++) {
        ck_assert(seen[i]);
        ck_assert(HeapFree(heap, 0, p[i]));
    }
}
END_TEST

START_TEST(process_heaps)
{
    HANDLE buf[256], extra;
    DWORD n0, n1, i, err;
    BOOL ok;
    int found = 0;
    n0 = GetProcessHeaps(0, NULL);
    ck_assert_uint_ge(n0, 2);
    extra = HeapCreate(0, 0, 0);
    ck_assert_ptr_nonnull(extra);
    n1 = GetProcessHeaps(0, NULL);
    ck_assert_uint_eq(n1, n0 + 1);
    ck_assert_uint_le(n1, 256);
    buf[0] = NULL;
    ck_assert_uint_eq(GetProcessHeaps(1, buf), n1);   /* too small: untouched */
    ck_assert_ptr_null(buf[0]);
    ck_assert_uint_eq(GetProcessHeaps(256, buf), n1);
    ck_assert_ptr_eq(buf[0], GetProcessHeap());
    for (i = 0; i < n1; i++)
        found += buf[i] == extra;
    ck_assert_int_eq(found, 1);
    ck_assert(HeapDestroy(extra));
    ck_assert_uint_eq(GetProcessHeaps(0, NULL), n0);
    SetLastError(0);
    ok = HeapDestroy(GetProcessHeap());
    err = GetLastError();
    ck_assert(!ok);
    ck_assert_uint_eq(err, ERROR_INVALID_HANDLE);
}
END_TEST

START_TEST(fixed_heap)
{
    HANDLE f = HeapCreate(0, 0, 1u << 20);
    void *p, *q;
    DWORD err;
    ck_assert_ptr_nonnull(f);
    p = HeapAlloc(f, 0, 1000);
    ck_assert_ptr_nonnull(p);
    SetLastError(0);
    q = HeapAlloc(f, 0, 2u << 20);
    err = GetLastError();
    ck_assert_ptr_null(q);
    ck_assert_uint_eq(err, ERROR_NOT_ENOUGH_MEMORY);
    ck_assert(HeapFree(f, 0, p));
    ck_assert(HeapDestroy(f));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("win32port");
    TCase *tc = tcase_create("win32 names");
    SRunner *sr;
    int failed;
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, alloc_size_free);
    tcase_add_test(tc, realloc_cases);
    tcase_add_test(tc, walk_empty_heap);
    tcase_add_test(tc, walk_sees_blocks);
    tcase_add_test(tc, process_heaps);
    tcase_add_test(tc, fixed_heap);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
