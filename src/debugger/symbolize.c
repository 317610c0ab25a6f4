/*
 * symbolize.c - code addresses to function, file, line and module+offset,
 * for the report.  Runs at report time only, never when a block is
 * allocated.
 *
 * Linux: elfutils' libdw (the Dwfl API) over the process's own modules as
 * /proc/self/maps lists them.  Every answer is cached per address, and
 * every string is copied into the symbolizer's own OS memory, so it stays
 * valid when a module is unloaded and the module list is read again.
 * libdw allocates with malloc: that must not be recorded, so the lookups
 * run with the tracker suspended (HK__SYM_ENTER).
 *
 * Windows: module+offset from GetModuleHandleEx, function, file and line
 * from DbgHelp (loaded at report time; see below).
 */
#if !defined(_WIN32) && !defined(_GNU_SOURCE)
#  define _GNU_SOURCE 1           /* dladdr, program_invocation_short_name */
#endif
#include "tracker.h"
#include "symbolize.h"

#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#  include <windows.h>
#  include <dbghelp.h>
#else
#  include <dlfcn.h>
#  include <errno.h>
#  include <unistd.h>
#  include <elfutils/libdwfl.h>
#  include <elfutils/libdw.h>
#  include <dwarf.h>
#  include <elf.h>
#  include <fcntl.h>
#  include <link.h>
#  include <signal.h>
#  include <sys/auxv.h>
#  include <sys/mman.h>
#  include <sys/prctl.h>
#  include <sys/stat.h>
#  include <sys/wait.h>
#  include <time.h>
#  include <ucontext.h>
#  include <unwind.h>
#endif

/* What libdw allocates while the report symbolizes must not be recorded:
 * the tracker's internal guard passes this thread's calls on untracked
 * (the preload; with the macros alone libdw's malloc is not seen anyway). */
#define HK__SYM_ENTER() hk__dbg_internal_enter()
#define HK__SYM_LEAVE() hk__dbg_internal_leave()

/* One lock for the cache, the string pool and libdw's state (a report is
 * written by one thread at a time, but hk_debug_report may race the exit
 * report). */
static volatile int hk__sym_lock_word;

static void hk__sym_lock(void)
{
    while (__atomic_exchange_n(&hk__sym_lock_word, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&hk__sym_lock_word, __ATOMIC_RELAXED))
            ;
}

static int hk__sym_trylock(void)
{
    return !__atomic_exchange_n(&hk__sym_lock_word, 1, __ATOMIC_ACQUIRE);
}

static void hk__sym_unlock(void)
{
    __atomic_store_n(&hk__sym_lock_word, 0, __ATOMIC_RELEASE);
}

/* ---- strings: a bump pool in OS memory ------------------------------------ */

#define HK__POOL_CHUNK ((size_t)64 * 1024)
static char *hk__pool, *hk__pool_end;

static const char *hk__sym_strndup(const char *s, size_t n)
{
    char *r;
    if (!s)
        return NULL;
    if (n + 1 > (size_t)(hk__pool_end - hk__pool)) {
        size_t sz = n + 1 > HK__POOL_CHUNK ? n + 1 : HK__POOL_CHUNK;
        char *c = hk__dbg_os_alloc_raw(sz);
        if (!c)
            return NULL;
        hk__pool = c;
        hk__pool_end = c + sz;
    }
    r = hk__pool;
    memcpy(r, s, n);
    r[n] = 0;
    hk__pool += n + 1;
    return r;
}

static const char *hk__sym_strdup(const char *s)
{
    return s ? hk__sym_strndup(s, strlen(s)) : NULL;
}

static const char *hk__sym_base(const char *path)
{
    const char *s, *b = path;
    if (!path)
        return NULL;
    for (s = path; *s; s++)
        if (*s == '/' || *s == '\\')
            b = s + 1;
    return b;
}

/* ---- the cache: open addressing by (address, is-return) ----------------- */

typedef struct {
    uintptr_t key;             /* pc << 1 | is_return; 0: empty */
    hk__frame_info info;
} hk__sym_slot;

static hk__sym_slot *hk__cache;
static size_t hk__cache_cap, hk__cache_n;

static size_t hk__slot_of(uintptr_t key, size_t cap)
{
    uint64_t h = (uint64_t)key * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32) & (cap - 1);
}

static hk__sym_slot *hk__cache_find(uintptr_t key)
{
    size_t i;
    if (!hk__cache)
        return NULL;
    for (i = hk__slot_of(key, hk__cache_cap); hk__cache[i].key;
         i = (i + 1) & (hk__cache_cap - 1))
        if (hk__cache[i].key == key)
            return &hk__cache[i];
    return NULL;
}

static void hk__cache_put(uintptr_t key, const hk__frame_info *fi)
{
    size_t i;
    if ((hk__cache_n + 1) * 2 > hk__cache_cap) {
        size_t ncap = hk__cache_cap ? hk__cache_cap * 2 : 1024, j;
        hk__sym_slot *n = hk__dbg_os_alloc_raw(ncap * sizeof *n);
        if (!n)
            return;                        /* uncached: looked up again */
        for (j = 0; j < hk__cache_cap; j++)
            if (hk__cache[j].key) {
                for (i = hk__slot_of(hk__cache[j].key, ncap); n[i].key; i = (i + 1) & (ncap - 1))
                    ;
                n[i] = hk__cache[j];
            }
        if (hk__cache)
            hk__dbg_os_free(hk__cache, hk__cache_cap * sizeof *hk__cache);
        hk__cache = n;
        hk__cache_cap = ncap;
    }
    for (i = hk__slot_of(key, hk__cache_cap); hk__cache[i].key; i = (i + 1) & (hk__cache_cap - 1))
        ;
    hk__cache[i].key = key;
    hk__cache[i].info = *fi;
    hk__cache_n++;
}

