/* threads.c - 4 threads, each ITER malloc/free pairs and 10 leaks of
 * 1000 + thread bytes (argv[1]: ITER, 0 for the baseline run). */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>

void *volatile hkrun_sink;
static int iters;
/* The churn runs in all threads at once; the leaks are made one thread
 * after the other (thread 0 first): the report lists its entries in
 * allocation order, and the whole report is compared (tests/golden/run/).
 * A spin on an atomic, not a mutex: winpthreads allocates for those. */
static int turn;

static void *work(void *arg)
{
    int t = (int)(intptr_t)arg, i;
    for (i = 0; i < iters; i++) {
        void *p = malloc(8 + (size_t)(i % 64));
        hkrun_sink = p;
        free(p);
    }
    while (__atomic_load_n(&turn, __ATOMIC_ACQUIRE) != t)
        sched_yield();
    if (iters)
        for (i = 0; i < 10; i++)
            hkrun_sink = malloc(1000 + (size_t)t);
    __atomic_store_n(&turn, t + 1, __ATOMIC_RELEASE);
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t th[4];
    long t;
    iters = argc > 1 ? atoi(argv[1]) : 1000;
    for (t = 0; t < 4; t++)
        if (pthread_create(&th[t], NULL, work, (void *)(intptr_t)t) != 0)
            return 90;
    for (t = 0; t < 4; t++)
        pthread_join(th[t], NULL);
    /* the last thread's last leak is lost too, whichever thread it was:
     * otherwise its size (1000 + thread) in the report changes from run
     * to run, and the whole report is compared (tests/golden/run/) */
    hkrun_sink = NULL;
    return 0;
}
