// estoria cli: base64 (RFC 4648, standard alphabet, padded) for binary payloads
// in JSON output and export files.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "estoria/status.h"

namespace estoria::cli {

std::string Base64Encode(std::string_view bytes);
// InvalidArgument on a character outside the alphabet or bad padding.
Result<std::string> Base64Decode(std::string_view text);

}  // namespace estoria::cli
