// Windows: the daemon's named pipe (local_pipe.hpp).
#include "cache/key_release_client.hpp"

#include "local_pipe.hpp"
#include "utf16.hpp"

namespace postured {

std::string key_release_endpoint(const std::filesystem::path& runtime_dir) {
  return windows::to_utf8(windows::key_release_pipe_name(runtime_dir));
}

EndpointExchange exchange_with_daemon(const std::filesystem::path& runtime_dir, std::string_view request,
                                      std::chrono::milliseconds timeout, std::size_t max_reply) {
  auto exchange = windows::exchange_over_pipe(windows::key_release_pipe_name(runtime_dir), request, timeout, max_reply);
  return {exchange.ok, std::move(exchange.reply), std::move(exchange.error)};
}

}  // namespace postured
