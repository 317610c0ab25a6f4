/*
 * config.c - the Heap Debugger's settings: every HEAPKIT_* variable, read
 * once at start into hk__dbg_cfg.
 *
 * Values are case-insensitive (JSON, De).  A value that is not one of the
 * accepted ones is a typo, not a wish for the default: one line on stderr
 * names the variable, the value and what is accepted, and the default is
 * used.  No stdio and no heap: the debugger may start inside the first
 * malloc (of a preloaded process, too), so the line goes out by write(2).
 */
#include "tracker.h"

#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#  include <io.h>
#  define hk__cfg_write(b, n) _write(2, (b), (unsigned)(n))
#else
#  include <unistd.h>
#  define hk__cfg_write(b, n) write(2, (b), (n))
#endif

/* ASCII only: a locale must not change what a setting means. */
static int hk__lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

int hk__cfg_streq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (hk__lower((unsigned char)*a) != hk__lower((unsigned char)*b))
            return 0;
    return *a == *b;
}

/* Same as hk__cfg_streq for the first n bytes of a (a need not end there). */
static int hk__cfg_streqn(const char *a, size_t n, const char *b)
{
    size_t i;
    for (i = 0; i < n && b[i]; i++)
        if (hk__lower((unsigned char)a[i]) != hk__lower((unsigned char)b[i]))
            return 0;
    return i == n && b[i] == 0;
}

/* Appends s to buf (size cap, always terminated); returns the new length. */
static size_t hk__cfg_cat(char *buf, size_t len, size_t cap, const char *s)
{
    while (*s && len + 1 < cap)
        buf[len++] = *s++;
    buf[len] = 0;
    return len;
}

void hk__cfg_error(const char *var, const char *value, const char *accepted,
                   const char *dflt)
{
    char msg[400], v[81];
    size_t n = 0, i;
    /* the value as given, cut and without line breaks: the message stays one line */
    for (i = 0; value[i] && i < sizeof v - 1; i++)
        v[i] = value[i] == '\n' || value[i] == '\r' ? '?' : value[i];
    v[i] = 0;
    n = hk__cfg_cat(msg, n, sizeof msg - 1, "heapkit: ");
    n = hk__cfg_cat(msg, n, sizeof msg - 1, var);
    n = hk__cfg_cat(msg, n, sizeof msg - 1, "=\"");
    n = hk__cfg_cat(msg, n, sizeof msg - 1, v);
    n = hk__cfg_cat(msg, n, sizeof msg - 1, "\" is not ");
    n = hk__cfg_cat(msg, n, sizeof msg - 1, accepted);
    n = hk__cfg_cat(msg, n, sizeof msg - 1, "; using the default, ");
    n = hk__cfg_cat(msg, n, sizeof msg - 1, dflt);
    msg[n++] = '\n';
    if (hk__cfg_write(msg, n) < 0)
        return;                 /* nowhere to say it */
}

/* The variable's value, or NULL when it is unset or empty (the default). */
static const char *hk__cfg_get(const char *var)
{
    const char *v = getenv(var);
    return v && *v ? v : NULL;
}

int hk__cfg_choice(const char *var, const char *const *names, int dflt)
{
    const char *v = hk__cfg_get(var);
    char accepted[200];
    size_t n = 0;
    int i;
    if (!v)
        return dflt;
    for (i = 0; names[i]; i++)
        if (hk__cfg_streq(v, names[i]))
            return i;
    n = hk__cfg_cat(accepted, n, sizeof accepted, "one of ");
    for (i = 0; names[i]; i++) {
        if (i)
            n = hk__cfg_cat(accepted, n, sizeof accepted, "|");
        n = hk__cfg_cat(accepted, n, sizeof accepted, names[i]);
    }
    hk__cfg_error(var, v, accepted, names[dflt]);
    return dflt;
}

static char *hk__cfg_udec(char *end, unsigned long long v)
{
    *--end = 0;
    do
        *--end = (char)('0' + v % 10);
    while (v /= 10);
    return end;
}

unsigned long long hk__cfg_number(const char *var, unsigned long long lo,
                                  unsigned long long hi, unsigned long long dflt)
{
    const char *v = hk__cfg_get(var), *s;
    unsigned long long n = 0;
    int digits = 0, over = 0;
    if (!v)
        return dflt;
    for (s = v; *s == ' ' || *s == '\t'; s++)
        ;
    for (; *s >= '0' && *s <= '9'; s++, digits++) {
        unsigned d = (unsigned)(*s - '0');
        if (n > (~0ULL - d) / 10)
            over = 1;
        else
            n = n * 10 + d;
    }
    while (*s == ' ' || *s == '\t')
        s++;
    if (digits && !*s && !over && n >= lo && n <= hi)
        return n;
    {
        char accepted[100], a[24], b[24], d[24];
        size_t k = 0;
        k = hk__cfg_cat(accepted, k, sizeof accepted, "a number in ");
        k = hk__cfg_cat(accepted, k, sizeof accepted, hk__cfg_udec(a + sizeof a, lo));
        k = hk__cfg_cat(accepted, k, sizeof accepted, "..");
        hk__cfg_cat(accepted, k, sizeof accepted, hk__cfg_udec(b + sizeof b, hi));
        hk__cfg_error(var, v, accepted, hk__cfg_udec(d + sizeof d, dflt));
    }
    return dflt;
}

