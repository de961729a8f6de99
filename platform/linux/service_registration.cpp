// Linux: systemd starts postured as an ordinary process from the unit the package installs, so there
// is nothing to hand over and nothing to register from the daemon itself.
#include "core/service_manager.hpp"

namespace postured {

int run_daemon_under_service_manager(bool, const std::function<int()>& daemon_main, std::string*) {
  return daemon_main();
}

std::string install_service(const std::filesystem::path&, const std::filesystem::path&) {
  return "on Linux the package installs the systemd unit postured.service: systemctl enable --now postured";
}

std::string uninstall_service() {
  return "on Linux the package removes the systemd unit postured.service: systemctl disable --now postured";
}

}  // namespace postured
