/*
 * san.h - the arena seen by Valgrind's memcheck and by AddressSanitizer.
 *
 * Both tools learn the life of every block: [header, end) is the block,
 * [p, p+n) its user part.  Outside the user part of a busy block
 * everything is no-access: headers, the slack after each block, free and
 * cached blocks, the free tail of a region.  So an overflow, a use after
 * free and (memcheck) an uninitialised read are reported at the faulting
 * line of the program.
 *
 *  - memcheck (configure found valgrind/memcheck.h): each heap is a memory
 *    pool (VALGRIND_CREATE_MEMPOOL; blocks are MEMPOOL_ALLOC/FREE, the
 *    pool-aware MALLOCLIKE/FREELIKE), so HeapDestroy drops all of a heap's
 *    blocks at once and only blocks of a leaked heap show as leaked.  The
 *    arena's own reads of no-access memory are not errors: every entry
 *    point turns error reporting off for the thread while it runs.  Off
 *    Valgrind all this is one predictable branch on h->vg per call.
 *  - ASan (the compiler's -fsanitize=address): ASAN_POISON_MEMORY_REGION.
 *    The arena's own code is not instrumented (HK_NOSAN on every function)
 *    and copies user data with its own loops, which ASan's memcpy/memset
 *    interceptors would otherwise check against the poison.  Compiled to
 *    nothing without -fsanitize=address.
 */
#ifndef HK_ARENA_SAN_H
#define HK_ARENA_SAN_H

#if defined(__SANITIZE_ADDRESS__)
#  define HK_ASAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define HK_ASAN 1
#  endif
#endif

#if defined(HK_ASAN)
#  include <sanitizer/asan_interface.h>
#  define HK_NOSAN __attribute__((no_sanitize_address))
#  define HK_APOISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#  define HK_AUNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#  define HK_NOSAN
#  define HK_APOISON(p, n)   ((void)0)
#  define HK_AUNPOISON(p, n) ((void)0)
#endif

#if defined(HAVE_VALGRIND_MEMCHECK_H) && !defined(_WIN32)
#  include <valgrind/memcheck.h>
#  define HK_VG 1
#  define HK_VG_ON(h)        HK_UNLIKELY((h)->vg)
#else
#  define HK_VG_ON(h)        0
#endif

#endif /* HK_ARENA_SAN_H */
