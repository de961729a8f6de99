// Minimization transforms and retention's timestamps: each transform's exact output, its
// idempotence, and every boundary that decides whether a row is purged.
#include <catch2/catch_test_macros.hpp>

#include "cache/key_hierarchy.hpp"
#include "privacy/transforms.hpp"

using namespace postured;
using namespace postured::privacy;

namespace {

constexpr long long kDay = 86400000;

SecretKey test_master() {
  SecretKey master;
  for (std::size_t i = 0; i < master.size(); ++i) master.data()[i] = static_cast<std::uint8_t>(i);
  return master;
}

Transformer transformer() {
  return Transformer(derive_purpose_key(test_master(), kMinimizationHmacPurpose));
}

Transform make(TransformKind kind) {
  Transform t;
  t.kind = kind;
  return t;
}

Transform generalize(Generalization to) {
  Transform t = make(TransformKind::generalize);
  t.generalization = to;
  return t;
}

// Applies `t` and checks that applying it again to the output changes nothing.
SqlValue apply_twice(const Transform& t, const SqlValue& value) {
  const auto tr = transformer();
  const auto first = tr.apply(t, value);
  const auto second = tr.apply(t, first.value);
  CHECK_FALSE(second.changed);
  CHECK(second.value == first.value);
  return first.value;
}

long long millis(const char* text) {
  return parse_iso8601_millis(text).value();
}

}  // namespace

TEST_CASE("ISO 8601 timestamps are compared in UTC: Z, offsets, no zone, date only", "[privacy][retention]") {
  const long long noon_utc = millis("2026-11-26T12:00:00Z");
  CHECK(millis("2026-11-26T14:00:00+02:00") == noon_utc);
  CHECK(millis("2026-11-26T14:00:00+0200") == noon_utc);
  CHECK(millis("2026-11-26T14:00:00+02") == noon_utc);
  CHECK(millis("2026-11-26T07:00:00-05:00") == noon_utc);
  CHECK(millis("2026-11-26T12:00:00") == noon_utc);  // no zone: UTC
  CHECK(millis("2026-11-26 12:00:00") == noon_utc);  // SQLite's datetime() form
  CHECK(millis("2026-11-26t12:00:00z") == noon_utc);
  CHECK(millis("2026-11-26T12:00") == noon_utc);
  CHECK(millis("2026-11-26T12:00:00.250Z") == noon_utc + 250);
  CHECK(millis("2026-11-26T12:00:00,5Z") == noon_utc + 500);
  CHECK(millis("2026-11-26T12:00:00.123456789Z") == noon_utc + 123);
  CHECK(millis("2026-11-26") == noon_utc - 12 * 3600 * 1000);  // midnight UTC
  CHECK(millis("1970-01-01T00:00:00Z") == 0);
  CHECK(millis("1969-12-31T23:59:59Z") == -1000);
  CHECK(millis("2024-02-29") == millis("2024-03-01") - kDay);  // leap day
}

TEST_CASE("malformed ISO 8601 timestamps are not timestamps", "[privacy][retention]") {
  for (const char* bad :
       {"", "2026", "2026-11", "2026-13-01", "2026-02-30", "2025-02-29", "2026-11-26T24:00:00Z", "2026-11-26T12:60:00Z",
        "2026-11-26T12:00:61Z", "2026-11-26T12:00:00+25:00", "2026-11-26T12:00:00Zjunk", "2026-11-26Z", " 2026-11-26",
        "2026-11-26T", "26/11/2026", "2026-11-26T12:00:00.Z", "yesterday", "2026-11-26T12:00:00+02:0"}) {
    INFO(bad);
    CHECK_FALSE(parse_iso8601_millis(bad).has_value());
  }
}

