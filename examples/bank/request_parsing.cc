#include "request_parsing.h"

#include <charconv>
#include <limits>
#include <nlohmann/json.hpp>

namespace bank {
namespace {

void Fail(ApiError* error, std::string code, std::string message) {
  error->status = 400;
  error->code = std::move(code);
  error->message = std::move(message);
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<int64_t> ParseDecimal(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<int64_t> ParseAmountBody(std::string_view body, ApiError* error) {
  nlohmann::json json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    Fail(error, "malformed_json", "the request body is not valid JSON");
    return std::nullopt;
  }
  if (!json.is_object()) {
    Fail(error, "invalid_body", "the request body must be a JSON object {\"amount\": <integer>}");
    return std::nullopt;
  }
  auto it = json.find("amount");
  if (it == json.end()) {
    Fail(error, "invalid_body", "missing field \"amount\"");
    return std::nullopt;
  }
  if (it->is_number_float()) {
    Fail(error, "invalid_amount", "\"amount\" must be an integer, not a fraction or exponent form");
    return std::nullopt;
  }
  if (!it->is_number_integer()) {
    Fail(error, "invalid_body", "\"amount\" must be a JSON number (an integer)");
    return std::nullopt;
  }
  int64_t amount = 0;
  if (it->is_number_unsigned()) {
    uint64_t u = it->get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      Fail(error, "invalid_amount", "\"amount\" is outside the signed 64-bit range");
      return std::nullopt;
    }
    amount = static_cast<int64_t>(u);
  } else {
    amount = it->get<int64_t>();
  }
  if (amount == 0) {
    Fail(error, "invalid_amount", "\"amount\" must not be zero");
    return std::nullopt;
  }
  return amount;
}

std::optional<estoria::Uuid> ParseAccountId(std::string_view text, ApiError* error) {
  auto uuid = estoria::Uuid::Parse(text);
  if (!uuid.has_value() || uuid->IsNil()) {
    Fail(error, "invalid_id", "the account id must be a non-nil UUID such as 0190f1c2-8d5e-7a3b-9c1d-2e3f4a5b6c7d");
    return std::nullopt;
  }
  return *uuid;
}

std::optional<IfMatch> ParseIfMatch(std::string_view header, ApiError* error) {
  std::string_view text = Trim(header);
  IfMatch result;
  if (text == "*") {
    result.any = true;
    return result;
  }
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') text = text.substr(1, text.size() - 2);
  auto version = ParseDecimal(text);
  if (!version || *version < 0) {
    Fail(error, "invalid_if_match", "If-Match must be an ETag \"<version>\" as returned by this service, or *");
    return std::nullopt;
  }
  result.version = *version;
  return result;
}

std::optional<int64_t> ParseIntegerParameter(std::string_view name, std::string_view text, int64_t min, int64_t max,
                                             ApiError* error) {
  auto value = ParseDecimal(text);
  if (!value || *value < min || *value > max) {
    Fail(error, "invalid_parameter",
         std::string(name) + " must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
    return std::nullopt;
  }
  return value;
}

}  // namespace bank
