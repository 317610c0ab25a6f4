/*
 * leakscan.c - leak kinds: which live blocks the program can still reach.
 *
 * At report time the roots (writable data and bss of every loaded module,
 * the stacks the tracker knows, the current thread's registers, stack and
 * static TLS) are scanned for words that point into a live block, and the
 * blocks found are scanned in turn.  A block reached that way is "still
 * reachable"; of the rest, one pointed to by another unreached block is
 * "indirectly lost", the others "definitely lost".
 *
 * Conservative, as LSan and Valgrind: any aligned word whose value lies
 * inside a block (its first byte up to its last, an interior pointer
 * too) keeps it.  Memory comes from the OS (hk__dbg_os_alloc), never from
 * the heaps being looked at, and only readable ranges are read
 * (/proc/self/maps on Linux, VirtualQuery on Windows), so a guard page or
 * an unmapped stack tail cannot fault.  Linux and Windows: elsewhere
 * nothing is classified.
 */
#if !defined(_WIN32) && !defined(_GNU_SOURCE)
#  define _GNU_SOURCE 1           /* dl_iterate_phdr, pthread_getattr_np */
#endif
#include "tracker.h"

#include <string.h>
#include <strings.h>
#include <stdlib.h>

unsigned hk__dbg_leak_kinds = HK__LK_DEFAULT;

/* Live blocks from which the scan says it is running (stderr). */
#define HK__SCAN_NOTE 3000000u

/* ---- HEAPKIT_LEAK_KINDS ------------------------------------------------------ */

#ifdef _WIN32
#  include <io.h>
#  define hk__ewrite(s, n) _write(2, (s), (unsigned)(n))
#else
#  include <unistd.h>
#  define hk__ewrite(s, n) write(2, (s), (n))
#endif

/* "definite,indirect", "all", any case; an unknown word is a one-line
 * error on stderr and the default stays (H3's shared parser replaces the
 * strcasecmp calls at merge). */
void hk__dbg_read_leak_kinds(void)
{
    unsigned k = hk__dbg_cfg.leak_kinds;
    hk__dbg_leak_kinds = ((k & HK__LEAK_DEFINITE) ? 1u << HK__LK_DEFINITE : 0)
                         | ((k & HK__LEAK_INDIRECT) ? 1u << HK__LK_INDIRECT : 0)
                         | ((k & HK__LEAK_REACHABLE) ? 1u << HK__LK_REACHABLE : 0);
}

__attribute__((noinline)) static void hk__scrub_n(size_t n)
{
    char buf[n + 1];
    memset(buf, 0, n + 1);
    __asm__ volatile ("" : : "r"(buf) : "memory");     /* keep the memset */
}

/* Zero the stack below the caller's frame, where the report's frames are
 * about to be: the dead frames of the program's calls left pointers
 * there, and a conservative scan of the report's own (uninitialized)
 * slots would take them for live ones. */
__attribute__((noinline)) void hk__dbg_stack_scrub(void)
{
    /* a thread with a small stack: at most half of what is left */
    uintptr_t lo = hk__dbg_stack_lo(), sp = (uintptr_t)&lo;
    size_t n = HK__SCRUB_BYTES;
    if (lo && sp > lo && (sp - lo) / 2 < n)
        n = (sp - lo) / 2;
    if (lo && sp <= lo)
        return;
    hk__scrub_n(n);
}

/* ---- the result: live blocks sorted by address, each with its kind ------- */

typedef struct {
    uintptr_t ptr, end;        /* [ptr, end) */
    uint32_t no;
    uint8_t kind;              /* HK__LK_* (0 while scanning: not reached) */
    uint8_t pointed;           /* an unreached block points here */
    uint8_t done;              /* classified (lost blocks) */
    uint8_t loader;            /* allocated by the dynamic loader's code */
} hk__node;

static hk__node *hk__nodes;
static size_t hk__nnodes, hk__nodes_bytes;
static int hk__scanned;        /* the nodes are a finished scan */

void hk__dbg_leak_scan_drop(void)
{
    if (hk__nodes)
        hk__dbg_os_free(hk__nodes, hk__nodes_bytes);
    hk__nodes = NULL;
    hk__nnodes = hk__nodes_bytes = 0;
    hk__scanned = 0;
}

int hk__dbg_leak_scanned(void)
{
    return hk__scanned;
}

/* The node whose block holds address a, or NULL. */
static hk__node *hk__find(uintptr_t a)
{
    size_t lo = 0, hi = hk__nnodes;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a < hk__nodes[mid].ptr)
            hi = mid;
        else if (a >= hk__nodes[mid].end)
            lo = mid + 1;
        else
            return &hk__nodes[mid];
    }
    return NULL;
}

unsigned hk__dbg_leak_kind(const hk__rec *r)
{
    hk__node *x;
    if (!hk__scanned)
        return HK__LK_NONE;
    x = hk__find(r->ptr);
    return x && x->ptr == r->ptr && x->no == r->no ? x->kind : HK__LK_NONE;
}

