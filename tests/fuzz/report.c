/*
 * tests/fuzz/report.c - the Heap Debugger's report writer fed hostile
 * call sites: file names, function and type names that are long, not
 * UTF-8, full of quotes, backslashes and control characters; any line
 * number; huge and wrong sizes; frees that match nothing; leaks of
 * destroyed heaps.  The calls go through the debugger's entry points (the
 * functions behind heapkit/debug.h's macros), the report is written as JSON
 * (HEAPKIT_FORMAT=json) to a temporary file (HEAPKIT_REPORT) and must be
 * one valid JSON value (RFC 8259, UTF-8 included) every time.
 */
#define FZ_DEFINE_GLOBALS
#include "fuzz.h"

#define HK_DEBUG_NO_MACROS      /* call the hk_dbg_* functions by name */
#include "heapkit/debug.h"

#ifdef _WIN32
#  include <process.h>
#  define fz_getpid _getpid
#else
#  include <unistd.h>
#  define fz_getpid getpid
#endif

#define MAX_LIVE 64
#define POOL_BYTES ((size_t)16 << 20)

static char report_path[1024];

/* ---- strings that live as long as the process ----------------------------- */

/* The tracker keeps the caller's file/func/type pointers (they are string
 * literals in real use), so every hostile string is interned here, once
 * per content, and never freed.  When the pool is full, old strings are
 * reused: the run goes on with the same memory. */
static char *pool;
static size_t pool_used;
static const char *strs[4096];
static size_t nstrs;

static const char *intern(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < nstrs; i++)
        if (strlen(strs[i]) == n && memcmp(strs[i], s, n) == 0)
            return strs[i];
    if (!pool)
        pool = malloc(POOL_BYTES);
    HK_FZ_CHECK(pool != NULL, "no string pool");
    if (pool_used + n + 1 > POOL_BYTES || nstrs == sizeof strs / sizeof strs[0])
        return strs[n % nstrs];
    memcpy(pool + pool_used, s, n);
    pool[pool_used + n] = 0;
    strs[nstrs++] = pool + pool_used;
    pool_used += n + 1;
    return strs[nstrs - 1];
}

/* A hostile string from the input: raw bytes (any but NUL), or built from
 * pieces: quotes, backslashes, control characters, broken and overlong
 * UTF-8, path separators; sometimes very long. */
static const char *hostile(fz_in *in)
{
    static const char *const pieces[] = {
        "\"", "\\", "\\\\\"", "\n", "\r\t", "\x01\x1f", "\x7f", "\xff", "\xc3",
        "\xc3\xa4", "\xe2\x82", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xed\xa0\x80",
        "\xc0\xaf", "\xf4\x90\x80\x80", "/", "\\dir\\", "a.c", "%s%n", "\\u0000",
        "</script>", "{\"x\":[", "]}", " ", "\xe4\xf6\xfc"
    };
    char buf[8192];
    size_t n = 0;
    unsigned k = fz_u8(in), i, reps;
    if (k < 40)
        return NULL;                          /* no file / function / type */
    if (k < 110) {
        unsigned len = fz_u8(in) % 48;
        for (i = 0; i < len && fz_more(in); i++) {
            unsigned c = fz_u8(in);
            buf[n++] = (char)(c ? c : 'z');
        }
    } else {
        unsigned cnt = 1 + fz_u8(in) % 12;
        for (i = 0; i < cnt; i++) {
            const char *p = pieces[fz_u8(in) % (sizeof pieces / sizeof pieces[0])];
            size_t l = strlen(p);
            if (n + l < 1024) {
                memcpy(buf + n, p, l);
                n += l;
            }
        }
    }
    if (k >= 240 && n) {                      /* long: repeat up to ~8 KiB */
        size_t unit = n;
        reps = 1 + fz_u8(in) * 32u;
        for (i = 0; i < reps && n + unit < sizeof buf; i++) {
            memcpy(buf + n, buf, unit);
            n += unit;
        }
    }
    return intern(buf, n);
}

/* ---- a JSON checker (RFC 8259, strict) ------------------------------------- */

typedef struct {
    const unsigned char *p, *end;
    int depth;
} js;

