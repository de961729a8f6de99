// Windows: a named pipe (local_pipe.hpp names it) whose DACL lets in SYSTEM, Administrators and, when
// agent.socket_group names a local group, that group's members (the Linux socket's 0660 + group).
// GetNamedPipeClientProcessId gives the peer's pid; its image path (QueryFullProcessImageNameW,
// then the file's final path, so case and 8.3 names read as on disk) and its token's user SID give
// what key release checks.
//
// Served on the daemon's io_context through I/O completion ports (asio::windows::stream_handle for
// reads and writes, overlapped_ptr for ConnectNamedPipe) rather than on a thread of its own: the
// handler then runs on the loop's thread exactly as on Linux, and config and vault need no locking.
#include "cache/key_release_server.hpp"

#include <winsock2.h>
// (winsock2.h first: windows.h would otherwise pull in winsock.h, which Asio refuses.)
#include <windows.h>

#include <ntsecapi.h>
#include <sddl.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <exception>
#include <optional>
#include <vector>

#include "core/log.hpp"
#include "file_security.hpp"
#include "local_pipe.hpp"
#include "utf16.hpp"

namespace postured {
namespace {

namespace fs = std::filesystem;
using boost::asio::windows::stream_handle;

// Pipe buffer sizes: a request is at most 128 bytes and a key reply 68; a status reply is a few KiB
// and is written in more than one piece if it must.
constexpr DWORD kPipeBufferBytes = 4096;
// After a failed CreateNamedPipe or ConnectNamedPipe, try again this much later rather than spinning.
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};

// The RID of a local account (S-1-5-21-<this machine>-RID) or of a well-known service account
// (S-1-5-18 LocalSystem → 18, -19 LocalService, -20 NetworkService): what owner_uid is compared with
// on Windows. A domain account or anything else gets -1, which no owner_uid matches.
long long uid_of(PSID sid) {
  if (!::IsValidSid(sid)) return -1;
  const auto* authority = ::GetSidIdentifierAuthority(sid);
  const SID_IDENTIFIER_AUTHORITY nt = SECURITY_NT_AUTHORITY;
  if (std::memcmp(authority, &nt, sizeof nt) != 0) return -1;
  const auto count = *::GetSidSubAuthorityCount(sid);
  if (count == 1) {
    const auto rid = *::GetSidSubAuthority(sid, 0);
    if (rid == SECURITY_LOCAL_SYSTEM_RID || rid == SECURITY_LOCAL_SERVICE_RID || rid == SECURITY_NETWORK_SERVICE_RID) {
      return rid;
    }
    return -1;
  }
  // Is it this machine's account domain? The LSA knows the domain's SID.
  LSA_OBJECT_ATTRIBUTES attributes{};
  LSA_HANDLE policy = nullptr;
  if (::LsaOpenPolicy(nullptr, &attributes, POLICY_VIEW_LOCAL_INFORMATION, &policy) != 0) return -1;
  POLICY_ACCOUNT_DOMAIN_INFO* domain = nullptr;
  long long uid = -1;
  if (::LsaQueryInformationPolicy(policy, PolicyAccountDomainInformation, reinterpret_cast<void**>(&domain)) == 0 &&
      domain && domain->DomainSid) {
    BOOL same = FALSE;
    if (::EqualDomainSid(sid, domain->DomainSid, &same) && same) uid = *::GetSidSubAuthority(sid, count - 1);
  }
  if (domain) ::LsaFreeMemory(domain);
  ::LsaClose(policy);
  return uid;
}

// The program's path as the file system spells it, without the \\?\ prefix.
fs::path final_path_of(const std::wstring& image) {
  windows::OwnedHandle file(::CreateFileW(image.c_str(), 0, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                                          nullptr, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr));
  if (!file.valid()) return image;
  std::wstring final_path(MAX_PATH, L'\0');
  DWORD length = ::GetFinalPathNameByHandleW(file.get(), final_path.data(), static_cast<DWORD>(final_path.size()),
                                             FILE_NAME_NORMALIZED | VOLUME_NAME_DOS);
  if (length >= final_path.size()) {
    final_path.resize(length + 1);
    length = ::GetFinalPathNameByHandleW(file.get(), final_path.data(), static_cast<DWORD>(final_path.size()),
                                         FILE_NAME_NORMALIZED | VOLUME_NAME_DOS);
  }
  if (length == 0 || length >= final_path.size()) return image;
  final_path.resize(length);
  constexpr std::wstring_view kLongPrefix = L"\\\\?\\";
  constexpr std::wstring_view kUncPrefix = L"\\\\?\\UNC\\";
  if (final_path.rfind(kUncPrefix, 0) == 0) return L"\\\\" + final_path.substr(kUncPrefix.size());
  if (final_path.rfind(kLongPrefix, 0) == 0) return final_path.substr(kLongPrefix.size());
  return final_path;
}

PeerIdentity identify(HANDLE pipe) {
  PeerIdentity peer;
  ULONG pid = 0;
  // Without a pid the peer keeps uid -1 and no program, which decide() never matches to an owner.
  if (!::GetNamedPipeClientProcessId(pipe, &pid)) return peer;
  peer.pid = pid;
  windows::OwnedHandle process(::OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid));
  if (!process.valid()) return peer;
  std::wstring image(32768, L'\0');
  DWORD size = static_cast<DWORD>(image.size());
  if (::QueryFullProcessImageNameW(process.get(), 0, image.data(), &size)) {
    image.resize(size);
    peer.exe = final_path_of(image);
  }
  HANDLE raw_token = nullptr;
  if (::OpenProcessToken(process.get(), TOKEN_QUERY, &raw_token)) {
    windows::OwnedHandle token(raw_token);
    DWORD length = 0;
    ::GetTokenInformation(token.get(), TokenUser, nullptr, 0, &length);
    std::vector<unsigned char> buffer(length);
    if (length > 0 && ::GetTokenInformation(token.get(), TokenUser, buffer.data(), length, &length)) {
      peer.uid = uid_of(reinterpret_cast<TOKEN_USER*>(buffer.data())->User.Sid);
    }
  }
  return peer;
}