int hk__dbg_leak_is_finding(const hk__rec *r)
{
    unsigned k = hk__dbg_leak_kind(r);
    /* unclassified (no scan: a crash): a live block, but not a runtime's
     * own, whose blocks differ by OS and are not the program's doing */
    if (k == HK__LK_NONE)
        return !HK__NO_IS_RT(r->no);
    return (hk__dbg_leak_kinds & (1u << k)) != 0;
}

#if defined(__linux__) && !defined(_WIN32)

#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <setjmp.h>
#include <dlfcn.h>

/* ---- readable memory, from /proc/self/maps ----------------------------------- */

typedef struct { uintptr_t lo, hi; } hk__range;

static hk__range *hk__maps;
static size_t hk__nmaps, hk__maps_bytes;

static uintptr_t hk__hexnum(const char **s)
{
    uintptr_t v = 0;
    for (;; (*s)++) {
        char c = **s;
        if (c >= '0' && c <= '9') v = v << 4 | (uintptr_t)(c - '0');
        else if (c >= 'a' && c <= 'f') v = v << 4 | (uintptr_t)(c - 'a' + 10);
        else return v;
    }
}

/* [lo, hi) is no longer mapped: out of the ranges (room for one split was
 * left at the end of the array). */
static void hk__maps_cut(uintptr_t lo, uintptr_t hi)
{
    size_t i;
    for (i = 0; i < hk__nmaps; i++) {
        hk__range *r = &hk__maps[i];
        if (r->hi <= lo || r->lo >= hi)
            continue;
        if (r->lo < lo && r->hi > hi) {          /* split in two */
            memmove(r + 2, r + 1, (hk__nmaps - i - 1) * sizeof *r);
            r[1].lo = hi;
            r[1].hi = r->hi;
            r->hi = lo;
            hk__nmaps++;
            return;
        }
        if (r->lo < lo)
            r->hi = lo;
        else if (r->hi > hi)
            r->lo = hi;
        else {                                    /* all of it */
            memmove(r, r + 1, (hk__nmaps - i - 1) * sizeof *r);
            hk__nmaps--;
            i--;
        }
    }
}

/* Read the whole file into OS memory (no stdio: it would malloc), then
 * keep the readable ranges, in order.  The file is read in one go into a
 * buffer that is large enough (else a larger one and again from the
 * start), so no mapping changes while it is read; the buffer's own range,
 * unmapped afterwards, is cut out of the list. */
static int hk__maps_read(void)
{
    size_t cap = 1 << 16, n = 0, lines = 0, i;
    char *buf = NULL;
    for (;;) {
        int fd;
        buf = hk__dbg_os_alloc_raw(cap);
        if (!buf)
            return 0;
        fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            hk__dbg_os_free(buf, cap);
            return 0;
        }
        n = 0;
        for (;;) {
            ssize_t r = read(fd, buf + n, cap - n);
            if (r < 0) {
                close(fd);
                hk__dbg_os_free(buf, cap);
                return 0;
            }
            if (r == 0)
                break;
            n += (size_t)r;
            if (n == cap)
                break;
        }
        close(fd);
        if (n < cap)
            break;
        hk__dbg_os_free(buf, cap);              /* full: larger, from the start */
        cap *= 2;
    }
    for (i = 0; i < n; i++)
        lines += buf[i] == '\n';
    hk__maps_bytes = (lines + 2) * sizeof *hk__maps;
    hk__maps = hk__dbg_os_alloc_raw(hk__maps_bytes);
    hk__nmaps = 0;
    if (hk__maps) {
        const char *s = buf, *end = buf + n;
        while (s < end) {
            uintptr_t lo, hi;
            lo = hk__hexnum(&s);
            if (*s == '-')
                s++;
            hi = hk__hexnum(&s);
            if (*s == ' ' && s[1] == 'r' && hi > lo) {
                /* [vvar] and device mappings may fault on read: skip them */
                const char *nl = s;
                while (nl < end && *nl != '\n')
                    nl++;
                if (!(nl - s >= 6 && !memcmp(nl - 6, "[vvar]", 6))) {
                    if (hk__nmaps && hk__maps[hk__nmaps - 1].hi == lo)
                        hk__maps[hk__nmaps - 1].hi = hi;     /* adjacent: one range */
                    else
                        hk__maps[hk__nmaps++] = (hk__range){ lo, hi };
                }
            }
            while (s < end && *s != '\n')
                s++;
            s++;
        }
    }
    hk__dbg_os_free(buf, cap);
    if (hk__maps)
        hk__maps_cut((uintptr_t)buf, (uintptr_t)buf + cap);
    return hk__maps != NULL;
}

/* The readable part of [lo, hi) that starts at or after lo: the first
 * readable range overlapping it, clipped; 0 if none. */
