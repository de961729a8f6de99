// The live registry: each read opens the key, queries, and closes it again, so that no handle is
// held across a cycle and a key created between two cycles is seen.
#include "registry.hpp"

#include <algorithm>
#include <vector>

#include "utf16.hpp"

namespace postured::windows {
namespace {

// Closes a registry key on every path out of a scope.
class OpenKey {
 public:
  OpenKey() = default;
  ~OpenKey() {
    if (key_) ::RegCloseKey(key_);
  }
  OpenKey(const OpenKey&) = delete;
  OpenKey& operator=(const OpenKey&) = delete;
  HKEY* out() { return &key_; }
  HKEY get() const { return key_; }

 private:
  HKEY key_ = nullptr;
};

REGSAM view_flag(RegistryBits bits) {
  return bits == RegistryBits::wow32 ? KEY_WOW64_32KEY : KEY_WOW64_64KEY;
}

// Opens `key` for reading; ERROR_SUCCESS, ERROR_FILE_NOT_FOUND (no such key) or another error.
LSTATUS open_key(std::string_view key, RegistryBits bits, REGSAM access, OpenKey& opened, std::string* why) {
  const auto path = split_registry_path(key);
  if (!path) {
    *why = "not a key below HKLM or HKU: " + std::string(key);
    return ERROR_INVALID_PARAMETER;
  }
  const HKEY hive = path->hive == RegistryHive::local_machine ? HKEY_LOCAL_MACHINE : HKEY_USERS;
  const auto subkey = to_utf16(path->subkey);
  const auto status = ::RegOpenKeyExW(hive, subkey.c_str(), 0, access | view_flag(bits), opened.out());
  if (status != ERROR_SUCCESS && status != ERROR_FILE_NOT_FOUND) *why = error_text(static_cast<DWORD>(status));
  return status;
}

// REG_SZ data as UTF-8: the bytes Windows stored, up to the first NUL (the terminator is optional).
std::string text_of(const std::vector<BYTE>& data) {
  std::wstring wide(data.size() / sizeof(wchar_t), L'\0');
  std::copy(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(wide.size() * sizeof(wchar_t)),
            reinterpret_cast<BYTE*>(wide.data()));
  if (const auto nul = wide.find(L'\0'); nul != std::wstring::npos) wide.resize(nul);
  return to_utf8(wide);
}

std::vector<std::string> strings_of(const std::vector<BYTE>& data) {
  std::wstring wide(data.size() / sizeof(wchar_t), L'\0');
  std::copy(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(wide.size() * sizeof(wchar_t)),
            reinterpret_cast<BYTE*>(wide.data()));
  std::vector<std::string> strings;
  std::size_t start = 0;
  while (start < wide.size()) {
    auto end = wide.find(L'\0', start);
    if (end == std::wstring::npos) end = wide.size();
    if (end == start) break;  // the empty string that ends the list
    strings.push_back(to_utf8(std::wstring_view(wide).substr(start, end - start)));
    start = end + 1;
  }
  return strings;
}

class LiveRegistry final : public RegistryView {
 public:
  RegistryRead read(std::string_view key, std::string_view name, RegistryBits bits) const override {
    RegistryRead read;
    OpenKey opened;
    const auto status = open_key(key, bits, KEY_QUERY_VALUE, opened, &read.error);
    if (status == ERROR_FILE_NOT_FOUND) {
      read.found = RegistryRead::Found::no_key;
      return read;
    }
    if (status != ERROR_SUCCESS) return read;
    const auto value_name = to_utf16(name);
    std::vector<BYTE> data(256);
    DWORD type = 0;
    for (;;) {
      auto size = static_cast<DWORD>(data.size());
      const auto queried = ::RegQueryValueExW(opened.get(), value_name.c_str(), nullptr, &type, data.data(), &size);
      if (queried == ERROR_FILE_NOT_FOUND) {
        read.found = RegistryRead::Found::no_value;
        return read;
      }
      if (queried == ERROR_MORE_DATA) {
        if (size > kMaxRegistryValueBytes) {
          read.error = "the value holds " + std::to_string(size) + " bytes, more than the " +
                       std::to_string(kMaxRegistryValueBytes) + " read";
          return read;
        }
        data.resize(size);
        continue;  // the value may have grown again in between
      }
      if (queried != ERROR_SUCCESS) {
        read.error = error_text(static_cast<DWORD>(queried));
        return read;
      }
      data.resize(size);
      break;
    }
    auto& value = read.value;
    switch (type) {
      case REG_DWORD:
        if (data.size() != 4) return malformed(read, "REG_DWORD", data.size());
        value.type = RegistryValue::Type::dword;
        value.number = static_cast<std::uint64_t>(data[0]) | static_cast<std::uint64_t>(data[1]) << 8 |
                       static_cast<std::uint64_t>(data[2]) << 16 | static_cast<std::uint64_t>(data[3]) << 24;
        break;
      case REG_QWORD:
        if (data.size() != 8) return malformed(read, "REG_QWORD", data.size());
        value.type = RegistryValue::Type::qword;
        for (int i = 7; i >= 0; --i) value.number = value.number << 8 | data[static_cast<std::size_t>(i)];
        break;
      case REG_SZ:
      case REG_EXPAND_SZ:
        value.type = type == REG_SZ ? RegistryValue::Type::string : RegistryValue::Type::expand_string;
        value.text = text_of(data);
        break;
      case REG_MULTI_SZ:
        value.type = RegistryValue::Type::multi_string;
        value.strings = strings_of(data);
        break;
      case REG_BINARY:
        value.type = RegistryValue::Type::binary;
        value.size = data.size();
        break;
      default:
        value.type = RegistryValue::Type::other;
        value.size = data.size();
        break;
    }
    read.found = RegistryRead::Found::value;
    return read;
  }

