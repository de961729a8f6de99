// The Windows form of the daemon's local endpoint (KEY_RELEASE.md's Unix socket): a named pipe in
// byte mode, one request and one reply per connection. Both ends are here: the daemon's side is
// start_key_release_server (key_release_server.hpp), the client side is for posturectl and tests.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

namespace postured::windows {

// The pipe's name, derived from agent.runtime_dir so that two agents (or a test beside a real one)
// never share a pipe: \\.\pipe\postured@<runtime_dir with '\' written as '/'>, e.g.
// \\.\pipe\postured@C:/ProgramData/postured/run. An empty runtime_dir gives \\.\pipe\postured.
std::wstring key_release_pipe_name(const std::filesystem::path& runtime_dir);

struct PipeExchange {
  bool ok = false;    // a connection was made and the request sent; `reply` is what came back
  std::string reply;  // everything the daemon wrote before closing (at most max_reply bytes)
  std::string error;  // why not, when !ok
};

// Connects to `pipe_name` (waiting while every instance is busy), sends `request`, and reads until
// the daemon closes the pipe, `max_reply` bytes have come, or `timeout` (for the whole exchange) is up.
// The daemon may identify this client but cannot impersonate it (SECURITY_IDENTIFICATION).
PipeExchange exchange_over_pipe(const std::wstring& pipe_name, std::string_view request,
                                std::chrono::milliseconds timeout, std::size_t max_reply);

}  // namespace postured::windows
