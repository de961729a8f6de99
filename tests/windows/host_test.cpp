// The Windows Host (platform/windows/windows_host.cpp), command runner, priority and open-files
// helpers, against the real system (Wine's) and folders the tests make.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <cstdint>
#include <fstream>
#include <thread>

#include "core/device.hpp"
#include "core/host.hpp"
#include "core/registry_view.hpp"
#include "core/priority.hpp"
#include "policy/command_runner.hpp"
#include "self_process.hpp"
#include "utf16.hpp"

using Catch::Matchers::ContainsSubstring;
using Catch::Matchers::StartsWith;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// winerror.h's ERROR_PROCESS_MODE_ALREADY_BACKGROUND, which MinGW's headers lack.
constexpr DWORD kAlreadyBackground = 402;

void write_all(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << content;
}

fs::path system_folder() {
  wchar_t buffer[MAX_PATH];
  const UINT size = ::GetSystemDirectoryW(buffer, MAX_PATH);
  return std::wstring(buffer, size);
}

}  // namespace

// Sleeps long enough to be killed by the command runner's time limit (run as a child by a test below).
TEST_CASE("windows sleeper", "[.][sleeper]") {
  std::this_thread::sleep_for(60s);
}

TEST_CASE("windows host: files below a folder image, with drive letters and either slash", "[windows][host]") {
  postured::test::TempFolder dir("host-image");
  write_all(dir.path() / "ProgramData" / "pos" / "app.log", "line one\nline two\n");
  write_all(dir.path() / "ProgramData" / "pos" / "app.LOG.1", "old\n");
  write_all(dir.path() / "ProgramData" / "pos" / ".hidden", "x");
  write_all(dir.path() / "ProgramData" / "other" / "data.db", "db");
  const auto host = postured::open_host(dir.path());

  CHECK(host->read_file("C:\\ProgramData\\pos\\app.log") == "line one\nline two\n");
  CHECK(host->read_file("/ProgramData/pos/app.log") == "line one\nline two\n");
  std::string why;
  CHECK_FALSE(host->read_file("C:\\ProgramData\\pos\\missing", &why));
  CHECK(why == "not found");
  CHECK_FALSE(host->read_file("C:\\ProgramData\\pos", &why));
  CHECK(why == "is a directory");
  CHECK(host->exists("C:/ProgramData/other/data.db"));
  CHECK_FALSE(host->exists("C:/ProgramData/other/none.db"));

  CHECK(host->list_dir("C:\\ProgramData\\pos") == std::vector<std::string>{".hidden", "app.LOG.1", "app.log"});
  // Case-insensitive like Windows names; a leading dot only by a literal dot, as fnmatch(FNM_PERIOD).
  CHECK(host->glob("C:\\ProgramData\\pos\\*.log*") ==
        std::vector<std::string>{"C:/ProgramData/pos/app.LOG.1", "C:/ProgramData/pos/app.log"});
  CHECK(host->glob("/ProgramData/*/[a-d]*") == std::vector<std::string>{"/ProgramData/other/data.db",
                                                                        "/ProgramData/pos/app.LOG.1",
                                                                        "/ProgramData/pos/app.log"});
  CHECK(host->glob("/ProgramData/pos/?pp.lo[!x]") == std::vector<std::string>{"/ProgramData/pos/app.log"});

  const auto status = host->file_status("C:\\ProgramData\\pos\\app.log");
  REQUIRE(status);
  CHECK(status->type == postured::FileStatus::Type::regular);
  CHECK(host->file_status("C:\\ProgramData\\pos")->type == postured::FileStatus::Type::directory);
  CHECK_FALSE(host->file_status("C:\\nothing"));
  CHECK(host->local_path("C:\\ProgramData\\pos\\app.log") == dir.path() / "ProgramData" / "pos" / "app.log");

  // A folder image is not a running system: no registry, services or processes of its own.
  CHECK(host->registry() == nullptr);
  CHECK_FALSE(host->process_running("windows_tests"));
}

