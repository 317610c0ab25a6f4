/* threads.c - 4 threads, each ITER malloc/free pairs at once, then 4
 * more, one after the other, each with 10 leaks of 1000 + thread bytes
 * (argv[1]: ITER, 0 for the baseline run: no leaks). */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void *volatile hkrun_sink;
static int iters;

static void *churn(void *arg)
{
    int i;
    (void)arg;
    for (i = 0; i < iters; i++) {
        void *p = malloc(8 + (size_t)(i % 64));
        hkrun_sink = p;
        free(p);
    }
    return NULL;
}

/* The leaks come from threads started one after the other, so their
 * allocation numbers follow that order on every OS: heapkit hands out
 * numbers to each thread in batches, and a thread that had churned
 * would leak from a batch it took whenever the scheduler let it.  The
 * report lists entries by number, and the whole report is compared
 * (tests/golden/run/). */
static void *work(void *arg)
{
    int t = (int)(intptr_t)arg, i;
    /* written: a fresh block's old bytes may hold the allocator's own
     * free-list links (Wine's heap), which a conservative scan would take
     * for a pointer from one leak to another ("indirectly lost") */
    if (iters)
        for (i = 0; i < 10; i++) {
            void *p = malloc(1000 + (size_t)t);
            if (p)
                memset(p, t, 1000 + (size_t)t);
            hkrun_sink = p;
        }
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t th[4];
    long t;
    iters = argc > 1 ? atoi(argv[1]) : 1000;
    for (t = 0; t < 4; t++)
        if (pthread_create(&th[t], NULL, churn, NULL) != 0)
            return 90;
    for (t = 0; t < 4; t++)
        pthread_join(th[t], NULL);
    for (t = 0; t < 4; t++) {
        pthread_t w;
        if (pthread_create(&w, NULL, work, (void *)(intptr_t)t) != 0)
            return 91;
        pthread_join(w, NULL);
    }
    /* the last leak is lost too: the global would keep it reachable */
    hkrun_sink = NULL;
    return 0;
}
