/* tool.h - what the heapkit command's parts share: a small JSON reader
 * (snapshots, diffs and reports in), growable buffers, the commands. */
#ifndef HK_TOOL_H
#define HK_TOOL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit status of the command's own errors (bad usage, bad input). */
#define HK_USAGE 2

/* ---- JSON (json.c): the whole document in memory, parsed in place ---- */
enum { HKJ_NULL, HKJ_FALSE, HKJ_TRUE, HKJ_NUM, HKJ_STR, HKJ_ARR, HKJ_OBJ };
typedef struct hkj {
    uint32_t type;
    uint32_t n;                /* ARR: items; OBJ: members (kids holds 2n: key, value) */
    union {
        double num;
        const char *str;       /* NUL-terminated, unescaped (UTF-8) */
        struct hkj *kids;
    } u;
} hkj;

typedef struct hkj_doc hkj_doc;
/* Parse text (modified in place; must stay alive with the document).
 * NULL on a syntax error, with a message (and the byte offset) in err. */
hkj_doc *hkj_parse(char *text, size_t len, char *err, size_t errlen);
const hkj *hkj_root(const hkj_doc *d);
void hkj_free(hkj_doc *d);
/* Member of an object (NULL: none, or o is not an object). */
const hkj *hkj_get(const hkj *o, const char *key);
/* Item i of an array (NULL past the end). */
const hkj *hkj_at(const hkj *a, size_t i);
/* Typed reads with a default for missing / other types. */
double hkj_num(const hkj *v, double dflt);
const char *hkj_str(const hkj *v, const char *dflt);
/* A whole file into memory (NUL-terminated); NULL with errno set. */
char *hk_read_file(const char *path, size_t *len);

/* ---- a growable byte buffer --------------------------------------------- */
typedef struct {
    char *p;
    size_t n, cap;
} hk_buf;
void hk_buf_put(hk_buf *b, const char *s, size_t n);
void hk_buf_s(hk_buf *b, const char *s);
void hk_buf_f(hk_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* A JSON string (null for NULL). */
void hk_buf_jstr(hk_buf *b, const char *s);
/* Out of memory in a command: a message and HK_USAGE. */
void hk_oom(void);
void *hk_xmalloc(size_t n);
void *hk_xcalloc(size_t n, size_t each);
void *hk_xrealloc(void *p, size_t n);

/* ---- the commands ------------------------------------------------------- */
int hk_cmd_diff(int argc, char **argv);
int hk_cmd_view(int argc, char **argv);
int hk_cmd_walk(int argc, char **argv);

#endif

/* ---- snapshots (snap.c) ----------------------------------------------------- */
typedef struct {
    const char *function, *file, *module;
    int line;                  /* 0: none */
    uint32_t stack;            /* 0: none */
    const char *key;           /* what makes two sites one across snapshots */
} hk_snap_site;
typedef struct {
    uint32_t id;
    const hkj *frames;         /* array of {pc,function,file,line,module} */
    const char *key;
} hk_snap_stack;
typedef struct {
    uint32_t no, site, heap;
    uint64_t size;
} hk_snap_block;
typedef struct {
    char *text;
    hkj_doc *doc;
    const hkj *root;
    const char *path, *program;
    unsigned long pid;
    double time;
    hk_snap_site *sites;       /* by id, 0..max_site (id 0: unknown) */
    uint32_t max_site;
    hk_snap_stack *stacks;     /* by id (sorted) */
    size_t nstacks;
    hk_snap_block *blocks;     /* by allocation number */
    size_t nblocks;
    uint64_t live_bytes;
} hk_snap;
/* Load a snapshot: 1, or 0 with a message in err. */
int hk_snap_load(const char *path, hk_snap *s, char *err, size_t errlen);
void hk_snap_free(hk_snap *s);
const hk_snap_site *hk_snap_site_of(const hk_snap *s, uint32_t id);
const hk_snap_stack *hk_snap_stack_of(const hk_snap *s, uint32_t id);
/* A stack's key for a site: its stack's, else the site's own. */
const char *hk_snap_stack_key(const hk_snap *s, const hk_snap_site *site);

/* ---- a string -> index map ----------------------------------------------------- */
typedef struct {
    const char **keys;
    size_t *vals;
    size_t n, cap;
} hk_map;
/* The index of key, adding it as `next` when missing (*added set). */
size_t hk_map_get(hk_map *m, const char *key, size_t next, int *added);
void hk_map_free(hk_map *m);
