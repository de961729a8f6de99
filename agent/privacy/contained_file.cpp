#include "privacy/contained_file.hpp"

#include <cstdio>

#include "core/open_files.hpp"

namespace postured::privacy {

namespace fs = std::filesystem;

std::string file_error_text() {
  return last_file_error().message();
}

std::optional<ContainedFile> open_contained(const fs::path& root, const fs::path& file, std::string& error) {
  const auto relative = file.lexically_normal().lexically_relative(root.lexically_normal());
  if (relative.empty() || *relative.begin() == "..") {
    error = file.string() + " is not below " + root.string();
    return std::nullopt;
  }
  if (relative == ".") {  // the configured path is the file itself
    FileHandle dir = open_folder(root.has_parent_path() ? root.parent_path() : fs::path("."));
    if (!dir) {
      error = "cannot open the folder of " + root.string() + ": " + file_error_text();
      return std::nullopt;
    }
    return ContainedFile{std::move(dir), root.filename().string()};
  }
  FileHandle dir = open_folder(root);
  if (!dir) {
    error = "cannot open " + root.string() + ": " + file_error_text();
    return std::nullopt;
  }
  std::string name;
  for (auto it = relative.begin(); it != relative.end(); ++it) {
    if (!name.empty()) {
      FileHandle next = open_folder_at(dir, name);
      if (!next) {
        // A component was swapped for a link or a file after the scan.
        error = "cannot open folder " + name + " below " + root.string() + " without following a link: " +
                file_error_text();
        return std::nullopt;
      }
      dir = std::move(next);
    }
    name = it->string();
    if (name == "..") {
      error = file.string() + " is not below " + root.string();
      return std::nullopt;
    }
  }
  return ContainedFile{std::move(dir), name};
}

std::string why_not_replace(const FileHandle& file, const FileInfo& info) {
  if (!info.regular) return "not a regular file";
  if (info.links > 1) return "has " + std::to_string(info.links) + " hard links; left for IT to handle";
  const auto holders = processes_holding(file.get());
  if (holders.empty()) return {};
  const auto& h = holders.front();
  return "open in pid " + std::to_string(h.pid) + (h.exe.empty() ? "" : " (" + h.exe + ")") +
         "; tried again at the next scan";
}

bool same_version(const FileInfo& a, const FileInfo& b) {
  return a.device == b.device && a.id == b.id && a.size == b.size && a.mtime_sec == b.mtime_sec &&
         a.mtime_nsec == b.mtime_nsec;
}

FileHandle create_temp_file(const FileHandle& dir, const std::string& prefix, std::string& name) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    unsigned char random[6];
    if (!random_bytes(random, sizeof random)) return FileHandle();
    char suffix[13];
    for (std::size_t i = 0; i < sizeof random; ++i) std::snprintf(suffix + 2 * i, 3, "%02x", random[i]);
    name = prefix + suffix;
    FileHandle file = create_file_at(dir, name);
    if (file || last_file_error() != std::errc::file_exists) return file;
  }
  return FileHandle();
}

}  // namespace postured::privacy
