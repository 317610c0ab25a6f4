/*
 * api.c - backend-independent checks: bad input to every public function,
 * the error model, backend listing and registration, and the core's
 * fallbacks (lock, visit over walk) through a small registered backend.
 */
#include "testutil.h"
#include "heapkit/backend.h"

/* ---- bad handles ------------------------------------------------------- */

static void expect_bad_handle(hk_heap *bad)
{
    hk_heap_entry e;
    int dummy = 0;
    memset(&e, 0, sizeof e);
#define EXPECT(call, failval)                                            \
    do {                                                                 \
        hk_set_last_error(0);                                            \
        ck_assert_msg((call) == (failval), #call " did not fail");       \
        ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_HANDLE);        \
    } while (0)
    EXPECT(hk_heap_destroy(bad), 0);
    EXPECT(hk_alloc(bad, 0, 16), NULL);
    EXPECT(hk_realloc(bad, 0, &dummy, 16), NULL);
    /* Wine 8 / Windows: a NULL handle in HeapFree/HeapSize is error 87. */
    hk_set_last_error(0);
    ck_assert(!hk_free(bad, 0, &dummy));
    ck_assert_int_eq(hk_last_error(), bad ? HK_ERR_INVALID_HANDLE : HK_ERR_INVALID_PARAMETER);
    hk_set_last_error(0);
    ck_assert(hk_size(bad, 0, &dummy) == (size_t)-1);
    ck_assert_int_eq(hk_last_error(), bad ? HK_ERR_INVALID_HANDLE : HK_ERR_INVALID_PARAMETER);
    EXPECT(hk_compact(bad, 0), 0);
    EXPECT(hk_lock(bad), 0);
    EXPECT(hk_unlock(bad), 0);
    EXPECT(hk_walk(bad, &e), 0);
    EXPECT(hk_visit(bad, NULL, NULL), 0);
    EXPECT(hk_heap_mark(bad), 0);
    EXPECT(hk_heap_release(bad, 1), 0);
    EXPECT(hk_heap_backend(bad), NULL);
    EXPECT(hk_heap_caps(bad), 0);
#undef EXPECT
    hk_set_last_error(777);
    ck_assert(!hk_validate(bad, 0, NULL));
    ck_assert(!hk_validate(bad, 0, &dummy));
    ck_assert_int_eq(hk_last_error(), 777);
}

START_TEST(bad_handles)
{
    struct { char junk[256]; } fake;
    hk_heap *dead;
    memset(&fake, 0x48, sizeof fake);
    expect_bad_handle(NULL);
    expect_bad_handle((hk_heap *)&fake);
    expect_bad_handle((hk_heap *)(uintptr_t)0xdeadbe00u);
    expect_bad_handle((hk_heap *)((char *)hk_process_heap() + 8));
    dead = hk_heap_create(NULL, 0, 0, 0);
    ck_assert_ptr_nonnull(dead);
    ck_assert(hk_heap_destroy(dead));
    expect_bad_handle(dead);
}
END_TEST

START_TEST(bad_arguments)
{
    hk_heap *h = hk_heap_create(NULL, 0, 0, 0);
    void *p;
    ck_assert_ptr_nonnull(h);
    ck_assert_ptr_null(hk_heap_create("no-such-backend", 0, 0, 0));
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    ck_assert_ptr_null(hk_heap_create(NULL, HK_HEAP_ZERO_MEMORY | 0x8000u, 0, 0));
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    ck_assert_ptr_null(hk_alloc(h, 0x80000000u, 16));
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    p = hk_alloc(h, 0, 16);
    ck_assert_ptr_nonnull(p);
    ck_assert(!hk_free(h, HK_HEAP_ZERO_MEMORY, p));       /* not a free flag */
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    ck_assert_uint_eq(hk_size(h, 0, NULL), (size_t)-1);
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    ck_assert_ptr_null(hk_realloc(h, 0x40000000u, p, 32));
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    ck_assert_uint_eq(hk_size(h, 0, p), 16);               /* untouched */
    ck_assert(!hk_walk(h, NULL));
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    ck_assert(!hk_visit(h, NULL, NULL));
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    ck_assert_uint_eq(hk_process_heaps(NULL, 5), hk_process_heaps(NULL, 0));
    ck_assert(hk_free(h, 0, p));
    ck_assert(hk_heap_destroy(h));
}
END_TEST

