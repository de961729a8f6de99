#include "ssh/sshd_config.hpp"

#include "core/text.hpp"

namespace postured::checks {
namespace {

constexpr int kMaxIncludeDepth = 16;  // sshd's own limit (READCONF_MAX_DEPTH)
constexpr const char* kMainConfig = "/etc/ssh/sshd_config";

void read_file(const Host& host, const std::string& path, int depth, SshdConfig& config) {
  if (depth > kMaxIncludeDepth) {
    config.error = "Include nesting deeper than 16 at " + path;
    return;
  }
  std::string why;
  const auto content = host.read_file(path, &why);
  if (!content) {
    config.error = path + ": " + why;
    return;
  }
  config.files.push_back(path);
  bool in_match = false;
  int number = 0;
  for (const auto raw : text::lines(*content)) {
    ++number;
    auto line = text::trim(raw);
    if (line.empty() || line.front() == '#') continue;
    // "Keyword value" or "Keyword=value".
    const auto split = line.find_first_of(" \t=");
    const auto keyword = text::lower(line.substr(0, split));
    auto rest = split == std::string_view::npos ? std::string_view{} : text::trim(line.substr(split));
    if (!rest.empty() && rest.front() == '=') rest = text::trim(rest.substr(1));
    if (keyword == "match") {
      in_match = !text::iequals(text::trim(rest), "all");
      continue;
    }
    if (in_match) continue;
    if (keyword == "include") {
      for (const auto word : text::words(rest)) {
        std::string pattern(word);
        if (pattern.front() != '/') pattern = "/etc/ssh/" + pattern;
        for (const auto& file : host.glob(pattern)) read_file(host, file, depth + 1, config);
        if (!config.error.empty()) return;
      }
      continue;
    }
    // Strip quotes around a single value and a trailing comment.
    std::string value(rest);
    if (const auto hash = value.find(" #"); hash != std::string::npos) value = std::string(text::trim(value.substr(0, hash)));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    config.settings.try_emplace(keyword, value, path + ":" + std::to_string(number));
  }
}

}  // namespace

std::optional<std::string> SshdConfig::value(const std::string& keyword) const {
  const auto it = settings.find(keyword);
  if (it == settings.end()) return std::nullopt;
  return it->second.first;
}

std::string SshdConfig::origin(const std::string& keyword) const {
  const auto it = settings.find(keyword);
  return it == settings.end() ? std::string() : it->second.second;
}

SshdConfig read_sshd_config(const Host& host) {
  SshdConfig config;
  read_file(host, kMainConfig, 0, config);
  return config;
}

bool sshd_installed(const Host& host) {
  return host.exists("/usr/sbin/sshd") || host.exists("/usr/bin/sshd") || host.exists(kMainConfig);
}

}  // namespace postured::checks
