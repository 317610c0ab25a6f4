/* header.h - the preload's header mode (header.c), for preload.c and the
 * tracker (each record, the macros' free and realloc). */
#ifndef HK_PRELOAD_HEADER_H
#define HK_PRELOAD_HEADER_H

#include "../debugger/tracker.h"

#define HK__H_API __attribute__((visibility("default")))

/* 1 once HEAPKIT_PRELOAD_MODE=header is on (set at start, never cleared) */
extern int hk__hdr_mode;
void hk__hdr_init(void);
/* A block with a header (the tracker's number and site), or a table record
 * when no header can hold it (>= 4 GiB, alignment > 2^31). */
void *hk__hdr_alloc(size_t n, size_t align, unsigned fam, int zero, const hk__src *src);
/* Inside the internal guard: a header that is never listed. */
void *hk__hdr_alloc_quiet(size_t n, size_t align, int zero);
/* 1: p carried a header and is freed (FK, S/FS reported; src NULL: no
 * checks); 0: no header, nothing done (the table path's turn). */
int hk__hdr_free(void *p, unsigned fam, int sized, size_t declared, const hk__src *src);
/* 1: p carried a header, *out the result; 0: the table path's turn. */
int hk__hdr_realloc(void *p, size_t n, const hk__src *src, void **out);
int hk__hdr_usable(const void *p, size_t *n);
int hk__hdr_peek(const void *p, hk__rec *out);
/* Every live, listed header block (scan of the granules that held any). */
void hk__hdr_each(hk__rec_fn fn, void *arg);

#endif