TEST_CASE("timestamps as text, Unix seconds and Unix milliseconds, as declared", "[privacy][retention]") {
  const long long noon = millis("2026-11-26T12:00:00Z");
  CHECK(timestamp_millis(SqlValue(std::string("2026-11-26T12:00:00Z")), TimestampFormat::iso8601) == noon);
  CHECK(timestamp_millis(SqlValue(noon / 1000), TimestampFormat::unix_seconds) == noon);
  CHECK(timestamp_millis(SqlValue(noon), TimestampFormat::unix_millis) == noon);
  CHECK(timestamp_millis(SqlValue(std::to_string(noon / 1000)), TimestampFormat::unix_seconds) == noon);
  CHECK(timestamp_millis(SqlValue(static_cast<double>(noon / 1000) + 0.5), TimestampFormat::unix_seconds) ==
        noon + 500);
  CHECK(timestamp_millis(SqlValue(-86400LL), TimestampFormat::unix_seconds) == -kDay);
  // NULL, the wrong storage class for the format, and junk are not timestamps.
  CHECK_FALSE(timestamp_millis(SqlValue{}, TimestampFormat::iso8601));
  CHECK_FALSE(timestamp_millis(SqlValue{}, TimestampFormat::unix_seconds));
  CHECK_FALSE(timestamp_millis(SqlValue(noon), TimestampFormat::iso8601));
  CHECK_FALSE(timestamp_millis(SqlValue(std::string("2026-11-26")), TimestampFormat::unix_seconds));
  CHECK_FALSE(timestamp_millis(SqlValue(std::string("12abc")), TimestampFormat::unix_millis));
  CHECK_FALSE(timestamp_millis(SqlValue(Blob{"\x01\x02"}), TimestampFormat::unix_millis));
  CHECK_FALSE(timestamp_millis(SqlValue(9.9e300), TimestampFormat::unix_seconds));
}

TEST_CASE("retention keeps a row exactly keep_days old and purges one a millisecond older", "[privacy][retention]") {
  const long long now = millis("2026-11-26T12:00:00Z");
  const long long boundary = now - 730 * kDay;
  CHECK_FALSE(retention_expired(boundary, now, 730));
  CHECK(retention_expired(boundary - 1, now, 730));
  CHECK_FALSE(retention_expired(boundary + 1, now, 730));
  CHECK_FALSE(retention_expired(now + kDay, now, 730));  // a clock ahead: the future is never expired
  // The boundary in another zone is the same instant.
  CHECK(millis("2024-11-26T14:00:00+02:00") == boundary);
  CHECK_FALSE(retention_expired(millis("2024-11-26T14:00:00+02:00"), now, 730));
  CHECK(retention_expired(millis("2024-11-26T13:59:59.999+02:00"), now, 730));
  // A date-only value is its midnight UTC: the whole day of the boundary is older than noon.
  CHECK(retention_expired(millis("2024-11-26"), now, 730));
  CHECK_FALSE(retention_expired(millis("2024-11-27"), now, 730));
}

TEST_CASE("keep leaves every value alone and null empties it", "[privacy][transform]") {
  const auto tr = transformer();
  CHECK_FALSE(tr.apply(make(TransformKind::keep), SqlValue(std::string("4111111111111111"))).changed);
  const auto nulled = tr.apply(make(TransformKind::null), SqlValue(std::string("x")));
  CHECK(nulled.changed);
  CHECK(std::holds_alternative<std::monostate>(nulled.value));
  CHECK_FALSE(tr.apply(make(TransformKind::null), SqlValue{}).changed);
  // NULL stays NULL under every transform.
  for (const auto kind :
       {TransformKind::truncate_pan, TransformKind::mask, TransformKind::hmac, TransformKind::generalize}) {
    CHECK_FALSE(tr.apply(make(kind), SqlValue{}).changed);
  }
}

