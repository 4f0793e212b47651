// libtorch's CPU allocator on tcmalloc's page heap, where the system has tcmalloc: see
// tcmalloc-heap.cc for why.
#pragma once

#include <cstddef>

namespace featshift {

struct TcmallocHeapStats {
  std::size_t freeBytes;       // freed memory tcmalloc holds, still mapped
  std::size_t inUseBytes;      // held by tensors
  std::size_t peakInUseBytes;  // the most in use since the last release
};

// Loads tcmalloc (libtcmalloc_minimal.so.4, else libtcmalloc.so.4) and makes it libtorch's CPU
// allocator. False, and nothing changed, where neither loads.
bool InstallTcmallocHeap();

bool TcmallocHeapInstalled();

// Hands tcmalloc's free pages back to the system; returns the bytes it held free before.
std::size_t ReleaseTcmallocHeap();

TcmallocHeapStats GetTcmallocHeapStats();

// Whose malloc this process runs on: "tcmalloc" (preloaded, as bin/featshift does), "glibc", or
// "other" (another preloaded allocator).
const char* ProcessMalloc();

}  // namespace featshift
