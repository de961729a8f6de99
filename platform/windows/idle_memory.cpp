// Windows: the working set is emptied; pages come back from the standby list or the file at next use.
#include <winsock2.h>
// (winsock2.h first: windows.h would otherwise pull in winsock.h, which Asio refuses.)
#include <windows.h>

#include "core/idle_memory.hpp"

namespace postured {

void release_idle_memory() {
  // The heap itself is left to the CRT's allocator, which returns large free blocks on its own.
  ::SetProcessWorkingSetSize(::GetCurrentProcess(), static_cast<SIZE_T>(-1), static_cast<SIZE_T>(-1));
}

}  // namespace postured
