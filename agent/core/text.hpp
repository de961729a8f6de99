// Small text helpers for the line-oriented files that checks read.
#pragma once

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

}  // namespace postured::text
