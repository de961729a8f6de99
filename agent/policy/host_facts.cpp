#include "policy/host_facts.hpp"

#include <charconv>

namespace postured::policy {
namespace {

constexpr const char* kDpkgStatus = "/var/lib/dpkg/status";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// name:x:id:... lines of /etc/passwd or /etc/group → id → name (the first name wins, as getpwuid does).
std::map<unsigned, std::string> parse_id_names(std::string_view text) {
  std::map<unsigned, std::string> names;
  while (!text.empty()) {
    const auto end = text.find('\n');
    const auto line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    const auto first = line.find(':');
    const auto second = first == std::string_view::npos ? first : line.find(':', first + 1);
    const auto third = second == std::string_view::npos ? second : line.find(':', second + 1);
    if (third == std::string_view::npos) continue;
    unsigned id = 0;
    const auto field = line.substr(second + 1, third - second - 1);
    const auto [ptr, ec] = std::from_chars(field.data(), field.data() + field.size(), id);
    if (ec != std::errc{} || ptr != field.data() + field.size()) continue;
    names.emplace(id, std::string(line.substr(0, first)));
  }
  return names;
}

}  // namespace

std::set<std::string> parse_dpkg_installed(std::string_view status) {
  std::set<std::string> installed;
  std::string_view package;
  bool is_installed = false;
  const auto finish = [&] {
    if (!package.empty() && is_installed) installed.emplace(package);
    package = {};
    is_installed = false;
  };
  while (!status.empty()) {
    const auto end = status.find('\n');
    const auto line = status.substr(0, end);
    status = end == std::string_view::npos ? std::string_view{} : status.substr(end + 1);
    if (trim(line).empty()) {
      finish();
    } else if (line.rfind("Package:", 0) == 0) {
      package = trim(line.substr(8));
    } else if (line.rfind("Status:", 0) == 0) {
      // "want flag state": only the state "installed" counts; config-files, half-installed etc. do not.
      const auto state = trim(line.substr(7));
      is_installed = state.size() >= 10 && state.substr(state.size() - 10) == " installed";
    }
  }
  finish();
  return installed;
}

std::optional<bool> HostFacts::package_installed(std::string_view name, std::string* why) {
  if (!installed_ && installed_error_.empty()) {
    std::string problem;
    if (const auto text = host_.read_file(kDpkgStatus, &problem))
      installed_ = parse_dpkg_installed(*text);
    else
      installed_error_ = std::string(kDpkgStatus) + ": " + problem;
  }
  if (!installed_) {
    if (why) *why = installed_error_;
    return std::nullopt;
  }
  return installed_->count(std::string(name)) > 0;
}

std::optional<std::string> HostFacts::user_name(unsigned uid) {
  if (!users_) users_ = parse_id_names(host_.read_file("/etc/passwd").value_or(""));
  const auto it = users_->find(uid);
  if (it == users_->end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> HostFacts::group_name(unsigned gid) {
  if (!groups_) groups_ = parse_id_names(host_.read_file("/etc/group").value_or(""));
  const auto it = groups_->find(gid);
  if (it == groups_->end()) return std::nullopt;
  return it->second;
}

}  // namespace postured::policy