// The pipe instances and what every connection shares. Connections keep it alive, so one that is
// still pending when the server is destroyed never reaches freed memory.
class PipeListener : public std::enable_shared_from_this<PipeListener> {
 public:
  PipeListener(boost::asio::io_context& io, std::wstring name, windows::SecurityDescriptor security,
               KeyReleaseServer::Handler handler)
      : io_(io),
        retry_timer_(io),
        name_(std::move(name)),
        security_(std::move(security)),
        handler_(std::move(handler)) {}

  // Creates the first instance; empty on success, otherwise why it cannot serve.
  std::string open_first() {
    HANDLE first = create_instance(true);
    if (first == INVALID_HANDLE_VALUE) {
      const DWORD code = ::GetLastError();
      // FILE_FLAG_FIRST_PIPE_INSTANCE fails this way when any process already has a pipe of this name.
      if (code == ERROR_ACCESS_DENIED || code == ERROR_PIPE_BUSY) {
        return "another process is already serving on " + endpoint();
      }
      return "cannot create the pipe " + endpoint() + ": " + windows::error_text(code);
    }
    waiting_instance_ = first;
    return "";
  }

  void accept();
  void connection_done() {
    --active_;
    if (!accepting_ && open_) accept();
  }
  SecretString answer(std::string_view request, const PeerIdentity& peer) { return handler_(request, peer); }
  void close() {
    open_ = false;
    retry_timer_.cancel();
    if (listening_) {
      boost::system::error_code ignored;
      listening_->close(ignored);  // the pending ConnectNamedPipe ends with operation_aborted
      listening_.reset();
    }
    if (waiting_instance_ != INVALID_HANDLE_VALUE) ::CloseHandle(waiting_instance_);
    waiting_instance_ = INVALID_HANDLE_VALUE;
  }
  std::string endpoint() const { return windows::to_utf8(name_); }

 private:
  HANDLE create_instance(bool first) {
    // FIRST_PIPE_INSTANCE: if someone else created the name first, fail rather than join their pipe.
    // REJECT_REMOTE_CLIENTS: the pipe is for programs on this terminal only.
    const DWORD open_mode = PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | (first ? FILE_FLAG_FIRST_PIPE_INSTANCE : 0);
    const DWORD pipe_mode = PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS;
    // One instance per connection being served plus the one waiting for the next peer; a peer beyond
    // that gets ERROR_PIPE_BUSY and waits (WaitNamedPipe), like the Unix socket's listen backlog.
    const DWORD max_instances = static_cast<DWORD>(key_release::kMaxConnections + 1);
    return ::CreateNamedPipeW(name_.c_str(), open_mode, pipe_mode, max_instances, kPipeBufferBytes, kPipeBufferBytes, 0,
                              security_.attributes());
  }

