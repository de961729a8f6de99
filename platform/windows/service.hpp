// postured as a Windows service: registering it with the Service Control Manager (SCM), and the
// glue the daemon's main calls when the SCM starts it. connect_service_manager() (service_manager.hpp)
// then reports the agent's progress to the SCM; outside a service it does nothing.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace postured::windows {

// The service as the SCM knows it, stated once.
namespace service {
// The name for `sc start postured`, `net stop postured`.
inline constexpr std::wstring_view kName = L"postured";
inline constexpr std::wstring_view kDisplayName = L"postured posture agent";
inline constexpr std::wstring_view kDescription =
    L"Keeps POS customer caches encrypted, checks patch level and hardening, and reports posture to the console.";
// The argument that tells postured.exe the SCM started it (the installed command line carries it).
inline constexpr std::string_view kServiceFlag = "--service";
// What the SCM is told to allow for start-up before it calls the start a failure.
inline constexpr std::chrono::seconds kStartWaitHint{30};
// ... and for shutting down, per step (each stopping() report is a step).
inline constexpr std::chrono::seconds kStopWaitHint{30};
// A loop that has not pinged (ServiceManager::watchdog) for this long is stalled: the service reports
// itself stopped with kStalledExitCode and ends, and the SCM's recovery actions restart it. The
// daemon's runtime pings at half this interval. The same 3 minutes as the systemd unit's WatchdogSec
// (packaging/systemd/postured.service): a cycle's cache work on the loop may take that long on Linux too.
inline constexpr std::chrono::seconds kWatchdogInterval{180};
// Service-specific exit code (`sc query postured` shows it as SERVICE_EXIT_CODE) for a stalled loop;
// the daemon's own exit codes (1 to 3, DESIGN.md) are reported the same way.
inline constexpr unsigned long kStalledExitCode = 4;
// Recovery: restart this long after a failure, for the first three failures in a day.
inline constexpr std::chrono::seconds kRestartDelay{10};
inline constexpr std::chrono::hours kFailureCountReset{24};
}  // namespace service

// Registers `exe` as an automatically started service running as LocalSystem, with the command line
// `"<exe>" --service --config "<config>"`, restart-on-failure recovery, and kDescription.
// Empty on success, otherwise why not (not an administrator, already installed, ...).
std::string install_service(const std::filesystem::path& exe, const std::filesystem::path& config,
                            std::wstring_view name = service::kName);
// The same with the command line after the quoted program given as it is (the tests install
// the test program itself this way).
std::string install_service_with_arguments(const std::filesystem::path& exe, std::wstring_view arguments,
                                           std::wstring_view name);

// Stops the service if it runs (waiting up to `stop_timeout`) and removes it. Empty on success.
std::string uninstall_service(std::wstring_view name = service::kName,
                              std::chrono::milliseconds stop_timeout = std::chrono::seconds(30));

// Hands the process to the SCM and runs `daemon_main` on the service's thread; returns its exit code
// once the service has stopped. The SCM's Stop and Shutdown controls raise SIGTERM in this process,
// so the daemon's signal handling (Runtime) stops it as on Linux. Returns -1 (and `why`) when the
// process was not started by the SCM (StartServiceCtrlDispatcher fails).
int run_as_service(const std::function<int()>& daemon_main, std::string* why = nullptr,
                   std::wstring_view name = service::kName);

// What the SCM shows for a service (`sc query`): for status output and tests.
struct ServiceState {
  unsigned long state = 0;            // SERVICE_STOPPED, SERVICE_RUNNING, SERVICE_STOP_PENDING, ...
  unsigned long win32_exit_code = 0;  // ERROR_SERVICE_SPECIFIC_ERROR when service_exit_code holds the code
  unsigned long service_exit_code = 0;
  unsigned long checkpoint = 0;
  unsigned long start_type = 0;  // SERVICE_AUTO_START, SERVICE_DEMAND_START, SERVICE_DISABLED, ...
  std::string command_line;      // the program and its arguments, as the SCM starts it
  std::string account;           // the account it runs as: "LocalSystem"
};
std::optional<ServiceState> query_service(std::wstring_view name, std::string* why = nullptr);

// Starts the service and waits up to `timeout` for it to leave START_PENDING. Empty on success.
std::string start_service(std::wstring_view name, std::chrono::milliseconds timeout);
// Sends Stop and waits up to `timeout` for SERVICE_STOPPED. Empty on success.
std::string stop_service(std::wstring_view name, std::chrono::milliseconds timeout);

}  // namespace postured::windows
