// hello.cc - a C++ hello world: under heapkit run its report must be
// clean, with libstdc++'s emergency exception pool and stdout's buffer
// hidden by the default suppressions.
#include <iostream>

int main()
{
    std::cout << "hello, world" << std::endl;
    return 0;
}
