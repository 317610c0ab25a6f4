/*
 * bench_run.c - issue 11's targets: `heapkit run` on unmodified programs
 * against its peers (LeakSanitizer, heaptrack, valgrind memcheck), side
 * by side in one run.  Part of `make bench` on a native Linux build.
 *
 * Workloads (each an unmodified program, run as a child process):
 *   churn - bench_debug's churn loop (churn.h: 1 thread, 10k live blocks,
 *           sizes 8..1032, free + malloc pairs) built with no heapkit
 *           header; it also prints its own in-loop CPU ns per pair.
 *   jq    - Debian's jq parsing and printing a JSON file that this program
 *           writes first (fixed seed: the same bytes every run).
 * Contestants: untracked, heapkit run, heapkit run --backtrace 8, LSan
 * (its default fast unwinder, and again with fast_unwind_on_malloc=0)
 * (churn: its -fsanitize=leak build; jq: LD_PRELOAD of liblsan.so.0),
 * heaptrack (the whole recording: preload, heaptrack_interpret and the
 * compressor; no analysis), heaptrack -r (the preload and the compressor
 * only, to show the cost split), valgrind --leak-check=full.
 *
 * A child's per-thread CPU time is not available, so a run's figures are
 * the child's CPU time (user + sys from wait4's rusage, which includes the
 * descendants it waited for, e.g. heaptrack's interpreter), its wall time
 * and its peak RSS.  Rounds interleave the contestants, the order rotated
 * per round; the figures are medians with the spread (min-max).
 *
 * Usage: bench_run CHURN CHURN_LSAN HEAPKIT PRELOAD
 *   CHURN, CHURN_LSAN: the churn programs; HEAPKIT: the heapkit command;
 *   PRELOAD: libheapkit-preload.so (HEAPKIT_PRELOAD for the command).
 * Knobs: BENCH_ROUNDS (>= 5), BENCH_SCALE (scales the churn's pairs and
 * the JSON's records), BENCH_ONLY=churn|jq.
 * A missing peer tool or a contestant that fails is exit status 1: a
 * figure that is not measured must not look measured.  Missed targets are
 * printed, not failed: this is a benchmark, not a test.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"

enum { C_PLAIN, C_HK, C_HK_BT, C_LSAN, C_LSAN_FULL, C_HT, C_HT_RAW, C_VG, NC };

static const char *const cname[NC] = {
    "untracked", "heapkit run", "heapkit run --backtrace 8", "LSan", "LSan, full unwind",
    "heaptrack", "heaptrack -r (record only)", "valgrind memcheck",
};

/* The peers' programs, found on PATH once. */
static char g_heaptrack[4096], g_valgrind[4096], g_jq[4096];
static const char *g_churn, *g_churn_lsan, *g_heapkit, *g_preload;
static const char *g_lsan_rt = "liblsan.so.0";
static char g_dir[256];         /* scratch: input, reports, traces, logs */
static int g_failed;

struct run {                    /* one run's figures */
    double cpu, wall, rss, inloop;
};

struct workload {
    const char *name;
    char arg[3][320];           /* the program's arguments ("": none) */
    int has_inloop;             /* prints its own ns per pair (churn) */
    double v[NC][4][BENCH_MAX_ROUNDS];   /* per contestant: cpu, wall, rss, in-loop */
    int n[NC];
    bench_stat st[NC][4];
};

static int on_path(const char *name, char *out, size_t n)
{
    const char *p = getenv("PATH");
    char buf[4096];
    if (!p)
        p = "/usr/bin:/bin";
    while (*p) {
        size_t len = strcspn(p, ":");
        snprintf(buf, sizeof buf, "%.*s/%s", (int)len, p, name);
        if (access(buf, X_OK) == 0) {
            snprintf(out, n, "%s", buf);
            return 1;
        }
        p += len + (p[len] == ':');
    }
    return 0;
}

