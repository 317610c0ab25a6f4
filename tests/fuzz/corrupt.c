/*
 * tests/fuzz/corrupt.c - header corruption and overflows, then every API
 * call on the damaged heap.
 *
 * A few blocks are allocated (some freed again, so free and cached blocks
 * sit between them), then junk is written over one block's header (arena:
 * the 8-byte block header, or a large block's 64-byte one; mimalloc: its
 * 16-byte header) or past the end of a block by k bytes (arena: through the
 * slack into the next block's header and links).  Then alloc, realloc,
 * size, validate, walk, visit, compact, mark/release, free and destroy are
 * called on the heap.  Nothing may crash or hang; every failure must carry
 * a named error; and a changed header must be noticed by hk_validate.
 */
#define FZ_DEFINE_GLOBALS
#include "fuzz.h"

#if defined(__SANITIZE_ADDRESS__)
#  define HK_FZ_ASAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define HK_FZ_ASAN 1
#  endif
#endif
#if defined(HK_FZ_ASAN)
/* This target damages heaps on purpose, right where the arena keeps its
 * ASan poison (headers, free memory): the poison is off here, ASan still
 * checks everything else.  tests/sanity checks the poison. */
const char *__asan_default_options(void);
__attribute__((visibility("default"), used))
const char *__asan_default_options(void) { return "allow_user_poisoning=0"; }
#endif

#define NBLK 12

typedef struct {
    unsigned char *p;
    size_t n;
    size_t overhead;           /* from the walk, before the damage */
    int next_is_block;         /* a block (not the sentinel) follows */
    int next_is_free;          /* ... and it is free or cached */
    int large;
    int live;
} fz_blk;

static int named(int err)
{
    return err == HK_ERR_INVALID_HANDLE || err == HK_ERR_NO_MEMORY ||
           err == HK_ERR_HEAP_CORRUPT || err == HK_ERR_NOT_SUPPORTED ||
           err == HK_ERR_INVALID_PARAMETER || err == HK_ERR_NO_MORE_ITEMS;
}

#define EXPECT_NAMED(what) \
    HK_FZ_CHECK(named(hk_last_error()), "%s failed with error %d", what, hk_last_error())

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    hk_set_exception_handler(fz_on_exception);
    return 0;
}

/* Overheads and neighbours from a walk of the still intact heap. */
static void learn_layout(hk_heap *h, fz_blk *b, int nb)
{
    hk_heap_entry e, prev;
    int i, have_prev = 0;
    memset(&e, 0, sizeof e);
    while (hk_walk(h, &e)) {
        if (have_prev && prev.flags == HK_ENTRY_BUSY)
            for (i = 0; i < nb; i++)
                if (b[i].live && b[i].p == prev.data) {
                    b[i].next_is_block = e.flags == HK_ENTRY_BUSY || e.flags == HK_ENTRY_FREE;
                    b[i].next_is_free = e.flags == HK_ENTRY_FREE;
                }
        if (e.flags == HK_ENTRY_BUSY)
            for (i = 0; i < nb; i++)
                if (b[i].live && b[i].p == e.data)
                    b[i].overhead = e.overhead;
        prev = e;
        have_prev = 1;
    }
}

/* Bytes past the requested end of b that are inside memory the heap owns
 * for sure, so the harness itself never writes outside a mapping. */
static size_t room_after(const fz_blk *b, int arena)
{
    if (!arena || (!b->large && b->overhead < 8))
        return 0;       /* mimalloc: only its header is damaged */
    if (b->large) {     /* the mapping: header + n rounded up to 64 KiB */
        size_t map = (b->n + 64 + 0xFFFF) & ~(size_t)0xFFFF;
        return map - 64 - b->n;
    }
    /* the slack, the next 8-byte header, and (next is a block of >= 32
     * bytes) its next 16 bytes: the free-list links of a free block */
    return b->overhead - 8 + 8 + (b->next_is_block ? 16 : 0);
}

