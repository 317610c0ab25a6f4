/* forker.c - fork and exec: the parent leaks 11; a forked child leaks 33
 * and exits (its report has 11 too: inherited); another child leaks 22
 * and execs this program again ("exec"), whose new image leaks 55. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void *volatile hkrun_sink;

int main(int argc, char **argv)
{
    pid_t a, b;
    int st;
    if (argc > 1 && strcmp(argv[1], "exec") == 0) {
        hkrun_sink = malloc(55);
        return 0;
    }
    hkrun_sink = malloc(11);
    a = fork();
    if (a == 0) {
        hkrun_sink = malloc(33);
        exit(0);
    }
    b = fork();
    if (b == 0) {
        char *args[] = { argv[0], (char *)"exec", NULL };
        hkrun_sink = malloc(22);
        execv(argv[0], args);
        _exit(92);
    }
    if (a < 0 || b < 0 || waitpid(a, &st, 0) != a || st != 0 || waitpid(b, &st, 0) != b
        || st != 0)
        return 90;
    return 0;
}
