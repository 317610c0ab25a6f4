/*
 * unwind.c - the cached unwinder (x86-64 Linux): backtraces of code built
 * without frame pointers at a few instructions a frame.
 *
 * libgcc's _Unwind_Backtrace interprets each frame's call-frame
 * information (.eh_frame) on every call: about 1,700 instructions a frame.
 * But for a given return address the rule to reach the caller never
 * changes, and in code from gcc and clang it is nearly always of one
 * form: the frame's CFA (the caller's rsp) is rsp + k or rbp + k, the
 * return address lies at CFA - 8, and the caller's rbp is either still in
 * rbp or saved at a fixed offset from the CFA.  So each address is
 * interpreted once (its FDE from libgcc's _Unwind_Find_FDE, the CFA
 * program run up to that address here) and the rule kept in a lock-free
 * table in the tracker's OS memory; a frame then costs a table probe and
 * two loads.  Any other rule (an expression, a signal frame, a CFA in
 * another register) or an address without frame data ends the fast walk
 * and the caller falls back on libgcc's unwinder for that stack.
 *
 * Every read is checked to lie between the stack pointer of the walk's
 * start and the top of the thread's stack, and the CFA must rise with
 * each frame: a damaged stack ends the walk, it cannot fault or loop.
 */
#if !defined(_WIN32) && !defined(_GNU_SOURCE)
#  define _GNU_SOURCE 1           /* pthread_getattr_np */
#endif
#include "tracker.h"
#include "stacks.h"

#if defined(__x86_64__) && defined(__linux__)
#include <pthread.h>
#include <string.h>

/* libgcc's FDE lookup (unwind-dw2-fde.h; exported since GCC 3.0).  It
 * finds the frame data through _dl_find_object: no allocation. */
struct hk__eh_bases {
    void *tbase, *dbase, *func;
};
extern const void *_Unwind_Find_FDE(void *pc, struct hk__eh_bases *bases);

/* ---- rules ------------------------------------------------------------------ */

/* A rule in 64 bits (0: not known yet):
 *   bits 0-1   kind: 1 simple, 2 end of stack (return address undefined),
 *                    3 anything else (the fast walk stops);
 *   bit  2     the CFA's register: 0 rsp, 1 rbp;
 *   bits 16-31 where the caller's rbp was saved, from the CFA (signed; 0:
 *              unchanged);
 *   bits 32-63 the CFA's offset from its register (signed). */
#define HK__UW_SIMPLE 1u
#define HK__UW_END 2u
#define HK__UW_OTHER 3u
#define HK__UW_RBP_CFA 4u

static uint64_t hk__uw_make(int cfa_rbp, int32_t cfa_off, int16_t rbp_at)
{
    return HK__UW_SIMPLE | (cfa_rbp ? HK__UW_RBP_CFA : 0) | (uint64_t)(uint16_t)rbp_at << 16
         | (uint64_t)(uint32_t)cfa_off << 32;
}

/* DWARF register numbers on x86-64 */
#define HK__R_RBP 6
#define HK__R_RSP 7
#define HK__R_RA 16

/* A register's rule while the CFA program runs. */
enum { HK__REG_SAME, HK__REG_UNDEF, HK__REG_AT, HK__REG_OTHER };
typedef struct {
    int cfa_reg, cfa_expr;
    long cfa_off;
    int how[2];                 /* rbp, return address */
    long at[2];
} hk__uw_row;

typedef struct {
    const unsigned char *p, *end;
    int bad;
} hk__uw_in;

static unsigned long hk__uleb(hk__uw_in *in)
{
    unsigned long v = 0;
    unsigned shift = 0;
    while (in->p < in->end) {
        unsigned char b = *in->p++;
        if (shift < 64)
            v |= (unsigned long)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80))
            return v;
    }
    in->bad = 1;
    return 0;
}

