// cxx.cc - an unmodified C++ program for tests/run: new/delete of the
// wrong kind (FK, three ways), a sized delete with the wrong size (S/FS),
// a leaked std::vector and std::string (object and buffer each).
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

void *volatile hkrun_sink;

int main()
{
    int *a = new int[4];
    hkrun_sink = a;
    delete static_cast<int *>(hkrun_sink);          // new[] freed by delete
    int *b = new int;
    hkrun_sink = b;
    delete[] static_cast<int *>(hkrun_sink);        // new freed by delete[]
    hkrun_sink = std::malloc(8);
    ::operator delete(hkrun_sink);                  // malloc freed by delete
    hkrun_sink = ::operator new(24);
    ::operator delete(hkrun_sink, 32);              // S/FS: 24 freed as 32
    hkrun_sink = new std::vector<int>(100);         // leak: object + 400 bytes
    hkrun_sink = new std::string(100, 'x');         // leak: object + 101 bytes
    int *ok = new int[3];
    hkrun_sink = ok;
    delete[] ok;                                    // right: no entry
    struct alignas(64) line { char c[64]; };
    line *l = new line[2];                          // aligned new[]: no entry
    if (reinterpret_cast<std::uintptr_t>(l) % 64 != 0)
        return 3;
    hkrun_sink = l;
    delete[] l;
    int *nt = new (std::nothrow) int(5);            // nothrow: no entry
    hkrun_sink = nt;
    delete nt;
    return 0;
}
