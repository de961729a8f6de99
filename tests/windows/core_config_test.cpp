// The agent's config loader in the Windows build: a real file on the Windows file system (Wine's C:),
// read through the same code as on Linux, and errors that name file:line:col.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/config.hpp"

using Catch::Matchers::ContainsSubstring;
using Catch::Matchers::StartsWith;
using namespace std::chrono_literals;

namespace {

// A file under the Windows temporary folder, removed at the end of the test.
class TempFile {
 public:
  TempFile(const std::string& name, const std::string& text)
      : path_(std::filesystem::temp_directory_path() / ("postured-core-test-" + name)) {
    std::ofstream out(path_, std::ios::binary);
    out << text;
  }
  ~TempFile() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace

TEST_CASE("core: a config file on Windows is read into the structs", "[core][config]") {
  // CRLF line ends, as Notepad writes them.
  const TempFile file("good.toml", "[agent]\r\nstore_id = \"store-0042\"\r\n[schedule]\r\ncheck_interval = \"5m\"\r\n");
  const auto load = postured::load_config_file(file.path());
  REQUIRE(load.errors.empty());
  REQUIRE(load.config);
  CHECK(load.config->agent.store_id == "store-0042");
  CHECK(load.config->schedule.check_interval == 5min);
  CHECK(load.config->source == file.path());
}

TEST_CASE("core: a bad config file on Windows is reported as file:line:col", "[core][config]") {
  const TempFile file("bad.toml", "[agent]\r\nstore_id = \"s1\"\r\n[schedule]\r\ncheck_interval = \"5 parsecs\"\r\n");
  const auto load = postured::load_config_file(file.path());
  CHECK_FALSE(load.config);
  REQUIRE(load.errors.size() == 1);
  const auto text = load.errors.front().to_string();
  CHECK_THAT(text, StartsWith(file.path().string() + ":4:"));
  CHECK_THAT(text, ContainsSubstring("check_interval"));
}

TEST_CASE("core: a TOML syntax error on Windows carries line and column", "[core][config]") {
  const TempFile file("syntax.toml", "[agent]\r\nstore_id = \"unterminated\r\n");
  const auto load = postured::load_config_file(file.path());
  CHECK_FALSE(load.config);
  REQUIRE(load.errors.size() == 1);
  CHECK(load.errors.front().line == 2);
  CHECK(load.errors.front().column > 1);
}

TEST_CASE("core: a missing config file is one clear error", "[core][config]") {
  const auto missing = std::filesystem::temp_directory_path() / "postured-core-test-missing.toml";
  const auto load = postured::load_config_file(missing);
  REQUIRE(load.errors.size() == 1);
  CHECK_THAT(load.errors.front().to_string(), StartsWith(missing.string() + ":1:1:"));
}
