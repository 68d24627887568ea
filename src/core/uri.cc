// The backend SDK's URI parsing (estoria/backend/uri.h).
#include "estoria/backend/uri.h"

#include <charconv>
#include <limits>

namespace estoria::backend {
namespace {

Status Bad(std::string_view scheme, const UriParam& param, std::string_view expected) {
  return Status::InvalidArgument(std::string(scheme) + ": URI option " + param.key + "=" + param.value + ": " +
                                 std::string(expected));
}

}  // namespace

Result<ParsedUri> ParseUri(std::string_view uri) {
  size_t colon = uri.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Status::InvalidArgument("store URI \"" + std::string(uri) + "\" has no scheme (expected scheme:...)");
  }
  ParsedUri out;
  out.scheme = std::string(uri.substr(0, colon));
  std::string_view rest = uri.substr(colon + 1);
  std::string_view query;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  out.body = std::string(rest);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    UriParam p;
    p.key = std::string(pair.substr(0, eq));
    if (eq != std::string_view::npos) p.value = std::string(pair.substr(eq + 1));
    out.query.push_back(std::move(p));
  }
  return out;
}

Result<int64_t> UriInteger(std::string_view scheme, const UriParam& param, int64_t min, int64_t max) {
  int64_t v = 0;
  const char* begin = param.value.data();
  const char* end = begin + param.value.size();
  auto [p, ec] = std::from_chars(begin, end, v);
  if (param.value.empty() || ec != std::errc() || p != end || v < min || v > max) {
    return Bad(scheme, param,
               "expected an integer from " + std::to_string(min) +
                   (max == std::numeric_limits<int64_t>::max() ? std::string(" up") : " to " + std::to_string(max)));
  }
  return v;
}

Result<Durability> UriDurability(std::string_view scheme, const UriParam& param) {
  if (param.value == "strict") return Durability::kStrict;
  if (param.value == "relaxed") return Durability::kRelaxed;
  return Bad(scheme, param, "expected strict or relaxed");
}

Result<size_t> UriChoice(std::string_view scheme, const UriParam& param, const std::vector<std::string_view>& choices) {
  std::string expected = "expected ";
  for (size_t i = 0; i < choices.size(); ++i) {
    if (param.value == choices[i]) return i;
    expected += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + std::string(choices[i]);
  }
  return Bad(scheme, param, expected);
}

Status UriUnknownOption(std::string_view scheme, const UriParam& param, std::string_view known) {
  return Status::InvalidArgument(std::string(scheme) + ": unknown URI option \"" + param.key +
                                 "\" (known: " + std::string(known) + ")");
}

}  // namespace estoria::backend
