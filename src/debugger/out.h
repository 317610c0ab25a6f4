/*
 * out.h - the debugger's buffered writer to a file descriptor, shared by
 * the report (report.c) and snapshots (snapshot.c).  No heap, no stdio:
 * it runs at exit, from crash handlers and inside the tracker's guard.
 */
#ifndef HK_DEBUGGER_OUT_H
#define HK_DEBUGGER_OUT_H

#include <stddef.h>

typedef struct hk__out {
    int fd;                 /* -1: only collect (flushing drops the bytes) */
    int err;                /* a write failed */
    size_t n;
    char buf[1 << 16];      /* 64 KiB: use static instances, not the stack */
} hk__out;

/* Start writing to fd. */
void hk__out_open(hk__out *o, int fd);
/* Write out what is buffered. */
void hk__out_flush(hk__out *o);
void hk__out_put(hk__out *o, const char *s, size_t n);
void hk__out_puts(hk__out *o, const char *s);
/* A number in decimal, no grouping. */
void hk__out_u(hk__out *o, unsigned long long v);
/* A JSON string (null for NULL): UTF-8 passes, other bytes >= 0x80 become
 * U+FFFD, so the document stays valid whatever a path holds. */
void hk__out_json_str(hk__out *o, const char *s);

#endif
