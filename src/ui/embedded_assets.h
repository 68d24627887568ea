// estoria ui (internal): the web application's files, embedded in the binary at
// build time from src/ui/assets/ by embed_assets.cmake.
//
// Thread safety: immutable data; EmbeddedAssets() may be called from any thread.
#pragma once

#include <string_view>
#include <vector>

namespace estoria::ui {

struct EmbeddedAsset {
  std::string_view name;          // path relative to src/ui/assets, e.g. "app.js"
  std::string_view bytes;         // the file's bytes
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
};

// Every embedded file, ordered as globbed (by name).
const std::vector<EmbeddedAsset>& EmbeddedAssets();

}  // namespace estoria::ui