static long hk__sleb(hk__uw_in *in)
{
    unsigned long v = 0;
    unsigned shift = 0;
    while (in->p < in->end) {
        unsigned char b = *in->p++;
        if (shift < 64)
            v |= (unsigned long)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) {
            if (shift < 64 && (b & 0x40))
                v |= ~0ul << shift;
            return (long)v;
        }
    }
    in->bad = 1;
    return 0;
}

static unsigned long hk__fixed(hk__uw_in *in, size_t n)
{
    unsigned long v = 0;
    if ((size_t)(in->end - in->p) < n) {
        in->bad = 1;
        return 0;
    }
    memcpy(&v, in->p, n);       /* little-endian */
    in->p += n;
    return v;
}

/* Skip one value of pointer encoding enc (only its size matters here). */
static void hk__skip_enc(hk__uw_in *in, unsigned enc)
{
    if (enc == 0xff)            /* DW_EH_PE_omit */
        return;
    switch (enc & 0x0f) {
    case 0x00: case 0x04: case 0x0c: hk__fixed(in, 8); break;
    case 0x02: case 0x0a: hk__fixed(in, 2); break;
    case 0x03: case 0x0b: hk__fixed(in, 4); break;
    case 0x01: hk__uleb(in); break;
    case 0x09: hk__sleb(in); break;
    default: in->bad = 1;
    }
}

/* The index of the tracked register r in hk__uw_row, or -1. */
static int hk__tracked(unsigned long r)
{
    return r == HK__R_RBP ? 0 : r == HK__R_RA ? 1 : -1;
}

static void hk__set_reg(hk__uw_row *row, unsigned long r, int how, long at)
{
    int i = hk__tracked(r);
    if (i >= 0) {
        row->how[i] = how;
        row->at[i] = at;
    }
}

#define HK__UW_STATES 8         /* remember_state depth */

/* Run the CFA program [in) with the row at location *loc, up to target
 * (the program's rows at addresses <= target).  init: the CIE's row, for
 * DW_CFA_restore.  0 on an instruction it does not know. */
