/*
 * report.c - the Heap Debugger's diagnosis: collect, order, format, write;
 * and the hooks that write it at exit, at a fatal signal or an unhandled
 * Windows exception, and at a fail-fast stop.
 *
 * The writer uses no stdio and no heap: it formats into a fixed buffer and
 * write()s it, and its scratch memory comes from the OS.  So it also works
 * from a crash handler, and when the heap it reports on is corrupt.
 */
#if !defined(_WIN32) && !defined(_GNU_SOURCE)
#  define _GNU_SOURCE 1           /* REG_RIP in ucontext.h */
#endif
#include "tracker.h"
#include "out.h"
#include "symbolize.h"
#include "stacks.h"
#include "suppress.h"

#include <fcntl.h>
#include <stdio.h>              /* fflush at an error exit only */
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#  include <io.h>
#  include <signal.h>
#  include <windows.h>
#  define hk__open(p) _open((p), _O_WRONLY | _O_APPEND | _O_CREAT | _O_BINARY, 0644)
#  define hk__write _write
#  define hk__close _close
#else
#  include <errno.h>              /* program_invocation_name (glibc) */
#  include <signal.h>
#  include <ucontext.h>
#  include <unistd.h>
#  define hk__open(p) open((p), O_WRONLY | O_APPEND | O_CREAT, 0644)
#  define hk__write write
#  define hk__close close
#endif

hk__dbg_config hk__dbg_cfg;

/* ---- language ----------------------------------------------------------- */

enum {
    T_HEAD, T_REG, T_ENTRIES, T_COLS, T_SUMMARY, T_SUMCOLS, T_EXIT, T_RTE, T_AT,
    T_OOM1, T_OOM2, T_FIRSTLAST, T_MORE_E, T_MORE_E2, T_MORE_E3, T_MORE_S, T_MORE_S2,
    T_MORE_S3, T_COUNT
};

static const char *const hk__text[2][T_COUNT] = {
    { "HEAP DEBUGGER DIAGNOSIS:",
      "pointers were registered",
      "debug-entries available",
      "  No  Pointer             Size  Flags  Caller              Function            File                      Line  Object",
      "Summary by call site:",
      " Count       Bytes  Caller              Function            File                      Line",
      "Program stopped by exit(",
      "runtime-error ", " at ",
      "internal error: out of memory, ", " operations not recorded",
      "       First        Last",
      "... ", " more entries not listed (HEAPKIT_MAX_ENTRIES=",
      "; see the summary by call site)",
      " more call sites not listed (", " blocks, ", " bytes)" },
    { "HEAP-DEBUGGER-DIAGNOSE:",
      "Zeiger wurden registriert",
      "Debug-Eintr\xc3\xa4ge vorhanden",
      "  Nr  Zeiger             Gr\xc3\xb6\xc3\x9f" "e  Flags  Aufrufer            Funktion            Datei                    Zeile  Objekt",
      "Zusammenfassung nach Aufrufstelle:",
      "Anzahl       Bytes  Aufrufer            Funktion            Datei                    Zeile",
      "Programm beendet durch exit(",
      "Laufzeitfehler ", " bei ",
      "interner Fehler: kein Speicher, ", " Operationen nicht erfasst",
      "       Erste      Letzte",
      "... ", " weitere Eintr\xc3\xa4ge nicht aufgef\xc3\xbchrt (HEAPKIT_MAX_ENTRIES=",
      "; siehe die Zusammenfassung nach Aufrufstelle)",
      " weitere Aufrufstellen nicht aufgef\xc3\xbchrt (", " Bl\xc3\xb6" "cke, ",
      " Bytes)" },
};

/* The File column: wide enough for a path such as examples/heapbug.c */
#define HK__FILE_COL 24

#define TX(k) hk__text[hk__dbg_cfg.german ? 1 : 0][k]

/* ---- messages ------------------------------------------------------------ */

#define HK__MAX_MSG 8
static struct { const char *en, *de; long arg; } hk__msgs[HK__MAX_MSG];
static volatile int hk__nmsg;
static volatile int hk__exit_known, hk__exit_status;
static const char *volatile hk__rte_name;
static volatile uintptr_t hk__rte_addr;

void hk__dbg_message(const char *en, const char *de, long arg)
{
    int i = __atomic_fetch_add(&hk__nmsg, 1, __ATOMIC_SEQ_CST);
    if (i < HK__MAX_MSG) {
        hk__msgs[i].en = en;
        hk__msgs[i].de = de;
        hk__msgs[i].arg = arg;
    }
}

void hk__dbg_note_exit(int status)
{
    hk__exit_status = status;
    hk__exit_known = 1;
}

/* ---- output: out.h's writer, and the report's columns ---------------------- */

static void hk__pad(hk__out *o, size_t n)
{
    while (n--)
        hk__out_put(o, " ", 1);
}

/* Columns count characters, not bytes (the German text has umlauts). */
static size_t hk__width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static void hk__left(hk__out *o, const char *s, size_t w)
{
    size_t n = hk__width(s);
    hk__out_puts(o, s);
    if (n < w)
        hk__pad(o, w - n);
}

static void hk__right(hk__out *o, const char *s, size_t w)
{
    size_t n = hk__width(s);
    if (n < w)
        hk__pad(o, w - n);
    hk__out_puts(o, s);
}

static char *hk__udec(char *buf, unsigned long long v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *buf++ = tmp[--n];
    *buf = 0;
    return buf;
}

/* 0x and at least min hex digits. */
static char *hk__hex_min(char *buf, uintptr_t v, int min)
{
    static const char d[] = "0123456789abcdef";
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = d[v & 15];
        v >>= 4;
    } while (v);
    while (n < min)
        tmp[n++] = '0';
    *buf++ = '0';
    *buf++ = 'x';
    while (n)
        *buf++ = tmp[--n];
    *buf = 0;
    return buf;
}

/* 0x + 12 hex digits at least: the same width for Linux and Windows
 * user-space addresses. */
static char *hk__hex(char *buf, uintptr_t v)
{
    return hk__hex_min(buf, v, 12);
}

/* A right-aligned number, or a blank column when there is none. */
static void hk__num_col(hk__out *o, int has, unsigned long long v, size_t w)
{
    char b[24];
    if (!has) {
        hk__pad(o, w);
        return;
    }
    hk__udec(b, v);
    hk__right(o, b, w);
}

/* An allocation number's column: the runtime's (tracker.h) as "r12". */
static void hk__no_col(hk__out *o, uint32_t no, size_t w)
{
    char b[24];
    if (!HK__NO_IS_RT(no)) {
        hk__num_col(o, no != 0, no, w);
        return;
    }
    b[0] = 'r';
    hk__udec(b + 1, no & ~HK__NO_RT);
    hk__right(o, b, w);
}

/* JSON: an allocation number, and "runtime":true after a runtime's. */
static void hk__json_no(hk__out *o, const char *key, uint32_t no)
{
    hk__out_puts(o, key);
    if (!no) {
        hk__out_puts(o, "null");
        return;
    }
    hk__out_u(o, no & ~HK__NO_RT);
}

/* A count in a sentence, in groups of three: 4,999,800 (German 4.999.800). */
static void hk__put_grouped(hk__out *o, unsigned long long v)
{
    char b[24], g[32];
    size_t n = (size_t)(hk__udec(b, v) - b), i, k = 0;
    for (i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0)
            g[k++] = hk__dbg_cfg.german ? '.' : ',';
        g[k++] = b[i];
    }
    hk__out_put(o, g, k);
}

/* ---- who wrote it, and where the sources are (issue 11) --------------------- */

/* The program's full path: asked for at report time (no heap, no stdio),
 * so a forked child or an exec'ed image names itself.  "?" if unknown. */
static const char *hk__program(void)
{
    static char buf[1024];
#ifdef _WIN32
    DWORD n = GetModuleFileNameA(NULL, buf, (DWORD)sizeof buf);
    if (n == 0 || n >= sizeof buf)
        return "?";
    buf[n] = 0;
    return buf;
#else
    ssize_t n = -1;
#  ifdef __linux__
    n = readlink("/proc/self/exe", buf, sizeof buf - 1);
#  endif
    if (n > 0) {
        buf[n] = 0;
        return buf;
    }
#  ifdef __GLIBC__
    if (program_invocation_name && *program_invocation_name)
        return program_invocation_name;
#  endif
    return "?";
#endif
}

const char *hk__dbg_program(void)
{
    return hk__program();
}

static unsigned long hk__pid(void)
{
#ifdef _WIN32
    return (unsigned long)GetCurrentProcessId();
#else
    return (unsigned long)getpid();
#endif
}

static int hk__is_sep(char c)
{
    return c == '/' || c == '\\';
}

/* The working directory, read once per report (the program may have
 * changed it): absolute source paths under it are shown relative. */
static char hk__cwd[1024];
static size_t hk__cwd_len;

static void hk__read_cwd(void)
{
#ifdef _WIN32
    DWORD n = GetCurrentDirectoryA((DWORD)sizeof hk__cwd, hk__cwd);
    hk__cwd_len = n > 0 && n < sizeof hk__cwd ? n : 0;
#else
    hk__cwd_len = getcwd(hk__cwd, sizeof hk__cwd) ? strlen(hk__cwd) : 0;
#endif
    while (hk__cwd_len > 0 && hk__is_sep(hk__cwd[hk__cwd_len - 1]))
        hk__cwd_len--;      /* "/" and "C:\" end in a separator */
}

/* A source path as the macro gave it, minus the working directory's
 * prefix (Windows: either slash, any case of letters). */
