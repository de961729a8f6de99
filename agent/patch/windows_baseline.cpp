#include "patch/windows_baseline.hpp"

#include <algorithm>
#include <array>
#include <fstream>
#include <map>
#include <sstream>
#include <tuple>

#include "core/toml.hpp"
#include "patch/baseline.hpp"

namespace postured::patch {
namespace {

constexpr std::array<std::string_view, 4> kSeverities{"low", "medium", "high", "critical"};
constexpr std::array<std::string_view, 7> kUpdateKeys{"build", "ubr", "published", "kb", "name", "cves", "severity"};
// Windows builds and UBRs are well below this; a larger number is a typo (or a date).
constexpr long long kMaxBuildNumber = 999999;

class WindowsBaselineReader {
 public:
  explicit WindowsBaselineReader(std::string_view source) : source_(source) {}

  void error(const toml::source_region& where, std::string message) {
    errors_.push_back({source_, static_cast<int>(std::max<toml::source_index>(where.begin.line, 1)),
                       static_cast<int>(std::max<toml::source_index>(where.begin.column, 1)), std::move(message)});
  }

  WindowsBaselineLoad run(const toml::table& root) {
    WindowsBaseline baseline;
    baseline.source = source_;
    for (auto&& [key, node] : root) {
      if (key.str() != "update") {
        error(key.source(), "unknown key '" + std::string(key.str()) +
                                "' (a Windows baseline holds [[update]] tables: build, ubr, published, ...)");
        continue;
      }
      const auto* tables = node.as_array();
      if (!tables || !tables->is_array_of_tables()) {
        error(node.source(), "'update' must be [[update]] tables");
        continue;
      }
      for (const auto& element : *tables) {
        if (auto entry = entry_of(*element.as_table())) baseline.updates.push_back(std::move(*entry));
      }
    }
    std::stable_sort(errors_.begin(), errors_.end(), [](const ConfigError& a, const ConfigError& b) {
      return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    WindowsBaselineLoad load;
    load.errors = std::move(errors_);
    if (load.errors.empty()) load.baseline = std::move(baseline);
    return load;
  }

 private:
  std::optional<WindowsUpdateEntry> entry_of(const toml::table& table) {
    const auto before = errors_.size();
    WindowsUpdateEntry entry;
    for (auto&& [key, node] : table) {
      if (std::find(kUpdateKeys.begin(), kUpdateKeys.end(), key.str()) == kUpdateKeys.end()) {
        error(key.source(), "unknown key 'update." + std::string(key.str()) +
                                "' (expected one of build, ubr, published, kb, name, cves, severity)");
      }
    }
    entry.build = number(table, "build", "the Windows build, e.g. 19045").value_or(0);
    entry.ubr = number(table, "ubr", "the update's revision (UBR), e.g. 5131").value_or(0);
    if (const auto* node = table.get("published")) {
      std::optional<std::chrono::sys_days> day;
      if (const auto* date = node->as_date()) {
        std::ostringstream text;
        text << date->get();
        day = parse_date(text.str());
      } else if (const auto* text = node->as_string()) {
        day = parse_date(text->get());
      }
      if (day)
        entry.published = *day;
      else
        error(node->source(),
              "'update.published' must be a date (2024-11-12), not " +
                  (node->is_string() ? "'" + node->as_string()->get() + "'" : std::string(toml_type_name(*node))));
    } else {
      error(table.source(), "missing required key 'update.published' (the day the update came out)");
    }
    if (const auto* node = table.get("kb")) {
      const auto* text = node->as_string();
      if (!text || !valid_kb(text->get()))
        error(node->source(), "'update.kb' must be a string like \"KB5046613\"");
      else
        entry.kb = text->get();
    }
    if (const auto* node = table.get("name")) {
      if (const auto* text = node->as_string(); text && !text->get().empty())
        entry.name = text->get();
      else
        error(node->source(), "'update.name' must be a non-empty string");
    }
    if (const auto* node = table.get("cves")) {
      const auto* array = node->as_array();
      if (!array)
        error(node->source(), "'update.cves' must be a list of strings, not " + std::string(toml_type_name(*node)));
      for (std::size_t k = 0; array && k < array->size(); ++k) {
        const auto* text = array->get(k)->as_string();
        if (text && !text->get().empty())
          entry.cves.push_back(text->get());
        else
          error(array->get(k)->source(), "each 'update.cves' entry must be a non-empty string");
      }
    }
    if (const auto* node = table.get("severity")) {
      const auto* text = node->as_string();
      const auto found = text ? std::find(kSeverities.begin(), kSeverities.end(), text->get()) : kSeverities.end();
      if (found == kSeverities.end())
        error(node->source(), "'update.severity' must be one of low, medium, high, critical");
      else
        entry.severity = static_cast<Severity>(found - kSeverities.begin());
    }
    if (errors_.size() != before) return std::nullopt;
    if (!seen_.emplace(std::pair(entry.build, entry.ubr), table.source()).second) {
      error(table.source(), "a second [[update]] for build " + std::to_string(entry.build) + " and UBR " +
                                std::to_string(entry.ubr) + " (the first is at line " +
                                std::to_string(seen_.at({entry.build, entry.ubr}).begin.line) + ")");
      return std::nullopt;
    }
    return entry;
  }

  std::optional<unsigned> number(const toml::table& table, std::string_view key, std::string_view meaning) {
    const auto* node = table.get(key);
    if (!node) {
      error(table.source(), "missing required key 'update." + std::string(key) + "' (" + std::string(meaning) + ")");
      return std::nullopt;
    }
    const auto* integer = node->as_integer();
    if (!integer || integer->get() < 0 || integer->get() > kMaxBuildNumber) {
      error(node->source(), "'update." + std::string(key) + "' must be a whole number from 0 to " +
                                std::to_string(kMaxBuildNumber) + " (" + std::string(meaning) + ")");
      return std::nullopt;
    }
    return static_cast<unsigned>(integer->get());
  }

  static bool valid_kb(std::string_view kb) {
    return kb.size() > 2 && kb.size() <= 12 && kb.substr(0, 2) == "KB" &&
           std::all_of(kb.begin() + 2, kb.end(), [](char c) { return c >= '0' && c <= '9'; });
  }

  std::string source_;
  std::vector<ConfigError> errors_;
  std::map<std::pair<unsigned, unsigned>, toml::source_region> seen_;
};

}  // namespace

WindowsBaselineLoad parse_windows_baseline(std::string_view text, std::string_view source_name) {
  toml::table root;
  try {
    root = toml::parse(text, std::string(source_name));
  } catch (const toml::parse_error& e) {
    WindowsBaselineReader reader(source_name);
    reader.error(e.source(), std::string(e.description()));
    return reader.run(toml::table{});
  }
  return WindowsBaselineReader(source_name).run(root);
}

WindowsBaselineLoad load_windows_baseline_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  if (in) content << in.rdbuf();
  if (!in) {
    WindowsBaselineLoad load;
    load.errors.push_back({path.string(), 1, 1, "cannot read the Windows patch baseline"});
    return load;
  }
  return parse_windows_baseline(content.str(), path.string());
}

WindowsBaselineStanding standing_of(const WindowsBaseline& baseline, unsigned build, unsigned ubr,
                                    std::chrono::sys_days today) {
  WindowsBaselineStanding standing;
  for (const auto& update : baseline.updates) {
    if (update.build != build) continue;
    standing.build_known = true;
    if (!standing.required || update.ubr > standing.required->ubr) standing.required = &update;
    if (update.ubr > ubr &&
        (!standing.oldest_missing || update.published < standing.oldest_missing->published ||
         (update.published == standing.oldest_missing->published && update.ubr < standing.oldest_missing->ubr))) {
      standing.oldest_missing = &update;
    }
  }
  if (standing.build_known) {
    standing.days_behind =
        standing.oldest_missing ? std::max<long long>(0, (today - standing.oldest_missing->published).count()) : 0;
  }
  return standing;
}

}  // namespace postured::patch
