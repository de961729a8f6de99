#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/priority.hpp"

namespace postured {

void lower_own_priority() {
  ::setpriority(PRIO_PROCESS, 0, 10);
  // ioprio_set(2) has no glibc wrapper: IOPRIO_WHO_PROCESS = 1, class IDLE = 3 in bits 13 and up.
  constexpr int kWhoProcess = 1;
  constexpr int kClassIdle = 3;
  constexpr int kClassShift = 13;
  ::syscall(SYS_ioprio_set, kWhoProcess, 0, kClassIdle << kClassShift);
}

}  // namespace postured
