// Linux: a Unix stream socket. SO_PEERCRED gives the peer's pid and uid as the kernel recorded them
// at connect(); /proc/PID/exe gives its program.
#include <fcntl.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <exception>
#include <optional>
#include <system_error>

#include "cache/key_release_server.hpp"
#include "core/log.hpp"

namespace postured {
namespace {

namespace fs = std::filesystem;
using boost::asio::local::stream_protocol;

// After a failed accept (EMFILE, ENFILE), try again this much later rather than spinning.
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};

PeerIdentity identify(int fd) {
  PeerIdentity peer;
  ucred credentials{};
  socklen_t length = sizeof credentials;
  // Without credentials the peer keeps uid -1, which decide() never matches to an owner.
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return peer;
  peer.pid = credentials.pid;
  peer.uid = credentials.uid;
  std::error_code ec;
  auto exe = fs::read_symlink("/proc/" + std::to_string(credentials.pid) + "/exe", ec);
  if (!ec) peer.exe = std::move(exe);
  return peer;
}

std::string errno_text() {
  return std::strerror(errno);
}

// The listening socket and what every connection shares. Connections keep it alive, so one that is
// still pending when the server is destroyed never reaches freed memory.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(boost::asio::io_context& io, stream_protocol::acceptor acceptor, fs::path path,
           KeyReleaseServer::Handler handler, struct stat bound)
      : acceptor_(std::move(acceptor)),
        retry_timer_(io),
        path_(std::move(path)),
        handler_(std::move(handler)),
        bound_(bound) {}

  void accept();
  void connection_done() {
    --active_;
    if (!accepting_ && acceptor_.is_open()) accept();
  }
  SecretString answer(std::string_view request, const PeerIdentity& peer) { return handler_(request, peer); }
  void close() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    retry_timer_.cancel();
    // Only our own socket: a second daemon started since may have put its own there.
    struct stat now {};
    if (::lstat(path_.c_str(), &now) == 0 && now.st_dev == bound_.st_dev && now.st_ino == bound_.st_ino) {
      ::unlink(path_.c_str());
    }
  }
  const fs::path& path() const { return path_; }

 private:
  stream_protocol::acceptor acceptor_;
  boost::asio::steady_timer retry_timer_;
  fs::path path_;
  KeyReleaseServer::Handler handler_;
  struct stat bound_;
  std::size_t active_ = 0;
  bool accepting_ = false;
};

// One peer: read one line (bounded in size and time), answer it, close.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<Listener> listener, stream_protocol::socket socket, PeerIdentity peer)
      : listener_(std::move(listener)),
        socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        peer_(std::move(peer)) {}
  ~Connection() { listener_->connection_done(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void start() {
    timer_.expires_after(key_release::kReadTimeout);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      boost::system::error_code ignored;
      self->socket_.cancel(ignored);  // the pending read ends, and the request so far is answered
    });
    read();
  }

 private:
  void read() {
    // Never more than kMaxRequestBytes: a line that has not ended by then is refused anyway.
    const auto room = key_release::kMaxRequestBytes - request_.size();
    socket_.async_read_some(boost::asio::buffer(chunk_.data(), std::min(room, chunk_.size())),
                            [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                              self->request_.append(self->chunk_.data(), n);
                              const bool whole_line = self->request_.find('\n') != std::string::npos;
                              if (ec || whole_line || self->request_.size() >= key_release::kMaxRequestBytes) {
                                self->reply();
                              } else {
                                self->read();
                              }
                            });
  }

  void reply() {
    try {
      reply_.emplace(listener_->answer(request_, peer_));
    } catch (const std::exception& e) {
      // An exception out of an Asio handler would end the daemon's loop; one request failing must not.
      log::error("key release: cannot answer pid ", peer_.pid, ": ", e.what());
      reply_.emplace();  // nothing to send: the peer sees the connection close without a reply
    }
    boost::asio::async_write(socket_, boost::asio::buffer(reply_->str()),
                             [self = shared_from_this()](const boost::system::error_code&, std::size_t) {
                               self->timer_.cancel();
                               boost::system::error_code ignored;
                               self->socket_.shutdown(stream_protocol::socket::shutdown_both, ignored);
                               self->socket_.close(ignored);
                               self->reply_.reset();  // wipes the key as soon as it has been sent
                             });
  }

  std::shared_ptr<Listener> listener_;
  stream_protocol::socket socket_;
  boost::asio::steady_timer timer_;
  PeerIdentity peer_;
  std::array<char, 64> chunk_{};
  std::string request_;
  std::optional<SecretString> reply_;
};

