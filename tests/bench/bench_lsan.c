/* bench_lsan.c - one round of bench_debug's churn under LeakSanitizer:
 * built with clang -fsanitize=leak (make bench, where clang has it) and
 * run by bench_debug once per round, interleaved with its own contestants.
 * make bench-run builds the same file with no sanitizer (tests/bench/churn)
 * and with gcc -fsanitize=leak (tests/bench/churn-lsan): the unmodified
 * program that bench_run runs under heapkit run and its peers.
 * Usage: bench_lsan THREADS OPS CROSS64; prints "ns_per_pair cross_share". */
#include <stdio.h>
#include <stdlib.h>

#include "churn.h"

CHURN_THREAD(churn_body)

int main(int argc, char **argv)
{
    double ns, cross = 0;
    if (argc != 4)
        return 2;
    ns = churn_run(churn_body, atoi(argv[1]), atol(argv[2]), (unsigned)atoi(argv[3]), &cross);
    printf("%.3f %.4f\n", ns, cross);
    return 0;
}
