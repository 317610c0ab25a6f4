/*
 * suppress.c - suppressions: report entries that are known and left out.
 *
 * Rules come from HEAPKIT_SUPPRESSIONS (a file, LSan's leak: lines as the
 * model) and from a built-in default set for the C and C++ runtimes'
 * one-time allocations (HEAPKIT_SUPPRESSIONS_DEFAULT=0 turns it off).
 *
 *   leak:PATTERN   a block still held, if PATTERN matches the function, the
 *                  source file or the module of any frame of its stack
 *   free:PATTERN   FM, FS (with its S) and FK entries, by the free's stack
 *
 * PATTERN: `*` matches any run of characters, `^` and `$` anchor at the
 * start and end; otherwise it matches anywhere (a substring).
 *
 * All of it runs at report time.  The file is read with open/read into the
 * tracker's OS memory: nothing here calls malloc, so nothing here can be
 * recorded, and it works from a crash handler too.  A decision is taken
 * once per call site (the site's frames are symbolized once) and kept.
 */
#include "tracker.h"
#include "suppress.h"
#include "symbolize.h"
#include "stacks.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#ifdef _WIN32
#  include <io.h>
#  define hk__s_open(p) _open((p), _O_RDONLY | _O_BINARY)
#  define hk__s_read(fd, b, n) _read((fd), (b), (unsigned)(n))
#  define hk__s_close _close
#  define hk__s_write(b, n) _write(2, (b), (unsigned)(n))
#else
#  include <unistd.h>
#  define hk__s_open(p) open((p), O_RDONLY | O_CLOEXEC)
#  define hk__s_read read
#  define hk__s_close close
#  define hk__s_write(b, n) write(2, (b), (n))
#endif

/* ---- the default set ----------------------------------------------------- */

/* Each matches the caller frame only (the function that called malloc or
 * operator new; past libc's strdup and strndup when the stack shows who
 * called those): its module and its function.  func NULL: a function with
 * no symbol in that module (the libraries are stripped; with their debug
 * information installed the named entries apply); "": any function. */
typedef struct {
    uint8_t type;
    const char *mod, *func, *text;
} hk__supp_default;

static const hk__supp_default hk__supp_defaults[] = {
    /* libstdc++'s emergency exception pool, allocated once by a static
     * constructor (eh_alloc.cc) that has no exported symbol */
    { HK__SUPP_LEAK, "^libstdc++.so", NULL, "leak:libstdc++.so (no symbol: emergency EH pool)" },
    { HK__SUPP_LEAK, "^libstdc++.so", "^_ZN12_GLOBAL__N_14pool", "leak:libstdc++.so pool::pool" },
    { HK__SUPP_LEAK, "^libstdc++.so", "^_GLOBAL__sub_I_eh_alloc", "leak:libstdc++.so eh_alloc" },
    /* stdio buffers of stdin/stdout/stderr and any FILE (its buffer; the
     * FILE itself, from fopen, is not hidden) */
    { HK__SUPP_LEAK, "^libc.so", "^_IO_file_doallocate$", "leak:libc.so _IO_file_doallocate" },
    /* dlerror's per-thread result (its message comes from ld.so) */
    { HK__SUPP_LEAK, "^libc.so", "^_dlerror_run$", "leak:libc.so _dlerror_run" },
    /* locale data (setlocale, gettext's alias table) and the time zone
     * (tzset), kept for good; the names setlocale strdup's are found with
     * a backtrace (HEAPKIT_BACKTRACE >= 2), see hk__supp_caller */
    { HK__SUPP_LEAK, "^libc.so", "^_nl_", "leak:libc.so _nl_* (locale)" },
    { HK__SUPP_LEAK, "^libc.so", "^setlocale$", "leak:libc.so setlocale" },
    { HK__SUPP_LEAK, "^libc.so", "^new_composite_name$", "leak:libc.so new_composite_name" },
    { HK__SUPP_LEAK, "^libc.so", "^read_alias_file$", "leak:libc.so read_alias_file (locale)" },
    { HK__SUPP_LEAK, "^libc.so", "^extend_alias_table$", "leak:libc.so extend_alias_table (locale)" },
    { HK__SUPP_LEAK, "^libc.so", "^__tzfile_read$", "leak:libc.so __tzfile_read" },
    { HK__SUPP_LEAK, "^libc.so", "^__tzstring", "leak:libc.so __tzstring" },
    { HK__SUPP_LEAK, "^libc.so", "^tzset_internal$", "leak:libc.so tzset_internal" },
    /* (the dynamic loader's own blocks are not leaks at all: the leak
     * scan takes them as reachable, see leakscan.c) */
};
#define HK__SUPP_NDEFAULT (sizeof hk__supp_defaults / sizeof hk__supp_defaults[0])

