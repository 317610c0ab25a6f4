/*
 * json.c - the heapkit command's JSON reader: a whole document, parsed in
 * place into 16-byte nodes (a million-block snapshot is some five million
 * values).  An array's or object's items are contiguous: they collect on
 * a stack while parsed and are copied out when the container closes.
 * Strict JSON (RFC 8259); nesting is limited, so bad input cannot
 * exhaust the C stack; every error is a message, never a crash.
 */
#include "tool.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define HKJ_MAX_DEPTH 200

struct hkj_chunk {
    struct hkj_chunk *next;
    size_t used, cap;
    hkj nodes[];
};

struct hkj_doc {
    hkj root;
    struct hkj_chunk *chunks;
};

typedef struct {
    char *s, *end, *start;
    hkj *stack;
    size_t sn, scap;
    struct hkj_chunk *chunks;
    char *err;
    size_t errlen;
    int failed;
} hkj_p;

void hk_oom(void)
{
    fprintf(stderr, "heapkit: out of memory\n");
    exit(HK_USAGE);
}

void *hk_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        hk_oom();
    return p;
}

void *hk_xcalloc(size_t n, size_t each)
{
    void *p = calloc(n ? n : 1, each ? each : 1);
    if (!p)
        hk_oom();
    return p;
}

void *hk_xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        hk_oom();
    return p;
}

static void hkj_fail(hkj_p *p, const char *what)
{
    if (!p->failed)
        snprintf(p->err, p->errlen, "%s at byte %lu", what, (unsigned long)(p->s - p->start));
    p->failed = 1;
}

static void hkj_push(hkj_p *p, const hkj *v)
{
    if (p->sn == p->scap) {
        p->scap = p->scap ? p->scap * 2 : 1024;
        p->stack = hk_xrealloc(p->stack, p->scap * sizeof *p->stack);
    }
    p->stack[p->sn++] = *v;
}

/* n nodes off the stack's top into the document's memory. */
static hkj *hkj_keep(hkj_p *p, size_t n)
{
    struct hkj_chunk *c = p->chunks;
    hkj *out;
    if (n == 0)
        return NULL;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        c = hk_xmalloc(sizeof *c + cap * sizeof(hkj));
        c->used = 0;
        c->cap = cap;
        c->next = p->chunks;
        p->chunks = c;
    }
    out = c->nodes + c->used;
    c->used += n;
    memcpy(out, p->stack + p->sn - n, n * sizeof(hkj));
    p->sn -= n;
    return out;
}

static void hkj_ws(hkj_p *p)
{
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r'))
        p->s++;
}

static int hkj_hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    int i;
    for (i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return 0;
    }
    *out = v;
    return 1;
}

/* A string at p->s (the opening quote), unescaped in place. */
static const char *hkj_string(hkj_p *p)
{
    char *w = ++p->s, *r = p->s, *start = w;
    while (r < p->end && *r != '"') {
        unsigned char c = (unsigned char)*r;
        if (c < 0x20) {
            p->s = r;
            hkj_fail(p, "control character in a string");
            return NULL;
        }
        if (c != '\\') {
            *w++ = *r++;
            continue;
        }
        if (r + 1 >= p->end)
            break;
        r++;
        switch (*r) {
        case '"': *w++ = '"'; r++; break;
        case '\\': *w++ = '\\'; r++; break;
        case '/': *w++ = '/'; r++; break;
        case 'b': *w++ = '\b'; r++; break;
        case 'f': *w++ = '\f'; r++; break;
        case 'n': *w++ = '\n'; r++; break;
        case 'r': *w++ = '\r'; r++; break;
        case 't': *w++ = '\t'; r++; break;
        case 'u': {
            unsigned u, lo;
            if (r + 5 > p->end || !hkj_hex4(r + 1, &u)) {
                p->s = r;
                hkj_fail(p, "bad \\u escape");
                return NULL;
            }
            r += 5;
            if (u >= 0xD800 && u < 0xDC00 && r + 6 <= p->end && r[0] == '\\' && r[1] == 'u'
                && hkj_hex4(r + 2, &lo) && lo >= 0xDC00 && lo < 0xE000) {
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                r += 6;
            }
            if (u == 0)
                u = '?';                 /* strings stay NUL-terminated */
            /* UTF-8: at most 4 bytes for 6 or 12 escaped ones */
            if (u < 0x80) {
                *w++ = (char)u;
            } else if (u < 0x800) {
                *w++ = (char)(0xC0 | (u >> 6));
                *w++ = (char)(0x80 | (u & 0x3F));
            } else if (u < 0x10000) {
                *w++ = (char)(0xE0 | (u >> 12));
                *w++ = (char)(0x80 | ((u >> 6) & 0x3F));
                *w++ = (char)(0x80 | (u & 0x3F));
            } else {
                *w++ = (char)(0xF0 | (u >> 18));
                *w++ = (char)(0x80 | ((u >> 12) & 0x3F));
                *w++ = (char)(0x80 | ((u >> 6) & 0x3F));
                *w++ = (char)(0x80 | (u & 0x3F));
            }
            break;
        }
        default:
            p->s = r;
            hkj_fail(p, "bad escape in a string");
            return NULL;
        }
    }
    if (r >= p->end) {
        p->s = r;
        hkj_fail(p, "unterminated string");
        return NULL;
    }
    *w = 0;                              /* w <= r: the closing quote's place at the latest */
    p->s = r + 1;
    return start;
}

