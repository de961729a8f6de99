// The key release endpoint on Windows (platform/windows/key_release_server.cpp, local_pipe.cpp): a
// named pipe served on an io_context, peers identified by pid, program path and account, and clients
// that are real processes (this test program, and a copy of it at another path).
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "cache/key_release_client.hpp"
#include "cache/key_release_server.hpp"

#include <winsock2.h>
// (winsock2.h first: windows.h would otherwise pull in winsock.h, which Asio refuses.)
#include <windows.h>

#include <aclapi.h>
#include <sddl.h>

#include <fstream>
#include <iterator>
#include <mutex>
#include <thread>
#include <vector>

#include "file_security.hpp"
#include "local_pipe.hpp"
#include "self_process.hpp"
#include "utf16.hpp"

using Catch::Matchers::ContainsSubstring;
using Catch::Matchers::StartsWith;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// A 64-hex-digit stand-in for a cache key: what an owner is given.
const std::string kKeyReply = "OK " + std::string(64, 'a') + "\n";

// A key release server on its own io_context thread. The handler stands in for answer_key_request
// (key_release_cache_test.cpp runs the real one): it gives the key only to `owner_exe` running as `owner_uid`, and
// records every peer so the test can check what the platform layer saw.
class PipeServer {
 public:
  PipeServer(const fs::path& runtime_dir, fs::path owner_exe, long long owner_uid, const std::string& group = "")
      : owner_exe_(std::move(owner_exe)), owner_uid_(owner_uid) {
    start_ = postured::start_key_release_server(
        io_, runtime_dir, group, [this](std::string_view request, const postured::PeerIdentity& peer) {
          std::lock_guard lock(mutex_);
          requests_.emplace_back(request);
          peers_.push_back(peer);
          // A status document is larger than the pipe's 4 KiB buffer.
          if (request == "STATUS\n") return postured::SecretString(std::string(20000, 's') + "\n");
          // As parse_key_request: one line; what follows its '\n' is ignored.
          if (request.substr(0, request.find('\n') + 1) != "KEY loyalty\n") {
            return postured::SecretString("ERR bad request\n");
          }
          if (peer.uid != owner_uid_)
            return postured::SecretString("ERR uid " + std::to_string(peer.uid) + " is not the owner\n");
          if (peer.exe != owner_exe_)
            return postured::SecretString("ERR program " + peer.exe.string() + " is not the owner\n");
          return postured::SecretString(kKeyReply);
        });
    if (start_.server) thread_ = std::thread([this] { io_.run(); });
  }
  ~PipeServer() {
    if (!thread_.joinable()) return;
    // Destroyed on the loop's thread, as the daemon does; then the loop runs out of work.
    boost::asio::post(io_, [this] { start_.server.reset(); });
    thread_.join();
  }
  PipeServer(const PipeServer&) = delete;
  PipeServer& operator=(const PipeServer&) = delete;

  const postured::KeyReleaseServerStart& start() const { return start_; }
  std::vector<postured::PeerIdentity> peers() const {
    std::lock_guard lock(mutex_);
    return peers_;
  }
  std::vector<std::string> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  boost::asio::io_context io_;
  fs::path owner_exe_;
  long long owner_uid_;
  postured::KeyReleaseServerStart start_;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<std::string> requests_;
  std::vector<postured::PeerIdentity> peers_;
};

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Runs `exe` as a pipe client process asking for cache "loyalty"; returns what it was answered.
std::string ask_from_process(const fs::path& exe, const std::wstring& pipe, const fs::path& reply_file) {
  const auto child = postured::test::run_test_case(
      exe, "key release pipe client", {{L"POSTURED_TEST_PIPE", pipe}, {L"POSTURED_TEST_REPLY", reply_file.native()}},
      60s);
  REQUIRE(child.started);
  REQUIRE(child.finished);
  CHECK(child.exit_code == 0);
  return read_all(reply_file);
}

}  // namespace

