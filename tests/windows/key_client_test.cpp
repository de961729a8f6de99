// The C key client for Windows (platform/windows/key_client.c, include/postured/key_client.h) against
// the daemon's real pipe server.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "cache/key_release_server.hpp"

#include <thread>

#include "local_pipe.hpp"
#include "postured/key_client.h"
#include "self_process.hpp"
#include "utf16.hpp"

using Catch::Matchers::ContainsSubstring;
using namespace std::chrono_literals;

namespace {

const std::string kKey(64, 'b');

// A pipe server that gives kKey for "loyalty" and refuses anything else with the daemon's words.
class CacheKeyServer {
 public:
  explicit CacheKeyServer(const std::filesystem::path& runtime_dir) {
    start_ = postured::start_key_release_server(io_, runtime_dir, "",
                                                [](std::string_view request, const postured::PeerIdentity&) {
                                                  if (request == "KEY loyalty\n")
                                                    return postured::SecretString("OK " + kKey + "\n");
                                                  return postured::SecretString("ERR unknown cache\n");
                                                });
    if (start_.server) thread_ = std::thread([this] { io_.run(); });
  }
  ~CacheKeyServer() {
    if (!thread_.joinable()) return;
    boost::asio::post(io_, [this] { start_.server.reset(); });
    thread_.join();
  }
  CacheKeyServer(const CacheKeyServer&) = delete;
  CacheKeyServer& operator=(const CacheKeyServer&) = delete;
  bool serving() const { return start_.server != nullptr; }

 private:
  boost::asio::io_context io_;
  postured::KeyReleaseServerStart start_;
  std::thread thread_;
};

}  // namespace

TEST_CASE("C key client on Windows: a key, a refusal, bad names and no daemon", "[windows][key-client]") {
  postured::test::TempFolder dir("key-client");
  CacheKeyServer server(dir.path() / "run");
  REQUIRE(server.serving());
  const auto pipe = postured::windows::to_utf8(postured::windows::key_release_pipe_name(dir.path() / "run"));

  char key[POSTURED_KEY_HEX_SIZE];
  char error[256];
  REQUIRE(postured_fetch_cache_key(pipe.c_str(), "loyalty", key, error, sizeof error) == 0);
  CHECK(std::string(key) == kKey);
  CHECK(std::string(error).empty());

  CHECK(postured_fetch_cache_key(pipe.c_str(), "receipts", key, error, sizeof error) == -1);
  CHECK(std::string(error) == "unknown cache");
  CHECK(std::string(key).empty());  // all zero on failure

  CHECK(postured_fetch_cache_key(pipe.c_str(), "no spaces", key, error, sizeof error) == -1);
  CHECK_THAT(std::string(error), ContainsSubstring("invalid cache name"));

  const auto nobody = postured::windows::to_utf8(postured::windows::key_release_pipe_name(dir.path() / "none"));
  CHECK(postured_fetch_cache_key(nobody.c_str(), "loyalty", key, error, sizeof error) == -1);
  CHECK_THAT(std::string(error), ContainsSubstring("cannot connect to \\\\.\\pipe\\postured@"));
}