START_TEST(process_heap)
{
    hk_heap *ph = hk_process_heap();
    void *p;
    ck_assert_ptr_nonnull(ph);
    ck_assert_ptr_eq(ph, hk_process_heap());
    ck_assert_str_eq(hk_heap_backend(ph), hk_default_backend());
    p = hk_alloc(ph, HK_HEAP_ZERO_MEMORY, 123);
    ck_assert_ptr_nonnull(p);
    ck_assert(tu_all(p, 123, 0));
    ck_assert_uint_eq(hk_size(ph, 0, p), 123);
    ck_assert(hk_free(ph, 0, p));
    hk_set_last_error(0);
    ck_assert(!hk_heap_destroy(ph));
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_HANDLE);
    ck_assert(hk_validate(ph, 0, NULL));
}
END_TEST

START_TEST(errors)
{
    static const int codes[] = { HK_OK, HK_ERR_INVALID_HANDLE, HK_ERR_NO_MEMORY,
        HK_ERR_HEAP_CORRUPT, HK_ERR_NOT_SUPPORTED, HK_ERR_INVALID_PARAMETER,
        HK_ERR_INSUFFICIENT_BUFFER, HK_ERR_NO_MORE_ITEMS };
    size_t i, j, n = sizeof codes / sizeof *codes;
    for (i = 0; i < n; i++) {
        ck_assert_ptr_nonnull(hk_strerror(codes[i]));
        ck_assert_str_ne(hk_strerror(codes[i]), "unknown error");
        for (j = 0; j < i; j++)
            ck_assert_str_ne(hk_strerror(codes[i]), hk_strerror(codes[j]));
    }
    ck_assert_str_eq(hk_strerror(-1), "unknown error");
    ck_assert_str_eq(hk_strerror(123456), "unknown error");
    /* the Win32 numbers, so ported code can compare directly */
    ck_assert_int_eq(HK_ERR_INVALID_HANDLE, 6);
    ck_assert_int_eq(HK_ERR_NO_MEMORY, 8);
    ck_assert_int_eq(HK_ERR_INVALID_PARAMETER, 87);
    ck_assert_int_eq(HK_ERR_NO_MORE_ITEMS, 259);
}
END_TEST

static void *read_error_thread(void *arg)
{
    int *out = arg;
    *out = hk_last_error();
    hk_set_last_error(99);
    return NULL;
}