static int hk__readable_from(uintptr_t lo, uintptr_t hi, uintptr_t *a, uintptr_t *b)
{
    size_t l = 0, h = hk__nmaps;
    while (l < h) {                     /* first range with hi > lo */
        size_t m = l + (h - l) / 2;
        if (hk__maps[m].hi <= lo)
            l = m + 1;
        else
            h = m;
    }
    if (l == hk__nmaps || hk__maps[l].lo >= hi)
        return 0;
    *a = hk__maps[l].lo > lo ? hk__maps[l].lo : lo;
    *b = hk__maps[l].hi < hi ? hk__maps[l].hi : hi;
    return 1;
}

static void hk__mem_done(void)
{
    if (hk__maps)
        hk__dbg_os_free(hk__maps, hk__maps_bytes);
    hk__maps = NULL;
    hk__nmaps = 0;
}

#elif defined(_WIN32)

#include <windows.h>
#include <winternl.h>
#include <setjmp.h>
/* EnumProcessModules is kernel32's K32EnumProcessModules: no psapi.dll */
#ifndef PSAPI_VERSION
#  define PSAPI_VERSION 2
#endif
#include <psapi.h>

/* ---- readable memory, from VirtualQuery ---------------------------------------- */

/* The last readable region found: blocks lie mostly in a few large heap
 * regions, so most lookups need no query. */
static uintptr_t hk__rd_lo, hk__rd_hi;

static int hk__maps_read(void)
{
    hk__rd_lo = hk__rd_hi = 0;
    return 1;
}

static void hk__mem_done(void)
{
    hk__rd_lo = hk__rd_hi = 0;
}

static int hk__win_readable(const MEMORY_BASIC_INFORMATION *mi)
{
    const DWORD rd = PAGE_READONLY | PAGE_READWRITE | PAGE_WRITECOPY | PAGE_EXECUTE_READ
                     | PAGE_EXECUTE_READWRITE | PAGE_EXECUTE_WRITECOPY;
    return mi->State == MEM_COMMIT && (mi->Protect & rd)
           && !(mi->Protect & (PAGE_GUARD | PAGE_NOACCESS));
}

/* As on Linux: the first readable part of [lo, hi), clipped; 0 if none. */
static int hk__readable_from(uintptr_t lo, uintptr_t hi, uintptr_t *a, uintptr_t *b)
{
    while (lo < hi) {
        MEMORY_BASIC_INFORMATION mi;
        uintptr_t end;
        if (lo >= hk__rd_lo && lo < hk__rd_hi) {
            *a = lo;
            *b = hk__rd_hi < hi ? hk__rd_hi : hi;
            return 1;
        }
        if (VirtualQuery((const void *)lo, &mi, sizeof mi) != sizeof mi)
            return 0;
        end = (uintptr_t)mi.BaseAddress + mi.RegionSize;
        if (end <= lo)
            return 0;
        if (hk__win_readable(&mi)) {
            hk__rd_lo = (uintptr_t)mi.BaseAddress;
            hk__rd_hi = end;
        } else
            lo = end;
    }
    return 0;
}

#endif

#if (defined(__linux__) && !defined(_WIN32)) || defined(_WIN32)

/* ---- marking ------------------------------------------------------------------- */

static uint32_t *hk__work;            /* node indices still to scan */
static size_t hk__nwork, hk__work_bytes;
static uintptr_t hk__lo_addr, hk__hi_addr;

/* The scan reads whole segments and stacks, redzones and other threads'
 * frames included: not the sanitizers' business. */
#define HK__SCAN_FN __attribute__((no_sanitize_address, no_sanitize_thread))

/* Every aligned word of [lo, hi): a block it points into that is not
 * reached yet becomes reachable and goes on the work list. */
HK__SCAN_FN static void hk__scan_words(uintptr_t lo, uintptr_t hi)
{
    uintptr_t a, b;
    lo = (lo + sizeof(void *) - 1) & ~(uintptr_t)(sizeof(void *) - 1);
    while (lo < hi && hk__readable_from(lo, hi, &a, &b)) {
        const uintptr_t *w = (const uintptr_t *)a, *e;
        a = (a + sizeof(void *) - 1) & ~(uintptr_t)(sizeof(void *) - 1);
        w = (const uintptr_t *)a;
        e = (const uintptr_t *)(b & ~(uintptr_t)(sizeof(void *) - 1));
        for (; w < e; w++) {
            uintptr_t v = *(const volatile uintptr_t *)w;
            hk__node *x;
            if (v < hk__lo_addr || v >= hk__hi_addr)
                continue;
            x = hk__find(v);
            if (x && x->kind == 0) {
                x->kind = HK__LK_REACHABLE;
                hk__work[hk__nwork++] = (uint32_t)(x - hk__nodes);
            }
        }
        lo = b;
    }
}

static void hk__drain(void)
{
    while (hk__nwork) {
        hk__node *x = &hk__nodes[hk__work[--hk__nwork]];
        hk__scan_words(x->ptr, x->end);
    }
}

#if defined(_WIN32)

/* heapkit's own DLL (libheapkit, the hook DLL of heapkit.exe run) is not
 * the program's roots, as on Linux; linked into the exe, its data is the
 * program's and is scanned. */