static int walk_all(hk_heap *h)
{
    hk_heap_entry e;
    long steps = 0;
    memset(&e, 0, sizeof e);
    while (hk_walk(h, &e))
        HK_FZ_CHECK(++steps < 1000000, "walk of a damaged heap does not end");
    HK_FZ_CHECK(hk_last_error() == HK_ERR_NO_MORE_ITEMS || named(hk_last_error()),
                "walk ended with error %d", hk_last_error());
    return hk_last_error() == HK_ERR_NO_MORE_ITEMS;
}

static long visits;
static int count_cb(const hk_heap_entry *e, void *arg)
{
    (void)e;
    (void)arg;
    HK_FZ_CHECK(++visits < 1000000, "visit of a damaged heap does not end");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = { data, size };
    fz_blk b[NBLK];
    int arena = !(fz_u8(&in) & 1) || !fz_have_backend("mimalloc");
    unsigned hflags = fz_u8(&in) & (HK_HEAP_NO_SERIALIZE | HK_HEAP_GENERATE_EXCEPTIONS);
    int nb = 2 + (int)fz_pick(&in, NBLK - 1), i, t, huge, target;
    unsigned char before[80], junk[80];
    size_t off, len, k;
    unsigned char *at;
    int changed_hdr = 0, hdr_of_target = 0;
    hk_heap *h;

    LLVMFuzzerInitialize(NULL, NULL);
    h = hk_heap_create(arena ? "arena" : "mimalloc", hflags, 0, 0);
    HK_FZ_CHECK(h != NULL, "create failed: %d", hk_last_error());

    /* blocks, some freed again so free and cached blocks lie between them */
    memset(b, 0, sizeof b);
    for (i = 0; i < nb; i++) {
        size_t n = fz_size(&in, &huge);
        if (huge || n > (4u << 20))
            n = 40;
        b[i].p = hk_alloc(h, 0, n);
        HK_FZ_CHECK(b[i].p != NULL, "alloc(%zu) failed: %d", n, hk_last_error());
        b[i].n = n;
        b[i].large = n >= 0xFEFD9;
        b[i].live = 1;
        fz_fill(b[i].p, n, (unsigned)i);
    }
    for (i = 0; i < nb; i++)
        if (fz_u8(&in) % 3 == 0) {
            HK_FZ_CHECK(hk_free(h, 0, b[i].p), "free failed: %d", hk_last_error());
            b[i].live = 0;
        }
    for (target = -1, i = (int)fz_pick(&in, (unsigned)nb), t = 0; t < nb; t++)
        if (b[(i + t) % nb].live) {
            target = (i + t) % nb;
            break;
        }
    if (target < 0) {
        HK_FZ_CHECK(hk_heap_destroy(h), "destroy");
        return 0;
    }
    if (arena)
        learn_layout(h, b, nb);

    /* the damage */
    for (i = 0; i < (int)sizeof junk; i++)
        junk[i] = (unsigned char)fz_u8(&in);
    if (!arena || (fz_u8(&in) & 1)) {
        /* over the header: bytes [off, off + len) of it */
        size_t hsize = !arena ? 16 : b[target].large ? 64 : 8;
        off = fz_pick(&in, (unsigned)hsize);
        len = 1 + fz_pick(&in, (unsigned)(hsize - off));
        at = b[target].p - hsize + off;
        memcpy(before, at, len);
        memcpy(at, junk, len);
        {
            /* a large header's first 16 bytes and its pad2 word are
             * padding no check covers */
            size_t j;
            for (j = 0; j < len; j++)
                if (before[j] != at[j] && !(hsize == 64 && (off + j < 16 ||
                                                            (off + j >= 44 && off + j < 48))))
                    changed_hdr = 1;
        }
        hdr_of_target = changed_hdr;
    } else {
        /* past the end by k bytes */
        size_t room = room_after(&b[target], arena);
        k = room ? 1 + fz_pick(&in, (unsigned)(room < sizeof junk ? room : sizeof junk)) : 0;
        at = b[target].p + b[target].n;
        memcpy(before, at, k);
        memcpy(at, junk, k);
        /* did it reach the next header (8 bytes after the block's end)? */
        if (!b[target].large) {
            size_t slack = b[target].overhead - 8, j;
            for (j = slack; j < k && j < slack + 8; j++)
                changed_hdr |= before[j] != at[j];
        }
    }

    /* validate must notice a changed header: of the block itself (one
     * block) and anywhere (the whole heap); on both backends, whose
     * header checks cover every word */
    if (hdr_of_target)
        HK_FZ_CHECK(!hk_validate(h, 0, b[target].p),
                    "validate(p) missed a changed header (off %zu, len %zu)", off, len);
    if (changed_hdr)
        HK_FZ_CHECK(!hk_validate(h, 0, NULL), "validate(heap) missed a changed header");

    /* every call on the damaged heap: nothing may crash or hang */
    for (i = 0; i < nb; i++) {
        if (!b[i].live)
            continue;
        fz_arm();
        if (hk_size(h, 0, b[i].p) == (size_t)-1 && hk_last_error() != FZ_SENTINEL)
            EXPECT_NAMED("size");      /* (unchanged: a damaged size of -1 read back) */
        hk_validate(h, 0, b[i].p);
    }
    hk_validate(h, 0, NULL);
    fz_arm();
    if (!walk_all(h))
        EXPECT_NAMED("walk");
    visits = 0;
    if (!hk_visit(h, count_cb, NULL))
        EXPECT_NAMED("visit");
    for (t = 0; t < 6 && fz_more(&in); t++) {
        unsigned op = fz_u8(&in) % 6;
        void *p;
        fz_arm();
        switch (op) {
        case 0:
            p = hk_alloc(h, HK_HEAP_ZERO_MEMORY, fz_size(&in, &huge));
            if (!p) EXPECT_NAMED("alloc");
            break;
        case 1:
            i = (int)fz_pick(&in, (unsigned)nb);
            if (!b[i].live) break;
            p = hk_realloc(h, fz_u8(&in) & HK_HEAP_REALLOC_IN_PLACE_ONLY, b[i].p,
                           fz_size(&in, &huge) % (1u << 20));
            if (p) b[i].p = p;
            else EXPECT_NAMED("realloc");
            break;
        case 2:
            if (!hk_compact(h, 0) && hk_last_error() != FZ_SENTINEL) EXPECT_NAMED("compact");
            break;
        case 3: {
            uintptr_t m = hk_heap_mark(h);
            if (!m) { EXPECT_NAMED("mark"); break; }
            p = hk_alloc(h, 0, fz_u8(&in));
            if (!p) EXPECT_NAMED("alloc after mark");
            fz_arm();
            if (!hk_heap_release(h, m)) EXPECT_NAMED("release");
            break;
        }
        case 4:
            if (!walk_all(h)) EXPECT_NAMED("walk");
            break;
        default:
            i = (int)fz_pick(&in, (unsigned)nb);
            if (!b[i].live) break;
            if (!hk_free(h, 0, b[i].p)) EXPECT_NAMED("free");
            b[i].live = 0;
            break;
        }
    }
    for (i = 0; i < nb; i++) {
        if (!b[i].live)
            continue;
        fz_arm();
        if (!hk_free(h, 0, b[i].p))
            EXPECT_NAMED("free");
    }
    fz_arm();
    if (!hk_alloc(h, 0, 100))
        EXPECT_NAMED("alloc at the end");
    hk_validate(h, 0, NULL);
    HK_FZ_CHECK(hk_heap_destroy(h), "destroy of a damaged heap failed: %d", hk_last_error());
    return 0;
}