START_TEST(last_error_per_thread)
{
    pthread_t t;
    int seen = -1;
    hk_set_last_error(1234);
    ck_assert_int_eq(pthread_create(&t, NULL, read_error_thread, &seen), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_eq(seen, 0);
    ck_assert_int_eq(hk_last_error(), 1234);
}
END_TEST

START_TEST(backend_list)
{
    const char *const *names = hk_backends();
    int i, n = 0;
    ck_assert_ptr_nonnull(names);
    ck_assert_ptr_nonnull(names[0]);
    ck_assert_str_eq(names[0], hk_default_backend());
    for (i = 0; names[i]; i++) {
        n++;
        ck_assert_uint_ne(hk_backend_caps(names[i]), 0);
    }
#ifdef _WIN32
    for (i = 0; names[i] && strcmp(names[i], "win32") != 0; i++)
        ;
    ck_assert_msg(names[i] != NULL, "the win32 backend is missing");
#endif
    ck_assert_int_ge(n, 1);
    hk_set_last_error(0);
    ck_assert_uint_eq(hk_backend_caps("no-such-backend"), 0);
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    ck_assert_uint_eq(hk_backend_caps(NULL), 0);
}
END_TEST

/* ---- a registered backend: a list of malloc'ed blocks ------------------ */

struct tb_block { struct tb_block *next; size_t size; uintptr_t magic; char pad[8]; };
struct tb_heap { struct tb_block *head; };
#define TB_MAGIC ((uintptr_t)0x7e57b10c)

static int tb_create(unsigned f, size_t i, size_t m, void **out)
{
    (void)f; (void)i; (void)m;
    *out = calloc(1, sizeof(struct tb_heap));
    return *out ? HK_OK : HK_ERR_NO_MEMORY;
}
static struct tb_block *tb_find(struct tb_heap *th, const void *p)
{
    struct tb_block *b;
    for (b = th->head; b; b = b->next)
        if ((const void *)(b + 1) == p)
            return b;
    return NULL;
}
static int tb_free(void *bh, unsigned f, void *p)
{
    struct tb_heap *th = bh;
    struct tb_block **pp, *b = tb_find(th, p);
    (void)f;
    if (!b)
        return HK_ERR_INVALID_PARAMETER;
    for (pp = &th->head; *pp != b; pp = &(*pp)->next)
        ;
    *pp = b->next;
    free(b);
    return HK_OK;
}
static int tb_destroy(void *bh)
{
    struct tb_heap *th = bh;
    while (th->head)
        tb_free(th, 0, th->head + 1);
    free(th);
    return HK_OK;
}
static int tb_alloc(void *bh, unsigned f, size_t n, void **out)
{
    struct tb_heap *th = bh;
    struct tb_block *b;
    if (n > (1u << 30))
        return HK_ERR_NO_MEMORY;
    b = (f & HK_HEAP_ZERO_MEMORY) ? calloc(1, sizeof *b + n) : malloc(sizeof *b + n);
    if (!b)
        return HK_ERR_NO_MEMORY;
    b->size = n;
    b->magic = TB_MAGIC;
    b->next = th->head;
    th->head = b;
    *out = b + 1;
    return HK_OK;
}
static int tb_realloc(void *bh, unsigned f, void *p, size_t n, void **out)
{
    struct tb_block *b = tb_find(bh, p);
    int err;
    if (!b)
        return HK_ERR_INVALID_PARAMETER;
    if (f & HK_HEAP_REALLOC_IN_PLACE_ONLY)
        return n <= b->size ? (b->size = n, *out = p, HK_OK) : HK_ERR_NO_MEMORY;
    err = tb_alloc(bh, f, n, out);
    if (err)
        return err;
    memcpy(*out, p, n < b->size ? n : b->size);
    return tb_free(bh, 0, p);
}
static int tb_size(void *bh, unsigned f, const void *p, size_t *n)
{
    struct tb_block *b = tb_find(bh, p);
    (void)f;
    if (!b)
        return HK_ERR_INVALID_PARAMETER;
    *n = b->size;
    return HK_OK;
}
/* Walk: the list order; the position is the block itself. */
static int tb_walk(void *bh, hk_heap_entry *e)
{
    struct tb_heap *th = bh;
    struct tb_block *b;
    if (!e->data)
        b = th->head;
    else {
        b = tb_find(th, e->data);
        if (!b)
            return HK_ERR_INVALID_PARAMETER;
        b = b->next;
    }
    if (!b)
        return HK_ERR_NO_MORE_ITEMS;
    memset(e, 0, sizeof *e);
    e->data = b + 1;
    e->size = b->size;
    e->overhead = sizeof *b;
    e->flags = HK_ENTRY_BUSY;
    return HK_OK;
}

static const hk_backend tb_backend = {
    HK_BACKEND_VERSION, "test-list", HK_CAP_WALK_ITERATE | HK_CAP_ANY_THREAD,
    tb_create, tb_destroy, tb_alloc, tb_realloc, tb_free, tb_size,
    NULL, NULL, NULL, NULL, tb_walk, NULL, NULL, NULL, NULL, NULL, NULL, NULL
};

static int tb_count(const hk_heap_entry *e, void *arg)
{
    (void)e;
    ++*(int *)arg;
    return 0;
}

START_TEST(register_backend)
{
    hk_backend broken = tb_backend;
    const char *const *names;
    hk_heap *h;
    void *a, *b;
    int found = 0, i, count = 0;

    ck_assert(!hk_backend_register(NULL));
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    broken.version = 99;
    ck_assert(!hk_backend_register(&broken));
    broken = tb_backend;
    broken.alloc = NULL;
    ck_assert(!hk_backend_register(&broken));
    broken = tb_backend;
    broken.name = hk_default_backend();                /* name in use */
    ck_assert(!hk_backend_register(&broken));
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);

    ck_assert(hk_backend_register(&tb_backend));
    ck_assert(!hk_backend_register(&tb_backend));      /* twice */
    names = hk_backends();
    for (i = 0; names[i]; i++)
        found += strcmp(names[i], "test-list") == 0;
    ck_assert_int_eq(found, 1);

    h = hk_heap_create("test-list", 0, 0, 0);
    ck_assert_ptr_nonnull(h);
    ck_assert_ptr_null(hk_heap_create("test-list", 0, 0, 4096));  /* no FIXED_SIZE */
    ck_assert_int_eq(hk_last_error(), HK_ERR_NOT_SUPPORTED);
    a = hk_alloc(h, HK_HEAP_ZERO_MEMORY, 10);
    b = hk_alloc(h, 0, 20);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert(tu_all(a, 10, 0));
    /* core fallbacks: validate through size, visit through walk, lock */
    ck_assert(hk_validate(h, 0, a));
    ck_assert(!hk_validate(h, 0, (char *)a + 1));
    ck_assert(hk_visit(h, tb_count, &count));
    ck_assert_int_eq(count, 2);
    ck_assert(hk_lock(h));
    ck_assert(hk_lock(h));
    ck_assert(hk_unlock(h));
    ck_assert(hk_unlock(h));
    ck_assert(!hk_unlock(h));                          /* not held */
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    ck_assert_uint_eq(hk_compact(h, 0), 0);
    ck_assert_int_eq(hk_last_error(), HK_ERR_NOT_SUPPORTED);
    ck_assert(!hk_free(h, 0, (char *)b + 16));
    ck_assert(hk_free(h, 0, a));
    ck_assert(hk_heap_destroy(h));                    /* frees b */
}
END_TEST

