/* hello.c - a C hello world: under heapkit run its report must be clean,
 * with the runtime's one-time blocks (stdout's buffer) hidden by the
 * default suppressions. */
#include <stdio.h>

int main(void)
{
    printf("hello, world\n");
    return 0;
}
