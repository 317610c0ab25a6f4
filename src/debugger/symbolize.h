/* symbolize.h - addresses to function, file, line and module+offset, at
 * report time only (never on the allocation path). */
#ifndef HK_SYMBOLIZE_H
#define HK_SYMBOLIZE_H

#include <stdint.h>

/* What is known of one code address; NULL / 0 where unknown.  The strings
 * live as long as the process (the symbolizer's own memory). */
typedef struct hk__frame_info {
    const char *function;      /* C++: qualified, as DWARF names it (Linux) */
    const char *symbol;        /* the symbol table's name (C++: mangled), or NULL */
    const char *file;          /* full path; relative to the working directory under it */
    int line;
    const char *module;        /* the module's file name: libfoo.so, the program's name */
    uintptr_t offset;          /* pc - the module's load bias: what addr2line -e module takes */
} hk__frame_info;

/* pc is a return address (a call's next instruction): line information is
 * looked up at pc - 1.  1 if anything (at least the module) is known. */
int hk__symbolize(uintptr_t pc, hk__frame_info *out);
/* pc is the instruction itself (a crash's program counter). */
int hk__symbolize_pc(uintptr_t pc, hk__frame_info *out);
/* From a crash handler: no debug information read, nothing allocated --
 * what the crash's child symbolized (hk__symbolize_crash_prepare), else
 * the cache, else the dynamic symbol tables (dladdr). */
int hk__symbolize_safe(uintptr_t pc, int is_return, hk__frame_info *out);
/* A crash's program counter, from the crash handler: the function from
 * the module's ELF symbol table (read with open/mmap: no allocation, no
 * libdw, little stack), and module+offset; no file and line. */
int hk__symbolize_crash(uintptr_t pc, hk__frame_info *out);
#ifndef _WIN32
/* From a fatal-signal handler, before its report (Linux): dry_run, the
 * report written nowhere, runs in a child process where every address
 * it asks hk__symbolize_safe for is symbolized with libdw; from then on
 * hk__symbolize_safe answers from the child's results, for at most a
 * bounded wait.  inside: the crash happened in heapkit's internal
 * section; then, or when anything else forbids it, nothing is done: 0. */
int hk__symbolize_crash_prepare(uintptr_t pc, int inside, void (*dry_run)(void));
#endif

#endif