static const char *hk__src_path(const char *file)
{
    size_t i;
    if (!file || !hk__cwd_len)
        return file;
    for (i = 0; i < hk__cwd_len; i++) {
        char a = file[i], b = hk__cwd[i];
#ifdef _WIN32
        if (hk__is_sep(a) && hk__is_sep(b))
            continue;
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z')
            b = (char)(b - 'A' + 'a');
#endif
        if (a != b || !a)
            return file;
    }
    return hk__is_sep(file[i]) && file[i + 1] ? file + i + 1 : file;
}

/* The text table's File column: the path, or, when it is wider than the
 * column, its end from a separator on, after "..." (the JSON has it all).
 * A base name wider than the column is shown whole. */
static void hk__text_path(hk__out *o, const char *file, size_t w)
{
    const char *p = file ? hk__src_path(file) : "?", *s, *last = NULL;
    if (hk__width(p) <= w) {
        hk__left(o, p, w);
        return;
    }
    for (s = p; *s; s++)
        if (hk__is_sep(*s)) {
            last = s;
            if (3 + hk__width(s) <= w)
                break;
        }
    if (!last) {
        hk__left(o, p, w);
        return;
    }
    if (!*s)
        s = last;
    hk__out_puts(o, "...");
    hk__left(o, s, w > 3 ? w - 3 : 0);
}

/* HEAPKIT_REPORT with %p as the pid of the process writing (a forked
 * child writes its own file) and %% as %; any other % stays as it is. */
static const char *hk__report_path(void)
{
    static char buf[sizeof hk__dbg_cfg.report_path + 64];
    const char *s = hk__dbg_cfg.report_path;
    size_t n = 0;
    for (; *s && n + 1 < sizeof buf; s++) {
        if (s[0] == '%' && s[1] == 'p') {
            char d[24], *q = d;
            hk__udec(d, hk__pid());
            while (*q && n + 1 < sizeof buf)
                buf[n++] = *q++;
            s++;
        } else if (s[0] == '%' && s[1] == '%') {
            buf[n++] = '%';
            s++;
        } else {
            buf[n++] = *s;
        }
    }
    buf[n] = 0;
    return buf;
}

/* The line under the title: program (base name), pid, schema. */
static void hk__text_header(hk__out *o)
{
    const char *prog = hk__program(), *b = prog, *s;
    for (s = prog; *s; s++)
        if (hk__is_sep(*s))
            b = s + 1;
    hk__out_puts(o, hk__dbg_cfg.german ? "Programm: " : "Program: ");
#ifdef _WIN32
    {   /* the name without ".exe": the same line as on POSIX */
        size_t n = strlen(b);
        if (n > 4 && hk__cfg_streq(b + n - 4, ".exe"))
            hk__out_put(o, b, n - 4);
        else
            hk__out_puts(o, b);
    }
#else
    hk__out_puts(o, b);
#endif
    hk__out_puts(o, hk__dbg_cfg.german ? " (PID " : " (pid ");
    hk__out_u(o, hk__pid());
    hk__out_puts(o, hk__dbg_cfg.german ? "), Berichtsschema " : "), report schema ");
    hk__out_u(o, HK__REPORT_SCHEMA);
    hk__out_puts(o, "\n");
}

/* The first keys of a JSON report. */
static void hk__json_header(hk__out *o)
{
    hk__out_puts(o, "\"schema\":");
    hk__out_u(o, HK__REPORT_SCHEMA);
    hk__out_puts(o, ",\"program\":");
    hk__out_json_str(o, hk__program());
    hk__out_puts(o, ",\"pid\":");
    hk__out_u(o, hk__pid());
    hk__out_puts(o, ",");
}

/* ---- collecting the entries ------------------------------------------------ */

typedef struct {
    uint64_t k1, k2;           /* order: (number, kind, arrival) */
    uintptr_t ptr;
    uint64_t size;
    uint32_t no;               /* 0: none */
    uint32_t site;
    const char *flags;
    const char *backend;       /* NULL: malloc */
    uint64_t heap_seq;
    int has_size;
    uint16_t fk;               /* FK: allocating | freeing family << 4 */
    unsigned lkind;            /* HK__LK_*: a live record's leak kind */
} hk__entry;

/* The entries to list (at most the cap) and how many there are in all. */
typedef struct {
    hk__entry *e;
    size_t n, cap;
    size_t bytes;              /* of the OS block */
    uint64_t total;            /* entries in all, listed or not */
} hk__list;

static const char *hk__rec_flags(unsigned kind, int s)
{
    if (kind & HK__K_OBJECT)
        return s ? "OS" : "O";
    return s ? "S" : "";
}

static void hk__entry_of_rec(hk__entry *e, const hk__rec *r)
{
    memset(e, 0, sizeof *e);
    e->k1 = (uint64_t)r->no << 2;
    e->k2 = 0;                 /* numbers are unique; before any event */
    e->ptr = r->ptr;
    e->size = HK__REC_SIZE(r);
    e->has_size = 1;
    e->no = r->no;
    e->site = r->site;
    e->flags = hk__rec_flags(HK__REC_KIND(r), 0);
    if (HK__REC_HEAP(r) != HK__HEAP_MALLOC)
        hk__heap_describe(HK__REC_HEAP(r), &e->backend, &e->heap_seq);
    e->lkind = hk__dbg_leak_kind(r);
    if (!hk__dbg_cfg.json)     /* the text groups leaks by kind, after the problems */
        e->k1 |= (uint64_t)e->lkind << 40;
}

static void hk__entry_of_event(hk__entry *e, const hk__event *ev, size_t i)
{
    memset(e, 0, sizeof *e);
    e->ptr = ev->ptr;
    e->size = ev->size;
    e->site = ev->site;
    e->backend = ev->heap_backend;
    e->heap_seq = ev->heap_seq;
    e->has_size = ev->kind != HK__EV_FM;
    switch (ev->kind) {
    case HK__EV_S:
    case HK__EV_LEAK:
        e->no = ev->no;
        e->k1 = (uint64_t)ev->no << 2;
        e->flags = hk__rec_flags(ev->rkind, ev->kind == HK__EV_S);
        break;
    case HK__EV_FS:
        e->k1 = (uint64_t)ev->no << 2 | 1;      /* right after its S */
        e->flags = "FS";
        break;
    case HK__EV_FK:
        e->no = ev->no;
        e->k1 = (uint64_t)ev->after << 2 | 2;   /* where the free happened */
        e->flags = "FK";
        e->fk = (uint16_t)(ev->pad | 0x100);
        break;
    default:
        e->k1 = (uint64_t)ev->after << 2 | 2;   /* after what came before */
        e->flags = "FM";
        break;
    }
    e->k2 = 1 + (uint64_t)i;                    /* in the log's order */
}

static int hk__before(const hk__entry *a, const hk__entry *b)
{
    return a->k1 < b->k1 || (a->k1 == b->k1 && a->k2 < b->k2);
}

/* Heap sort: in place, no allocation (crash paths), O(n log n). */
static void hk__sift(hk__entry *a, size_t i, size_t n)
{
    for (;;) {
        size_t c = 2 * i + 1;
        hk__entry t;
        if (c >= n)
            return;
        if (c + 1 < n && hk__before(&a[c], &a[c + 1]))
            c++;
        if (!hk__before(&a[i], &a[c]))
            return;
        t = a[i]; a[i] = a[c]; a[c] = t;
        i = c;
    }
}

static void hk__sort(hk__entry *a, size_t n)
{
    size_t i;
    for (i = n / 2; i-- > 0;)
        hk__sift(a, i, n);
    for (i = n; i-- > 1;) {
        hk__entry t = a[0]; a[0] = a[i]; a[i] = t;
        hk__sift(a, 0, i);
    }
}

/* ---- loss records ------------------------------------------------------------ */

/* The blocks still held (leaks, objects, heap leaks), grouped by where
 * they were allocated, as Valgrind's loss records.  The key is the call
 * site and a stack id (0 until whole stacks are recorded), so adding
 * stacks splits a site's record without changing anything else here. */
typedef struct {
    uint32_t site, stack;      /* the key */
    uint32_t first, last;      /* lowest and highest allocation number */
    uint64_t count, bytes;     /* count 0: an empty slot */
} hk__loss;

/* Open addressing in OS memory: the writer takes no heap memory and no
 * lock, and a million distinct sites cost one pass, not a million
 * searches. */
typedef struct {
    hk__loss *t;
    size_t cap;                /* a power of two, at least twice the keys */
    size_t n;                  /* keys in use; after hk__loss_rank: the rows */
    size_t keys;               /* after hk__loss_rank: keys in all */
    size_t bytes;              /* of the OS block */
    uint64_t count, total;     /* every held block and its bytes */
} hk__losses;

static int hk__losses_init(hk__losses *s, size_t keys)
{
    memset(s, 0, sizeof *s);
    s->cap = 16;
    while (s->cap < 2 * keys)
        s->cap *= 2;
    s->bytes = s->cap * sizeof *s->t;
    s->t = hk__dbg_os_alloc_raw(s->bytes);     /* zeroed: all slots empty */
    return s->t != NULL;
}