static HMODULE hk__self_module(void)
{
    HMODULE self = NULL;
    if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS
                            | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                            (LPCWSTR)(void *)&hk__self_module, &self))
        return NULL;
    return self == GetModuleHandleW(NULL) ? NULL : self;
}

/* The writable sections (.data, .bss, any IMAGE_SCN_MEM_WRITE) of one
 * loaded module, from its PE section headers. */
static void hk__scan_module(HMODULE m)
{
    const unsigned char *base = (const unsigned char *)m;
    const IMAGE_DOS_HEADER *dos = (const IMAGE_DOS_HEADER *)base;
    const IMAGE_NT_HEADERS *nt;
    const IMAGE_SECTION_HEADER *sh;
    unsigned i;
    if (dos->e_magic != IMAGE_DOS_SIGNATURE)
        return;
    nt = (const IMAGE_NT_HEADERS *)(base + dos->e_lfanew);
    if (nt->Signature != IMAGE_NT_SIGNATURE)
        return;
    sh = IMAGE_FIRST_SECTION(nt);
    for (i = 0; i < nt->FileHeader.NumberOfSections; i++) {
        uintptr_t lo = (uintptr_t)base + sh[i].VirtualAddress;
        size_t n = sh[i].Misc.VirtualSize ? sh[i].Misc.VirtualSize : sh[i].SizeOfRawData;
        if (sh[i].Characteristics & IMAGE_SCN_MEM_WRITE)
            hk__scan_words(lo, lo + n);
    }
}

static void hk__scan_modules(void)
{
    HMODULE self = hk__self_module(), *mods;
    DWORD need = 0, i, n;
    BOOL ok;
    size_t bytes = 1024 * sizeof(HMODULE);
    for (;;) {
        mods = hk__dbg_os_alloc_raw(bytes);
        if (!mods)
            return;
        /* whatever the loader's lookup may allocate is not the program's */
        hk__dbg_internal_enter();
        ok = EnumProcessModules(GetCurrentProcess(), mods, (DWORD)bytes, &need);
        hk__dbg_internal_leave();
        if (!ok) {
            hk__dbg_os_free(mods, bytes);
            return;
        }
        if (need <= bytes)
            break;
        hk__dbg_os_free(mods, bytes);          /* more modules: a larger array */
        bytes = need + 64 * sizeof(HMODULE);
    }
    n = need / sizeof(HMODULE);
    for (i = 0; i < n; i++)
        if (mods[i] && mods[i] != self) {
            hk__scan_module(mods[i]);
            hk__drain();
        }
    hk__dbg_os_free(mods, bytes);
}

/* A thread's TLS slots (TlsAlloc/TlsSetValue, winpthreads' keys, gcc's
 * emutls arrays) in its TEB. */
static void hk__scan_tls(uintptr_t tp)
{
    const TEB *teb = (const TEB *)tp;
    uintptr_t a, b, x;
    if (!tp)
        return;
    hk__scan_words((uintptr_t)teb->TlsSlots, (uintptr_t)(teb->TlsSlots + 64));
    if (!hk__readable_from((uintptr_t)&teb->TlsExpansionSlots,
                           (uintptr_t)(&teb->TlsExpansionSlots + 1), &a, &b))
        return;
    x = (uintptr_t)*(void *const volatile *)&teb->TlsExpansionSlots;
    if (x)
        hk__scan_words(x, x + 1024 * sizeof(void *));
}

/* The TEB, as NtCurrentTeb, whose gs read gcc 12 flags (-Warray-bounds). */
static uintptr_t hk__thread_pointer(void)
{
#if defined(__x86_64__)
    uintptr_t teb;
    __asm__ ("movq %%gs:0x30, %0" : "=r"(teb));
    return teb;
#else
    return (uintptr_t)NtCurrentTeb();
#endif
}

#else /* Linux */

/* Does this module hold the scanner's own code?  Only a shared object
 * (libheapkit.so, the preload) is skipped: heapkit's data is not the
 * program's roots (its recently-freed list would make a reused block look
 * reachable) and its bitmaps are megabytes of never-touched bss that each
 * cost a page fault to read.  Linked statically, heapkit's data lies in
 * the program's own segments, which must be scanned. */
static int hk__is_self(const struct dl_phdr_info *info)
{
    uintptr_t self = (uintptr_t)&hk__is_self;
    int i;
    if (!info->dlpi_name || !info->dlpi_name[0])
        return 0;                       /* the main program */
    for (i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && self >= lo && self - lo < ph->p_memsz)
            return 1;
    }
    return 0;
}

static int hk__phdr_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    int i;
    (void)size;
    (void)arg;
    if (hk__is_self(info))
        return 0;
    for (i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_W)) {
            uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
            hk__scan_words(lo, lo + ph->p_memsz);
        }
    }
    return 0;
}

/* The thread pointer and glibc's static TLS size: the static TLS blocks
 * lie just below it (x86-64's layout), the thread descriptor (its
 * pthread_setspecific slots among them) just above. */
static uintptr_t hk__tls_below, hk__tls_above;