/* A path without "." and ".." parts and doubled slashes, in place (build
 * systems name sources as comp_dir/../../src/x.c); a relative path keeps
 * the ".." it starts with. */
static void hk__sym_normalize(char *path)
{
    char *in = path, *out = path, *floor = path;
    int rel = path[0] != '/';
    while (in[0] == '.' && in[1] == '/')
        in += 2;
    while (in[0] == '.' && in[1] == '.' && in[2] == '/') {
        memmove(out, in, 3);
        out += 3;
        in += 3;
        floor = out;
    }
    if (*in != '/' && *in) {
        /* a relative name: work on it as if it had a leading slash */
        char *s = out;
        while (*in && *in != '/')
            *s++ = *in++;
        out = s;
    }
    while (*in) {
        if (in[0] == '/' && in[1] == '/') {
            in++;
        } else if (in[0] == '/' && in[1] == '.' && (in[2] == '/' || !in[2])) {
            in += 2;
        } else if (in[0] == '/' && in[1] == '.' && in[2] == '.' && (in[3] == '/' || !in[3])) {
            in += 3;
            while (out > floor && *--out != '/')
                ;
        } else {
            *out++ = *in++;
        }
    }
    *out = 0;
    /* a relative name whose first part went: no leading slash after all */
    if (rel && *floor == '/')
        memmove(floor, floor + 1, strlen(floor));
    if (!path[0])
        strcpy(path, rel ? "." : "/");
}

#ifndef _WIN32

/* ---- Linux: dladdr, the fallback that reads no debug information -------- */

static int hk__sym_dladdr(uintptr_t pc, int is_return, hk__frame_info *out)
{
    Dl_info di;
    memset(out, 0, sizeof *out);
    if (!pc || !dladdr((void *)(pc - (is_return ? 1 : 0)), &di))
        return 0;
    out->module = di.dli_fname && di.dli_fname[0] ? hk__sym_base(di.dli_fname)
                                                   : program_invocation_short_name;
    out->offset = pc - (uintptr_t)di.dli_fbase;
    out->function = di.dli_sname;
    return 1;
}

/* ---- Linux: libdw ------------------------------------------------------- */

static Dwfl *hk__dwfl;
static char *hk__debuginfo_path;
static const Dwfl_Callbacks hk__dwfl_cb = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .debuginfo_path = &hk__debuginfo_path,
};
static char hk__cwd[4096];
static size_t hk__cwd_len;

/* (Re)read the module list: a module loaded since the last report is found
 * the next time an address falls outside every known one. */
static int hk__dwfl_report(void)
{
    if (!hk__dwfl) {
        hk__dwfl = dwfl_begin(&hk__dwfl_cb);
        if (!hk__dwfl)
            return 0;
        if (getcwd(hk__cwd, sizeof hk__cwd))
            hk__cwd_len = strlen(hk__cwd);
    }
    dwfl_report_begin(hk__dwfl);
    if (dwfl_linux_proc_report(hk__dwfl, getpid()) != 0) {
        dwfl_report_end(hk__dwfl, NULL, NULL);
        return 0;
    }
    return dwfl_report_end(hk__dwfl, NULL, NULL) == 0;
}

/* A symbol's name without its version (name@@GLIBC_2.34). */
static const char *hk__sym_name(const char *fn)
{
    const char *at = fn ? strchr(fn, '@') : NULL;
    return at && at != fn ? hk__sym_strndup(fn, (size_t)(at - fn)) : hk__sym_strdup(fn);
}

/* A DWARF file name as the report shows it: comp-dir relative names
 * joined to their directory, then relative to the working directory when
 * it lies under it. */
static const char *hk__sym_path(const char *file, const char *comp_dir)
{
    char buf[4096];
    const char *p = file;
    size_t n;
    if (!file)
        return NULL;
    if (file[0] != '/' && comp_dir && comp_dir[0]) {
        while (p[0] == '.' && p[1] == '/')
            p += 2;
        n = strlen(comp_dir);
        if (n + 1 + strlen(p) + 1 > sizeof buf)
            return hk__sym_strdup(file);
        memcpy(buf, comp_dir, n);
        if (n && buf[n - 1] != '/')
            buf[n++] = '/';
        strcpy(buf + n, p);
        p = buf;
    }
    {
        if (p != buf) {
            if (strlen(p) + 1 > sizeof buf)
                return hk__sym_strdup(file);
            memmove(buf, p, strlen(p) + 1);
        }
        hk__sym_normalize(buf);
        p = buf;
    }
    if (hk__cwd_len > 1 && strncmp(p, hk__cwd, hk__cwd_len) == 0 && p[hk__cwd_len] == '/')
        p += hk__cwd_len + 1;
    return hk__sym_strdup(p);
}

/* The scopes around pc, innermost first (free() them): dwarf_getscopes
 * goes on in an inlined body's abstract origin, so the chain is taken
 * again from the innermost scope, whose parents are the inlined calls and
 * the concrete function.  0: no DWARF for pc. */
static int hk__sym_scopes(Dwfl_Module *m, Dwarf_Addr a, Dwarf_Die **cu, Dwarf_Die **scopes)
{
    Dwarf_Addr cubias = 0;
    Dwarf_Die inner;
    int n;
    *scopes = NULL;
    *cu = dwfl_module_addrdie(m, a, &cubias);
    if (!*cu || (n = dwarf_getscopes(*cu, a - cubias, scopes)) <= 0)
        return 0;
    inner = (*scopes)[0];
    free(*scopes);
    *scopes = NULL;
    return (n = dwarf_getscopes_die(&inner, scopes)) > 0 ? n : 0;
}