/* The peers that must be there, each with the Debian package that has it. */
static int find_tools(void)
{
    struct { const char *name; char *out; const char *pkg; } t[] = {
        { "heaptrack", g_heaptrack, "heaptrack" },
        { "valgrind", g_valgrind, "valgrind" },
        { "jq", g_jq, "jq" },
    };
    int i, ok = 1;
    for (i = 0; i < 3; i++)
        if (!on_path(t[i].name, t[i].out, 4096)) {
            fprintf(stderr, "bench_run: FAILED: %s is not installed (Debian package %s; "
                    "ci/setup installs it): its figures are NOT measured\n", t[i].name, t[i].pkg);
            ok = 0;
        }
    {
        const char *e = getenv("HK_BENCH_LSAN_RT");   /* a path, or the soname */
        char probe[4096];
        if (e && *e)
            g_lsan_rt = e;
        /* ld.so finds the soname through its cache; test that it is there */
        snprintf(probe, sizeof probe, "ldconfig -p 2>/dev/null | grep -q '%s'", g_lsan_rt);
        if (strchr(g_lsan_rt, '/') ? access(g_lsan_rt, R_OK) != 0 : system(probe) != 0) {
            fprintf(stderr, "bench_run: FAILED: the LeakSanitizer runtime %s is not installed "
                    "(Debian package liblsan0): LSan on jq is NOT measured\n", g_lsan_rt);
            ok = 0;
        }
    }
    if (access(g_churn_lsan, X_OK) != 0) {
        fprintf(stderr, "bench_run: FAILED: no %s (gcc -fsanitize=leak): LSan on the churn "
                "loop is NOT measured\n", g_churn_lsan);
        ok = 0;
    }
    if (access(g_heapkit, X_OK) != 0 || access(g_preload, R_OK) != 0) {
        fprintf(stderr, "bench_run: FAILED: no %s or %s: heapkit run is NOT measured\n",
                g_heapkit, g_preload);
        ok = 0;
    }
    return ok;
}

/* The jq input: RECORDS objects like {"id":..,"name":..,"tags":[..],
 * "v":..} from xorshift with a fixed seed, so every run parses the same
 * bytes. */
static int write_json(const char *path, long records)
{
    FILE *f = fopen(path, "w");
    uint64_t x = 0x2545F4914F6CDD1Dull;
    long i;
    int k;
    if (!f)
        return 0;
    fputc('[', f);
    for (i = 0; i < records; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        fprintf(f, "%s{\"id\":%ld,\"name\":\"n%08x\",\"tags\":[", i ? "," : "", i,
                (unsigned)(x >> 32));
        for (k = 0; k < 4; k++)
            fprintf(f, "%s\"t%u\"", k ? "," : "", (unsigned)((x >> (8 * k)) % 100));
        fprintf(f, "],\"v\":0.%06u}", (unsigned)(x % 1000000));
    }
    fputs("]\n", f);
    return fclose(f) == 0;
}

/* argv of contestant c on workload w (churn or jq) into a[]. */
static void build_argv(int c, const struct workload *w, int is_churn, const char **a,
                       char *buf, size_t bufn)
{
    int i = 0, k;
    const char *prog = is_churn ? g_churn : g_jq;
    switch (c) {
    case C_HK:
    case C_HK_BT:
        a[i++] = g_heapkit;
        a[i++] = "run";
        if (c == C_HK_BT) {
            a[i++] = "--backtrace";
            a[i++] = "8";
        }
        snprintf(buf, bufn, "%s/hk-%%p.txt", g_dir);
        a[i++] = "-o";
        a[i++] = buf;
        a[i++] = "--";
        break;
    case C_LSAN:
    case C_LSAN_FULL:
        if (is_churn)
            prog = g_churn_lsan;      /* the LD_PRELOAD case sets it in run_one */
        break;
    case C_HT:
    case C_HT_RAW:
        a[i++] = g_heaptrack;
        if (c == C_HT_RAW)
            a[i++] = "-r";
        snprintf(buf, bufn, "%s/ht", g_dir);
        a[i++] = "-o";
        a[i++] = buf;
        break;
    case C_VG:
        a[i++] = g_valgrind;
        a[i++] = "-q";
        a[i++] = "--leak-check=full";
        break;
    }
    a[i++] = prog;
    for (k = 0; k < 3 && w->arg[k][0]; k++)
        a[i++] = w->arg[k];
    a[i] = NULL;
}