/* ---- state --------------------------------------------------------------- */

static hk__supp_rule *hk__rules;       /* defaults first, then the file's */
static size_t hk__nrules, hk__rules_bytes;
static int hk__loaded;
static int hk__crashing;
/* Per site and type: 0 not decided yet, 1 no rule, else rule index + 2. */
static uint16_t *hk__decided;
static size_t hk__decided_n, hk__decided_bytes, hk__nwanted;

/* The file's text, kept: the rules point into it. */
static char *hk__ftext;

/* ---- matching ------------------------------------------------------------ */

/* The pattern p[0..pn), with a `*` before it when lead and after it when
 * trail, against all of s[0..sn): `*` matches any run of characters. */
static int hk__glob(const char *p, size_t pn, int lead, int trail, const char *s, size_t sn)
{
    size_t vn = pn + (size_t)lead + (size_t)trail;
    size_t i = 0, j = 0, star = (size_t)-1, mark = 0;
#define HK__PAT(i) ((lead && (i) == 0) || (trail && (i) == vn - 1) ? '*' : p[(i) - (size_t)lead])
    while (j < sn) {
        if (i < vn && HK__PAT(i) == '*') {
            star = i++;
            mark = j;
        } else if (i < vn && HK__PAT(i) == s[j]) {
            i++;
            j++;
        } else if (star != (size_t)-1) {
            i = star + 1;
            j = ++mark;
        } else {
            return 0;
        }
    }
    while (i < vn && HK__PAT(i) == '*')
        i++;
#undef HK__PAT
    return i == vn;
}

int hk__supp_match(const char *pat, const char *s)
{
    size_t pn;
    int start, end;
    if (!pat || !s)
        return 0;
    pn = strlen(pat);
    start = pn && pat[0] == '^';
    end = pn > (size_t)start && pat[pn - 1] == '$';
    return hk__glob(pat + start, pn - (size_t)start - (size_t)end, !start, !end, s, strlen(s));
}

/* ---- the file ------------------------------------------------------------- */

/* One line on stderr, cut to fit: "heapkit: FILE:LINE: what "text"tail";
 * no stdio (report time, crash paths). */
static void hk__supp_say(const char *file, long line, const char *what, const char *text,
                         size_t tn, const char *tail)
{
    char msg[700];
    size_t n = 0;
    const char *c;
#define HK__ADD(str, cap) for (c = (str); c && *c && n < (cap); c++) msg[n++] = *c
    HK__ADD("heapkit: ", 20);
    HK__ADD(file, 400);
    if (line > 0) {
        char num[24], *e = num + sizeof num;
        unsigned long v = (unsigned long)line;
        do
            *--e = (char)('0' + v % 10);
        while (v /= 10);
        msg[n++] = ':';
        while (e < num + sizeof num)
            msg[n++] = *e++;
    }
    HK__ADD(what, 500);
    if (text) {
        msg[n++] = '"';
        for (; tn && n < 600; text++, tn--)
            msg[n++] = *text == '\n' || *text == '\r' ? '?' : *text;
        msg[n++] = '"';
    }
    HK__ADD(tail, 690);
#undef HK__ADD
    msg[n++] = '\n';
    if (hk__s_write(msg, n) < 0)
        return;                 /* nowhere to say it */
}

/* The whole file into OS memory (NUL-terminated); NULL if unreadable. */
static char *hk__supp_slurp(const char *path, int *err)
{
    char *buf = NULL;
    size_t n = 0, cap = 0;
    int fd = hk__s_open(path);
    if (fd < 0) {
        *err = errno;
        return NULL;
    }
    for (;;) {
        long got;
        if (n + 1 >= cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            char *nb = hk__dbg_os_alloc_raw(ncap);
            if (!nb) {
                *err = ENOMEM;
                break;
            }
            if (buf) {
                memcpy(nb, buf, n);
                hk__dbg_os_free(buf, cap);
            }
            buf = nb;
            cap = ncap;
        }
        got = (long)hk__s_read(fd, buf + n, cap - 1 - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            if (got < 0)
                *err = errno;
            break;
        }
        n += (size_t)got;
    }
    hk__s_close(fd);
    if (*err) {
        if (buf)
            hk__dbg_os_free(buf, cap);
        return NULL;
    }
    buf[n] = 0;
    return buf;
}