/* pc inside code inlined into the function the symbol table names: the
 * place of the outermost inlined call, in that function's own source (the
 * line table alone gives the inlined body's, e.g. a libstdc++ header,
 * beside the caller's name).  DbgHelp gives the same on Windows.  0: not
 * inlined, or no call site recorded. */
static int hk__sym_inline_site(Dwarf_Die *cu, Dwarf_Die *scopes, int n, const char **file,
                               int *line)
{
    Dwarf_Die *outer = NULL;
    Dwarf_Attribute at;
    Dwarf_Word fidx = 0, ln = 0;
    Dwarf_Files *files;
    size_t nfiles;
    const char *f;
    int i;
    for (i = 0; i < n; i++)              /* innermost first */
        if (dwarf_tag(&scopes[i]) == DW_TAG_inlined_subroutine)
            outer = &scopes[i];
    if (!outer || dwarf_formudata(dwarf_attr(outer, DW_AT_call_file, &at), &fidx) != 0
        || dwarf_formudata(dwarf_attr(outer, DW_AT_call_line, &at), &ln) != 0 || ln == 0
        || dwarf_getsrcfiles(cu, &files, &nfiles) != 0 || fidx >= nfiles
        || !(f = dwarf_filesrc(files, fidx, NULL, NULL)))
        return 0;
    *file = f;
    *line = (int)ln;
    return 1;
}

/* A C++ function's name as its DWARF spells it, qualified by the
 * namespaces and classes around its declaration ("ns::Box::fill",
 * "ns::tpl<long int>"), without the parameters: what DbgHelp gives on
 * Windows for the same code, where the symbol table only has the mangled
 * name.  NULL: no DWARF for pc. */
static const char *hk__sym_cxx_name(Dwarf_Die *around, int nar)
{
    Dwarf_Die *scopes = NULL, fn, decl;
    Dwarf_Attribute at;
    const char *parts[16];
    char buf[1024];
    size_t len = 0, k;
    int n, i, np = 0, found = 0, hops;
    /* the concrete function around pc (not an inlined body's origin) */
    for (i = 0; i < nar && !found; i++)
        if (dwarf_tag(&around[i]) == DW_TAG_subprogram) {
            fn = around[i];
            found = 1;
        }
    if (!found)
        return NULL;
    /* a definition out of its class points at the declaration inside it */
    for (hops = 0; hops < 4; hops++) {
        if ((dwarf_attr(&fn, DW_AT_specification, &at) || dwarf_attr(&fn, DW_AT_abstract_origin, &at))
            && dwarf_formref_die(&at, &decl))
            fn = decl;
        else
            break;
    }
    if (!dwarf_diename(&fn) || (n = dwarf_getscopes_die(&fn, &scopes)) <= 0)
        return NULL;
    for (i = n - 1; i >= 1 && np < 15; i--) {
        int tag = dwarf_tag(&scopes[i]);
        if (tag == DW_TAG_namespace || tag == DW_TAG_class_type || tag == DW_TAG_structure_type
            || tag == DW_TAG_union_type) {
            const char *nm = dwarf_diename(&scopes[i]);
            parts[np++] = nm ? nm : "(anonymous namespace)";
        }
    }
    parts[np++] = dwarf_diename(&fn);
    for (k = 0; k < (size_t)np; k++) {
        size_t l = strlen(parts[k]);
        if (len + l + 3 > sizeof buf)
            break;
        if (k) {
            buf[len++] = ':';
            buf[len++] = ':';
        }
        memcpy(buf + len, parts[k], l);
        len += l;
    }
    free(scopes);
    buf[len] = 0;
    return k == (size_t)np ? hk__sym_strdup(buf) : NULL;
}

static int hk__sym_dw(uintptr_t pc, int is_return, hk__frame_info *out)
{
    Dwarf_Addr a = (Dwarf_Addr)(pc - (is_return ? 1 : 0)), bias = 0, start = 0;
    Dwfl_Module *m;
    const char *mainfile = NULL, *name, *fn, *src;
    GElf_Off off;
    GElf_Sym sym;
    Dwfl_Line *ln;
    Dwarf_Die *cu = NULL, *scopes = NULL;
    int lineno = 0, nsc;
    memset(out, 0, sizeof *out);
    if (!hk__dwfl && !hk__dwfl_report())
        return 0;
    m = dwfl_addrmodule(hk__dwfl, a);
    if (!m) {
        if (!hk__dwfl_report())
            return 0;
        m = dwfl_addrmodule(hk__dwfl, a);
        if (!m)
            return 0;
    }
    name = dwfl_module_info(m, NULL, &start, NULL, NULL, NULL, &mainfile, NULL);
    if (!dwfl_module_getelf(m, &bias))
        bias = start;
    out->module = hk__sym_strdup(hk__sym_base(mainfile ? mainfile : name));
    out->offset = pc - (uintptr_t)bias;
    fn = dwfl_module_addrinfo(m, a, &off, &sym, NULL, NULL, NULL);
    out->function = hk__sym_name(fn);
    ln = dwfl_module_getsrc(m, a);
    src = ln ? dwfl_lineinfo(ln, NULL, &lineno, NULL, NULL, NULL) : NULL;
    /* one scopes lookup for both uses of pc's DWARF scopes */
    nsc = (src || (fn && fn[0] == '_' && fn[1] == 'Z')) ? hk__sym_scopes(m, a, &cu, &scopes) : 0;
    /* C++: the report's name from DWARF, the mangled one kept for
     * suppressions written against it */
    if (fn && fn[0] == '_' && fn[1] == 'Z' && nsc) {
        const char *q = hk__sym_cxx_name(scopes, nsc);
        if (q) {
            out->symbol = out->function;
            out->function = q;
        }
    }
    if (src) {
        if (nsc)
            hk__sym_inline_site(cu, scopes, nsc, &src, &lineno);
        out->file = hk__sym_path(src, dwfl_line_comp_dir(ln));
        out->line = lineno;
    }
    free(scopes);
    return 1;
}

