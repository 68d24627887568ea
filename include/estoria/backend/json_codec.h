// estoria/backend/json_codec.h: the JSON codecs shared by every backend and
// tool (backend SDK): event metadata as a JSON object, and the JSON form of an
// event used by export/import files, `estoria --json` and any backend that
// stores events as JSON. One implementation, one behaviour: invalid input is a
// clear InvalidArgument naming what was wrong, never an exception.
//
// Event JSON, one object (one line in export files):
//   {"id","stream_id","type","version","position","timestamp","content_type",
//    "metadata","data" | "data_base64"}
// "data" holds the payload as a JSON value when the content type is JSON and the
// payload is exactly the compact serialisation of that value; otherwise the
// bytes are given as "data_base64", so that round trips are exact.
//
// Thread safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "estoria/event.h"
#include "estoria/status.h"

namespace estoria::backend {

using JsonValue = nlohmann::ordered_json;

// True when `text` is valid UTF-8 (no overlong forms or surrogates); with
// allow_nul false, also without NUL bytes (PostgreSQL text and jsonb).
bool IsValidUtf8(std::string_view text, bool allow_nul = true);

// Metadata as a compact JSON object of strings ("{}" when empty). InvalidArgument
// naming the key when a key or value is not valid UTF-8.
Result<std::string> EncodeMetadataJson(const Metadata& metadata);
// Parses "" (empty metadata) or a JSON object of string values. InvalidArgument
// naming the problem otherwise (a backend reading its own rows reports that as
// Corruption).
Result<Metadata> DecodeMetadataJson(std::string_view json);

// True for application/json and any "+json" media type (parameters ignored).
bool IsJsonContentType(std::string_view content_type);

// An event in its JSON form. InvalidArgument when the metadata is not UTF-8.
Result<JsonValue> EventToJson(const Event& event);
// The compact one-line text of EventToJson. Same errors.
Result<std::string> EventToJsonLine(const Event& event);
// Parses an event object as written by EventToJson. InvalidArgument naming the
// bad field otherwise.
Result<Event> EventFromJson(const JsonValue& json);
// Parses one line of text. InvalidArgument on malformed JSON or a bad field.
Result<Event> EventFromJsonLine(std::string_view line);

// Base64 (RFC 4648, standard alphabet, padded), as used by "data_base64".
std::string Base64Encode(std::string_view bytes);
// InvalidArgument on a character outside the alphabet or bad padding.
Result<std::string> Base64Decode(std::string_view text);

}  // namespace estoria::backend