  RegistrySubkeys subkeys(std::string_view key, RegistryBits bits) const override {
    RegistrySubkeys list;
    OpenKey opened;
    const auto status = open_key(key, bits, KEY_ENUMERATE_SUB_KEYS | KEY_QUERY_VALUE, opened, &list.error);
    if (status == ERROR_FILE_NOT_FOUND) return list;
    if (status != ERROR_SUCCESS) return list;
    list.key_exists = true;
    DWORD count = 0, longest = 0;
    const auto info = ::RegQueryInfoKeyW(opened.get(), nullptr, nullptr, nullptr, &count, &longest, nullptr, nullptr,
                                         nullptr, nullptr, nullptr, nullptr);
    if (info != ERROR_SUCCESS) {
      list.error = error_text(static_cast<DWORD>(info));
      return list;
    }
    if (count > kMaxRegistrySubkeys) {
      list.error = "more than " + std::to_string(kMaxRegistrySubkeys) + " subkeys (" + std::to_string(count) + ")";
      return list;
    }
    std::wstring name(static_cast<std::size_t>(longest) + 1, L'\0');
    for (DWORD index = 0; index < kMaxRegistrySubkeys; ++index) {
      auto length = static_cast<DWORD>(name.size());
      const auto listed =
          ::RegEnumKeyExW(opened.get(), index, name.data(), &length, nullptr, nullptr, nullptr, nullptr);
      if (listed == ERROR_NO_MORE_ITEMS) break;
      if (listed == ERROR_MORE_DATA) {  // a longer name was added since RegQueryInfoKey
        name.resize(name.size() * 2);
        --index;
        continue;
      }
      if (listed != ERROR_SUCCESS) {
        list.error = error_text(static_cast<DWORD>(listed));
        return list;
      }
      list.names.push_back(to_utf8(std::wstring_view(name.data(), length)));
    }
    std::sort(list.names.begin(), list.names.end());
    return list;
  }

 private:
  static RegistryRead malformed(RegistryRead& read, const char* type, std::size_t size) {
    read.found = RegistryRead::Found::error;
    read.error = std::string("a ") + type + " of " + std::to_string(size) + " bytes";
    return read;
  }
};

}  // namespace

const RegistryView& live_registry() {
  static const LiveRegistry registry;
  return registry;
}

}  // namespace postured::windows
