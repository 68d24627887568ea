// estoria cli: the JSON form of streams, and of user-given JSON, for every
// command's --json output. Events use the backend SDK's codec
// (estoria/backend/json_codec.h), which also defines export/import lines:
//   stream {"stream_id","type","version","last_timestamp"}
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "estoria/backend/json_codec.h"
#include "estoria/event.h"
#include "estoria/event_store.h"

namespace estoria::cli {

using Json = backend::JsonValue;

Json StreamToJson(const StreamInfo& s);

// Parses user-given JSON text and returns its compact serialisation (key order
// kept). InvalidArgument "<what> is not valid JSON: ..." otherwise.
Result<std::string> NormalizeJson(std::string_view text, std::string_view what);
// Parses a JSON object of string values into Metadata. InvalidArgument otherwise.
Result<Metadata> ParseMetadata(std::string_view text);

}  // namespace estoria::cli
