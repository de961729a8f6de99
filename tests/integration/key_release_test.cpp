// Key release end to end: a real postured daemon, its Unix socket, the C client and SQLCipher.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <grp.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <optional>
#include <regex>

#include "postured/key_client.h"
#include "support/fixture_root.hpp"
#include "support/process.hpp"
#include "support/unix_socket.hpp"

using Catch::Matchers::ContainsSubstring;
using Catch::Matchers::Matches;
using postured::test::bin;
using postured::test::Child;
using postured::test::FixtureRoot;
using postured::test::run;
using namespace std::chrono_literals;

namespace {

constexpr int kRows = 25;
// The uid and gid of "nobody" on Debian: a peer that is certainly not the owner.
constexpr uid_t kNobody = 65534;

std::string self_exe() {
  return std::filesystem::read_symlink("/proc/self/exe").string();
}
std::string example_exe() {
  return std::filesystem::canonical(POSTURED_EXAMPLES_DIR "/pos_open_cache").string();
}

void exec_sql(sqlite3* db, const std::string& sql) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  INFO(sql << ": " << (message ? message : ""));
  sqlite3_free(message);
  REQUIRE(rc == SQLITE_OK);
}

void make_plaintext_cache(const std::filesystem::path& path) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  exec_sql(db, "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT NOT NULL, points INTEGER NOT NULL);");
  exec_sql(db, "BEGIN;");
  for (int i = 1; i <= kRows; ++i) {
    exec_sql(db, "INSERT INTO customers VALUES (" + std::to_string(i) + ", 'customer " + std::to_string(i) + "', " +
                     std::to_string(i * 10) + ");");
  }
  exec_sql(db, "COMMIT;");
  sqlite3_close(db);
}

struct Fetched {
  int rc = -1;
  std::string key;
  std::string error;
};

Fetched fetch(const std::string& socket, const char* cache_name) {
  char key[POSTURED_KEY_HEX_SIZE];
  char error[256];
  Fetched f;
  f.rc = postured_fetch_cache_key(socket.c_str(), cache_name, key, error, sizeof error);
  if (f.rc == 0) f.key = key;
  f.error = error;
  return f;
}

// Sends `request` as raw bytes (then half-closes when asked) and returns everything the daemon sends back.
std::string exchange(const std::string& socket_path, const std::string& request, bool half_close = false) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  auto address = postured::test::unix_address(socket_path);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (!request.empty()) ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  if (half_close) ::shutdown(fd, SHUT_WR);
  std::string reply;
  char buffer[512];
  for (;;) {
    const auto n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    reply.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return reply;
}

// Every row of the encrypted cache, read with `key_hex`; empty when the key does not open it.
std::vector<std::string> read_rows(const std::filesystem::path& path, const std::string& key_hex) {
  sqlite3* db = nullptr;
  std::vector<std::string> rows;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return rows;
  }
  // No SQLCipher log on stderr for the wrong-key probe; the empty result says it all.
  const std::string pragma = "PRAGMA cipher_log_level = NONE; PRAGMA key = \"x'" + key_hex + "'\";";
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_exec(db, pragma.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK &&
      sqlite3_prepare_v2(db, "SELECT id, name, points FROM customers ORDER BY id;", -1, &statement, nullptr) ==
          SQLITE_OK) {
    while (sqlite3_step(statement) == SQLITE_ROW) {
      rows.push_back(std::to_string(sqlite3_column_int(statement, 0)) + "|" +
                     reinterpret_cast<const char*>(sqlite3_column_text(statement, 1)) + "|" +
                     std::to_string(sqlite3_column_int(statement, 2)));
    }
  }
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return rows;
}

bool starts_with_sqlite_header(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  char header[16] = {};
  in.read(header, sizeof header);
  return std::memcmp(header, "SQLite format 3", 16) == 0;
}

// A daemon with four caches: "loyalty" owned by this test program as this uid, "receipts" owned by
// another program, "offline" with no owner, and "counter" owned by the example program.
class KeyReleaseRig {
 public:
  KeyReleaseRig() {
    // The folders stay reachable for a peer that drops to another uid; the socket's mode still applies.
    ::chmod(dir.path().c_str(), 0755);
    dir.mkdir("/pos");
    ::chmod(dir.real("/pos").c_str(), 0755);
    make_plaintext_cache(loyalty_db());
    make_plaintext_cache(counter_db());
    write_config(static_cast<long long>(::getuid()));
    start();
  }

