/* error.c - per-thread last error, messages, and GENERATE_EXCEPTIONS. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>

static _Thread_local int hk__last;

int hk_last_error(void) { return hk__last; }
void hk_set_last_error(int err) { hk__last = err; }

/* HeapEnableTerminationOnCorruption: once on, stays on (as on Windows). */
static volatile int hk__terminate_on_corruption;

void hk_terminate_on_corruption(void) { hk__terminate_on_corruption = 1; }

void hk__set_error(int err)
{
    hk__last = err;
    if (err == HK_ERR_HEAP_CORRUPT && hk__terminate_on_corruption) {
        fprintf(stderr, "heapkit: heap corruption detected "
                "(STATUS_HEAP_CORRUPTION 0xC0000374); terminating the process "
                "(HeapEnableTerminationOnCorruption)\n");
        abort();
    }
}

const char *hk_version(void) { return PACKAGE_VERSION; }

const char *hk_strerror(int err)
{
    switch (err) {
    case HK_OK:                      return "success";
    case HK_ERR_INVALID_HANDLE:      return "invalid heap handle";
    case HK_ERR_NO_MEMORY:           return "not enough memory";
    case HK_ERR_HEAP_CORRUPT:        return "heap corruption detected";
    case HK_ERR_NOT_SUPPORTED:       return "not supported by this backend";
    case HK_ERR_INVALID_PARAMETER:   return "invalid parameter";
    case HK_ERR_INSUFFICIENT_BUFFER: return "buffer too small";
    case HK_ERR_NO_MORE_ITEMS:       return "no more items";
    default:                         return "unknown error";
    }
}

static hk_exception_fn hk__handler;

hk_exception_fn hk_set_exception_handler(hk_exception_fn fn)
{
    hk_exception_fn old;
    hk__global_lock();
    old = hk__handler;
    hk__handler = fn;
    hk__global_unlock();
    return old;
}

void hk__raise_no_memory(size_t n)
{
    hk_exception_fn fn;
    hk__global_lock();
    fn = hk__handler;
    hk__global_unlock();
    if (fn) {
        fn(HK_STATUS_NO_MEMORY, n);
        return;
    }
#ifdef _WIN32
    /* What HeapAlloc itself raises for HEAP_GENERATE_EXCEPTIONS. */
    RaiseException(HK_STATUS_NO_MEMORY, 0, 0, NULL);
#else
    /* The status a Windows program would have seen, named for the user. */
    fprintf(stderr, "heapkit: exception STATUS_NO_MEMORY (0xC0000017): out of "
            "memory allocating %lu bytes (HEAP_GENERATE_EXCEPTIONS); no handler "
            "set with hk_set_exception_handler, aborting\n", (unsigned long)n);
    abort();
#endif
}