/* ---- the core's lock: owner and depth --------------------------------- */

struct lock_peer {
    hk_heap *h;
    int unlock_refused, err;  /* hk_unlock from the peer, not the holder */
    int locked;               /* the peer got the lock (atomic) */
    int release;              /* main thread: let go now (atomic) */
};

static void *lock_peer_thread(void *arg)
{
    struct lock_peer *lp = arg;
    hk_set_last_error(0);
    lp->unlock_refused = !hk_unlock(lp->h);
    lp->err = hk_last_error();
    if (hk_lock(lp->h))
        __atomic_store_n(&lp->locked, 1, __ATOMIC_SEQ_CST);
    while (!__atomic_load_n(&lp->release, __ATOMIC_SEQ_CST))
        tu_sleep_ms(1);
    hk_unlock(lp->h);
    return NULL;
}

/* A backend without a lock of its own gets the core's recursive one:
 * another thread can neither unlock it nor take it until the holder's
 * depth is back to 0, and the holder cannot unlock more than it locked. */
START_TEST(core_lock)
{
    static hk_backend be;
    struct lock_peer lp;
    pthread_t t;
    hk_heap *h;
    be = tb_backend;
    be.name = "test-core-lock";
    ck_assert(be.lock == NULL);
    ck_assert(hk_backend_register(&be));
    h = hk_heap_create("test-core-lock", 0, 0, 0);
    ck_assert_ptr_nonnull(h);
    memset(&lp, 0, sizeof lp);
    lp.h = h;

    hk_set_last_error(0);
    ck_assert(!hk_unlock(h));                          /* held by nobody */
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    ck_assert(hk_lock(h));
    ck_assert(hk_lock(h));
    ck_assert(hk_lock(h));                             /* depth 3 */
    ck_assert_int_eq(pthread_create(&t, NULL, lock_peer_thread, &lp), 0);
    tu_sleep_ms(50);
    ck_assert(!__atomic_load_n(&lp.locked, __ATOMIC_SEQ_CST));
    ck_assert(hk_unlock(h));
    ck_assert(hk_unlock(h));                           /* depth 1: still held */
    tu_sleep_ms(50);
    ck_assert(!__atomic_load_n(&lp.locked, __ATOMIC_SEQ_CST));
    ck_assert(hk_unlock(h));                           /* now free */
    while (!__atomic_load_n(&lp.locked, __ATOMIC_SEQ_CST))
        tu_sleep_ms(1);
    /* the peer holds it: this thread's unlock is refused, the lock kept */
    hk_set_last_error(0);
    ck_assert(!hk_unlock(h));
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    __atomic_store_n(&lp.release, 1, __ATOMIC_SEQ_CST);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert(lp.unlock_refused);
    ck_assert_int_eq(lp.err, HK_ERR_INVALID_PARAMETER);
    /* free again: the heap works, and this thread locks at depth 1 */
    ck_assert(hk_lock(h));
    ck_assert(hk_unlock(h));
    ck_assert(!hk_unlock(h));
    ck_assert(hk_heap_destroy(h));
}
END_TEST

