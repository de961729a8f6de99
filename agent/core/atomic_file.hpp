#pragma once

#include <filesystem>
#include <string_view>
#include <system_error>

namespace postured {

// Replaces `path` with `content` so that a crash leaves either the old file or the new one:
// a temporary file in the same folder, fsync, rename, fsync of the folder.
std::error_code write_file_atomically(const std::filesystem::path& path, std::string_view content,
                                      std::filesystem::perms mode);

}  // namespace postured