static int hk__run_cfa(hk__uw_in *in, hk__uw_row *row, const hk__uw_row *init,
                       uintptr_t *loc, uintptr_t target, unsigned long code_align,
                       long data_align)
{
    hk__uw_row saved[HK__UW_STATES];
    int nsaved = 0;
    while (in->p < in->end && !in->bad) {
        unsigned op = *in->p++, low = op & 0x3f;
        unsigned long r, adv = 0;
        switch (op & 0xc0) {
        case 0x40:
            adv = low;
            goto advance;
        case 0x80:
            hk__set_reg(row, low, HK__REG_AT, (long)hk__uleb(in) * data_align);
            continue;
        case 0xc0:
            if (init && hk__tracked(low) >= 0)
                hk__set_reg(row, low, init->how[hk__tracked(low)], init->at[hk__tracked(low)]);
            else
                hk__set_reg(row, low, HK__REG_SAME, 0);
            continue;
        }
        switch (op) {
        case 0x00:                                  /* nop */
            break;
        case 0x02: adv = hk__fixed(in, 1); goto advance;
        case 0x03: adv = hk__fixed(in, 2); goto advance;
        case 0x04: adv = hk__fixed(in, 4); goto advance;
        case 0x05:                                  /* offset_extended */
            r = hk__uleb(in);
            hk__set_reg(row, r, HK__REG_AT, (long)hk__uleb(in) * data_align);
            break;
        case 0x06:                                  /* restore_extended */
            r = hk__uleb(in);
            if (init && hk__tracked(r) >= 0)
                hk__set_reg(row, r, init->how[hk__tracked(r)], init->at[hk__tracked(r)]);
            else
                hk__set_reg(row, r, HK__REG_SAME, 0);
            break;
        case 0x07: hk__set_reg(row, hk__uleb(in), HK__REG_UNDEF, 0); break;
        case 0x08: hk__set_reg(row, hk__uleb(in), HK__REG_SAME, 0); break;
        case 0x09:                                  /* register */
            r = hk__uleb(in);
            hk__uleb(in);
            hk__set_reg(row, r, HK__REG_OTHER, 0);
            break;
        case 0x0a:                                  /* remember_state */
            if (nsaved == HK__UW_STATES)
                return 0;
            saved[nsaved++] = *row;
            break;
        case 0x0b:                                  /* restore_state: the CFA too */
            if (!nsaved)
                return 0;
            *row = saved[--nsaved];
            break;
        case 0x0c:                                  /* def_cfa */
            row->cfa_reg = (int)hk__uleb(in);
            row->cfa_off = (long)hk__uleb(in);
            row->cfa_expr = 0;
            break;
        case 0x0d:
            row->cfa_reg = (int)hk__uleb(in);
            row->cfa_expr = 0;
            break;
        case 0x0e:
            row->cfa_off = (long)hk__uleb(in);
            break;
        case 0x0f:                                  /* def_cfa_expression */
            row->cfa_expr = 1;
            r = hk__uleb(in);
            if ((unsigned long)(in->end - in->p) < r)
                return 0;
            in->p += r;
            break;
        case 0x10: case 0x16:                       /* (val_)expression */
            r = hk__uleb(in);
            hk__set_reg(row, r, HK__REG_OTHER, 0);
            adv = hk__uleb(in);
            if ((unsigned long)(in->end - in->p) < adv)
                return 0;
            in->p += adv;
            break;
        case 0x11:                                  /* offset_extended_sf */
            r = hk__uleb(in);
            hk__set_reg(row, r, HK__REG_AT, hk__sleb(in) * data_align);
            break;
        case 0x12:                                  /* def_cfa_sf */
            row->cfa_reg = (int)hk__uleb(in);
            row->cfa_off = hk__sleb(in) * data_align;
            row->cfa_expr = 0;
            break;
        case 0x13:
            row->cfa_off = hk__sleb(in) * data_align;
            break;
        case 0x14: case 0x15:                       /* val_offset(_sf) */
            r = hk__uleb(in);
            hk__uleb(in);
            hk__set_reg(row, r, HK__REG_OTHER, 0);
            break;
        case 0x2e:                                  /* GNU_args_size */
            hk__uleb(in);
            break;
        case 0x2f:                                  /* GNU_negative_offset_extended */
            r = hk__uleb(in);
            hk__set_reg(row, r, HK__REG_AT, -(long)hk__uleb(in) * data_align);
            break;
        default:                                    /* set_loc and the rest */
            return 0;
        }
        continue;
    advance:
        if (*loc + adv * code_align > target)
            return 1;                               /* target's row reached */
        *loc += adv * code_align;
    }
    return !in->bad;
}

/* Learn the rule at address key (a return address - 1, or the walk's own
 * start) from its FDE. */
