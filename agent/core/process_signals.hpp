// The signals the daemon's event loop (core/runtime.cpp) waits for. Which exist depends on the
// platform (Windows has no SIGHUP; its service manager asks for a reload through the service glue),
// so each platform layer lists them: platform/<platform>/process_signals.cpp.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace postured {

struct ProcessSignal {
  int number = 0;
  std::string_view name;  // for the log: "SIGTERM"
};

struct ProcessSignals {
  std::vector<ProcessSignal> stop;      // each one shuts the daemon down
  std::optional<ProcessSignal> reload;  // re-reads the configuration; nullopt where there is none
};

const ProcessSignals& process_signals();

}  // namespace postured
