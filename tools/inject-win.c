/*
 * inject-win.c - `heapkit.exe run`: put the hook DLL into the import table
 * of a program started suspended, so that the loader maps and initialises
 * it together with the program's own static imports.
 *
 * Why not only a remote thread calling LoadLibraryW: the first thread to
 * run in a new process initialises it, so a remote thread runs every
 * statically imported DLL's DllMain (and its C constructors) before its
 * own LoadLibraryW: their allocations would go unseen.  Listed first in
 * the program's imports, the hook DLL is initialised right after its own
 * dependencies (kernel32, msvcrt: system DLLs, which are not hooked) and
 * before any DLL of the program's, and by then every import address
 * table of the process is bound, so it can patch them all.
 *
 * How: read the image's headers in the child, copy its import
 * descriptors behind a new first one (the hook DLL by full path,
 * importing hk_hook_version by name) into memory allocated within 2 GiB
 * above the image (import RVAs are 32-bit and positive), and point the
 * headers' import directory at the copy; bound imports are dropped, since
 * the bound list no longer matches.  Anything unexpected (no PEB image
 * base yet, a .NET image, a path that is not in the ANSI code page, no
 * room near the image) makes it return 0 and change nothing that
 * matters: the caller then falls back to the remote thread.
 */
#ifdef _WIN32
#include "inject-win.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef LONG (NTAPI *hk__qip_fn)(HANDLE, int, void *, ULONG, ULONG *);

/* PROCESS_BASIC_INFORMATION's layout (winternl.h's is partly opaque). */
typedef struct {
    LONG_PTR exit_status;
    void *peb;
    ULONG_PTR affinity, priority, pid, parent;
} hk__pbi;

static int hk__rd(HANDLE p, const void *at, void *buf, size_t n)
{
    SIZE_T got = 0;
    return ReadProcessMemory(p, at, buf, n, &got) && got == n;
}

static int hk__wr(HANDLE p, void *at, const void *buf, size_t n)
{
    SIZE_T put = 0;
    return WriteProcessMemory(p, at, buf, n, &put) && put == n;
}

/* The image base of the process's main module, from its PEB. */
static BYTE *hk__image_base(HANDLE proc)
{
    hk__qip_fn qip = (hk__qip_fn)(void *)GetProcAddress(GetModuleHandleW(L"ntdll.dll"),
                                                        "NtQueryInformationProcess");
    hk__pbi pbi;
    ULONG got = 0;
    void *base = NULL;
    /* ProcessBasicInformation = 0; PEB.ImageBaseAddress: after 2 pointers
     * (the flag bytes, padded) and the mutant handle */
    if (!qip || qip(proc, 0, &pbi, sizeof pbi, &got) < 0 || !pbi.peb)
        return NULL;
    if (!hk__rd(proc, (BYTE *)pbi.peb + 2 * sizeof(void *), &base, sizeof base))
        return NULL;
    return base;
}