static void hk__loss_add(hk__losses *s, uint32_t site, uint32_t stack, uint32_t no,
                         uint64_t size)
{
    uint64_t h = ((uint64_t)site << 32 | stack) * 0x9E3779B97F4A7C15ull;
    size_t i = (size_t)(h >> 32) & (s->cap - 1);
    hk__loss *x;
    for (;; i = (i + 1) & (s->cap - 1)) {
        x = &s->t[i];
        if (x->count == 0) {
            /* full (more keys than the bound said: records added while
             * collecting): the totals still count it */
            if (s->n + 1 >= s->cap)
                goto totals;
            x->site = site;
            x->stack = stack;
            x->first = x->last = no;
            s->n++;
            break;
        }
        if (x->site == site && x->stack == stack)
            break;
    }
    x->count++;
    x->bytes += size;
    if (no < x->first)
        x->first = no;
    if (no > x->last)
        x->last = no;
totals:
    s->count++;
    s->total += size;
}

static int hk__loss_before(const hk__loss *a, const hk__loss *b)
{
    if (a->bytes != b->bytes)
        return a->bytes > b->bytes;
    if (a->count != b->count)
        return a->count > b->count;
    if (a->site != b->site)
        return a->site < b->site;
    return a->stack < b->stack;
}

/* A heap whose root is the row that comes last in the summary. */
static void hk__loss_sift(hk__loss *a, size_t i, size_t n)
{
    for (;;) {
        size_t c = 2 * i + 1;
        hk__loss t;
        if (c >= n)
            return;
        if (c + 1 < n && hk__loss_before(&a[c], &a[c + 1]))
            c++;
        if (!hk__loss_before(&a[i], &a[c]))
            return;
        t = a[i]; a[i] = a[c]; a[c] = t;
        i = c;
    }
}

/* Keep the rows to show, largest first, at the front of the table: the
 * top `max` (0: all) by a bounded heap, O(keys log max). */
static void hk__loss_rank(hk__losses *s, size_t max)
{
    hk__loss *a = s->t, t;
    size_t n = 0, i, m;
    for (i = 0; i < s->cap; i++)             /* close the gaps */
        if (a[i].count)
            a[n++] = a[i];
    m = max && max < n ? max : n;
    for (i = m / 2; i-- > 0;)
        hk__loss_sift(a, i, m);
    for (i = m; i < n; i++)
        if (hk__loss_before(&a[i], &a[0])) {
            t = a[0]; a[0] = a[i]; a[i] = t;
            hk__loss_sift(a, 0, m);
        }
    for (i = m; i-- > 1;) {                   /* the heap, sorted */
        t = a[0]; a[0] = a[i]; a[i] = t;
        hk__loss_sift(a, 0, i);
    }
    s->keys = n;
    s->n = m;
}

/* ---- one pass over the records ------------------------------------------------ */

/* The listing keeps the problems (the events) first and fills the rest
 * of the cap with the oldest live records: a max-heap by allocation
 * number, so a record replaces the newest kept one, O(records log cap). */
typedef struct {
    hk__losses *s;
    hk__rec *keep;
    size_t nkeep, maxkeep;
    uint64_t recs;
} hk__pass;

static void hk__keep_sift(hk__rec *a, size_t i, size_t n)
{
    for (;;) {
        size_t c = 2 * i + 1;
        hk__rec t;
        if (c >= n)
            return;
        if (c + 1 < n && a[c].no < a[c + 1].no)
            c++;
        if (a[i].no >= a[c].no)
            return;
        t = a[i]; a[i] = a[c]; a[c] = t;
        i = c;
    }
}

/* Suppressions (suppress.c): a live block a leak: rule hides; counted
 * for the report's "Suppressions used" when count is set. */
static int hk__supp_hides_rec(const hk__rec *r, int count)
{
    int k = hk__supp_check(HK__SUPP_LEAK, r->site);
    if (k && count)
        hk__supp_count(k, HK__REC_SIZE(r));
    return k != 0;
}

/* An event: a destroyed heap's leak by leak: rules, the rest by free:
 * rules at the free's site; an S goes with its FS (same number, later in
 * the log), so the pair is hidden or shown together. */
static int hk__supp_hides_event(const hk__event *ev, size_t i, size_t nev, int count)
{
    const hk__event *e = &ev[i];
    uint64_t bytes = 0;
    int k;
    if (e->kind == HK__EV_LEAK) {
        k = hk__supp_check(HK__SUPP_LEAK, e->site);
        bytes = e->size;
    } else if (e->kind == HK__EV_S) {
        size_t j;
        for (j = i + 1; j < nev; j++)
            if (ev[j].kind == HK__EV_FS && ev[j].no == e->no)
                break;
        k = j < nev ? hk__supp_check(HK__SUPP_FREE, ev[j].site) : 0;
        bytes = e->size;
    } else {
        k = hk__supp_check(HK__SUPP_FREE, e->site);
    }
    if (k && count)
        hk__supp_count(k, bytes);
    return k != 0;
}

/* Before the passes that count: every site a record or an event may be
 * hidden by is asked once, then decided with no tracker lock held. */
static void hk__supp_ask_rec(const hk__rec *r, void *arg)
{
    (void)arg;
    /* only what would be listed: symbolizing a site is the report's
     * dearest step (a module's DWARF may have to be decompressed) */
    if (hk__dbg_past_mark(r->no) && hk__dbg_leak_is_finding(r))
        hk__supp_check(HK__SUPP_LEAK, r->site);
}

static void hk__supp_prepare(int crashing)
{
    const hk__event *ev;
    size_t nev = hk__dbg_events(&ev), i;
    if (!hk__supp_active())
        return;
    for (i = hk__dbg_mark_event; i < nev; i++)
        hk__supp_hides_event(ev, i, nev, 0);
    hk__dbg_each_record(hk__supp_ask_rec, NULL, !crashing);
    hk__supp_settle();
}

static void hk__pass_rec(const hk__rec *r, void *arg)
{
    hk__pass *p = arg;
    if (!hk__dbg_past_mark(r->no) || !hk__dbg_leak_is_finding(r))
        return;
    if (hk__supp_hides_rec(r, 1))
        return;
    p->recs++;
    hk__loss_add(p->s, r->site, 0, r->no, HK__REC_SIZE(r));
    if (p->nkeep < p->maxkeep) {
        size_t i = p->nkeep++;
        p->keep[i] = *r;
        while (i > 0 && p->keep[(i - 1) / 2].no < p->keep[i].no) {
            hk__rec t = p->keep[i];
            p->keep[i] = p->keep[(i - 1) / 2];
            p->keep[(i - 1) / 2] = t;
            i = (i - 1) / 2;
        }
    } else if (p->maxkeep && r->no < p->keep[0].no) {
        p->keep[0] = *r;
        hk__keep_sift(p->keep, 0, p->nkeep);
    }
}

static void hk__count_cb(const hk__rec *r, void *arg)
{
    (void)r;
    ++*(size_t *)arg;
}

static size_t hk__size_min(size_t a, size_t b) { return a < b ? a : b; }

/* Live records are counted first, with room to spare for any that appear
 * while collecting; that count bounds the list and the loss table. */
static int hk__collect(hk__list *l, hk__losses *s, int crashing)
{
    const hk__event *ev;
    size_t recs = 0, nev = hk__dbg_events(&ev), i, room, hidden = 0;
    size_t max = hk__dbg_cfg.max_entries;
    hk__pass p;
    memset(l, 0, sizeof *l);
    memset(&p, 0, sizeof p);
    hk__supp_prepare(crashing);
    if (nev < hk__dbg_mark_event)
        nev = hk__dbg_mark_event;
    hk__dbg_each_record(hk__count_cb, &recs, !crashing);
    room = recs + (nev - hk__dbg_mark_event) + 64;
    l->cap = max ? hk__size_min(max, room) : room;
    l->bytes = l->cap * (sizeof(hk__entry) + sizeof(hk__rec));
    l->e = hk__dbg_os_alloc_raw(l->bytes);
    if (!l->e)
        return 0;
    /* sites are interned once: there cannot be more loss records */
    if (!hk__losses_init(s, hk__size_min(room, (size_t)hk__dbg_nsites() + 1))) {
        hk__dbg_os_free(l->e, l->bytes);
        return 0;
    }
    for (i = hk__dbg_mark_event; i < nev; i++) {
        if (hk__supp_hides_event(ev, i, nev, 1)) {
            hidden++;
            continue;
        }
        if (ev[i].kind == HK__EV_LEAK)
            hk__loss_add(s, ev[i].site, 0, ev[i].no, ev[i].size);
        if (l->n < l->cap)
            hk__entry_of_event(&l->e[l->n++], &ev[i], i);
    }
    p.s = s;
    p.keep = (hk__rec *)(l->e + l->cap);
    p.maxkeep = l->cap - l->n;
    hk__dbg_each_record(hk__pass_rec, &p, !crashing);
    for (i = 0; i < p.nkeep && l->n < l->cap; i++)
        hk__entry_of_rec(&l->e[l->n++], &p.keep[i]);
    l->total = p.recs + (nev - hk__dbg_mark_event - hidden);
    hk__sort(l->e, l->n);
    hk__loss_rank(s, max && max < HK__MAX_SITES ? max : max ? HK__MAX_SITES : 0);
    return 1;
}

/* ---- formatting ------------------------------------------------------------ */

static void hk__heap_name(char *buf, const char *backend, uint64_t seq)
{
    char *p = buf;
    if (!backend) {
        strcpy(buf, "malloc");
        return;
    }
    while (*backend && p < buf + 40)
        *p++ = *backend++;
    *p++ = '#';
    hk__udec(p, seq);
}

/* ---- symbolized places (symbolize.c, stacks.c) -------------------------- */

static void hk__json_num_or_null(hk__out *o, int has, unsigned long long v);

/* Set while a crash handler writes the report: no libdw, no locks (the
 * places come from the crash child's table, see symbolize.c). */
