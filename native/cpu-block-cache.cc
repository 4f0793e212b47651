// libtorch's CPU allocator, replaced by one that keeps the blocks training frees for the next step.
// Where the system has tcmalloc, tensors go to its page heap instead (tcmalloc-heap.cc: it splits
// and merges free pages, and holds less); this cache serves everywhere else.
//
// Why: under Node, glibc's heap fragmented step after step where PyTorch's did not. Node-API frees
// a tensor handle's small native part (the wrapper and its reference) only after V8 collects the
// handle and the event loop runs its finalizer, so those parts stay scattered among the tensors'
// freed blocks and split them: the next step's tensors no longer fit in the holes and the heap
// grows. A synchronous loop of vgg16/8 steps went from 320 MB to 1.3 GB resident in 270 steps
// (PyTorch: flat at 350 MB), and VGG-16's peak grew 15-30 MB a step even when yielding to the
// event loop after each. Tensor blocks from this cache never share the heap with those parts.
//
// Blocks of 4 KiB and more are mapped from the system directly, never from the heap. A training
// step asks for the same sizes every time, so a freed block is kept by its size and handed to the
// next request of that size. That also spares the page faults that glibc pays for blocks above its
// mmap threshold (VGG-16's first activations, 33.5 MB at batch 128, are mapped and unmapped in
// every step, in PyTorch too). A request takes the smallest kept block that holds it, if that is
// at most half as large again. The cache's bound: tensors and kept blocks together hold at most
// half as much again as the most that tensors held at once since the cache was last emptied, plus
// what the bound has learnt it evicted wrongly. A request that would pass it unmaps the blocks
// freed longest ago first, so sizes that come and go (an evaluation after training) cost a few page
// faults rather than more memory. But a step that asks for more distinct sizes than the bound
// holds would, freed longest ago first, evict each block just before its next request, in every
// step: a member at 1/8 trained in NCHW at one thread (oneDNN's reorders ask for many sizes)
// mapped 37 MB again each step and trained 2x slower than with glibc. So a block that the bound
// evicted and a later request of its size then had to map again raises the bound by its size: the
// cache grows to what a step really cycles through, once, and no further.
// releaseHostMemory empties the cache (the trainer does so once an epoch, and before measuring a
// peak).
#include "cpu-block-cache.h"

#include <c10/core/CPUAllocator.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <list>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace featshift {
namespace {

// c10's alignment for CPU tensors (mapped blocks are page-aligned).
constexpr std::size_t kAlignment = 64;
// Smaller tensors (batch-norm statistics, scalars) go to malloc as with libtorch's own allocator:
// its small-chunk bins serve them well. (With 64 KiB here, a small VGG's heap still crept.)
constexpr std::size_t kSmallestCached = 4096;
constexpr std::size_t kPage = 4096;
// The bound's slack: half the peak. A step also asks, away from its peak, for sizes the peak did
// not hold (the backward pass's, weight decay's temporaries): held to the peak exactly, each such
// request unmapped a block the next step needed again, and a study's member at 1/8 paid about 150
// mappings a step, 30 % more training time than glibc. With this slack and the reuse of larger
// blocks it trained as fast as with glibc, and the early-heavy member at 1/4 peaked at 1306 MB
// (PyTorch 1364-1433; 931 MB held to the peak exactly, 1438 MB with twice the peak).
constexpr std::size_t kSlackDivisor = 2;

void Free(void* data);

class CpuBlockCache final : public c10::Allocator {
 public:
  // libtorch 2.3 made allocate non-const; whichever the base declares is overridden.
  c10::DataPtr allocate(std::size_t n) const { return Take(n); }
  c10::DataPtr allocate(std::size_t n) { return Take(n); }
  // libtorch 2.3 added copy_data (pure virtual there, absent before).
  void copy_data(void* dest, const void* src, std::size_t count) const { std::memcpy(dest, src, count); }
  // The context is the data pointer itself, so ideep's raw_allocate/raw_deallocate work too.
  c10::DeleterFnPtr raw_deleter() const override { return &Free; }

  void Give(void* data) {
    std::unique_lock<std::mutex> lock(mutex_);
    auto mapped = capacity_.find(data);
    if (mapped == capacity_.end()) {
      lock.unlock();
      std::free(data);
      return;
    }
    const std::size_t capacity = mapped->second;
    in_use_ -= capacity;
    cached_ += capacity;
    free_[capacity].push_back(age_.insert(age_.end(), data));
  }

  std::size_t Release() {
    std::lock_guard<std::mutex> lock(mutex_);
    const std::size_t freed = cached_;
    while (!age_.empty()) UnmapOldest();
    peak_in_use_ = in_use_;
    evicted_.clear();
    learnt_ = 0;
    return freed;
  }