/* Memory for n bytes at most 2 GiB above base + size (a valid RVA). */
static BYTE *hk__near(HANDLE proc, BYTE *base, DWORD size, size_t n)
{
    uintptr_t at = ((uintptr_t)base + size + 0xFFFF) & ~(uintptr_t)0xFFFF;
    uintptr_t end = (uintptr_t)base + 0x7FFF0000u - n;
    for (; at < end; at += 0x10000) {
        void *m = VirtualAllocEx(proc, (void *)at, n, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        if (m)
            return m;
    }
    return NULL;
}

int hk__inject_imports(HANDLE proc, const wchar_t *dll)
{
    static const char fn[] = "hk_hook_version";
    BYTE *base, *mem, *hdr_at;
    IMAGE_DOS_HEADER dos;
    IMAGE_NT_HEADERS64 nt;
    IMAGE_DATA_DIRECTORY *imp, *dirs;
    IMAGE_IMPORT_DESCRIPTOR *desc = NULL;
    size_t n_old = 0, name_len, off_desc, off_int, off_iat, off_name, off_fn, total;
    char name[MAX_PATH * 2];
    BOOL lossy = FALSE;
    DWORD old_prot;
    int ok = 0;
    int len = WideCharToMultiByte(CP_ACP, WC_NO_BEST_FIT_CHARS, dll, -1, name, sizeof name,
                                  NULL, &lossy);
    if (len <= 0 || lossy)
        return 0;                         /* the loader reads an ANSI name */
    name_len = (size_t)len;
    if (!(base = hk__image_base(proc)) || !hk__rd(proc, base, &dos, sizeof dos)
        || dos.e_magic != IMAGE_DOS_SIGNATURE)
        return 0;
    hdr_at = base + dos.e_lfanew;
    if (!hk__rd(proc, hdr_at, &nt, sizeof nt) || nt.Signature != IMAGE_NT_SIGNATURE
        || nt.OptionalHeader.Magic != IMAGE_NT_OPTIONAL_HDR64_MAGIC
        || nt.OptionalHeader.NumberOfRvaAndSizes <= IMAGE_DIRECTORY_ENTRY_COM_DESCRIPTOR)
        return 0;
    dirs = nt.OptionalHeader.DataDirectory;
    if (dirs[IMAGE_DIRECTORY_ENTRY_COM_DESCRIPTOR].VirtualAddress)
        return 0;                         /* .NET: its loader is another story */
    imp = &dirs[IMAGE_DIRECTORY_ENTRY_IMPORT];
    /* the old descriptors up to the zero one (the directory's size is not
     * always exact) */
    if (imp->VirtualAddress) {
        IMAGE_IMPORT_DESCRIPTOR d;
        size_t cap = 16;
        desc = malloc(cap * sizeof *desc);
        for (;;) {
            if (!desc || n_old > 4096
                || !hk__rd(proc, base + imp->VirtualAddress + n_old * sizeof d, &d, sizeof d))
                goto out;
            if (!d.Name && !d.FirstThunk)
                break;
            if (n_old == cap) {
                IMAGE_IMPORT_DESCRIPTOR *m = realloc(desc, (cap *= 2) * sizeof *desc);
                if (!m)
                    goto out;
                desc = m;
            }
            desc[n_old++] = d;
        }
    }
    /* [descriptors: ours, the old ones, zero][INT: by name, 0][IAT: the
     * same][the hint and function name][the DLL's path] */
    off_desc = 0;
    off_int = (n_old + 2) * sizeof(IMAGE_IMPORT_DESCRIPTOR);
    off_iat = off_int + 2 * sizeof(ULONGLONG);
    off_fn = off_iat + 2 * sizeof(ULONGLONG);
    off_name = (off_fn + 2 + sizeof fn + 7) & ~(size_t)7;
    total = off_name + name_len;
    {
        BYTE *buf = calloc(1, total);
        IMAGE_IMPORT_DESCRIPTOR *nd = (IMAGE_IMPORT_DESCRIPTOR *)(void *)(buf + off_desc);
        ULONGLONG thunk;
        DWORD rva;
        if (!buf || !(mem = hk__near(proc, base, nt.OptionalHeader.SizeOfImage, total))) {
            free(buf);
            goto out;
        }
        rva = (DWORD)(mem - base);
        thunk = rva + off_fn;             /* IMAGE_IMPORT_BY_NAME: hint 0, the name */
        memcpy(buf + off_int, &thunk, sizeof thunk);
        memcpy(buf + off_iat, &thunk, sizeof thunk);
        memcpy(buf + off_fn + 2, fn, sizeof fn);
        memcpy(buf + off_name, name, name_len);
        nd[0].OriginalFirstThunk = rva + (DWORD)off_int;
        nd[0].Name = rva + (DWORD)off_name;
        nd[0].FirstThunk = rva + (DWORD)off_iat;
        if (n_old)
            memcpy(&nd[1], desc, n_old * sizeof *desc);
        ok = hk__wr(proc, mem, buf, total);
        free(buf);
        if (!ok) {
            VirtualFreeEx(proc, mem, 0, MEM_RELEASE);
            goto out;
        }
        ok = 0;
        /* the headers: the import directory moved, bound imports gone */
        {
            IMAGE_DATA_DIRECTORY nimp = { rva + (DWORD)off_desc,
                                          (DWORD)((n_old + 2) * sizeof(IMAGE_IMPORT_DESCRIPTOR)) };
            IMAGE_DATA_DIRECTORY nobound = { 0, 0 };
            BYTE *at_dirs = hdr_at + offsetof(IMAGE_NT_HEADERS64, OptionalHeader.DataDirectory);
            if (!VirtualProtectEx(proc, at_dirs, sizeof nt.OptionalHeader.DataDirectory,
                                  PAGE_READWRITE, &old_prot)) {
                VirtualFreeEx(proc, mem, 0, MEM_RELEASE);
                goto out;
            }
            ok = hk__wr(proc, at_dirs + IMAGE_DIRECTORY_ENTRY_BOUND_IMPORT * sizeof nobound,
                        &nobound, sizeof nobound)
                && hk__wr(proc, at_dirs + IMAGE_DIRECTORY_ENTRY_IMPORT * sizeof nimp, &nimp,
                          sizeof nimp);
            VirtualProtectEx(proc, at_dirs, sizeof nt.OptionalHeader.DataDirectory, old_prot,
                             &old_prot);
        }
    }
out:
    free(desc);
    return ok;
}
#endif
