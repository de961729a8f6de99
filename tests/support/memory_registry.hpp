// An in-memory Windows registry and account policy, for Linux unit tests of the portable code that
// reads them (the policy evaluator, the Windows patch level). The real registry is tested under Wine
// in tests/windows.
#pragma once

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <tuple>

#include "core/host.hpp"
#include "core/registry_view.hpp"

namespace postured::test {

class MemoryRegistry final : public RegistryView, public AccountPolicyView {
 public:
  MemoryRegistry& dword(std::string_view key, std::string_view name, std::uint64_t number,
                        RegistryBits bits = RegistryBits::native64) {
    RegistryValue value;
    value.type = RegistryValue::Type::dword;
    value.number = number;
    return set(key, name, value, bits);
  }
  MemoryRegistry& string(std::string_view key, std::string_view name, std::string_view text,
                         RegistryBits bits = RegistryBits::native64) {
    RegistryValue value;
    value.type = RegistryValue::Type::string;
    value.text = std::string(text);
    return set(key, name, value, bits);
  }
  MemoryRegistry& set(std::string_view key, std::string_view name, const RegistryValue& value,
                      RegistryBits bits = RegistryBits::native64) {
    add_key(key, bits);
    values_[{bits, lower(key), lower(name)}] = value;
    return *this;
  }
  // Deletes the value `name` of `key` (the key stays), as RegDeleteValue does.
  MemoryRegistry& remove(std::string_view key, std::string_view name, RegistryBits bits = RegistryBits::native64) {
    values_.erase({bits, lower(key), lower(name)});
    return *this;
  }
  // Creates `key` and its parents, as RegCreateKeyEx does.
  MemoryRegistry& add_key(std::string_view key, RegistryBits bits = RegistryBits::native64) {
    std::string path(key);
    while (true) {
      keys_.insert({bits, lower(path)});
      names_[{bits, lower(path)}] = path;
      const auto slash = path.rfind('\\');
      if (slash == std::string::npos) break;
      path.resize(slash);
    }
    return *this;
  }
  MemoryRegistry& deny(std::string_view key) {
    denied_.insert(lower(key));
    return *this;
  }
  MemoryRegistry& account(std::string_view setting, long long value) {
    account_[std::string(setting)] = value;
    return *this;
  }

  RegistryRead read(std::string_view key, std::string_view name, RegistryBits bits) const override {
    RegistryRead read;
    if (denied_.count(lower(key))) {
      read.error = "access denied (5)";
      return read;
    }
    if (!keys_.count({bits, lower(key)})) {
      read.found = RegistryRead::Found::no_key;
      return read;
    }
    const auto it = values_.find({bits, lower(key), lower(name)});
    if (it == values_.end()) {
      read.found = RegistryRead::Found::no_value;
      return read;
    }
    read.found = RegistryRead::Found::value;
    read.value = it->second;
    return read;
  }

  RegistrySubkeys subkeys(std::string_view key, RegistryBits bits) const override {
    RegistrySubkeys list;
    const auto parent = lower(key) + "\\";
    list.key_exists = keys_.count({bits, lower(key)}) > 0;
    for (const auto& [view, path] : keys_) {
      if (view != bits || path.rfind(parent, 0) != 0) continue;
      const auto rest = path.substr(parent.size());
      if (rest.find('\\') == std::string::npos) list.names.push_back(names_.at({bits, path}).substr(parent.size()));
    }
    std::sort(list.names.begin(), list.names.end());
    return list;
  }

  AccountPolicyRead read(std::string_view setting) const override {
    AccountPolicyRead read;
    const auto it = account_.find(std::string(setting));
    if (it == account_.end())
      read.error = "not in the test's account policy";
    else
      read.value = it->second;
    return read;
  }

 private:
  static std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    return out;
  }

  std::set<std::tuple<RegistryBits, std::string>> keys_;
  std::map<std::tuple<RegistryBits, std::string>, std::string> names_;  // as first written
  std::map<std::tuple<RegistryBits, std::string, std::string>, RegistryValue> values_;
  std::set<std::string> denied_;
  std::map<std::string, long long> account_;
};

// `base` (a fixture root's host) with a registry and an account policy.
class HostWithRegistry final : public Host {
 public:
  HostWithRegistry(std::unique_ptr<Host> base, const MemoryRegistry& registry)
      : base_(std::move(base)), registry_(registry) {}
  std::optional<std::string> read_file(std::string_view path, std::string* why) const override {
    return base_->read_file(path, why);
  }
  bool exists(std::string_view path) const override { return base_->exists(path); }
  std::optional<FileStatus> file_status(std::string_view path) const override { return base_->file_status(path); }
  std::vector<std::string> list_dir(std::string_view path) const override { return base_->list_dir(path); }
  std::vector<std::string> glob(std::string_view pattern) const override { return base_->glob(pattern); }
  std::string kernel_release() const override { return base_->kernel_release(); }
  std::string hostname() const override { return base_->hostname(); }
  bool service_enabled(std::string_view unit) const override { return base_->service_enabled(unit); }
  bool process_running(std::string_view comm) const override { return base_->process_running(comm); }
  const RegistryView* registry() const override { return &registry_; }
  const AccountPolicyView* account_policy() const override { return &registry_; }

 private:
  std::unique_ptr<Host> base_;
  const MemoryRegistry& registry_;
};

}  // namespace postured::test
