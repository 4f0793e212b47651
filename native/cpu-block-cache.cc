// libtorch's CPU allocator, replaced by one that keeps the blocks training frees for the next step
// and never holds more pages than the tensors have held at once.
//
// Why not glibc's heap: under Node it fragmented step after step where PyTorch's did not. Node-API
// frees a tensor handle's small native part (the wrapper and its reference) only after V8 collects
// the handle and the event loop runs its finalizer, so those parts stay scattered among the
// tensors' freed blocks and split them: the next step's tensors no longer fit in the holes and the
// heap grows. A synchronous loop of vgg16/8 steps went from 320 MB to 1.3 GB resident in 270 steps
// (PyTorch: flat at 350 MB). glibc also maps and unmaps blocks above its mmap threshold in every
// step, in PyTorch too, and faults them in again.
//
// Why not a page heap (tcmalloc's, tcmalloc-heap.cc): a freed range serves a later request only
// where it is long enough. The backward pass frees a layer's gradient and asks for the one of the
// layer before, which is larger wherever a pooling layer or a wider layer comes before; the freed
// ranges are then too short unless they happen to lie side by side, and the heap maps more. The
// early-heavy member at 1/4 held at most 708 MB of tensors and 983 MB of tcmalloc's pages; with the
// process's other allocations in the same heap (tcmalloc preloaded) the holes moved from run to run
// and the peak with them (1055-1293 MB resident).
//
// How: blocks of 4 KiB and more are mapped from the system, and a freed block is kept for the next
// request, joined with the kept blocks on either side of it. A request takes the smallest kept
// block that holds it (the most recently freed of that size), cutting off what it does not need as
// a kept block of its own. Where no kept block is long enough, the kernel moves the kept blocks'
// pages (mremap) into one new range, without copying them, and new pages are mapped only for what
// the kept blocks cannot cover. So the blocks never hold more than the most that tensors held at
// once, however the sizes come.
//
// Blocks of 1 MiB and more are whole 2 MiB huge pages, where the kernel allows them (transparent
// huge pages, `madvise` or `always`) and rounding up adds at most an eighth (InHugePages): a move
// then rewrites one page-table entry per 2 MiB rather than 512. Under a hypervisor that shadows the
// guest's page tables (this project's 2-core EPYC), every page whose entry changes is faulted in
// again on its next touch: moving 4 KiB pages, the member at 1/4 moved 390 MB a step and its
// backward pass took 1.6 s instead of 1.2; with huge pages the same moves cost nothing measurable,
// and the first step's page faults fall 512-fold. It peaks at 960-977 MB resident, against
// 1046-1376 MB with tcmalloc's page heap.
//
// releaseHostMemory unmaps the kept blocks (the trainer does so once an epoch, and before measuring
// a peak).
#include "cpu-block-cache.h"

#include <c10/core/CPUAllocator.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace featshift {
namespace {

// c10's alignment for CPU tensors (mapped blocks are page-aligned).
constexpr std::size_t kAlignment = 64;
// Smaller tensors (batch-norm statistics, scalars) go to malloc as with libtorch's own allocator:
// its small-chunk bins serve them well. (With 64 KiB here, a small VGG's heap under glibc crept.)
constexpr std::size_t kSmallestMapped = 4096;
// Blocks from this size on are made of huge pages, where rounding them up adds at most 1 /
// kMostRounding: rounded whatever their size, VGG-16's 2.25 and 4.5 MiB weights, with their
// gradients and momenta, held 4 and 6 MiB each, and it peaked at 798 MB resident against 762 with
// tensors in tcmalloc (PyTorch with tcmalloc: 784).
constexpr std::size_t kSmallestHuge = std::size_t{1} << 20;
constexpr std::size_t kMostRounding = 8;
constexpr std::size_t kHugePage = std::size_t{2} << 20;
// Each moved piece is a mapping of its own, and the kernel allows a process about 65,000
// (vm.max_map_count), Node's and libtorch's included. Past this many pieces, a pool unmaps its
// kept blocks before a request that would move pages, and maps new ones instead.
constexpr std::size_t kMostPieces = 16384;

void Free(void* data);
bool installed = false;  // as libtorch's CPU allocator

// A mapped range. mremap moves pages only from within one of the kernel's mappings, so a block
// knows the lengths of the pieces it was assembled from, in address order.
struct Block {
  char* data = nullptr;
  std::size_t capacity = 0;
  std::vector<std::size_t> pieces;
  class Pool* pool = nullptr;  // the pool it came from, and goes back to
};

[[noreturn]] void OutOfMemory(std::size_t n) {
  // The prefix the addon recognises as running out of memory (libtorch 1.13's own message).
  TORCH_CHECK(false, "DefaultCPUAllocator: not enough memory: you tried to allocate ", n, " bytes.");
}

// Whether the kernel gives huge pages to a range that asks (MADV_HUGEPAGE).
// Read once: the pool's granularity and InHugePages must agree for the process's life.
bool HugePagesAllowed() {
  static const bool allowed = [] {
    std::ifstream setting("/sys/kernel/mm/transparent_hugepage/enabled");
    std::string words((std::istreambuf_iterator<char>(setting)), std::istreambuf_iterator<char>());
    return words.find("[always]") != std::string::npos || words.find("[madvise]") != std::string::npos;
  }();
  return allowed;
}

// The blocks of one granularity: all their sizes and pieces are multiples of it, so a move never
// splits one of its pages. Not thread-safe: the cache locks around it.
class Pool {
 public:
  Pool(std::size_t granularity, bool huge) : granularity_(granularity), huge_(huge) {}