  std::filesystem::path loyalty_db() const { return dir.real("/pos/loyalty.db"); }
  std::filesystem::path counter_db() const { return dir.real("/pos/counter.db"); }
  std::string socket_path() const { return dir.real("/run/postured.sock").string(); }
  const std::string& config_path() const { return config_; }

  void write_config(long long loyalty_uid) {
    config_ = dir.real("/postured.toml").string();
    const auto uid = std::to_string(::getuid());
    std::ofstream(config_, std::ios::trunc)
        << "[agent]\nstore_id = \"store-42\"\ndevice_id = \"pos-42-01\"\n"
        << "state_dir = \"" << dir.real("/state").string() << "\"\n"
        << "runtime_dir = \"" << dir.real("/run").string() << "\"\n"
        << "socket_group = \"nogroup\"\n"
        << "[schedule]\ncheck_interval = \"1h\"\njitter = 0\n"
        << "[[cache]]\nname = \"loyalty\"\npath = \"" << loyalty_db().string() << "\"\nowner_exe = \"" << self_exe()
        << "\"\nowner_uid = " << loyalty_uid << "\n"
        << "[[cache]]\nname = \"receipts\"\npath = \"" << dir.real("/pos/receipts.db").string()
        << "\"\nowner_exe = \"/usr/bin/true\"\nowner_uid = " << uid << "\n"
        << "[[cache]]\nname = \"offline\"\npath = \"" << dir.real("/pos/offline.db").string() << "\"\n"
        << "[[cache]]\nname = \"counter\"\npath = \"" << counter_db().string() << "\"\nowner_exe = \"" << example_exe()
        << "\"\nowner_uid = " << uid << "\n";
  }

  void start() {
    daemon.emplace(std::vector<std::string>{bin("postured"), "--config", config_});
    // The first cycle starts at once (no jitter) and migrates both plaintext caches.
    REQUIRE(daemon->wait_for_stderr("info: cache counter: encrypted with SQLCipher", 30s));
    REQUIRE_THAT(daemon->result().err, ContainsSubstring("info: cache loyalty: encrypted with SQLCipher"));
  }
  // The daemon's log so far, once `text` has appeared in it (or after a few seconds).
  std::string log_after(const std::string& text) {
    daemon->wait_for_stderr(text, 5s);
    return daemon->result().err;
  }

  FixtureRoot dir;
  std::optional<Child> daemon;

 private:
  std::string config_;
};

}  // namespace

TEST_CASE("key release: the owner program gets the key that opens the encrypted cache", "[key_release][daemon]") {
  KeyReleaseRig rig;
  REQUIRE_FALSE(starts_with_sqlite_header(rig.loyalty_db()));
  const auto f = fetch(rig.socket_path(), "loyalty");
  INFO(f.error);
  REQUIRE(f.rc == 0);
  CHECK(f.error.empty());
  CHECK_THAT(f.key, Matches("[0-9a-f]{64}"));
  const auto rows = read_rows(rig.loyalty_db(), f.key);
  REQUIRE(rows.size() == kRows);
  for (int i = 1; i <= kRows; ++i) {
    CHECK(rows[static_cast<std::size_t>(i - 1)] ==
          std::to_string(i) + "|customer " + std::to_string(i) + "|" + std::to_string(i * 10));
  }
  CHECK(read_rows(rig.loyalty_db(), std::string(64, '0')).empty());
  // The same request again gets the same key: it is derived, not made per request.
  CHECK(fetch(rig.socket_path(), "loyalty").key == f.key);
  const auto log = rig.log_after("was given the key of cache loyalty");
  CHECK_THAT(log, ContainsSubstring("info: key release: pid " + std::to_string(::getpid()) + " uid " +
                                    std::to_string(::getuid()) + " exe " + self_exe() +
                                    " was given the key of cache loyalty"));
}

TEST_CASE("key release: a peer with another uid is refused, even running the owner program", "[key_release][daemon]") {
  if (::getuid() != 0) SKIP("needs root to drop to another uid");
  KeyReleaseRig rig;
  // The deployment's way in for the POS user: the socket's group (agent.socket_group), here nogroup.
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // No Catch2 here: report through the pipe and leave with _exit.
    ::close(pipe_fds[0]);
    if (::setgroups(0, nullptr) != 0 || ::setgid(kNobody) != 0 || ::setuid(kNobody) != 0) ::_exit(90);
    char key[POSTURED_KEY_HEX_SIZE];
    char error[256];
    const int rc = postured_fetch_cache_key(rig.socket_path().c_str(), "loyalty", key, error, sizeof error);
    const std::string report = std::to_string(rc) + ":" + std::to_string(::getpid()) + ":" + error;
    (void)!::write(pipe_fds[1], report.data(), report.size());
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  std::string report;
  char buffer[512];
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;)
    report.append(buffer, static_cast<std::size_t>(n));
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  const auto child_pid = std::to_string(child);
  CHECK(report == "-1:" + child_pid + ":uid 65534 is not the owner");
  const auto log = rig.log_after("uid 65534 is not the owner");
  CHECK_THAT(log, ContainsSubstring("warn: key release refused: pid " + child_pid + " uid 65534 exe " + self_exe() +
                                    " asked for cache loyalty: uid 65534 is not the owner"));
}

