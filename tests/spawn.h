/*
 * spawn.h - run a child program with a few extra environment variables,
 * wait for it and return how it ended, the same way on POSIX and Windows.
 *
 *   sp_run(path, argv, env) -> exit status 0..255 (POSIX), the full exit
 *   code (Windows, where an unhandled exception ends a process with its
 *   NTSTATUS), SP_SIGNALED(sig) when a POSIX child was killed by a signal,
 *   or SP_FAILED when it could not be started.
 *
 * env is a NULL-terminated list of "NAME=value" strings; the child sees
 * them on top of the parent's environment.  POSIX sets them in the forked
 * child only; Windows sets them in the parent around the spawn and then
 * removes them (not restores them: the caller must not have its own), as
 * Check cannot fork there and nothing may leak into the next test.
 */
#ifndef HK_SPAWN_H
#define HK_SPAWN_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#  include <errno.h>
#  include <io.h>
#  include <process.h>
#  define SP_EXE ".exe"
#else
#  include <errno.h>
#  include <sys/types.h>
#  include <sys/wait.h>
#  include <unistd.h>
#  define SP_EXE ""
#endif

#define SP_FAILED (-1000)
/* Above any exit status, like a shell's $? for a killed process. */
#define SP_SIGNALED(sig) (128 + (sig))

/* Does a file exist (and can we read it)? */
static inline int sp_exists(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    fclose(f);
    return 1;
}

#ifdef _WIN32

/* _spawnv joins argv with spaces; quote what contains blanks so the
 * child's CRT splits it back the same way. */
static inline char *sp_quote(const char *a)
{
    size_t n = strlen(a);
    char *q = malloc(n + 3);
    if (!q)
        return NULL;
    if (strpbrk(a, " \t") == NULL) {
        memcpy(q, a, n + 1);
    } else {
        q[0] = '"';
        memcpy(q + 1, a, n);
        q[n + 1] = '"';
        q[n + 2] = '\0';
    }
    return q;
}

static inline int sp_run(const char *path, char *const argv[], const char *const env[])
{
    char *qargv[32], wpath[1024];
    intptr_t rc;
    int i, n;
    /* Windows' own separator, whatever the caller composed */
    snprintf(wpath, sizeof wpath, "%s", path);
    for (i = 0; wpath[i]; i++)
        if (wpath[i] == '/')
            wpath[i] = '\\';
    for (i = 0; env && env[i]; i++) {
        char unset[256];
        /* "NAME" alone unsets it, as glibc's putenv: _putenv wants "NAME=" */
        if (!strchr(env[i], '=') && strlen(env[i]) + 2 <= sizeof unset) {
            snprintf(unset, sizeof unset, "%s=", env[i]);
            _putenv(unset);
        } else
            _putenv(env[i]);
    }
    for (n = 0; argv[n] && n < 31; n++)
        qargv[n] = sp_quote(argv[n]);
    qargv[n] = NULL;
    fflush(NULL);       /* the child shares our stdout */
    errno = 0;
    rc = _spawnv(_P_WAIT, wpath, (const char *const *)qargv);
    for (i = 0; i < n; i++)
        free(qargv[i]);
    /* "NAME=" removes NAME from the environment. */
    for (i = 0; env && env[i]; i++) {
        const char *eq = strchr(env[i], '=');
        char name[256];
        size_t len = eq ? (size_t)(eq - env[i]) : strlen(env[i]);
        if (len + 2 > sizeof name)
            continue;
        memcpy(name, env[i], len);
        name[len] = '=';
        name[len + 1] = '\0';
        _putenv(name);
    }
    /* -1 is also a possible exit code: errno tells them apart */
    return rc == -1 && errno != 0 ? SP_FAILED : (int)rc;
}

#else

static inline int sp_run(const char *path, char *const argv[], const char *const env[])
{
    pid_t pid, w;
    int st, i;
    fflush(NULL);       /* or the child would flush our buffers too */
    pid = fork();
    if (pid < 0)
        return SP_FAILED;
    if (pid == 0) {
        for (i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        execv(path, argv);
        _exit(127);
    }
    do
        w = waitpid(pid, &st, 0);
    while (w < 0 && errno == EINTR);
    if (w < 0)
        return SP_FAILED;
    if (WIFSIGNALED(st))
        return SP_SIGNALED(WTERMSIG(st));
    return WIFEXITED(st) ? WEXITSTATUS(st) : SP_FAILED;
}

#endif

#endif
