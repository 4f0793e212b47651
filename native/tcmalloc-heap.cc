// libtorch's CPU allocator where the system has tcmalloc: tensors from tcmalloc's page heap, loaded
// at run time, except those of 1 MiB and more that fit whole 2 MiB huge pages closely enough
// (InHugePages), which come from the block cache's huge-page blocks.
//
// Why tcmalloc for the others: the block cache moves pages between its blocks (cpu-block-cache.cc),
// and in base pages, under a hypervisor that shadows page tables, each moved page is faulted in
// again: vgg16/8, whose blocks below 1 MiB moved about 280 times a step, took 55-65 ms a step
// instead of 34. tcmalloc splits and merges free pages of small sizes without a system call.
// Why not tcmalloc for the large ones: its freed ranges are too short for the backward pass's
// larger gradients unless they happen to lie side by side, and the early-heavy member at 1/4
// peaked at 1046-1376 MB resident with it, 960-977 MB with the huge-page blocks.
//
// In a plain Node process (the library) only tensors come from tcmalloc: the addon calls its tc_*
// entry points by name, and the process's malloc stays glibc's. That keeps tensors away from the
// small native parts of Node-API's handles, which Node frees later, on the event loop (see
// cpu-block-cache.cc), and lets the library load it without LD_PRELOAD. Loaded with RTLD_LOCAL,
// tcmalloc's malloc and free do not replace glibc's for anyone else, so no pointer crosses from one
// heap to the other. The featshift command preloads tcmalloc (scripts/with-tcmalloc.sh): then the
// dlopen below finds that same library, and everything shares its one heap.
#include "tcmalloc-heap.h"

#include <c10/core/CPUAllocator.h>
#include <dlfcn.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "cpu-block-cache.h"

namespace featshift {
namespace {

// c10's alignment for CPU tensors.
constexpr std::size_t kAlignment = 64;

// The tcmalloc libraries, in the order scripts/with-tcmalloc.sh preloads them: the heap loads the
// one the command preloaded, and ProcessMalloc asks that one.
constexpr const char* kLibraries[] = {"libtcmalloc_minimal.so.4", "libtcmalloc.so.4"};

struct Tcmalloc {
  void* (*memalign)(std::size_t alignment, std::size_t n) = nullptr;
  void (*free)(void* data) = nullptr;
  std::size_t (*malloc_size)(void* data) = nullptr;
  int (*get_property)(const char* name, std::size_t* value) = nullptr;
  void (*release_free_memory)() = nullptr;
};

Tcmalloc tc;
std::atomic<std::size_t> in_use{0};
std::atomic<std::size_t> peak_in_use{0};

void Free(void* data) {
  if (data == nullptr) return;
  const std::size_t huge = GiveHugePageBlock(data);
  if (huge != 0) {
    in_use.fetch_sub(huge, std::memory_order_relaxed);
    return;
  }
  in_use.fetch_sub(tc.malloc_size(data), std::memory_order_relaxed);
  tc.free(data);
}

std::size_t Property(const char* name) {
  std::size_t value = 0;
  return tc.get_property(name, &value) != 0 ? value : 0;
}

class TcmallocHeap final : public c10::Allocator {
 public:
  // libtorch 2.3 made allocate non-const; whichever the base declares is overridden.
  c10::DataPtr allocate(std::size_t n) const { return Take(n); }
  c10::DataPtr allocate(std::size_t n) { return Take(n); }
  // libtorch 2.3 added copy_data (pure virtual there, absent before).
  void copy_data(void* dest, const void* src, std::size_t count) const { std::memcpy(dest, src, count); }
  // The context is the data pointer itself, so ideep's raw_allocate/raw_deallocate work too.
  c10::DeleterFnPtr raw_deleter() const override { return &Free; }

 private:
  static c10::DataPtr Take(std::size_t n) {
    void* data = nullptr;
    if (InHugePages(n)) {
      std::size_t size = 0;
      data = TakeHugePageBlock(n, &size);
      Count(size);
    } else if (n > 0) {
      data = tc.memalign(kAlignment, n);
      // The prefix the addon recognises as running out of memory (libtorch 1.13's own message).
      TORCH_CHECK(data != nullptr, "DefaultCPUAllocator: not enough memory: you tried to allocate ", n,
                  " bytes.");
      Count(tc.malloc_size(data));
    }
    return {data, data, &Free, c10::Device(c10::DeviceType::CPU)};
  }

