#include "core/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "core/text.hpp"

namespace postured::log {
namespace {

std::atomic<LogLevel> g_level{LogLevel::info};

bool journald_reads_stderr() {
  static const bool yes = std::getenv("JOURNAL_STREAM") != nullptr;
  return yes;
}

constexpr std::string_view level_name(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
  }
  return "info";
}

// syslog(3) priorities: err 3, warning 4, info 6, debug 7.
constexpr int syslog_priority(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return 7;
    case LogLevel::info: return 6;
    case LogLevel::warn: return 4;
    case LogLevel::error: return 3;
  }
  return 6;
}

}  // namespace

void set_level(LogLevel level) { g_level = level; }

bool enabled(LogLevel level) { return level >= g_level.load(); }

void write(LogLevel level, std::string_view message) {
  if (!enabled(level)) return;
  std::string line;
  if (journald_reads_stderr()) {
    line = "<" + std::to_string(syslog_priority(level)) + ">";
  } else {
    line = text::rfc3339_utc(std::chrono::system_clock::now()) + " ";
  }
  line += level_name(level);
  line += ": ";
  // One event, one line: a newline inside a message would split it in the journal.
  for (char c : message) line += (c == '\n' || c == '\r') ? ' ' : c;
  line += '\n';
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace postured::log