static void hk__tls_sizes(void)
{
    void (*info)(size_t *, size_t *);
    const unsigned *psize;
    size_t size = 0, align = 0;
    hk__tls_below = hk__tls_above = 0;
#if defined(__x86_64__)
    *(void **)&info = dlsym(RTLD_DEFAULT, "_dl_get_tls_static_info");
    psize = dlsym(RTLD_DEFAULT, "_thread_db_sizeof_pthread");
    if (info)
        info(&size, &align);
    hk__tls_below = size;
    hk__tls_above = psize ? *psize : 0;
#else
    (void)info; (void)psize; (void)size; (void)align;
#endif
}

static uintptr_t hk__thread_pointer(void)
{
#if defined(__x86_64__)
    uintptr_t tp;
    __asm__ volatile ("mov %%fs:0, %0" : "=r"(tp));
    return tp;
#else
    return 0;
#endif
}

static void hk__scan_tls(uintptr_t tp)
{
    if (tp && (hk__tls_below || hk__tls_above))
        hk__scan_words(tp - hk__tls_below, tp + hk__tls_above);
}

#endif

typedef struct { uintptr_t my_tp, my_sp; } hk__me_info;


/* ---- the exiting thread: where the program's frames begin --------------------- */

/* At exit the report runs at the bottom of the C runtime's exit path
 * (exit, its handlers, heapkit's own frames).  Those frames belong to code
 * that never returns to the program, and the slots they leave unwritten
 * still hold whatever main and its callees stored there: under msvcrt a
 * pointer to a block main's callee leaked stayed in such a slot and kept
 * it "still reachable", where glibc's exit path happened to overwrite it.
 * So the exiting thread is scanned from the stack pointer of its innermost
 * frame that is the program's (not heapkit's, not the C runtime's or the
 * system's): the same roots on every OS.  0: not known (whole stack). */
static uintptr_t hk__exit_sp;
/* ...and the callee-saved registers as that frame had them at its call
 * (recovered by the unwinder): a local of a function that called exit()
 * may live in one, saved in a slot of the exit path's frames. */
#define HK__EXIT_REGS 8
static uintptr_t hk__exit_regs[HK__EXIT_REGS];

#if defined(_WIN32)
static WCHAR hk__sysdir[MAX_PATH];
static UINT hk__sysdir_len;              /* stored last: 0 while unknown */

int hk__dbg_system_path(const wchar_t *path, unsigned long n)
{
    UINT len = __atomic_load_n(&hk__sysdir_len, __ATOMIC_ACQUIRE);
    if (!len) {                          /* the same value whoever computes it */
        UINT k = GetSystemDirectoryW(hk__sysdir, MAX_PATH);
        __atomic_store_n(&hk__sysdir_len, k < MAX_PATH ? k : 0, __ATOMIC_RELEASE);
        len = k < MAX_PATH ? k : 0;
    }
    if (n == 0 || n >= MAX_PATH)
        return 1;                        /* unknown: leave it alone */
    return len && n > len && path[len] == L'\\' && _wcsnicmp(path, hk__sysdir, len) == 0;
}

int hk__dbg_system_module(void *m)
{
    WCHAR path[MAX_PATH];
    return hk__dbg_system_path(path, GetModuleFileNameW((HMODULE)m, path, MAX_PATH));
}
#endif

#if defined(_WIN32) && defined(__x86_64__)
/* Code of heapkit's own DLL, of a system DLL (msvcrt, ucrtbase, kernel32,
 * ntdll...), or of no module at all. */
static int hk__runtime_pc(uintptr_t pc, HMODULE self)
{
    HMODULE m;
    if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS
                            | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT, (LPCWSTR)pc, &m))
        return 1;
    return (self && m == self) || hk__dbg_system_module(m);
}

/* The frames by the PE's own unwind data (RtlVirtualUnwind), outward. */
__attribute__((noinline)) static uintptr_t hk__program_sp(void)
{
    CONTEXT c;
    HMODULE self = hk__self_module();
    int i;
    RtlCaptureContext(&c);
    for (i = 0; i < 256; i++) {
        DWORD64 base = 0, frame = 0;
        PVOID data = NULL;
        PRUNTIME_FUNCTION f = RtlLookupFunctionEntry(c.Rip, &base, NULL);
        uintptr_t sp = (uintptr_t)c.Rsp;
        if (f) {
            RtlVirtualUnwind(UNW_FLAG_NHANDLER, base, c.Rip, f, &c, &data, &frame, NULL);
        } else {                        /* a leaf: the return address on top */
            c.Rip = *(const DWORD64 *)(uintptr_t)c.Rsp;
            c.Rsp += 8;
        }
        if (!c.Rip || (uintptr_t)c.Rsp <= sp)
            return 0;                   /* the end, or a walk gone wrong */
        if (!hk__runtime_pc((uintptr_t)c.Rip, self)) {
            const DWORD64 regs[HK__EXIT_REGS] = { c.Rbx, c.Rbp, c.Rsi, c.Rdi, c.R12, c.R13, c.R14, c.R15 };
            int k;
            for (k = 0; k < HK__EXIT_REGS; k++)
                hk__exit_regs[k] = (uintptr_t)regs[k];
            return (uintptr_t)c.Rsp;
        }
    }
    return 0;
}
#elif defined(__linux__) && !defined(_WIN32) && defined(__GNUC__)
#  include <unwind.h>

