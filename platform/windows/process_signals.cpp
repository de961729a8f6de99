#include "core/process_signals.hpp"

#include <csignal>

namespace postured {

// The C runtime raises SIGINT on Ctrl-C and SIGBREAK on Ctrl-Break in a console; the service glue
// stops the daemon through the same path. There is no SIGHUP: a reload comes from the service glue.
const ProcessSignals& process_signals() {
  static const ProcessSignals signals{{{SIGINT, "SIGINT"}, {SIGTERM, "SIGTERM"}, {SIGBREAK, "SIGBREAK"}}, std::nullopt};
  return signals;
}

}  // namespace postured
