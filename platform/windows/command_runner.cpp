// The Windows side of agent/policy/command_runner.hpp: CreateProcessW with no shell, a command line
// quoted so that the program's argv (CommandLineToArgvW / the C runtime's rules) is exactly `argv`,
// stdout through a pipe, stdin and stderr on NUL, a fixed environment, and a job object so that a
// program that outlives its time is killed together with anything it started.
#include <winsock2.h>
// (winsock2.h first: windows.h would otherwise pull in winsock.h, which Asio refuses.)
#include <windows.h>

#include <algorithm>
#include <filesystem>
#include <future>
#include <thread>
#include <vector>

#include "policy/command_runner.hpp"
#include "utf16.hpp"

namespace postured::policy {
namespace {

// What a program killed at its time limit reports, as on Linux (128 + SIGKILL): policies that
// compare exit codes read the same on both.
constexpr UINT kKilledExitCode = 137;
constexpr DWORD kReadChunk = 4096;

// One argument quoted for CommandLineToArgvW: backslashes double only before a quote.
std::wstring quote_argument(const std::wstring& argument) {
  if (!argument.empty() && argument.find_first_of(L" \t\n\v\"") == std::wstring::npos) return argument;
  std::wstring quoted = L"\"";
  for (auto it = argument.begin();; ++it) {
    std::size_t backslashes = 0;
    while (it != argument.end() && *it == L'\\') {
      ++it;
      ++backslashes;
    }
    if (it == argument.end()) {
      quoted.append(backslashes * 2, L'\\');
      break;
    }
    if (*it == L'"') {
      quoted.append(backslashes * 2 + 1, L'\\');
    } else {
      quoted.append(backslashes, L'\\');
    }
    quoted.push_back(*it);
  }
  quoted.push_back(L'"');
  return quoted;
}

// The fixed environment: a policy must not depend on how the agent happened to be started. Windows
// programs need SystemRoot (Winsock and more fail without it) besides PATH.
std::wstring environment_block() {
  wchar_t system_root[MAX_PATH] = L"C:\\Windows";
  ::GetEnvironmentVariableW(L"SystemRoot", system_root, MAX_PATH);
  const std::wstring root(system_root);
  std::wstring block;
  for (const auto& entry : {L"PATH=" + root + L"\\System32;" + root + L";" + root + L"\\System32\\Wbem",
                            L"SystemRoot=" + root, L"windir=" + root}) {
    block += entry;
    block.push_back(L'\0');
  }
  block.push_back(L'\0');
  return block;
}

}  // namespace

CommandOutput run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          std::size_t max_output) {
  CommandOutput result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  if (argv.empty() || !std::filesystem::path(windows::to_utf16(argv.front())).is_absolute()) {
    result.problem = "the program must be an absolute path";
    return result;
  }
  const auto program = windows::to_utf16(argv.front());
  const DWORD attributes = ::GetFileAttributesW(program.c_str());
  if (attributes == INVALID_FILE_ATTRIBUTES || (attributes & FILE_ATTRIBUTE_DIRECTORY)) {
    result.problem =
        argv.front() + ": " +
        (attributes == INVALID_FILE_ATTRIBUTES ? windows::last_error_text() : std::string("is a directory"));
    return result;
  }

  SECURITY_ATTRIBUTES inheritable{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
  HANDLE read_raw = nullptr;
  HANDLE write_raw = nullptr;
  if (!::CreatePipe(&read_raw, &write_raw, &inheritable, 0)) {
    result.problem = "CreatePipe: " + windows::last_error_text();
    return result;
  }
  windows::OwnedHandle out_read(read_raw);
  windows::OwnedHandle out_write(write_raw);
  ::SetHandleInformation(out_read.get(), HANDLE_FLAG_INHERIT, 0);  // only the child's end is inherited
  windows::OwnedHandle null_device(::CreateFileW(L"NUL", GENERIC_READ | GENERIC_WRITE,
                                                 FILE_SHARE_READ | FILE_SHARE_WRITE, &inheritable, OPEN_EXISTING, 0,
                                                 nullptr));
  windows::OwnedHandle job(::CreateJobObjectW(nullptr, nullptr));
  if (!null_device.valid() || !job.valid()) {
    result.problem = "cannot prepare the child's handles: " + windows::last_error_text();
    return result;
  }
  // Closing the job's handle (every path out of here) kills whatever is still in it.
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits{};
  limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
  ::SetInformationJobObject(job.get(), JobObjectExtendedLimitInformation, &limits, sizeof limits);

  std::wstring command_line;
  for (const auto& argument : argv) {
    if (!command_line.empty()) command_line.push_back(L' ');
    command_line += quote_argument(windows::to_utf16(argument));
  }
  auto environment = environment_block();
  STARTUPINFOEXW startup{};
  startup.StartupInfo.cb = sizeof startup;
  startup.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
  startup.StartupInfo.hStdInput = null_device.get();
  startup.StartupInfo.hStdOutput = out_write.get();
  startup.StartupInfo.hStdError = null_device.get();
  // The child inherits these two handles and nothing else: not the daemon's connections, and not the
  // pipe of a command another thread starts at the same moment.
  HANDLE inherited[] = {out_write.get(), null_device.get()};
  SIZE_T attributes_size = 0;
  ::InitializeProcThreadAttributeList(nullptr, 1, 0, &attributes_size);
  std::vector<unsigned char> attribute_buffer(attributes_size);
  auto* list = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(attribute_buffer.data());
  if (!::InitializeProcThreadAttributeList(list, 1, 0, &attributes_size)) {
    result.problem = "cannot prepare the child's handles: " + windows::last_error_text();
    return result;
  }
  if (!::UpdateProcThreadAttribute(list, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, inherited, sizeof inherited, nullptr,
                                   nullptr)) {
    result.problem = "cannot limit the child's handles: " + windows::last_error_text();
    ::DeleteProcThreadAttributeList(list);
    return result;
  }
  startup.lpAttributeList = list;
  PROCESS_INFORMATION process{};
  // Suspended until it is in the job: nothing it starts can escape the kill.
  const BOOL created =
      ::CreateProcessW(program.c_str(), command_line.data(), nullptr, nullptr, TRUE,
                       CREATE_SUSPENDED | CREATE_NO_WINDOW | CREATE_UNICODE_ENVIRONMENT | EXTENDED_STARTUPINFO_PRESENT,
                       environment.data(), nullptr, &startup.StartupInfo, &process);
  const DWORD create_error = ::GetLastError();
  ::DeleteProcThreadAttributeList(list);
  if (!created) {
    result.problem = "cannot run " + argv.front() + ": " + windows::error_text(create_error);
    return result;
  }
  windows::OwnedHandle child(process.hProcess);
  windows::OwnedHandle thread(process.hThread);
  ::AssignProcessToJobObject(job.get(), child.get());
  ::ResumeThread(thread.get());
  out_write.reset();  // our copy: the pipe ends when the child (and what it started) closes theirs
  null_device.reset();
  result.started = true;

  // Anonymous pipes have no overlapped reads: a thread reads until the end of the stream and the
  // caller waits for it with the deadline. It keeps at most `max_output` bytes.
  auto reader = std::async(std::launch::async, [&result, &out_read, max_output] {
    char buffer[kReadChunk];
    DWORD got = 0;
    while (::ReadFile(out_read.get(), buffer, kReadChunk, &got, nullptr) && got > 0) {
      const auto room = max_output - std::min(max_output, result.out.size());
      const auto take = std::min<std::size_t>(room, got);
      if (take < got) result.truncated = true;
      result.out.append(buffer, take);
    }
  });
  if (reader.wait_until(deadline) != std::future_status::ready) {
    result.timed_out = true;
    // A program that outlives its time (or keeps writing) is killed, with everything it started.
    ::TerminateJobObject(job.get(), kKilledExitCode);
    reader.wait();
  }
  // A program that closed its stdout but goes on running is held to the same deadline.
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  if (::WaitForSingleObject(child.get(), static_cast<DWORD>(std::max<long long>(0, left.count()))) != WAIT_OBJECT_0) {
    result.timed_out = true;
    ::TerminateJobObject(job.get(), kKilledExitCode);
    ::WaitForSingleObject(child.get(), INFINITE);
  }
  DWORD exit_code = 0;
  result.exit_status = ::GetExitCodeProcess(child.get(), &exit_code) ? static_cast<int>(exit_code) : -1;
  return result;
}

}  // namespace postured::policy
