// Small text helpers for the line-oriented files that checks read.
#pragma once

#include <chrono>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace postured::text {

std::string_view trim(std::string_view s);
// Lines of `s` without their terminators; a final line without '\n' is included.
std::vector<std::string_view> lines(std::string_view s);
// Whitespace-separated words.
std::vector<std::string_view> words(std::string_view s);
std::string lower(std::string_view s);
bool iequals(std::string_view a, std::string_view b);

// `when` as RFC 3339 UTC with seconds, as reports and state files carry it: "2026-11-26T09:15:00Z".
std::string rfc3339_utc(std::chrono::system_clock::time_point when);

// For "unknown key" messages: "; did you mean 'x'?" when `word` is a likely typo (small edit distance,
// or a truncation) of one of `candidates`, else "; expected one of: a, b, c".
std::string suggestion(std::string_view word, std::span<const std::string_view> candidates);

}  // namespace postured::text
