// The PAN and track detector in the Windows build: the same findings and masks as on Linux, also in
// logs with Windows line ends, as Windows POS software writes them.
#include <catch2/catch_test_macros.hpp>

#include <string>
#include <vector>

#include "privacy/pan_detector.hpp"

using namespace postured::privacy;

namespace {

std::vector<std::string> masked(std::string_view text) {
  std::vector<std::string> out;
  for (const auto& match : PanDetector().find_all(text)) out.push_back(match.masked);
  return out;
}

}  // namespace

TEST_CASE("core: Luhn, brands and masking on Windows", "[core][pan]") {
  CHECK(luhn_valid("4111111111111111"));
  CHECK_FALSE(luhn_valid("4111111111111112"));
  CHECK(card_brand("5555555555554444") == CardBrand::mastercard);
  CHECK(card_brand("378282246310005") == CardBrand::amex);
  CHECK_FALSE(card_brand("1234567812345670"));
  CHECK(mask_pan("4111111111111111") == "411111******1111");
  CHECK(mask_pan("378282246310005") == "378282*****0005");
}

TEST_CASE("core: PANs in a Windows receipt log are found and only masked", "[core][pan]") {
  const std::string log =
      "2026-11-26 07:00:01 sale 12.50 EUR card 4111 1111 1111 1111 approved\r\n"
      "2026-11-26 07:00:09 refund card=5555555555554444 exp 12/29\r\n"
      "2026-11-26 07:01:00 order 4111111111111112 (not a card: Luhn fails)\r\n";
  const auto found = masked(log);
  REQUIRE(found.size() == 2);
  CHECK(found[0] == "411111******1111");
  CHECK(found[1] == "555555******4444");
  for (const auto& text : found) CHECK(text.find("1111 1111") == std::string::npos);
}

TEST_CASE("core: track 2 data is reported as a track", "[core][pan]") {
  const auto found = PanDetector().find_all(";4111111111111111=25121010000000000?\r\n");
  REQUIRE(found.size() == 1);
  CHECK(found[0].kind == FindingKind::track2);
  CHECK(found[0].masked == "411111******1111");
}
