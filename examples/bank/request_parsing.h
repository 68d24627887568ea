// request_parsing.h: validation of what clients send: the ModifyBalance body, the
// If-Match header, account ids and the query parameters of the read-model routes.
// Each parser returns the value, or fills an ApiError (always a 400) and returns
// nullopt.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "estoria/type_id.h"

namespace bank {

// An error reply: HTTP status, machine-readable code and a message for humans.
struct ApiError {
  int status = 400;
  std::string code;
  std::string message;
};

// The body {"amount": <non-zero integer within int64>}. Other members are
// ignored. Codes: malformed_json, invalid_body, invalid_amount.
std::optional<int64_t> ParseAmountBody(std::string_view body, ApiError* error);

// An account id: a non-nil UUID in canonical text form. Code: invalid_id.
std::optional<estoria::Uuid> ParseAccountId(std::string_view text, ApiError* error);

// If-Match: "<version>" (quotes optional) or *. Code: invalid_if_match.
struct IfMatch {
  bool any = false;                // "*": the account must exist
  std::optional<int64_t> version;  // the exact version required
};
std::optional<IfMatch> ParseIfMatch(std::string_view header, ApiError* error);

// A decimal integer query parameter within [min, max]. Code: invalid_parameter.
std::optional<int64_t> ParseIntegerParameter(std::string_view name, std::string_view text, int64_t min, int64_t max,
                                             ApiError* error);

}  // namespace bank