// The client half, run in a second process by the tests below (hidden: it needs their environment).
TEST_CASE("key release pipe client", "[.][pipe-client]") {
  const auto pipe = postured::test::environment(L"POSTURED_TEST_PIPE");
  const auto reply_file = postured::test::environment(L"POSTURED_TEST_REPLY");
  REQUIRE_FALSE(pipe.empty());
  const auto exchange = postured::windows::exchange_over_pipe(pipe, "KEY loyalty\n", 10s, 4096);
  std::ofstream out{fs::path(reply_file), std::ios::binary};
  out << (exchange.ok ? exchange.reply : "client error: " + exchange.error);
}

TEST_CASE("key release pipe: the name is derived from runtime_dir", "[windows][pipe]") {
  CHECK(postured::windows::key_release_pipe_name("") == L"\\\\.\\pipe\\postured");
  CHECK(postured::windows::key_release_pipe_name("C:\\ProgramData\\postured\\run") ==
        L"\\\\.\\pipe\\postured@C:/ProgramData/postured/run");
}

TEST_CASE("key release pipe: the owner program gets the key, a copy of it at another path is refused",
          "[windows][pipe]") {
  postured::test::TempFolder dir("pipe-owner");
  const auto owner = postured::test::own_executable();
  const auto uid = postured::test::own_account_rid();
  REQUIRE(uid > 0);  // a real account, or the uid checks below would prove nothing
  PipeServer server(dir.path() / "run", owner, uid);
  INFO(server.start().error);
  REQUIRE(server.start().server);
  const auto pipe = postured::windows::key_release_pipe_name(dir.path() / "run");
  CHECK(server.start().server->endpoint() == postured::windows::to_utf8(pipe));

  // The same program, the same account, another path: what an attacker's copy would look like.
  const auto copy = dir.path() / "elsewhere" / owner.filename();
  fs::create_directories(copy.parent_path());
  fs::copy_file(owner, copy);

  CHECK(ask_from_process(owner, pipe, dir.path() / "owner.reply") == kKeyReply);
  const auto refused = ask_from_process(copy, pipe, dir.path() / "copy.reply");
  CHECK_THAT(refused, StartsWith("ERR program "));
  CHECK_THAT(refused, ContainsSubstring("elsewhere"));

  const auto peers = server.peers();
  REQUIRE(peers.size() == 2);
  CHECK(peers[0].exe == owner);
  CHECK(peers[1].exe == copy);
  for (const auto& peer : peers) {
    CHECK(peer.uid == uid);
    CHECK(peer.pid > 0);
    CHECK(peer.pid != static_cast<long long>(::GetCurrentProcessId()));  // another process, really
  }
}

TEST_CASE("key release pipe: a request is read up to its newline, bounded in size and in time", "[windows][pipe]") {
  postured::test::TempFolder dir("pipe-limits");
  PipeServer server(dir.path() / "run", postured::test::own_executable(), postured::test::own_account_rid());
  REQUIRE(server.start().server);
  const auto pipe = postured::windows::key_release_pipe_name(dir.path() / "run");

  // In this process: the peer is this process.
  auto exchange = postured::windows::exchange_over_pipe(pipe, "KEY loyalty\nignored", 10s, 4096);
  REQUIRE(exchange.ok);
  CHECK(exchange.reply == kKeyReply);
  CHECK(server.peers().back().pid == static_cast<long long>(::GetCurrentProcessId()));
  // posturectl's way in (key_release_client.hpp): the same pipe, found from runtime_dir alone.
  CHECK(postured::key_release_endpoint(dir.path() / "run") == server.start().server->endpoint());
  const auto through_client = postured::exchange_with_daemon(dir.path() / "run", "KEY loyalty\n", 10s, 4096);
  CHECK(through_client.ok);
  CHECK(through_client.reply == kKeyReply);
  // A reply larger than the pipe's buffer arrives whole, in several pieces.
  const auto status = postured::exchange_with_daemon(dir.path() / "run", "STATUS\n", 10s, 65536);
  CHECK(status.error == "");
  CHECK(status.reply == std::string(20000, 's') + "\n");
  // A daemon that is not there: a reason naming the pipe, not a hang.
  const auto nobody = postured::exchange_with_daemon(dir.path() / "elsewhere", "KEY loyalty\n", 2s, 4096);
  CHECK_FALSE(nobody.ok);
  CHECK_THAT(nobody.error, ContainsSubstring("cannot connect to \\\\.\\pipe\\postured@"));

  // More than 128 bytes without a newline: the server stops reading at 128 and answers.
  exchange = postured::windows::exchange_over_pipe(pipe, std::string(300, 'x'), 10s, 4096);
  CHECK(exchange.reply == "ERR bad request\n");
  CHECK(server.requests().back() == std::string(128, 'x'));

  // A peer that says nothing is answered (and cut off) after the 2 s read timeout.
  const auto before = std::chrono::steady_clock::now();
  exchange = postured::windows::exchange_over_pipe(pipe, "", 10s, 4096);
  const auto waited = std::chrono::steady_clock::now() - before;
  CHECK(exchange.reply == "ERR bad request\n");
  CHECK(waited >= 1900ms);
  CHECK(waited < 6s);
  CHECK(server.requests().back().empty());
}

