#include "estoria/codec.h"

namespace estoria::internal {

Status CheckContentType(std::string_view expected, std::string_view stored) {
  if (stored == expected) return Status::Ok();
  return Status::Corruption("content type mismatch: stored \"" + std::string(stored) + "\", codec expects \"" +
                            std::string(expected) + "\"");
}

Status ParseJson(std::string_view data, nlohmann::json* out) {
  try {
    *out = nlohmann::json::parse(data.begin(), data.end());
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("invalid json: ") + e.what());
  }
  return Status::Ok();
}

Status DumpJson(const nlohmann::json& value, std::string* out) {
  try {
    *out = value.dump();
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("json encode: ") + e.what());
  }
  return Status::Ok();
}

}  // namespace estoria::internal