static int hk__sym_crashing;

static void hk__frame_of(uintptr_t ret, hk__frame_info *fi)
{
    memset(fi, 0, sizeof *fi);
    if (!ret)
        return;
    if (hk__sym_crashing)
        hk__symbolize_safe(ret, 1, fi);
    else
        hk__symbolize(ret, fi);
}

/* 0x and as many hex digits as the value needs (module offsets). */
static char *hk__hex_short(char *buf, uintptr_t v)
{
    return hk__hex_min(buf, v, 1);
}

/* A site's place as the text columns show it: what the macros gave, the
 * rest from the caller's debug information. */
typedef struct {
    const char *func, *file;
    int line;
    int sym_file;              /* file is a DWARF path, not a macro's __FILE__ */
    hk__frame_info fi;         /* the caller, symbolized */
} hk__place;

static void hk__place_of(const hk__site *st, hk__place *pl)
{
    memset(pl, 0, sizeof *pl);
    if (!st)
        return;
    hk__frame_of(st->caller, &pl->fi);
    pl->func = st->func ? st->func : pl->fi.function;
    if (st->file) {
        pl->file = st->file;          /* hk__text_path shortens it */
        pl->line = st->line;
    } else if (pl->fi.file) {
        pl->file = pl->fi.file;
        pl->line = pl->fi.line;
        pl->sym_file = 1;
    }
}

/* Without a source place: module+0xoffset, for addr2line -f -e module. */
static void hk__put_module_offset(hk__out *o, const hk__frame_info *fi)
{
    char b[24];
    hk__out_puts(o, fi->module);
    hk__out_puts(o, "+");
    hk__hex_short(b, fi->offset);
    hk__out_puts(o, b);
}

/* The backtrace under an entry or a loss record: the frames after the
 * caller (which the row shows), one indented line each. */
static void hk__text_backtrace(hk__out *o, const hk__site *st)
{
    const uintptr_t *f;
    size_t n, i;
    if (!st || !st->stack)
        return;
    n = hk__stack_frames(st->stack, &f);
    for (i = 1; i < n; i++) {
        hk__frame_info fi;
        hk__frame_of(f[i], &fi);
        hk__out_puts(o, "        #");
        hk__out_u(o, i);
        hk__out_puts(o, " ");
        hk__out_puts(o, fi.function ? fi.function : "?");
        hk__out_puts(o, " ");
        if (fi.file) {
            hk__out_puts(o, fi.file);
            hk__out_puts(o, ":");
            hk__out_u(o, (unsigned long long)(fi.line > 0 ? fi.line : 0));
        } else if (fi.module) {
            hk__put_module_offset(o, &fi);
        } else {
            char b[24];
            hk__hex(b, f[i]);
            hk__out_puts(o, b);
        }
        hk__out_puts(o, "\n");
    }
}

/* JSON: one frame; the macros' function, file and line stand in for the
 * caller's where there is no debug information. */
static void hk__json_frame(hk__out *o, uintptr_t pc, const hk__frame_info *fi)
{
    char b[24];
    hk__out_puts(o, "{\"pc\":\"");
    hk__hex(b, pc);
    hk__out_puts(o, b);
    hk__out_puts(o, "\",\"function\":");
    hk__out_json_str(o, fi->function);
    hk__out_puts(o, ",\"file\":");
    hk__out_json_str(o, fi->file);
    hk__out_puts(o, ",\"line\":");
    hk__json_num_or_null(o, fi->file && fi->line > 0, (unsigned long long)fi->line);
    hk__out_puts(o, ",\"module\":");
    hk__out_json_str(o, fi->module);
    hk__out_puts(o, ",\"offset\":");
    if (fi->module) {
        hk__out_puts(o, "\"");
        hk__hex_short(b, fi->offset);
        hk__out_puts(o, b);
        hk__out_puts(o, "\"");
    } else {
        hk__out_puts(o, "null");
    }
    hk__out_puts(o, "}");
}

/* "frames": the site's whole stack, or its caller alone. */
static void hk__json_frames(hk__out *o, const hk__site *st)
{
    const uintptr_t *f = NULL;
    size_t n = 0, i;
    hk__frame_info fi;
    hk__out_puts(o, ",\"frames\":[");
    if (st && st->stack)
        n = hk__stack_frames(st->stack, &f);
    if (n) {
        for (i = 0; i < n; i++) {
            hk__frame_of(f[i], &fi);
            hk__out_puts(o, i ? "," : "");
            hk__json_frame(o, f[i], &fi);
        }
    } else {
        hk__frame_of(st ? st->caller : 0, &fi);
        hk__json_frame(o, st ? st->caller : 0, &fi);
    }
    hk__out_puts(o, "]");
}

/* The crash line's " in function (module+0xoffset)". */
static void hk__text_crash_place(hk__out *o, uintptr_t pc)
{
    hk__frame_info fi;
    if (!pc)
        return;
    memset(&fi, 0, sizeof fi);
    hk__symbolize_crash(pc, &fi);
    if (fi.function) {
        hk__out_puts(o, " in ");
        hk__out_puts(o, fi.function);
    }
    if (fi.file) {
        hk__out_puts(o, " ");
        hk__out_puts(o, fi.file);
        hk__out_puts(o, ":");
        hk__out_u(o, (unsigned long long)(fi.line > 0 ? fi.line : 0));
    }
    if (fi.module) {
        hk__out_puts(o, " (");
        hk__put_module_offset(o, &fi);
        hk__out_puts(o, ")");
    }
}

/* FK: which function allocated the block and which freed it */
static const char *hk__fam_name(unsigned fam, int freeing)
{
    static const char *const names[2][4] = { { "malloc", "new", "new[]", "_aligned_malloc" },
                                             { "free", "delete", "delete[]", "_aligned_free" } };
    return names[freeing][fam < 4 ? fam : 0];
}

static void hk__fk_text(hk__out *o, unsigned fk)
{
    hk__out_puts(o, hk__fam_name(fk & 0xF, 0));
    hk__out_puts(o, hk__dbg_cfg.german ? " freigegeben mit " : " freed by ");
    hk__out_puts(o, hk__fam_name((fk >> 4) & 0xF, 1));
}

/* ---- leak kinds ------------------------------------------------------------ */

static const char *const hk__kind_text[2][5] = {
    { "", "Definitely lost", "Indirectly lost", "Still reachable", "Leak summary:" },
    { "", "Definitiv verloren", "Indirekt verloren", "Noch erreichbar",
      "Zusammenfassung der Lecks:" },
};
static const char *const hk__kind_json[4] = { NULL, "definite", "indirect", "reachable" };
#define KX(k) hk__kind_text[hk__dbg_cfg.german ? 1 : 0][k]

/* The Flags column of a row: its flags and, for a classified leak, the
 * kind's letter (D, I, R). */
static const char *hk__kind_flags(char *buf, const hk__entry *e)
{
    size_t n = strlen(e->flags);
    if (!e->lkind)
        return e->flags;
    memcpy(buf, e->flags, n);
    buf[n] = "-DIR"[e->lkind];
    buf[n + 1] = 0;
    return buf;
}

/* A heading where the rows of a new leak kind begin. */
static void hk__text_kind_head(hk__out *o, const hk__list *l, size_t i)
{
    unsigned k = l->e[i].lkind;
    if (!k || (i > 0 && l->e[i - 1].lkind == k))
        return;
    hk__out_puts(o, KX(k));
    hk__out_puts(o, ":\n");
}

/* Count and bytes of every classified live block per kind, listed or
 * not (LSan's and Valgrind's leak summary). */
typedef struct { uint64_t count[4], bytes[4], rt_count, rt_bytes; int any; } hk__kind_sum;

static void hk__kind_sum_cb(const hk__rec *r, void *arg)
{
    hk__kind_sum *ks = arg;
    unsigned k;
    if (!hk__dbg_past_mark(r->no))
        return;
    k = hk__dbg_leak_kind(r);
    if (!k || hk__supp_hides_rec(r, 0))     /* suppressed: not counted either */
        return;
    ks->any = 1;
    if (k == HK__LK_REACHABLE && HK__NO_IS_RT(r->no)) {
        /* a runtime's own block, held to the end: not the program's */
        ks->rt_count++;
        ks->rt_bytes += HK__REC_SIZE(r);
        return;
    }
    ks->count[k]++;
    ks->bytes[k] += HK__REC_SIZE(r);
}

/* The runtime's reachable blocks have a line (a key) of their own, only
 * where reachable blocks are listed: they are then among the rows. */
static int hk__rt_line(const hk__kind_sum *ks)
{
    return ks->rt_count && (hk__dbg_leak_kinds & (1u << HK__LK_REACHABLE));
}

static void hk__kind_summary(hk__kind_sum *ks)
{
    memset(ks, 0, sizeof *ks);
    hk__dbg_each_record(hk__kind_sum_cb, ks, 1);
}