int hk__cfg_bool(const char *var, int dflt)
{
    static const char *const names[] = { "0", "1", "no", "yes", "off", "on",
                                         "false", "true", NULL };
    const char *v = hk__cfg_get(var), *s;
    int i;
    if (!v)
        return dflt;
    /* any number, as before: not 0 is on */
    for (s = v; *s >= '0' && *s <= '9'; s++)
        ;
    if (s != v && !*s) {
        for (s = v; *s == '0'; s++)
            ;
        return *s != 0;
    }
    for (i = 0; names[i]; i++)
        if (hk__cfg_streq(v, names[i]))
            return i & 1;
    hk__cfg_error(var, v, "a number or one of on|off|yes|no|true|false", dflt ? "1" : "0");
    return dflt;
}

/* The next item of a comma list at *s: its start and length (blanks
 * trimmed) in *item and *n; *s moves past it.  0 at the end of the list. */
static int hk__cfg_item(const char **s, const char **item, size_t *n)
{
    const char *b = *s, *e = b;
    size_t k;
    if (!b)
        return 0;
    while (*e && *e != ',')
        e++;
    k = (size_t)(e - b);
    while (k && (*b == ' ' || *b == '\t'))
        b++, k--;
    while (k && (b[k - 1] == ' ' || b[k - 1] == '\t'))
        k--;
    *item = b;
    *n = k;
    *s = *e ? e + 1 : NULL;
    return 1;
}

unsigned hk__cfg_leak_kinds(const char *var, unsigned dflt)
{
    static const char *const kinds[] = { "definite", "indirect", "reachable", NULL };
    const char *v = hk__cfg_get(var), *s, *rest;
    size_t n;
    unsigned bits = 0;
    if (!v)
        return dflt;
    if (hk__cfg_streq(v, "all"))
        return HK__LEAK_ALL;
    if (hk__cfg_streq(v, "none"))
        return 0;
    for (rest = v; hk__cfg_item(&rest, &s, &n);) {
        int i, hit = -1;
        for (i = 0; kinds[i]; i++)
            if (hk__cfg_streqn(s, n, kinds[i]))
                hit = i;
        if (hit < 0) {
            hk__cfg_error(var, v, "a comma list of definite,indirect,reachable, or all or none",
                          "definite,indirect");
            return dflt;
        }
        bits |= 1u << hit;
    }
    return bits;
}

/* A path: taken as it is (any bytes); one that does not fit is an error. */
static void hk__cfg_path(const char *var, char *out, size_t cap)
{
    const char *v = hk__cfg_get(var);
    size_t n;
    out[0] = 0;
    if (!v)
        return;
    n = strlen(v);
    if (n >= cap) {
        hk__cfg_error(var, v, "a path shorter than 1024 bytes", "none");
        return;
    }
    memcpy(out, v, n + 1);
}

#ifndef _WIN32
#  include <signal.h>
static const struct { const char *name; int sig; } hk__sigs[] = {
    { "sigusr1", SIGUSR1 }, { "sigusr2", SIGUSR2 }, { "sighup", SIGHUP },
    { "sigint", SIGINT }, { "sigquit", SIGQUIT }, { "sigterm", SIGTERM },
    { "sigalrm", SIGALRM }, { "sigcont", SIGCONT }, { "sigwinch", SIGWINCH },
    { "sigurg", SIGURG }, { NULL, 0 }
};
#endif

/* HEAPKIT_SNAPSHOT_ON: a comma list of exit, a signal (SIGUSR1, USR1;
 * POSIX only) and N or N-allocs (every N allocations). */
