// Linux: malloc_trim, then MADV_PAGEOUT (Linux 5.4+) over the read-only file mappings of
// /proc/self/maps. Writable mappings are left alone: their dirty pages could only go to swap.
#include <sys/mman.h>

#include <cstdint>
#include <fstream>
#include <string>
// After a libc header: __GLIBC__ comes from <features.h>.
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "core/idle_memory.hpp"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21  // linux/mman.h; glibc 2.36 headers have it, older ones not
#endif

namespace postured {

void release_idle_memory() {
#if defined(__GLIBC__)
  ::malloc_trim(0);
#endif
  // A maps line: "start-end perms offset dev inode path"; file mappings have a path starting with '/'.
  std::ifstream maps("/proc/self/maps");
  std::string range, perms, offset, device, inode, path;
  while (maps >> range >> perms >> offset >> device >> inode) {
    std::getline(maps, path);
    const auto start = path.find_first_not_of(' ');
    if (start == std::string::npos || path[start] != '/' || perms.find('w') != std::string::npos) continue;
    const auto dash = range.find('-');
    const std::uintptr_t from = std::stoull(range.substr(0, dash), nullptr, 16);
    const std::uintptr_t to = std::stoull(range.substr(dash + 1), nullptr, 16);
    // EINVAL on kernels before 5.4: nothing is released, nothing breaks.
    ::madvise(reinterpret_cast<void*>(from), to - from, MADV_PAGEOUT);
  }
}

}  // namespace postured
