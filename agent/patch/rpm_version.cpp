#include "patch/rpm_version.hpp"

#include <algorithm>

namespace postured::patch {
namespace {

// rpm's risdigit/risalpha: ASCII only, whatever the locale.
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_alnum(char c) {
  return is_digit(c) || is_alpha(c);
}

// Segments compared as rpm's strcmp on the NUL-terminated segments does.
int compare_text(std::string_view a, std::string_view b) {
  const int rc = a.compare(b);
  return (rc > 0) - (rc < 0);
}

// Digit runs compare as numbers of any length: leading zeros dropped, the longer one wins.
int compare_number(std::string_view a, std::string_view b) {
  a.remove_prefix(std::min(a.find_first_not_of('0'), a.size()));
  b.remove_prefix(std::min(b.find_first_not_of('0'), b.size()));
  if (a.size() != b.size()) return a.size() > b.size() ? 1 : -1;
  return compare_text(a, b);
}

struct Evr {
  std::string_view epoch = "0";
  std::string_view version;
  std::string_view release;
};

// rpmverParse: the epoch is a run of leading digits followed by ':' ("" reads as "0"); the release
// is what follows the last '-'.
Evr parse_evr(std::string_view evr) {
  Evr parsed;
  const auto digits = std::find_if(evr.begin(), evr.end(), [](char c) { return !is_digit(c); });
  if (digits != evr.end() && *digits == ':') {
    const auto colon = static_cast<std::size_t>(digits - evr.begin());
    if (colon > 0) parsed.epoch = evr.substr(0, colon);
    evr.remove_prefix(colon + 1);
  }
  if (const auto hyphen = evr.rfind('-'); hyphen != std::string_view::npos) {
    parsed.release = evr.substr(hyphen + 1);
    evr = evr.substr(0, hyphen);
  }
  parsed.version = evr;
  return parsed;
}

}  // namespace

int rpmvercmp(std::string_view a, std::string_view b) {
  if (a == b) return 0;
  std::size_t i = 0, j = 0;
  const auto separator = [](std::string_view s, std::size_t k) {
    return k < s.size() && !is_alnum(s[k]) && s[k] != '~' && s[k] != '^';
  };
  const auto at = [](std::string_view s, std::size_t k) { return k < s.size() ? s[k] : '\0'; };
  while (i < a.size() || j < b.size()) {
    while (separator(a, i)) ++i;
    while (separator(b, j)) ++j;

    // '~' sorts before everything, the end of the string included.
    if (at(a, i) == '~' || at(b, j) == '~') {
      if (at(a, i) != '~') return 1;
      if (at(b, j) != '~') return -1;
      ++i, ++j;
      continue;
    }
    // '^' sorts after the end of the string but before any other segment.
    if (at(a, i) == '^' || at(b, j) == '^') {
      if (i == a.size()) return -1;
      if (j == b.size()) return 1;
      if (at(a, i) != '^') return 1;
      if (at(b, j) != '^') return -1;
      ++i, ++j;
      continue;
    }
    if (i == a.size() || j == b.size()) break;

    // The segment's kind is set by `a`: a run of digits or a run of letters, taken from both.
    const bool numeric = is_digit(a[i]);
    const auto kind = numeric ? is_digit : is_alpha;
    std::size_t end_a = i, end_b = j;
    while (end_a < a.size() && kind(a[end_a])) ++end_a;
    while (end_b < b.size() && kind(b[end_b])) ++end_b;
    // `b` has the other kind here: a number is newer than letters.
    if (end_b == j) return numeric ? 1 : -1;

    const auto seg_a = a.substr(i, end_a - i);
    const auto seg_b = b.substr(j, end_b - j);
    if (const int rc = numeric ? compare_number(seg_a, seg_b) : compare_text(seg_a, seg_b); rc != 0) return rc;
    i = end_a;
    j = end_b;
  }
  // Equal segments; whichever string has characters left (separators only) is newer.
  if (i >= a.size() && j >= b.size()) return 0;
  return i >= a.size() ? -1 : 1;
}

int compare_rpm_versions(std::string_view a, std::string_view b) {
  const auto pa = parse_evr(a);
  const auto pb = parse_evr(b);
  if (const int rc = rpmvercmp(pa.epoch, pb.epoch); rc != 0) return rc;
  if (const int rc = rpmvercmp(pa.version, pb.version); rc != 0) return rc;
  return rpmvercmp(pa.release, pb.release);
}

}  // namespace postured::patch