TEST_CASE("windows host: the live system's name, build, processes and registry", "[windows][host]") {
  const auto host = postured::open_host("C:\\");
  wchar_t name[256];
  DWORD size = 256;
  REQUIRE(::GetComputerNameExW(ComputerNameDnsHostname, name, &size));
  CHECK(host->hostname() == postured::windows::to_utf8(std::wstring_view(name, size)));
  CHECK_FALSE(host->hostname().empty());

  // "10.0.<build>[.<UBR>]": what `ver` shows.
  const auto release = host->kernel_release();
  INFO(release);
  CHECK_THAT(release, StartsWith("10.0.") || StartsWith("6."));

  const auto self = postured::test::own_executable().stem().string();
  CHECK(host->process_running(self));
  CHECK(host->process_running(self + ".exe"));
  CHECK_FALSE(host->process_running("no-such-program-here"));
  CHECK(host->registry() != nullptr);
  CHECK(host->account_policy() != nullptr);
}

TEST_CASE("windows host: the device is identified from the registry, not from Linux files", "[windows][host]") {
  const auto host = postured::open_host("C:\\");
  postured::AgentConfig agent;
  agent.store_id = "store-0042";
  const auto device = postured::identify_device(*host, agent);
  // Setup's MachineGuid; under Wine, Z: shows the Linux root, so reading /etc/machine-id would also
  // "work" there and give the wrong answer.
  const auto guid = host->registry()->read("HKLM\\SOFTWARE\\Microsoft\\Cryptography", "MachineGuid");
  REQUIRE(guid.found == postured::RegistryRead::Found::value);
  CHECK(device.id == guid.value.text);
  CHECK(device.id.size() == 36);  // 8-4-4-4-12
  CHECK(device.store_id == "store-0042");
  CHECK(device.os.id == "windows");
  INFO(device.os.pretty_name);
  CHECK_THAT(device.os.pretty_name, ContainsSubstring("Windows"));
  CHECK_FALSE(device.os.version_id.empty());
  agent.device_id = "till-7";  // a configured id wins
  CHECK(postured::identify_device(*host, agent).id == "till-7");
}

TEST_CASE("windows command runner: output, exit code, no shell, and a fixed environment", "[windows][command]") {
  const auto cmd = (system_folder() / "cmd.exe").string();
  auto result = postured::policy::run_command({cmd, "/c", "echo hello& exit 3"}, 20s, 4096);
  INFO(result.problem);
  REQUIRE(result.started);
  CHECK_FALSE(result.timed_out);
  CHECK(result.exit_status == 3);
  CHECK_THAT(result.out, StartsWith("hello"));

  // The environment is PATH, SystemRoot and windir only: nothing of the agent's own leaks through.
  ::SetEnvironmentVariableW(L"POSTURED_SECRET_TEST", L"leaked");
  result = postured::policy::run_command({cmd, "/c", "set"}, 20s, 65536);
  ::SetEnvironmentVariableW(L"POSTURED_SECRET_TEST", nullptr);
  CHECK_THAT(result.out, ContainsSubstring("SystemRoot="));
  CHECK(result.out.find("POSTURED_SECRET_TEST") == std::string::npos);

  result = postured::policy::run_command({"cmd.exe", "/c", "echo"}, 20s, 4096);
  CHECK_FALSE(result.started);
  CHECK(result.problem == "the program must be an absolute path");
  result = postured::policy::run_command({"C:\\no\\such\\program.exe"}, 20s, 4096);
  CHECK_FALSE(result.started);
  CHECK_THAT(result.problem, StartsWith("C:\\no\\such\\program.exe: "));
}