static void hk__text_leak_summary(hk__out *o)
{
    hk__kind_sum ks;
    unsigned k;
    hk__kind_summary(&ks);
    if (!ks.any)
        return;
    hk__out_puts(o, KX(4));
    hk__out_puts(o, "\n");
    for (k = HK__LK_DEFINITE; k <= HK__LK_REACHABLE; k++) {
        hk__out_puts(o, "   ");
        hk__out_puts(o, KX(k));
        hk__out_puts(o, ": ");
        hk__put_grouped(o, ks.count[k]);
        hk__out_puts(o, hk__dbg_cfg.german ? " Bl\xc3\xb6" "cke, " : " blocks, ");
        hk__put_grouped(o, ks.bytes[k]);
        hk__out_puts(o, hk__dbg_cfg.german ? " Bytes" : " bytes");
        if (!(hk__dbg_leak_kinds & (1u << k)))
            hk__out_puts(o, hk__dbg_cfg.german ? " (nicht aufgef\xc3\xbchrt)" : " (not listed)");
        hk__out_puts(o, "\n");
    }
    if (hk__rt_line(&ks)) {
        hk__out_puts(o, hk__dbg_cfg.german ? "   Von der C-Laufzeit gehalten: "
                                           : "   Held by the C runtime: ");
        hk__put_grouped(o, ks.rt_count);
        hk__out_puts(o, hk__dbg_cfg.german ? " Bl\xc3\xb6" "cke, " : " blocks, ");
        hk__put_grouped(o, ks.rt_bytes);
        hk__out_puts(o, hk__dbg_cfg.german ? " Bytes\n" : " bytes\n");
    }
}

static void hk__json_leak_summary(hk__out *o)
{
    hk__kind_sum ks;
    unsigned k;
    hk__kind_summary(&ks);
    hk__out_puts(o, ",\"leak_summary\":");
    if (!hk__dbg_leak_scanned()) {          /* a crash, or no scan on this platform */
        hk__out_puts(o, "null");
        return;
    }
    for (k = HK__LK_DEFINITE; k <= HK__LK_REACHABLE; k++) {
        hk__out_puts(o, k == HK__LK_DEFINITE ? "{\"" : ",\"");
        hk__out_puts(o, hk__kind_json[k]);
        hk__out_puts(o, "\":{\"count\":");
        hk__out_u(o, ks.count[k]);
        hk__out_puts(o, ",\"bytes\":");
        hk__out_u(o, ks.bytes[k]);
        hk__out_puts(o, "}");
    }
    if (hk__rt_line(&ks)) {
        hk__out_puts(o, ",\"runtime\":{\"count\":");
        hk__out_u(o, ks.rt_count);
        hk__out_puts(o, ",\"bytes\":");
        hk__out_u(o, ks.rt_bytes);
        hk__out_puts(o, "}");
    }
    hk__out_puts(o, "}");
}

static void hk__text_entry(hk__out *o, const hk__entry *e)
{
    const hk__site *s = hk__dbg_site(e->site);
    hk__place pl;
    char b[64];
    hk__no_col(o, e->no, 4);
    hk__pad(o, 2);
    hk__hex(b, e->ptr);
    hk__left(o, b, 14);
    hk__num_col(o, e->has_size, e->size, 10);
    hk__pad(o, 2);
    hk__left(o, hk__kind_flags(b, e), 5);
    hk__pad(o, 2);
    hk__hex(b, s ? s->caller : 0);
    hk__left(o, b, 18);
    hk__pad(o, 2);
    hk__place_of(s, &pl);
    hk__left(o, pl.func ? pl.func : "?", 18);
    hk__pad(o, 2);
    hk__text_path(o, pl.file, HK__FILE_COL);
    hk__num_col(o, pl.file && pl.line > 0, (unsigned long long)pl.line, 6);
    if (e->fk) {
        hk__pad(o, 2);
        hk__fk_text(o, e->fk);
    } else if (s && s->type) {
        hk__pad(o, 2);
        hk__out_puts(o, s->type);
    } else if (e->backend) {
        hk__pad(o, 2);
        hk__out_puts(o, "heap:");
        hk__heap_name(b, e->backend, e->heap_seq);
        hk__out_puts(o, b);
    }
    if (!pl.file && pl.fi.module) {
        hk__pad(o, 2);
        hk__put_module_offset(o, &pl.fi);
    }
    hk__out_puts(o, "\n");
    hk__text_backtrace(o, s);
}

static void hk__text_messages(hk__out *o)
{
    int i, n = hk__nmsg < HK__MAX_MSG ? hk__nmsg : HK__MAX_MSG;
    char b[32];
    for (i = 0; i < n; i++) {
        hk__out_puts(o, hk__dbg_cfg.german ? hk__msgs[i].de : hk__msgs[i].en);
        hk__out_puts(o, "\n");
    }
    if (hk__rte_name) {
        hk__out_puts(o, TX(T_RTE));
        hk__out_puts(o, hk__rte_name);
        hk__out_puts(o, TX(T_AT));
        hk__hex(b, hk__rte_addr);
        hk__out_puts(o, b);
        hk__text_crash_place(o, hk__rte_addr);
        hk__out_puts(o, "\n");
    }
    if (hk__exit_known && hk__exit_status != 0) {
        hk__out_puts(o, TX(T_EXIT));
        if (hk__exit_status < 0) {
            hk__out_puts(o, "-");
            hk__out_u(o, (unsigned long long)-(long long)hk__exit_status);
        } else {
            hk__out_u(o, (unsigned long long)hk__exit_status);
        }
        hk__out_puts(o, ")\n");
    }
    if (hk__dbg_missed()) {
        hk__out_puts(o, TX(T_OOM1));
        hk__out_u(o, hk__dbg_missed());
        hk__out_puts(o, TX(T_OOM2));
        hk__out_puts(o, "\n");
    }
}

/* Entries left out by the cap: one line that says how many and where
 * they went. */
static void hk__text_omitted(hk__out *o, const hk__list *l)
{
    if (l->total <= l->n)
        return;
    hk__out_puts(o, TX(T_MORE_E));
    hk__put_grouped(o, l->total - l->n);
    hk__out_puts(o, TX(T_MORE_E2));
    hk__out_u(o, hk__dbg_cfg.max_entries);
    hk__out_puts(o, TX(T_MORE_E3));
    hk__out_puts(o, "\n");
}

/* First/Last only when they tell something the entry rows do not: a site
 * with more than one block, or entries left out.  Otherwise each site is
 * one listed entry with its No, and the table keeps its old layout. */
static int hk__show_first_last(const hk__list *l, const hk__losses *s)
{
    size_t i;
    if (l->total > l->n)
        return 1;
    for (i = 0; i < s->n; i++)
        if (s->t[i].count > 1)
            return 1;
    return 0;
}

static void hk__text_summary(hk__out *o, const hk__list *l, const hk__losses *s)
{
    int fl = hk__show_first_last(l, s);
    uint64_t count = 0, bytes = 0;
    size_t i;
    char b[64];
    if (!s->n)
        return;
    hk__out_puts(o, TX(T_SUMMARY));
    hk__out_puts(o, "\n");
    hk__out_puts(o, TX(T_SUMCOLS));
    if (fl)
        hk__out_puts(o, TX(T_FIRSTLAST));
    hk__out_puts(o, "\n");
    for (i = 0; i < s->n; i++) {
        const hk__loss *x = &s->t[i];
        const hk__site *st = hk__dbg_site(x->site);
        hk__place pl;
        count += x->count;
        bytes += x->bytes;
        hk__num_col(o, 1, x->count, 6);
        hk__num_col(o, 1, x->bytes, 12);
        hk__pad(o, 2);
        hk__hex(b, st ? st->caller : 0);
        hk__left(o, b, 18);
        hk__pad(o, 2);
        hk__place_of(st, &pl);
        hk__left(o, pl.func ? pl.func : "?", 18);
        hk__pad(o, 2);
        if (fl) {
            hk__text_path(o, pl.file, HK__FILE_COL);
            hk__num_col(o, pl.file && pl.line > 0, (unsigned long long)pl.line, 6);
            hk__pad(o, 2);
            hk__no_col(o, x->first, 10);
            hk__pad(o, 2);
            hk__no_col(o, x->last, 10);
        } else if (pl.file && pl.line > 0) {
            hk__text_path(o, pl.file, HK__FILE_COL);
            hk__num_col(o, 1, (unsigned long long)pl.line, 6);
        } else {
            hk__out_puts(o, pl.file ? hk__src_path(pl.file) : "?");
        }
        if (!pl.file && pl.fi.module) {
            hk__pad(o, 2);
            hk__put_module_offset(o, &pl.fi);
        }
        hk__out_puts(o, "\n");
        hk__text_backtrace(o, st);
    }
    if (s->keys > s->n || s->count > count) {     /* the rows left out, in one line */
        hk__out_puts(o, TX(T_MORE_E));
        hk__put_grouped(o, s->keys - s->n);
        hk__out_puts(o, TX(T_MORE_S));
        hk__put_grouped(o, s->count - count);
        hk__out_puts(o, TX(T_MORE_S2));
        hk__put_grouped(o, s->total - bytes);
        hk__out_puts(o, TX(T_MORE_S3));
        hk__out_puts(o, "\n");
    }
}

/* Suppressions: what the rules hid, split by default and user rules,
 * and each rule that hid something (as LSan's "Suppressions used:").
 * Nothing when nothing was hidden. */
static void hk__supp_totals(uint64_t *count, uint64_t *bytes)
{
    const hk__supp_rule *r;
    size_t n = hk__supp_rules(&r), i;
    count[0] = count[1] = bytes[0] = bytes[1] = 0;
    for (i = 0; i < n; i++) {
        count[r[i].dflt] += r[i].count;
        bytes[r[i].dflt] += r[i].bytes;
    }
}

static void hk__text_supp_split(hk__out *o, const char *name, uint64_t count, uint64_t bytes)
{
    hk__out_puts(o, name);
    hk__put_grouped(o, count);
    hk__out_puts(o, hk__dbg_cfg.german ? (count == 1 ? " Eintrag, " : " Eintr\xc3\xa4ge, ")
                                   : (count == 1 ? " entry, " : " entries, "));
    hk__put_grouped(o, bytes);
    hk__out_puts(o, hk__dbg_cfg.german ? " Bytes" : " bytes");
}

