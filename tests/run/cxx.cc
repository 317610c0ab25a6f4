// cxx.cc - an unmodified C++ program for tests/run: new/delete of the
// wrong kind (FK, three ways), a sized delete with the wrong size (S/FS),
// a leaked std::vector (object and buffer) and std::string (a short one:
// the object only).  Its whole report, masked, is the same on Linux and
// Windows (tests/golden/run/cxx.txt, issue 12).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

void *volatile hkrun_sink;

// The leaks are made in helpers that are not inlined, and main scrubs the
// dead stack below its frame before it returns: a conservative scan takes
// any word on a live stack for a pointer, and which dead slot or saved
// register still holds a leaked address at exit depends on the compiler
// and the OS (on Linux the string's address survived into exit's frame:
// "still reachable" there, lost under Wine, where hkrun_sink, overwritten
// below, was its only copy).  A short string: a long one's buffer is
// allocated inside libstdc++, which Windows attributes to libstdc++-6.dll's
// operator new (_Znwy), Linux to the caller of the hooked operator new.
// A class's member and a template, in a namespace: both reports name
// them as DWARF does, qualified, without parameters ("hkrun::Keeper::
// leak_vector", "hkrun::leak_string<int>"), DbgHelp's way.
namespace hkrun {
struct Keeper {
    static void leak_vector();
};

__attribute__((noinline)) void Keeper::leak_vector()
{
    hkrun_sink = new std::vector<int>(100);         // leak: object + 400 bytes
}

template <typename T> __attribute__((noinline)) void leak_string(T n)
{
    hkrun_sink = new std::string(n, 'x');           // leak: object (32 bytes)
}
}

extern "C" __attribute__((noinline)) void scrub_stack()
{
    char pad[16384];
    std::memset(pad, 0, sizeof pad);
    // the stores must happen although pad is dead afterwards
    __asm__ __volatile__("" : : "r"(pad) : "memory");
}

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
    hkrun::Keeper::leak_vector();
    hkrun::leak_string<int>(10);
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
    scrub_stack();
    return 0;
}
