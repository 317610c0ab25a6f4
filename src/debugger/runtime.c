/*
 * runtime.c - is this code a C or C++ runtime's?  The tracker numbers the
 * blocks such code allocates apart from the program's (tracker.c: runtime
 * numbers, "r1", "r2"...), and the report leaves the runtime's still
 * reachable blocks out of its counts: each OS's runtimes allocate other
 * blocks for themselves (glibc's stdio and getline buffers, mingw-w64's
 * copy of argv, each DLL's atexit table, winpthreads' thread records), so
 * only the program's own blocks keep the same number and count on Linux
 * and on Windows.  Decided once per call site, never on a hot path.
 *
 * Runtime code is:
 *  - a runtime library, by its file name: libc, ld.so, libm, libpthread,
 *    libstdc++, libgcc_s (Linux); libstdc++, libgcc_s, libwinpthread DLLs
 *    and every DLL of the system directory (msvcrt, ucrtbase) (Windows);
 *  - on Windows, runtime objects linked statically into the program's own
 *    modules, told by the module's COFF symbol table (the file on disk):
 *    mingw-w64's start-up and exit-table objects by their source names,
 *    and any object that defines a function with a name the C and POSIX
 *    standards reserve to the implementation (pthread_*, sem_*, sched_*)
 *    or libgcc's emulated TLS (__emutls_*): winpthreads and libgcc linked
 *    statically.
 */
#if !defined(_WIN32) && !defined(_GNU_SOURCE)
#  define _GNU_SOURCE 1           /* dladdr */
#endif
#include "tracker.h"

#include <string.h>

#ifndef _WIN32
#include <dlfcn.h>
#include <sys/auxv.h>

/* heapkit's own shared object's base (the preload, libheapkit.so), or 0
 * where it is linked into the program (its frames are then the program's). */
uintptr_t hk__dbg_self_base(void)
{
    Dl_info self, prog;
    if (!dladdr((void *)(uintptr_t)&hk__dbg_self_base, &self))
        return 0;
    if (dladdr((void *)(uintptr_t)getauxval(AT_PHDR), &prog) && prog.dli_fbase == self.dli_fbase)
        return 0;
    return (uintptr_t)self.dli_fbase;
}

static const char *const hk__rt_libs[] = {
    "libc.so.", "libc-", "ld-linux", "ld64.so.", "ld.so.", "libm.so.", "libpthread.so.",
    "libdl.so.", "librt.so.", "libstdc++.so.", "libgcc_s.so.", "libc++.so.", "libc++abi.so.",
    NULL
};

int hk__dbg_runtime_pc(uintptr_t pc)
{
    Dl_info info;
    const char *base;
    int i;
    if (!pc || !dladdr((void *)pc, &info) || !info.dli_fname)
        return 0;
    base = strrchr(info.dli_fname, '/');
    base = base ? base + 1 : info.dli_fname;
    for (i = 0; hk__rt_libs[i]; i++)
        if (strncmp(base, hk__rt_libs[i], strlen(hk__rt_libs[i])) == 0)
            return 1;
    return 0;
}

#else /* _WIN32 */
#include <windows.h>

/* A module seen: all of it the runtime's, none, or by function ranges
 * (rva: where a run of functions of one kind starts, sorted). */
struct hk__rt_run { uint32_t rva, rt; };
struct hk__rt_mod {
    uintptr_t base;
    int whole;                       /* 1: a runtime library, -1: no runs */
    struct hk__rt_run *run;
    uint32_t nrun;
    size_t bytes;
};

#define HK__RT_MODS 128
static struct hk__rt_mod hk__rt_mods[HK__RT_MODS];
static unsigned hk__rt_nmods;
static SRWLOCK hk__rt_lock = SRWLOCK_INIT;

static const wchar_t *const hk__rt_dlls[] = {
    L"libstdc++", L"libgcc_s", L"libwinpthread", NULL
};

/* mingw-w64's start-up and exit code (crt2.o / dllcrt2.o and libmingw32):
 * the argv copy, the atexit tables, TLS destructors. */
static const char *const hk__rt_objs[] = {
    "crtexe.c", "crtdll.c", "onexit_table.c", "atonexit.c", "tlsthrd.c", "tlssup.c",
    "gccmain.c", "pseudo-reloc.c", "crt_handler.c", "dllargv.c", "natstart.c", "emutls.c",
    NULL
};

static const char *const hk__rt_prefixes[] = {
    "pthread_", "sem_", "sched_", "__emutls_", NULL
};

