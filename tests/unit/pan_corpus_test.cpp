// The PAN detector against a generated corpus with known card numbers, tracks and decoys: precision
// and recall (issue 4's target: at least 0.99 each), and every finding's offset, length, brand and
// masked form against the ground truth.
#include <catch2/catch_test_macros.hpp>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "privacy/pan_detector.hpp"
#include "support/pan_corpus.hpp"

using namespace postured::privacy;
using postured::test::PanCorpus;
using postured::test::PanCorpusLine;

namespace {

constexpr std::size_t kLines = 24000;
constexpr std::uint64_t kSeed = 20261125;

struct Tally {
  std::size_t truths = 0, found = 0, missed = 0, false_positives = 0, wrong_details = 0;
  std::vector<std::string> examples;  // lines that went wrong, for the failure message
};

// True if `masked` is the PCI storage form of `digits`: same length, first 6 and last 4 shown.
bool masked_form_of(const std::string& masked, const std::string& digits) {
  if (masked.size() != digits.size()) return false;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    const bool shown = i < 6 || i + 4 >= digits.size();
    if (masked[i] != (shown ? digits[i] : '*')) return false;
  }
  return true;
}

// The line for a failure message, with every digit of the given spans but the first 6 and last 4
// starred: even generated card numbers never appear whole in a test log.
std::string masked_line(std::string text, const PanCorpusLine& line, const std::vector<PanMatch>& found) {
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  for (const auto& t : line.truth) spans.emplace_back(t.offset, t.length);
  for (const auto& m : found) spans.emplace_back(m.offset, m.length);
  for (const auto& [offset, length] : spans) {
    std::vector<std::size_t> digits;
    for (std::size_t i = offset; i < offset + length && i < text.size(); ++i) {
      if (text[i] >= '0' && text[i] <= '9') digits.push_back(i);
    }
    for (std::size_t d = 6; d + 4 < digits.size(); ++d) text[digits[d]] = '*';
  }
  return text;
}

}  // namespace

TEST_CASE("precision and recall on a generated corpus", "[pan][corpus]") {
  PanCorpus corpus(kSeed);
  const PanDetector detector;
  std::map<std::string, Tally, std::less<>> by_category;
  std::vector<PanCorpusLine> lines;
  std::size_t true_positives = 0, false_positives = 0, false_negatives = 0, wrong_details = 0;

  for (std::size_t n = 0; n < kLines; ++n) {
    auto line = corpus.line();
    const auto found = detector.find_all(line.text);
    auto& tally = by_category[std::string(line.category)];
    tally.truths += line.truth.size();
    std::vector<bool> matched(line.truth.size(), false);
    for (const auto& m : found) {
      // No finding may carry a full PAN, whatever it matched.
      REQUIRE(m.masked.find_first_not_of("0123456789") != std::string::npos);
      bool hit = false;
      for (std::size_t t = 0; t < line.truth.size(); ++t) {
        const auto& truth = line.truth[t];
        if (matched[t] || truth.offset != m.offset || truth.kind != m.kind) continue;
        matched[t] = hit = true;
        if (m.length != truth.length || m.brand != truth.brand || !masked_form_of(m.masked, truth.digits)) {
          ++wrong_details, ++tally.wrong_details;
          tally.examples.push_back("wrong length/brand/mask: " + masked_line(line.text, line, found));
        }
      }
      if (hit) {
        ++true_positives, ++tally.found;
      } else {
        ++false_positives, ++tally.false_positives;
        tally.examples.push_back("false positive " + m.masked + ": " + masked_line(line.text, line, found));
      }
    }
    for (std::size_t t = 0; t < line.truth.size(); ++t) {
      if (matched[t]) continue;
      ++false_negatives, ++tally.missed;
      tally.examples.push_back("missed: " + masked_line(line.text, line, found));
    }
    lines.push_back(std::move(line));
  }

  const double precision = static_cast<double>(true_positives) / static_cast<double>(true_positives + false_positives);
  const double recall = static_cast<double>(true_positives) / static_cast<double>(true_positives + false_negatives);
  std::printf(
      "pan corpus: %zu lines (seed %llu), %zu PANs and tracks: precision %.4f, recall %.4f "
      "(%zu true positives, %zu false positives, %zu missed)\n",
      lines.size(), static_cast<unsigned long long>(kSeed), true_positives + false_negatives, precision, recall,
      true_positives, false_positives, false_negatives);
  for (const auto& [category, tally] : by_category) {
    if (tally.examples.empty()) continue;
    std::printf("  %-36s %5zu truths, %zu missed, %zu false positives, %zu with a wrong length, brand or mask\n",
                category.c_str(), tally.truths, tally.missed, tally.false_positives, tally.wrong_details);
    for (std::size_t i = 0; i < tally.examples.size() && i < 3; ++i) std::printf("    %s\n", tally.examples[i].c_str());
  }
  std::fflush(stdout);

  CHECK(wrong_details == 0);
  REQUIRE(precision >= 0.99);
  REQUIRE(recall >= 0.99);

  SECTION("the whole corpus as one text gives the same findings as line by line") {
    std::string text;
    std::vector<std::size_t> line_start;
    for (const auto& line : lines) {
      line_start.push_back(text.size());
      text += line.text;
      text += '\n';
    }
    std::vector<std::size_t> expected;
    for (std::size_t l = 0; l < lines.size(); ++l) {
      for (const auto& m : detector.find_all(lines[l].text)) expected.push_back(line_start[l] + m.offset);
    }
    std::vector<std::size_t> actual;
    for (const auto& m : detector.find_all(text)) actual.push_back(m.offset);
    CHECK(actual == expected);
  }
}

TEST_CASE("the corpus generator is deterministic and its PANs are valid", "[pan][corpus]") {
  PanCorpus a(7), b(7);
  for (int i = 0; i < 200; ++i) {
    const auto x = a.line(), y = b.line();
    REQUIRE(x.text == y.text);
    for (const auto& truth : x.truth) {
      CHECK(PanCorpus::luhn(truth.digits));
      CHECK(card_brand(truth.digits) == truth.brand);
      CHECK(truth.offset + truth.length <= x.text.size());
    }
  }
}
