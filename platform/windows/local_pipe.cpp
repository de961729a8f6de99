#include "local_pipe.hpp"

#include <winsock2.h>
// (winsock2.h first: windows.h would otherwise pull in winsock.h, which Asio refuses.)
#include <windows.h>

#include <algorithm>

#include "utf16.hpp"

namespace postured::windows {
namespace {

using Clock = std::chrono::steady_clock;

DWORD milliseconds_until(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<DWORD>(left);
}

// Waits for an overlapped operation on `handle` until `deadline`; cancels it when time is up.
// Returns true with `transferred` set when it completed; false with `code` otherwise.
bool finish(HANDLE handle, OVERLAPPED& overlapped, Clock::time_point deadline, DWORD& transferred, DWORD& code) {
  const DWORD waited = ::WaitForSingleObject(overlapped.hEvent, milliseconds_until(deadline));
  if (waited != WAIT_OBJECT_0) {
    ::CancelIoEx(handle, &overlapped);
    ::GetOverlappedResult(handle, &overlapped, &transferred, TRUE);  // the buffer must outlive the I/O
    code = WAIT_TIMEOUT;
    return false;
  }
  if (!::GetOverlappedResult(handle, &overlapped, &transferred, FALSE)) {
    code = ::GetLastError();
    return false;
  }
  return true;
}

}  // namespace

std::wstring key_release_pipe_name(const std::filesystem::path& runtime_dir) {
  std::wstring name = L"\\\\.\\pipe\\postured";
  if (runtime_dir.empty()) return name;
  // A pipe name may hold any character but '\'.
  std::wstring suffix = runtime_dir.native();
  std::replace(suffix.begin(), suffix.end(), L'\\', L'/');
  return name + L"@" + suffix;
}

PipeExchange exchange_over_pipe(const std::wstring& pipe_name, std::string_view request,
                                std::chrono::milliseconds timeout, std::size_t max_reply) {
  PipeExchange result;
  const auto deadline = Clock::now() + timeout;
  const auto where = to_utf8(pipe_name);
  OwnedHandle pipe;
  for (;;) {
    pipe.reset(::CreateFileW(pipe_name.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING,
                             FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION, nullptr));
    if (pipe.valid()) break;
    const DWORD code = ::GetLastError();
    // Every instance is serving someone: wait for one to free up, within the deadline.
    if (code == ERROR_PIPE_BUSY && milliseconds_until(deadline) > 0) {
      ::WaitNamedPipeW(pipe_name.c_str(), std::max<DWORD>(1, milliseconds_until(deadline)));
      continue;
    }
    result.error = "cannot connect to " + where + ": " + error_text(code);
    return result;
  }
  OwnedHandle event(::CreateEventW(nullptr, TRUE, FALSE, nullptr));
  if (!event.valid()) {
    result.error = "cannot create an event: " + last_error_text();
    return result;
  }
  while (!request.empty()) {
    OVERLAPPED overlapped{};
    overlapped.hEvent = event.get();
    DWORD written = 0;
    DWORD code = 0;
    if (!::WriteFile(pipe.get(), request.data(), static_cast<DWORD>(request.size()), nullptr, &overlapped) &&
        ::GetLastError() != ERROR_IO_PENDING) {
      result.error = "cannot send to " + where + ": " + last_error_text();
      return result;
    }
    if (!finish(pipe.get(), overlapped, deadline, written, code)) {
      result.error = "cannot send to " + where + ": " + error_text(code);
      return result;
    }
    request.remove_prefix(written);
  }
  result.ok = true;
  char chunk[4096];
  while (result.reply.size() < max_reply) {
    OVERLAPPED overlapped{};
    overlapped.hEvent = event.get();
    DWORD got = 0;
    DWORD code = 0;
    const DWORD want = static_cast<DWORD>(std::min(sizeof chunk, max_reply - result.reply.size()));
    if (!::ReadFile(pipe.get(), chunk, want, nullptr, &overlapped)) {
      code = ::GetLastError();
      if (code == ERROR_BROKEN_PIPE) break;  // the daemon closed after its reply
      if (code != ERROR_IO_PENDING) {
        result.error = "cannot read from " + where + ": " + error_text(code);
        break;
      }
    }
    if (!finish(pipe.get(), overlapped, deadline, got, code)) {
      if (code == ERROR_BROKEN_PIPE) break;
      // What came before a timeout is kept: the caller judges a partial reply.
      result.error = code == WAIT_TIMEOUT
                         ? "no reply from " + where + " within " + std::to_string(timeout.count()) + " ms"
                         : "cannot read from " + where + ": " + error_text(code);
      break;
    }
    if (got == 0) break;
    result.reply.append(chunk, got);
  }
  ::SecureZeroMemory(chunk, sizeof chunk);
  return result;
}

}  // namespace postured::windows
