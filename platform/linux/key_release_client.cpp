// Linux: the daemon's Unix socket, <runtime_dir>/postured.sock.
#include "cache/key_release_client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "cache/key_release.hpp"

namespace postured {

std::string key_release_endpoint(const std::filesystem::path& runtime_dir) {
  return (runtime_dir / std::string(key_release::kSocketName)).string();
}

EndpointExchange exchange_with_daemon(const std::filesystem::path& runtime_dir, std::string_view request,
                                      std::chrono::milliseconds timeout, std::size_t max_reply) {
  using Clock = std::chrono::steady_clock;
  EndpointExchange result;
  const auto deadline = Clock::now() + timeout;
  const auto path = key_release_endpoint(runtime_dir);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) {
    result.error = "the socket path " + path + " is too long";
    return result;
  }
  std::memcpy(address.sun_path, path.data(), path.size());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    result.error = std::string("cannot make a socket: ") + std::strerror(errno);
    return result;
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    result.error = "no answer on " + path + ": " + std::strerror(errno);
    ::close(fd);
    return result;
  }
  while (!request.empty()) {
    // MSG_NOSIGNAL: a daemon that went away must not end posturectl with SIGPIPE.
    const auto sent = ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) {
      result.error = "cannot send to " + path + ": " + std::strerror(errno);
      ::close(fd);
      return result;
    }
    request.remove_prefix(static_cast<std::size_t>(sent));
  }
  result.ok = true;
  char chunk[4096];
  while (result.reply.size() < max_reply) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      result.error = "no reply from " + path + " within " + std::to_string(timeout.count()) + " ms";
      break;
    }
    pollfd ready{fd, POLLIN, 0};
    const int polled = ::poll(&ready, 1, static_cast<int>(left.count()));
    if (polled < 0 && errno == EINTR) continue;
    if (polled <= 0) continue;  // the deadline check above ends the loop
    const auto got = ::recv(fd, chunk, std::min(sizeof chunk, max_reply - result.reply.size()), 0);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      result.error = "cannot read from " + path + ": " + std::strerror(errno);
      break;
    }
    if (got == 0) break;  // the daemon closed after its reply
    result.reply.append(chunk, static_cast<std::size_t>(got));
  }
  ::close(fd);
  return result;
}

}  // namespace postured
