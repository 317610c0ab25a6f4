/* stacks.h - backtraces at allocation (HEAPKIT_BACKTRACE=N) and the stack
 * depot that stores each distinct one once. */
#ifndef HK_STACKS_H
#define HK_STACKS_H

#include <stddef.h>
#include <stdint.h>

#define HK__BT_MAX 64          /* HEAPKIT_BACKTRACE is capped here */

/* Frames to record (HEAPKIT_BACKTRACE; 0: the caller only, no stacks). */
extern int hk__bt_depth;
/* Read HEAPKIT_BACKTRACE (tracker start). */
void hk__stacks_init(void);
/* The calling thread's stack from the frame whose return address is
 * caller (heapkit's own frames above it are left out), interned: its id,
 * 0 if none could be taken or kept. */
uint32_t hk__stack_capture(uintptr_t caller);
/* unwind.c: the cached unwinder (x86-64 Linux): the calling thread's
 * frames from caller's return address on, at most depth, into out; 0 if
 * it cannot tell (the caller then asks libgcc's unwinder). */
size_t hk__unwind_cached(uintptr_t caller, uintptr_t *out, size_t depth);
/* The frames of stack id (return addresses, the caller first). */
size_t hk__stack_frames(uint32_t id, const uintptr_t **frames);

#endif