static int hk__supp_space(const char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Room for n rules (the array is OS memory, copied when it grows). */
static int hk__supp_room(size_t n)
{
    size_t bytes = n * sizeof *hk__rules;
    hk__supp_rule *nr;
    if (bytes <= hk__rules_bytes)
        return 1;
    bytes = bytes < 4096 ? 4096 : bytes * 2;
    nr = hk__dbg_os_alloc_raw(bytes);
    if (!nr)
        return 0;
    if (hk__rules) {
        memcpy(nr, hk__rules, hk__nrules * sizeof *hk__rules);
        hk__dbg_os_free(hk__rules, hk__rules_bytes);
    }
    hk__rules = nr;
    hk__rules_bytes = bytes;
    return 1;
}

static void hk__supp_parse(const char *path, char *text)
{
    char *p = text;
    long lineno = 0;
    while (*p) {
        char *line = p, *end, *colon, *type_end, *pat;
        lineno++;
        while (*p && *p != '\n')
            p++;
        end = p;
        if (*p)
            *p++ = 0;
        while (hk__supp_space(*line))
            line++;
        while (end > line && hk__supp_space(end[-1]))
            *--end = 0;
        if (!*line || *line == '#')
            continue;
        colon = strchr(line, ':');
        type_end = colon ? colon : end;
        while (type_end > line && hk__supp_space(type_end[-1]))
            type_end--;
        if (!colon) {
            hk__supp_say(path, lineno, ": not TYPE:PATTERN ", line, (size_t)(end - line),
                         " (leak: or free:); line ignored");
            continue;
        }
        pat = colon + 1;
        while (hk__supp_space(*pat))
            pat++;
        {
            char t = *type_end;
            int type;
            *type_end = 0;
            type = hk__cfg_streq(line, "leak") ? HK__SUPP_LEAK
                 : hk__cfg_streq(line, "free") ? HK__SUPP_FREE : -1;
            *type_end = t;
            if (type < 0) {
                hk__supp_say(path, lineno, ": unknown suppression type ", line,
                             (size_t)(end - line), " (leak: or free:); line ignored");
                continue;
            }
            /* "^", "$", "^$": nothing to match by */
            if (!*pat || !strcmp(pat, "^") || !strcmp(pat, "$") || !strcmp(pat, "^$")) {
                hk__supp_say(path, lineno, ": empty pattern ", line, (size_t)(end - line),
                             "; line ignored");
                continue;
            }
            if (!hk__supp_room(hk__nrules + 1)) {
                hk__supp_say(path, lineno, ": out of memory at ", line, (size_t)(end - line),
                             "; this rule and the rest ignored");
                return;
            }
            /* "leak:foo" as shown in the report: type and pattern, no blanks */
            memmove(type_end + 1, pat, strlen(pat) + 1);
            *type_end = ':';
            memset(&hk__rules[hk__nrules], 0, sizeof *hk__rules);
            hk__rules[hk__nrules].text = line;
            hk__rules[hk__nrules].pat = type_end + 1;
            hk__rules[hk__nrules].type = (uint8_t)type;
            hk__nrules++;
        }
    }
}

static void hk__supp_load(void)
{
    const char *path = hk__dbg_cfg.suppressions;
    size_t i;
    if (hk__dbg_cfg.suppressions_default && hk__supp_room(HK__SUPP_NDEFAULT))
        for (i = 0; i < HK__SUPP_NDEFAULT; i++) {
            hk__supp_rule *r = &hk__rules[hk__nrules++];
            memset(r, 0, sizeof *r);
            r->text = hk__supp_defaults[i].text;
            r->mod = hk__supp_defaults[i].mod;
            r->func = hk__supp_defaults[i].func;
            r->type = hk__supp_defaults[i].type;
            r->dflt = 1;
        }
    if (path[0]) {
        int err = 0;
        hk__ftext = hk__supp_slurp(path, &err);
        if (!hk__ftext)
            hk__supp_say(path, 0, ": cannot read the suppressions file (", NULL, 0,
                         err == ENOENT ? "no such file); no user rules"
                         : err == EACCES ? "permission denied); no user rules"
                         : err == EISDIR ? "a directory); no user rules"
                         : "read error); no user rules");
        else
            hk__supp_parse(path, hk__ftext);
    }
}

void hk__supp_begin(int crashing)
{
    size_t i;
    hk__crashing = crashing;
    if (!hk__loaded) {
        hk__loaded = 1;
        hk__supp_load();
    }
    for (i = 0; i < hk__nrules; i++)
        hk__rules[i].count = hk__rules[i].bytes = 0;
}

/* ---- one site ------------------------------------------------------------- */

static void hk__supp_frame(uintptr_t pc, hk__frame_info *fi)
{
    memset(fi, 0, sizeof *fi);
    if (!pc)
        return;
    if (hk__crashing)
        hk__symbolize_safe(pc, 1, fi);
    else
        hk__symbolize(pc, fi);
}

/* The frame default rules look at: the caller, or when that is libc's
 * strdup or strndup and the stack goes on, the one that called it. */
static size_t hk__supp_caller(const hk__frame_info *fi, size_t n)
{
    static const char *const wrappers[] = { "__strdup", "__strndup", "strdup", "strndup",
                                            NULL };
    size_t i = 0;
    for (; i + 1 < n && fi[i].function && hk__supp_match("^libc.so", fi[i].module); i++) {
        int k;
        for (k = 0; wrappers[k] && strcmp(wrappers[k], fi[i].function) != 0; k++)
            ;
        if (!wrappers[k])
            break;
    }
    return i;
}

static int hk__supp_decide(int type, const hk__site *st)
{
    const uintptr_t *f = NULL;
    uintptr_t one;
    size_t n = 0, i, k;
    hk__frame_info fi[HK__BT_MAX];
    if (st->stack)
        n = hk__stack_frames(st->stack, &f);
    if (!n) {
        one = st->caller;
        f = &one;
        n = 1;
    }
    if (n > HK__BT_MAX)
        n = HK__BT_MAX;
    for (i = 0; i < n; i++)
        hk__supp_frame(f[i], &fi[i]);
    for (k = 0; k < hk__nrules; k++) {
        const hk__supp_rule *r = &hk__rules[k];
        if (r->type != type)
            continue;
        if (r->dflt) {
            /* the caller frame: its module and its function (or none) */
            const hk__frame_info *c = &fi[hk__supp_caller(fi, n)];
            if (!hk__supp_match(r->mod, c->module))
                continue;
            if (!r->func ? !c->function
                         : !r->func[0] || hk__supp_match(r->func, c->function)
                           || hk__supp_match(r->func, c->symbol))
                return (int)k + 2;
            continue;
        }
        /* the macros' function and file stand for the caller's */
        if (hk__supp_match(r->pat, st->func) || hk__supp_match(r->pat, st->file))
            return (int)k + 2;
        for (i = 0; i < n; i++)
            if (hk__supp_match(r->pat, fi[i].function) || hk__supp_match(r->pat, fi[i].symbol)
                || hk__supp_match(r->pat, fi[i].file) || hk__supp_match(r->pat, fi[i].module))
                return (int)k + 2;
    }
    return 1;
}

/* Slot values: 0 not asked yet, HK__WANTED asked (hk__supp_settle decides
 * it), 1 no rule, else rule index + 2. */
#define HK__WANTED 0xFFFFu

int hk__supp_check(int type, uint32_t site)
{
    size_t slot = (size_t)site * 2 + (size_t)type;
    unsigned d;
    if (!hk__nrules || !site)
        return 0;
    if (slot >= hk__decided_n) {
        /* sites interned since: room for all there are now (OS memory:
         * no malloc, so this may run under the tracker's locks) */
        size_t want = ((size_t)hk__dbg_nsites() + 1) * 2, bytes;
        uint16_t *nd;
        if (want <= slot)
            want = slot + 2;
        bytes = want * sizeof *hk__decided;
        nd = hk__dbg_os_alloc_raw(bytes);
        if (!nd)
            return 0;
        if (hk__decided) {
            memcpy(nd, hk__decided, hk__decided_n * sizeof *hk__decided);
            hk__dbg_os_free(hk__decided, hk__decided_bytes);
        }
        hk__decided = nd;
        hk__decided_n = want;
        hk__decided_bytes = bytes;
    }
    d = hk__decided[slot];
    if (d == 0) {
        hk__decided[slot] = HK__WANTED;
        hk__nwanted++;
        return 0;
    }
    return d == HK__WANTED ? 0 : (int)d - 1;
}

void hk__supp_settle(void)
{
    size_t slot;
    if (!hk__nwanted)
        return;
    for (slot = 2; slot < hk__decided_n; slot++)
        if (hk__decided[slot] == HK__WANTED) {
            const hk__site *st = hk__dbg_site((uint32_t)(slot / 2));
            int d = st ? hk__supp_decide((int)(slot & 1), st) : 1;
            hk__decided[slot] = (uint16_t)(d < (int)HK__WANTED ? d : 1);
        }
    hk__nwanted = 0;
}

int hk__supp_active(void)
{
    return hk__nrules != 0;
}

void hk__supp_count(int rule, uint64_t bytes)
{
    if (rule < 1 || (size_t)rule > hk__nrules)
        return;
    hk__rules[rule - 1].count++;
    hk__rules[rule - 1].bytes += bytes;
}

size_t hk__supp_rules(const hk__supp_rule **out)
{
    *out = hk__rules;
    return hk__nrules;
}
