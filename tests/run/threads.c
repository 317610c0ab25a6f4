/* threads.c - 4 threads, each ITER malloc/free pairs and 10 leaks of
 * 1000 + thread bytes (argv[1]: ITER, 0 for the baseline run). */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

void *volatile hkrun_sink;
static int iters;

static void *work(void *arg)
{
    int t = (int)(intptr_t)arg, i;
    for (i = 0; i < iters; i++) {
        void *p = malloc(8 + (size_t)(i % 64));
        hkrun_sink = p;
        free(p);
    }
    if (iters)
        for (i = 0; i < 10; i++)
            hkrun_sink = malloc(1000 + (size_t)t);
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
    return 0;
}
