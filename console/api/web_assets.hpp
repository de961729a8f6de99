// The dashboard's static files (console/web), embedded in the binary at build time by embed_web.cmake,
// so that the console serves them with no files to install and nothing fetched from elsewhere.
#pragma once

#include <span>
#include <string_view>

namespace postured::console {

struct WebAsset {
  std::string_view path;          // "/index.html", "/app.js", ...
  std::string_view content_type;  // with charset for text
  std::string_view body;
};

std::span<const WebAsset> web_assets();

}  // namespace postured::console
