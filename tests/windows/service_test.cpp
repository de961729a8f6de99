// postured as a Windows service (platform/windows/service.cpp) under the real service control
// manager (Wine's services.exe here): this test program installs itself as a service, starts it,
// stops it, reads the exit code the SCM shows, and removes it.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "core/asio.hpp"

#include <csignal>
#include <fstream>
#include <iterator>
#include <optional>
#include <thread>

#include "core/host.hpp"
#include "core/service_manager.hpp"
#include "self_process.hpp"
#include "service.hpp"

using Catch::Matchers::ContainsSubstring;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace service = postured::windows::service;

namespace {

// Services do not inherit the test's environment: the service side writes what happens here.
const fs::path kJournalDir = L"C:\\ProgramData\\postured-service-test";
constexpr std::wstring_view kTestServiceName = L"postured-test";

fs::path journal() {
  return kJournalDir / "journal.txt";
}

void note(const std::string& line) {
  std::ofstream out(journal(), std::ios::app | std::ios::binary);
  out << line << "\n";
}

std::string read_journal() {
  std::ifstream in(journal(), std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// What the daemon's Runtime does, in small: signals stop the loop, the service manager hears
// ready / stopping, and the loop pings the watchdog when asked to.
int serve_until_stopped() {
  boost::asio::io_context io;
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  auto manager = postured::connect_service_manager();
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    note("signal " + std::to_string(signal));
    manager->stopping();
    io.stop();
  });
  note(std::string("watchdog ") + (manager->watchdog_interval() ? "on" : "off"));
  manager->watchdog();
  manager->ready();
  note("running");
  io.run();
  return 0;
}

// Removes the test service left by an earlier, interrupted run, and the journal.
void clean_up() {
  postured::windows::uninstall_service(kTestServiceName, 10s);
  std::error_code ignored;
  fs::remove_all(kJournalDir, ignored);
  fs::create_directories(kJournalDir);
}

}  // namespace

// The service side, started by the SCM with the command line the tests below install.
TEST_CASE("windows service host", "[.][service-host]") {
  std::string why;
  const int code = postured::windows::run_as_service(serve_until_stopped, &why, kTestServiceName);
  note("exit " + std::to_string(code) + (why.empty() ? "" : " " + why));
}

TEST_CASE("windows service host that fails", "[.][service-host]") {
  std::string why;
  // The daemon's exit code for a configuration error.
  const int code = postured::windows::run_as_service([] { return 2; }, &why, kTestServiceName);
  note("exit " + std::to_string(code) + (why.empty() ? "" : " " + why));
}

TEST_CASE("windows service: install, start, stop and uninstall under the service control manager",
          "[windows][service]") {
  clean_up();
  const auto exe = postured::test::own_executable();
  REQUIRE(postured::windows::install_service_with_arguments(exe, L"\"windows service host\"", kTestServiceName) == "");
  // A second install of the same name is refused with a reason.
  CHECK_THAT(postured::windows::install_service_with_arguments(exe, L"x", kTestServiceName),
             ContainsSubstring("already installed"));

  auto state = postured::windows::query_service(kTestServiceName);
  REQUIRE(state);
  CHECK(state->state == SERVICE_STOPPED);
  CHECK(state->start_type == SERVICE_AUTO_START);
  // The Host sees what the SCM starts at boot.
  const auto host = postured::open_host("C:\\");
  CHECK(host->service_enabled(std::string(kTestServiceName.begin(), kTestServiceName.end())));
  CHECK(host->service_enabled("postured-test.service"));

  REQUIRE(postured::windows::start_service(kTestServiceName, 30s) == "");
  state = postured::windows::query_service(kTestServiceName);
  REQUIRE(state);
  CHECK(state->state == SERVICE_RUNNING);
  CHECK(state->win32_exit_code == NO_ERROR);

  REQUIRE(postured::windows::stop_service(kTestServiceName, 30s) == "");
  state = postured::windows::query_service(kTestServiceName);
  REQUIRE(state);
  CHECK(state->state == SERVICE_STOPPED);
  CHECK(state->win32_exit_code == NO_ERROR);  // a clean stop: exit code 0

  const auto journal_text = read_journal();
  INFO(journal_text);
  // The SCM's Stop arrived as SIGTERM (15) through the same signal handling as on Linux.
  CHECK(journal_text == "watchdog on\nrunning\nsignal 15\nexit 0\n");

  REQUIRE(postured::windows::uninstall_service(kTestServiceName) == "");
  std::string why;
  CHECK_FALSE(postured::windows::query_service(kTestServiceName, &why));
  CHECK_THAT(why, ContainsSubstring("1060"));  // ERROR_SERVICE_DOES_NOT_EXIST
  CHECK_FALSE(postured::open_host("C:\\")->service_enabled("postured-test"));
  CHECK_THAT(postured::windows::uninstall_service(kTestServiceName), ContainsSubstring("no service named"));
}