typedef struct {
    uintptr_t self, cfa, sp;
} hk__uw_state;

static int hk__is_loader_path(const char *path);

/* heapkit's own shared object (not the main program, see hk__is_self),
 * the C library or the dynamic loader. */
static int hk__runtime_pc(uintptr_t pc, uintptr_t self)
{
    Dl_info d;
    const char *b;
    if (!dladdr((void *)pc, &d) || !d.dli_fname)
        return 1;
    if (self && (uintptr_t)d.dli_fbase == self)
        return 1;
    b = strrchr(d.dli_fname, '/');
    return strncmp(b ? b + 1 : d.dli_fname, "libc.so", 7) == 0 || hk__is_loader_path(d.dli_fname);
}

static _Unwind_Reason_Code hk__uw_cb(struct _Unwind_Context *ctx, void *arg)
{
    hk__uw_state *s = arg;
    uintptr_t ip = (uintptr_t)_Unwind_GetIP(ctx), cfa = (uintptr_t)_Unwind_GetCFA(ctx);
    if (!ip)
        return _URC_END_OF_STACK;
    /* the program's frame: its stack pointer at the call is the CFA of
     * the frame it called */
    if (s->cfa && !hk__runtime_pc(ip - 1, s->self)) {
#if defined(__x86_64__)
        static const int dw[] = { 3, 6, 12, 13, 14, 15 };   /* rbx rbp r12-r15 */
        size_t k;
        for (k = 0; k < sizeof dw / sizeof dw[0]; k++)
            hk__exit_regs[k] = (uintptr_t)_Unwind_GetGR(ctx, dw[k]);
#endif
        s->sp = s->cfa;
        return _URC_END_OF_STACK;
    }
    s->cfa = cfa;
    return _URC_NO_REASON;
}

__attribute__((noinline)) static uintptr_t hk__program_sp(void)
{
    hk__uw_state s = { 0, 0, 0 };
    /* heapkit linked into the program: its frames are the program's */
    s.self = hk__dbg_self_base();
    _Unwind_Backtrace(hk__uw_cb, &s);
    return s.sp;
}
#else
static uintptr_t hk__program_sp(void) { return 0; }
#endif

void hk__dbg_leak_exit_frames(void)
{
    hk__dbg_internal_enter();           /* the unwinders' own memory: not the program's */
    hk__exit_sp = hk__program_sp();
    hk__dbg_internal_leave();
}

/* Other threads: their whole recorded stack (they may still run, so
 * conservative); ours from the current stack pointer up. */
static void hk__thread_cb(uintptr_t lo, uintptr_t hi, uintptr_t tp, void *arg)
{
    const hk__me_info *me = arg;
    if (tp && tp == me->my_tp) {
        if (me->my_sp >= lo && me->my_sp < hi)
            lo = me->my_sp;
        if (hk__exit_sp > lo && hk__exit_sp < hi)
            lo = hk__exit_sp;
    }
    if (hi > lo)
        hk__scan_words(lo, hi);
    if (tp != me->my_tp)
        hk__scan_tls(tp);
}

/* The roots.  noinline and the registers saved into a buffer on this
 * frame: the words the caller kept in callee-saved registers are on the
 * stack scanned from here. */
__attribute__((noinline)) static void hk__scan_roots(void)
{
    jmp_buf regs;
    hk__me_info me;
    uintptr_t a, b;
    __builtin_unwind_init();
    setjmp(regs);
    me.my_sp = (uintptr_t)&regs < (uintptr_t)&me ? (uintptr_t)&regs : (uintptr_t)&me;
    me.my_tp = hk__thread_pointer();
#ifdef _WIN32
    hk__scan_modules();
#else
    dl_iterate_phdr(hk__phdr_cb, NULL);
#endif
    hk__drain();
    hk__scan_words((uintptr_t)&regs, (uintptr_t)&regs + sizeof regs);
    hk__scan_words((uintptr_t)hk__exit_regs, (uintptr_t)(hk__exit_regs + HK__EXIT_REGS));
    hk__dbg_each_thread_stack(hk__thread_cb, &me);
    /* this thread, when the tracker has no stack of it: up to the end of
     * the mapping that holds the stack pointer */
#ifdef _WIN32
    (void)a; (void)b;
    if (!hk__dbg_thread_stack_known(me.my_tp))
        hk__scan_words(hk__exit_sp > me.my_sp ? hk__exit_sp : me.my_sp,
                       (uintptr_t)((NT_TIB *)me.my_tp)->StackBase);
#else
    if (!hk__dbg_thread_stack_known(me.my_tp) && hk__readable_from(me.my_sp, me.my_sp + 1, &a, &b)) {
        size_t i;
        for (i = 0; i < hk__nmaps; i++)
            if (hk__maps[i].lo <= me.my_sp && me.my_sp < hk__maps[i].hi)
                hk__scan_words(hk__exit_sp > me.my_sp && hk__exit_sp < hk__maps[i].hi
                               ? hk__exit_sp : me.my_sp, hk__maps[i].hi);
    }
#endif
    hk__scan_tls(me.my_tp);
    hk__drain();
}

