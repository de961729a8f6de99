// platform/windows/registry.cpp against the real registry (Wine's, in CI): what the system itself
// holds, values a test writes with RegSetValueExW and with reg.exe, the 64- and 32-bit views.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <algorithm>
#include <cstdlib>

#include "registry_prepared.hpp"

namespace {

using Catch::Matchers::ContainsSubstring;
using postured::RegistryBits;
using postured::RegistryRead;
using postured::RegistryValue;
using postured::test::PreparedRegistry;
namespace windows = postured::windows;

const char* kVersionKey = "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion";

}  // namespace

TEST_CASE("registry: the live registry reads the system's own CurrentVersion", "[registry]") {
  const auto& registry = windows::live_registry();
  const auto build = registry.read(kVersionKey, "CurrentBuildNumber");
  REQUIRE(build.found == RegistryRead::Found::value);
  CHECK(build.value.type == RegistryValue::Type::string);
  CHECK_FALSE(build.value.text.empty());
  CHECK(build.value.text.find_first_not_of("0123456789") == std::string::npos);
  const auto product = registry.read(kVersionKey, "ProductName").value.text;
  CHECK_THAT(product, Catch::Matchers::ContainsSubstring("Windows"));
  CHECK(registry.read(kVersionKey, "NoSuchValue-postured").found == RegistryRead::Found::no_value);
  CHECK(registry.read("HKLM\\SOFTWARE\\NoSuchKey-postured", "X").found == RegistryRead::Found::no_key);
  // The hive names as people write them, in any case.
  CHECK(registry.read("HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion", "CurrentBuildNumber")
            .value.text == build.value.text);
  CHECK(registry.read("hklm\\software\\microsoft\\windows nt\\currentversion", "currentbuildnumber").value.text ==
        build.value.text);
  const auto software = registry.subkeys("HKLM\\SOFTWARE");
  CHECK(software.key_exists);
  CHECK(std::find(software.names.begin(), software.names.end(), "Microsoft") != software.names.end());
  CHECK(std::is_sorted(software.names.begin(), software.names.end()));
  CHECK_FALSE(registry.subkeys("HKLM\\SOFTWARE\\NoSuchKey-postured").key_exists);
  // A path the reader refuses is an error, never a read of some other key.
  CHECK(registry.read("HKCU\\Software", "X").found == RegistryRead::Found::error);
}

TEST_CASE("registry: every value type a test writes is read back", "[registry]") {
  PreparedRegistry prepared;
  const std::string key = "HKLM\\SOFTWARE\\Pos";
  prepared.dword(key, "Start", 4)
      .qword(key, "Big", 0x1122334455667788ULL)
      .string(key, "Name", "Kasse 3 \xc3\xa9t\xc3\xa9")  // UTF-8 in, UTF-16 in the registry, UTF-8 out
      .string(key, "Path", "%SystemRoot%\\pos", RegistryBits::native64, REG_EXPAND_SZ)
      .multi_string(key, "Lines", {"one", "two", "three"})
      .binary(key, "Blob", {1, 2, 3});
  auto read = prepared.read(key, "Start", RegistryBits::native64);
  REQUIRE(read.found == RegistryRead::Found::value);
  CHECK(read.value.type == RegistryValue::Type::dword);
  CHECK(read.value.number == 4);
  read = prepared.read(key, "Big", RegistryBits::native64);
  CHECK(read.value.type == RegistryValue::Type::qword);
  CHECK(read.value.number == 0x1122334455667788ULL);
  read = prepared.read(key, "Name", RegistryBits::native64);
  CHECK(read.value.type == RegistryValue::Type::string);
  CHECK(read.value.text == "Kasse 3 \xc3\xa9t\xc3\xa9");
  read = prepared.read(key, "Path", RegistryBits::native64);
  CHECK(read.value.type == RegistryValue::Type::expand_string);
  CHECK(read.value.text == "%SystemRoot%\\pos");  // not expanded
  read = prepared.read(key, "Lines", RegistryBits::native64);
  CHECK(read.value.type == RegistryValue::Type::multi_string);
  CHECK(read.value.strings == std::vector<std::string>{"one", "two", "three"});
  read = prepared.read(key, "Blob", RegistryBits::native64);
  CHECK(read.value.type == RegistryValue::Type::binary);
  CHECK(read.value.size == 3);
  prepared.remove(key, "Start");
  CHECK(prepared.read(key, "Start", RegistryBits::native64).found == RegistryRead::Found::no_value);
}

TEST_CASE("registry: a value beyond the read limit is an error and not a huge read", "[registry]") {
  PreparedRegistry prepared;
  prepared.binary("HKLM\\SOFTWARE\\Pos", "Huge", std::vector<BYTE>(windows::kMaxRegistryValueBytes + 1, 7));
  const auto read = prepared.read("HKLM\\SOFTWARE\\Pos", "Huge", RegistryBits::native64);
  CHECK(read.found == RegistryRead::Found::error);
  CHECK_THAT(read.error, ContainsSubstring("more than the 1048576 read"));
}

TEST_CASE("registry: the 64- and 32-bit views of SOFTWARE are separate keys", "[registry]") {
  PreparedRegistry prepared;
  const std::string key = "HKLM\\SOFTWARE\\Vendor\\App";
  prepared.dword(key, "Level", 32, RegistryBits::wow32).dword(key, "Level", 64, RegistryBits::native64);
  CHECK(prepared.read(key, "Level", RegistryBits::wow32).value.number == 32);
  CHECK(prepared.read(key, "Level", RegistryBits::native64).value.number == 64);
  prepared.add_key("HKLM\\SOFTWARE\\Vendor\\Only32", RegistryBits::wow32);
  CHECK(prepared.subkeys("HKLM\\SOFTWARE\\Vendor", RegistryBits::wow32).names ==
        std::vector<std::string>{"App", "Only32"});
  CHECK(prepared.subkeys("HKLM\\SOFTWARE\\Vendor", RegistryBits::native64).names == std::vector<std::string>{"App"});
}

TEST_CASE("registry: a value written by reg.exe is read as written", "[registry]") {
  PreparedRegistry prepared;
  const auto key = prepared.physical("HKLM\\SOFTWARE\\Pos");
  const auto command = "reg add \"" + key + "\" /v Timeout /t REG_DWORD /d 600 /f >NUL 2>&1";
  REQUIRE(std::system(command.c_str()) == 0);
  const auto read = prepared.read("HKLM\\SOFTWARE\\Pos", "Timeout", RegistryBits::native64);
  REQUIRE(read.found == RegistryRead::Found::value);
  CHECK(read.value.type == RegistryValue::Type::dword);
  CHECK(read.value.number == 600);
}