  std::size_t Capacity(std::size_t n) const { return (n + granularity_ - 1) / granularity_ * granularity_; }

  Block Take(std::size_t capacity, std::size_t n) {
    auto fit = by_size_.lower_bound(capacity);
    if (fit == by_size_.end()) return Assemble(capacity, n);
    Block block = Unkeep(fit->second.back());
    if (block.capacity > capacity) Keep(Split(&block, capacity));
    return block;
  }

  // Keeps a freed block, joined with the kept blocks on either side of it: a block cut in two
  // serves its whole size again once both parts are back, without moving a page. (vgg16/8 moved
  // 8 MB a step without this, and each move interrupts every thread of the process to flush its
  // stale translations.)
  void Keep(Block block) {
    if (block.capacity == 0) return;
    auto after = kept_.lower_bound(block.data);
    if (after != kept_.end() && block.data + block.capacity == after->first) {
      Block next = Unkeep(after->first);
      block.capacity += next.capacity;
      block.pieces.insert(block.pieces.end(), next.pieces.begin(), next.pieces.end());
    }
    auto before = kept_.lower_bound(block.data);
    if (before != kept_.begin()) {
      --before;
      if (before->first + before->second.capacity == block.data) {
        Block previous = Unkeep(before->first);
        previous.capacity += block.capacity;
        previous.pieces.insert(previous.pieces.end(), block.pieces.begin(), block.pieces.end());
        block = std::move(previous);
      }
    }
    cached_ += block.capacity;
    by_size_[block.capacity].push_back(block.data);
    kept_.emplace(block.data, std::move(block));
  }

  void UnmapKept() {
    for (auto& [data, block] : kept_) {
      munmap(block.data, block.capacity);
      pieces_ -= block.pieces.size();
    }
    kept_.clear();
    by_size_.clear();
    cached_ = 0;
  }

  std::size_t cached() const { return cached_; }
  std::size_t moved() const { return moved_; }
  std::size_t mapped() const { return mapped_; }

