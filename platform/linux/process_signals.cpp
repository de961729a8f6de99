#include "core/process_signals.hpp"

#include <csignal>

namespace postured {

// systemd stops a unit with SIGTERM and reloads it with SIGHUP (ExecReload=kill -HUP); Ctrl-C is SIGINT.
const ProcessSignals& process_signals() {
  static const ProcessSignals signals{{{SIGINT, "SIGINT"}, {SIGTERM, "SIGTERM"}}, ProcessSignal{SIGHUP, "SIGHUP"}};
  return signals;
}

}  // namespace postured