static uint64_t hk__uw_learn(uintptr_t key)
{
    struct hk__eh_bases bases;
    const unsigned char *fde = _Unwind_Find_FDE((void *)key, &bases), *cie;
    hk__uw_in in;
    hk__uw_row row, init;
    uint32_t len;
    int32_t cie_off;
    unsigned long code_align, ver;
    long data_align;
    unsigned fde_enc = 0, z = 0;
    const char *aug;
    uintptr_t loc;
    const unsigned char *aug_end = NULL;

    if (!fde)
        return HK__UW_OTHER;
    memcpy(&len, fde, 4);
    memcpy(&cie_off, fde + 4, 4);
    if (len == 0xffffffffu || len < 8 || cie_off <= 0)
        return HK__UW_OTHER;                        /* 64-bit DWARF: not from gcc */
    cie = fde + 4 - cie_off;
    {
        uint32_t clen;
        memcpy(&clen, cie, 4);
        if (clen == 0xffffffffu || clen < 8)
            return HK__UW_OTHER;
        in.p = cie + 9;                             /* length, id, version */
        in.end = cie + 4 + clen;
        in.bad = 0;
        ver = cie[8];
    }
    aug = (const char *)in.p;
    while (in.p < in.end && *in.p)
        in.p++;
    in.p++;
    code_align = hk__uleb(&in);
    data_align = hk__sleb(&in);
    if (ver == 1)
        hk__fixed(&in, 1);
    else
        hk__uleb(&in);
    for (; *aug && !in.bad; aug++) {
        switch (*aug) {
        case 'z':
            z = 1;
            len = (uint32_t)hk__uleb(&in);
            aug_end = in.p + len;
            break;
        case 'R':
            fde_enc = (unsigned)hk__fixed(&in, 1);
            break;
        case 'L':
            hk__fixed(&in, 1);
            break;
        case 'P':
            hk__skip_enc(&in, (unsigned)hk__fixed(&in, 1));
            break;
        case 'S':                                   /* a signal frame */
        default:
            return HK__UW_OTHER;
        }
    }
    if (!z || in.bad || aug_end > in.end)
        return HK__UW_OTHER;
    in.p = aug_end;
    memset(&row, 0, sizeof row);
    row.cfa_reg = -1;
    loc = 0;
    if (!hk__run_cfa(&in, &row, NULL, &loc, (uintptr_t)-1, code_align, data_align))
        return HK__UW_OTHER;
    init = row;

    /* the FDE: length, CIE pointer, start, range, augmentation, program */
    memcpy(&len, fde, 4);
    in.p = fde + 8;
    in.end = fde + 4 + len;
    in.bad = 0;
    hk__skip_enc(&in, fde_enc);
    hk__skip_enc(&in, fde_enc & 0x0f);
    in.p += hk__uleb(&in);
    if (in.bad || in.p > in.end)
        return HK__UW_OTHER;
    loc = (uintptr_t)bases.func;
    if (!hk__run_cfa(&in, &row, &init, &loc, key, code_align, data_align))
        return HK__UW_OTHER;

    if (row.how[1] == HK__REG_UNDEF)
        return HK__UW_END;                          /* _start, thread starts */
    if (row.cfa_expr || (row.cfa_reg != HK__R_RSP && row.cfa_reg != HK__R_RBP)
        || row.how[1] != HK__REG_AT || row.at[1] != -8 || row.cfa_off <= 0
        || row.cfa_off > INT32_MAX)
        return HK__UW_OTHER;
    if (row.how[0] == HK__REG_AT) {
        if (row.at[0] >= 0 || row.at[0] < INT16_MIN || (row.at[0] & 7))
            return HK__UW_OTHER;
    } else if (row.how[0] != HK__REG_SAME) {
        return HK__UW_OTHER;
    }
    return hk__uw_make(row.cfa_reg == HK__R_RBP, (int32_t)row.cfa_off,
                       row.how[0] == HK__REG_AT ? (int16_t)row.at[0] : 0);
}

/* ---- the cache -------------------------------------------------------------- */

/* Open addressing on the address; an entry's key is claimed first and its
 * rule published after, so a reader may find the key with rule 0 and then
 * learns the rule itself (the same value).  Never emptied: code that is
 * unloaded and replaced at the same address would need a flush (dlclose
 * is rare under a debugger; see the report's limits). */
#define HK__UW_SLOTS (1u << 16)
#define HK__UW_PROBES 32
typedef struct {
    uintptr_t key;
    uint64_t rule;
} hk__uw_slot;
static hk__uw_slot *hk__uw_table;