static void hk__cfg_snapshot_on(hk__dbg_config *cfg)
{
    const char *var = "HEAPKIT_SNAPSHOT_ON", *v = hk__cfg_get(var), *s, *rest;
    size_t n;
    if (!v)
        return;
    for (rest = v; hk__cfg_item(&rest, &s, &n);) {
        int ok = 0;
        if (hk__cfg_streqn(s, n, "exit")) {
            cfg->snapshot_exit = ok = 1;
        } else if (n && *s >= '0' && *s <= '9') {
            unsigned long long k = 0;
            size_t i;
            for (i = 0; i < n && s[i] >= '0' && s[i] <= '9' && k < 1000000000000ULL; i++)
                k = k * 10 + (unsigned)(s[i] - '0');
            if (k && (i == n || hk__cfg_streqn(s + i, n - i, "-allocs"))) {
                cfg->snapshot_allocs = k;
                ok = 1;
            }
        }
#ifndef _WIN32
        else {
            int i, pre = n > 3 && hk__cfg_streqn(s, 3, "sig") ? 0 : 3;
            for (i = 0; hk__sigs[i].name; i++)
                if (hk__cfg_streqn(s, n, hk__sigs[i].name + pre)) {
                    cfg->snapshot_signal = hk__sigs[i].sig;
                    ok = 1;
                }
        }
#endif
        if (!ok) {
            cfg->snapshot_exit = cfg->snapshot_signal = 0;
            cfg->snapshot_allocs = 0;
#ifdef _WIN32
            hk__cfg_error(var, v, "a comma list of exit and N-allocs", "none");
#else
            hk__cfg_error(var, v, "a comma list of exit, a signal (SIGUSR1...) and N-allocs",
                          "none");
#endif
            return;
        }
    }
}

static const char *const hk__formats[] = { "text", "json", NULL };
static const char *const hk__langs[] = { "en", "de", NULL };
static const char *const hk__backends[] = { "glibc", "arena", "mimalloc", NULL };

void hk__cfg_read(hk__dbg_config *cfg)
{
    cfg->json = hk__cfg_choice("HEAPKIT_FORMAT", hk__formats, 0) == 1;
    cfg->german = hk__cfg_choice("HEAPKIT_LANG", hk__langs, 0) == 1;
    cfg->record_zero = hk__cfg_bool("HEAPKIT_RECORD_ZERO_SIZE", 0);
    cfg->abort_wrong_size = (int)hk__cfg_number("HEAPKIT_ABORT_ON_WRONG_SIZE", 0, 255, 0);
    cfg->abort_unknown_free = (int)hk__cfg_number("HEAPKIT_ABORT_ON_UNKNOWN_FREE", 0, 255, 0);
    /* allocation numbers are 32-bit */
    cfg->break_alloc = (unsigned long)hk__cfg_number("HEAPKIT_BREAK_ALLOC", 0, 0xFFFFFFFFu, 0);
    /* the same bound where unsigned long is 32 bits (Windows) */
    cfg->max_entries = (unsigned long)hk__cfg_number("HEAPKIT_MAX_ENTRIES", 0, 0xFFFFFFFFu,
                                                     HK__DEFAULT_MAX_ENTRIES);
    hk__cfg_path("HEAPKIT_REPORT", cfg->report_path, sizeof cfg->report_path);
    cfg->backtrace = (int)hk__cfg_number("HEAPKIT_BACKTRACE", 0, HK__MAX_BACKTRACE, 0);
    cfg->error_exitcode = (int)hk__cfg_number("HEAPKIT_ERROR_EXITCODE", 0, 255, 0);
    cfg->leak_kinds = hk__cfg_leak_kinds("HEAPKIT_LEAK_KINDS", HK__LEAK_DEFAULT);
    hk__cfg_path("HEAPKIT_SUPPRESSIONS", cfg->suppressions, sizeof cfg->suppressions);
    cfg->suppressions_default = hk__cfg_bool("HEAPKIT_SUPPRESSIONS_DEFAULT", 1);
    hk__cfg_snapshot_on(cfg);
    hk__cfg_path("HEAPKIT_SNAPSHOT", cfg->snapshot_path, sizeof cfg->snapshot_path);
    cfg->walk_diff = hk__cfg_bool("HEAPKIT_WALK_DIFF", 0);
    cfg->unwind_check = hk__cfg_bool("HEAPKIT_UNWIND_CHECK", 0);
#ifndef _WIN32
    if (cfg->walk_diff) {
        /* it walks the Win32 heaps: nothing to walk here */
        static const char msg[] = "heapkit: HEAPKIT_WALK_DIFF is not supported on Linux"
                                  " (it diffs walks of the Win32 heaps); ignored\n";
        cfg->walk_diff = 0;
        if (hk__cfg_write(msg, sizeof msg - 1) < 0) {
            /* nowhere to say it */
        }
    }
#endif
#ifdef HK_PRELOAD
    /* the process's malloc; in the library itself the variable names the
     * default hk backend instead (backends.c checks it there) */
    cfg->backend = hk__cfg_choice("HEAPKIT_BACKEND", hk__backends, HK__BACKEND_GLIBC);
#else
    (void)hk__backends;
    cfg->backend = HK__BACKEND_GLIBC;
#endif
}
