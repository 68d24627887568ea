#include "event_json.h"

#include "base64.h"

namespace estoria::cli {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The payload as a JSON value when it round-trips exactly, else nullopt.
std::optional<Json> JsonPayload(const Event& e) {
  if (!IsJsonContentType(e.content_type)) return std::nullopt;
  Json value = Json::parse(e.data, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return std::nullopt;
  try {
    if (value.dump() != e.data) return std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return value;
}

Result<std::string> StringField(const Json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string()) {
    return Status::InvalidArgument(std::string("event field \"") + name + "\" missing or not a string");
  }
  return it->get<std::string>();
}

Result<int64_t> IntField(const Json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_number_integer()) {
    return Status::InvalidArgument(std::string("event field \"") + name + "\" missing or not an integer");
  }
  return it->get<int64_t>();
}

}  // namespace

bool IsJsonContentType(std::string_view content_type) {
  std::string ct = Lower(content_type.substr(0, content_type.find(';')));
  while (!ct.empty() && ct.back() == ' ') ct.pop_back();
  return ct == "application/json" || ct.ends_with("+json");
}

Json EventToJson(const Event& e) {
  Json j;
  j["id"] = e.id.ToString();
  j["stream_id"] = e.stream_id.ToString();
  j["type"] = e.type();
  j["version"] = e.stream_version;
  j["position"] = e.global_position;
  j["timestamp"] = FormatTimestamp(e.timestamp);
  j["content_type"] = e.content_type;
  Json meta = Json::object();
  for (const auto& [k, v] : e.metadata) meta[k] = v;
  j["metadata"] = std::move(meta);
  if (auto value = JsonPayload(e)) {
    j["data"] = std::move(*value);
  } else {
    j["data_base64"] = Base64Encode(e.data);
  }
  return j;
}

Json StreamToJson(const StreamInfo& s) {
  Json j;
  j["stream_id"] = s.stream_id.ToString();
  j["type"] = s.stream_id.type();
  j["version"] = s.version;
  j["last_timestamp"] = FormatTimestamp(s.last_timestamp);
  return j;
}

Result<Event> EventFromJson(const Json& j) {
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
    for (const auto& [k, v] : it->items()) {
      if (!v.is_string()) return Status::InvalidArgument("metadata value \"" + k + "\" must be a string");
      e.metadata[k] = v.get<std::string>();
    }
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
  Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::InvalidArgument("not a valid JSON line");
  return EventFromJson(j);
}

Result<std::string> NormalizeJson(std::string_view text, std::string_view what) {
  try {
    return Json::parse(text).dump();
  } catch (const std::exception& ex) {
    std::string msg = ex.what();
    // nlohmann messages start with "[json.exception.parse_error.101] ".
    if (auto p = msg.find("] "); p != std::string::npos) msg = msg.substr(p + 2);
    return Status::InvalidArgument(std::string(what) + " is not valid JSON: " + msg);
  }
}

Result<Metadata> ParseMetadata(std::string_view text) {
  ESTORIA_ASSIGN_OR_RETURN(std::string compact, NormalizeJson(text, "--metadata"));
  Json j = Json::parse(compact);
  if (!j.is_object()) return Status::InvalidArgument("--metadata must be a JSON object of strings");
  Metadata m;
  for (const auto& [k, v] : j.items()) {
    if (!v.is_string()) return Status::InvalidArgument("--metadata value \"" + k + "\" must be a string");
    m[k] = v.get<std::string>();
  }
  return m;
}

}  // namespace estoria::cli
