/*
 * <heapapi.h> for POSIX builds, from heapkit: only the Win32 heap subset
 * (heapkit/win32.h).  Opt in with `pkg-config --cflags heapkit-win32`, so
 * that Win32 heap code including <heapapi.h> builds unchanged; never put this
 * directory on a Windows compiler's include path.
 */
#ifndef HEAPKIT_SHIM_HEAPAPI_H
#define HEAPKIT_SHIM_HEAPAPI_H
#ifdef _WIN32
#  error "heapkit's <heapapi.h> is for POSIX: drop heapkit-win32's include directory on Windows"
#endif
#include <heapkit/win32.h>
#endif
