// Enrollment and operator tokens: 32 random bytes as base64url, shown once; only their SHA-256 is kept
// (in storage for enrollment tokens, in <data_dir>/operator-tokens for operator API tokens).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace postured::console {

// 32 bytes from PSA's random generator, base64url without padding (43 characters).
std::string new_token();
// Lower-case hex SHA-256 of `text`.
std::string sha256_hex(std::string_view text);

// Appends one hash line to the operator token file, creating it with mode 0600. Throws std::runtime_error.
void append_operator_token_hash(const std::filesystem::path& file, const std::string& hash);
// The hashes in the operator token file (one per line; blank lines and '#' comments skipped). A missing
// file is no tokens; an unreadable one, or a line that is not 64 hex digits, throws std::runtime_error.
std::vector<std::string> read_operator_token_hashes(const std::filesystem::path& file);

}  // namespace postured::console