  void retry_later() {
    retry_timer_.expires_after(kAcceptRetryDelay);
    retry_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec && self->open_) self->accept();
    });
  }

  void connected(std::shared_ptr<stream_handle> pipe, const boost::system::error_code& ec);

  boost::asio::io_context& io_;
  boost::asio::steady_timer retry_timer_;
  std::wstring name_;
  windows::SecurityDescriptor security_;
  KeyReleaseServer::Handler handler_;
  HANDLE waiting_instance_ = INVALID_HANDLE_VALUE;  // the first instance, until accept() takes it
  std::shared_ptr<stream_handle> listening_;        // the instance waiting in ConnectNamedPipe
  std::size_t active_ = 0;
  bool accepting_ = false;
  bool open_ = true;
};

// One peer: read one request (bounded in size and time), answer it, close.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<PipeListener> listener, std::shared_ptr<stream_handle> pipe, PeerIdentity peer)
      : listener_(std::move(listener)), pipe_(std::move(pipe)), timer_(pipe_->get_executor()), peer_(std::move(peer)) {}
  ~Connection() { listener_->connection_done(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void start() {
    // The pending read ends, and the request so far is answered.
    arm_timer();
    read();
  }

 private:
  void read() {
    const auto room = key_release::kMaxRequestBytes - request_.size();
    pipe_->async_read_some(boost::asio::buffer(chunk_.data(), std::min(room, chunk_.size())),
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

  // Cancels the pipe's pending I/O kReadTimeout from now (re-arming replaces the earlier wait).
  void arm_timer() {
    timer_.expires_after(key_release::kReadTimeout);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      boost::system::error_code ignored;
      self->pipe_->cancel(ignored);
    });
  }

  void reply() {
    // A fresh limit for the reply: a peer that does not read a reply larger than the pipe's buffer
    // (a status document) must not hold the connection, and the time the loop spent elsewhere before
    // this request was answered must not cut the reply short.
    arm_timer();
    try {
      reply_.emplace(listener_->answer(request_, peer_));
    } catch (const std::exception& e) {
      // An exception out of an Asio handler would end the daemon's loop; one request failing must not.
      log::error("key release: cannot answer pid ", peer_.pid, ": ", e.what());
      reply_.emplace();
    }
    boost::asio::async_write(*pipe_, boost::asio::buffer(reply_->str()),
                             [self = shared_from_this()](const boost::system::error_code&, std::size_t) {
                               self->timer_.cancel();
                               // Closing (not DisconnectNamedPipe, which discards unread data) lets the
                               // peer read the reply and then see the end of the stream.
                               boost::system::error_code ignored;
                               self->pipe_->close(ignored);
                               self->reply_.reset();  // wipes the key as soon as it has been sent
                             });
  }

  std::shared_ptr<PipeListener> listener_;
  std::shared_ptr<stream_handle> pipe_;
  boost::asio::steady_timer timer_;
  PeerIdentity peer_;
  std::array<char, 64> chunk_{};
  std::string request_;
  std::optional<SecretString> reply_;
};

void PipeListener::accept() {
  if (!open_) return;
  if (active_ >= key_release::kMaxConnections) {
    accepting_ = false;  // connection_done() resumes; until then peers wait for a free instance
    return;
  }
  accepting_ = true;
  HANDLE instance = waiting_instance_;
  waiting_instance_ = INVALID_HANDLE_VALUE;
  if (instance == INVALID_HANDLE_VALUE) instance = create_instance(false);
  if (instance == INVALID_HANDLE_VALUE) {
    log::warn("key release: cannot create another instance of ", endpoint(), ": ", windows::last_error_text());
    retry_later();
    return;
  }
  auto pipe = std::make_shared<stream_handle>(io_);
  boost::system::error_code assign_error;
  pipe->assign(instance, assign_error);
  if (assign_error) {
    ::CloseHandle(instance);
    log::warn("key release: cannot serve on ", endpoint(), ": ", assign_error.message());
    retry_later();
    return;
  }
  listening_ = pipe;
  boost::asio::windows::overlapped_ptr overlapped(
      io_, [self = shared_from_this(), pipe](const boost::system::error_code& ec, std::size_t) {
        self->connected(pipe, ec);
      });
  const BOOL done = ::ConnectNamedPipe(pipe->native_handle(), overlapped.get());
  const DWORD code = ::GetLastError();
  if (!done && code == ERROR_IO_PENDING) {
    overlapped.release();  // the completion port delivers the result
  } else if (!done && code == ERROR_PIPE_CONNECTED) {
    overlapped.complete(boost::system::error_code(), 0);  // a peer connected between create and connect
  } else if (!done) {
    overlapped.complete(boost::system::error_code(static_cast<int>(code), boost::asio::error::get_system_category()),
                        0);
  } else {
    overlapped.release();
  }
}

void PipeListener::connected(std::shared_ptr<stream_handle> pipe, const boost::system::error_code& ec) {
  if (listening_ == pipe) listening_.reset();
  if (ec == boost::asio::error::operation_aborted || !open_) return;
  if (ec) {
    // ERROR_NO_DATA: the peer connected and closed before we looked; not worth a warning.
    if (ec.value() != ERROR_NO_DATA)
      log::warn("key release: cannot accept a connection on ", endpoint(), ": ", ec.message());
    boost::system::error_code ignored;
    pipe->close(ignored);
    accept();
    return;
  }
  auto peer = identify(pipe->native_handle());
  ++active_;
  std::make_shared<Connection>(shared_from_this(), std::move(pipe), std::move(peer))->start();
  accept();
}

class PipeKeyReleaseServer final : public KeyReleaseServer {
 public:
  explicit PipeKeyReleaseServer(std::shared_ptr<PipeListener> listener) : listener_(std::move(listener)) {}
  ~PipeKeyReleaseServer() override { listener_->close(); }
  PipeKeyReleaseServer(const PipeKeyReleaseServer&) = delete;
  PipeKeyReleaseServer& operator=(const PipeKeyReleaseServer&) = delete;

  std::string endpoint() const override { return listener_->endpoint(); }

 private:
  std::shared_ptr<PipeListener> listener_;
};

// The SID of local group `group` as SDDL text, or empty when there is no such group.
std::wstring group_sid(const std::string& group) {
  const auto name = windows::to_utf16(group);
  DWORD sid_size = 0;
  DWORD domain_size = 0;
  SID_NAME_USE use{};
  ::LookupAccountNameW(nullptr, name.c_str(), nullptr, &sid_size, nullptr, &domain_size, &use);
  if (sid_size == 0) return {};
  std::vector<unsigned char> sid(sid_size);
  std::wstring domain(domain_size, L'\0');
  if (!::LookupAccountNameW(nullptr, name.c_str(), sid.data(), &sid_size, domain.data(), &domain_size, &use)) return {};
  if (use != SidTypeGroup && use != SidTypeAlias && use != SidTypeWellKnownGroup) return {};
  wchar_t* text = nullptr;
  if (!::ConvertSidToStringSidW(sid.data(), &text)) return {};
  std::wstring result(text);
  ::LocalFree(text);
  return result;
}

}  // namespace