static void hk__text_suppressed(hk__out *o)
{
    const hk__supp_rule *r;
    size_t n = hk__supp_rules(&r), i;
    uint64_t count[2], bytes[2];
    int de = hk__dbg_cfg.german;
    hk__supp_totals(count, bytes);
    if (!count[0] && !count[1])
        return;
    hk__text_supp_split(o, de ? "Unterdr\xc3\xbc" "ckt: " : "Suppressed: ",
                        count[0] + count[1], bytes[0] + bytes[1]);
    hk__text_supp_split(o, de ? " (Benutzerregeln: " : " (user rules: ", count[0], bytes[0]);
    hk__text_supp_split(o, de ? "; Standardregeln: " : "; default rules: ", count[1], bytes[1]);
    hk__out_puts(o, ")\n");
    hk__out_puts(o, de ? "Verwendete Unterdr\xc3\xbc" "ckungen:\n" : "Suppressions used:\n");
    hk__out_puts(o, de ? "Anzahl       Bytes  Regel\n" : " Count       Bytes  Rule\n");
    for (i = 0; i < n; i++) {
        if (!r[i].count)
            continue;
        hk__num_col(o, 1, r[i].count, 6);
        hk__num_col(o, 1, r[i].bytes, 12);
        hk__pad(o, 2);
        hk__out_puts(o, r[i].text);
        if (r[i].dflt)
            hk__out_puts(o, de ? "  (Standard)" : "  (default)");
        hk__out_puts(o, "\n");
    }
}

/* JSON: "suppressed":{"count","bytes","default":{..},"user":{..},"rules":[..]},
 * always there (zeros and an empty list when nothing was hidden). */
static void hk__json_supp_pair(hk__out *o, const char *key, uint64_t count, uint64_t bytes)
{
    hk__out_puts(o, key);
    hk__out_puts(o, "{\"count\":");
    hk__out_u(o, count);
    hk__out_puts(o, ",\"bytes\":");
    hk__out_u(o, bytes);
    hk__out_puts(o, "}");
}

static void hk__json_suppressed(hk__out *o)
{
    const hk__supp_rule *r;
    size_t n = hk__supp_rules(&r), i;
    uint64_t count[2], bytes[2];
    int first = 1;
    hk__supp_totals(count, bytes);
    hk__out_puts(o, ",\"suppressed\":{\"count\":");
    hk__out_u(o, count[0] + count[1]);
    hk__out_puts(o, ",\"bytes\":");
    hk__out_u(o, bytes[0] + bytes[1]);
    hk__json_supp_pair(o, ",\"user\":", count[0], bytes[0]);
    hk__json_supp_pair(o, ",\"default\":", count[1], bytes[1]);
    hk__out_puts(o, ",\"rules\":[");
    for (i = 0; i < n; i++) {
        if (!r[i].count)
            continue;
        hk__out_puts(o, first ? "{\"rule\":" : ",{\"rule\":");
        first = 0;
        hk__out_json_str(o, r[i].text);
        hk__out_puts(o, ",\"default\":");
        hk__out_puts(o, r[i].dflt ? "true" : "false");
        hk__out_puts(o, ",\"count\":");
        hk__out_u(o, r[i].count);
        hk__out_puts(o, ",\"bytes\":");
        hk__out_u(o, r[i].bytes);
        hk__out_puts(o, "}");
    }
    hk__out_puts(o, "]}");
}

/* ---- walk-diff (walkdiff.c): blocks no hook saw --------------------------- */

/* What both sections show of the --walk-diff result. */
typedef struct hk__untracked_view {
    const hk__untracked *u;
    size_t n, shown;                 /* shown: max_entries caps them as it caps entries */
    uint64_t bytes;
    int complete;                    /* 0: the exit walk ran out of memory (n is 0) */
} hk__untracked_view;

/* 0 without --walk-diff. */
static int hk__untracked_get(hk__untracked_view *v)
{
    int n = hk__walkdiff_blocks(&v->u);
    unsigned long cap = hk__dbg_cfg.max_entries;
    size_t i;
    if (n == -1)
        return 0;
    v->complete = n != -2;
    v->n = n < 0 ? 0 : (size_t)n;
    v->shown = cap && v->n > cap ? (size_t)cap : v->n;
    v->bytes = 0;
    for (i = 0; i < v->n; i++)
        v->bytes += v->u[i].size;
    return 1;
}

/* A block's first bytes as text, '.' for what does not print. */
static void hk__untracked_text(const hk__untracked *u, char *b)
{
    unsigned k;
    for (k = 0; k < u->nbytes; k++)
        b[k] = (char)(u->bytes[k] >= 0x20 && u->bytes[k] < 0x7f ? u->bytes[k] : '.');
    b[k] = 0;
}

/* Text: a heading, one row per block (size, heap, pointer, its first
 * bytes in hex and as text), then the summary line.  Nothing without
 * --walk-diff.  Not findings: system DLLs allocate from these heaps too. */
static void hk__text_untracked(hk__out *o)
{
    hk__untracked_view v;
    const hk__untracked *u;
    int de = hk__dbg_cfg.german;
    size_t i;
    unsigned k;
    char b[64];
    if (!hk__untracked_get(&v))
        return;
    u = v.u;
    hk__out_puts(o, de ? "Nicht erfasste Bl\xc3\xb6" "cke (walk-diff: am Ende belegt, am Anfang nicht,"
                     " von keinem Hook gesehen):\n"
                   : "Untracked blocks (walk-diff: busy at exit, not at start, seen by no hook):\n");
    if (v.shown)
        hk__out_puts(o, de ? "     Gr\xc3\xb6\xc3\x9f" "e  Heap        Zeiger              Inhalt\n"
                       : "      Size  Heap        Pointer             Contents\n");
    for (i = 0; i < v.shown; i++) {
        hk__num_col(o, 1, u[i].size, 10);
        hk__pad(o, 2);
        hk__walkdiff_heap_name(u[i].heap, b, sizeof b);
        hk__left(o, b, 10);
        hk__pad(o, 2);
        hk__hex(b, u[i].ptr);
        hk__left(o, b, 18);
        hk__pad(o, 2);
        for (k = 0; k < u[i].nbytes; k++) {
            static const char hx[] = "0123456789abcdef";
            char h[3] = { hx[u[i].bytes[k] >> 4], hx[u[i].bytes[k] & 15], ' ' };
            hk__out_put(o, h, 3);
        }
        hk__untracked_text(&u[i], b);
        hk__out_puts(o, "|");
        hk__out_puts(o, b);
        hk__out_puts(o, "|\n");
    }
    if (v.shown < v.n) {
        hk__out_puts(o, "... ");
        hk__put_grouped(o, (uint64_t)(v.n - v.shown));
        hk__out_puts(o, de ? " weitere nicht aufgef\xc3\xbchrt (HEAPKIT_MAX_ENTRIES)\n"
                       : " more not listed (HEAPKIT_MAX_ENTRIES)\n");
    }
    hk__out_puts(o, de ? "Nicht erfasst: " : "Untracked: ");
    hk__put_grouped(o, (uint64_t)v.n);
    hk__out_puts(o, de ? (v.n == 1 ? " Block, " : " Bl\xc3\xb6" "cke, ")
                       : (v.n == 1 ? " block, " : " blocks, "));
    hk__put_grouped(o, v.bytes);
    hk__out_puts(o, de ? " Bytes (keine Befunde" : " bytes (not counted as findings");
    if (!v.complete)
        hk__out_puts(o, de ? "; unvollst\xc3\xa4ndig: kein Speicher" : "; incomplete: out of memory");
    hk__out_puts(o, ")\n");
}

/* JSON: "untracked":{"count","bytes","complete","blocks":[{"pointer","size",
 * "heap","heap_handle","contents" (hex),"text"}],"blocks_omitted"}; only
 * with --walk-diff. */
static void hk__json_untracked(hk__out *o)
{
    hk__untracked_view v;
    const hk__untracked *u;
    size_t i;
    unsigned k;
    char b[64];
    if (!hk__untracked_get(&v))
        return;
    u = v.u;
    hk__out_puts(o, ",\"untracked\":{\"count\":");
    hk__out_u(o, (uint64_t)v.n);
    hk__out_puts(o, ",\"bytes\":");
    hk__out_u(o, v.bytes);
    hk__out_puts(o, v.complete ? ",\"complete\":true" : ",\"complete\":false");
    hk__out_puts(o, ",\"blocks\":[");
    for (i = 0; i < v.shown; i++) {
        hk__out_puts(o, i ? ",{\"pointer\":\"" : "{\"pointer\":\"");
        hk__hex(b, u[i].ptr);
        hk__out_puts(o, b);
        hk__out_puts(o, "\",\"size\":");
        hk__out_u(o, u[i].size);
        hk__out_puts(o, ",\"heap\":");
        hk__walkdiff_heap_name(u[i].heap, b, sizeof b);
        hk__out_json_str(o, b);
        hk__out_puts(o, ",\"heap_handle\":\"");
        hk__hex(b, u[i].heap);
        hk__out_puts(o, b);
        hk__out_puts(o, "\",\"contents\":\"");
        for (k = 0; k < u[i].nbytes; k++) {
            static const char hx[] = "0123456789abcdef";
            char h[2] = { hx[u[i].bytes[k] >> 4], hx[u[i].bytes[k] & 15] };
            hk__out_put(o, h, 2);
        }
        hk__out_puts(o, "\",\"text\":");
        hk__untracked_text(&u[i], b);
        hk__out_json_str(o, b);
        hk__out_puts(o, "}");
    }
    hk__out_puts(o, "],\"blocks_omitted\":");
    hk__out_u(o, (uint64_t)(v.n - v.shown));
    hk__out_puts(o, "}");
}

