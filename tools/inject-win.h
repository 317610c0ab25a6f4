/* inject-win.h - heapkit.exe run's import-table injection (inject-win.c). */
#ifndef HK_TOOLS_INJECT_WIN_H
#define HK_TOOLS_INJECT_WIN_H
#ifdef _WIN32
#include <windows.h>

/* Make the suspended process proc load the DLL at the full path dll as
 * its first static import.  1 done; 0 not possible for this image (the
 * process is unchanged in every way that matters): use another way. */
int hk__inject_imports(HANDLE proc, const wchar_t *dll);

#endif
#endif