static int hk__sym_lookup(uintptr_t pc, int is_return, hk__frame_info *out)
{
    int ok;
    int saved = errno;
    HK__SYM_ENTER();
    ok = hk__sym_dw(pc, is_return, out);
    HK__SYM_LEAVE();
    errno = saved;
    if (!ok)
        ok = hk__sym_dladdr(pc, is_return, out);
    return ok;
}

#else /* _WIN32 */

/* ---- Windows: DbgHelp, loaded at report time ------------------------------
 * dbghelp.dll is loaded when the first address is symbolized, not linked:
 * a program without it still gets module+offset.  It reads PDB files and,
 * on Wine, the DWARF 4 of MinGW builds (the build adds -gdwarf-4: Wine 8
 * cannot read DWARF 5).  It is not thread-safe: every call runs under the
 * symbolizer's lock (hk__sym_cached holds it).  What it allocates goes
 * through the process heap or the C runtime with the tracker's internal
 * guard held (HK__SYM_ENTER), so no hook records it. */

typedef DWORD (WINAPI *hk__sym_setopt_fn)(DWORD);
typedef BOOL (WINAPI *hk__sym_init_fn)(HANDLE, PCSTR, BOOL);
typedef BOOL (WINAPI *hk__sym_from_fn)(HANDLE, DWORD64, PDWORD64, PSYMBOL_INFO);
typedef BOOL (WINAPI *hk__sym_line_fn)(HANDLE, DWORD64, PDWORD, PIMAGEHLP_LINE64);
typedef BOOL (WINAPI *hk__sym_refresh_fn)(HANDLE);
typedef DWORD64 (WINAPI *hk__sym_modbase_fn)(HANDLE, DWORD64);
typedef char *(CDECL *hk__unix_name_fn)(LPCWSTR);

static int hk__dh_state;                  /* 0 untried, 1 ready, -1 none */
static hk__sym_from_fn hk__dh_from;
static hk__sym_line_fn hk__dh_line;
static hk__sym_refresh_fn hk__dh_refresh;
static hk__sym_modbase_fn hk__dh_modbase;
static hk__unix_name_fn hk__unix_name;   /* Wine's kernel32 only */
static char hk__cwd[MAX_PATH * 2];        /* '/'-separated */
static size_t hk__cwd_len;
static char hk__ucwd[4096];               /* the same under Wine, as a unix path */
static size_t hk__ucwd_len;

static void hk__sym_slashes(char *s)
{
    for (; *s; s++)
        if (*s == '\\')
            *s = '/';
}

/* The working directory in both forms a file name may come in: DOS
 * (C:/src) and, under Wine, unix (/home/me/src). */
static void hk__sym_cwd(void)
{
    DWORD n = GetCurrentDirectoryA(sizeof hk__cwd, hk__cwd);
    WCHAR w[MAX_PATH];
    HMODULE k32 = GetModuleHandleA("kernel32.dll");
    if (n == 0 || n >= sizeof hk__cwd)
        hk__cwd[0] = 0;
    hk__sym_slashes(hk__cwd);
    hk__cwd_len = strlen(hk__cwd);
    while (hk__cwd_len > 1 && hk__cwd[hk__cwd_len - 1] == '/')
        hk__cwd[--hk__cwd_len] = 0;
    hk__unix_name = k32 ? (hk__unix_name_fn)(void (*)(void))GetProcAddress(k32, "wine_get_unix_file_name")
                        : NULL;
    if (hk__unix_name && GetCurrentDirectoryW(MAX_PATH, w)) {
        char *u = hk__unix_name(w);       /* Wine: from the process heap */
        if (u) {
            size_t k = strlen(u);
            if (k < sizeof hk__ucwd) {
                memcpy(hk__ucwd, u, k + 1);
                while (k > 1 && hk__ucwd[k - 1] == '/')
                    hk__ucwd[--k] = 0;
                hk__ucwd_len = k;
            }
            HeapFree(GetProcessHeap(), 0, u);
        }
    }
}

static int hk__dh_load(void)
{
    HMODULE m;
    hk__sym_setopt_fn setopt;
    hk__sym_init_fn init;
    if (hk__dh_state)
        return hk__dh_state > 0;
    hk__dh_state = -1;
    hk__sym_cwd();
    m = LoadLibraryA("dbghelp.dll");
    if (m) {
        setopt = (hk__sym_setopt_fn)(void (*)(void))GetProcAddress(m, "SymSetOptions");
        init = (hk__sym_init_fn)(void (*)(void))GetProcAddress(m, "SymInitialize");
        hk__dh_from = (hk__sym_from_fn)(void (*)(void))GetProcAddress(m, "SymFromAddr");
        hk__dh_line = (hk__sym_line_fn)(void (*)(void))GetProcAddress(m, "SymGetLineFromAddr64");
        hk__dh_refresh = (hk__sym_refresh_fn)(void (*)(void))GetProcAddress(m, "SymRefreshModuleList");
        hk__dh_modbase = (hk__sym_modbase_fn)(void (*)(void))GetProcAddress(m, "SymGetModuleBase64");
        if (setopt && init && hk__dh_from && hk__dh_line) {
            setopt(SYMOPT_UNDNAME | SYMOPT_DEFERRED_LOADS | SYMOPT_LOAD_LINES);
            /* already initialized by the program itself: its session serves */
            if (init(GetCurrentProcess(), NULL, TRUE) || GetLastError() == ERROR_INVALID_PARAMETER)
                hk__dh_state = 1;
        }
    }
    if (hk__dh_state < 0) {
        static const char msg[] = "heapkit: dbghelp.dll not available; "
                                  "frames are shown as module+offset\n";
        DWORD w;
        WriteFile(GetStdHandle(STD_ERROR_HANDLE), msg, sizeof msg - 1, &w, NULL);
    }
    return hk__dh_state > 0;
}