static void hk__text_report(hk__out *o, const hk__list *l, const hk__losses *s)
{
    size_t i;
    hk__out_puts(o, TX(T_HEAD));
    hk__out_puts(o, "\n");
    hk__text_header(o);
    hk__out_puts(o, "   ");
    hk__out_u(o, hk__dbg_registered());
    hk__out_puts(o, " ");
    hk__out_puts(o, TX(T_REG));
    hk__out_puts(o, "\n   ");
    hk__out_u(o, l->total);
    hk__out_puts(o, " ");
    hk__out_puts(o, TX(T_ENTRIES));
    hk__out_puts(o, "\n");
    if (l->n) {
        hk__out_puts(o, TX(T_COLS));
        hk__out_puts(o, "\n");
        for (i = 0; i < l->n; i++) {
            hk__text_kind_head(o, l, i);
            hk__text_entry(o, &l->e[i]);
        }
    }
    hk__text_omitted(o, l);
    hk__text_summary(o, l, s);
    hk__text_leak_summary(o);
    hk__text_suppressed(o);
    hk__text_untracked(o);
    hk__text_messages(o);
}

static void hk__json_num_or_null(hk__out *o, int has, unsigned long long v)
{
    if (has)
        hk__out_u(o, v);
    else
        hk__out_puts(o, "null");
}

static void hk__json_report(hk__out *o, const hk__list *l, const hk__losses *s)
{
    size_t i;
    char b[64];
    hk__place pl;
    hk__out_puts(o, "{");
    hk__json_header(o);
    hk__out_puts(o, "\"registered\":");
    hk__out_u(o, hk__dbg_registered());
    hk__out_puts(o, ",\"entries\":[");
    for (i = 0; i < l->n; i++) {
        const hk__entry *e = &l->e[i];
        const hk__site *st = hk__dbg_site(e->site);
        hk__out_puts(o, i ? ",{" : "{");      /* one line: JSON Lines */
        hk__json_no(o, "\"no\":", e->no);
        if (HK__NO_IS_RT(e->no))
            hk__out_puts(o, ",\"runtime\":true");
        hk__out_puts(o, ",\"pointer\":\"");
        hk__hex(b, e->ptr);
        hk__out_puts(o, b);
        hk__out_puts(o, "\",\"size\":");
        hk__json_num_or_null(o, e->has_size, e->size);
        hk__out_puts(o, ",\"flags\":");
        hk__out_json_str(o, e->flags);
        hk__out_puts(o, ",\"caller\":\"");
        hk__hex(b, st ? st->caller : 0);
        hk__out_puts(o, b);
        hk__out_puts(o, "\",\"function\":");
        hk__place_of(st, &pl);         /* the macros' place, else the caller's */
        hk__out_json_str(o, pl.func);
        hk__out_puts(o, ",\"file\":");
        hk__out_json_str(o, pl.file ? hk__src_path(pl.file) : NULL);
        hk__out_puts(o, ",\"line\":");
        hk__json_num_or_null(o, pl.file && pl.line > 0, (unsigned long long)pl.line);
        hk__out_puts(o, ",\"type\":");
        hk__out_json_str(o, st ? st->type : NULL);
        hk__out_puts(o, ",\"heap\":");
        hk__heap_name(b, e->backend, e->heap_seq);
        hk__out_json_str(o, b);
        hk__json_frames(o, st);
        if (e->fk) {
            hk__out_puts(o, ",\"allocated_by\":");
            hk__out_json_str(o, hk__fam_name(e->fk & 0xF, 0));
            hk__out_puts(o, ",\"freed_by\":");
            hk__out_json_str(o, hk__fam_name((e->fk >> 4) & 0xF, 1));
        }
        hk__out_puts(o, ",\"kind\":");
        hk__out_json_str(o, e->lkind ? hk__kind_json[e->lkind] : NULL);
        hk__out_puts(o, "}");
    }
    hk__out_puts(o, "],\"entries_omitted\":");
    hk__out_u(o, l->total - l->n);
    hk__out_puts(o, ",\"sites\":[");
    for (i = 0; i < s->n; i++) {
        const hk__site *st = hk__dbg_site(s->t[i].site);
        hk__out_puts(o, i ? ",{" : "{");      /* one line: JSON Lines */
        hk__place_of(st, &pl);
        hk__out_puts(o, "\"file\":");
        hk__out_json_str(o, pl.file ? hk__src_path(pl.file) : NULL);
        hk__out_puts(o, ",\"line\":");
        hk__json_num_or_null(o, pl.file && pl.line > 0, (unsigned long long)pl.line);
        hk__out_puts(o, ",\"function\":");
        hk__out_json_str(o, pl.func);
        hk__out_puts(o, ",\"caller\":\"");
        hk__hex(b, st ? st->caller : 0);
        hk__out_puts(o, b);
        hk__out_puts(o, "\",\"count\":");
        hk__out_u(o, s->t[i].count);
        hk__out_puts(o, ",\"bytes\":");
        hk__out_u(o, s->t[i].bytes);
        hk__json_no(o, ",\"first\":", s->t[i].first);
        hk__json_no(o, ",\"last\":", s->t[i].last);
        if (HK__NO_IS_RT(s->t[i].first))
            hk__out_puts(o, ",\"runtime\":true");
        hk__json_frames(o, st);
        hk__out_puts(o, "}");
    }
    hk__out_puts(o, "],\"sites_omitted\":");
    hk__out_u(o, s->keys - s->n);
    hk__json_leak_summary(o);
    hk__json_suppressed(o);
    hk__json_untracked(o);
    hk__out_puts(o, ",\"messages\":[");
    {
        /* the text report's closing lines, one JSON string each */
        static hk__out lines;
        size_t k, start = 0;
        int first = 1;
        hk__out_open(&lines, -1);
        hk__text_messages(&lines);
        for (k = 0; k < lines.n; k++)
            if (lines.buf[k] == '\n') {
                lines.buf[k] = 0;
                hk__out_puts(o, first ? "" : ",");
                first = 0;
                hk__out_json_str(o, lines.buf + start);
                start = k + 1;
            }
    }
    hk__out_puts(o, "]}\n");
}

/* ---- writing ----------------------------------------------------------------- */

static int hk__dbg_write_report_now(int crashing);

int hk__dbg_write_report(int crashing)
{
    int r;
    /* nothing the writer (or a part of it added later: symbolization)
     * allocates is recorded */
    hk__dbg_internal_enter();
    r = hk__dbg_write_report_now(crashing);
    hk__dbg_internal_leave();
    return r;
}

/* Set in the crash's symbolizing child (symbolize.c): the report is
 * written to nowhere, for the addresses it asks to be symbolized. */
static int hk__dry_run;

static int hk__dbg_write_report_now(int crashing)
{
    static hk__out out;                   /* static: crash paths have little stack */
    hk__list l;
    hk__losses s;
    int fd = hk__dry_run ? -1 : 2, opened = 0;
    if (hk__dbg_cfg.report_path[0] && !hk__dry_run) {
        fd = hk__open(hk__report_path());
        if (fd < 0)
            fd = 2;
        else
            opened = 1;
    }
    hk__out_open(&out, fd);
    hk__read_cwd();
    hk__sym_crashing = crashing;
    if (crashing)              /* no scan from a crash: the leaks stay unclassified */
        hk__dbg_leak_scan_drop();
    else
        hk__dbg_leak_scan();
    hk__supp_begin(crashing);
    if (!hk__collect(&l, &s, crashing)) {
        hk__out_puts(&out, TX(T_HEAD));
        hk__out_puts(&out, "\n");
        hk__text_header(&out);
        hk__out_puts(&out, TX(T_OOM1));
        hk__out_puts(&out, "0");
        hk__out_puts(&out, TX(T_OOM2));
        hk__out_puts(&out, "\n");
    } else {
        if (hk__dbg_cfg.json)
            hk__json_report(&out, &l, &s);
        else
            hk__text_report(&out, &l, &s);
        hk__dbg_os_free(s.t, s.bytes);
        hk__dbg_os_free(l.e, l.bytes);
    }
    hk__out_flush(&out);
    if (opened)
        hk__close(fd);
    return 1;
}

/* Findings: what the report lists as entries (past a checkpoint, as the
 * report): every event (FM, S, FS, a destroyed heap's leak) and every
 * live block.  Leak kinds (HEAPKIT_LEAK_KINDS) will narrow the live
 * blocks to the chosen kinds here. */
static void hk__findings_rec(const hk__rec *r, void *arg)
{
    if (hk__dbg_past_mark(r->no) && hk__dbg_leak_is_finding(r)   /* the kinds listed */
        && !hk__supp_hides_rec(r, 0))
        ++*(unsigned long *)arg;
}

int hk__dbg_findings(void)
{
    const hk__event *ev;
    size_t nev = hk__dbg_events(&ev);
    unsigned long n = 0;
    size_t i;
    /* suppressions symbolize (libdw allocates): none of it recorded */
    hk__dbg_internal_enter();
    hk__supp_begin(0);              /* loaded already when a report was written */
    hk__supp_prepare(0);
    for (i = hk__dbg_mark_event; i < nev; i++)
        n += !hk__supp_hides_event(ev, i, nev, 0);
    hk__dbg_each_record(hk__findings_rec, &n, 1);
    hk__dbg_internal_leave();
    return n > (unsigned long)0x7FFFFFFF ? 0x7FFFFFFF : (int)n;
}

