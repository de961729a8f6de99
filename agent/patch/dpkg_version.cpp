#include "patch/dpkg_version.hpp"

#include <charconv>

namespace postured::patch {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// dpkg's order(): the weight of a non-digit character; the end of the string (and a digit) weighs 0.
int order(char c) {
  if (is_digit(c)) return 0;
  if (is_alpha(c)) return c;
  if (c == '~') return -1;
  if (c != '\0') return static_cast<unsigned char>(c) + 256;
  return 0;
}

struct Parsed {
  unsigned long long epoch = 0;
  std::string_view upstream;
  std::string_view revision;
};

// The epoch is everything before the first ':', the revision everything after the last '-'.
Parsed parse(std::string_view version) {
  Parsed parsed;
  if (const auto colon = version.find(':'); colon != std::string_view::npos) {
    const auto epoch = version.substr(0, colon);
    const auto [end, ec] = std::from_chars(epoch.data(), epoch.data() + epoch.size(), parsed.epoch);
    if (ec != std::errc{} || end != epoch.data() + epoch.size()) parsed.epoch = 0;
    version.remove_prefix(colon + 1);
  }
  if (const auto hyphen = version.rfind('-'); hyphen != std::string_view::npos) {
    parsed.revision = version.substr(hyphen + 1);
    version = version.substr(0, hyphen);
  }
  parsed.upstream = version;
  return parsed;
}

}  // namespace

int compare_dpkg_version_parts(std::string_view a, std::string_view b) {
  std::size_t i = 0, j = 0;
  // Past the end reads as '\0', as with dpkg's C strings.
  const auto at = [](std::string_view s, std::size_t k) { return k < s.size() ? s[k] : '\0'; };
  while (i < a.size() || j < b.size()) {
    while ((i < a.size() && !is_digit(a[i])) || (j < b.size() && !is_digit(b[j]))) {
      const int ac = order(at(a, i));
      const int bc = order(at(b, j));
      if (ac != bc) return ac - bc;
      ++i;
      ++j;
    }
    while (at(a, i) == '0') ++i;
    while (at(b, j) == '0') ++j;
    int first_diff = 0;
    while (is_digit(at(a, i)) && is_digit(at(b, j))) {
      if (first_diff == 0) first_diff = at(a, i) - at(b, j);
      ++i;
      ++j;
    }
    if (is_digit(at(a, i))) return 1;
    if (is_digit(at(b, j))) return -1;
    if (first_diff != 0) return first_diff;
  }
  return 0;
}

int compare_dpkg_versions(std::string_view a, std::string_view b) {
  const auto pa = parse(a);
  const auto pb = parse(b);
  if (pa.epoch != pb.epoch) return pa.epoch < pb.epoch ? -1 : 1;
  if (const int upstream = compare_dpkg_version_parts(pa.upstream, pb.upstream); upstream != 0) return upstream;
  return compare_dpkg_version_parts(pa.revision, pb.revision);
}

}  // namespace postured::patch
