// Windows: background processing mode lowers the process's CPU, I/O and memory priority in one call
// (the idle I/O class of Linux's ioprio_set has no closer equivalent).
#include <winsock2.h>
// (winsock2.h first: windows.h would otherwise pull in winsock.h, which Asio refuses.)
#include <windows.h>

#include "core/priority.hpp"

namespace postured {

void lower_own_priority() {
  // Background mode can be refused (an older Windows, Wine); below-normal CPU priority is the fallback,
  // Linux's nice 10.
  if (!::SetPriorityClass(::GetCurrentProcess(), PROCESS_MODE_BACKGROUND_BEGIN)) {
    ::SetPriorityClass(::GetCurrentProcess(), BELOW_NORMAL_PRIORITY_CLASS);
  }
}

}  // namespace postured
