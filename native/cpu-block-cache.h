// A caching allocator for libtorch's CPU tensors: see cpu-block-cache.cc for why.
#pragma once

#include <cstddef>

namespace featshift {

struct CpuBlockCacheStats {
  bool installed;              // as libtorch's CPU allocator
  std::size_t cachedBytes;     // freed blocks kept for reuse
  std::size_t inUseBytes;      // blocks held by tensors (those large enough to be cached)
  std::size_t peakInUseBytes;  // the most in use since the last release
  std::size_t movedBytes;      // kept pages the kernel moved to a request no kept block held, ever
  std::size_t mappedBytes;     // new pages mapped, ever
};

// Makes the cache libtorch's CPU allocator (tensors allocated before keep their own deleter).
void InstallCpuBlockCache();

// Whether a request of `n` bytes is a block of whole huge pages, from a pool of their own: from
// 1 MiB on, where rounding it up to 2 MiB adds at most an eighth (or the kernel allows no huge
// pages, and nothing is rounded). The tcmalloc heap (tcmalloc-heap.cc) takes those tensors from it.
bool InHugePages(std::size_t n);
// A block of whole huge pages (InHugePages(n)); sets `capacity` to the bytes it holds. Thread-safe.
void* TakeHugePageBlock(std::size_t n, std::size_t* capacity);
// Returns the block's capacity; 0, and nothing done, where `data` is not a block of the cache's.
std::size_t GiveHugePageBlock(void* data);

// Frees every cached block; returns the bytes freed.
std::size_t ReleaseCpuBlockCache();

CpuBlockCacheStats GetCpuBlockCacheStats();

}  // namespace featshift
