// The client side of the daemon's local endpoint (key_release_server.hpp): connect, send one
// request, read the reply until the daemon closes. posturectl asks for the daemon's status this way.
// Implemented by the platform layer: the Unix socket on Linux, the named pipe on Windows.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

namespace postured {

struct EndpointExchange {
  bool ok = false;    // connected and the request was sent; `reply` is what came back
  std::string reply;  // everything the daemon wrote before closing, at most max_reply bytes
  std::string error;  // why not (or why the reply may be cut short), for a person to read
};

// Where the daemon whose agent.runtime_dir is `runtime_dir` listens, for messages.
std::string key_release_endpoint(const std::filesystem::path& runtime_dir);

// One exchange with that daemon; `timeout` bounds all of it (connecting, sending, reading).
EndpointExchange exchange_with_daemon(const std::filesystem::path& runtime_dir, std::string_view request,
                                      std::chrono::milliseconds timeout, std::size_t max_reply);

}  // namespace postured