static int hk__rt_name_dll(const wchar_t *path)
{
    const wchar_t *b = path, *s;
    int i;
    for (s = path; *s; s++)
        if (*s == L'\\' || *s == L'/')
            b = s + 1;
    for (i = 0; hk__rt_dlls[i]; i++)
        if (_wcsnicmp(b, hk__rt_dlls[i], wcslen(hk__rt_dlls[i])) == 0)
            return 1;
    return 0;
}

/* COFF: 18-byte symbols, a name inline (8 bytes) or in the string table. */
#define HK__SYM 18
static uint32_t hk__rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint16_t hk__rd16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }

struct hk__coff {
    const unsigned char *sym, *str;
    size_t nsym, strsize;
};

/* The symbol's name, copied (NUL-ended) into buf. */
static void hk__coff_name(const struct hk__coff *c, const unsigned char *s, char *buf, size_t cap)
{
    size_t n = 0;
    if (hk__rd32(s) == 0) {
        uint32_t off = hk__rd32(s + 4);
        if (off < c->strsize)
            for (; n + 1 < cap && off + n < c->strsize && c->str[off + n]; n++)
                buf[n] = (char)c->str[off + n];
    } else {
        for (; n < 8 && n + 1 < cap && s[n]; n++)
            buf[n] = (char)s[n];
    }
    buf[n] = 0;
}

static int hk__rt_in(const char *name, const char *const *list, int prefix)
{
    int i;
    for (i = 0; list[i]; i++)
        if (prefix ? strncmp(name, list[i], strlen(list[i])) == 0 : strcmp(name, list[i]) == 0)
            return 1;
    return 0;
}

static void hk__rt_sort(struct hk__rt_run *a, uint32_t n)
{
    uint32_t gap, i, j;
    for (gap = n / 2; gap > 0; gap /= 2)
        for (i = gap; i < n; i++) {
            struct hk__rt_run x = a[i];
            for (j = i; j >= gap && a[j - gap].rva > x.rva; j -= gap)
                a[j] = a[j - gap];
            a[j] = x;
        }
}

/* The runs of the module whose file is path, from its COFF symbol table; 0: none (no
 * table, a stripped file, or out of memory): all of it the program's. */
