// One line per event on stderr, with a level. Under systemd (JOURNAL_STREAM set) each line starts
// with a syslog priority prefix such as "<6>" so journald files it at the right level.
#pragma once

#include <sstream>
#include <string>
#include <string_view>

#include "core/config.hpp"

namespace postured::log {

void set_level(LogLevel level);
bool enabled(LogLevel level);
void write(LogLevel level, std::string_view message);

template <typename... Parts>
void emit(LogLevel level, const Parts&... parts) {
  if (!enabled(level)) return;
  std::ostringstream line;
  (line << ... << parts);
  write(level, line.str());
}

template <typename... Parts> void debug(const Parts&... parts) { emit(LogLevel::debug, parts...); }
template <typename... Parts> void info(const Parts&... parts) { emit(LogLevel::info, parts...); }
template <typename... Parts> void warn(const Parts&... parts) { emit(LogLevel::warn, parts...); }
template <typename... Parts> void error(const Parts&... parts) { emit(LogLevel::error, parts...); }

}  // namespace postured::log