/* ---- the optional fast entries (backend.h version 2) ------------------ */

static struct {
    int alloc_calls, free_calls;  /* fast entries entered */
    unsigned alloc_flags, free_flags;
    void *bh;
} fe;

static void *fe_alloc(hk_heap *h, unsigned f, size_t n, void *bh)
{
    void *p;
    fe.alloc_calls++;
    fe.alloc_flags = f;
    fe.bh = bh;
    if (tb_alloc(bh, f & HK_HEAP_ZERO_MEMORY, n, &p) == HK_OK)
        return p;
    return hk_alloc_full(h, f, n);     /* the core says why */
}
static int fe_free(hk_heap *h, unsigned f, void *p, void *bh)
{
    fe.free_calls++;
    fe.free_flags = f;
    if (tb_free(bh, 0, p) == HK_OK)
        return 1;
    return hk_free_full(h, f, p);
}
/* A lock of its own (the tests are single-threaded where it matters), so
 * that a serialized heap needs nothing from the core. */
static int fe_lock(void *bh) { (void)bh; return HK_OK; }

static int fe_raised;
static void fe_on_exception(unsigned code, size_t size)
{
    (void)code; (void)size;
    fe_raised++;
}

struct fe_peer { hk_heap *h; void *p; int err; };
static void *fe_peer_thread(void *arg)
{
    struct fe_peer *fp = arg;
    hk_set_last_error(0);
    fp->p = hk_alloc(fp->h, 0, 8);
    fp->err = hk_last_error();
    return NULL;
}

static hk_backend fe_backend(const char *name, int with_lock)
{
    hk_backend be = tb_backend;
    be.version = HK_BACKEND_VERSION;
    be.name = name;
    be.fast_alloc = fe_alloc;
    be.fast_free = fe_free;
    if (with_lock)
        be.lock = be.unlock = fe_lock;
    return be;
}

/* A heap that needs nothing from the core goes straight to the fast
 * entries with the call's own flags; every failure still ends as the full
 * path says (last error, exception), and bad handles, bad flags, NULL and
 * foreign pointers are answered as before. */
