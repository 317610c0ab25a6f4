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
 * Windows: module+offset only (GetModuleHandleEx); DbgHelp comes later.
 */
#if !defined(_WIN32) && !defined(_GNU_SOURCE)
#  define _GNU_SOURCE 1           /* dladdr, program_invocation_short_name */
#endif
#include "tracker.h"
#include "symbolize.h"

#include <string.h>

#ifdef _WIN32
#  include <windows.h>
#else
#  include <dlfcn.h>
#  include <errno.h>
#  include <unistd.h>
#  include <elfutils/libdwfl.h>
#  include <elf.h>
#  include <fcntl.h>
#  include <link.h>
#  include <sys/mman.h>
#  include <sys/stat.h>
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

static int hk__sym_dw(uintptr_t pc, int is_return, hk__frame_info *out)
{
    Dwarf_Addr a = (Dwarf_Addr)(pc - (is_return ? 1 : 0)), bias = 0, start = 0;
    Dwfl_Module *m;
    const char *mainfile = NULL, *name, *fn, *src;
    GElf_Off off;
    GElf_Sym sym;
    Dwfl_Line *ln;
    int lineno = 0;
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
    if (ln) {
        src = dwfl_lineinfo(ln, NULL, &lineno, NULL, NULL, NULL);
        if (src) {
            out->file = hk__sym_path(src, dwfl_line_comp_dir(ln));
            out->line = lineno;
        }
    }
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

static int hk__sym_lookup(uintptr_t pc, int is_return, hk__frame_info *out)
{
    HMODULE h = NULL;
    char path[MAX_PATH];
    DWORD n;
    (void)is_return;
    memset(out, 0, sizeof *out);
    if (!pc || !GetModuleHandleExA(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS
                                   | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                                   (LPCSTR)pc, &h) || !h)
        return 0;
    n = GetModuleFileNameA(h, path, sizeof path);
    if (n == 0 || n >= sizeof path)
        return 0;
    out->module = hk__sym_strdup(hk__sym_base(path));
    out->offset = pc - (uintptr_t)h;
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
    return hk__symbolize_safe(pc, 0, out);
#endif
}

int hk__symbolize_safe(uintptr_t pc, int is_return, hk__frame_info *out)
{
    uintptr_t key = pc << 1 | (uintptr_t)(is_return != 0);
    hk__sym_slot *s;
    memset(out, 0, sizeof *out);
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
            ok = hk__sym_lookup(pc, is_return, out);   /* allocates nothing either */
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
