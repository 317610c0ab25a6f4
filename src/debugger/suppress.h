/* suppress.h - suppressions (HEAPKIT_SUPPRESSIONS and the built-in default
 * set): which report entries are known and left out.  Report time only. */
#ifndef HK_SUPPRESS_H
#define HK_SUPPRESS_H

#include <stddef.h>
#include <stdint.h>

#define HK__SUPP_LEAK 0        /* leak:PATTERN - a block still held */
#define HK__SUPP_FREE 1        /* free:PATTERN - FM, FS (and its S), FK */

/* One rule and what it hid in the report being written. */
typedef struct hk__supp_rule {
    const char *text;          /* as the file gave it: "leak:foo" */
    const char *pat;           /* user rules: function, file or module of any frame */
    const char *mod, *func;    /* default rules: the caller frame's module and
                                * function (func NULL: a function with no symbol) */
    uint8_t type;              /* HK__SUPP_LEAK / HK__SUPP_FREE */
    uint8_t dflt;              /* built in */
    uint64_t count, bytes;     /* in the current report */
} hk__supp_rule;

/* Before a report is put together: reads the file the first time (errors
 * on stderr then), zeroes the counts.  crashing: symbolize without libdw. */
void hk__supp_begin(int crashing);
/* The rule (index + 1) that hides an entry of this type whose place is
 * site id `site`, or 0.  It only looks the decision up (it may run under
 * the tracker's locks, where symbolizing could deadlock: libdw frees):
 * a site not decided yet is 0 and noted, and hk__supp_settle, called with
 * no tracker lock held, decides every noted one.  So: one pass that asks,
 * settle, then the pass that counts. */
int hk__supp_check(int type, uint32_t site);
void hk__supp_settle(void);
/* Any rules at all (else nothing to ask). */
int hk__supp_active(void);
/* Count an entry hidden by rule (hk__supp_check's value). */
void hk__supp_count(int rule, uint64_t bytes);
/* The rules, for the report's "Suppressions used" block. */
size_t hk__supp_rules(const hk__supp_rule **out);
/* The pattern match itself: `*` any run, `^`/`$` anchors, else a
 * substring.  Exposed for the tests' sake. */
int hk__supp_match(const char *pat, const char *s);

#endif
