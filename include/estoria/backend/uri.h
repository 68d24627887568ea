// estoria/backend/uri.h: parsing of store URIs (backend SDK), one shape for
// every backend: "scheme:body?key=value&key=value". The body is the backend's
// (a path, "//host:port,...", a libpq URI's authority and path); the query
// holds options. Option values are checked with one error shape:
//   InvalidArgument "<scheme>: URI option key=value: <what was expected>"
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "estoria/event_store.h"

namespace estoria::backend {

struct UriParam {
  std::string key;
  std::string value;  // "" when the parameter has no '='
};

struct ParsedUri {
  std::string scheme;           // before the first ':'
  std::string body;             // after "scheme:", up to '?'
  std::vector<UriParam> query;  // in order; empty parameters ("&&") skipped
};

// Splits a URI. InvalidArgument when it has no "scheme:" prefix. Values are
// taken verbatim (no percent-decoding).
Result<ParsedUri> ParseUri(std::string_view uri);

// An integer option in [min, max]. InvalidArgument otherwise.
Result<int64_t> UriInteger(std::string_view scheme, const UriParam& param, int64_t min,
                           int64_t max = std::numeric_limits<int64_t>::max());
// "strict" or "relaxed". InvalidArgument otherwise.
Result<Durability> UriDurability(std::string_view scheme, const UriParam& param);
// One of `choices` (returns its index). InvalidArgument otherwise.
Result<size_t> UriChoice(std::string_view scheme, const UriParam& param, const std::vector<std::string_view>& choices);
// The error for an option the backend does not know; `known` lists the valid
// ones, e.g. "durability, busy_timeout_ms".
Status UriUnknownOption(std::string_view scheme, const UriParam& param, std::string_view known);

}  // namespace estoria::backend