  static void Count(std::size_t size) {
    const std::size_t now = in_use.fetch_add(size, std::memory_order_relaxed) + size;
    std::size_t peak = peak_in_use.load(std::memory_order_relaxed);
    while (now > peak && !peak_in_use.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
  }
};

template <typename Fn>
bool Resolve(void* library, const char* name, Fn* out) {
  *out = reinterpret_cast<Fn>(dlsym(library, name));
  return *out != nullptr;
}

bool installed = false;

}  // namespace

bool InstallTcmallocHeap() {
  if (installed) return true;
  // tcmalloc reads its release rate when it loads. By default it hands free pages back to the system
  // a few at a time, as tensors are freed, and every step then faulted them in again; at 0 it keeps
  // them until releaseHostMemory (once an epoch), as the block cache does. A rate the user set wins.
  const bool rate_set = std::getenv("TCMALLOC_RELEASE_RATE") != nullptr;
  if (!rate_set) setenv("TCMALLOC_RELEASE_RATE", "0", 0);
  void* library = nullptr;
  for (const char* name : kLibraries) {
    library = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (library != nullptr) break;
  }
  if (!rate_set) unsetenv("TCMALLOC_RELEASE_RATE");
  if (library == nullptr) return false;
  Tcmalloc found;
  if (!Resolve(library, "tc_memalign", &found.memalign) || !Resolve(library, "tc_free", &found.free) ||
      !Resolve(library, "tc_malloc_size", &found.malloc_size) ||
      !Resolve(library, "MallocExtension_GetNumericProperty", &found.get_property) ||
      !Resolve(library, "MallocExtension_ReleaseFreeMemory", &found.release_free_memory)) {
    dlclose(library);
    return false;
  }
  tc = found;
  installed = true;
  // Never unloaded or destroyed: tensors may be freed during the process's exit.
  // Above the default's priority, so that it wins whatever order static registration ran in.
  c10::SetCPUAllocator(new TcmallocHeap(), /*priority=*/1);
  return true;
}

bool TcmallocHeapInstalled() {
  return installed;
}

std::size_t ReleaseTcmallocHeap() {
  if (!installed) return 0;
  const std::size_t held = GetTcmallocHeapStats().freeBytes;
  tc.release_free_memory();
  ReleaseCpuBlockCache();
  peak_in_use.store(in_use.load(std::memory_order_relaxed), std::memory_order_relaxed);
  return held;
}

const char* ProcessMalloc() {
  // A block from the process's malloc, and whether a loaded tcmalloc owns it. (Comparing symbol
  // addresses cannot tell: Node's executable gives malloc a canonical address of its own.)
  for (const char* name : kLibraries) {
    void* library = dlopen(name, RTLD_NOW | RTLD_NOLOAD);
    if (library == nullptr) continue;
    using Ownership = int (*)(const void*);
    auto ownership = reinterpret_cast<Ownership>(dlsym(library, "MallocExtension_GetOwnership"));
    void* block = std::malloc(64);
    // MallocExtension::kOwned
    const bool owned = ownership != nullptr && ownership(block) == 1;
    std::free(block);
    dlclose(library);
    if (owned) return "tcmalloc";
  }
  // jemalloc and mimalloc, preloaded, export these.
  if (dlsym(RTLD_DEFAULT, "mallctl") != nullptr || dlsym(RTLD_DEFAULT, "mi_malloc") != nullptr)
    return "other";
  return "glibc";
}

TcmallocHeapStats GetTcmallocHeapStats() {
  if (!installed) return {0, 0, 0};
  // Free pages still mapped, the free objects of tcmalloc's per-size caches, and the huge-page
  // blocks kept.
  const std::size_t free = Property("tcmalloc.pageheap_free_bytes") +
                           Property("tcmalloc.central_cache_free_bytes") +
                           Property("tcmalloc.transfer_cache_free_bytes") +
                           Property("tcmalloc.thread_cache_free_bytes") + GetCpuBlockCacheStats().cachedBytes;
  return {free, in_use.load(std::memory_order_relaxed), peak_in_use.load(std::memory_order_relaxed)};
}

}  // namespace featshift