void Listener::accept() {
  if (active_ >= key_release::kMaxConnections) {
    accepting_ = false;  // connection_done() resumes; until then peers wait in the backlog
    return;
  }
  accepting_ = true;
  acceptor_.async_accept(
      [self = shared_from_this()](const boost::system::error_code& ec, stream_protocol::socket socket) {
        if (ec == boost::asio::error::operation_aborted || !self->acceptor_.is_open()) return;
        if (ec) {
          log::warn("key release: cannot accept a connection on ", self->path_.string(), ": ", ec.message());
          self->retry_timer_.expires_after(kAcceptRetryDelay);
          self->retry_timer_.async_wait([self](const boost::system::error_code& timer_ec) {
            if (!timer_ec && self->acceptor_.is_open()) self->accept();
          });
          return;
        }
        // Asio accepts without SOCK_CLOEXEC; a program the daemon ever starts must not inherit a peer.
        ::fcntl(socket.native_handle(), F_SETFD, FD_CLOEXEC);
        auto peer = identify(socket.native_handle());
        ++self->active_;
        std::make_shared<Connection>(self, std::move(socket), std::move(peer))->start();
        self->accept();
      });
}

class UnixKeyReleaseServer final : public KeyReleaseServer {
 public:
  explicit UnixKeyReleaseServer(std::shared_ptr<Listener> listener) : listener_(std::move(listener)) {}
  ~UnixKeyReleaseServer() override { listener_->close(); }
  UnixKeyReleaseServer(const UnixKeyReleaseServer&) = delete;
  UnixKeyReleaseServer& operator=(const UnixKeyReleaseServer&) = delete;

  std::string endpoint() const override { return listener_->path().string(); }

 private:
  std::shared_ptr<Listener> listener_;
};

// Empty when `path` is free for a new socket (a stale one is removed); otherwise why it is not.
std::string clear_the_way(const fs::path& path, const sockaddr_un& address) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0)
    return errno == ENOENT ? "" : "cannot stat " + path.string() + ": " + errno_text();
  if (!S_ISSOCK(st.st_mode)) return path.string() + " exists and is not a socket; not replacing it";
  // A socket that answers belongs to a running daemon; only one that refuses is stale.
  const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe < 0) return "cannot create a socket: " + errno_text();
  const bool live = ::connect(probe, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  ::close(probe);
  if (live) return "another process is already serving on " + path.string();
  if (::unlink(path.c_str()) != 0) return "cannot remove the stale socket " + path.string() + ": " + errno_text();
  log::info("key release: removed the stale socket ", path.string());
  return "";
}

}  // namespace

KeyReleaseServerStart start_key_release_server(boost::asio::io_context& io, const fs::path& runtime_dir,
                                               const std::string& group, KeyReleaseServer::Handler handler) {
  const auto fail = [](std::string why) { return KeyReleaseServerStart{nullptr, std::move(why)}; };
  const auto path = runtime_dir / key_release::kSocketName;
  std::error_code ec;
  if (!fs::exists(runtime_dir, ec)) {
    // 0755: POS programs must reach the socket; the socket's own mode decides who may connect.
    fs::create_directories(runtime_dir, ec);
    if (!ec) fs::permissions(runtime_dir, fs::perms(0755), ec);
    if (ec) return fail("cannot create " + runtime_dir.string() + ": " + ec.message());
  }

  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const auto& text = path.native();
  if (text.size() >= sizeof address.sun_path) {
    return fail("socket path " + text + " is too long (" + std::to_string(text.size()) + " bytes; at most " +
                std::to_string(sizeof address.sun_path - 1) + ")");
  }
  std::memcpy(address.sun_path, text.data(), text.size());
  if (auto why = clear_the_way(path, address); !why.empty()) return fail(why);

  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail("cannot create a socket: " + errno_text());
  // The umask makes bind() create the socket 0660 at once, with no moment at a wider mode.
  const mode_t old_umask = ::umask(0117);
  const int bound = ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  const int bind_errno = errno;
  ::umask(old_umask);
  struct stat st {};
  std::string why;
  if (bound != 0)
    why = "cannot bind " + text + ": " + std::strerror(bind_errno);
  else if (::chmod(text.c_str(), 0660) != 0 || ::lstat(text.c_str(), &st) != 0)
    why = "cannot set the mode of " + text + ": " + errno_text();
  else if (::listen(fd, SOMAXCONN) != 0)
    why = "cannot listen on " + text + ": " + errno_text();
  if (why.empty() && !group.empty()) {
    // The POS programs' way in: a missing group is not fatal (the owner uid check still decides),
    // but nobody outside the agent's own group can connect until it exists.
    if (const struct group* entry = ::getgrnam(group.c_str())) {
      if (::chown(text.c_str(), static_cast<uid_t>(-1), entry->gr_gid) != 0) {
        why = "cannot give " + text + " to group " + group + ": " + errno_text();
      }
    } else {
      log::warn("key release: group '", group, "' does not exist; ", text, " keeps the agent's group");
    }
  }
  if (!why.empty()) {
    if (bound == 0) ::unlink(text.c_str());
    ::close(fd);
    return fail(why);
  }

  stream_protocol::acceptor acceptor(io);
  boost::system::error_code assign_error;
  acceptor.assign(stream_protocol(), fd, assign_error);
  if (assign_error) {
    ::unlink(text.c_str());
    ::close(fd);
    return fail("cannot serve on " + text + ": " + assign_error.message());
  }
  auto listener = std::make_shared<Listener>(io, std::move(acceptor), path, std::move(handler), st);
  listener->accept();
  log::info("key release: listening on ", text);
  return {std::make_unique<UnixKeyReleaseServer>(std::move(listener)), ""};
}

}  // namespace postured