TEST_CASE("windows command runner: output beyond the cap is dropped, a slow program is killed", "[windows][command]") {
  postured::test::TempFolder dir("command");
  write_all(dir.path() / "big.txt", std::string(100000, 'x'));
  const auto cmd = (system_folder() / "cmd.exe").string();
  auto result = postured::policy::run_command({cmd, "/c", "type", (dir.path() / "big.txt").string()}, 20s, 1000);
  CHECK(result.started);
  CHECK(result.truncated);
  CHECK(result.out == std::string(1000, 'x'));
  CHECK(result.exit_status == 0);

  const auto before = std::chrono::steady_clock::now();
  result = postured::policy::run_command({postured::test::own_executable().string(), "windows sleeper"}, 1500ms, 4096);
  const auto took = std::chrono::steady_clock::now() - before;
  CHECK(result.started);
  CHECK(result.timed_out);
  CHECK(result.exit_status == 137);  // as a SIGKILL'd program reads on Linux
  CHECK(took < 20s);
}

// Reports whether the handle number written in kProbeIn is an inherited, signalled event in this
// process (run as a child by the test below; the command runner passes no environment, so files).
const fs::path kProbeIn = L"C:\\ProgramData\\postured-handle-probe.in";
const fs::path kProbeOut = L"C:\\ProgramData\\postured-handle-probe.out";

TEST_CASE("windows handle probe", "[.][handle-probe]") {
  unsigned long long value = 0;
  std::ifstream(kProbeIn) >> value;
  const auto handle = reinterpret_cast<HANDLE>(static_cast<std::uintptr_t>(value));
  DWORD flags = 0;
  // Only an event that the parent set passes all three: an unrelated handle at the same number fails.
  const bool inherited = ::GetHandleInformation(handle, &flags) && ::WaitForSingleObject(handle, 0) == WAIT_OBJECT_0 &&
                         ::ResetEvent(handle);
  // The number read goes back too: a probe that could not read kProbeIn must not pass for "not inherited".
  std::ofstream(kProbeOut, std::ios::trunc) << (inherited ? "inherited " : "not inherited ") << value;
}

TEST_CASE("windows command runner: the program inherits no handle but its stdout and NUL", "[windows][command]") {
  SECURITY_ATTRIBUTES inheritable{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
  const HANDLE event = ::CreateEventW(&inheritable, TRUE, TRUE, nullptr);  // inheritable, signalled
  REQUIRE(event != nullptr);
  const auto number = std::to_string(reinterpret_cast<std::uintptr_t>(event));
  std::ofstream(kProbeIn, std::ios::trunc) << number;
  const auto probe = [] {
    std::ifstream in(kProbeOut);
    std::string verdict;
    std::getline(in, verdict);
    return verdict;
  };
  // The probe works: started with every inheritable handle (bInheritHandles, no list), it sees the event.
  std::filesystem::remove(kProbeOut);
  REQUIRE(postured::test::run_test_case(postured::test::own_executable(), "windows handle probe", {}, 60s).finished);
  CHECK(probe() == "inherited " + number);
  ::SetEvent(event);
  // Through run_command, the same inheritable handle does not reach the program.
  std::filesystem::remove(kProbeOut);
  const auto result =
      postured::policy::run_command({postured::test::own_executable().string(), "windows handle probe"}, 60s, 4096);
  CHECK(result.started);
  CHECK(probe() == "not inherited " + number);
  ::CloseHandle(event);
  std::filesystem::remove(kProbeIn);
  std::filesystem::remove(kProbeOut);
}

TEST_CASE("windows priority: lowering the agent's own priority takes effect", "[windows][priority]") {
  postured::lower_own_priority();
  // Either background mode is on (a second BEGIN is refused as "already background"), or, where
  // background mode is not available, the priority class was lowered instead.
  const bool background = !::SetPriorityClass(::GetCurrentProcess(), PROCESS_MODE_BACKGROUND_BEGIN) &&
                          ::GetLastError() == kAlreadyBackground;
  const DWORD priority = ::GetPriorityClass(::GetCurrentProcess());
  INFO("priority class " << priority);
  CHECK((background || priority == BELOW_NORMAL_PRIORITY_CLASS));
  ::SetPriorityClass(::GetCurrentProcess(), PROCESS_MODE_BACKGROUND_END);
  ::SetPriorityClass(::GetCurrentProcess(), NORMAL_PRIORITY_CLASS);
}
