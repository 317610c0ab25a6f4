/* backends.c - the table of backends this build has, and registration. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* Each backend file exports exactly one symbol: its hk_backend. */
#ifdef _WIN32
extern const hk_backend hk__backend_win32;
#endif
#ifdef HK_HAVE_ARENA
extern const hk_backend hk__backend_arena;
#endif
#ifdef HK_HAVE_MIMALLOC
extern const hk_backend hk__backend_mimalloc;
#endif

#define HK__MAX_BACKENDS 16

/* Built-in ones first, in default order; registered ones after. */
static const hk_backend *hk__table[HK__MAX_BACKENDS + 1] = {
#ifdef _WIN32
    &hk__backend_win32,
#endif
#ifdef HK_HAVE_ARENA
    &hk__backend_arena,
#endif
#ifdef HK_HAVE_MIMALLOC
    &hk__backend_mimalloc,
#endif
    NULL
};
/* Names, kept in step with hk__table for hk_backends(). */
static const char *hk__names[HK__MAX_BACKENDS + 1];
static const hk_backend *hk__default;

static size_t hk__count(void)
{
    size_t n = 0;
    while (hk__table[n])
        n++;
    return n;
}

static void hk__fill_names(void)
{
    size_t i, n = hk__count();
    const hk_backend *d = hk__default; /* set by the caller */
    size_t k = 0;
    /* The default backend is listed first. */
    if (d)
        hk__names[k++] = d->name;
    for (i = 0; i < n; i++)
        if (hk__table[i] != d)
            hk__names[k++] = hk__table[i]->name;
    hk__names[k] = NULL;
}

const hk_backend *hk__backend_find(const char *name)
{
    size_t i;
    if (!name)
        return NULL;
    for (i = 0; hk__table[i]; i++)
        if (strcmp(hk__table[i]->name, name) == 0)
            return hk__table[i];
    return NULL;
}

const hk_backend *hk__backend_default(void)
{
    const hk_backend *d;
    hk__global_lock();
    if (!hk__default) {
        const char *env = getenv("HEAPKIT_BACKEND");
        size_t i;
        d = NULL;
        for (i = 0; env && *env && hk__table[i] && !d; i++)
            if (hk__cfg_streq(env, hk__table[i]->name))     /* ARENA too */
                d = hk__table[i];
#ifdef HK_PRELOAD
        /* the preload's own choice of malloc (config.c), not an hk backend */
        if (env && hk__cfg_streq(env, "glibc"))
            env = NULL;
#endif
        if (env && *env && !d) {
            /* a typo says so (tracker's config.c has the format) */
            char names[200];
            size_t n;
            memcpy(names, "one of ", 7);
            n = 7;
            for (i = 0; hk__table[i]; i++) {
                const char *nm = hk__table[i]->name;
                if (i && n + 1 < sizeof names)
                    names[n++] = '|';
                while (*nm && n + 1 < sizeof names)
                    names[n++] = *nm++;
            }
            names[n] = 0;
            hk__cfg_error("HEAPKIT_BACKEND", env, names, hk__table[0]->name);
        }
        hk__default = d ? d : hk__table[0];
    }
    d = hk__default;
    hk__global_unlock();
    return d;
}

size_t hk__backend_list(const hk_backend **out, size_t n)
{
    size_t i, k = 0;
    hk__global_lock();
    for (i = 0; hk__table[i]; i++)
        if (k < n)
            out[k++] = hk__table[i];
    hk__global_unlock();
    return k;
}

const char *const *hk_backends(void)
{
    hk__backend_default();
    hk__global_lock();
    hk__fill_names();
    hk__global_unlock();
    return hk__names;
}

const char *hk_default_backend(void)
{
    const hk_backend *d = hk__backend_default();
    return d ? d->name : NULL;
}

unsigned hk_backend_caps(const char *name)
{
    const hk_backend *be;
    hk__global_lock();
    be = hk__backend_find(name);
    hk__global_unlock();
    if (!be) {
        hk__set_error(HK_ERR_INVALID_PARAMETER);
        return 0;
    }
    return be->caps;
}

int hk_backend_register(const hk_backend *be)
{
    size_t n;
    int err = HK_OK;
    if (!be || (be->version != 1 && be->version != HK_BACKEND_VERSION) || !be->name || !*be->name
        || !be->create || !be->destroy || !be->alloc || !be->realloc
        || !be->free || !be->size || (!be->walk && !be->visit)
        || (!be->lock != !be->unlock)
        || (be->walk == NULL && (be->caps & HK_CAP_WALK_ITERATE))) {
        hk__set_error(HK_ERR_INVALID_PARAMETER);
        return 0;
    }
    hk__global_lock();
    n = hk__count();
    if (hk__backend_find(be->name))
        err = HK_ERR_INVALID_PARAMETER;
    else if (n >= HK__MAX_BACKENDS)
        err = HK_ERR_NO_MEMORY;
    else
        hk__table[n] = be;
    hk__global_unlock();
    if (err) {
        hk__set_error(err);
        return 0;
    }
    return 1;
}
