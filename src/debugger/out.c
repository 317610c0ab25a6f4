/*
 * out.c - the debugger's buffered writer (out.h).
 */
#include "out.h"

#include <string.h>
#ifdef _WIN32
#  include <io.h>
#  define hk__out_write _write
#else
#  include <unistd.h>
#  define hk__out_write write
#endif

void hk__out_open(hk__out *o, int fd)
{
    o->fd = fd;
    o->err = 0;
    o->n = 0;
}

void hk__out_flush(hk__out *o)
{
    size_t off = 0;
    while (off < o->n && o->fd >= 0) {
        int w = (int)hk__out_write(o->fd, o->buf + off, (unsigned)(o->n - off));
        if (w <= 0) {
            o->err = 1;
            break;
        }
        off += (size_t)w;
    }
    o->n = 0;
}

void hk__out_put(hk__out *o, const char *s, size_t n)
{
    while (n) {
        size_t k = sizeof o->buf - o->n;
        if (k > n)
            k = n;
        memcpy(o->buf + o->n, s, k);
        o->n += k;
        s += k;
        n -= k;
        if (o->n == sizeof o->buf)
            hk__out_flush(o);
    }
}

void hk__out_puts(hk__out *o, const char *s)
{
    hk__out_put(o, s, strlen(s));
}

void hk__out_u(hk__out *o, unsigned long long v)
{
    char b[24], *e = b + sizeof b;
    do
        *--e = (char)('0' + v % 10);
    while (v /= 10);
    hk__out_put(o, e, (size_t)(b + sizeof b - e));
}

/* Length of the well-formed UTF-8 sequence at s (lead byte >= 0x80):
 * shortest form, no surrogates, at most U+10FFFF; 0 if it is not one. */
static size_t hk__utf8_len(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    unsigned c = u[0], v;
    size_t need, i;
    if (c >= 0xC2 && c <= 0xDF) { need = 1; v = c & 0x1Fu; }
    else if (c >= 0xE0 && c <= 0xEF) { need = 2; v = c & 0x0Fu; }
    else if (c >= 0xF0 && c <= 0xF4) { need = 3; v = c & 0x07u; }
    else return 0;
    for (i = 1; i <= need; i++) {           /* stops at the NUL: 0 & 0xC0 != 0x80 */
        if ((u[i] & 0xC0u) != 0x80u)
            return 0;
        v = v << 6 | (u[i] & 0x3Fu);
    }
    if ((need == 2 && (v < 0x800 || (v >= 0xD800 && v <= 0xDFFF))) ||
        (need == 3 && (v < 0x10000 || v > 0x10FFFF)))
        return 0;
    return need + 1;
}

void hk__out_json_str(hk__out *o, const char *s)
{
    static const char d[] = "0123456789abcdef";
    if (!s) {
        hk__out_puts(o, "null");
        return;
    }
    hk__out_put(o, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            hk__out_put(o, "\\", 1);
            hk__out_put(o, s, 1);
        } else if (c < 0x20) {
            char e[6] = { '\\', 'u', '0', '0', d[c >> 4], d[c & 15] };
            hk__out_put(o, e, 6);
        } else if (c >= 0x80) {
            size_t k = hk__utf8_len(s);
            if (k) {
                hk__out_put(o, s, k);
                s += k - 1;
            } else {
                hk__out_puts(o, "\\ufffd");
            }
        } else {
            hk__out_put(o, s, 1);
        }
    }
    hk__out_put(o, "\"", 1);
}