TEST_CASE("key release: another program with the owner's uid is refused", "[key_release][daemon]") {
  KeyReleaseRig rig;
  const auto f = fetch(rig.socket_path(), "receipts");
  CHECK(f.rc == -1);
  CHECK(f.key.empty());
  CHECK(f.error == "program " + self_exe() + " is not the owner");
}

TEST_CASE("key release: unknown caches and caches without an owner are refused", "[key_release][daemon]") {
  KeyReleaseRig rig;
  auto f = fetch(rig.socket_path(), "nosuch");
  CHECK(f.rc == -1);
  CHECK(f.error == "unknown cache");
  f = fetch(rig.socket_path(), "offline");
  CHECK(f.rc == -1);
  CHECK(f.error == "no program may fetch this key");
  // The client checks the name before it connects.
  f = fetch(rig.socket_path(), "../loyalty");
  CHECK(f.rc == -1);
  CHECK_THAT(f.error, ContainsSubstring("invalid cache name"));
  f = fetch(rig.dir.real("/run/none.sock").string(), "loyalty");
  CHECK(f.rc == -1);
  CHECK_THAT(f.error, ContainsSubstring("cannot connect to " + rig.dir.real("/run/none.sock").string()));
}

TEST_CASE("key release: malformed, oversized, cut-short and silent requests get ERR bad request",
          "[key_release][daemon]") {
  KeyReleaseRig rig;
  const auto socket = rig.socket_path();
  CHECK(exchange(socket, "HELLO\n") == "ERR bad request\n");
  CHECK(exchange(socket, "KEY \n") == "ERR bad request\n");
  CHECK(exchange(socket, "KEY loyalty \n") == "ERR bad request\n");
  CHECK(exchange(socket, "KEY " + std::string(65, 'a') + "\n") == "ERR bad request\n");
  CHECK(exchange(socket, "KEY " + std::string(300, 'a') + "\n") == "ERR bad request\n");
  CHECK(exchange(socket, std::string(100000, 'x')) == "ERR bad request\n");
  CHECK(exchange(socket, "KEY loyalty", true) == "ERR bad request\n");
  CHECK(exchange(socket, std::string("KEY loy\0alty\n", 13)) == "ERR bad request\n");
  // A peer that says nothing is answered and cut off after the 2 s read timeout.
  const auto started = std::chrono::steady_clock::now();
  CHECK(exchange(socket, "") == "ERR bad request\n");
  const auto waited = std::chrono::steady_clock::now() - started;
  CHECK(waited >= 1900ms);
  CHECK(waited < 5s);
  // One reply per connection: a second line is never answered.
  CHECK(exchange(socket, "KEY nosuch\nKEY loyalty\n") == "ERR unknown cache\n");

  REQUIRE(rig.daemon->running());
  const auto f = fetch(socket, "loyalty");
  CHECK(f.rc == 0);
  CHECK(read_rows(rig.loyalty_db(), f.key).size() == kRows);
  // The daemon reads no more than a request may hold, however much is sent.
  CHECK_THAT(rig.log_after("was given the key"), ContainsSubstring("sent a bad request (128 bytes)"));
}

