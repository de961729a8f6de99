// The APT configuration tree as apt builds it from /etc/apt/apt.conf.d/* and /etc/apt/apt.conf.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/host.hpp"

namespace postured::checks {

struct AptSetting {
  std::string value;
  std::string origin;  // "file:line" of the assignment
};

struct AptConfig {
  // Lower-cased "a::b::c" → its value. A later assignment replaces an earlier one, as in apt.
  std::map<std::string, AptSetting> values;
  // Lower-cased list name → its unnamed entries ({ "x"; "y"; } or "name:: "x";"), in reading order.
  std::map<std::string, std::vector<AptSetting>> lists;
  std::vector<std::string> files;  // every file read, in order
  std::string error;               // "file:line: what" for a syntax error, or "file: why" when unreadable

  // The value of `key` (any case), or nullptr when it is not set.
  const AptSetting* find(std::string_view key) const;
  // Every child of `key` (any case): its unnamed entries, then its named ones, as apt's lists hold both.
  std::vector<AptSetting> list(std::string_view key) const;
};

// Adds the statements in `content` (the text of `file`) to `config`; on a syntax error sets
// config.error and stops. Supports "a::b "v";", nested scopes, lists, comments and #clear.
void parse_apt_config(std::string_view content, const std::string& file, AptConfig& config);

// Reads the files apt reads at start-up, in apt's order: the parts in /etc/apt/apt.conf.d whose
// names apt accepts, in lexical order, then /etc/apt/apt.conf.
AptConfig read_apt_config(const Host& host);

// True if apt reads a file called `name` in apt.conf.d: only [A-Za-z0-9_.-], and no extension or ".conf".
bool apt_reads_part(std::string_view name);

}  // namespace postured::checks
