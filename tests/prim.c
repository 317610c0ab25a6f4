/* tests/prim.c - src/prim, heapkit's OS layer for virtual memory, both
 * lanes: what prim.h promises about alignment, zeroing, access and the
 * failure values, checked against the OS's own view of the pages
 * (/proc/self/maps on Linux, VirtualQuery on Windows).  The layer is
 * compiled into this program (its names are internal to the library). */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prim.h"

#if defined(_WIN32)
#  include <windows.h>
#else
#  include <unistd.h>
#endif

#define MIB ((size_t)1 << 20)

/* The OS's protection of the page at p: 'n' no access, 'r' read-only,
 * 'w' read/write, '?' unknown or not mapped. */
static char prot_of(const void *p)
{
#if defined(_WIN32)
    MEMORY_BASIC_INFORMATION mi;
    if (!VirtualQuery(p, &mi, sizeof mi))
        return '?';
    if (mi.State != MEM_COMMIT)
        return mi.State == MEM_RESERVE ? 'n' : '?';
    switch (mi.Protect & 0xff) {
    case PAGE_NOACCESS: return 'n';
    case PAGE_READONLY: return 'r';
    case PAGE_READWRITE: return 'w';
    default: return '?';
    }
#elif defined(__linux__)
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512], r = '?';
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char perm[5];
        if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perm) == 3
            && (uintptr_t)p >= lo && (uintptr_t)p < hi) {
            r = perm[0] != 'r' ? 'n' : perm[1] == 'w' ? 'w' : 'r';
            break;
        }
    }
    fclose(f);
    return r;
#else
    (void)p;
    ck_abort_msg("no way to read page protections on this OS");
    return '?';
#endif
}

