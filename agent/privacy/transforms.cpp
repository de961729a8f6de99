#include "privacy/transforms.hpp"

#include <mbedtls/md.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include "privacy/pan_detector.hpp"

namespace postured::privacy {
namespace {

constexpr long long kMillisPerSecond = 1000;
constexpr long long kMillisPerDay = 86400 * kMillisPerSecond;
constexpr std::string_view kHmacPrefix = "hmac:";
constexpr std::size_t kHmacHexDigits = 64;
constexpr int kOldestAge = 150;  // a larger "age" is a data error, not a person

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), is_digit);
}

// Byte offsets where each UTF-8 code point of `text` starts.
std::vector<std::size_t> code_point_starts(std::string_view text) {
  std::vector<std::size_t> starts;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) starts.push_back(i);
  }
  return starts;
}

// Reads fixed-width fields of an ISO 8601 text left to right.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}
  bool done() const { return at_ == text_.size(); }
  bool next_is(char c) const { return at_ < text_.size() && text_[at_] == c; }
  bool take(char c) {
    if (!next_is(c)) return false;
    ++at_;
    return true;
  }
  std::optional<char> take_any() { return done() ? std::nullopt : std::optional<char>(text_[at_++]); }
  // Exactly `width` digits as a number.
  std::optional<int> number(std::size_t width) {
    if (at_ + width > text_.size()) return std::nullopt;
    int value = 0;
    for (std::size_t i = 0; i < width; ++i) {
      if (!is_digit(text_[at_ + i])) return std::nullopt;
      value = value * 10 + (text_[at_ + i] - '0');
    }
    at_ += width;
    return value;
  }
  // One to nine digits of a fraction of a second, as milliseconds.
  std::optional<int> fraction_millis() {
    std::size_t count = 0;
    int millis = 0;
    while (at_ < text_.size() && is_digit(text_[at_])) {
      if (count < 3) millis = millis * 10 + (text_[at_] - '0');
      ++count, ++at_;
    }
    if (count == 0 || count > 9) return std::nullopt;
    for (std::size_t i = count; i < 3; ++i) millis *= 10;
    return millis;
  }

 private:
  std::string_view text_;
  std::size_t at_ = 0;
};

struct IsoTime {
  CivilDate date;
  long long millis_of_day = 0;
  int offset_minutes = 0;  // east of UTC
};

std::optional<int> parse_offset_minutes(Cursor& in) {
  if (in.take('Z') || in.take('z')) return 0;
  const auto sign = in.take_any();
  if (sign != '+' && sign != '-') return std::nullopt;
  const auto hours = in.number(2);
  if (!hours || *hours > 23) return std::nullopt;
  int minutes = 0;
  if (!in.done()) {
    in.take(':');
    const auto m = in.number(2);
    if (!m || *m > 59) return std::nullopt;
    minutes = *m;
  }
  const int total = *hours * 60 + minutes;
  return sign == '-' ? -total : total;
}

std::optional<IsoTime> parse_iso(std::string_view text) {
  Cursor in(text);
  const auto year = in.number(4);
  if (!year || !in.take('-')) return std::nullopt;
  const auto month = in.number(2);
  if (!month || !in.take('-')) return std::nullopt;
  const auto day = in.number(2);
  if (!day) return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year(*year), std::chrono::month(static_cast<unsigned>(*month)),
                                        std::chrono::day(static_cast<unsigned>(*day))};
  if (!ymd.ok()) return std::nullopt;
  IsoTime time{{*year, static_cast<unsigned>(*month), static_cast<unsigned>(*day)}, 0, 0};
  if (in.done()) return time;
  if (!in.take('T') && !in.take('t') && !in.take(' ')) return std::nullopt;
  const auto hour = in.number(2);
  if (!hour || *hour > 23 || !in.take(':')) return std::nullopt;
  const auto minute = in.number(2);
  if (!minute || *minute > 59) return std::nullopt;
  int second = 0, millis = 0;
  if (in.take(':')) {
    const auto s = in.number(2);
    if (!s || *s > 60) return std::nullopt;  // 60: a leap second
    second = *s;
    if (in.take('.') || in.take(',')) {
      const auto f = in.fraction_millis();
      if (!f) return std::nullopt;
      millis = *f;
    }
  }
  time.millis_of_day = ((*hour * 60LL + *minute) * 60 + second) * kMillisPerSecond + millis;
  if (in.done()) return time;
  const auto offset = parse_offset_minutes(in);
  if (!offset || !in.done()) return std::nullopt;
  time.offset_minutes = *offset;
  return time;
}

long long days_since_epoch(const CivilDate& date) {
  const std::chrono::sys_days days{std::chrono::year(date.year) / std::chrono::month(date.month) /
                                   std::chrono::day(date.day)};
  return days.time_since_epoch().count();
}