/* A source file name as the report shows it: '/'-separated, without "."
 * and ".." parts, relative to the working directory when it lies under
 * it.  Wine's dbghelp gives DOS paths (Z:\src\x.c): under Wine they are
 * shown as the unix paths they stand for, as the Linux report has them. */
static const char *hk__sym_path(const char *file)
{
    char buf[4096];
    size_t n = strlen(file);
    const char *p = buf;
    WCHAR w[MAX_PATH];
    char *u;
    if (n + 1 > sizeof buf)
        return hk__sym_strdup(file);
    memcpy(buf, file, n + 1);
    if (hk__unix_name && n > 2 && file[1] == ':'
        && MultiByteToWideChar(CP_ACP, 0, file, -1, w, MAX_PATH) > 0
        && (u = hk__unix_name(w)) != NULL) {
        if (strlen(u) < sizeof buf)
            strcpy(buf, u);
        HeapFree(GetProcessHeap(), 0, u);
    }
    hk__sym_slashes(buf);
    hk__sym_normalize(buf);
    if (hk__ucwd_len > 1 && buf[0] == '/' && strncmp(buf, hk__ucwd, hk__ucwd_len) == 0
        && buf[hk__ucwd_len] == '/')
        p += hk__ucwd_len + 1;
    else if (hk__cwd_len > 2 && _strnicmp(buf, hk__cwd, hk__cwd_len) == 0
             && buf[hk__cwd_len] == '/')
        p += hk__cwd_len + 1;
    return hk__sym_strdup(p);
}

static void hk__sym_dh(uintptr_t a, hk__frame_info *out)
{
    union {
        SYMBOL_INFO si;
        char b[sizeof(SYMBOL_INFO) + 512];
    } u;
    IMAGEHLP_LINE64 ln;
    DWORD64 disp = 0;
    DWORD ldisp = 0;
    HANDLE proc = GetCurrentProcess();
    if (!hk__dh_load())
        return;
    /* a module loaded since the module list was read */
    if (hk__dh_modbase && hk__dh_refresh && !hk__dh_modbase(proc, a))
        hk__dh_refresh(proc);
    memset(&u, 0, sizeof u);
    u.si.SizeOfStruct = sizeof u.si;
    u.si.MaxNameLen = sizeof u.b - sizeof u.si;
    /* DbgHelp's name before the export's: it knows static functions */
    if (hk__dh_from(proc, a, &disp, &u.si) && u.si.Name[0])
        out->function = hk__sym_strndup(u.si.Name, strnlen(u.si.Name, u.si.MaxNameLen));
    memset(&ln, 0, sizeof ln);
    ln.SizeOfStruct = sizeof ln;
    if (hk__dh_line(proc, a, &ldisp, &ln) && ln.FileName && ln.FileName[0]) {
        out->file = hk__sym_path(ln.FileName);
        out->line = (int)ln.LineNumber;
    }
}

/* The nearest export at or below rva: what a module without debug
 * information still names (dladdr's answer on Linux). */
static const char *hk__sym_export(HMODULE h, uintptr_t rva)
{
    const unsigned char *b = (const unsigned char *)h;
    const IMAGE_DOS_HEADER *dos = (const IMAGE_DOS_HEADER *)(const void *)b;
    const IMAGE_NT_HEADERS *nt;
    const IMAGE_DATA_DIRECTORY *dd;
    const IMAGE_EXPORT_DIRECTORY *ex;
    const DWORD *names, *funcs;
    const WORD *ords;
    DWORD i, best = 0;
    const char *found = NULL;
    if (dos->e_magic != IMAGE_DOS_SIGNATURE)
        return NULL;
    nt = (const IMAGE_NT_HEADERS *)(const void *)(b + dos->e_lfanew);
    if (nt->Signature != IMAGE_NT_SIGNATURE
        || nt->OptionalHeader.NumberOfRvaAndSizes <= IMAGE_DIRECTORY_ENTRY_EXPORT)
        return NULL;
    dd = &nt->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_EXPORT];
    if (!dd->VirtualAddress || !dd->Size)
        return NULL;
    ex = (const IMAGE_EXPORT_DIRECTORY *)(const void *)(b + dd->VirtualAddress);
    names = (const DWORD *)(const void *)(b + ex->AddressOfNames);
    funcs = (const DWORD *)(const void *)(b + ex->AddressOfFunctions);
    ords = (const WORD *)(const void *)(b + ex->AddressOfNameOrdinals);
    for (i = 0; i < ex->NumberOfNames; i++) {
        DWORD f;
        if (ords[i] >= ex->NumberOfFunctions)
            continue;
        f = funcs[ords[i]];
        /* a forwarder points into the export directory: no code */
        if (f >= dd->VirtualAddress && f < dd->VirtualAddress + dd->Size)
            continue;
        if (f <= rva && f >= best) {
            best = f;
            found = (const char *)(b + names[i]);
        }
    }
    return found;
}