  CpuBlockCacheStats Stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return {true, cached_, in_use_, peak_in_use_};
  }

 private:
  c10::DataPtr Take(std::size_t n) const {
    void* data = n < kSmallestCached ? TakeSmall(n) : const_cast<CpuBlockCache*>(this)->TakeMapped(n);
    return {data, data, &Free, c10::Device(c10::DeviceType::CPU)};
  }

  static void* TakeSmall(std::size_t n) {
    if (n == 0) return nullptr;
    void* data = nullptr;
    if (posix_memalign(&data, kAlignment, n) != 0) OutOfMemory(n);
    return data;
  }

  void* TakeMapped(std::size_t n) {
    const std::size_t capacity = (n + kPage - 1) / kPage * kPage;
    std::lock_guard<std::mutex> lock(mutex_);
    // The smallest kept block that holds the request, if it is at most half as large again: the
    // backward pass asks for sizes its forward pass did not hold at its peak.
    auto reuse = free_.lower_bound(capacity);
    if (reuse != free_.end() && reuse->first <= capacity + capacity / 2) {
      // The most recently freed block of that size: its pages are the likeliest still cached.
      const std::size_t found = reuse->first;
      void* data = *reuse->second.back();
      age_.erase(reuse->second.back());
      reuse->second.pop_back();
      if (reuse->second.empty()) free_.erase(reuse);
      cached_ -= found;
      Count(found);
      return data;
    }
    auto wrongly = evicted_.find(capacity);
    if (wrongly != evicted_.end()) {
      learnt_ += capacity;
      if (--wrongly->second == 0) evicted_.erase(wrongly);
    }
    const std::size_t bound =
        std::max(peak_in_use_, in_use_ + capacity) + peak_in_use_ / kSlackDivisor + learnt_;
    while (!age_.empty() && in_use_ + cached_ + capacity > bound) ++evicted_[UnmapOldest()];
    void* data = mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (data == MAP_FAILED) {
      while (!age_.empty()) UnmapOldest();  // the cached blocks go first
      data = mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (data == MAP_FAILED) OutOfMemory(n);
    }
    capacity_[data] = capacity;
    Count(capacity);
    return data;
  }

  [[noreturn]] static void OutOfMemory(std::size_t n) {
    // The prefix the addon recognises as running out of memory (libtorch 1.13's own message).
    TORCH_CHECK(false, "DefaultCPUAllocator: not enough memory: you tried to allocate ", n, " bytes.");
  }

  void Count(std::size_t capacity) {
    in_use_ += capacity;
    peak_in_use_ = std::max(peak_in_use_, in_use_);
  }

  // Returns the capacity unmapped.
  std::size_t UnmapOldest() {
    void* data = age_.front();
    const std::size_t capacity = capacity_.at(data);
    auto same = free_.find(capacity);
    // The oldest of its size is the first of its list.
    same->second.erase(same->second.begin());
    if (same->second.empty()) free_.erase(same);
    age_.pop_front();
    capacity_.erase(data);
    cached_ -= capacity;
    munmap(data, capacity);
    return capacity;
  }

  std::mutex mutex_;
  std::unordered_map<void*, std::size_t> capacity_;  // every mapped block, in use or cached
  std::list<void*> age_;                             // cached blocks, freed longest ago first
  std::map<std::size_t, std::vector<std::list<void*>::iterator>> free_;  // by capacity
  std::size_t cached_ = 0;
  std::size_t in_use_ = 0;
  std::size_t peak_in_use_ = 0;
  std::unordered_map<std::size_t, std::size_t> evicted_;  // capacity -> blocks the bound unmapped
  std::size_t learnt_ = 0;  // the bound's growth from blocks it evicted and had to map again
};

// Never destroyed: tensors may be freed during the process's exit, after static destructors.
CpuBlockCache* cache = nullptr;

void Free(void* data) {
  if (data != nullptr) cache->Give(data);
}

}  // namespace

void InstallCpuBlockCache() {
  if (cache != nullptr) return;
  cache = new CpuBlockCache();
  // Above the default's priority, so that it wins whatever order static registration ran in.
  c10::SetCPUAllocator(cache, /*priority=*/1);
}

std::size_t ReleaseCpuBlockCache() {
  return cache != nullptr ? cache->Release() : 0;
}

CpuBlockCacheStats GetCpuBlockCacheStats() {
  return cache != nullptr ? cache->Stats() : CpuBlockCacheStats{false, 0, 0, 0};
}

}  // namespace featshift
