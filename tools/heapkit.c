/*
 * heapkit - the command: `heapkit run [options] -- prog args...` runs an
 * unmodified program under the Heap Debugger (libheapkit-preload.so in
 * LD_PRELOAD, the options as HEAPKIT_* variables) by exec: same pid, and
 * the exit status is the program's (or --error-exitcode's).
 *
 * On Windows there is no exec and no LD_PRELOAD: heapkit.exe starts the
 * program suspended, has it load heapkit-hook.dll (a remote thread on
 * LoadLibraryW) before its own code runs, resumes it, waits, and returns
 * its exit status.  The HEAPKIT_* variables reach it by inheritance.
 */
#ifdef HAVE_CONFIG_H
#  include "config.h"
#endif
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#ifdef _WIN32
#  include <windows.h>
#  include <wchar.h>
#  include "inject-win.h"
#endif

#include "tool.h"

#ifndef HK_PKGLIBDIR
#  define HK_PKGLIBDIR "/usr/local/lib"
#endif
#ifndef PACKAGE_VERSION
#  define PACKAGE_VERSION "?"
#endif


static const char usage[] =
    "Usage: heapkit run [options] [--] PROGRAM [ARGS...]\n"
    "       heapkit diff [--json] [--top N] [-o FILE] OLD.json NEW.json\n"
    "       heapkit view [-o FILE.html] FILE.json\n"
    "       heapkit walk [--format text|csv|json] [--demo]\n"
    "       heapkit --help | --version\n"
    "\n"
#ifdef _WIN32
    "Runs PROGRAM under the Heap Debugger (heapkit-hook.dll): every malloc,\n"
    "free, HeapAlloc and HeapFree of the program and its own DLLs is recorded,\n"
    "and the report is written when the program ends.  Each option sets the\n"
    "environment variable named.\n"
#else
    "Runs PROGRAM under the Heap Debugger (libheapkit-preload.so): every\n"
    "malloc, free, new and delete is recorded, and the report is written when\n"
    "the program ends.  Each option sets the environment variable named.\n"
#endif
    "\n"
    "  -o FILE, --output FILE   report to FILE (%p: the pid)    HEAPKIT_REPORT\n"
    "  --json                   JSON report                     HEAPKIT_FORMAT=json\n"
    "  --lang en|de             report language                 HEAPKIT_LANG\n"
    "  --backtrace N            frames per entry (0: caller)    HEAPKIT_BACKTRACE\n"
    "  --suppressions FILE      known leaks to leave out        HEAPKIT_SUPPRESSIONS\n"
    "  --error-exitcode N       exit N when there are findings  HEAPKIT_ERROR_EXITCODE\n"
    "  --backend NAME           glibc|arena|mimalloc: the real  HEAPKIT_BACKEND\n"
    "                           allocator under the tracker\n"
    "  --leak-kinds LIST        definite,indirect,reachable|all HEAPKIT_LEAK_KINDS\n"
#ifdef _WIN32
    "  --snapshot-on LIST       exit,N-allocs: heap snapshots   HEAPKIT_SNAPSHOT_ON\n"
#else
    "  --snapshot-on LIST       exit,SIGNAL,N-allocs: heap      HEAPKIT_SNAPSHOT_ON\n"
    "                           snapshots (SIGUSR1, 1000-allocs)\n"
#endif
    "  --snapshot FILE          their path (%p: pid, %n: number) HEAPKIT_SNAPSHOT\n"
    "  --walk-diff              also list heap blocks no hook   HEAPKIT_WALK_DIFF=1\n"
    "                           saw (walks of every Win32 heap\n"
    "                           at start and exit; Windows only)\n"
    "\n"
    "heapkit diff: what grew between two snapshots, per call site and stack,\n"
    "  largest first, and the blocks new in NEW and freed since OLD.\n"
    "heapkit view: one self-contained HTML page (default heapkit-report.html)\n"
    "  from a snapshot, a diff (--json) or a JSON report: table, icicle, heap map.\n"
    "heapkit walk: the heap-walk table of heapkit's own heaps (--demo: with a\n"
    "  few blocks in the process heap and one heap per backend).\n"
    "\n"