// A whole or decimal number filling all of `text`.
std::optional<double> number_text(std::string_view text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

// `count` units of `unit_millis` as milliseconds, unless that overflows what a timestamp can be.
std::optional<long long> scaled_millis(double count, long long unit_millis) {
  const double millis = std::floor(count * static_cast<double>(unit_millis));
  constexpr double kLimit = 9.0e15;  // about 285,000 years either side of 1970
  if (!(millis > -kLimit && millis < kLimit)) return std::nullopt;
  return static_cast<long long>(millis);
}

std::optional<long long> unix_millis(const SqlValue& value, long long unit_millis) {
  if (const auto* i = std::get_if<long long>(&value)) return scaled_millis(static_cast<double>(*i), unit_millis);
  if (const auto* r = std::get_if<double>(&value)) return scaled_millis(*r, unit_millis);
  if (const auto* t = std::get_if<std::string>(&value)) {
    long long whole = 0;
    const auto [end, ec] = std::from_chars(t->data(), t->data() + t->size(), whole);
    if (ec == std::errc{} && end == t->data() + t->size())
      return scaled_millis(static_cast<double>(whole), unit_millis);
    if (const auto number = number_text(*t)) return scaled_millis(*number, unit_millis);
  }
  return std::nullopt;
}

CivilDate date_of_millis(long long millis) {
  const auto days = static_cast<int>((millis >= 0 ? millis : millis - (kMillisPerDay - 1)) / kMillisPerDay);
  const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{days}}};
  return {static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day())};
}

// "YYYY" or "YYYY-MM": already a generalized date.
bool is_year(std::string_view text) {
  return text.size() == 4 && all_digits(text);
}
bool is_year_month(std::string_view text) {
  return text.size() == 7 && is_year(text.substr(0, 4)) && text[4] == '-' && all_digits(text.substr(5));
}

std::string format_date(const CivilDate& date, Generalization to) {
  char text[16];
  if (to == Generalization::year)
    std::snprintf(text, sizeof text, "%04d", date.year);
  else
    std::snprintf(text, sizeof text, "%04d-%02u", date.year, date.month);
  return text;
}

// Only separators between digits, and 13-19 digits: the whole value is one number.
std::optional<std::string> whole_value_digits(std::string_view text) {
  if (text.empty() || !is_digit(text.front()) || !is_digit(text.back())) return std::nullopt;
  std::string digits;
  for (const char c : text) {
    if (is_digit(c))
      digits += c;
    else if (c != ' ' && c != '-')
      return std::nullopt;
  }
  if (digits.size() < 13 || digits.size() > 19) return std::nullopt;
  return digits;
}

}  // namespace

std::string as_text(const SqlValue& value) {
  if (const auto* i = std::get_if<long long>(&value)) return std::to_string(*i);
  if (const auto* r = std::get_if<double>(&value)) {
    // SQLite's own REAL-to-TEXT form: 15 significant digits, and ".0" on whole numbers.
    char text[40];
    std::snprintf(text, sizeof text, "%.15g", *r);
    std::string out = text;
    if (out.find_first_of(".eEn") == std::string::npos) out += ".0";
    return out;
  }
  if (const auto* t = std::get_if<std::string>(&value)) return *t;
  if (const auto* b = std::get_if<Blob>(&value)) return b->bytes;
  return {};
}

std::optional<long long> parse_iso8601_millis(std::string_view text) {
  const auto time = parse_iso(text);
  if (!time) return std::nullopt;
  return days_since_epoch(time->date) * kMillisPerDay + time->millis_of_day -
         time->offset_minutes * 60 * kMillisPerSecond;
}

std::optional<long long> timestamp_millis(const SqlValue& value, TimestampFormat format) {
  switch (format) {
    case TimestampFormat::iso8601: {
      const auto* text = std::get_if<std::string>(&value);
      return text ? parse_iso8601_millis(*text) : std::nullopt;
    }
    case TimestampFormat::unix_seconds: return unix_millis(value, kMillisPerSecond);
    case TimestampFormat::unix_millis: return unix_millis(value, 1);
  }
  return std::nullopt;
}

std::optional<CivilDate> civil_date(const SqlValue& value, TimestampFormat format) {
  if (format == TimestampFormat::iso8601) {
    const auto* text = std::get_if<std::string>(&value);
    const auto time = text ? parse_iso(*text) : std::nullopt;
    if (!time) return std::nullopt;
    return time->date;
  }
  const auto millis = timestamp_millis(value, format);
  if (!millis) return std::nullopt;
  return date_of_millis(*millis);
}

bool retention_expired(long long timestamp, long long now, int keep_days) {
  return timestamp < now - keep_days * kMillisPerDay;
}

std::string_view to_string(TransformKind kind) {
  switch (kind) {
    case TransformKind::keep: return "keep";
    case TransformKind::null: return "null";
    case TransformKind::truncate_pan: return "truncate_pan";
    case TransformKind::mask: return "mask";
    case TransformKind::hmac: return "hmac";
    case TransformKind::generalize: return "generalize";
  }
  return "keep";
}