static int all_zero(const unsigned char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

START_TEST(sizes)
{
    size_t pg = hk__prim_page_size();
    ck_assert_uint_ge(pg, 4096);
    ck_assert_uint_eq(pg & (pg - 1), 0);
    ck_assert_uint_eq(hk__prim_page_size(), pg);          /* cached, same */
    ck_assert_uint_eq(hk__prim_granularity(), HK__PRIM_GRAN);
    ck_assert_uint_eq(HK__PRIM_GRAN % pg, 0);
}
END_TEST

/* Page aligned by default, 64 KiB aligned when asked, zeroed, writable. */
START_TEST(map_aligned_zeroed)
{
    size_t pg = hk__prim_page_size(), sizes[] = { 1, 4096, 5000, 65536, 3 * MIB + 123 };
    size_t i, k;
    for (k = 0; k < 2; k++) {
        size_t align = k ? HK__PRIM_GRAN : 0;
        for (i = 0; i < sizeof sizes / sizeof *sizes; i++) {
            unsigned char *p = hk__prim_map(sizes[i], align);
            ck_assert_ptr_nonnull(p);
            ck_assert_uint_eq((uintptr_t)p % (align ? align : pg), 0);
            ck_assert(all_zero(p, sizes[i]));
            ck_assert_int_eq(prot_of(p), 'w');
            memset(p, 0xA5, sizes[i]);
            ck_assert_int_eq(p[sizes[i] - 1], 0xA5);
            hk__prim_unmap(p, sizes[i]);
        }
    }
}
END_TEST

START_TEST(bad_arguments)
{
    char *p;
    ck_assert_ptr_null(hk__prim_map(0, 0));
    ck_assert_ptr_null(hk__prim_map(4096, 3));                 /* not 2^k */
    ck_assert_ptr_null(hk__prim_map(4096, 2 * HK__PRIM_GRAN)); /* too big */
    ck_assert_ptr_null(hk__prim_map(SIZE_MAX - 4096, 0));
    ck_assert_ptr_null(hk__prim_reserve(0, 0));
    ck_assert_ptr_null(hk__prim_reserve(SIZE_MAX - 4096, HK__PRIM_GRAN));
    hk__prim_unmap(NULL, 4096);                                /* ignored */
    p = hk__prim_map(4096, 0);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(hk__prim_protect(p, 4096, 7), HK_ERR_INVALID_PARAMETER);
    ck_assert_int_eq(prot_of(p), 'w');
    hk__prim_unmap(p, 4096);
}
END_TEST

/* A reservation has no access; commit opens pages (zeroed), decommit
 * closes them and a second commit gives zeros again. */
START_TEST(reserve_commit_decommit)
{
    size_t pg = hk__prim_page_size(), n = 4 * MIB;
    unsigned char *r = hk__prim_reserve(n, HK__PRIM_GRAN), *m;
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq((uintptr_t)r % HK__PRIM_GRAN, 0);
    ck_assert_int_eq(prot_of(r), 'n');
    m = r + HK__PRIM_GRAN;
    ck_assert_int_eq(hk__prim_commit(m, 4 * pg), HK_OK);
    ck_assert_int_eq(prot_of(m), 'w');
    ck_assert_int_eq(prot_of(m + 3 * pg), 'w');
    ck_assert_int_eq(prot_of(m + 4 * pg), 'n');
    ck_assert_int_eq(prot_of(r), 'n');
    ck_assert(all_zero(m, 4 * pg));
    memset(m, 0x5A, 4 * pg);
    ck_assert_int_eq(hk__prim_decommit(m, 4 * pg), HK_OK);
    ck_assert_int_eq(prot_of(m), 'n');
    ck_assert_int_eq(hk__prim_commit(m, 4 * pg), HK_OK);
    ck_assert(all_zero(m, 4 * pg));
    /* a length short of a page covers the whole page */
    ck_assert_int_eq(hk__prim_commit(r + n - pg, 1), HK_OK);
    ck_assert_int_eq(prot_of(r + n - 1), 'w');
    r[n - 1] = 1;
    hk__prim_unmap(r, n);
}
END_TEST

/* Committing where nothing is reserved is the OS's refusal, named. */
START_TEST(commit_outside_fails)
{
    size_t n = 4 * HK__PRIM_GRAN;
    char *r = hk__prim_reserve(n, HK__PRIM_GRAN);
    ck_assert_ptr_nonnull(r);
    hk__prim_unmap(r, n);
    ck_assert_int_eq(hk__prim_commit(r, HK__PRIM_GRAN), HK_ERR_NO_MEMORY);
    ck_assert_int_eq(prot_of(r), '?');
}
END_TEST

/* Reset pages stay usable; on POSIX they read as zero. */
START_TEST(reset_keeps_pages)
{
    size_t pg = hk__prim_page_size(), n = 16 * pg;
    unsigned char *p = hk__prim_map(n, 0);
    ck_assert_ptr_nonnull(p);
    memset(p, 0x77, n);
    hk__prim_reset(p + pg, 8 * pg);
    ck_assert_int_eq(prot_of(p + pg), 'w');
    ck_assert_int_eq(p[0], 0x77);
    ck_assert_int_eq(p[9 * pg], 0x77);
#ifndef _WIN32
    ck_assert(all_zero(p + pg, 8 * pg));
#endif
    memset(p + pg, 1, 8 * pg);                 /* still writable */
    ck_assert_int_eq(p[pg], 1);
    hk__prim_unmap(p, n);
}
END_TEST

/* A guard page (the tracker's alternate stack) and a read-only page (the
 * arena's barrier), as the OS sees them. */
START_TEST(protect_levels)
{
    size_t pg = hk__prim_page_size();
    unsigned char *p = hk__prim_map(3 * pg, 0);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(hk__prim_protect(p, pg, HK__PRIM_NONE), HK_OK);
    ck_assert_int_eq(prot_of(p), 'n');
    ck_assert_int_eq(prot_of(p + pg), 'w');
    ck_assert_int_eq(hk__prim_protect(p + 2 * pg, pg, HK__PRIM_READ), HK_OK);
    ck_assert_int_eq(prot_of(p + 2 * pg), 'r');
    ck_assert_int_eq(p[2 * pg], 0);
    ck_assert_int_eq(hk__prim_protect(p, 3 * pg, HK__PRIM_RW), HK_OK);
    ck_assert_int_eq(prot_of(p), 'w');
    p[0] = p[2 * pg] = 1;
    hk__prim_unmap(p, 3 * pg);
}
END_TEST

/* POSIX unmaps exactly the range given: a mapping's tail can go alone. */
START_TEST(unmap_tail)
{
#ifdef _WIN32
    /* Windows releases whole allocations: the size is not looked at */
    char *p = hk__prim_map(HK__PRIM_GRAN, 0);
    ck_assert_ptr_nonnull(p);
    hk__prim_unmap(p, 1);
    ck_assert_int_eq(prot_of(p), '?');
#else
    size_t pg = hk__prim_page_size();
    char *p = hk__prim_map(4 * pg, 0);
    ck_assert_ptr_nonnull(p);
    hk__prim_unmap(p + 2 * pg, 2 * pg);
    ck_assert_int_eq(prot_of(p + 2 * pg), '?');
    ck_assert_int_eq(prot_of(p + pg), 'w');
    p[2 * pg - 1] = 1;
    hk__prim_unmap(p, 2 * pg);
    ck_assert_int_eq(prot_of(p), '?');
#endif
}
END_TEST

/* At least the machine's physical memory, and known. */
START_TEST(commit_limit)
{
    size_t lim = hk__prim_commit_limit();
    unsigned long long phys;
#if defined(_WIN32)
    MEMORYSTATUSEX ms;
    ms.dwLength = sizeof ms;
    ck_assert(GlobalMemoryStatusEx(&ms));
    phys = ms.ullTotalPhys;
#else
    phys = (unsigned long long)sysconf(_SC_PHYS_PAGES) * (unsigned long long)sysconf(_SC_PAGESIZE);
#endif
    ck_assert_uint_ne(lim, SIZE_MAX);
    ck_assert_uint_gt(phys, 0);
    ck_assert_uint_ge((unsigned long long)lim, phys);
}
END_TEST

static Suite *prim_suite(void)
{
    Suite *s = suite_create("prim");
    TCase *tc = tcase_create("prim");
    tcase_add_test(tc, sizes);
    tcase_add_test(tc, map_aligned_zeroed);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, reserve_commit_decommit);
    tcase_add_test(tc, commit_outside_fails);
    tcase_add_test(tc, reset_keeps_pages);
    tcase_add_test(tc, protect_levels);
    tcase_add_test(tc, unmap_tail);
    tcase_add_test(tc, commit_limit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(prim_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