static void hkj_value(hkj_p *p, int depth);

static void hkj_number(hkj_p *p, hkj *v)
{
    char *s = p->s, *e;
    if (*s == '-')
        s++;
    if (s >= p->end || *s < '0' || *s > '9') {
        hkj_fail(p, "bad value");
        return;
    }
    /* the terminator strtod needs: the byte after the number is a
     * delimiter, restored after */
    e = s;
    while (e < p->end && ((*e >= '0' && *e <= '9') || *e == '.' || *e == 'e' || *e == 'E'
                          || *e == '+' || *e == '-'))
        e++;
    {
        char save = e < p->end ? *e : 0, *q;
        if (e < p->end)
            *e = 0;
        errno = 0;
        v->type = HKJ_NUM;
        v->u.num = strtod(p->s, &q);
        if (e < p->end)
            *e = save;
        if (q != e) {
            hkj_fail(p, "bad number");
            return;
        }
    }
    p->s = e;
}

static void hkj_value(hkj_p *p, int depth)
{
    hkj v;
    memset(&v, 0, sizeof v);
    hkj_ws(p);
    if (p->s >= p->end) {
        hkj_fail(p, "unexpected end");
        return;
    }
    if (depth > HKJ_MAX_DEPTH) {
        hkj_fail(p, "nested too deeply");
        return;
    }
    switch (*p->s) {
    case '{':
    case '[': {
        int obj = *p->s == '{';
        char close = obj ? '}' : ']';
        size_t base = p->sn, n;
        p->s++;
        hkj_ws(p);
        if (p->s < p->end && *p->s == close) {
            p->s++;
        } else {
            for (;;) {
                if (obj) {
                    hkj k;
                    hkj_ws(p);
                    if (p->s >= p->end || *p->s != '"') {
                        hkj_fail(p, "expected a member name");
                        return;
                    }
                    memset(&k, 0, sizeof k);
                    k.type = HKJ_STR;
                    k.u.str = hkj_string(p);
                    if (p->failed)
                        return;
                    hkj_push(p, &k);
                    hkj_ws(p);
                    if (p->s >= p->end || *p->s != ':') {
                        hkj_fail(p, "expected ':'");
                        return;
                    }
                    p->s++;
                }
                hkj_value(p, depth + 1);
                if (p->failed)
                    return;
                hkj_ws(p);
                if (p->s < p->end && *p->s == ',') {
                    p->s++;
                    continue;
                }
                if (p->s < p->end && *p->s == close) {
                    p->s++;
                    break;
                }
                hkj_fail(p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
                return;
            }
        }
        n = p->sn - base;
        v.type = obj ? HKJ_OBJ : HKJ_ARR;
        v.n = (uint32_t)(obj ? n / 2 : n);
        v.u.kids = hkj_keep(p, n);
        break;
    }
    case '"':
        v.type = HKJ_STR;
        v.u.str = hkj_string(p);
        if (p->failed)
            return;
        break;
    case 't':
        if (p->end - p->s >= 4 && memcmp(p->s, "true", 4) == 0) {
            v.type = HKJ_TRUE;
            p->s += 4;
            break;
        }
        hkj_fail(p, "bad value");
        return;
    case 'f':
        if (p->end - p->s >= 5 && memcmp(p->s, "false", 5) == 0) {
            v.type = HKJ_FALSE;
            p->s += 5;
            break;
        }
        hkj_fail(p, "bad value");
        return;
    case 'n':
        if (p->end - p->s >= 4 && memcmp(p->s, "null", 4) == 0) {
            v.type = HKJ_NULL;
            p->s += 4;
            break;
        }
        hkj_fail(p, "bad value");
        return;
    default:
        hkj_number(p, &v);
        if (p->failed)
            return;
    }
    hkj_push(p, &v);
}

static void hkj_chunks_free(struct hkj_chunk *c)
{
    while (c) {
        struct hkj_chunk *n = c->next;
        free(c);
        c = n;
    }
}

hkj_doc *hkj_parse(char *text, size_t len, char *err, size_t errlen)
{
    hkj_p p;
    hkj_doc *d;
    memset(&p, 0, sizeof p);
    p.s = p.start = text;
    p.end = text + len;
    p.err = err;
    p.errlen = errlen;
    hkj_value(&p, 0);
    if (!p.failed) {
        hkj_ws(&p);
        if (p.s != p.end)
            hkj_fail(&p, "text after the document");
    }
    if (p.failed) {
        free(p.stack);
        hkj_chunks_free(p.chunks);
        return NULL;
    }
    d = hk_xmalloc(sizeof *d);
    d->root = p.stack[0];
    d->chunks = p.chunks;
    free(p.stack);
    return d;
}

const hkj *hkj_root(const hkj_doc *d) { return &d->root; }

void hkj_free(hkj_doc *d)
{
    if (d) {
        hkj_chunks_free(d->chunks);
        free(d);
    }
}

const hkj *hkj_get(const hkj *o, const char *key)
{
    uint32_t i;
    if (!o || o->type != HKJ_OBJ)
        return NULL;
    for (i = 0; i < o->n; i++)
        if (strcmp(o->u.kids[2 * i].u.str, key) == 0)
            return &o->u.kids[2 * i + 1];
    return NULL;
}

const hkj *hkj_at(const hkj *a, size_t i)
{
    if (!a || a->type != HKJ_ARR || i >= a->n)
        return NULL;
    return &a->u.kids[i];
}

double hkj_num(const hkj *v, double dflt)
{
    return v && v->type == HKJ_NUM ? v->u.num : dflt;
}

const char *hkj_str(const hkj *v, const char *dflt)
{
    return v && v->type == HKJ_STR ? v->u.str : dflt;
}

char *hk_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0, r;
    if (!f)
        return NULL;
    for (;;) {
        if (cap - n < 65536) {
            cap = cap ? cap * 2 : 1 << 20;
            buf = hk_xrealloc(buf, cap + 1);
        }
        r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    if (ferror(f)) {
        int e = errno;
        fclose(f);
        free(buf);
        errno = e ? e : EIO;
        return NULL;
    }
    fclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
}

/* ---- hk_buf ---------------------------------------------------------------- */

void hk_buf_put(hk_buf *b, const char *s, size_t n)
{
    if (b->cap - b->n < n + 1) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->n < n + 1)
            cap *= 2;
        b->p = hk_xrealloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

void hk_buf_s(hk_buf *b, const char *s) { hk_buf_put(b, s, strlen(s)); }

void hk_buf_f(hk_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        hk_buf_put(b, tmp, (size_t)n);
    } else {
        char *big = hk_xmalloc((size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(big, (size_t)n + 1, fmt, ap);
        va_end(ap);
        hk_buf_put(b, big, (size_t)n);
        free(big);
    }
}

/* JSON string; also safe inside an HTML <script> ("<" escaped). */
void hk_buf_jstr(hk_buf *b, const char *s)
{
    if (!s) {
        hk_buf_s(b, "null");
        return;
    }
    hk_buf_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char e[2] = { '\\', (char)c };
            hk_buf_put(b, e, 2);
        } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            hk_buf_f(b, "\\u%04x", c);
        } else {
            hk_buf_put(b, s, 1);
        }
    }
    hk_buf_put(b, "\"", 1);
}
