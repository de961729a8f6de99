// Runs this test executable again as a second, real process: a hidden test case (tag "[.]") chosen
// by name does the other side's part (a pipe client, a service). Parameters travel in environment
// variables, which the child inherits; Catch2's command line has no room for our own arguments.
#pragma once

#include <winsock2.h>
// (winsock2.h first: windows.h would otherwise pull in winsock.h, which Asio refuses.)
#include <windows.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace postured::test {

// This executable's path.
inline std::filesystem::path own_executable() {
  std::wstring path(32768, L'\0');
  const DWORD size = ::GetModuleFileNameW(nullptr, path.data(), static_cast<DWORD>(path.size()));
  path.resize(size);
  return path;
}

// The RID of this process's account (S-1-5-21-...-1000 → 1000): what the key release pipe reports as
// a local peer's uid, and so what a cache's owner_uid must be for this program.
inline long long own_account_rid() {
  HANDLE token = nullptr;
  if (!::OpenProcessToken(::GetCurrentProcess(), TOKEN_QUERY, &token)) return -1;
  DWORD size = 0;
  ::GetTokenInformation(token, TokenUser, nullptr, 0, &size);
  std::vector<unsigned char> buffer(size);
  const bool read = size > 0 && ::GetTokenInformation(token, TokenUser, buffer.data(), size, &size);
  ::CloseHandle(token);
  if (!read) return -1;
  PSID sid = reinterpret_cast<TOKEN_USER*>(buffer.data())->User.Sid;
  return *::GetSidSubAuthority(sid, *::GetSidSubAuthorityCount(sid) - 1);
}

// The value of environment variable `name` in this process, or "" when it is not set.
inline std::wstring environment(const wchar_t* name) {
  std::wstring value(32768, L'\0');
  const DWORD size = ::GetEnvironmentVariableW(name, value.data(), static_cast<DWORD>(value.size()));
  value.resize(size);
  return value;
}

struct ChildResult {
  bool started = false;
  bool finished = false;  // within the timeout
  DWORD exit_code = 0;
};

// Runs `exe` (this test program or a copy of it) with the hidden test case `test_name`, with
// `variables` added to its environment and its console output discarded; waits up to `timeout`.
inline ChildResult run_test_case(const std::filesystem::path& exe, const std::string& test_name,
                                 const std::vector<std::pair<std::wstring, std::wstring>>& variables,
                                 std::chrono::milliseconds timeout) {
  for (const auto& [name, value] : variables) ::SetEnvironmentVariableW(name.c_str(), value.c_str());
  std::wstring command_line =
      L"\"" + exe.native() + L"\" \"" + std::wstring(test_name.begin(), test_name.end()) + L"\"";
  SECURITY_ATTRIBUTES inheritable{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
  HANDLE null_device = ::CreateFileW(L"NUL", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE,
                                     &inheritable, OPEN_EXISTING, 0, nullptr);
  STARTUPINFOW startup{};
  startup.cb = sizeof startup;
  startup.dwFlags = STARTF_USESTDHANDLES;
  startup.hStdInput = null_device;
  startup.hStdOutput = null_device;
  startup.hStdError = null_device;
  PROCESS_INFORMATION process{};
  ChildResult result;
  result.started = ::CreateProcessW(exe.c_str(), command_line.data(), nullptr, nullptr, TRUE, 0, nullptr, nullptr,
                                    &startup, &process) != FALSE;
  for (const auto& [name, value] : variables) ::SetEnvironmentVariableW(name.c_str(), nullptr);
  ::CloseHandle(null_device);
  if (!result.started) return result;
  result.finished = ::WaitForSingleObject(process.hProcess, static_cast<DWORD>(timeout.count())) == WAIT_OBJECT_0;
  if (!result.finished) ::TerminateProcess(process.hProcess, 1);
  ::GetExitCodeProcess(process.hProcess, &result.exit_code);
  ::CloseHandle(process.hThread);
  ::CloseHandle(process.hProcess);
  return result;
}

// A fresh folder under the Windows temporary folder, removed with everything in it at the end.
class TempFolder {
 public:
  explicit TempFolder(const std::string& name)
      : path_(std::filesystem::temp_directory_path() /
              ("postured-w2-" + name + "-" + std::to_string(::GetCurrentProcessId()))) {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
    std::filesystem::create_directories(path_);
  }
  ~TempFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace postured::test
