// A caching allocator for libtorch's CPU tensors: see cpu-block-cache.cc for why.
#pragma once

#include <cstddef>

namespace featshift {

struct CpuBlockCacheStats {
  bool installed;
  std::size_t cachedBytes;  // freed blocks kept for reuse
  std::size_t inUseBytes;   // blocks held by tensors (those large enough to be cached)
  // The most in use since the last release (the bound: 1.5 times it, plus what it has learnt).
  std::size_t peakInUseBytes;
};

// Makes the cache libtorch's CPU allocator (tensors allocated before keep their own deleter).
void InstallCpuBlockCache();

// Frees every cached block; returns the bytes freed.
std::size_t ReleaseCpuBlockCache();

CpuBlockCacheStats GetCpuBlockCacheStats();

}  // namespace featshift
