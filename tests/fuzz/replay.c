/*
 * tests/fuzz/replay.c - runs a fuzz target without libFuzzer, as a Check
 * suite: one test per input file in tests/fuzz/corpus/<target>/ (the seed
 * corpus) and tests/fuzz/regress/<target>/ (every crash found so far, kept
 * so it stays fixed).  Built with the normal compiler, so the inputs are
 * also replayed in the MinGW lane under Wine.
 *
 * Compiled once per target with -DHK_FZ_TARGET="<name>" and linked with
 * tests/fuzz/<name>.c.  The inputs are found under $srcdir (the automake
 * harness sets it) or, run by hand from the build directory, under "..".
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "../testutil.h"

#ifndef HK_FZ_TARGET
#  error "compile with -DHK_FZ_TARGET=\"<target name>\""
#endif

#define MAX_FILES 4096

static char *files[MAX_FILES];
static int nfiles;

/* A broken contract is a failed test with the target's message. */
static void fail_in_check(const char *msg)
{
    ck_abort_msg("%s", msg);
}

/* Add every regular file of dir (sorted, so the numbering is stable);
 * returns how many, -1 if dir cannot be opened. */
static int add_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int first = nfiles, i, j;
    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL && nfiles < MAX_FILES) {
        size_t n;
        if (e->d_name[0] == '.' || strcmp(e->d_name, "README") == 0)   /* notes, not inputs */
            continue;                    /* ., .., hidden files */
        n = strlen(dir) + strlen(e->d_name) + 2;
        files[nfiles] = malloc(n);
        if (!files[nfiles])
            break;
        snprintf(files[nfiles], n, "%s/%s", dir, e->d_name);
        nfiles++;
    }
    closedir(d);
    for (i = first + 1; i < nfiles; i++)          /* insertion sort: few files */
        for (j = i; j > first && strcmp(files[j - 1], files[j]) > 0; j--) {
            char *t = files[j];
            files[j] = files[j - 1];
            files[j - 1] = t;
        }
    return nfiles - first;
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long len;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)len + 1);
        if (buf)
            *n = fread(buf, 1, (size_t)len, f);
    }
    fclose(f);
    return buf;
}

START_TEST(replay_one)
{
    size_t n = 0;
    unsigned char *data = slurp(files[_i], &n);
    ck_assert_msg(data != NULL, "cannot read %s", files[_i]);
    fprintf(stderr, "replay %s (%zu bytes)\n", files[_i], n);
    LLVMFuzzerTestOneInput(data, n);
    free(data);
}
END_TEST

/* The corpus must be there: a replay of nothing would pass for nothing. */
START_TEST(corpus_present)
{
    ck_abort_msg("no inputs found for fuzz target " HK_FZ_TARGET
                 " (tests/fuzz/corpus/" HK_FZ_TARGET "/ under srcdir=%s)",
                 getenv("srcdir") ? getenv("srcdir") : "(unset)");
}
END_TEST

int main(int argc, char **argv)
{
    const char *srcdir = getenv("srcdir");
    char dir[2048];
    int corpus;
    Suite *s = suite_create("fuzz:" HK_FZ_TARGET);
    TCase *tc = tcase_create("replay");

    snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/" HK_FZ_TARGET, srcdir ? srcdir : "..");
    corpus = add_dir(dir);
    snprintf(dir, sizeof dir, "%s/tests/fuzz/regress/" HK_FZ_TARGET, srcdir ? srcdir : "..");
    add_dir(dir);                        /* may not exist: no crash found yet */

    fz_fail_hook = fail_in_check;
    LLVMFuzzerInitialize(&argc, &argv);
    tcase_set_timeout(tc, 60);
    if (corpus > 0)
        tcase_add_loop_test(tc, replay_one, 0, nfiles);
    else
        tcase_add_test(tc, corpus_present);
    suite_add_tcase(s, tc);
    return tu_run(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