TEST_CASE("truncate_pan keeps the first 6 and last 4 digits with '*' between, idempotently", "[privacy][transform]") {
  CHECK(truncate_pans("4111111111111111") == "411111******1111");
  CHECK(truncate_pans("4111 1111 1111 1111") == "411111******1111");
  CHECK(truncate_pans("4111-1111-1111-1111") == "411111******1111");
  CHECK(truncate_pans("378282246310005") == "378282*****0005");  // Amex, 15 digits
  CHECK(truncate_pans("paid with 5555555555554444 at 10:02") == "paid with 555555******4444 at 10:02");
  CHECK(truncate_pans("cards 4111111111111111 and 378282246310005.") == "cards 411111******1111 and 378282*****0005.");
  // Track 2 is sensitive authentication data: the whole track goes, the masked PAN stays.
  CHECK(truncate_pans("swipe ;4111111111111111=29121010000012345678? ok") == "swipe 411111******1111 ok");
  // A column declared to hold PANs is truncated even when a value fails Luhn or has no known IIN.
  CHECK(truncate_pans("1234567890123456") == "123456******3456");
  // Text without a card number is left as it is.
  for (const char* text : {"", "no card here", "order 12345678", "+49 170 1234567", "DE89370400440532013000",
                           "411111******1111", "2026-11-26T12:00:00Z"}) {
    INFO(text);
    CHECK(truncate_pans(text) == text);
  }
  CHECK(as_text(apply_twice(make(TransformKind::truncate_pan), SqlValue(std::string("4111111111111111")))) ==
        "411111******1111");
  // A number stored as INTEGER becomes its truncated text; a short one stays an INTEGER.
  CHECK(apply_twice(make(TransformKind::truncate_pan), SqlValue(4111111111111111LL)) ==
        SqlValue(std::string("411111******1111")));
  CHECK(apply_twice(make(TransformKind::truncate_pan), SqlValue(1234LL)) == SqlValue(1234LL));
}

TEST_CASE("mask keeps N characters at the start or the end, and masks a value not longer than N",
          "[privacy][transform]") {
  CHECK(mask_text("+44 20 7946 0958", MaskSide::keep_last, 4) == "************0958");
  CHECK(mask_text("jane.doe@example.com", MaskSide::keep_first, 2) == "ja******************");
  CHECK(mask_text("12345", MaskSide::keep_last, 4) == "*2345");
  CHECK(mask_text("1234", MaskSide::keep_last, 4) == "****");  // N as long as the value
  CHECK(mask_text("12", MaskSide::keep_last, 4) == "**");      // N larger than the value
  CHECK(mask_text("", MaskSide::keep_last, 4).empty());
  CHECK(mask_text("secret", MaskSide::keep_first, 0) == "******");
  CHECK(mask_text("José Müller", MaskSide::keep_first, 4) == "José*******");  // characters, not bytes
  CHECK(mask_text("Zoë", MaskSide::keep_last, 1) == "**ë");
  Transform t = make(TransformKind::mask);
  t.mask_side = MaskSide::keep_last;
  t.mask_keep = 4;
  CHECK(apply_twice(t, SqlValue(std::string("07700 900123"))) == SqlValue(std::string("********0123")));
  CHECK(apply_twice(t, SqlValue(std::string("12"))) == SqlValue(std::string("**")));
  CHECK(apply_twice(t, SqlValue(447700900123LL)) == SqlValue(std::string("********0123")));
}

TEST_CASE("hmac is HMAC-SHA256 under the device's minimization key, stable, prefixed and never re-hashed",
          "[privacy][transform]") {
  const auto key = derive_purpose_key(test_master(), kMinimizationHmacPurpose);
  const auto hashed = hmac_text(key, "jane.doe@example.com");
  CHECK(hashed.size() == 5 + 64);
  CHECK(hashed.rfind("hmac:", 0) == 0);
  CHECK(is_hmac_text(hashed));
  CHECK(hmac_text(key, "jane.doe@example.com") == hashed);  // stable: joins work
  CHECK(hmac_text(key, "john.doe@example.com") != hashed);
  // The purpose key is not any cache key, and it depends on the master.
  CHECK(derive_purpose_key(test_master(), kMinimizationHmacPurpose).hex().str() !=
        derive_cache_key(test_master(), "minimization hmac v1", 0).hex().str());
  CHECK(derive_purpose_key(SecretKey{}, kMinimizationHmacPurpose).hex().str() != key.hex().str());

  CHECK(apply_twice(make(TransformKind::hmac), SqlValue(std::string("jane.doe@example.com"))) == SqlValue(hashed));
  CHECK_FALSE(is_hmac_text("hmac:" + std::string(64, 'G')));
  CHECK_FALSE(is_hmac_text("hmac:" + std::string(63, 'a')));
  CHECK_FALSE(is_hmac_text(hashed.substr(5)));
  // An integer is hashed as its decimal text.
  CHECK(transformer().apply(make(TransformKind::hmac), SqlValue(12345LL)).value == SqlValue(hmac_text(key, "12345")));
}