static int hk__sym_modoff(uintptr_t pc, int is_return, hk__frame_info *out)
{
    HMODULE h = NULL;
    char path[MAX_PATH];
    DWORD n;
    if (!pc || !GetModuleHandleExA(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS
                                   | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                                   (LPCSTR)pc, &h) || !h)
        return 0;
    n = GetModuleFileNameA(h, path, sizeof path);
    if (n == 0 || n >= sizeof path)
        return 0;
    out->module = hk__sym_strdup(hk__sym_base(path));
    out->offset = pc - (uintptr_t)h;
    out->function = hk__sym_strdup(hk__sym_export(h, out->offset - (is_return ? 1 : 0)));
    return 1;
}

static int hk__sym_lookup(uintptr_t pc, int is_return, hk__frame_info *out)
{
    DWORD err = GetLastError();
    memset(out, 0, sizeof *out);
    if (!hk__sym_modoff(pc, is_return, out))
        return 0;
    HK__SYM_ENTER();
    hk__sym_dh(pc - (is_return ? 1 : 0), out);
    HK__SYM_LEAVE();
    SetLastError(err);
    return 1;
}

#endif

static int hk__sym_cached(uintptr_t pc, int is_return, hk__frame_info *out)
{
    uintptr_t key = pc << 1 | (uintptr_t)(is_return != 0);
    hk__sym_slot *s;
    int ok;
    hk__sym_lock();
    s = hk__cache_find(key);
    if (s) {
        *out = s->info;
        hk__sym_unlock();
        return out->module != NULL;
    }
    ok = hk__sym_lookup(pc, is_return, out);
    if (!ok)
        memset(out, 0, sizeof *out);
    hk__cache_put(key, out);              /* a miss too: asked once */
    hk__sym_unlock();
    return ok;
}

int hk__symbolize(uintptr_t pc, hk__frame_info *out)
{
    return hk__sym_cached(pc, 1, out);
}

int hk__symbolize_pc(uintptr_t pc, hk__frame_info *out)
{
    return hk__sym_cached(pc, 0, out);
}

#ifndef _WIN32
/* The function around a crash, from the ELF file's own symbol table
 * (.symtab, else .dynsym): open and mmap only -- no allocation, little
 * stack, so it works in a crash handler on its alternate stack, where
 * libdw (malloc, deep stacks) cannot run.  dladdr alone sees only the
 * exported symbols, not main or a static function.  *vaddr gets the
 * address in the file's terms (what addr2line takes). */
static const char *hk__elf_func(const char *path, uintptr_t fbase, uintptr_t pc,
                                char *name, size_t cap, uintptr_t *vaddr)
{
    struct stat st;
    const unsigned char *m;
    const ElfW(Ehdr) *eh;
    const ElfW(Phdr) *ph;
    const ElfW(Shdr) *sh;
    size_t size, i, k, best_len = 0;
    uintptr_t lo = (uintptr_t)-1, a, best = 0;
    const char *found = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC), pass;
    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof *eh) {
        close(fd);
        return NULL;
    }
    size = (size_t)st.st_size;
    m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return NULL;
    eh = (const ElfW(Ehdr) *)(const void *)m;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_phoff > size
        || eh->e_phnum > (size - eh->e_phoff) / sizeof *ph || eh->e_shoff > size
        || eh->e_shnum > (size - eh->e_shoff) / sizeof *sh)
        goto out;
    ph = (const ElfW(Phdr) *)(const void *)(m + eh->e_phoff);
    for (i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_LOAD && ph[i].p_vaddr < lo)
            lo = ph[i].p_vaddr;
    if (lo == (uintptr_t)-1)
        goto out;
    /* dli_fbase is where the first segment's page was mapped */
    a = pc - fbase + (lo & ~(uintptr_t)4095);
    *vaddr = a;
    sh = (const ElfW(Shdr) *)(const void *)(m + eh->e_shoff);
    for (pass = 0; pass < 2 && !found; pass++)
        for (i = 0; i < eh->e_shnum; i++) {
            const ElfW(Shdr) *str;
            const ElfW(Sym) *sym;
            size_t n;
            if (sh[i].sh_type != (pass ? SHT_DYNSYM : SHT_SYMTAB) || sh[i].sh_link >= eh->e_shnum
                || sh[i].sh_offset > size || sh[i].sh_size > size - sh[i].sh_offset)
                continue;
            str = &sh[sh[i].sh_link];
            if (str->sh_offset > size || str->sh_size > size - str->sh_offset)
                continue;
            sym = (const ElfW(Sym) *)(const void *)(m + sh[i].sh_offset);
            n = sh[i].sh_size / sizeof *sym;
            for (k = 0; k < n; k++) {
                if (ELF64_ST_TYPE(sym[k].st_info) != STT_FUNC || sym[k].st_shndx == SHN_UNDEF
                    || sym[k].st_name >= str->sh_size)
                    continue;
                if (a >= sym[k].st_value && a < sym[k].st_value + (sym[k].st_size ? sym[k].st_size : 1)
                    && (!found || sym[k].st_value > best)) {
                    const char *nm = (const char *)m + str->sh_offset + sym[k].st_name;
                    best = sym[k].st_value;
                    best_len = strnlen(nm, str->sh_size - sym[k].st_name);
                    found = nm;
                }
            }
        }
    if (found) {
        const char *at = memchr(found, '@', best_len);
        if (at && at != found)
            best_len = (size_t)(at - found);
        if (best_len >= cap)
            best_len = cap - 1;
        memcpy(name, found, best_len);
        name[best_len] = 0;
        found = name;
    }