START_TEST(fast_entries)
{
    static hk_backend be;
    hk_exception_fn old;
    hk_heap *h, *hn;
    void *p, *q;
    int dummy = 0, calls;

    be = fe_backend("test-fast", 1);
    ck_assert(hk_backend_register(&be));
    memset(&fe, 0, sizeof fe);
    h = hk_heap_create("test-fast", 0, 0, 0);
    ck_assert_ptr_nonnull(h);

    p = hk_alloc(h, HK_HEAP_ZERO_MEMORY, 10);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(fe.alloc_calls, 1);
    ck_assert_uint_eq(fe.alloc_flags, HK_HEAP_ZERO_MEMORY);
    ck_assert_ptr_nonnull(fe.bh);
    ck_assert(tu_all(p, 10, 0));
    ck_assert_uint_eq(hk_size(h, 0, p), 10);

    /* no memory: the fast entry fails over to the full path */
    hk_set_last_error(0);
    ck_assert_ptr_null(hk_alloc(h, 0, (size_t)1 << 31));
    ck_assert_int_eq(hk_last_error(), HK_ERR_NO_MEMORY);
    ck_assert_int_eq(fe.alloc_calls, 2);
    old = hk_set_exception_handler(fe_on_exception);
    fe_raised = 0;
    ck_assert_ptr_null(hk_alloc(h, HK_HEAP_GENERATE_EXCEPTIONS, (size_t)1 << 31));
    ck_assert_int_eq(fe_raised, 1);
    ck_assert_uint_eq(fe.alloc_flags, HK_HEAP_GENERATE_EXCEPTIONS);
    ck_assert_ptr_null(hk_alloc(h, 0, (size_t)1 << 31));
    ck_assert_int_eq(fe_raised, 1);                   /* no flag: no raise */
    hk_set_exception_handler(old);

    /* flags the core refuses never reach the backend */
    calls = fe.alloc_calls;
    hk_set_last_error(0);
    ck_assert_ptr_null(hk_alloc(h, 0x100, 8));
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    ck_assert_ptr_null(hk_alloc(h, HK_HEAP_REALLOC_IN_PLACE_ONLY, 8));
    ck_assert_int_eq(fe.alloc_calls, calls);
    hk_set_last_error(0);
    ck_assert(!hk_free(h, HK_HEAP_ZERO_MEMORY, p));
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    ck_assert_int_eq(fe.free_calls, 0);
    ck_assert_uint_eq(hk_size(h, 0, p), 10);           /* still live */

    /* free: a block, then the same again, a foreign pointer, NULL */
    ck_assert(hk_free(h, HK_HEAP_NO_SERIALIZE, p));
    ck_assert_int_eq(fe.free_calls, 1);
    ck_assert_uint_eq(fe.free_flags, HK_HEAP_NO_SERIALIZE);
    hk_set_last_error(0);
    ck_assert(!hk_free(h, 0, p));
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    hk_set_last_error(0);
    ck_assert(!hk_free(h, 0, &dummy));
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    hk_set_last_error(0);
    ck_assert(hk_free(h, 0, NULL));
    ck_assert_int_eq(hk_last_error(), 0);

    /* the heap's own NO_SERIALIZE is not merged into the fast entry's flags */
    hn = hk_heap_create("test-fast", HK_HEAP_NO_SERIALIZE, 0, 0);
    ck_assert_ptr_nonnull(hn);
    q = hk_alloc(hn, 0, 20);
    ck_assert_ptr_nonnull(q);
    ck_assert_uint_eq(fe.alloc_flags, 0);
    ck_assert(fe.bh != NULL);
    /* a block of one heap is foreign to another */
    hk_set_last_error(0);
    ck_assert(!hk_free(h, 0, q));
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_PARAMETER);
    ck_assert(hk_free(hn, 0, q));

    /* a destroyed heap's handle: refused, the backend not called */
    ck_assert(hk_heap_destroy(hn));
    calls = fe.alloc_calls + fe.free_calls;
    hk_set_last_error(0);
    ck_assert_ptr_null(hk_alloc(hn, 0, 8));
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_HANDLE);
    hk_set_last_error(0);
    ck_assert(!hk_free(hn, 0, &dummy));
    ck_assert_int_eq(hk_last_error(), HK_ERR_INVALID_HANDLE);
    ck_assert_int_eq(fe.alloc_calls + fe.free_calls, calls);
    ck_assert(hk_heap_destroy(h));
}
END_TEST

