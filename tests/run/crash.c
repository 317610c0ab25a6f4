/* crash.c - leaks 64 bytes, then dies of SIGSEGV. */
#include <stdlib.h>

void *volatile hkrun_sink;
int *volatile hkrun_null;

int main(void)
{
    hkrun_sink = malloc(64);
    *hkrun_null = 1;
    return 0;
}
