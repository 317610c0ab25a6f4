/* tests/sanity.c - the tools see the arena: tests/plant's planted bugs
 * (an overflow by 14 bytes, a use after free, a branch on uninitialised
 * bytes, all in arena blocks) must each be reported at the faulting line,
 * and its correct program must give no report.
 *  - native build: under `valgrind --error-exitcode=99` (memcheck).  A
 *    missing valgrind fails here, it never skips.
 *  - ASan build (ci/test's asan lane): the instrumented program alone;
 *    ASan does not track initialisation, so there the uninitialised read
 *    is not one of the cases.
 * Linux only (built when not HK_WINDOWS). */
#include "testutil.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#  define SAN_ASAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define SAN_ASAN 1
#  endif
#endif

/* Run argv (searched in PATH) with stdout and stderr into out; returns the
 * exit status, 128+signal, or 127 when it could not be started. */
static int run_to(char *const argv[], const char *out)
{
    pid_t pid;
    int st, fd;
    fflush(NULL);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) _exit(126);
        dup2(fd, 1);
        dup2(fd, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *s;
    long n;
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    s = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = 0;
    fclose(f);
    return s;
}

/* Run plant in mode; *log gets its whole output.  Returns the status. */
static int plant(const char *mode, char **log)
{
    char out[64];
    int rc;
    snprintf(out, sizeof out, "tests/sanity-%s.out", mode);
#if defined(SAN_ASAN)
    {
        char *argv[] = {"tests/plant", (char *)mode, NULL};
        rc = run_to(argv, out);
    }
#else
    {
        char *argv[] = {"valgrind", "--error-exitcode=99", "--leak-check=no",
                        "--num-callers=8", "tests/plant", (char *)mode, NULL};
        rc = run_to(argv, out);
    }
#endif
    *log = slurp(out);
    return rc;
}

/* The tool's report names the planted line, and says what it saw. */
static void expect_found(const char *mode, const char *what)
{
    char *log, *at, where[64];
    int rc = plant(mode, &log);
    ck_assert_msg(rc != 127, "could not run the tool: %s", log);
    at = strstr(log, "PLANT ");
    ck_assert_msg(at != NULL, "plant %s did not start:\n%s", mode, log);
    ck_assert_int_eq(sscanf(at, "PLANT %*s %63s", where), 1);
#if defined(SAN_ASAN)
    ck_assert_msg(rc != 0, "plant %s: no ASan error:\n%s", mode, log);
    ck_assert_msg(strstr(log, "ERROR: AddressSanitizer") != NULL, "plant %s:\n%s", mode, log);
#else
    ck_assert_msg(rc == 99, "plant %s: valgrind found nothing (status %d):\n%s", mode, rc, log);
#endif
    ck_assert_msg(strstr(log, what) != NULL, "plant %s: no '%s':\n%s", mode, what, log);
    /* the first report's first frame in plant.c is the planted line */
    at = strstr(strstr(log, what), "plant.c:");
    ck_assert_msg(at && !strncmp(at, where, strlen(where)) &&
                  !(at[strlen(where)] >= '0' && at[strlen(where)] <= '9'),
                  "plant %s: report not at %s:\n%s", mode, where, log);
    free(log);
}

START_TEST(clean_program_no_report)
{
    char *log;
    int rc = plant("clean", &log);
    ck_assert_msg(rc == 0, "status %d:\n%s", rc, log);
    ck_assert(strstr(log, "clean ") != NULL);
#if defined(SAN_ASAN)
    ck_assert_msg(strstr(log, "AddressSanitizer") == NULL, "%s", log);
#else
    ck_assert_msg(strstr(log, "ERROR SUMMARY: 0 errors") != NULL, "%s", log);
#endif
    free(log);
}
END_TEST

START_TEST(overflow_found)
{
#if defined(SAN_ASAN)
    expect_found("overflow", "WRITE of size 1");
#else
    expect_found("overflow", "Invalid write of size 1");
#endif
}
END_TEST

START_TEST(use_after_free_found)
{
#if defined(SAN_ASAN)
    expect_found("uaf", "READ of size 1");
#else
    expect_found("uaf", "Invalid read of size 1");
#endif
}
END_TEST

#if !defined(SAN_ASAN)
START_TEST(uninitialised_found)
{
    expect_found("uninit", "Conditional jump or move depends on uninitialised value");
}
END_TEST
#endif

static Suite *sanity_suite(void)
{
#if defined(SAN_ASAN)
    Suite *s = suite_create("sanity:asan");
#else
    Suite *s = suite_create("sanity:valgrind");
#endif
    TCase *tc = tcase_create("planted");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, clean_program_no_report);
    tcase_add_test(tc, overflow_found);
    tcase_add_test(tc, use_after_free_found);
#if !defined(SAN_ASAN)
    tcase_add_test(tc, uninitialised_found);
#endif
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(sanity_suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