out:
    munmap((void *)m, size);
    return found;
}
#endif

int hk__symbolize_crash(uintptr_t pc, hk__frame_info *out)
{
#ifndef _WIN32
    static char name[256];
    Dl_info di;
    uintptr_t vaddr = 0;
    const char *path;
    memset(out, 0, sizeof *out);
    if (!pc || !dladdr((void *)pc, &di))
        return 0;
    path = di.dli_fname && di.dli_fname[0] == '/' ? di.dli_fname : "/proc/self/exe";
    out->module = di.dli_fname && di.dli_fname[0] ? hk__sym_base(di.dli_fname)
                                                   : program_invocation_short_name;
    out->offset = pc - (uintptr_t)di.dli_fbase;
    out->function = hk__elf_func(path, (uintptr_t)di.dli_fbase, pc, name, sizeof name, &vaddr);
    if (vaddr)
        out->offset = vaddr;
    if (!out->function)
        out->function = di.dli_sname;
    return 1;
#else
    /* an unhandled-exception filter is no signal handler: DbgHelp may run
     * (hk__symbolize_safe, under the lock if it is free); the line shows
     * the function and module+offset, as on Linux */
    int ok = hk__symbolize_safe(pc, 0, out);
    out->file = NULL;
    out->line = 0;
    return ok;
#endif
}

#ifndef _WIN32
/* ---- Linux: a crash's report symbolized in a child process ------------------
 * The fatal-signal handler cannot run libdw: it allocates (the crash may
 * have left malloc's or heapkit's state half-changed), it wants a deep
 * stack (the handler runs on a 64 KiB alternate one), and it could hang
 * on a lock the dead thread holds.  So the handler forks (_Fork: async-
 * signal-safe, no atfork handlers) and the child, a copy of the process
 * with one thread, runs the report a first time with nothing written, on
 * a fresh 8 MiB stack: every address the report asks hk__symbolize_safe
 * for is symbolized fully and put in a table in memory shared with the
 * parent.  Whatever goes wrong in the child -- a fault, a deadlock on a
 * lock some thread held at the fork, a corrupt heap -- costs the parent
 * at most HK__CRASH_WAIT_MS: it then kills the child and uses what the
 * table holds (an entry is published by its key, stored last), the rest
 * from the cache and dladdr as before.  Running libdw in the handler
 * itself (a trylock, then a switch to a big stack) would be quicker, but
 * a crash inside the allocator could then not be contained.
 * Before symbolizing, the child walks the crashed thread's stack: a frame
 * in heapkit's own module past the crash's pc (a crash inside heapkit or
 * inside the allocator heapkit called) ends it at once, and the parent
 * falls back without waiting. */

#define HK__CRASH_WAIT_MS 2000
#define HK__CT_SLOTS 16384u                    /* a power of 2 */
#define HK__CT_BYTES ((size_t)8 << 20)          /* slots and strings */
#define HK__CT_STACK ((size_t)8 << 20)

typedef struct {
    char *str, *str_end;                       /* the strings' bump area */
    hk__sym_slot slot[HK__CT_SLOTS];
} hk__crash_tab;

enum { HK__CT_OFF, HK__CT_FILL, HK__CT_READ };
static int hk__ct_mode;
static hk__crash_tab *hk__ct;
static void (*hk__ct_dry_run)(void);
static uintptr_t hk__ct_pc;

static hk__sym_slot *hk__ct_find(uintptr_t key)
{
    size_t i, n;
    for (i = hk__slot_of(key, HK__CT_SLOTS), n = 0; n < HK__CT_SLOTS && hk__ct->slot[i].key;
         i = (i + 1) & (HK__CT_SLOTS - 1), n++)
        if (hk__ct->slot[i].key == key)
            return &hk__ct->slot[i];
    return NULL;
}

static const char *hk__ct_str(const char *s)
{
    size_t n;
    char *r;
    if (!s)
        return NULL;
    n = strlen(s) + 1;
    if (n > (size_t)(hk__ct->str_end - hk__ct->str))
        return NULL;
    r = hk__ct->str;
    memcpy(r, s, n);
    hk__ct->str += n;
    return r;
}

/* The child: one address, into the shared table (its strings copied
 * there: the child's own memory goes with it). */
static void hk__ct_put(uintptr_t key, const hk__frame_info *fi)
{
    size_t i, n;
    hk__sym_slot *s;
    if (hk__ct_find(key))
        return;
    for (i = hk__slot_of(key, HK__CT_SLOTS), n = 0; hk__ct->slot[i].key;
         i = (i + 1) & (HK__CT_SLOTS - 1))
        if (++n == HK__CT_SLOTS / 2)
            return;                            /* full enough: the rest falls back */
    s = &hk__ct->slot[i];
    s->info.function = hk__ct_str(fi->function);
    s->info.symbol = hk__ct_str(fi->symbol);
    s->info.file = hk__ct_str(fi->file);
    s->info.module = hk__ct_str(fi->module);
    s->info.line = fi->line;
    s->info.offset = fi->offset;
    /* out of string room: not published, the parent falls back */
    if (!s->info.function != !fi->function || !s->info.symbol != !fi->symbol
        || !s->info.file != !fi->file || !s->info.module != !fi->module)
        return;
    /* killed before this store: the slot was never there */
    __atomic_store_n(&s->key, key, __ATOMIC_RELEASE);
}

/* The crashed thread's stack, walked in the child (a damaged stack faults
 * the child, not the dying process). */
typedef struct {
    uintptr_t pc, self;                        /* self: heapkit's load base */
    int past_pc, inside;
} hk__ct_walk;