 private:
  // A new range of `capacity` bytes holding the kept blocks' pages, largest blocks first, and new
  // pages for the rest. Called only when no kept block is long enough.
  Block Assemble(std::size_t capacity, std::size_t n) {
    if (pieces_ > kMostPieces) UnmapKept();
    void* range = Map(capacity);
    if (range == MAP_FAILED) {
      UnmapKept();
      range = Map(capacity);
      if (range == MAP_FAILED) OutOfMemory(n);
    }
    Block out{static_cast<char*>(range), capacity, {}, this};
    std::size_t filled = 0;
    while (filled < capacity && !by_size_.empty()) {
      Block source = Unkeep(std::prev(by_size_.end())->second.back());
      if (source.capacity > capacity - filled) Keep(Split(&source, capacity - filled));
      std::size_t moved = 0;
      for (std::size_t length : source.pieces) {
        // MREMAP_FIXED replaces the untouched pages mapped there above.
        void* to =
            mremap(source.data + moved, length, length, MREMAP_MAYMOVE | MREMAP_FIXED, out.data + filled);
        if (to == MAP_FAILED) break;
        out.pieces.push_back(length);
        moved += length;
        filled += length;
      }
      moved_ += moved;
      if (moved < source.capacity) {
        // A move failed (the kernel's limit on mappings): its destination may be unmapped already.
        // New pages there, and the pages not moved stay kept.
        Keep(Split(&source, moved));
        if (mmap(out.data + filled, capacity - filled, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
          OutOfMemory(n);
        Advise(out.data + filled, capacity - filled);
        break;
      }
    }
    if (filled < capacity) {
      // The pages mapped above and not replaced, faulted in as the tensor first writes them.
      out.pieces.push_back(capacity - filled);
      mapped_ += capacity - filled;
      ++pieces_;
    }
    return out;
  }

  // A new range aligned to the granularity (mmap aligns to the base page only).
  void* Map(std::size_t capacity) {
    const std::size_t slack = huge_ ? granularity_ : 0;
    void* raw = mmap(nullptr, capacity + slack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED || !huge_) return raw;
    char* start = static_cast<char*>(raw);
    char* aligned = reinterpret_cast<char*>((reinterpret_cast<std::uintptr_t>(start) + granularity_ - 1) /
                                            granularity_ * granularity_);
    if (aligned > start) munmap(start, static_cast<std::size_t>(aligned - start));
    char* end = start + capacity + slack;
    if (end > aligned + capacity)
      munmap(aligned + capacity, static_cast<std::size_t>(end - aligned - capacity));
    Advise(aligned, capacity);
    return aligned;
  }

  void Advise(void* data, std::size_t length) const {
    if (huge_) madvise(data, length, MADV_HUGEPAGE);
  }

  // Cuts `block` after `length` bytes; returns the rest as a block of its own.
  Block Split(Block* block, std::size_t length) {
    Block rest{block->data + length, block->capacity - length, {}, block->pool};
    std::size_t start = 0;
    std::size_t i = 0;
    while (i < block->pieces.size() && start + block->pieces[i] <= length) start += block->pieces[i++];
    if (start < length) {
      // The cut falls inside a piece: both halves are still inside its one mapping.
      rest.pieces.push_back(start + block->pieces[i] - length);
      block->pieces[i] = length - start;
      ++i;
      ++pieces_;
    }
    rest.pieces.insert(rest.pieces.end(), block->pieces.begin() + static_cast<std::ptrdiff_t>(i),
                       block->pieces.end());
    block->pieces.resize(i);
    block->capacity = length;
    return rest;
  }

  Block Unkeep(char* data) {
    auto kept = kept_.find(data);
    Block block = std::move(kept->second);
    kept_.erase(kept);
    auto size = by_size_.find(block.capacity);
    std::vector<char*>& same = size->second;
    same.erase(std::find(same.begin(), same.end(), data));
    if (same.empty()) by_size_.erase(size);
    cached_ -= block.capacity;
    return block;
  }

  std::size_t granularity_;
  bool huge_;
  std::map<char*, Block> kept_;  // freed, by address
  // Their addresses by capacity, kept last the last: a request takes the most recently freed of its
  // size, whose pages are the likeliest still in the processor's caches.
  std::map<std::size_t, std::vector<char*>> by_size_;
  std::size_t cached_ = 0;  // bytes kept
  std::size_t moved_ = 0;   // bytes whose pages were moved, ever
  std::size_t mapped_ = 0;  // bytes of new pages mapped, ever
  std::size_t pieces_ = 0;  // pieces of all blocks, kept or in use
};

class CpuBlockCache final : public c10::Allocator {
 public:
  CpuBlockCache()
      : pages_(static_cast<std::size_t>(sysconf(_SC_PAGESIZE)), false),
        huge_pages_(HugePagesAllowed() ? kHugePage : static_cast<std::size_t>(sysconf(_SC_PAGESIZE)),
                    HugePagesAllowed()) {}

  // libtorch 2.3 made allocate non-const; whichever the base declares is overridden.
  c10::DataPtr allocate(std::size_t n) const { return Take(n); }
  c10::DataPtr allocate(std::size_t n) { return Take(n); }
  // libtorch 2.3 added copy_data (pure virtual there, absent before).
  void copy_data(void* dest, const void* src, std::size_t count) const { std::memcpy(dest, src, count); }
  // The context is the data pointer itself, so ideep's raw_allocate/raw_deallocate work too.
  c10::DeleterFnPtr raw_deleter() const override { return &Free; }

  void Give(void* data) {
    if (GiveMapped(data) == 0) std::free(data);
  }

  // Returns the block's capacity, or 0 where it is not one of the cache's.
  std::size_t GiveMapped(void* data) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto used = in_use_blocks_.find(data);
    if (used == in_use_blocks_.end()) return 0;
    Block block = std::move(used->second);
    in_use_blocks_.erase(used);
    in_use_ -= block.capacity;
    const std::size_t capacity = block.capacity;
    Pool* pool = block.pool;
    pool->Keep(std::move(block));
    return capacity;
  }

  std::size_t Release() {
    std::lock_guard<std::mutex> lock(mutex_);
    const std::size_t freed = pages_.cached() + huge_pages_.cached();
    pages_.UnmapKept();
    huge_pages_.UnmapKept();
    peak_in_use_ = in_use_;
    return freed;
  }

  CpuBlockCacheStats Stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return {installed,    pages_.cached() + huge_pages_.cached(), in_use_,
            peak_in_use_, pages_.moved() + huge_pages_.moved(),   pages_.mapped() + huge_pages_.mapped()};
  }

