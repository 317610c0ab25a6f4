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
/* HEAPKIT_UNWIND_CHECK=1 (Windows, for tests): each stack is taken both
 * with heapkit's cached rules and with RtlCaptureStackBackTrace and
 * compared; note adds the counts to the report's messages.  No-ops on
 * Linux (tests/unwchild compares there). */
void hk__stacks_check_init(void);
void hk__stacks_check_note(void);
/* The calling thread's stack from the frame whose return address is
 * caller (heapkit's own frames above it are left out), interned: its id,
 * 0 if none could be taken or kept. */
uint32_t hk__stack_capture(uintptr_t caller);
/* The stack words a walk read and the values it found (stacks.c's
 * per-thread stack cache): the same words holding the same values make
 * the same walk, so its stack again.  bad: the walk also used something
 * not logged (the start's rbp), or the log overflowed: not to be cached.
 * Bit 0 of at[i] set: a saved rbp a frame rule used (else a return
 * address or a frame record's word). */
#define HK__BT_LOG 40
typedef struct {
    uint32_t n;
    int bad;
    uintptr_t at[HK__BT_LOG], v[HK__BT_LOG];
} hk__bt_log;

/* other functions' frames, on purpose (no AddressSanitizer) */
static inline __attribute__((no_sanitize_address)) uintptr_t hk__bt_logged(hk__bt_log *log, const uintptr_t *at)
{
    uintptr_t v = *at;
    if (log) {
        if (log->n < HK__BT_LOG) {
            log->at[log->n] = (uintptr_t)at;
            log->v[log->n++] = v;
        } else {
            log->bad = 1;
        }
    }
    return v;
}

/* unwind.c: the cached unwinder (x86-64 Linux): the calling thread's
 * frames from caller's return address on, at most depth, into out; 0 if
 * it cannot tell (the caller then asks libgcc's unwinder).  log (or
 * NULL) gets every stack word it read. */
size_t hk__unwind_cached(uintptr_t caller, uintptr_t *out, size_t depth, hk__bt_log *log);
/* The frames of stack id (return addresses, the caller first). */
size_t hk__stack_frames(uint32_t id, const uintptr_t **frames);

#endif