#ifdef _WIN32
    "HEAPKIT_HOOK_DLL=PATH overrides the hook DLL (default: heapkit-hook.dll\n"
    "next to heapkit.exe).  HEAPKIT_INJECT=imports|thread: how it is loaded\n"
    "(default imports: first in the program's import table; thread: by a\n"
    "remote thread, after the program's static DLLs are initialised).\n"
    "--backend is not available on Windows.\n";
#else
    "HEAPKIT_PRELOAD=PATH overrides the preload library (default: "
    HK_PKGLIBDIR "/libheapkit-preload.so).\n";
#endif

static void die(const char *what, const char *arg)
{
    fprintf(stderr, "heapkit run: %s%s%s%s\n", what, arg ? " '" : "", arg ? arg : "",
            arg ? "'" : "");
    fprintf(stderr, "Try 'heapkit --help'.\n");
    exit(HK_USAGE);
}

static int one_of(const char *v, const char *const *set)
{
    for (; *set; set++)
        if (strcasecmp(v, *set) == 0)
            return 1;
    return 0;
}

/* A whole decimal number in [lo, hi]. */
static int number(const char *v, long lo, long hi)
{
    char *end;
    long n;
    if (!*v)
        return 0;
    errno = 0;
    n = strtol(v, &end, 10);
    return errno == 0 && *end == 0 && n >= lo && n <= hi;
}

static int leak_kinds(const char *v)
{
    static const char *const kinds[] = { "definite", "indirect", "reachable", NULL };
    char buf[256], *tok, *save = NULL;
    if (strcasecmp(v, "all") == 0)
        return 1;
    if (!*v || strlen(v) >= sizeof buf)
        return 0;
    strcpy(buf, v);
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        if (!one_of(tok, kinds))
            return 0;
    return v[strlen(v) - 1] != ',' && v[0] != ',' && !strstr(v, ",,");
}

static void set(const char *name, const char *value);

/* exit, a signal name (POSIX) or N / N-allocs, comma-separated: the
 * syntax only; the library's settings parser (config.c) has the rest. */
static int snapshot_on(const char *v)
{
#ifndef _WIN32
    static const char *const sigs[] = { "usr1", "usr2", "hup", "int", "quit", "term", "alrm",
                                        "cont", "winch", "urg", NULL };
#endif
    char buf[256], *tok, *save = NULL;
    if (!*v || strlen(v) >= sizeof buf || v[0] == ',' || v[strlen(v) - 1] == ','
        || strstr(v, ",,"))
        return 0;
    strcpy(buf, v);
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *end;
        if (strcasecmp(tok, "exit") == 0)
            continue;
        if (*tok >= '1' && *tok <= '9') {
            errno = 0;
            (void)strtoull(tok, &end, 10);
            if (errno == 0 && (!*end || strcasecmp(end, "-allocs") == 0))
                continue;
            return 0;
        }
#ifdef _WIN32
        return 0;
#else
        if (strncasecmp(tok, "sig", 3) == 0)
            tok += 3;
        if (!one_of(tok, sigs))
            return 0;
#endif
    }
    return 1;
}

/* A keyword value, lower-cased: the library reads it exactly (H3's
 * case-insensitive parser may make this unneeded). */
static void set_lower(const char *name, const char *value)
{
    char buf[256];
    size_t i;
    for (i = 0; value[i] && i + 1 < sizeof buf; i++)
        buf[i] = (char)(value[i] >= 'A' && value[i] <= 'Z' ? value[i] - 'A' + 'a' : value[i]);
    buf[i] = 0;
    set(name, buf);
}