/* Heaps that need the core (its lock, its owner check) and version 1
 * structs never see the fast entries, and still work. */
/* A heap of this backend whose alloc and free take the full path: its
 * fast entries are never called. */
static void fe_full_only(const char *backend)
{
    hk_heap *h = hk_heap_create(backend, 0, 0, 0);
    void *p;
    ck_assert_ptr_nonnull(h);
    p = hk_alloc(h, 0, 8);
    ck_assert_ptr_nonnull(p);
    ck_assert(hk_free(h, 0, p));
    ck_assert_int_eq(fe.alloc_calls + fe.free_calls, 0);
    ck_assert(hk_heap_destroy(h));
}

START_TEST(fast_entries_not_taken)
{
    static hk_backend nolock, owned, v1;
    struct fe_peer fp;
    pthread_t t;
    hk_heap *h;
    void *p;

    nolock = fe_backend("test-fast-nolock", 0);     /* the core's lock */
    owned = fe_backend("test-fast-owned", 1);
    owned.caps &= ~HK_CAP_ANY_THREAD;               /* the core's owner check */
    v1 = fe_backend("test-fast-v1", 1);
    v1.version = 1;                                 /* has no fast members */
    ck_assert(hk_backend_register(&nolock));
    ck_assert(hk_backend_register(&owned));
    ck_assert(hk_backend_register(&v1));
    memset(&fe, 0, sizeof fe);

    fe_full_only("test-fast-nolock");
    /* ... unless the heap is not serialized */
    h = hk_heap_create("test-fast-nolock", HK_HEAP_NO_SERIALIZE, 0, 0);
    ck_assert_ptr_nonnull(h);
    p = hk_alloc(h, 0, 8);
    ck_assert(hk_free(h, 0, p));
    ck_assert_int_eq(fe.alloc_calls, 1);
    ck_assert_int_eq(fe.free_calls, 1);
    ck_assert(hk_heap_destroy(h));

    /* owner check: alloc goes the full way, free (no owner check) is fast */
    memset(&fe, 0, sizeof fe);
    h = hk_heap_create("test-fast-owned", 0, 0, 0);
    ck_assert_ptr_nonnull(h);
    p = hk_alloc(h, 0, 8);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(fe.alloc_calls, 0);
    fp.h = h;
    ck_assert_int_eq(pthread_create(&t, NULL, fe_peer_thread, &fp), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_ptr_null(fp.p);
    ck_assert_int_eq(fp.err, HK_ERR_NOT_SUPPORTED);
    ck_assert_int_eq(fe.alloc_calls, 0);
    ck_assert(hk_free(h, 0, p));
    ck_assert_int_eq(fe.free_calls, 1);
    ck_assert(hk_heap_destroy(h));

    /* a version 1 struct: the core does not read past os_heaps */
    memset(&fe, 0, sizeof fe);
    fe_full_only("test-fast-v1");
}
END_TEST

static Suite *api_suite(void)
{
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("api");
    tcase_add_test(tc, bad_handles);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, process_heap);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, last_error_per_thread);
    tcase_add_test(tc, backend_list);
    tcase_add_test(tc, register_backend);
    tcase_add_test(tc, core_lock);
    tcase_add_test(tc, fast_entries);
    tcase_add_test(tc, fast_entries_not_taken);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(api_suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
