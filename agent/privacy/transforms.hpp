// The values that minimization works on, and what each transform makes of one. Every transform is
// idempotent: applied to its own output it returns that output unchanged, so enforcing a policy
// twice changes nothing the second time. agent/privacy/POLICY.md states each output exactly.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "core/secret.hpp"

namespace postured::privacy {

// A BLOB cell, kept apart from TEXT so that a transform's output keeps SQLite's storage class.
struct Blob {
  std::string bytes;
  bool operator==(const Blob&) const = default;
};

// One SQLite cell: NULL, INTEGER, REAL, TEXT or BLOB.
using SqlValue = std::variant<std::monostate, long long, double, std::string, Blob>;

// The cell as text, as SQLite would convert it (NULL is empty).
std::string as_text(const SqlValue& value);

// How a retention or generalization column stores its time.
enum class TimestampFormat { iso8601, unix_seconds, unix_millis };

// A calendar date as written in a value (not converted to UTC).
struct CivilDate {
  int year = 1970;
  unsigned month = 1;
  unsigned day = 1;
};

// Milliseconds since the Unix epoch, in UTC, of an ISO 8601 text: YYYY-MM-DD, optionally followed by
// 'T' (or 't', or one space) and HH:MM, HH:MM:SS or HH:MM:SS.fraction, optionally followed by 'Z' or
// an offset ±HH, ±HHMM or ±HH:MM. No offset means UTC; a date alone is its midnight UTC.
std::optional<long long> parse_iso8601_millis(std::string_view text);
// The instant of `value` read as `format`, in milliseconds since the epoch (UTC); nullopt for NULL
// and for anything that is not a timestamp of that format.
std::optional<long long> timestamp_millis(const SqlValue& value, TimestampFormat format);
// The date that `value` names: as written for ISO 8601 text, the UTC date for Unix times.
std::optional<CivilDate> civil_date(const SqlValue& value, TimestampFormat format);

// Retention's boundary: a row whose timestamp is exactly `keep_days` days before `now` is kept; one
// millisecond older is expired.
bool retention_expired(long long timestamp_millis, long long now_millis, int keep_days);

enum class TransformKind { keep, null, truncate_pan, mask, hmac, generalize };
enum class MaskSide { keep_first, keep_last };
enum class Generalization { year, month, prefix, age_band };

// A column's transform with its parameters (only those of its kind are used).
struct Transform {
  TransformKind kind = TransformKind::keep;
  MaskSide mask_side = MaskSide::keep_last;
  std::size_t mask_keep = 0;  // characters left visible
  Generalization generalization = Generalization::year;
  TimestampFormat date_format = TimestampFormat::iso8601;  // year, month
  std::size_t prefix_length = 0;                           // prefix
  int band_width = 10;                                     // age_band
};

std::string_view to_string(TransformKind kind);

// Every PAN and track in `text` replaced by its masked PAN (first 6, '*'s, last 4, same digit
// count); a text that is nothing but 13-19 digits (spaces and dashes between them allowed) is
// masked whole even without a card's Luhn digit or IIN, since its column is declared to hold PANs.
std::string truncate_pans(std::string_view text);
// `text` with every character (UTF-8 code point) but the first or last `keep` replaced by '*'; a
// text of `keep` characters or fewer is masked entirely, since keeping it whole would mask nothing.
std::string mask_text(std::string_view text, MaskSide side, std::size_t keep);
// "hmac:" and the lowercase hex HMAC-SHA256 of `text` under `key`.
std::string hmac_text(const SecretKey& key, std::string_view text);
// True for hmac_text's output form, which is never hashed again.
bool is_hmac_text(std::string_view text);
// The first `length` characters with trailing spaces dropped; shorter texts are kept.
std::string text_prefix(std::string_view text, std::size_t length);
// "30-39" for 37 with width 10; nullopt for text that is not a whole number of years in [0, 150].
std::optional<std::string> age_band(std::string_view age, int width);

struct TransformResult {
  SqlValue value;
  bool changed = false;
  bool unparseable = false;  // generalize could not read the value, which is left as it was
};

// Applies transforms with the device's minimization HMAC key.
class Transformer {
 public:
  explicit Transformer(SecretKey hmac_key) : hmac_key_(hmac_key) {}
  // NULL stays NULL under every transform.
  TransformResult apply(const Transform& transform, const SqlValue& value) const;

 private:
  std::optional<std::string> generalize(const Transform& transform, const SqlValue& value) const;

  SecretKey hmac_key_;
};

}  // namespace postured::privacy