/* ---- collecting and sorting ------------------------------------------------------ */

typedef struct { size_t n, cap; } hk__fill;

/* The dynamic loader's own blocks (TLS blocks and DTVs, link maps,
 * search paths: ld.so hands none of them to the program) are taken as
 * reachable, as LeakSanitizer does: the words that hold them lie in
 * places the scan does not read (a finished thread's descriptor in
 * glibc's cache of stacks), and they are the runtime's, not the
 * program's leaks.  Windows' loader (ntdll) is not hooked. */
static uintptr_t hk__ld_lo, hk__ld_hi;

#if defined(__linux__) && !defined(_WIN32)
/* The dynamic loader's file (ld-linux-x86-64.so.2, ld.so.1, ld64.so.2). */
static int hk__is_loader_path(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    return strncmp(b, "ld-linux", 8) == 0 || strncmp(b, "ld.so", 5) == 0
        || strncmp(b, "ld64.so", 7) == 0;
}

static int hk__ld_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    int i;
    (void)size; (void)arg;
    if (!info->dlpi_name || !info->dlpi_name[0] || !hk__is_loader_path(info->dlpi_name))
        return 0;
    for (i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        if (!hk__ld_lo || lo < hk__ld_lo) hk__ld_lo = lo;
        if (lo + ph->p_memsz > hk__ld_hi) hk__ld_hi = lo + ph->p_memsz;
    }
    return 1;
}

static void hk__ld_find(void)
{
    if (!hk__ld_hi)
        dl_iterate_phdr(hk__ld_cb, NULL);
}
#else
static void hk__ld_find(void)
{
}
#endif

static int hk__loader_block(const hk__rec *r)
{
    const hk__site *st;
    if (!hk__ld_hi || !r->site || !(st = hk__dbg_site(r->site)))
        return 0;
    return st->caller - hk__ld_lo < hk__ld_hi - hk__ld_lo;
}

/* After the roots: the loader's blocks are roots too. */
static void hk__loader_roots(void)
{
    size_t i;
    for (i = 0; i < hk__nnodes; i++)
        if (hk__nodes[i].loader && hk__nodes[i].kind == 0) {
            hk__nodes[i].kind = HK__LK_REACHABLE;
            hk__work[hk__nwork++] = (uint32_t)i;
        }
    hk__drain();
}

static void hk__count_cb(const hk__rec *r, void *arg)
{
    (void)r;
    ++*(size_t *)arg;
}

static void hk__fill_cb(const hk__rec *r, void *arg)
{
    hk__fill *f = arg;
    hk__node *x;
    if (f->n == f->cap)
        return;                          /* added while collecting: not scanned */
    x = &hk__nodes[f->n++];
    x->ptr = r->ptr;
    x->end = r->ptr + (HK__REC_SIZE(r) ? HK__REC_SIZE(r) : 1);
    x->no = r->no;
    x->loader = hk__loader_block(r);
}

static void hk__node_sift(hk__node *a, size_t i, size_t n)
{
    for (;;) {
        size_t c = 2 * i + 1;
        hk__node t;
        if (c >= n)
            return;
        if (c + 1 < n && a[c].ptr < a[c + 1].ptr)
            c++;
        if (a[i].ptr >= a[c].ptr)
            return;
        t = a[i]; a[i] = a[c]; a[c] = t;
        i = c;
    }
}

/* Heap sort: no allocation, O(n log n). */
static void hk__node_sort(hk__node *a, size_t n)
{
    size_t i;
    for (i = n / 2; i-- > 0;)
        hk__node_sift(a, i, n);
    for (i = n; i-- > 1;) {
        hk__node t = a[0]; a[0] = a[i]; a[i] = t;
        hk__node_sift(a, 0, i);
    }
}

static void hk__idx_sift(uint32_t *a, size_t i, size_t n)
{
    for (;;) {
        size_t c = 2 * i + 1;
        uint32_t t;
        if (c >= n)
            return;
        if (c + 1 < n && hk__nodes[a[c]].no < hk__nodes[a[c + 1]].no)
            c++;
        if (hk__nodes[a[i]].no >= hk__nodes[a[c]].no)
            return;
        t = a[i]; a[i] = a[c]; a[c] = t;
        i = c;
    }
}

/* ---- the lost blocks ---------------------------------------------------------------- */

/* Unreached blocks that block x points to: flagged as pointed to (mode
 * 0), or, not yet classified, made indirect and queued (mode 1). */
