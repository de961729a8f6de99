// Tells the service manager (systemd on Linux, the SCM on Windows) how the agent is doing.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace postured {

class ServiceManager {
 public:
  virtual ~ServiceManager() = default;
  // Start-up is complete and the agent is serving.
  virtual void ready() = 0;
  // A configuration reload has begun; ready() follows when it is done.
  virtual void reloading() = 0;
  // Shutdown has begun.
  virtual void stopping() = 0;
  // The agent is alive; must be sent more often than watchdog_interval().
  virtual void watchdog() = 0;
  // One line of free-form status that the service manager shows.
  virtual void status(std::string_view text) = 0;
  // How often the service manager expects watchdog(); nullopt when it does not.
  virtual std::optional<std::chrono::microseconds> watchdog_interval() const = 0;
};

// The service manager this process runs under, from its environment; does nothing when there is none.
std::unique_ptr<ServiceManager> connect_service_manager();

// The daemon's main under the platform's service manager. `started_as_service`: the command line
// said the service manager started it (postured --service, which --install-service puts there).
// Linux: systemd starts an ordinary process, so `daemon_main` just runs. Windows: the process hands
// itself to the SCM first and `daemon_main` runs on the service's thread; the SCM's Stop arrives as
// SIGTERM. Returns daemon_main's exit code, or 2 with `why` when the SCM did not start this process.
int run_daemon_under_service_manager(bool started_as_service, const std::function<int()>& daemon_main,
                                     std::string* why);

// Registers `program` (empty: the running executable) as a service started at boot with
// `--service --config <config>` (Windows: an
// automatic LocalSystem service with restart on failure). Empty on success, otherwise why not; on
// Linux the package's systemd unit does this, and the answer says so.
std::string install_service(const std::filesystem::path& program, const std::filesystem::path& config);
// Stops and removes what install_service registered. Empty on success, otherwise why not.
std::string uninstall_service();

}  // namespace postured