std::string truncate_pans(std::string_view text) {
  if (const auto digits = whole_value_digits(text)) return mask_pan(*digits);
  // No test-card exemptions here: scan.ignore_pans only keeps numbers out of reports.
  static const PanDetector detector;
  std::string out;
  std::size_t copied = 0;
  for (const auto& match : detector.find_all(text)) {
    out.append(text.substr(copied, match.offset - copied));
    out.append(match.masked);
    copied = match.offset + match.length;
  }
  out.append(text.substr(copied));
  return out;
}

std::string mask_text(std::string_view text, MaskSide side, std::size_t keep) {
  const auto starts = code_point_starts(text);
  const std::size_t count = starts.size();
  if (count <= keep) return std::string(count, '*');
  const std::size_t hidden = count - keep;
  if (side == MaskSide::keep_first) {
    const std::size_t cut = keep == 0 ? 0 : starts[keep];
    return std::string(text.substr(0, cut)) + std::string(hidden, '*');
  }
  return std::string(hidden, '*') + std::string(text.substr(starts[hidden]));
}

std::string hmac_text(const SecretKey& key, std::string_view text) {
  unsigned char digest[32];
  const int rc = mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), key.data(), key.size(),
                                 reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  if (rc != 0) throw std::runtime_error("HMAC-SHA256 failed: " + std::to_string(rc));
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(kHmacPrefix);
  for (const unsigned char byte : digest) {
    out += kDigits[byte >> 4];
    out += kDigits[byte & 0xF];
  }
  return out;
}

bool is_hmac_text(std::string_view text) {
  if (text.size() != kHmacPrefix.size() + kHmacHexDigits || text.substr(0, kHmacPrefix.size()) != kHmacPrefix) {
    return false;
  }
  const auto hex = text.substr(kHmacPrefix.size());
  return std::all_of(hex.begin(), hex.end(), [](char c) { return is_digit(c) || (c >= 'a' && c <= 'f'); });
}

std::string text_prefix(std::string_view text, std::size_t length) {
  const auto starts = code_point_starts(text);
  if (starts.size() <= length) return std::string(text);
  std::string out(text.substr(0, starts[length]));
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::optional<std::string> age_band(std::string_view age, int width) {
  const auto dash = age.find('-');
  if (dash != std::string_view::npos && dash > 0 && all_digits(age.substr(0, dash)) &&
      all_digits(age.substr(dash + 1))) {
    return std::string(age);  // already a band
  }
  if (!all_digits(age) || age.size() > 3) return std::nullopt;
  const int years = std::stoi(std::string(age));
  if (years > kOldestAge) return std::nullopt;
  const int low = years / width * width;
  return std::to_string(low) + "-" + std::to_string(low + width - 1);
}

std::optional<std::string> Transformer::generalize(const Transform& transform, const SqlValue& value) const {
  const auto text = as_text(value);
  switch (transform.generalization) {
    case Generalization::year:
    case Generalization::month: {
      if (is_year(text)) return text;
      if (is_year_month(text)) return transform.generalization == Generalization::year ? text.substr(0, 4) : text;
      const auto date = civil_date(value, transform.date_format);
      if (!date) return std::nullopt;
      return format_date(*date, transform.generalization);
    }
    case Generalization::prefix: return text_prefix(text, transform.prefix_length);
    case Generalization::age_band: return age_band(text, transform.band_width);
  }
  return std::nullopt;
}

TransformResult Transformer::apply(const Transform& transform, const SqlValue& value) const {
  const auto unchanged = TransformResult{value, false, false};
  if (std::holds_alternative<std::monostate>(value)) return unchanged;
  const auto text = as_text(value);
  const auto to_text = [&](std::string out) {
    if (out == text && !std::holds_alternative<Blob>(value)) return unchanged;
    return TransformResult{SqlValue(std::move(out)), true, false};
  };
  switch (transform.kind) {
    case TransformKind::keep: return unchanged;
    case TransformKind::null: return {SqlValue{}, true, false};
    case TransformKind::truncate_pan:
      return std::holds_alternative<Blob>(value) ? unchanged : to_text(truncate_pans(text));
    case TransformKind::mask:
      return std::holds_alternative<Blob>(value) ? unchanged
                                                 : to_text(mask_text(text, transform.mask_side, transform.mask_keep));
    case TransformKind::hmac:
      if (is_hmac_text(text) && std::holds_alternative<std::string>(value)) return unchanged;
      return to_text(hmac_text(hmac_key_, text));
    case TransformKind::generalize: {
      if (std::holds_alternative<Blob>(value)) return {value, false, true};
      auto out = generalize(transform, value);
      if (!out) return {value, false, true};
      return to_text(std::move(*out));
    }
  }
  return unchanged;
}

}  // namespace postured::privacy
