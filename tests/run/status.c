/* status.c - exits with argv[1]; leaks 5 bytes if argv[2] is "leak". */
#include <stdlib.h>
#include <string.h>

void *volatile hkrun_sink;

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[2], "leak") == 0)
        hkrun_sink = malloc(5);
    return argc > 1 ? atoi(argv[1]) : 0;
}
