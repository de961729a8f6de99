// The sd_notify(3) protocol without libsystemd: datagrams such as "READY=1" sent to the socket
// named by $NOTIFY_SOCKET (a path, or an abstract name starting with '@').
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "core/log.hpp"
#include "core/service_manager.hpp"

namespace postured {
namespace {

class SystemdNotifier final : public ServiceManager {
 public:
  SystemdNotifier() {
    if (const char* socket_path = std::getenv("NOTIFY_SOCKET")) socket_path_ = socket_path;
    const char* usec = std::getenv("WATCHDOG_USEC");
    const char* pid = std::getenv("WATCHDOG_PID");
    // WATCHDOG_PID names the process the watchdog is meant for; a child that inherited it must not ping.
    if (usec && (!pid || std::strtoll(pid, nullptr, 10) == ::getpid())) {
      const long long value = std::strtoll(usec, nullptr, 10);
      if (value > 0) watchdog_ = std::chrono::microseconds(value);
    }
  }

  void ready() override { send("READY=1\nSTATUS=serving"); }
  void reloading() override { send("RELOADING=1\nSTATUS=reloading configuration"); }
  void stopping() override { send("STOPPING=1\nSTATUS=shutting down"); }
  void watchdog() override { send("WATCHDOG=1"); }
  void status(std::string_view text) override { send("STATUS=" + std::string(text)); }
  std::optional<std::chrono::microseconds> watchdog_interval() const override { return watchdog_; }

 private:
  void send(const std::string& message) const {
    if (socket_path_.empty()) return;
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (socket_path_.size() >= sizeof address.sun_path || (socket_path_[0] != '/' && socket_path_[0] != '@')) {
      log::warn("NOTIFY_SOCKET is not a usable socket path; not notifying systemd");
      return;
    }
    std::memcpy(address.sun_path, socket_path_.data(), socket_path_.size());
    if (address.sun_path[0] == '@') address.sun_path[0] = '\0';
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_path_.size());
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    if (::sendto(fd, message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&address), length) < 0) {
      log::debug("sd_notify to ", socket_path_, " failed: ", std::strerror(errno));
    }
    ::close(fd);
  }

  std::string socket_path_;
  std::optional<std::chrono::microseconds> watchdog_;
};

}  // namespace

std::unique_ptr<ServiceManager> connect_service_manager() { return std::make_unique<SystemdNotifier>(); }

}  // namespace postured