TEST_CASE("key release pipe: several clients at once are all answered", "[windows][pipe]") {
  postured::test::TempFolder dir("pipe-many");
  PipeServer server(dir.path() / "run", postured::test::own_executable(), postured::test::own_account_rid());
  REQUIRE(server.start().server);
  const auto pipe = postured::windows::key_release_pipe_name(dir.path() / "run");
  constexpr int kClients = 24;  // more than kMaxConnections (16): the rest wait for an instance
  std::vector<std::string> replies(kClients);
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back(
        [&, i] { replies[i] = postured::windows::exchange_over_pipe(pipe, "KEY loyalty\n", 20s, 4096).reply; });
  }
  for (auto& client : clients) client.join();
  for (const auto& reply : replies) CHECK(reply == kKeyReply);
}

TEST_CASE("key release pipe: the DACL lets in SYSTEM, Administrators and the configured group only",
          "[windows][pipe]") {
  postured::test::TempFolder dir("pipe-dacl");
  // BUILTIN\Users stands for the POS programs' group (agent.socket_group).
  PipeServer server(dir.path() / "run", postured::test::own_executable(), postured::test::own_account_rid(), "Users");
  REQUIRE(server.start().server);
  const auto pipe = postured::windows::key_release_pipe_name(dir.path() / "run");
  PACL dacl = nullptr;
  PSECURITY_DESCRIPTOR descriptor = nullptr;
  // Reading the pipe's DACL opens it like a client does; the server answers that one "bad request".
  REQUIRE(::GetNamedSecurityInfoW(pipe.c_str(), SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, nullptr, nullptr, &dacl,
                                  nullptr, &descriptor) == ERROR_SUCCESS);
  wchar_t* text = nullptr;
  REQUIRE(::ConvertSecurityDescriptorToStringSecurityDescriptorW(descriptor, SDDL_REVISION_1, DACL_SECURITY_INFORMATION,
                                                                 &text, nullptr));
  const auto sddl = postured::windows::to_utf8(text);
  ::LocalFree(text);
  ::LocalFree(descriptor);
  INFO(sddl);
  CHECK_THAT(sddl, StartsWith("D:P"));
  CHECK_THAT(sddl, ContainsSubstring(";;;SY)"));
  CHECK_THAT(sddl, ContainsSubstring(";;;BA)"));
  // The group may read and write data, not create instances of its own (FILE_CREATE_PIPE_INSTANCE).
  CHECK_THAT(sddl, ContainsSubstring("(A;;0x12008b;;;BU)"));
  CHECK(sddl.find(";;;WD)") == std::string::npos);
  CHECK(sddl.find(";;;AU)") == std::string::npos);
}
