// The SCM side of postured: install/uninstall, the ServiceMain glue, and the ServiceManager that
// reports start-up, running, stopping and the exit code to the SCM.
#include "service.hpp"

#include <winsock2.h>
// (winsock2.h first: windows.h would otherwise pull in winsock.h, which Asio refuses.)
#include <windows.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <thread>
#include <vector>

#include "core/log.hpp"
#include "core/service_manager.hpp"
#include "utf16.hpp"

namespace postured {
namespace windows {
namespace {

using Clock = std::chrono::steady_clock;
// How often a waiting caller (start_service, stop_service) asks the SCM again.
constexpr std::chrono::milliseconds kPollInterval{100};

// Closes an SC_HANDLE on every path out of a scope.
class ScHandle {
 public:
  explicit ScHandle(SC_HANDLE handle) : handle_(handle) {}
  ~ScHandle() {
    if (handle_) ::CloseServiceHandle(handle_);
  }
  ScHandle(const ScHandle&) = delete;
  ScHandle& operator=(const ScHandle&) = delete;
  SC_HANDLE get() const { return handle_; }
  explicit operator bool() const { return handle_ != nullptr; }

 private:
  SC_HANDLE handle_;
};

std::string scm_error(std::string_view what) {
  return std::string(what) + ": " + last_error_text();
}

// The one service this process runs as, shared between ServiceMain, the control handler, the
// ServiceManager the daemon reports through, and the stall monitor.
class RunningService {
 public:
  static RunningService& instance() {
    static RunningService service;
    return service;
  }

  void begin(SERVICE_STATUS_HANDLE handle) {
    std::lock_guard lock(mutex_);
    handle_ = handle;
    status_ = {};
    status_.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
    report(SERVICE_START_PENDING, NO_ERROR, 0, service::kStartWaitHint);
  }
  bool active() const {
    std::lock_guard lock(mutex_);
    return handle_ != nullptr;
  }

  void running() {
    {
      std::lock_guard lock(mutex_);
      if (!handle_) return;
      report(SERVICE_RUNNING, NO_ERROR, 0, {});
      last_ping_ = Clock::now();
    }
    start_monitor();
  }
  void stopping() {
    std::lock_guard lock(mutex_);
    if (!handle_) return;
    // Each report while stopping is one more step: the checkpoint tells the SCM it is not stuck.
    report(SERVICE_STOP_PENDING, NO_ERROR, 0, service::kStopWaitHint);
  }
  void ping() {
    std::lock_guard lock(mutex_);
    last_ping_ = Clock::now();
    if (handle_ && status_.dwCurrentState == SERVICE_STOP_PENDING) {
      report(SERVICE_STOP_PENDING, NO_ERROR, 0, service::kStopWaitHint);
    }
  }
  void stopped(int exit_code) {
    stop_monitor();
    std::lock_guard lock(mutex_);
    if (!handle_) return;
    // A non-zero exit code is the daemon's (2 configuration, 3 runtime failure): the SCM shows it as
    // SERVICE_EXIT_CODE, and recovery restarts the service (failure actions on non-crash failures).
    report(SERVICE_STOPPED, exit_code == 0 ? NO_ERROR : ERROR_SERVICE_SPECIFIC_ERROR, static_cast<DWORD>(exit_code),
           {});
    handle_ = nullptr;  // the SCM may end the process any moment from here
  }

 private:
  // Caller holds mutex_.
  void report(DWORD state, DWORD win32_exit, DWORD service_exit, std::chrono::seconds wait_hint) {
    const bool pending = state == SERVICE_START_PENDING || state == SERVICE_STOP_PENDING;
    status_.dwCurrentState = state;
    status_.dwWin32ExitCode = win32_exit;
    status_.dwServiceSpecificExitCode = service_exit;
    status_.dwWaitHint = static_cast<DWORD>(std::chrono::duration_cast<std::chrono::milliseconds>(wait_hint).count());
    status_.dwCheckPoint = pending ? status_.dwCheckPoint + 1 : 0;
    // Stop is accepted only once the daemon's signal handling is in place (running): before that,
    // SIGTERM would end the process without an orderly shutdown.
    status_.dwControlsAccepted = state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN : 0;
    if (!::SetServiceStatus(handle_, &status_)) {
      log::warn("cannot report the service status to the SCM: ", last_error_text());
    }
  }

  void start_monitor() {
    std::lock_guard lock(monitor_mutex_);
    if (monitor_.joinable()) return;
    monitor_stop_ = false;
    monitor_ = std::thread([this] { monitor(); });
  }
  void stop_monitor() {
    {
      std::lock_guard lock(monitor_mutex_);
      monitor_stop_ = true;
    }
    monitor_wake_.notify_all();
    if (monitor_.joinable() && monitor_.get_id() != std::this_thread::get_id()) monitor_.join();
  }