HK__SCAN_FN static void hk__lost_words(const hk__node *x, int mode)
{
    uintptr_t a, b, lo = x->ptr, hi = x->end;
    lo = (lo + sizeof(void *) - 1) & ~(uintptr_t)(sizeof(void *) - 1);
    while (lo < hi && hk__readable_from(lo, hi, &a, &b)) {
        const uintptr_t *w = (const uintptr_t *)a,
                        *e = (const uintptr_t *)(b & ~(uintptr_t)(sizeof(void *) - 1));
        for (; w < e; w++) {
            uintptr_t v = *(const volatile uintptr_t *)w;
            hk__node *y;
            if (v < hk__lo_addr || v >= hk__hi_addr)
                continue;
            y = hk__find(v);
            if (!y || y == x || y->kind == HK__LK_REACHABLE)
                continue;
            if (mode == 0)
                y->pointed = 1;
            else if (!y->done) {
                y->done = 1;
                y->kind = HK__LK_INDIRECT;
                hk__work[hk__nwork++] = (uint32_t)(y - hk__nodes);
            }
        }
        lo = b;
    }
}

/* x is definitely lost; everything only it leads to is indirectly lost. */
static void hk__lost_root(hk__node *x)
{
    x->done = 1;
    x->kind = HK__LK_DEFINITE;
    hk__work[hk__nwork++] = (uint32_t)(x - hk__nodes);
    while (hk__nwork)
        hk__lost_words(&hk__nodes[hk__work[--hk__nwork]], 1);
}

static void hk__classify_lost(void)
{
    size_t i, nleft = 0;
    uint32_t *left;
    for (i = 0; i < hk__nnodes; i++)
        if (hk__nodes[i].kind == 0)
            hk__lost_words(&hk__nodes[i], 0);
    for (i = 0; i < hk__nnodes; i++)
        if (hk__nodes[i].kind == 0 && !hk__nodes[i].pointed)
            hk__lost_root(&hk__nodes[i]);
    /* what is left are cycles with nothing outside pointing in: the
     * oldest block of each is the definite one */
    left = hk__work + hk__nnodes;        /* the second half of the work area */
    for (i = 0; i < hk__nnodes; i++)
        if (!hk__nodes[i].done && hk__nodes[i].kind == 0)
            left[nleft++] = (uint32_t)i;
    for (i = nleft / 2; i-- > 0;)
        hk__idx_sift(left, i, nleft);
    for (i = nleft; i-- > 1;) {
        uint32_t t = left[0]; left[0] = left[i]; left[i] = t;
        hk__idx_sift(left, 0, i);
    }
    for (i = 0; i < nleft; i++)
        if (!hk__nodes[left[i]].done)
            hk__lost_root(&hk__nodes[left[i]]);
}

int hk__dbg_leak_scan(void)
{
    size_t recs = 0;
    hk__fill f;
    int ok = 0;
    hk__dbg_leak_scan_drop();
    hk__dbg_each_record(hk__count_cb, &recs, 1);
    if (recs >= HK__SCAN_NOTE) {
        /* about a second per 3 million blocks: say why the exit waits */
        static const char m[] = "heapkit: scanning the live blocks for leak kinds...\n";
        if (hk__ewrite(m, sizeof m - 1) < 0)
            recs += 0;
    }
    f.cap = recs + 64;
    f.n = 0;
    hk__nodes_bytes = f.cap * sizeof *hk__nodes;
    hk__nodes = hk__dbg_os_alloc_raw(hk__nodes_bytes);
    hk__work_bytes = 2 * f.cap * sizeof *hk__work;
    hk__work = hk__dbg_os_alloc_raw(hk__work_bytes);
    if (!hk__nodes || !hk__work)
        goto out;
    hk__dbg_internal_enter();           /* dl_iterate_phdr may allocate */
    hk__ld_find();
    hk__dbg_internal_leave();
    hk__dbg_each_record(hk__fill_cb, &f, 1);
    hk__nnodes = f.n;
    hk__node_sort(hk__nodes, hk__nnodes);
    hk__lo_addr = hk__nnodes ? hk__nodes[0].ptr : 0;
    hk__hi_addr = hk__nnodes ? hk__nodes[hk__nnodes - 1].end : 0;
    if (!hk__nnodes) {
        /* nothing to classify: the roots need not be read */
        hk__scanned = 1;
        ok = 1;
        goto out;
    }
    if (!hk__maps_read())
        goto out;
    /* dlsym and dl_iterate_phdr may take memory from malloc: not the
     * program's */
#ifndef _WIN32
    hk__dbg_internal_enter();
    hk__tls_sizes();
    hk__dbg_internal_leave();
#endif
    hk__nwork = 0;
    hk__scan_roots();
    hk__loader_roots();
    hk__classify_lost();
    hk__scanned = 1;
    ok = 1;
out:
    hk__mem_done();
    if (hk__work)
        hk__dbg_os_free(hk__work, hk__work_bytes);
    hk__work = NULL;
    if (!ok)
        hk__dbg_leak_scan_drop();
    return ok;
}

#else /* neither Linux nor Windows: no scan, every leak is unclassified */

int hk__dbg_leak_scan(void)
{
    hk__dbg_leak_scan_drop();
    return 0;
}

void hk__dbg_leak_exit_frames(void)
{
}

#endif