int hk_debug_report(void)
{
    hk__dbg_start();
    if (HK__FWD(report))
        return hk__dbg_fwd->report();
    hk__dbg_stack_scrub();
    return hk__dbg_write_report(0);
}

/* ---- when the report is written ------------------------------------------------ */

static volatile int hk__exit_done;
static void hk__uninstall_hooks(void);

/* HEAPKIT_ERROR_EXITCODE=N and findings: the process ends with status N.
 * An exit handler cannot change the status exit() was given, so, as the
 * sanitizers do, stdio is flushed and the process ends here: exit
 * handlers and destructors that would have run after this one are
 * skipped. */
static void hk__error_exit(void)
{
    int code = hk__dbg_cfg.error_exitcode;
    if (code == 0 || hk__dbg_findings() == 0)
        return;
    hk__dbg_internal_enter();         /* stdio's buffers: not recorded */
    fflush(NULL);
#ifdef _WIN32
    TerminateProcess(GetCurrentProcess(), (UINT)code);
#endif
    _exit(code);
}

/* At exit, or when a DLL with heapkit linked in is unloaded: the report,
 * then the crash hooks go, for they point into code about to vanish. */
static void hk__at_exit(void)
{
    if (__atomic_exchange_n(&hk__exit_done, 1, __ATOMIC_SEQ_CST))
        return;
    hk__dbg_leak_exit_frames();
    hk__dbg_snapshot_at_exit();
    hk__dbg_stack_scrub();
    hk__walkdiff_end();               /* before the report allocates (DbgHelp) */
    hk__stacks_check_note();
    hk__dbg_write_report(0);
    hk__uninstall_hooks();
    hk__error_exit();
}

/* The same, for a caller that ends the process its own way (the Windows
 * hook DLL registers it with the program's C runtime, whose exit() runs
 * it before ExitProcess). */
void hk__dbg_at_exit(void)
{
    hk__at_exit();
}

#if defined(__GLIBC__)
/* on_exit also tells the status a return from main gave. */
static void hk__on_exit(int status, void *arg)
{
    (void)arg;
    if (!hk__exit_known)
        hk__dbg_note_exit(status);
    hk__at_exit();
}
#endif

void hk__dbg_stop(int status)
{
    hk__dbg_note_exit(status);
    if (!__atomic_exchange_n(&hk__exit_done, 1, __ATOMIC_SEQ_CST)) {
        hk__dbg_stack_scrub();
        hk__dbg_write_report(0);
    }
    _exit(status);
}

void hk_dbg_exit(int status)
{
    hk__dbg_start();
    if (HK__FWD(exit))
        hk__dbg_fwd->exit(status);
    hk__dbg_note_exit(status);
    exit(status);
}

#ifndef _WIN32
static void hk__crash_dry_run(void)
{
    hk__dry_run = 1;
    hk__dbg_write_report(1);
}
#endif

static void hk__crashed(const char *name, uintptr_t addr)
{
    hk__rte_name = name;
    hk__rte_addr = addr;
    if (!__atomic_exchange_n(&hk__exit_done, 1, __ATOMIC_SEQ_CST)) {
#ifndef _WIN32
        /* the entries' functions, files and lines, as at a normal exit
         * (Windows: the exception filter may run DbgHelp itself) */
        int inside = hk__dbg_internal_depth() > 0;
        hk__dbg_internal_enter();
        hk__symbolize_crash_prepare(addr, inside, hk__crash_dry_run);
        hk__dbg_internal_leave();
#endif
        hk__dbg_write_report(1);
    }
}

#ifdef _WIN32

static const char *hk__exception_name(DWORD code)
{
    switch (code) {
    case EXCEPTION_ACCESS_VIOLATION:      return "EXCEPTION_ACCESS_VIOLATION";
    case EXCEPTION_BREAKPOINT:            return "EXCEPTION_BREAKPOINT";
    case EXCEPTION_ILLEGAL_INSTRUCTION:   return "EXCEPTION_ILLEGAL_INSTRUCTION";
    case EXCEPTION_INT_DIVIDE_BY_ZERO:    return "EXCEPTION_INT_DIVIDE_BY_ZERO";
    case EXCEPTION_STACK_OVERFLOW:        return "EXCEPTION_STACK_OVERFLOW";
    case EXCEPTION_DATATYPE_MISALIGNMENT: return "EXCEPTION_DATATYPE_MISALIGNMENT";
    case EXCEPTION_IN_PAGE_ERROR:         return "EXCEPTION_IN_PAGE_ERROR";
    case EXCEPTION_PRIV_INSTRUCTION:      return "EXCEPTION_PRIV_INSTRUCTION";
    case EXCEPTION_FLT_DIVIDE_BY_ZERO:    return "EXCEPTION_FLT_DIVIDE_BY_ZERO";
    case HK_STATUS_NO_MEMORY:             return "STATUS_NO_MEMORY";
    default:                              return "EXCEPTION";
    }
}

static LPTOP_LEVEL_EXCEPTION_FILTER hk__prev_filter;

/* The process dies of this exception: the report first, then whatever
 * filter was there before (or termination with the exception code). */
static LONG WINAPI hk__seh_filter(EXCEPTION_POINTERS *ep)
{
    hk__crashed(hk__exception_name(ep->ExceptionRecord->ExceptionCode),
                (uintptr_t)ep->ExceptionRecord->ExceptionAddress);
    /* the program's own filter (or the C runtime's) may still handle it;
     * if none does, end here instead of starting a debugger */
    if (hk__prev_filter) {
        LONG r = hk__prev_filter(ep);
        if (r != EXCEPTION_CONTINUE_SEARCH)
            return r;
    }
    /* die of it now, with the exception code as the status (what Windows
     * gives a crashed program): returning to the C runtime's filter chain
     * (mingw-w64's, installed after ours) could end the process with 0,
     * and Wine would start winedbg */
    hk__dbg_internal_enter();
    fflush(NULL);
    TerminateProcess(GetCurrentProcess(), (UINT)ep->ExceptionRecord->ExceptionCode);
    return EXCEPTION_EXECUTE_HANDLER;
}

static void hk__crt_abort(int sig)
{
    (void)sig;
    hk__crashed("SIGABRT", 0);
    _exit(3);                  /* what msvcrt's abort() ends with */
}

static int hk__abort_hooked;

void hk__dbg_install_exit_hooks(void)
{
    void (*prev)(int);
    atexit(hk__at_exit);
    hk__prev_filter = SetUnhandledExceptionFilter(hk__seh_filter);
    hk__dbg_thread_setup();                /* its stack guarantee */
    prev = signal(SIGABRT, hk__crt_abort);
    if (prev != SIG_DFL && prev != SIG_ERR)
        signal(SIGABRT, prev);             /* the program's own: keep it */
    else
        hk__abort_hooked = 1;
}

static void hk__uninstall_hooks(void)
{
    LPTOP_LEVEL_EXCEPTION_FILTER cur = SetUnhandledExceptionFilter(hk__prev_filter);
    if (cur != hk__seh_filter)             /* someone came after us: theirs */
        SetUnhandledExceptionFilter(cur);
    if (hk__abort_hooked)
        signal(SIGABRT, SIG_DFL);
    hk__dbg_threads_stop();
}

#else /* POSIX */

static const char *hk__signal_name(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGABRT: return "SIGABRT";
    case SIGBUS:  return "SIGBUS";
    case SIGFPE:  return "SIGFPE";
    case SIGILL:  return "SIGILL";
    default:      return "SIGNAL";
    }
}

static void hk__on_signal(int sig, siginfo_t *si, void *ctx)
{
    uintptr_t pc = si ? (uintptr_t)si->si_addr : 0;
#if defined(__linux__) && defined(__x86_64__)
    if (ctx)
        pc = (uintptr_t)((ucontext_t *)ctx)->uc_mcontext.gregs[REG_RIP];
#elif defined(__linux__) && defined(__aarch64__)
    if (ctx)
        pc = (uintptr_t)((ucontext_t *)ctx)->uc_mcontext.pc;
#else
    (void)ctx;
#endif
    hk__crashed(hk__signal_name(sig), pc);
    /* SA_RESETHAND put the default action back: die of the same signal */
    raise(sig);
}

static void hk__uninstall_hooks(void)
{
    /* POSIX: the library stays mapped until the process ends (a shared
     * object that links heapkit statically cannot: its objects are not
     * PIC), so the handlers can stay for a crash during exit. */
}

void hk__dbg_install_exit_hooks(void)
{
    static const int sigs[] = { SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL };
    struct sigaction sa, old;
    size_t i;
#if defined(__GLIBC__)
    on_exit(hk__on_exit, NULL);
#else
    atexit(hk__at_exit);
#endif
    /* an alternate stack, so a stack overflow can still be reported; the
     * tracker gives every other thread its own when it first allocates */
    hk__dbg_thread_setup();
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = hk__on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (i = 0; i < sizeof sigs / sizeof *sigs; i++)
        /* only where nobody has a handler: never take over the program's */
        if (sigaction(sigs[i], NULL, &old) == 0 && !(old.sa_flags & SA_SIGINFO)
            && old.sa_handler == SIG_DFL)
            sigaction(sigs[i], &sa, NULL);
}

#endif