static void set(const char *name, const char *value)
{
#ifdef _WIN32
    /* the process environment, which CreateProcess hands down */
    if (!SetEnvironmentVariableA(name, value)) {
#else
    if (setenv(name, value, 1) != 0) {
#endif
        perror("heapkit run: setenv");
        exit(HK_USAGE);
    }
}

/* -o FILE relative to where heapkit was started, even if the program
 * changes its directory. */
static void set_path(const char *var, const char *file)
{
#ifdef _WIN32
    char full[MAX_PATH];
    DWORD n = GetFullPathNameA(file, sizeof full, full, NULL);
    set(var, n > 0 && n < sizeof full ? full : file);
#else
    char cwd[PATH_MAX], *full;
    if (file[0] == '/' || !getcwd(cwd, sizeof cwd)) {
        set(var, file);
        return;
    }
    full = malloc(strlen(cwd) + strlen(file) + 2);
    if (!full) {
        perror("heapkit run");
        exit(HK_USAGE);
    }
    sprintf(full, "%s/%s", cwd, file);
    set(var, full);
    free(full);
#endif
}

/* "--name VALUE", "--name=VALUE" (and "-o VALUE", "-oVALUE"): the value,
 * or NULL if arg is not this option. */
static const char *opt_value(char **argv, int *i, const char *name, const char *shortname)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) == 0 && (a[n] == 0 || a[n] == '=')) {
        if (a[n] == '=')
            return a + n + 1;
    } else if (shortname && strncmp(a, shortname, 2) == 0) {
        if (a[2])
            return a + 2;
    } else {
        return NULL;
    }
    if (!argv[*i + 1])
        die("missing value for", a);
    return argv[++*i];
}

#ifdef _WIN32
static int spawn(char **argv);
#endif

static int run(int argc, char **argv)
{
    static const char *const langs[] = { "en", "de", NULL };
    static const char *const backends[] = { "glibc", "arena", "mimalloc", NULL };
    const char *preload, *old, *v;
    char *ld;
    int i;
    for (i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-')
            break;
        if ((v = opt_value(argv, &i, "--output", "-o"))) {
            if (!*v)
                die("empty report file name", NULL);
            set_path("HEAPKIT_REPORT", v);
        } else if (strcmp(a, "--json") == 0) {
            set("HEAPKIT_FORMAT", "json");
        } else if ((v = opt_value(argv, &i, "--lang", NULL))) {
            if (!one_of(v, langs))
                die("--lang takes en or de, not", v);
            set_lower("HEAPKIT_LANG", v);
        } else if ((v = opt_value(argv, &i, "--backtrace", NULL))) {
            if (!number(v, 0, 256))
                die("--backtrace takes a number of frames (0-256), not", v);
            set("HEAPKIT_BACKTRACE", v);
        } else if ((v = opt_value(argv, &i, "--suppressions", NULL))) {
            if (access(v, R_OK) != 0)
                die("cannot read the suppressions file", v);
            set("HEAPKIT_SUPPRESSIONS", v);
        } else if ((v = opt_value(argv, &i, "--error-exitcode", NULL))) {
            if (!number(v, 0, 255))
                die("--error-exitcode takes a number 0-255, not", v);
            set("HEAPKIT_ERROR_EXITCODE", v);
        } else if ((v = opt_value(argv, &i, "--backend", NULL))) {
            if (!one_of(v, backends))
                die("--backend takes glibc, arena or mimalloc, not", v);
#ifdef _WIN32
            die("--backend is not available on Windows (the hooks call the C runtime's own"
                " allocator):", v);
#endif
            set_lower("HEAPKIT_BACKEND", v);
        } else if (strcmp(a, "--walk-diff") == 0) {
#ifdef _WIN32
            set("HEAPKIT_WALK_DIFF", "1");
#else
            /* accepted, so one command line serves both systems */
            fputs("heapkit run: --walk-diff is not supported on Linux (it diffs walks of the"
                  " Win32 heaps); ignored\n", stderr);
#endif
        } else if ((v = opt_value(argv, &i, "--leak-kinds", NULL))) {
            if (!leak_kinds(v))
                die("--leak-kinds takes a list of definite, indirect, reachable, or all, not", v);
            set_lower("HEAPKIT_LEAK_KINDS", v);
        } else if ((v = opt_value(argv, &i, "--snapshot-on", NULL))) {
            if (!snapshot_on(v))
#ifdef _WIN32
                die("--snapshot-on takes a list of exit and N-allocs, not", v);
#else
                die("--snapshot-on takes a list of exit, a signal (SIGUSR1) and N-allocs, not",
                    v);
#endif
            set("HEAPKIT_SNAPSHOT_ON", v);
        } else if ((v = opt_value(argv, &i, "--snapshot", NULL))) {
            if (!*v)
                die("empty snapshot file name", NULL);
            set_path("HEAPKIT_SNAPSHOT", v);
        } else {
            die("unknown option", a);
        }
    }
    if (i >= argc)
        die("no program to run", NULL);
#ifdef _WIN32
    (void)preload, (void)old, (void)ld;
    return spawn(argv + i);
#else
    preload = getenv("HEAPKIT_PRELOAD");
    if (!preload || !*preload)
        preload = HK_PKGLIBDIR "/libheapkit-preload.so";
    if (access(preload, R_OK) != 0) {
        fprintf(stderr, "heapkit run: the preload library '%s' is missing: %s\n", preload,
                strerror(errno));
        return HK_USAGE;
    }
    old = getenv("LD_PRELOAD");
    ld = malloc(strlen(preload) + (old ? strlen(old) : 0) + 2);
    if (!ld) {
        perror("heapkit run");
        return HK_USAGE;
    }
    if (old && *old)
        sprintf(ld, "%s:%s", preload, old);
    else
        strcpy(ld, preload);
    set("LD_PRELOAD", ld);
    free(ld);
    execvp(argv[i], argv + i);
    fprintf(stderr, "heapkit run: cannot run '%s': %s\n", argv[i], strerror(errno));
    return errno == ENOENT ? 127 : 126;
#endif
}