static void js_ws(js *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int js_lit(js *j, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
        return 0;
    j->p += n;
    return 1;
}

static int js_hex(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* One UTF-8 character at j->p (>= 0x80): well formed, shortest, no
 * surrogates, at most U+10FFFF. */
static int js_utf8(js *j)
{
    const unsigned char *s = j->p;
    unsigned c = s[0], need, v, i;
    if (c >= 0xC2 && c <= 0xDF) { need = 1; v = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { need = 2; v = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { need = 3; v = c & 0x07; }
    else return 0;
    if ((size_t)(j->end - s) <= need)
        return 0;
    for (i = 1; i <= need; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (s[i] & 0x3F);
    }
    if ((need == 2 && (v < 0x800 || (v >= 0xD800 && v <= 0xDFFF))) ||
        (need == 3 && (v < 0x10000 || v > 0x10FFFF)))
        return 0;
    j->p += need + 1;
    return 1;
}

static int js_string(js *j)
{
    if (j->p >= j->end || *j->p != '"')
        return 0;
    j->p++;
    while (j->p < j->end) {
        unsigned c = *j->p;
        if (c == '"') {
            j->p++;
            return 1;
        }
        if (c < 0x20)
            return 0;
        if (c == '\\') {
            if (j->end - j->p < 2)
                return 0;
            c = j->p[1];
            if (c == 'u') {
                int i;
                if (j->end - j->p < 6)
                    return 0;
                for (i = 2; i < 6; i++)
                    if (!js_hex(j->p[i]))
                        return 0;
                j->p += 6;
            } else if (strchr("\"\\/bfnrt", (int)c) && c) {
                j->p += 2;
            } else {
                return 0;
            }
        } else if (c >= 0x80) {
            if (!js_utf8(j))
                return 0;
        } else {
            j->p++;
        }
    }
    return 0;
}

static int js_number(js *j)
{
    const unsigned char *s = j->p;
    if (s < j->end && *s == '-')
        s++;
    if (s >= j->end)
        return 0;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        while (s < j->end && *s >= '0' && *s <= '9')
            s++;
    else
        return 0;
    if (s < j->end && *s == '.') {
        if (++s >= j->end || *s < '0' || *s > '9')
            return 0;
        while (s < j->end && *s >= '0' && *s <= '9')
            s++;
    }
    if (s < j->end && (*s == 'e' || *s == 'E')) {
        s++;
        if (s < j->end && (*s == '+' || *s == '-'))
            s++;
        if (s >= j->end || *s < '0' || *s > '9')
            return 0;
        while (s < j->end && *s >= '0' && *s <= '9')
            s++;
    }
    j->p = s;
    return 1;
}

static int js_value(js *j)
{
    int ok = 0;
    js_ws(j);
    if (j->p >= j->end || ++j->depth > 64)
        return 0;
    switch (*j->p) {
    case '{':
        j->p++;
        js_ws(j);
        if (j->p < j->end && *j->p == '}') {
            j->p++;
            ok = 1;
            break;
        }
        for (;;) {
            js_ws(j);
            if (!js_string(j))
                return 0;
            js_ws(j);
            if (j->p >= j->end || *j->p++ != ':' || !js_value(j))
                return 0;
            js_ws(j);
            if (j->p < j->end && *j->p == ',') { j->p++; continue; }
            if (j->p < j->end && *j->p == '}') { j->p++; ok = 1; break; }
            return 0;
        }
        break;
    case '[':
        j->p++;
        js_ws(j);
        if (j->p < j->end && *j->p == ']') {
            j->p++;
            ok = 1;
            break;
        }
        for (;;) {
            if (!js_value(j))
                return 0;
            js_ws(j);
            if (j->p < j->end && *j->p == ',') { j->p++; continue; }
            if (j->p < j->end && *j->p == ']') { j->p++; ok = 1; break; }
            return 0;
        }
        break;
    case '"': ok = js_string(j); break;
    case 't': ok = js_lit(j, "true"); break;
    case 'f': ok = js_lit(j, "false"); break;
    case 'n': ok = js_lit(j, "null"); break;
    default: ok = js_number(j); break;
    }
    j->depth--;
    return ok;
}

/* Offset of the first error in buf[0..n), or -1 if it is exactly one JSON
 * value (whitespace around it allowed). */
static long json_error(const char *buf, size_t n)
{
    js j = { (const unsigned char *)buf, (const unsigned char *)buf + n, 0 };
    if (!js_value(&j))
        return (long)(j.p - (const unsigned char *)buf);
    js_ws(&j);
    return j.p == j.end ? -1 : (long)(j.p - (const unsigned char *)buf);
}

/* ---- the report file --------------------------------------------------------- */

static void remove_report(void)
{
    remove(report_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static char env_format[] = "HEAPKIT_FORMAT=json";
    static char env_report[1100];
    static int done;
    const char *dir = getenv("TMPDIR");
    (void)argc;
    (void)argv;
    if (done++)
        return 0;
    if (!dir || !*dir)
        dir = getenv("TEMP");
    if (!dir || !*dir)
        dir = ".";
    snprintf(report_path, sizeof report_path, "%s/hk-fuzz-report-%ld.json", dir,
             (long)fz_getpid());
    snprintf(env_report, sizeof env_report, "HEAPKIT_REPORT=%s", report_path);
    /* read once, when the debugger starts: before the first hk_dbg_ call */
    putenv(env_format);
    putenv(env_report);
    /* registered before the debugger's own exit hook, so it runs after it
     * (the report at exit goes to the file too) */
    atexit(remove_report);
    hk_set_exception_handler(fz_on_exception);
    return 0;
}

static char *slurp(size_t *n)
{
    FILE *f = fopen(report_path, "rb");
    char *buf;
    long len;
    HK_FZ_CHECK(f != NULL, "no report at %s", report_path);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)len + 1);
    HK_FZ_CHECK(buf != NULL, "malloc");
    *n = fread(buf, 1, (size_t)len, f);
    fclose(f);
    buf[*n] = 0;
    return buf;
}

/* ---- the calls -------------------------------------------------------------- */

typedef struct {
    void *p;
    size_t n;
    int heap;                  /* 0: C runtime; 1: the hk heap */
    int aligned;
} live_blk;

/* Small, sometimes big (up to 16 MiB), rarely impossible. */
static size_t pick_size(fz_in *in)
{
    unsigned k = fz_u8(in);
    if (k < 200)
        return fz_u16(in) % 600;
    if (k < 250)
        return (size_t)fz_u32(in) % (16u << 20);
    return fz_huge[k % FZ_HUGE_N];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = { data, size };
    live_blk live[MAX_LIVE];
    int nlive = 0, ops = 0, i;
    hk_heap *h;
    char *rep;
    size_t rn;
    long bad;
    FILE *f;

    LLVMFuzzerInitialize(NULL, NULL);
    hk_debug_checkpoint();             /* this input's report only */
    h = hk_heap_create(fz_u8(&in) & 1 ? NULL : "arena", 0, 0, 0);
    HK_FZ_CHECK(h != NULL, "heap create");

    while (fz_more(&in) && ops++ < 64) {
        const char *file = hostile(&in), *func = hostile(&in);
        int line = (int)fz_u32(&in);
        unsigned op = fz_u8(&in) % 12;
        void *p = NULL;
        size_t n = pick_size(&in);
        int heap = 0, aligned = 0;
        switch (op) {
        case 0: p = hk_dbg_malloc(n, file, line, func); break;
        case 1: {
            /* a small count, or one whose product with n overflows */
            size_t count = fz_u8(&in) & 1 ? fz_u8(&in) : (size_t)-1 / 2 + fz_u8(&in);
            p = hk_dbg_calloc(count, n % 4096, file, line, func);
            n = p ? count * (n % 4096) : 0;
            break;
        }
        case 2: {
            const char *type = hostile(&in);
            p = hk_dbg_new(n % 4096, type ? type : "", file, line, func);
            n %= 4096;
            break;
        }
        case 3: {
            const char *s = hostile(&in);
            p = hk_dbg_strdup(s ? s : "", file, line, func);
            n = p ? strlen(p) + 1 : 0;
            break;
        }
        case 4: {
            /* C11: a power of two, and the size a multiple of it */
            size_t align = (size_t)1 << (fz_u8(&in) % 14);
            n = (n % (1u << 20) + align - 1) & ~(align - 1);
            p = hk_dbg_aligned_alloc(align, n, file, line, func);
            aligned = 1;
            break;
        }
        case 5:
            p = hk_dbg_alloc(h, fz_u8(&in) & HK_HEAP_ZERO_MEMORY, n, file, line, func);
            heap = 1;
            break;
        case 6: case 7: case 8:
            if (nlive) {
                /* free: right, with a (wrong) declared size, or a pointer
                 * that matches nothing (FM: reported, not passed on) */
                int k = (int)fz_pick(&in, (unsigned)nlive);
                unsigned how = fz_u8(&in) % 6;
                live_blk *b = &live[k];
                if (how == 0) {
                    hk_dbg_free((char *)b->p + 16, file, line, func);
                } else if (how == 1 && b->heap) {
                    hk_dbg_heap_free(h, 0, (char *)b->p + 1, file, line, func);
                } else if (how == 2 && !b->heap && !b->aligned) {
                    hk_dbg_free_sized(b->p, n, file, line, func);
                    live[k] = live[--nlive];
                } else if (how == 3 && !b->heap && !b->aligned) {
                    hk_dbg_delete(b->p, n, file, line, func);
                    live[k] = live[--nlive];
                } else if (b->heap) {
                    HK_FZ_CHECK(hk_dbg_heap_free(h, 0, b->p, file, line, func),
                                "free of a live hk block failed");
                    live[k] = live[--nlive];
                } else {
                    if (b->aligned)
                        hk_dbg_aligned_free(b->p, file, line, func);
                    else
                        hk_dbg_free(b->p, file, line, func);
                    live[k] = live[--nlive];
                }
            } else {
                hk_dbg_free(fz_wild_static + 16, file, line, func);   /* FM */
            }
            break;
        case 9:
            if (nlive) {
                int k = (int)fz_pick(&in, (unsigned)nlive);
                void *q;
                n = 1 + n % 4095;              /* realloc(p, 0) differs by C library */
                if (live[k].aligned)
                    break;
                if (live[k].heap)
                    q = hk_dbg_heap_realloc(h, 0, live[k].p, n, file, line, func);
                else
                    q = hk_dbg_realloc(live[k].p, n, file, line, func);
                if (q) {
                    live[k].p = q;
                    live[k].n = n;
                }
            }
            break;
        case 10: {
            /* a heap destroyed with blocks: they are its leaks */
            for (i = nlive - 1; i >= 0; i--)
                if (live[i].heap)
                    live[i] = live[--nlive];
            HK_FZ_CHECK(hk_heap_destroy(h), "destroy");
            h = hk_heap_create("arena", 0, 0, 0);
            HK_FZ_CHECK(h != NULL, "heap create");
            break;
        }
        default:
            p = hk_dbg_strndup(file ? file : "x", n, file, line, func);
            n = p ? strlen(p) + 1 : 0;
            break;
        }
        if (p) {
            if (nlive == MAX_LIVE) {
                if (heap)
                    hk_dbg_heap_free(h, 0, p, file, line, func);
                else if (aligned)
                    hk_dbg_aligned_free(p, file, line, func);
                else
                    hk_dbg_free(p, file, line, func);
            } else {
                live[nlive].p = p;
                live[nlive].n = n;
                live[nlive].heap = heap;
                live[nlive].aligned = aligned;
                nlive++;
            }
        }
    }

    /* the report: truncate the file (the debugger appends), write, check */
    f = fopen(report_path, "wb");
    HK_FZ_CHECK(f != NULL, "cannot truncate %s", report_path);
    fclose(f);
    HK_FZ_CHECK(hk_debug_report(), "hk_debug_report failed");
    rep = slurp(&rn);
    bad = json_error(rep, rn);
    if (bad >= 0) {
        long from = bad > 60 ? bad - 60 : 0;
        fz_fail(__FILE__, __LINE__, "report is not valid JSON at byte %ld of %zu: ...%.*s",
                bad, rn, (int)(bad - from + 20 < (long)rn - from ? bad - from + 20 : (long)rn - from),
                rep + from);
    }
    HK_FZ_CHECK(rn > 0 && strstr(rep, "\"registered\":") != NULL, "report without 'registered'");
    free(rep);

    /* clean up without a trace in later reports */
    for (i = 0; i < nlive; i++) {
        if (live[i].heap)
            hk_dbg_heap_free(h, 0, live[i].p, "x.c", 1, "f");
        else if (live[i].aligned)
            hk_dbg_aligned_free(live[i].p, "x.c", 1, "f");
        else
            hk_dbg_free(live[i].p, "x.c", 1, "f");
    }
    HK_FZ_CHECK(hk_heap_destroy(h), "destroy");
    return 0;
}
