// The backend SDK's JSON codecs (estoria/backend/json_codec.h).
#include "estoria/backend/json_codec.h"

#include <cctype>
#include <cstdint>
#include <exception>
#include <optional>

namespace estoria::backend {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The payload as a JSON value when it round-trips exactly, else nullopt.
std::optional<JsonValue> JsonPayload(const Event& e) {
  if (!IsJsonContentType(e.content_type)) return std::nullopt;
  JsonValue value = JsonValue::parse(e.data, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return std::nullopt;
  try {
    if (value.dump() != e.data) return std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return value;
}

Result<std::string> StringField(const JsonValue& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string()) {
    return Status::InvalidArgument(std::string("event field \"") + name + "\" missing or not a string");
  }
  return it->get<std::string>();
}

Result<int64_t> IntField(const JsonValue& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_number_integer()) {
    return Status::InvalidArgument(std::string("event field \"") + name + "\" missing or not an integer");
  }
  return it->get<int64_t>();
}

Status CheckMetadataUtf8(const Metadata& metadata) {
  for (const auto& [k, v] : metadata) {
    if (!IsValidUtf8(k)) return Status::InvalidArgument("metadata key is not valid UTF-8");
    if (!IsValidUtf8(v)) return Status::InvalidArgument("metadata value of \"" + k + "\" is not valid UTF-8");
  }
  return Status::Ok();
}

// Metadata from a parsed JSON value: an object of strings.
Result<Metadata> MetadataFromJson(const JsonValue& j) {
  if (!j.is_object()) return Status::InvalidArgument("metadata is not a JSON object");
  Metadata out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it.value().is_string()) {
      return Status::InvalidArgument("metadata value of \"" + it.key() + "\" is not a string");
    }
    out.emplace(it.key(), it.value().get<std::string>());
  }
  return out;
}

}  // namespace

bool IsValidUtf8(std::string_view s, bool allow_nul) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == 0 && !allow_nul) return false;
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1f) : n == 3 ? (c & 0x0f) : (c & 0x07);
    for (size_t k = 1; k < n; ++k) {
      unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d >> 6) != 0x2) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += n;
  }
  return true;
}

Result<std::string> EncodeMetadataJson(const Metadata& metadata) {
  ESTORIA_RETURN_IF_ERROR(CheckMetadataUtf8(metadata));
  JsonValue obj = JsonValue::object();
  for (const auto& [k, v] : metadata) obj[k] = v;
  try {
    return obj.dump();
  } catch (const std::exception& e) {  // not reached: the text was checked above
    return Status::InvalidArgument(std::string("metadata cannot be written as JSON: ") + e.what());
  }
}

Result<Metadata> DecodeMetadataJson(std::string_view json) {
  if (json.empty()) return Metadata{};
  JsonValue j = JsonValue::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::InvalidArgument("metadata is not valid JSON");
  return MetadataFromJson(j);
}

bool IsJsonContentType(std::string_view content_type) {
  std::string ct = Lower(content_type.substr(0, content_type.find(';')));
  while (!ct.empty() && ct.back() == ' ') ct.pop_back();
  return ct == "application/json" || ct.ends_with("+json");
}

Result<JsonValue> EventToJson(const Event& e) {
  ESTORIA_RETURN_IF_ERROR(CheckMetadataUtf8(e.metadata));
  if (!IsValidUtf8(e.content_type)) return Status::InvalidArgument("content type is not valid UTF-8");
  JsonValue j;
  j["id"] = e.id.ToString();
  j["stream_id"] = e.stream_id.ToString();
  j["type"] = e.type();
  j["version"] = e.stream_version;
  j["position"] = e.global_position;
  j["timestamp"] = FormatTimestamp(e.timestamp);
  j["content_type"] = e.content_type;
  JsonValue meta = JsonValue::object();
  for (const auto& [k, v] : e.metadata) meta[k] = v;
  j["metadata"] = std::move(meta);
  if (auto value = JsonPayload(e)) {
    j["data"] = std::move(*value);
  } else {
    j["data_base64"] = Base64Encode(e.data);
  }
  return j;
}

Result<std::string> EventToJsonLine(const Event& e) {
  ESTORIA_ASSIGN_OR_RETURN(JsonValue j, EventToJson(e));
  try {
    return j.dump();
  } catch (const std::exception& ex) {  // not reached: every string was checked
    return Status::InvalidArgument(std::string("event cannot be written as JSON: ") + ex.what());
  }
}

Result<Event> EventFromJson(const JsonValue& j) {
  if (!j.is_object()) return Status::InvalidArgument("an event must be a JSON object");
  Event e;
  ESTORIA_ASSIGN_OR_RETURN(std::string id, StringField(j, "id"));
  ESTORIA_ASSIGN_OR_RETURN(e.id, TypeId::Parse(id));
  ESTORIA_ASSIGN_OR_RETURN(std::string stream, StringField(j, "stream_id"));
  ESTORIA_ASSIGN_OR_RETURN(e.stream_id, TypeId::Parse(stream));
  ESTORIA_ASSIGN_OR_RETURN(e.stream_version, IntField(j, "version"));
  ESTORIA_ASSIGN_OR_RETURN(e.global_position, IntField(j, "position"));
  ESTORIA_ASSIGN_OR_RETURN(std::string ts, StringField(j, "timestamp"));
  ESTORIA_ASSIGN_OR_RETURN(e.timestamp, ParseTimestamp(ts));
  ESTORIA_ASSIGN_OR_RETURN(e.content_type, StringField(j, "content_type"));
  if (auto it = j.find("type"); it != j.end() && (!it->is_string() || it->get<std::string>() != e.type())) {
    return Status::InvalidArgument("event field \"type\" does not match the id's type");
  }
  if (auto it = j.find("metadata"); it != j.end()) {
    if (!it->is_object()) return Status::InvalidArgument("event field \"metadata\" must be an object");
    ESTORIA_ASSIGN_OR_RETURN(e.metadata, MetadataFromJson(*it));
  }
  if (auto it = j.find("data_base64"); it != j.end()) {
    if (!it->is_string()) return Status::InvalidArgument("event field \"data_base64\" must be a string");
    ESTORIA_ASSIGN_OR_RETURN(e.data, Base64Decode(it->get<std::string>()));
  } else if (auto d = j.find("data"); d != j.end()) {
    e.data = d->dump();
  } else {
    return Status::InvalidArgument("event has neither \"data\" nor \"data_base64\"");
  }
  return e;
}

Result<Event> EventFromJsonLine(std::string_view line) {
  JsonValue j = JsonValue::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::InvalidArgument("not a valid JSON line");
  return EventFromJson(j);
}

}  // namespace estoria::backend