TEST_CASE("windows service: the daemon's exit code is what the SCM shows", "[windows][service]") {
  clean_up();
  REQUIRE(postured::windows::install_service_with_arguments(
              postured::test::own_executable(), L"\"windows service host that fails\"", kTestServiceName) == "");
  // It stops at once: start_service reports that it is not running, with the code.
  CHECK_THAT(postured::windows::start_service(kTestServiceName, 30s), ContainsSubstring("exit code 2"));
  std::optional<postured::windows::ServiceState> state;
  for (int i = 0; i < 100; ++i) {
    state = postured::windows::query_service(kTestServiceName);
    if (state && state->state == SERVICE_STOPPED) break;
    std::this_thread::sleep_for(100ms);
  }
  REQUIRE(state);
  CHECK(state->state == SERVICE_STOPPED);
  CHECK(state->win32_exit_code == ERROR_SERVICE_SPECIFIC_ERROR);
  CHECK(state->service_exit_code == 2);
  CHECK(postured::windows::uninstall_service(kTestServiceName) == "");
}

TEST_CASE("windows service: --install-service registers postured --service --config as LocalSystem, auto start",
          "[windows][service]") {
  postured::windows::uninstall_service(service::kName, 10s);
  const fs::path program = L"C:\\Program Files\\postured\\postured.exe";
  const fs::path config = L"C:\\ProgramData\\postured\\postured.toml";
  REQUIRE(postured::install_service(program, config) == "");
  const auto state = postured::windows::query_service(service::kName);
  REQUIRE(state);
  CHECK(
      state->command_line ==
      "\"C:\\Program Files\\postured\\postured.exe\" --service --config \"C:\\ProgramData\\postured\\postured.toml\"");
  CHECK(state->start_type == SERVICE_AUTO_START);
  CHECK(state->account == "LocalSystem");
  CHECK(postured::uninstall_service() == "");
  CHECK_FALSE(postured::windows::query_service(service::kName));
}

TEST_CASE("windows service: outside the SCM the daemon's main just runs and the service manager does nothing",
          "[windows][service]") {
  // A console run (a technician trying the daemon): daemon_main runs as it is.
  std::string why;
  CHECK(postured::run_daemon_under_service_manager(
            false, [] { return 7; }, &why) == 7);
  // Claiming to be a service when the SCM did not start us: a usage error with the reason, and the
  // daemon's main never runs. (Once per process: the dispatcher cannot be asked twice.)
  bool ran = false;
  CHECK(postured::run_daemon_under_service_manager(
            true,
            [&] {
              ran = true;
              return 0;
            },
            &why) == 2);
  CHECK_FALSE(ran);
  CHECK_THAT(why, ContainsSubstring("not started by the service control manager"));
  auto manager = postured::connect_service_manager();
  CHECK_FALSE(manager->watchdog_interval());
  manager->ready();  // no SCM connection: nothing happens, nothing fails
  manager->stopping();
}
