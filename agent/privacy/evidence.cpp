#include "privacy/evidence.hpp"

#include <fstream>

#include <nlohmann/json.hpp>

#include "core/atomic_file.hpp"
#include "core/file_handle.hpp"

namespace postured::privacy {
namespace {

namespace fs = std::filesystem;

constexpr auto kOwnerOnly = fs::perms::owner_read | fs::perms::owner_write;

// The folder, made 0700 if it is new; an existing one keeps its mode (the state folder is already 0700).
std::error_code prepare_folder(const fs::path& folder) {
  std::error_code ec;
  if (fs::create_directories(folder, ec)) fs::permissions(folder, fs::perms::owner_all, ec);
  return ec;
}

// Appends one line and fsyncs it, so that a recorded run survives a power cut.
std::error_code append_line(const fs::path& path, const std::string& line) {
  const FileHandle file = open_for_append(path);
  if (!file || !write_all(file.get(), line.data(), line.size()) || !flush(file)) return last_file_error();
  return {};
}

fs::path summary_path(const fs::path& state_dir, const std::string& cache) {
  return state_dir / "caches" / (cache + ".enforcement.json");
}

}  // namespace

std::string evidence_line(const CacheEnforcement& run) {
  auto tables = nlohmann::ordered_json::array();
  for (const auto& t : run.figures.tables) {
    tables.push_back({{"table", t.table},
                      {"covered", t.covered},
                      {"condition_purged", t.condition_purged},
                      {"retention_purged", t.retention_purged},
                      {"null_timestamps", t.null_timestamps},
                      {"unparseable_timestamps", t.unparseable_timestamps},
                      {"transformed_values", t.transformed_values},
                      {"pan_findings", t.pan_findings}});
  }
  const nlohmann::ordered_json line{{"schema", "postured.enforcement_evidence/v1"},
                                    {"cache", run.cache},
                                    {"started_at", run.started_at},
                                    {"finished_at", run.finished_at},
                                    {"outcome", to_string(run.outcome)},
                                    {"error", run.error},
                                    {"policy", run.policy.string()},
                                    {"policy_sha256", run.policy_sha256},
                                    {"purged_rows", run.figures.purged_rows()},
                                    {"transformed_values", run.figures.transformed_values()},
                                    {"pan_findings", run.figures.pan_findings()},
                                    {"pans_left", run.figures.pans_left},
                                    {"auto_vacuum_converted", run.figures.auto_vacuum_converted},
                                    {"freed_pages", run.figures.freed_pages},
                                    {"tables", tables}};
  return line.dump() + "\n";
}

std::error_code record_enforcement(const fs::path& state_dir, const CacheEnforcement& run) {
  if (auto ec = prepare_folder(state_dir / "evidence")) return ec;
  if (auto ec = append_line(state_dir / "evidence" / (run.cache + ".jsonl"), evidence_line(run))) return ec;
  if (auto ec = prepare_folder(state_dir / "caches")) return ec;
  const nlohmann::ordered_json summary{
      {"last_enforced_at", run.finished_at},        {"outcome", to_string(run.outcome)},
      {"purged_rows", run.figures.purged_rows()},   {"transformed_values", run.figures.transformed_values()},
      {"pan_findings", run.figures.pan_findings()}, {"pans_left", run.figures.pans_left}};
  return write_file_atomically(summary_path(state_dir, run.cache), summary.dump(2) + "\n", kOwnerOnly);
}

std::optional<LastEnforcement> load_last_enforcement(const fs::path& state_dir, const std::string& cache) {
  std::ifstream in(summary_path(state_dir, cache));
  if (!in) return std::nullopt;
  const auto doc = nlohmann::json::parse(in, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return std::nullopt;
  LastEnforcement last;
  last.at = doc.value("last_enforced_at", "");
  last.outcome = doc.value("outcome", "");
  last.purged_rows = doc.value("purged_rows", 0LL);
  last.transformed_values = doc.value("transformed_values", 0LL);
  last.pan_findings = doc.value("pan_findings", 0LL);
  last.pans_left = doc.value("pans_left", 0LL);
  return last;
}

}  // namespace postured::privacy
