// estoria cli: the JSON form of events and streams shared by every command's
// --json output and by export/import files (one object per line):
//   event  {"id","stream_id","type","version","position","timestamp",
//           "content_type","metadata","data" | "data_base64"}
//   stream {"stream_id","type","version","last_timestamp"}
// "data" holds the payload as a JSON value when the content type is JSON and the
// payload is exactly the compact serialisation of that value; otherwise the bytes
// are given as "data_base64", so that export/import round-trips are exact.
//
// Thread safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "estoria/event.h"
#include "estoria/event_store.h"

namespace estoria::cli {

using Json = nlohmann::ordered_json;

// True for application/json and any "+json" media type (parameters ignored).
bool IsJsonContentType(std::string_view content_type);

Json EventToJson(const Event& e);
Json StreamToJson(const StreamInfo& s);

// Parses an event object as written by EventToJson. InvalidArgument naming the
// bad field otherwise.
Result<Event> EventFromJson(const Json& j);
// Parses one line of an export file. InvalidArgument on malformed JSON.
Result<Event> EventFromJsonLine(std::string_view line);

// Parses user-given JSON text and returns its compact serialisation (key order
// kept). InvalidArgument "<what> is not valid JSON: ..." otherwise.
Result<std::string> NormalizeJson(std::string_view text, std::string_view what);
// Parses a JSON object of string values into Metadata. InvalidArgument otherwise.
Result<Metadata> ParseMetadata(std::string_view text);

}  // namespace estoria::cli
