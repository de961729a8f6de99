#include "server/report_model.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <charconv>
#include <limits>
#include <vector>

namespace postured::console {
namespace {

using json = nlohmann::json;

constexpr std::string_view kSchema = "postured.report/v1";
constexpr std::array<std::string_view, 4> kStatuses{"pass", "fail", "error", "not_applicable"};
constexpr std::array<std::string_view, 4> kSeverities{"low", "medium", "high", "critical"};
// Ids and short strings longer than this are not from a postured agent.
constexpr std::size_t kMaxIdLength = 256;
// Years a date-time may name. Before 1970 no device clock reports; past 2200 the nanosecond time point
// of std::chrono::system_clock (which overflows in 2262) would wrap.
constexpr int kMinYear = 1970;
constexpr int kMaxYear = 2200;

template <std::size_t N>
bool one_of(const std::string& value, const std::array<std::string_view, N>& choices) {
  for (const auto choice : choices) {
    if (value == choice) return true;
  }
  return false;
}

bool is_uuid(std::string_view text) {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
long long days_from_civil(long long y, unsigned m, unsigned d) {
  y -= m <= 2;
  const long long era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<long long>(doe) - 719468;
}

// Thrown inside validation with the field's path; turned into a ReportProblem.
struct SchemaError {
  std::string message;
};

class Reader {
 public:
  const json& object(const json& parent, const char* key, const std::string& path) {
    const auto it = parent.find(key);
    if (it == parent.end() || !it->is_object()) fail(path + key + " must be an object");
    return *it;
  }
  // Null or absent is "no block" for the optional ones.
  const json* optional_object(const json& parent, const char* key, const std::string& path) {
    const auto it = parent.find(key);
    if (it == parent.end() || it->is_null()) return nullptr;
    if (!it->is_object()) fail(path + key + " must be an object or null");
    return &*it;
  }
  const json* optional_array(const json& parent, const char* key, const std::string& path) {
    const auto it = parent.find(key);
    if (it == parent.end() || it->is_null()) return nullptr;
    if (!it->is_array()) fail(path + key + " must be an array or null");
    return &*it;
  }
  std::string string(const json& parent, const char* key, const std::string& path, bool required = true) {
    const auto it = parent.find(key);
    if (it == parent.end() || it->is_null()) {
      if (required) fail(path + key + " is missing");
      return {};
    }
    if (!it->is_string()) fail(path + key + " must be a string");
    return it->get<std::string>();
  }
  // A non-negative integer, or `absent` when missing or null.
  std::int64_t count(const json& parent, const char* key, const std::string& path, std::int64_t absent = 0) {
    const auto it = parent.find(key);
    if (it == parent.end() || it->is_null()) return absent;
    if (!it->is_number_integer() || it->get<std::int64_t>() < 0) fail(path + key + " must be a non-negative integer");
    return it->get<std::int64_t>();
  }
  std::optional<bool> boolean(const json& parent, const char* key, const std::string& path) {
    const auto it = parent.find(key);
    if (it == parent.end() || it->is_null()) return std::nullopt;
    if (!it->is_boolean()) fail(path + key + " must be a boolean");
    return it->get<bool>();
  }
  [[noreturn]] void fail(std::string message) { throw SchemaError{std::move(message)}; }
};

// U+0000 in any string (value or key): PostgreSQL's text and jsonb cannot hold it, and no agent sends it.
// Walked with an explicit stack: a body of 8 MiB of '[' nests millions deep.
bool has_nul(const json& document) {
  std::vector<const json*> pending{&document};
  while (!pending.empty()) {
    const json& value = *pending.back();
    pending.pop_back();
    if (value.is_string()) {
      if (value.get_ref<const std::string&>().find('\0') != std::string::npos) return true;
    } else if (value.is_array()) {
      for (const auto& element : value) pending.push_back(&element);
    } else if (value.is_object()) {
      for (auto it = value.begin(); it != value.end(); ++it) {
        if (it.key().find('\0') != std::string::npos) return true;
        pending.push_back(&it.value());
      }
    }
  }
  return false;
}

int as_int(std::int64_t value) {
  return value > std::numeric_limits<int>::max() ? std::numeric_limits<int>::max() : static_cast<int>(value);
}

ValidatedReport validate(const json& doc) {
  Reader r;
  if (!doc.is_object()) r.fail("the report must be a JSON object");
  if (has_nul(doc)) r.fail("a string in the report contains U+0000 (NUL)");
  if (r.string(doc, "schema", "") != kSchema) r.fail("schema must be \"postured.report/v1\"");

  ValidatedReport report;
  report.report_id = r.string(doc, "report_id", "");
  if (!is_uuid(report.report_id)) r.fail("report_id must be a UUID");
  const auto generated = parse_rfc3339(r.string(doc, "generated_at", ""));
  if (!generated) r.fail("generated_at must be an RFC 3339 date-time");
  report.generated_at = *generated;

  const json& device = r.object(doc, "device", "");
  report.device_id = r.string(device, "id", "device.");
  report.store_id = r.string(device, "store_id", "device.");
  if (report.device_id.empty() || report.device_id.size() > kMaxIdLength)
    r.fail("device.id must be 1 to 256 characters");
  if (report.store_id.size() > kMaxIdLength) r.fail("device.store_id is longer than 256 characters");
  DeviceState& state = report.state;
  state.device_id = report.device_id;
  state.store_id = report.store_id;
  state.hostname = r.string(device, "hostname", "device.", false);
  if (const json* os = r.optional_object(device, "os", "device.")) {
    state.os_pretty_name = r.string(*os, "pretty_name", "device.os.", false);
  }
  state.agent_version = r.string(device, "agent_version", "device.", false);
  const std::string top_version = r.string(doc, "agent_version", "", false);
  if (state.agent_version.empty()) state.agent_version = top_version;

  const auto checks = doc.find("checks");
  if (checks == doc.end() || !checks->is_array()) r.fail("checks must be an array");
  for (std::size_t i = 0; i < checks->size(); ++i) {
    const json& check = (*checks)[i];
    const std::string path = "checks[" + std::to_string(i) + "].";
    if (!check.is_object()) r.fail("checks[" + std::to_string(i) + "] must be an object");
    CheckState c;
    c.id = r.string(check, "id", path);
    if (c.id.empty() || c.id.size() > kMaxIdLength) r.fail(path + "id must be 1 to 256 characters");
    c.title = r.string(check, "title", path, false);
    c.status = r.string(check, "status", path);
    if (!one_of(c.status, kStatuses)) r.fail(path + "status must be pass, fail, error or not_applicable");
    c.severity = r.string(check, "severity", path, false);
    if (!c.severity.empty() && !one_of(c.severity, kSeverities)) {
      r.fail(path + "severity must be low, medium, high or critical");
    }
    if (c.status == "pass") ++state.checks_pass;
    if (c.status == "fail") ++state.checks_fail;
    if (c.status == "error") ++state.checks_error;
    state.checks.push_back(std::move(c));
  }
  state.status = state.checks_fail > 0 ? "fail" : state.checks_error > 0 ? "error" : "pass";
  if (const json* summary = r.optional_object(doc, "summary", "")) {
    for (const char* key : {"pass", "fail", "error", "not_applicable"}) r.count(*summary, key, "summary.");
  }

  if (const json* patch = r.optional_object(doc, "patch", "")) {
    r.count(*patch, "packages_total", "patch.");
    if (const json* below = r.optional_array(*patch, "below_baseline", "patch.")) {
      for (const auto& entry : *below) {
        if (!entry.is_object()) r.fail("patch.below_baseline entries must be objects");
      }
      state.packages_below_baseline = as_int(static_cast<std::int64_t>(below->size()));
    }
    const std::string last = r.string(*patch, "last_security_update_at", "patch.", false);
    if (!last.empty()) {
      state.last_security_update_at = parse_rfc3339(last);
      if (!state.last_security_update_at) r.fail("patch.last_security_update_at must be an RFC 3339 date-time or null");
    }
    state.pending_security_updates = as_int(r.count(*patch, "pending_security_updates", "patch.", -1));
    state.reboot_required = r.boolean(*patch, "reboot_required", "patch.").value_or(false);
  }

  if (const json* caches = r.optional_array(doc, "caches", "")) {
    for (std::size_t i = 0; i < caches->size(); ++i) {
      const json& cache = (*caches)[i];
      const std::string path = "caches[" + std::to_string(i) + "].";
      if (!cache.is_object()) r.fail("caches[" + std::to_string(i) + "] must be an object");
      r.string(cache, "name", path);
      ++state.caches_total;
      const bool exists = r.boolean(cache, "exists", path).value_or(true);
      const auto encrypted = r.boolean(cache, "encrypted", path);
      if (!encrypted) r.fail(path + "encrypted must be a boolean");
      if (exists && !*encrypted) ++state.caches_unencrypted;
      for (const char* key : {"rows", "purged_rows", "transformed_values"}) r.count(cache, key, path);
      state.pan_findings += r.count(cache, "pan_findings", path);
    }
  }
  if (const json* scan = r.optional_object(doc, "scan", "")) {
    r.count(*scan, "files_scanned", "scan.");
    r.count(*scan, "bytes_scanned", "scan.");
    state.pan_findings += r.count(*scan, "pan_findings", "scan.");
    r.optional_array(*scan, "locations", "scan.");
  }
  return report;
}

}  // namespace

std::optional<Clock::time_point> parse_rfc3339(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)
  if (text.size() < 20) return std::nullopt;
  const auto number = [&](std::size_t at, std::size_t digits, int& out) {
    if (at + digits > text.size()) return false;
    const auto [end, ec] = std::from_chars(text.data() + at, text.data() + at + digits, out);
    return ec == std::errc() && end == text.data() + at + digits;
  };
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!number(0, 4, year) || text[4] != '-' || !number(5, 2, month) || text[7] != '-' || !number(8, 2, day) ||
      (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || !number(11, 2, hour) || text[13] != ':' ||
      !number(14, 2, minute) || text[16] != ':' || !number(17, 2, second)) {
    return std::nullopt;
  }
  if (year < kMinYear || year > kMaxYear) return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  std::size_t at = 19;
  std::chrono::nanoseconds fraction{0};
  if (at < text.size() && text[at] == '.') {
    ++at;
    long long scale = 100000000;
    const std::size_t start = at;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
      fraction += std::chrono::nanoseconds((text[at] - '0') * scale);
      scale /= 10;
      ++at;
    }
    if (at == start) return std::nullopt;
  }
  if (at >= text.size()) return std::nullopt;
  std::chrono::minutes offset{0};
  if (text[at] == 'Z' || text[at] == 'z') {
    ++at;
  } else if (text[at] == '+' || text[at] == '-') {
    int oh = 0, om = 0;
    if (!number(at + 1, 2, oh) || at + 3 >= text.size() || text[at + 3] != ':' || !number(at + 4, 2, om)) {
      return std::nullopt;
    }
    if (oh > 23 || om > 59) return std::nullopt;
    offset = std::chrono::minutes(oh * 60 + om) * (text[at] == '-' ? -1 : 1);
    at += 6;
  } else {
    return std::nullopt;
  }
  if (at != text.size()) return std::nullopt;
  const long long days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const auto since_epoch = std::chrono::seconds(days * 86400 + hour * 3600 + minute * 60 + second) - offset;
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(since_epoch + fraction));
}

std::variant<ValidatedReport, ReportProblem> validate_report(std::string_view text) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) return ReportProblem{"malformed_json", "the body is not valid JSON"};
  try {
    return validate(doc);
  } catch (const SchemaError& e) {
    return ReportProblem{"schema", e.message};
  } catch (const json::exception& e) {
    return ReportProblem{"schema", std::string("the report does not fit postured.report/v1: ") + e.what()};
  }
}

}  // namespace postured::console
