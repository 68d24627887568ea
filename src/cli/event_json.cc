#include "event_json.h"

namespace estoria::cli {
Json StreamToJson(const StreamInfo& s) {
  Json j;
  j["stream_id"] = s.stream_id.ToString();
  j["type"] = s.stream_id.type();
  j["version"] = s.version;
  j["last_timestamp"] = FormatTimestamp(s.last_timestamp);
  return j;
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