static _Unwind_Reason_Code hk__ct_step(struct _Unwind_Context *ctx, void *arg)
{
    hk__ct_walk *w = arg;
    uintptr_t ip = (uintptr_t)_Unwind_GetIP(ctx);
    Dl_info di;
    if (!ip)
        return _URC_END_OF_STACK;
    if (!w->past_pc) {
        /* the frames of the handler until the interrupted one */
        w->past_pc = ip == w->pc;
        if (!w->past_pc)
            return _URC_NO_REASON;
    }
    if (dladdr((void *)(w->past_pc == 1 ? ip : ip - 1), &di) && (uintptr_t)di.dli_fbase == w->self) {
        w->inside = 1;
        return _URC_END_OF_STACK;
    }
    w->past_pc = 2;
    return _URC_NO_REASON;
}

/* 1: the crash happened in heapkit's code or below it (the allocator it
 * called, libdw at report time).  Only where heapkit is a module of its
 * own (the preload, libheapkit.so): linked into the program, its frames
 * are the program's; the internal guard and the lock still tell. */
static int hk__ct_inside_heapkit(uintptr_t pc)
{
    hk__ct_walk w;
    uintptr_t self = hk__dbg_self_base();
    if (!self)
        return 0;
    memset(&w, 0, sizeof w);
    w.pc = pc;
    w.self = self;
    _Unwind_Backtrace(hk__ct_step, &w);
    return w.inside;
}

static void hk__ct_child_main(void)
{
    hk__ct_mode = HK__CT_FILL;
    hk__ct_dry_run();
    _exit(0);
}

static void hk__ct_child(void)
{
    static const int sigs[] = { SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL };
    static ucontext_t here, there;
    struct sigaction dfl;
    sigset_t set;
    void *stk;
    size_t i;
    hk__sym_unlock();                          /* its holder: the parent */
#ifdef PR_SET_PDEATHSIG
    prctl(PR_SET_PDEATHSIG, SIGKILL);          /* never outlive the parent */
#endif
    /* a fault in the child ends the child, never a second report */
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&set);
    for (i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        sigaction(sigs[i], &dfl, NULL);
        sigaddset(&set, sigs[i]);
    }
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    if (hk__ct_inside_heapkit(hk__ct_pc))
        _exit(2);
    stk = mmap(NULL, HK__CT_STACK, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (stk == MAP_FAILED || getcontext(&there) != 0)
        _exit(3);
    there.uc_stack.ss_sp = stk;
    there.uc_stack.ss_size = HK__CT_STACK;
    there.uc_link = NULL;
    makecontext(&there, hk__ct_child_main, 0);
    swapcontext(&here, &there);
    _exit(4);
}

int hk__symbolize_crash_prepare(uintptr_t pc, int inside, void (*dry_run)(void))
{
    hk__crash_tab *t;
    sigset_t chld;
    struct timespec nap = { 0, 2 * 1000 * 1000 }, t0, now;
    pid_t pid;
    int st;
    /* a crash in the report writer or the symbolizer: as before */
    if (inside || hk__ct_mode != HK__CT_OFF || !hk__sym_trylock())
        return 0;
    t = mmap(NULL, HK__CT_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (t == MAP_FAILED) {
        hk__sym_unlock();
        return 0;
    }
    t->str = (char *)(t + 1);
    t->str_end = (char *)t + HK__CT_BYTES;
    hk__ct = t;
    hk__ct_pc = pc;
    hk__ct_dry_run = dry_run;
    /* the child's end must not run the program's SIGCHLD handler; left
     * blocked: when the handler returns, the pending fatal signal (a lower
     * number or synchronous) is delivered first */
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    /* the lock is held across the fork: the child gets the cache and
     * libdw's state whole, never halfway through another thread's lookup */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
    pid = _Fork();
#else
    pid = -1;          /* no async-signal-safe fork: the report as before */
#endif
    if (pid == 0)
        hk__ct_child();
    hk__sym_unlock();
    if (pid < 0) {
        munmap(t, HK__CT_BYTES);
        hk__ct = NULL;
        return 0;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR))
            break;     /* ended (ECHILD: SIGCHLD ignored, or reaped elsewhere) */
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000
            >= HK__CRASH_WAIT_MS) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
            break;
        }
        nanosleep(&nap, NULL);
    }
    hk__ct_mode = HK__CT_READ;
    return 1;
}
#endif

int hk__symbolize_safe(uintptr_t pc, int is_return, hk__frame_info *out)
{
    uintptr_t key = pc << 1 | (uintptr_t)(is_return != 0);
    hk__sym_slot *s;
    memset(out, 0, sizeof *out);
#ifndef _WIN32
    if (hk__ct_mode == HK__CT_FILL) {          /* the crash's child: libdw may run */
        int ok = hk__sym_cached(pc, is_return, out);
        hk__ct_put(key, out);
        return ok;
    }
    if (hk__ct_mode == HK__CT_READ) {
        s = hk__ct_find(key);
        if (s && s->info.module) {
            *out = s->info;
            return 1;
        }
    }
#endif
    /* the crashed thread may hold the lock: then no cache, only dladdr */
    if (hk__sym_trylock()) {
        int ok = 0;
        s = hk__cache_find(key);
        if (s) {
            *out = s->info;
            ok = out->module != NULL;
        }
#ifdef _WIN32
        else
            ok = hk__sym_lookup(pc, is_return, out);   /* DbgHelp: no signal context */
#endif
        hk__sym_unlock();
        if (s)
            return ok;
#ifdef _WIN32
        return ok;
#endif
    }
#ifndef _WIN32
    return hk__sym_dladdr(pc, is_return, out);
#else
    return 0;
#endif
}