  // A mapped block (of huge pages where InHugePages(n)); sets `taken` to its capacity.
  void* TakeMapped(std::size_t n, std::size_t* taken = nullptr) {
    std::lock_guard<std::mutex> lock(mutex_);
    Pool& pool = InHugePages(n) ? huge_pages_ : pages_;
    const std::size_t capacity = pool.Capacity(n);
    if (taken != nullptr) *taken = capacity;
    Block block = pool.Take(capacity, n);
    void* data = block.data;
    in_use_blocks_.emplace(data, std::move(block));
    in_use_ += capacity;
    if (in_use_ > peak_in_use_) peak_in_use_ = in_use_;
    return data;
  }

 private:
  c10::DataPtr Take(std::size_t n) const {
    void* data = n < kSmallestMapped ? TakeSmall(n) : const_cast<CpuBlockCache*>(this)->TakeMapped(n);
    return {data, data, &Free, c10::Device(c10::DeviceType::CPU)};
  }

  static void* TakeSmall(std::size_t n) {
    if (n == 0) return nullptr;
    void* data = nullptr;
    if (posix_memalign(&data, kAlignment, n) != 0) OutOfMemory(n);
    return data;
  }

  std::mutex mutex_;
  Pool pages_;
  Pool huge_pages_;
  std::unordered_map<void*, Block> in_use_blocks_;  // held by tensors, by data pointer
  std::size_t in_use_ = 0;                          // bytes held by tensors
  std::size_t peak_in_use_ = 0;                     // since the last release
};

// Made on first use, by whichever thread; never destroyed: tensors may be freed during the process's
// exit, after static destructors.
CpuBlockCache& Cache() {
  static CpuBlockCache* const cache = new CpuBlockCache();
  return *cache;
}

void Free(void* data) {
  if (data != nullptr) Cache().Give(data);
}

}  // namespace

void InstallCpuBlockCache() {
  if (installed) return;
  installed = true;
  // Above the default's priority, so that it wins whatever order static registration ran in.
  c10::SetCPUAllocator(&Cache(), /*priority=*/1);
}

bool InHugePages(std::size_t n) {
  if (n < kSmallestHuge) return false;
  const std::size_t rounding = (kHugePage - n % kHugePage) % kHugePage;
  return !HugePagesAllowed() || rounding <= n / kMostRounding;
}

void* TakeHugePageBlock(std::size_t n, std::size_t* capacity) {
  return Cache().TakeMapped(n, capacity);
}

std::size_t GiveHugePageBlock(void* data) {
  return Cache().GiveMapped(data);
}

std::size_t ReleaseCpuBlockCache() {
  return Cache().Release();
}

CpuBlockCacheStats GetCpuBlockCacheStats() {
  return Cache().Stats();
}

}  // namespace featshift