#ifdef _WIN32
/* One argument, quoted so that CommandLineToArgvW (and the C runtime's
 * parser) gives it back unchanged: backslashes are literal except before
 * a quote, where 2n (+1 for an escaped quote) stand for n. */
static void quote(const wchar_t *a, wchar_t *out, size_t *len)
{
    size_t n = *len, bs;
    if (*a && !wcspbrk(a, L" \t\n\v\"")) {
        while (*a)
            out[n++] = *a++;
        *len = n;
        return;
    }
    out[n++] = L'"';
    for (;;) {
        for (bs = 0; *a == L'\\'; a++)
            bs++;
        if (!*a) {
            for (bs *= 2; bs; bs--)      /* before the closing quote */
                out[n++] = L'\\';
            break;
        }
        if (*a == L'"')
            bs = bs * 2 + 1;
        for (; bs; bs--)
            out[n++] = L'\\';
        out[n++] = *a++;
    }
    out[n++] = L'"';
    *len = n;
}

static wchar_t *widen(const char *s)
{
    int n = MultiByteToWideChar(CP_ACP, 0, s, -1, NULL, 0);
    wchar_t *w = n > 0 ? malloc((size_t)n * sizeof *w) : NULL;
    if (!w || MultiByteToWideChar(CP_ACP, 0, s, -1, w, n) != n) {
        fprintf(stderr, "heapkit run: bad argument '%s'\n", s);
        exit(HK_USAGE);
    }
    return w;
}

static int fail(const char *what, PROCESS_INFORMATION *pi)
{
    fprintf(stderr, "heapkit run: %s (error %lu)\n", what, (unsigned long)GetLastError());
    if (pi && pi->hProcess) {
        TerminateProcess(pi->hProcess, HK_USAGE);
        CloseHandle(pi->hThread);
        CloseHandle(pi->hProcess);
    }
    return HK_USAGE;
}

/* The hook DLL's full path: HEAPKIT_HOOK_DLL, else next to heapkit.exe. */
static wchar_t *hook_path(void)
{
    static wchar_t path[32768];
    DWORD n = GetEnvironmentVariableW(L"HEAPKIT_HOOK_DLL", path, 32768);
    wchar_t *slash;
    if (n > 0 && n < 32768) {
        wchar_t *full = malloc(32768 * sizeof *full);
        DWORD m = full ? GetFullPathNameW(path, 32768, full, NULL) : 0;
        if (m > 0 && m < 32768)
            return full;
        return path;
    }
    n = GetModuleFileNameW(NULL, path, 32768 - 32);
    if (n == 0 || n >= 32768 - 32)
        return NULL;
    slash = wcsrchr(path, L'\\');
    wcscpy(slash ? slash + 1 : path, L"heapkit-hook.dll");
    return path;
}