  // The SCM has no watchdog of its own: this thread is it. A loop that stopped pinging is reported
  // stopped with kStalledExitCode and the process ends, so the SCM's recovery restarts it.
  void monitor() {
    std::unique_lock lock(monitor_mutex_);
    while (!monitor_wake_.wait_for(lock, service::kWatchdogInterval / 4, [this] { return monitor_stop_; })) {
      Clock::time_point last;
      {
        std::lock_guard status_lock(mutex_);
        last = last_ping_;
      }
      if (Clock::now() - last < service::kWatchdogInterval) continue;
      log::error("the agent's loop has not answered for ", service::kWatchdogInterval.count(),
                 " s; stopping so that the service manager restarts it");
      {
        std::lock_guard status_lock(mutex_);
        if (handle_) report(SERVICE_STOPPED, ERROR_SERVICE_SPECIFIC_ERROR, service::kStalledExitCode, {});
        handle_ = nullptr;
      }
      ::TerminateProcess(::GetCurrentProcess(), service::kStalledExitCode);
    }
  }

  mutable std::mutex mutex_;
  SERVICE_STATUS_HANDLE handle_ = nullptr;
  SERVICE_STATUS status_{};
  Clock::time_point last_ping_ = Clock::now();

  std::mutex monitor_mutex_;
  std::condition_variable monitor_wake_;
  bool monitor_stop_ = false;
  std::thread monitor_;
};

// What ServiceMain runs; set by run_as_service before the dispatcher starts.
const std::function<int()>* g_daemon_main = nullptr;
std::wstring g_service_name;
int g_exit_code = 0;

DWORD WINAPI control_handler(DWORD control, DWORD, void*, void*) {
  switch (control) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN:
      RunningService::instance().stopping();
      // Runtime's signal_set turns this into the same orderly shutdown as SIGTERM on Linux.
      std::raise(SIGTERM);
      return NO_ERROR;
    case SERVICE_CONTROL_INTERROGATE: return NO_ERROR;
    default: return ERROR_CALL_NOT_IMPLEMENTED;
  }
}

void WINAPI service_main(DWORD, LPWSTR*) {
  auto& service = RunningService::instance();
  SERVICE_STATUS_HANDLE handle = ::RegisterServiceCtrlHandlerExW(g_service_name.c_str(), control_handler, nullptr);
  if (!handle) {
    log::error("cannot register the service control handler: ", last_error_text());
    g_exit_code = 3;
    return;
  }
  service.begin(handle);
  int code = 3;
  try {
    code = (*g_daemon_main)();
  } catch (const std::exception& e) {
    log::error("the agent stopped on an unexpected error: ", e.what());
  }
  g_exit_code = code;
  service.stopped(code);
}

class ScmServiceManager final : public ServiceManager {
 public:
  void ready() override { RunningService::instance().running(); }
  // The SCM has no reloading state: the service stays RUNNING through a reload.
  void reloading() override {}
  void stopping() override { RunningService::instance().stopping(); }
  void watchdog() override { RunningService::instance().ping(); }
  // The SCM shows no free text; the log carries it.
  void status(std::string_view text) override { log::debug("service status: ", text); }
  std::optional<std::chrono::microseconds> watchdog_interval() const override {
    if (!RunningService::instance().active()) return std::nullopt;
    return std::chrono::duration_cast<std::chrono::microseconds>(service::kWatchdogInterval);
  }
};

std::optional<SERVICE_STATUS_PROCESS> query_status(SC_HANDLE handle) {
  SERVICE_STATUS_PROCESS status{};
  DWORD needed = 0;
  if (!::QueryServiceStatusEx(handle, SC_STATUS_PROCESS_INFO, reinterpret_cast<BYTE*>(&status), sizeof status,
                              &needed)) {
    return std::nullopt;
  }
  return status;
}

// Waits until the service is in none of the `pending` states, or the deadline passes.
std::optional<SERVICE_STATUS_PROCESS> wait_while(SC_HANDLE handle, DWORD pending, Clock::time_point deadline) {
  for (;;) {
    auto status = query_status(handle);
    if (!status || status->dwCurrentState != pending || Clock::now() >= deadline) return status;
    std::this_thread::sleep_for(kPollInterval);
  }
}

std::wstring quoted(const std::wstring& text) {
  return L"\"" + text + L"\"";
}

}  // namespace

std::string install_service(const std::filesystem::path& exe, const std::filesystem::path& config,
                            std::wstring_view name) {
  return install_service_with_arguments(
      exe, to_utf16(service::kServiceFlag) + L" --config " + quoted(std::filesystem::absolute(config).native()), name);
}

std::string install_service_with_arguments(const std::filesystem::path& exe, std::wstring_view arguments,
                                           std::wstring_view name) {
  ScHandle scm(::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CREATE_SERVICE));
  if (!scm) return scm_error("cannot open the service control manager (run as Administrator)");
  const std::wstring command_line = quoted(std::filesystem::absolute(exe).native()) + L" " + std::wstring(arguments);
  const std::wstring service_name(name);
  const std::wstring display(service::kDisplayName);
  // lpServiceStartName nullptr: LocalSystem, which the key store's DACL and DPAPI's machine scope expect.
  ScHandle created(::CreateServiceW(scm.get(), service_name.c_str(), display.c_str(), SERVICE_ALL_ACCESS,
                                    SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START, SERVICE_ERROR_NORMAL,
                                    command_line.c_str(), nullptr, nullptr, nullptr, nullptr, nullptr));
  if (!created) {
    if (::GetLastError() == ERROR_SERVICE_EXISTS) {
      return "a service named " + to_utf8(service_name) + " is already installed (--uninstall-service first)";
    }
    return scm_error("cannot create the service " + to_utf8(service_name));
  }
  std::wstring description(service::kDescription);
  SERVICE_DESCRIPTIONW description_info{description.data()};
  ::ChangeServiceConfig2W(created.get(), SERVICE_CONFIG_DESCRIPTION, &description_info);
  // Recovery: restart after a crash, a non-zero exit code or a stall (kStalledExitCode).
  SC_ACTION actions[3];
  for (auto& action : actions) {
    action.Type = SC_ACTION_RESTART;
    action.Delay =
        static_cast<DWORD>(std::chrono::duration_cast<std::chrono::milliseconds>(service::kRestartDelay).count());
  }
  SERVICE_FAILURE_ACTIONSW failure{};
  failure.dwResetPeriod =
      static_cast<DWORD>(std::chrono::duration_cast<std::chrono::seconds>(service::kFailureCountReset).count());
  failure.cActions = 3;
  failure.lpsaActions = actions;
  if (!::ChangeServiceConfig2W(created.get(), SERVICE_CONFIG_FAILURE_ACTIONS, &failure)) {
    log::warn("service installed, but its recovery actions could not be set: ", last_error_text());
  }
  SERVICE_FAILURE_ACTIONS_FLAG on_exit_codes{TRUE};
  ::ChangeServiceConfig2W(created.get(), SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &on_exit_codes);
  return "";
}