TEST_CASE("hmac matches RFC 4231's HMAC-SHA256 for a 32-byte key", "[privacy][transform]") {
  // RFC 4231 test case 1 uses a 20-byte key of 0x0b; zero-padding it to 32 bytes gives the same
  // HMAC (keys shorter than the block size are zero-padded).
  SecretKey key;
  for (std::size_t i = 0; i < 20; ++i) key.data()[i] = 0x0b;
  CHECK(hmac_text(key, "Hi There") == "hmac:b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST_CASE("generalize turns dates into a year or a month, as written", "[privacy][transform]") {
  const auto year = generalize(Generalization::year);
  const auto month = generalize(Generalization::month);
  CHECK(apply_twice(year, SqlValue(std::string("1987-04-12"))) == SqlValue(std::string("1987")));
  CHECK(apply_twice(month, SqlValue(std::string("1987-04-12"))) == SqlValue(std::string("1987-04")));
  CHECK(apply_twice(year, SqlValue(std::string("1987-04"))) == SqlValue(std::string("1987")));
  CHECK(apply_twice(month, SqlValue(std::string("1987"))) == SqlValue(std::string("1987")));  // coarser already
  // The calendar date as written, not moved to UTC: a New Year's Eve birthday stays in its year.
  CHECK(apply_twice(year, SqlValue(std::string("1987-12-31T23:30:00-05:00"))) == SqlValue(std::string("1987")));
  CHECK(apply_twice(year, SqlValue(1987LL)) == SqlValue(1987LL));  // a year stored as INTEGER is kept as it is
  auto unix_month = month;
  unix_month.date_format = TimestampFormat::unix_seconds;
  CHECK(apply_twice(unix_month, SqlValue(millis("2026-11-26T23:59:59Z") / 1000)) == SqlValue(std::string("2026-11")));
  auto millis_year = year;
  millis_year.date_format = TimestampFormat::unix_millis;
  CHECK(apply_twice(millis_year, SqlValue(-1LL)) == SqlValue(std::string("1969")));
  // Not a date: left as it is and counted.
  const auto junk = transformer().apply(year, SqlValue(std::string("unknown")));
  CHECK(junk.unparseable);
  CHECK_FALSE(junk.changed);
  CHECK(transformer().apply(year, SqlValue(Blob{"1987"})).unparseable);
}

TEST_CASE("generalize turns a postcode into its prefix of N and an age into a band", "[privacy][transform]") {
  auto prefix = generalize(Generalization::prefix);
  prefix.prefix_length = 3;
  CHECK(apply_twice(prefix, SqlValue(std::string("SW1A 1AA"))) == SqlValue(std::string("SW1")));
  CHECK(apply_twice(prefix, SqlValue(std::string("10115"))) == SqlValue(std::string("101")));
  CHECK(apply_twice(prefix, SqlValue(std::string("AB"))) == SqlValue(std::string("AB")));  // shorter: kept
  prefix.prefix_length = 5;
  CHECK(apply_twice(prefix, SqlValue(std::string("SW1A 1AA"))) == SqlValue(std::string("SW1A")));  // no trailing space
  CHECK(text_prefix("Ørestad 2300", 3) == "Øre");  // characters, not bytes

  auto band = generalize(Generalization::age_band);
  band.band_width = 10;
  CHECK(apply_twice(band, SqlValue(37LL)) == SqlValue(std::string("30-39")));
  CHECK(apply_twice(band, SqlValue(std::string("0"))) == SqlValue(std::string("0-9")));
  CHECK(apply_twice(band, SqlValue(std::string("100"))) == SqlValue(std::string("100-109")));
  band.band_width = 5;
  CHECK(apply_twice(band, SqlValue(std::string("42"))) == SqlValue(std::string("40-44")));
  CHECK(age_band("30-39", 5) == "30-39");  // a band already: kept
  for (const char* bad : {"-3", "151", "37.5", "thirty", "", "1000"}) {
    INFO(bad);
    CHECK_FALSE(age_band(bad, 10).has_value());
  }
  CHECK(transformer().apply(band, SqlValue(37.5)).unparseable);
}