TEST_CASE("key release: the socket has mode 0660 in a 0755 runtime folder", "[key_release][daemon]") {
  KeyReleaseRig rig;
  struct stat st {};
  REQUIRE(::lstat(rig.socket_path().c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 07777) == 0660);
  CHECK(st.st_gid == kNobody);  // agent.socket_group = "nogroup"
  CHECK(st.st_uid == ::getuid());
  REQUIRE(::stat(rig.dir.real("/run").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0755);
  // Gone once the daemon stops.
  rig.daemon->signal(SIGTERM);
  CHECK(rig.daemon->wait(10s).exit_code == 0);
  CHECK_FALSE(std::filesystem::exists(rig.socket_path()));
}

TEST_CASE("key release: the log names every refused peer and never holds a key", "[key_release][daemon]") {
  KeyReleaseRig rig;
  const auto self = "pid " + std::to_string(::getpid()) + " uid " + std::to_string(::getuid()) + " exe " + self_exe();
  const auto loyalty = fetch(rig.socket_path(), "loyalty");
  REQUIRE(loyalty.rc == 0);
  fetch(rig.socket_path(), "receipts");
  fetch(rig.socket_path(), "offline");
  fetch(rig.socket_path(), "nosuch");
  exchange(rig.socket_path(), "HELLO\n");
  const auto counter =
      run({example_exe(), "--socket", rig.socket_path(), "counter", rig.counter_db().string(), "customers"});
  REQUIRE(counter.exit_code == 0);

  const auto log = rig.log_after("sent a bad request");
  CHECK_THAT(log, ContainsSubstring("warn: key release refused: " + self + " asked for cache receipts: program " +
                                    self_exe() + " is not the owner"));
  CHECK_THAT(log, ContainsSubstring("warn: key release refused: " + self +
                                    " asked for cache offline: no program may fetch this key"));
  CHECK_THAT(log, ContainsSubstring("warn: key release refused: " + self + " asked for cache nosuch: unknown cache"));
  CHECK_THAT(log, ContainsSubstring("warn: key release refused: " + self + " sent a bad request (6 bytes)"));
  CHECK_THAT(log, ContainsSubstring("was given the key of cache counter"));
  CHECK(log.find(loyalty.key) == std::string::npos);
  // The example's key, which this process never saw: the log holds no 64-digit hex run at all.
  CHECK_FALSE(std::regex_search(log, std::regex("[0-9a-f]{64}")));
  rig.daemon->signal(SIGTERM);
  const auto& r = rig.daemon->wait(10s);
  CHECK(r.exit_code == 0);
  CHECK(r.err.find(loyalty.key) == std::string::npos);
  CHECK(r.out.find(loyalty.key) == std::string::npos);
}

TEST_CASE("key release: the C example opens its cache with the released key", "[key_release][daemon][example]") {
  KeyReleaseRig rig;
  auto r = run({example_exe(), "--socket", rig.socket_path(), "counter", rig.counter_db().string(), "customers"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == std::to_string(kRows) + "\n");
  // Its owner is the example; the loyalty cache is not its to open.
  r = run({example_exe(), "--socket", rig.socket_path(), "loyalty", rig.loyalty_db().string(), "customers"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, ContainsSubstring("no key for loyalty: program " + example_exe() + " is not the owner"));
  CHECK(run({example_exe(), "counter"}).exit_code == 2);
}

TEST_CASE("key release: a reload's cache list applies to the next request", "[key_release][daemon]") {
  KeyReleaseRig rig;
  REQUIRE(fetch(rig.socket_path(), "loyalty").rc == 0);
  rig.write_config(4242);
  rig.daemon->signal(SIGHUP);
  REQUIRE(rig.daemon->wait_for_stderr("is in effect", 10s));
  const auto f = fetch(rig.socket_path(), "loyalty");
  CHECK(f.rc == -1);
  CHECK(f.error == "uid " + std::to_string(::getuid()) + " is not the owner");
}

TEST_CASE("key release: a stale socket is replaced; a live one stops a second daemon with exit 3",
          "[key_release][daemon]") {
  KeyReleaseRig rig;
  // A second daemon on the same runtime folder must not take the socket from the first.
  auto second = run({bin("postured"), "--config", rig.config_path()});
  CHECK(second.exit_code == 3);
  CHECK_THAT(second.err,
             ContainsSubstring("error: key release: another process is already serving on " + rig.socket_path()));
  CHECK(fetch(rig.socket_path(), "loyalty").rc == 0);

  // A killed daemon leaves its socket behind; the next one replaces it.
  rig.daemon->signal(SIGKILL);
  rig.daemon->wait(10s);
  REQUIRE(std::filesystem::exists(rig.socket_path()));
  Child next({bin("postured"), "--config", rig.config_path()});
  REQUIRE(next.wait_for_stderr("key release: listening on", 10s));
  CHECK_THAT(next.result().err, ContainsSubstring("removed the stale socket " + rig.socket_path()));
  CHECK(fetch(rig.socket_path(), "loyalty").rc == 0);

  // Something that is not a socket in its place is left alone, and the daemon does not start.
  next.signal(SIGTERM);
  next.wait(10s);
  std::ofstream(rig.socket_path()) << "not a socket";
  second = run({bin("postured"), "--config", rig.config_path()});
  CHECK(second.exit_code == 3);
  CHECK_THAT(second.err, ContainsSubstring(rig.socket_path() + " exists and is not a socket"));
}