std::string uninstall_service(std::wstring_view name, std::chrono::milliseconds stop_timeout) {
  ScHandle scm(::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
  if (!scm) return scm_error("cannot open the service control manager (run as Administrator)");
  const std::wstring service_name(name);
  ScHandle handle(::OpenServiceW(scm.get(), service_name.c_str(), DELETE | SERVICE_STOP | SERVICE_QUERY_STATUS));
  if (!handle) {
    if (::GetLastError() == ERROR_SERVICE_DOES_NOT_EXIST)
      return "no service named " + to_utf8(service_name) + " is installed";
    return scm_error("cannot open the service " + to_utf8(service_name));
  }
  auto status = query_status(handle.get());
  if (status && status->dwCurrentState != SERVICE_STOPPED) {
    SERVICE_STATUS ignored{};
    ::ControlService(handle.get(), SERVICE_CONTROL_STOP, &ignored);
    status = wait_while(handle.get(), SERVICE_STOP_PENDING, Clock::now() + stop_timeout);
    if (status && status->dwCurrentState != SERVICE_STOPPED) {
      log::warn("the service did not stop within ", stop_timeout.count(), " ms; it is removed once it stops");
    }
  }
  if (!::DeleteService(handle.get()) && ::GetLastError() != ERROR_SERVICE_MARKED_FOR_DELETE) {
    return scm_error("cannot delete the service " + to_utf8(service_name));
  }
  return "";
}

int run_as_service(const std::function<int()>& daemon_main, std::string* why, std::wstring_view name) {
  g_daemon_main = &daemon_main;
  g_service_name = std::wstring(name);
  SERVICE_TABLE_ENTRYW table[] = {{g_service_name.data(), service_main}, {nullptr, nullptr}};
  if (!::StartServiceCtrlDispatcherW(table)) {
    const DWORD code = ::GetLastError();
    if (why) {
      *why = code == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT
                 ? "not started by the service control manager (" + std::string(service::kServiceFlag) +
                       " is for the SCM; run without it in a console)"
                 : "cannot connect to the service control manager: " + error_text(code);
    }
    return -1;
  }
  return g_exit_code;
}

std::optional<ServiceState> query_service(std::wstring_view name, std::string* why) {
  ScHandle scm(::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
  if (!scm) {
    if (why) *why = scm_error("cannot open the service control manager");
    return std::nullopt;
  }
  const std::wstring service_name(name);
  ScHandle handle(::OpenServiceW(scm.get(), service_name.c_str(), SERVICE_QUERY_STATUS | SERVICE_QUERY_CONFIG));
  if (!handle) {
    if (why) *why = scm_error("cannot open the service " + to_utf8(service_name));
    return std::nullopt;
  }
  const auto status = query_status(handle.get());
  if (!status) {
    if (why) *why = scm_error("cannot query the service " + to_utf8(service_name));
    return std::nullopt;
  }
  ServiceState state;
  state.state = status->dwCurrentState;
  state.win32_exit_code = status->dwWin32ExitCode;
  state.service_exit_code = status->dwServiceSpecificExitCode;
  state.checkpoint = status->dwCheckPoint;
  DWORD needed = 0;
  ::QueryServiceConfigW(handle.get(), nullptr, 0, &needed);
  std::vector<unsigned char> buffer(needed);
  if (needed > 0 &&
      ::QueryServiceConfigW(handle.get(), reinterpret_cast<QUERY_SERVICE_CONFIGW*>(buffer.data()), needed, &needed)) {
    const auto* config = reinterpret_cast<QUERY_SERVICE_CONFIGW*>(buffer.data());
    state.start_type = config->dwStartType;
    if (config->lpBinaryPathName) state.command_line = to_utf8(config->lpBinaryPathName);
    if (config->lpServiceStartName) state.account = to_utf8(config->lpServiceStartName);
  }
  return state;
}

std::string start_service(std::wstring_view name, std::chrono::milliseconds timeout) {
  ScHandle scm(::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
  if (!scm) return scm_error("cannot open the service control manager");
  const std::wstring service_name(name);
  ScHandle handle(::OpenServiceW(scm.get(), service_name.c_str(), SERVICE_START | SERVICE_QUERY_STATUS));
  if (!handle) return scm_error("cannot open the service " + to_utf8(service_name));
  if (!::StartServiceW(handle.get(), 0, nullptr)) return scm_error("cannot start the service " + to_utf8(service_name));
  const auto status = wait_while(handle.get(), SERVICE_START_PENDING, Clock::now() + timeout);
  if (!status) return scm_error("cannot query the service " + to_utf8(service_name));
  if (status->dwCurrentState != SERVICE_RUNNING) {
    return "the service " + to_utf8(service_name) + " is in state " + std::to_string(status->dwCurrentState) +
           ", not running (exit code " + std::to_string(status->dwServiceSpecificExitCode) + ")";
  }
  return "";
}

std::string stop_service(std::wstring_view name, std::chrono::milliseconds timeout) {
  ScHandle scm(::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
  if (!scm) return scm_error("cannot open the service control manager");
  const std::wstring service_name(name);
  ScHandle handle(::OpenServiceW(scm.get(), service_name.c_str(), SERVICE_STOP | SERVICE_QUERY_STATUS));
  if (!handle) return scm_error("cannot open the service " + to_utf8(service_name));
  SERVICE_STATUS ignored{};
  if (!::ControlService(handle.get(), SERVICE_CONTROL_STOP, &ignored)) {
    return scm_error("cannot stop the service " + to_utf8(service_name));
  }
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const auto status = query_status(handle.get());
    if (!status) return scm_error("cannot query the service " + to_utf8(service_name));
    if (status->dwCurrentState == SERVICE_STOPPED) return "";
    if (Clock::now() >= deadline) {
      return "the service " + to_utf8(service_name) + " did not stop within " + std::to_string(timeout.count()) + " ms";
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

}  // namespace windows

std::unique_ptr<ServiceManager> connect_service_manager() {
  return std::make_unique<windows::ScmServiceManager>();
}

}  // namespace postured

namespace postured {

int run_daemon_under_service_manager(bool started_as_service, const std::function<int()>& daemon_main,
                                     std::string* why) {
  // In a console (a technician's test run), the daemon runs as it is; Ctrl-C stops it.
  if (!started_as_service) return daemon_main();
  const int code = windows::run_as_service(daemon_main, why);
  return code < 0 ? 2 : code;
}

std::string install_service(const std::filesystem::path& program, const std::filesystem::path& config) {
  if (!program.empty()) return windows::install_service(program, config);
  // This executable, by the path Windows loaded it from (argv[0] may be a bare name found on PATH).
  std::wstring self(MAX_PATH, L'\0');
  for (;;) {
    const DWORD n = ::GetModuleFileNameW(nullptr, self.data(), static_cast<DWORD>(self.size()));
    if (n == 0) return "cannot find this program's own path: " + windows::last_error_text();
    if (n < self.size()) {
      self.resize(n);
      break;
    }
    self.resize(2 * self.size());
  }
  return windows::install_service(std::filesystem::path(self), config);
}

std::string uninstall_service() {
  return windows::uninstall_service();
}

}  // namespace postured