KeyReleaseServerStart start_key_release_server(boost::asio::io_context& io, const fs::path& runtime_dir,
                                               const std::string& group, KeyReleaseServer::Handler handler) {
  const auto fail = [](std::string why) { return KeyReleaseServerStart{nullptr, std::move(why)}; };
  const auto name = windows::key_release_pipe_name(runtime_dir);
  // Pipe names are limited to 256 characters in all.
  if (name.size() > 256) {
    return fail("pipe name " + windows::to_utf8(name) + " is too long (" + std::to_string(name.size()) +
                " characters; at most 256): use a shorter agent.runtime_dir");
  }
  std::wstring sddl(windows::sddl::kSystemAndAdministrators);
  if (!group.empty()) {
    // The POS programs' way in: a missing group is not fatal (the owner check still decides), but
    // nobody outside SYSTEM and Administrators can connect until it exists.
    if (const auto sid = group_sid(group); !sid.empty()) {
      sddl += L"(A;;" + std::wstring(windows::sddl::kPipeClientRights) + L";;;" + sid + L")";
    } else {
      log::warn("key release: group '", group, "' does not exist; only SYSTEM and Administrators can connect to ",
                windows::to_utf8(name));
    }
  }
  std::string why;
  auto security = windows::SecurityDescriptor::from_sddl(sddl, &why);
  if (!security) return fail(why);
  auto listener = std::make_shared<PipeListener>(io, name, std::move(*security), std::move(handler));
  if (auto problem = listener->open_first(); !problem.empty()) return fail(problem);
  listener->accept();
  log::info("key release: listening on ", listener->endpoint());
  return {std::make_unique<PipeKeyReleaseServer>(std::move(listener)), ""};
}

}  // namespace postured
