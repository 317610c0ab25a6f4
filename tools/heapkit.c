/*
 * heapkit - the command: `heapkit run [options] -- prog args...` runs an
 * unmodified program under the Heap Debugger (libheapkit-preload.so in
 * LD_PRELOAD, the options as HEAPKIT_* variables) by exec: same pid, and
 * the exit status is the program's (or --error-exitcode's).
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

#ifndef HK_PKGLIBDIR
#  define HK_PKGLIBDIR "/usr/local/lib"
#endif
#ifndef PACKAGE_VERSION
#  define PACKAGE_VERSION "?"
#endif

/* Exit status of the command's own errors (bad usage), as most tools. */
#define HK_USAGE 2

static const char usage[] =
    "Usage: heapkit run [options] [--] PROGRAM [ARGS...]\n"
    "       heapkit --help | --version\n"
    "\n"
    "Runs PROGRAM under the Heap Debugger (libheapkit-preload.so): every\n"
    "malloc, free, new and delete is recorded, and the report is written when\n"
    "the program ends.  Each option sets the environment variable named.\n"
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
    "\n"
    "HEAPKIT_PRELOAD=PATH overrides the preload library (default: "
    HK_PKGLIBDIR "/libheapkit-preload.so).\n";

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
    if (setenv(name, value, 1) != 0) {
        perror("heapkit run: setenv");
        exit(HK_USAGE);
    }
}

/* -o FILE relative to where heapkit was started, even if the program
 * changes its directory. */
static void set_report(const char *file)
{
    char cwd[PATH_MAX], *full;
    if (file[0] == '/' || !getcwd(cwd, sizeof cwd)) {
        set("HEAPKIT_REPORT", file);
        return;
    }
    full = malloc(strlen(cwd) + strlen(file) + 2);
    if (!full) {
        perror("heapkit run");
        exit(HK_USAGE);
    }
    sprintf(full, "%s/%s", cwd, file);
    set("HEAPKIT_REPORT", full);
    free(full);
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
            set_report(v);
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
            set_lower("HEAPKIT_BACKEND", v);
        } else if ((v = opt_value(argv, &i, "--leak-kinds", NULL))) {
            if (!leak_kinds(v))
                die("--leak-kinds takes a list of definite, indirect, reachable, or all, not", v);
            set_lower("HEAPKIT_LEAK_KINDS", v);
        } else {
            die("unknown option", a);
        }
    }
    if (i >= argc)
        die("no program to run", NULL);
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
}

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
    die("unknown command", argv[1]);
    return HK_USAGE;
}
