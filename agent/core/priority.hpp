#pragma once

namespace postured {

// Runs the calling process at low CPU and I/O priority (nice 10, idle I/O class where the platform
// has one): a scan of logs must not slow the till. Best effort; failures are ignored.
void lower_own_priority();

}  // namespace postured