static int spawn(char **argv)
{
    STARTUPINFOW si;
    PROCESS_INFORMATION pi;
    wchar_t *cmd, *dll;
    size_t cap = 1, len = 0, bytes;
    void *remote;
    HANDLE t;
    DWORD code = 0;
    int i;
    const char *how = getenv("HEAPKIT_INJECT");
    int by_thread = 0;
    if (how && *how) {
        if (strcasecmp(how, "thread") == 0)
            by_thread = 1;
        else if (strcasecmp(how, "imports") != 0) {
            fprintf(stderr, "heapkit run: HEAPKIT_INJECT must be imports or thread, not '%s'\n",
                    how);
            return HK_USAGE;
        }
    }
    dll = hook_path();
    if (!dll || GetFileAttributesW(dll) == INVALID_FILE_ATTRIBUTES) {
        fprintf(stderr, "heapkit run: the hook DLL '%ls' is missing\n", dll ? dll : L"?");
        return HK_USAGE;
    }
    for (i = 0; argv[i]; i++)
        cap += strlen(argv[i]) * 2 + 3;  /* each char doubled at worst, quotes, space */
    cmd = malloc(cap * sizeof *cmd);
    if (!cmd)
        return fail("out of memory", NULL);
    for (i = 0; argv[i]; i++) {
        wchar_t *w = widen(argv[i]);
        if (i)
            cmd[len++] = L' ';
        quote(w, cmd, &len);
        free(w);
    }
    cmd[len] = 0;
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    memset(&pi, 0, sizeof pi);
    if (!CreateProcessW(NULL, cmd, NULL, NULL, TRUE, CREATE_SUSPENDED, NULL, NULL, &si, &pi)) {
        DWORD e = GetLastError();
        fprintf(stderr, "heapkit run: cannot run '%s' (error %lu)\n", argv[0], (unsigned long)e);
        return e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND ? 127 : 126;
    }
    free(cmd);
    if (!by_thread && hk__inject_imports(pi.hProcess, dll))
        goto resume;
    /* The fallback: a thread of ours in the program loads the DLL.  It
     * runs the process's initialisation first, so the DllMains of the
     * program's static imports run unseen.  kernel32 is at the same
     * address in every process of a session. */
    bytes = (wcslen(dll) + 1) * sizeof *dll;
    remote = VirtualAllocEx(pi.hProcess, NULL, bytes, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    if (!remote || !WriteProcessMemory(pi.hProcess, remote, dll, bytes, NULL))
        return fail("cannot write into the program's memory", &pi);
    t = CreateRemoteThread(pi.hProcess, NULL, 0,
                           (LPTHREAD_START_ROUTINE)(void *)GetProcAddress(
                               GetModuleHandleW(L"kernel32.dll"), "LoadLibraryW"),
                           remote, 0, NULL);
    if (!t)
        return fail("cannot start a thread in the program", &pi);
    WaitForSingleObject(t, INFINITE);
    if (!GetExitCodeThread(t, &code) || code == 0) {
        CloseHandle(t);
        fprintf(stderr, "heapkit run: the program could not load '%ls'\n", dll);
        return fail("hook DLL not loaded", &pi);
    }
    CloseHandle(t);
    VirtualFreeEx(pi.hProcess, remote, 0, MEM_RELEASE);
resume:
    SetConsoleCtrlHandler(NULL, TRUE);   /* Ctrl-C is the program's to handle */
    if (ResumeThread(pi.hThread) == (DWORD)-1)
        return fail("cannot resume the program", &pi);
    WaitForSingleObject(pi.hProcess, INFINITE);
    if (!GetExitCodeProcess(pi.hProcess, &code))
        code = HK_USAGE;
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
    return (int)code;
}
#endif

int main(int argc, char **argv)
{
    if (argc < 2)
        die("no command (heapkit run ...)", NULL);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0
        || strcmp(argv[1], "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("heapkit %s\n", PACKAGE_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "run") == 0)
        return run(argc - 2, argv + 2);
    if (strcmp(argv[1], "diff") == 0)
        return hk_cmd_diff(argc - 2, argv + 2);
    if (strcmp(argv[1], "view") == 0)
        return hk_cmd_view(argc - 2, argv + 2);
    if (strcmp(argv[1], "walk") == 0)
        return hk_cmd_walk(argc - 2, argv + 2);
    die("unknown command", argv[1]);
    return HK_USAGE;
}