static int hk__rt_coff(const WCHAR *path, struct hk__rt_mod *e)
{
    HANDLE f, map = NULL;
    const unsigned char *v = NULL, *fh, *sec;
    LARGE_INTEGER fsz;
    size_t size, i, nobj = 0, nfn = 0, obj;
    uint32_t lfa, nsec;
    unsigned char *objrt = NULL;
    struct hk__rt_run *run = NULL;
    struct hk__coff c;
    char name[64];
    int ok = 0;
    f = CreateFileW(path, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                    NULL, OPEN_EXISTING, 0, NULL);
    if (f == INVALID_HANDLE_VALUE)
        return 0;
    if (!GetFileSizeEx(f, &fsz) || fsz.QuadPart < 0x40 || fsz.QuadPart > ((LONGLONG)1 << 31))
        goto out;
    size = (size_t)fsz.QuadPart;
    if (!(map = CreateFileMappingW(f, NULL, PAGE_READONLY, 0, 0, NULL))
        || !(v = MapViewOfFile(map, FILE_MAP_READ, 0, 0, 0)))
        goto out;
    lfa = hk__rd32(v + 0x3c);
    if ((size_t)lfa + 24 > size || memcmp(v + lfa, "PE\0\0", 4) != 0)
        goto out;
    fh = v + lfa + 4;
    nsec = hk__rd16(fh + 2);
    c.nsym = hk__rd32(fh + 12);
    sec = fh + 20 + hk__rd16(fh + 16);
    if (!c.nsym || hk__rd32(fh + 8) == 0 || (size_t)(sec - v) + (size_t)nsec * 40 > size
        || hk__rd32(fh + 8) > size || c.nsym > (size - hk__rd32(fh + 8)) / HK__SYM)
        goto out;
    c.sym = v + hk__rd32(fh + 8);
    c.str = c.sym + c.nsym * HK__SYM;
    c.strsize = size - (size_t)(c.str - v);
    /* pass 1: the objects (C_FILE, class 103) and function symbols */
    for (i = 0; i < c.nsym; i += 1 + c.sym[i * HK__SYM + 17]) {
        const unsigned char *s = c.sym + i * HK__SYM;
        if (s[16] == 103)
            nobj++;
        else if ((int16_t)hk__rd16(s + 12) > 0 && (hk__rd16(s + 14) & 0x30) == 0x20)
            nfn++;
    }
    if (!nobj || !nfn)
        goto out;
    objrt = hk__dbg_os_alloc(nobj + 1);
    run = hk__dbg_os_alloc(nfn * sizeof *run);
    if (!objrt || !run)
        goto out;
    memset(objrt, 0, nobj + 1);
    /* pass 2: which objects are the runtime's */
    for (i = 0, obj = 0; i < c.nsym; i += 1 + c.sym[i * HK__SYM + 17]) {
        const unsigned char *s = c.sym + i * HK__SYM;
        int16_t secno = (int16_t)hk__rd16(s + 12);
        if (s[16] == 103) {
            /* the file name: the aux records, NUL-padded */
            size_t k, naux = s[17];
            obj++;
            for (k = 0; k < naux * HK__SYM && k + 1 < sizeof name && i + 1 + k / HK__SYM < c.nsym
                        && s[HK__SYM + k]; k++)
                name[k] = (char)s[HK__SYM + k];
            name[k] = 0;
            if (hk__rt_in(name, hk__rt_objs, 0))
                objrt[obj] = 1;
        } else if (s[16] == 2 && secno > 0 && (hk__rd16(s + 14) & 0x30) == 0x20) {
            hk__coff_name(&c, s, name, sizeof name);
            if (hk__rt_in(name, hk__rt_prefixes, 1))
                objrt[obj] = 1;
        }
    }
    /* pass 3: each function's start and its object's kind */
    e->nrun = 0;
    for (i = 0, obj = 0; i < c.nsym; i += 1 + c.sym[i * HK__SYM + 17]) {
        const unsigned char *s = c.sym + i * HK__SYM;
        int16_t secno = (int16_t)hk__rd16(s + 12);
        if (s[16] == 103)
            obj++;
        else if (secno > 0 && (uint32_t)secno <= nsec && (hk__rd16(s + 14) & 0x30) == 0x20
                 && e->nrun < nfn) {
            run[e->nrun].rva = hk__rd32(sec + (size_t)(secno - 1) * 40 + 12) + hk__rd32(s + 8);
            run[e->nrun].rt = objrt[obj];
            e->nrun++;
        }
    }
    hk__rt_sort(run, e->nrun);
    {   /* only where the kind changes */
        uint32_t k, m2 = 0;
        for (k = 0; k < e->nrun; k++)
            if (m2 == 0 || run[m2 - 1].rt != run[k].rt)
                run[m2++] = run[k];
        e->nrun = m2;
    }
    e->run = run;
    e->bytes = nfn * sizeof *run;
    run = NULL;
    ok = 1;
out:
    if (objrt)
        hk__dbg_os_free(objrt, nobj + 1);
    if (run)
        hk__dbg_os_free(run, nfn * sizeof *run);
    if (v)
        UnmapViewOfFile(v);
    if (map)
        CloseHandle(map);
    CloseHandle(f);
    return ok;
}

static int hk__rt_lookup(const struct hk__rt_mod *e, uintptr_t pc)
{
    uint32_t lo = 0, hi = e->nrun, rva;
    if (e->whole)
        return e->whole > 0;
    if (pc - e->base > 0xFFFFFFFFu)
        return 0;
    rva = (uint32_t)(pc - e->base);
    while (lo < hi) {                       /* the last run starting at or before rva */
        uint32_t mid = lo + (hi - lo) / 2;
        if (e->run[mid].rva <= rva)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 && e->run[lo - 1].rt;
}

int hk__dbg_runtime_pc(uintptr_t pc)
{
    HMODULE m;
    WCHAR path[MAX_PATH];
    struct hk__rt_mod *e = NULL;
    unsigned i;
    int rt = 0;
    DWORD n;
    if (!pc || !GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS
                                   | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                                   (LPCWSTR)pc, &m))
        return 0;
    AcquireSRWLockExclusive(&hk__rt_lock);
    for (i = 0; i < hk__rt_nmods; i++)
        if (hk__rt_mods[i].base == (uintptr_t)m) {
            e = &hk__rt_mods[i];
            break;
        }
    if (!e && hk__rt_nmods < HK__RT_MODS) {
        e = &hk__rt_mods[hk__rt_nmods];
        memset(e, 0, sizeof *e);
        e->base = (uintptr_t)m;
        /* the file name once: by name, the system directory, the file */
        n = GetModuleFileNameW(m, path, MAX_PATH);
        if (n == 0 || n >= MAX_PATH)
            e->whole = -1;          /* unknown: the program's */
        else if (hk__rt_name_dll(path) || hk__dbg_system_path(path, n))
            e->whole = 1;
        else if (!hk__rt_coff(path, e))
            e->whole = -1;
        hk__rt_nmods++;
    }
    if (e)
        rt = hk__rt_lookup(e, pc);
    ReleaseSRWLockExclusive(&hk__rt_lock);
    return rt;
}
#endif