static hk__uw_slot *hk__uw_table_get(void)
{
    hk__uw_slot *t = __atomic_load_n(&hk__uw_table, __ATOMIC_ACQUIRE), *mine, *none = NULL;
    if (t)
        return t;
    mine = hk__dbg_os_alloc_raw(HK__UW_SLOTS * sizeof *mine);   /* zero pages */
    if (!mine)
        return NULL;
    if (__atomic_compare_exchange_n(&hk__uw_table, &none, mine, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
        return mine;
    hk__dbg_os_free(mine, HK__UW_SLOTS * sizeof *mine);
    return none;
}

static unsigned hk__uw_hash(uintptr_t key)
{
    return (unsigned)((key * 0x9E3779B97F4A7C15ull) >> 48);
}

/* The rule at key: the table, else learnt (and kept where there is room). */
static __attribute__((noinline)) uint64_t hk__uw_rule_slow(hk__uw_slot *t, uintptr_t key)
{
    unsigned i = hk__uw_hash(key), k;
    uint64_t rule;
    for (k = 0; k < HK__UW_PROBES; k++, i = (i + 1) & (HK__UW_SLOTS - 1)) {
        uintptr_t c = __atomic_load_n(&t[i].key, __ATOMIC_ACQUIRE), z = 0;
        if (c == key) {
            rule = __atomic_load_n(&t[i].rule, __ATOMIC_ACQUIRE);
            if (rule)
                return rule;
            break;
        }
        if (c == 0) {
            if (!__atomic_compare_exchange_n(&t[i].key, &z, key, 0, __ATOMIC_ACQ_REL,
                                             __ATOMIC_ACQUIRE) && z != key)
                continue;                           /* another address took it */
            break;
        }
    }
    rule = hk__uw_learn(key);
    if (k < HK__UW_PROBES)
        __atomic_store_n(&t[i].rule, rule, __ATOMIC_RELEASE);
    return rule;                                    /* crowded: learnt each time */
}

/* The common case inline: the first slot probed holds the rule. */
static inline uint64_t hk__uw_rule(hk__uw_slot *t, uintptr_t key)
{
    hk__uw_slot *e = &t[hk__uw_hash(key)];
    if (__atomic_load_n(&e->key, __ATOMIC_ACQUIRE) == key) {
        uint64_t rule = __atomic_load_n(&e->rule, __ATOMIC_ACQUIRE);
        if (rule)
            return rule;
    }
    return hk__uw_rule_slow(t, key);
}

/* ---- heapkit's own frames, per caller ------------------------------------ */

/* The frames from this file's walk up to the caller are heapkit's own,
 * the same few for every call from one call site.  Walking them is a
 * third of the work, so for each caller the first walk notes where their
 * return addresses lie (words above the start's rsp) and which they are,
 * where the caller's frame begins and where its rbp was saved.  A later
 * call from that caller that finds the same return addresses at the same
 * places took the same path, so the rest follows: the frames' rules are
 * fixed per address and all of them rsp-based (frames with an rbp-based
 * CFA are never noted).  Published once (release), never changed. */
#define HK__UW_SKIP 16
#define HK__UW_MEMOS 4096u
typedef struct {
    uintptr_t caller;           /* claimed by compare-and-swap */
    int state;                  /* 0 being noted, 1 ready, 2 not to be used */
    uint16_t n, d_cfa;          /* frames (the caller's last); caller's rsp */
    int16_t d_bp;               /* its rbp's slot; -1: rbp at the start */
    uint16_t off[HK__UW_SKIP];
    uintptr_t ra[HK__UW_SKIP];
} hk__uw_memo;
static hk__uw_memo *hk__uw_memos;

static hk__uw_memo *hk__uw_memo_of(uintptr_t caller, int claim)
{
    hk__uw_memo *m = __atomic_load_n(&hk__uw_memos, __ATOMIC_ACQUIRE), *none = NULL;
    unsigned i, k;
    if (!m) {
        hk__uw_memo *mine;
        if (!claim)
            return NULL;
        mine = hk__dbg_os_alloc_raw(HK__UW_MEMOS * sizeof *mine);
        if (!mine)
            return NULL;
        if (__atomic_compare_exchange_n(&hk__uw_memos, &none, mine, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            m = mine;
        else {
            hk__dbg_os_free(mine, HK__UW_MEMOS * sizeof *mine);
            m = none;
        }
    }
    i = hk__uw_hash(caller) & (HK__UW_MEMOS - 1);
    for (k = 0; k < 8; k++, i = (i + 1) & (HK__UW_MEMOS - 1)) {
        uintptr_t c = __atomic_load_n(&m[i].caller, __ATOMIC_ACQUIRE), z = 0;
        if (c == caller)
            return claim ? NULL : &m[i];            /* another walk notes it */
        if (c == 0) {
            if (!claim)
                return NULL;
            if (__atomic_compare_exchange_n(&m[i].caller, &z, caller, 0, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE))
                return &m[i];
            if (z == caller)
                return NULL;
        }
    }
    return NULL;
}

/* ---- the walk --------------------------------------------------------------- */

static __thread uintptr_t hk__uw_lo, hk__uw_hi;
static __thread int hk__uw_asking;

/* The thread's stack, once per thread.  For the main thread glibc reads
 * /proc/self/maps through stdio, which allocates: where that allocation
 * is tracked (the preload) it comes back here, and must not ask again;
 * the internal guard keeps that memory out of the program's records. */
static int hk__uw_bounds(void)
{
    pthread_attr_t a;
    void *lo;
    size_t size;
    if (hk__uw_hi)
        return 1;
    if (hk__uw_asking)
        return 0;
    hk__uw_asking = 1;
    hk__dbg_internal_enter();
    if (pthread_getattr_np(pthread_self(), &a) == 0) {
        if (pthread_attr_getstack(&a, &lo, &size) == 0) {
            hk__uw_lo = (uintptr_t)lo;
            hk__uw_hi = (uintptr_t)lo + size;
        }
        pthread_attr_destroy(&a);
    }
    hk__dbg_internal_leave();
    hk__uw_asking = 0;
    return hk__uw_hi != 0;
}

/* A frame rule based on rbp: the stack cache must check the slot rbp was
 * loaded from (bp_at), or, when the walk used the register itself, may not
 * keep this stack at all. */
static inline __attribute__((always_inline, no_sanitize_address))
void hk__uw_log_rbp(hk__bt_log *log, const uintptr_t *bp_at)
{
    if (bp_at) {
        hk__bt_logged(log, bp_at);
        if (log->n && log->at[log->n - 1] == (uintptr_t)bp_at)
            log->at[log->n - 1] |= 1;   /* a frame pointer, not a return address */
    } else {
        log->bad = 1;                   /* the walk used the register rbp */
    }
}

/* It reads other functions' frames on purpose (AddressSanitizer would
 * call that an underflow of this one's). */
__attribute__((noinline, no_sanitize_address))
size_t hk__unwind_cached(uintptr_t caller, uintptr_t *out, size_t depth, hk__bt_log *log)
{
    uintptr_t pc, sp, bp, key, lo, hi, cfa, sp0, bp0;
    const uintptr_t *at0;
    hk__uw_slot *t;
    hk__uw_memo *memo, *note = NULL;
    size_t n = 0, skipped = 0, i;
    int16_t d_bp = -1;
    int rsp_only = 1;
    /* where bp was read from the stack (0: it is the register rbp): logged
     * only when a rule uses it, since frames without a frame pointer save
     * whatever rbp held, a value that changes from call to call */
    const uintptr_t *bp_at = NULL;

    /* the registers here: the walk's first frame is this function's */
    __asm__ volatile("lea 0(%%rip), %0\n\t"
                     "mov %%rsp, %1\n\t"
                     "mov %%rbp, %2"
                     : "=r"(pc), "=r"(sp), "=r"(bp));
    if (!hk__uw_bounds() || !(t = hk__uw_table_get()))
        return 0;
    lo = hk__uw_lo;
    hi = hk__uw_hi;
    if (sp < lo || sp >= hi || (sp & 7))
        return 0;                   /* another stack (sigaltstack): the slow way */
    sp0 = sp;
    bp0 = bp;
    at0 = (const uintptr_t *)sp0;
    key = pc;

    /* heapkit's frames as noted for this caller, if they are the same */
    memo = hk__uw_memo_of(caller, 0);
    if (memo && __atomic_load_n(&memo->state, __ATOMIC_ACQUIRE) == 1
        && sp0 + (uintptr_t)memo->d_cfa * 8 <= hi) {
        for (i = 0; i < memo->n && hk__bt_logged(log, at0 + memo->off[i]) == memo->ra[i]; i++)
            ;
        if (i == memo->n) {
            sp = sp0 + (uintptr_t)memo->d_cfa * 8;
            bp_at = memo->d_bp < 0 ? NULL : at0 + memo->d_bp;
            bp = bp_at ? *bp_at : bp0;
            out[n++] = caller;
            if (n >= depth)
                return n;
            key = caller - 1;
            goto walk;
        }
    } else if (!memo) {
        note = hk__uw_memo_of(caller, 1);
    }

    for (;;) {
        uint64_t rule = hk__uw_rule(t, key);
        uintptr_t ra;
        if ((rule & 3) != HK__UW_SIMPLE)
            goto stop;
        rsp_only &= !(rule & HK__UW_RBP_CFA);
        if ((rule & HK__UW_RBP_CFA) && log)
            hk__uw_log_rbp(log, bp_at);
        cfa = ((rule & HK__UW_RBP_CFA) ? bp : sp) + (uintptr_t)(intptr_t)(int32_t)(rule >> 32);
        if (cfa <= sp || cfa > hi || (cfa & 7))
            goto stop;
        ra = hk__bt_logged(log, (const uintptr_t *)cfa - 1);
        if ((int16_t)(rule >> 16)) {
            uintptr_t a = cfa + (uintptr_t)(intptr_t)(int16_t)(rule >> 16);
            if (a < sp)
                goto stop;
            bp_at = (const uintptr_t *)a;
            bp = *bp_at;
            d_bp = (int16_t)((a - sp0) / 8);
        }
        sp = cfa;
        if (ra < 4096 || skipped == HK__UW_SKIP - 1 || cfa - sp0 >= 32767 * 8)
            goto stop;              /* the caller is not on this stack */
        if (note) {
            note->off[skipped] = (uint16_t)((cfa - 8 - sp0) / 8);
            note->ra[skipped] = ra;
        }
        skipped++;
        key = ra - 1;
        if (ra == caller)
            break;
    }
    if (note) {
        note->n = (uint16_t)skipped;
        note->d_cfa = (uint16_t)((sp - sp0) / 8);
        note->d_bp = d_bp;
        __atomic_store_n(&note->state, rsp_only ? 1 : 2, __ATOMIC_RELEASE);
        note = NULL;
    }
    out[n++] = caller;
    if (n >= depth)
        return n;

walk:
    for (;;) {
        uint64_t rule = hk__uw_rule(t, key);
        uintptr_t ra;
        if ((rule & 3) != HK__UW_SIMPLE)
            return (rule & 3) == HK__UW_END ? n : 0;
        if ((rule & HK__UW_RBP_CFA) && log)
            hk__uw_log_rbp(log, bp_at);
        cfa = ((rule & HK__UW_RBP_CFA) ? bp : sp) + (uintptr_t)(intptr_t)(int32_t)(rule >> 32);
        /* up the stack, aligned, below its top; the slots read lie in
         * [sp, cfa) */
        if (cfa <= sp || cfa > hi || (cfa & 7))
            return 0;
        ra = hk__bt_logged(log, (const uintptr_t *)cfa - 1);
        if ((int16_t)(rule >> 16)) {
            uintptr_t a = cfa + (uintptr_t)(intptr_t)(int16_t)(rule >> 16);
            if (a < sp)
                return 0;
            bp_at = (const uintptr_t *)a;
            bp = *bp_at;
        }
        sp = cfa;
        if (ra < 4096)
            return n;               /* the outermost frame */
        out[n++] = ra;
        if (n >= depth)
            return n;
        key = ra - 1;
    }

stop:
    if (note)
        __atomic_store_n(&note->state, 2, __ATOMIC_RELEASE);
    return 0;
}

#else

size_t hk__unwind_cached(uintptr_t caller, uintptr_t *out, size_t depth, hk__bt_log *log)
{
    (void)log;
    (void)caller;
    (void)out;
    (void)depth;
    return 0;
}

#endif
