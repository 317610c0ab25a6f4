/*
 * bench_winrun.c - issue 12's targets: `heapkit.exe run` on an unmodified
 * Windows program, in the MinGW build (make bench / make bench-run run it
 * under Wine).  The program is the churn loop (bench_lsan.c built with no
 * heapkit header: 1 thread, 10k live blocks, sizes 8..1032, free + malloc
 * pairs), which measures itself: its thread's CPU time around the loop
 * (GetThreadTimes, benchutil.h), printed as ns per pair, which this
 * driver reads from its stdout.  Start-up, the hook DLL's loading and the
 * report are outside the figure.
 *
 * Contestants: untracked, heapkit.exe run, heapkit.exe run --backtrace 8.
 * Rounds interleave them, the order rotated per round; the figures are
 * medians of the rounds with the spread (min-max), and the ratios to
 * untracked are printed with their targets (<= 1.5x, <= 3x).  A missed
 * target is printed, not failed: this is a benchmark, not a test; a
 * contestant that cannot run is exit status 1.
 *
 * Usage: bench_winrun CHURN HEAPKIT HOOK_DLL  (Windows paths)
 * Knobs: BENCH_ROUNDS (>= 5), BENCH_SCALE (scales the 2,000,000 pairs).
 */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"

enum { C_PLAIN, C_HK, C_HK_BT, NC };

static const char *const cname[NC] = {
    "untracked", "heapkit.exe run", "heapkit.exe run --backtrace 8",
};
static const double target[NC] = { 0, 1.5, 3.0 };

static const char *g_churn, *g_heapkit;
static long g_ops;
static int g_failed;

/* Runs cmd with its stdout into a pipe; the first number it prints, or
 * -1 when it did not run or printed none. */
static double run_cmd(char *cmd)
{
    SECURITY_ATTRIBUTES sa = { sizeof sa, NULL, TRUE };
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    HANDLE rd, wr;
    char out[512];
    DWORD got, total = 0, code = 1;
    if (!CreatePipe(&rd, &wr, &sa, 0))
        return -1;
    SetHandleInformation(rd, HANDLE_FLAG_INHERIT, 0);
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdOutput = wr;
    si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
    si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    if (!CreateProcessA(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) {
        CloseHandle(rd);
        CloseHandle(wr);
        return -1;
    }
    CloseHandle(wr);
    while (total < sizeof out - 1 && ReadFile(rd, out + total, sizeof out - 1 - total, &got, NULL)
           && got)
        total += got;
    out[total] = 0;
    CloseHandle(rd);
    WaitForSingleObject(pi.hProcess, INFINITE);
    GetExitCodeProcess(pi.hProcess, &code);
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
    if (code != 0 || total == 0)
        return -1;
    return atof(out);
}

static double round_fn(int c, void *arg)
{
    char cmd[2048];
    double v;
    (void)arg;
    if (c == C_PLAIN)
        snprintf(cmd, sizeof cmd, "\"%s\" 1 %ld 0", g_churn, g_ops);
    else
        snprintf(cmd, sizeof cmd, "\"%s\" run %s-o bench-winrun-report.txt -- \"%s\" 1 %ld 0",
                 g_heapkit, c == C_HK_BT ? "--backtrace 8 " : "", g_churn, g_ops);
    v = run_cmd(cmd);
    if (v <= 0) {
        fprintf(stderr, "bench_winrun: FAILED: %s\n", cmd);
        g_failed = 1;
        return -1;
    }
    return v;
}

int main(int argc, char **argv)
{
    bench_stat st[NC];
    char b[64], r[64];
    int c;
    if (argc != 4) {
        fprintf(stderr, "usage: bench_winrun CHURN HEAPKIT HOOK_DLL\n");
        return 2;
    }
    g_churn = argv[1];
    g_heapkit = argv[2];
    SetEnvironmentVariableA("HEAPKIT_HOOK_DLL", argv[3]);
    SetEnvironmentVariableA("HEAPKIT_BACKTRACE", NULL);   /* only the options count */
    SetEnvironmentVariableA("HEAPKIT_REPORT", NULL);
    bench_scale_init();
    g_ops = scaled(2000000);
    bench_interleave(NC, round_fn, NULL, st);
    printf("\nheapkit.exe run on the churn loop (1 thread, %ld pairs, %d rounds interleaved;"
           " in-loop thread CPU time, ns per pair, median (min-max)):\n", g_ops,
           st[C_PLAIN].rounds);
    printf("  %-32s %-28s %-24s %s\n", "contestant", "ns per pair", "vs untracked", "target");
    for (c = 0; c < NC; c++) {
        char t[40] = "";
        if (c != C_PLAIN && st[c].rounds && st[C_PLAIN].rounds) {
            double ratio = st[c].median / st[C_PLAIN].median;
            snprintf(t, sizeof t, "<= %.1fx %s", target[c], ratio <= target[c] ? "met" : "MISSED");
        }
        printf("  %-32s %-28s %-24s %s\n", cname[c], bench_fmt(b, sizeof b, &st[c]),
               c == C_PLAIN ? "1.00x" : bench_ratio(r, sizeof r, &st[c], &st[C_PLAIN]), t);
    }
    DeleteFileA("bench-winrun-report.txt");
    return g_failed;
}