/* Remove what a run left in g_dir (reports, traces), not the input. */
static void clean_dir(const char *keep)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "find '%s' -mindepth 1 ! -name '%s' -delete", g_dir, keep);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_run: could not clean %s\n", g_dir);
}

/* One run of contestant c: 0 and *r filled, or -1 (said why). */
static int run_one(int c, struct workload *w, int is_churn, struct run *r)
{
    const char *a[16];
    char buf[512], out[300], log[300];
    struct rusage ru;
    double t0, t1;
    pid_t pid;
    int st;
    build_argv(c, w, is_churn, a, buf, sizeof buf);
    snprintf(out, sizeof out, "%s/stdout", g_dir);
    snprintf(log, sizeof log, "%s/stderr", g_dir);
    fflush(NULL);
    t0 = now_ns();
    pid = fork();
    if (pid < 0) {
        perror("bench_run: fork");
        return -1;
    }
    if (pid == 0) {
        int fo = open(is_churn ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
            _exit(126);
        setenv("HEAPKIT_PRELOAD", g_preload, 1);
        if ((c == C_LSAN || c == C_LSAN_FULL) && !is_churn)
            setenv("LD_PRELOAD", g_lsan_rt, 1);
        /* LSan's default unwinder follows frame pointers, and neither the
         * churn (-O2) nor Debian's jq keeps them: its stacks are a frame or
         * two.  The full unwinder records whole stacks, as bt8 does. */
        if (c == C_LSAN_FULL)
            setenv("LSAN_OPTIONS", "fast_unwind_on_malloc=0", 1);
        execv(a[0], (char *const *)a);
        fprintf(stderr, "cannot run %s: %s\n", a[0], strerror(errno));
        _exit(127);
    }
    if (wait4(pid, &st, 0, &ru) != pid) {
        perror("bench_run: wait4");
        return -1;
    }
    t1 = now_ns();
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char cmd[400];
        fprintf(stderr, "bench_run: FAILED: %s on %s: %s %d; its stderr ends:\n", cname[c],
                w->name, WIFEXITED(st) ? "exit status" : "signal",
                WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        snprintf(cmd, sizeof cmd, "tail -n 15 '%s' >&2", log);
        if (system(cmd) != 0)
            fprintf(stderr, "(no stderr)\n");
        return -1;
    }
    if (c == C_HK || c == C_HK_BT) {
        /* the report at exit shows that the preload ran: without it, the
         * run would be an untracked one that looks like heapkit's */
        struct stat sb;
        char rep[320];
        snprintf(rep, sizeof rep, "%s/hk-%ld.txt", g_dir, (long)pid);
        if (stat(rep, &sb) != 0 || sb.st_size == 0) {
            fprintf(stderr, "bench_run: FAILED: %s on %s wrote no report %s: the preload "
                    "did not track the program\n", cname[c], w->name, rep);
            return -1;
        }
    }
    r->cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6
           + (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    r->wall = (t1 - t0) / 1e9;
    r->rss = (double)ru.ru_maxrss / 1024.0;         /* KiB -> MiB */
    r->inloop = -1;
    if (is_churn) {
        /* the churn's line "NS CROSS"; heaptrack prints its own lines too */
        FILE *f = fopen(out, "r");
        char line[512];
        double ns, cross;
        int end;
        while (f && fgets(line, sizeof line, f))
            if (sscanf(line, "%lf %lf%n", &ns, &cross, &end) == 2 && line[end] == '\n')
                r->inloop = ns;
        if (r->inloop < 0) {
            fprintf(stderr, "bench_run: FAILED: %s on %s printed no ns per pair\n",
                    cname[c], w->name);
            if (f)
                fclose(f);
            return -1;
        }
        fclose(f);
    }
    return 0;
}

static void bench_workload(struct workload *w, int is_churn, const char *keep)
{
    int r, k, m;
    for (r = 0; r < g_rounds && r < BENCH_MAX_ROUNDS; r++) {
        for (k = 0; k < NC; k++) {
            int c = (k + r) % NC;
            struct run x;
            if (run_one(c, w, is_churn, &x) == 0) {
                w->v[c][0][w->n[c]] = x.cpu;
                w->v[c][1][w->n[c]] = x.wall;
                w->v[c][2][w->n[c]] = x.rss;
                w->v[c][3][w->n[c]] = x.inloop;
                w->n[c]++;
            } else
                g_failed = 1;
            clean_dir(keep);
        }
        fprintf(stderr, "bench_run: %s: round %d of %d done\n", w->name, r + 1, g_rounds);
    }
    for (k = 0; k < NC; k++)
        for (m = 0; m < 4; m++)
            bench_stat_of(w->v[k][m], w->n[k], &w->st[k][m]);
}

static void fmt3(char *buf, size_t n, const bench_stat *st, int prec)
{
    if (!st->rounds)
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "%.*f (%.*f-%.*f)", prec, st->median, prec, st->min, prec, st->max);
}

/* (a - base) / (b - base) of the medians, with the spread from the
 * rounds' extremes where both differences stay positive. */
static void excess_ratio(char *buf, size_t n, const bench_stat *a, const bench_stat *b,
                         const bench_stat *base, double *val)
{
    double num = a->median - base->median, den = b->median - base->median;
    double lo_den = b->max - base->min, hi_den = b->min - base->max;
    double lo_num = a->min - base->max, hi_num = a->max - base->min;
    *val = -1;
    if (!a->rounds || !b->rounds || !base->rounds || den <= 0) {
        snprintf(buf, n, "-");
        return;
    }
    *val = num / den;
    if (hi_den > 0)
        snprintf(buf, n, "%.2f (%.2f-%.2f)", *val, lo_num / lo_den, hi_num / hi_den);
    else
        snprintf(buf, n, "%.2f (spread: LSan's excess within the noise)", *val);
}

static void print_workload(const struct workload *w)
{
    static const char *const what[] = { "CPU s", "wall s", "peak RSS MiB", "ns/pair in loop" };
    char a[4][64], r1[64], r2[64], r3[64];
    double v, v3;
    int k, m, nm = w->has_inloop ? 4 : 3;
    printf("\n%s: %d rounds (valgrind too), median (min-max)\n", w->name, g_rounds);
    printf("%-28s", "contestant");
    for (m = 0; m < nm; m++)
        printf(" %-22s", what[m]);
    printf(" %s\n", "CPU / untracked");
    for (k = 0; k < NC; k++) {
        for (m = 0; m < nm; m++)
            fmt3(a[m], sizeof a[m], &w->st[k][m], m == 3 ? 1 : m == 2 ? 1 : 3);
        bench_ratio(r1, sizeof r1, &w->st[k][0], &w->st[C_PLAIN][0]);
        printf("%-28s", cname[k]);
        for (m = 0; m < nm; m++)
            printf(" %-22s", a[m]);
        printf(" %s\n", r1);
    }
    printf("targets (%s):\n", w->name);
    /* by CPU time (and the churn's own in-loop figure); wall time is in
     * the table, but on a shared machine it is mostly the others' load */
    for (m = 0; m < nm; m++) {
        if (m == 1 || m == 2)
            continue;
        bench_ratio(r1, sizeof r1, &w->st[C_HK][m], &w->st[C_PLAIN][m]);
        excess_ratio(r2, sizeof r2, &w->st[C_HK_BT][m], &w->st[C_LSAN][m],
                     &w->st[C_PLAIN][m], &v);
        excess_ratio(r3, sizeof r3, &w->st[C_HK_BT][m], &w->st[C_LSAN_FULL][m],
                     &w->st[C_PLAIN][m], &v3);
        printf("  by %-16s heapkit run / untracked = %-24s (<= 1.5x: %s)\n", what[m], r1,
               w->st[C_HK][m].rounds && w->st[C_PLAIN][m].rounds
                   && w->st[C_HK][m].median <= 1.5 * w->st[C_PLAIN][m].median ? "met" : "MISSED");
        printf("  by %-16s (bt8 - untracked) / (LSan - untracked) = %s (<= 0.5: %s)\n",
               what[m], r2, v >= 0 && v <= 0.5 ? "met" : "MISSED");
        printf("  by %-16s (bt8 - untracked) / (LSan full unwind - untracked) = %s (<= 0.5: %s)\n",
               what[m], r3, v3 >= 0 && v3 <= 0.5 ? "met" : "MISSED");
    }
}

int main(int argc, char **argv)
{
    static struct workload w[2];
    const char *only = getenv("BENCH_ONLY");
    char input[300], date[64], load0[128] = "?", load1[128] = "?", host[128] = "?";
    time_t now = time(NULL);
    long ops, records;
    FILE *f;
    if (argc != 5) {
        fprintf(stderr, "usage: bench_run CHURN CHURN_LSAN HEAPKIT PRELOAD\n");
        return 2;
    }
    g_churn = argv[1];
    g_churn_lsan = argv[2];
    g_heapkit = argv[3];
    g_preload = argv[4];
    bench_scale_init();
    if (!find_tools())
        return 1;
    snprintf(g_dir, sizeof g_dir, "%s/hk-bench-run.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(g_dir)) {
        perror("bench_run: mkdtemp");
        return 1;
    }
    ops = scaled(3000000);
    records = scaled(60000);
    snprintf(input, sizeof input, "%s/input.json", g_dir);
    if (!write_json(input, records)) {
        fprintf(stderr, "bench_run: cannot write %s\n", input);
        return 1;
    }
    w[0].name = "churn";
    w[0].has_inloop = 1;
    /* bench_lsan.c's arguments: THREADS PAIRS CROSS64 */
    snprintf(w[0].arg[0], sizeof w[0].arg[0], "1");
    snprintf(w[0].arg[1], sizeof w[0].arg[1], "%ld", ops);
    snprintf(w[0].arg[2], sizeof w[0].arg[2], "0");
    w[1].name = "jq";
    snprintf(w[1].arg[0], sizeof w[1].arg[0], "-c");
    snprintf(w[1].arg[1], sizeof w[1].arg[1], ".");
    snprintf(w[1].arg[2], sizeof w[1].arg[2], "%s", input);

    if ((f = fopen("/proc/loadavg", "r"))) {
        if (!fgets(load0, sizeof load0, f))
            strcpy(load0, "?");
        load0[strcspn(load0, "\n")] = 0;
        fclose(f);
    }
    if ((f = popen("sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1", "r"))) {
        if (!fgets(host, sizeof host, f))
            strcpy(host, "?");
        host[strcspn(host, "\n")] = 0;
        pclose(f);
    }
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    printf("heapkit run vs its peers, %s, %s, %ld CPUs, load average %s\n", date, host,
           sysconf(_SC_NPROCESSORS_ONLN), load0);
    printf("churn: %ld free+malloc pairs, 10000 live blocks, sizes 8..1032, 1 thread;"
           " jq: jq -c . on %ld records (%s)\n", ops, records, input);
    printf("per run: the child's CPU time (user+sys, wait4), wall time, peak RSS;"
           " heaptrack includes its interpreter and compressor, not the analysis\n");

    if (!only || strcmp(only, "churn") == 0)
        bench_workload(&w[0], 1, "input.json");
    if (!only || strcmp(only, "jq") == 0)
        bench_workload(&w[1], 0, "input.json");
    if (!only || strcmp(only, "churn") == 0)
        print_workload(&w[0]);
    if (!only || strcmp(only, "jq") == 0)
        print_workload(&w[1]);
    if ((f = fopen("/proc/loadavg", "r"))) {
        if (!fgets(load1, sizeof load1, f))
            strcpy(load1, "?");
        load1[strcspn(load1, "\n")] = 0;
        fclose(f);
    }
    printf("\nload average at the end: %s\n", load1);
    clean_dir("input.json");
    remove(input);
    rmdir(g_dir);
    if (g_failed)
        fprintf(stderr, "bench_run: FAILED: some runs failed (above): their figures are "
                "incomplete\n");
    return g_failed;
}
