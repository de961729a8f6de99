// apt keeps its lists and logrotate its old logs compressed; these read them back in memory.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace postured::patch {

// The contents of `data` as stored at `path`: gunzipped for ".gz", LZ4-frame-decoded for ".lz4",
// as is otherwise. nullopt when the data is corrupt or the compression unknown (".xz", ".zst", ".bz2").
std::optional<std::string> decompress_for(std::string_view path, std::string data);

}  // namespace postured::patch
