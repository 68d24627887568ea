// Fuzz target: TypeId, Uuid and RFC 3339 timestamp parsing (every id and time
// read from an import line, a URL or a stored row goes through these).
// Invariants: Parse never crashes; what it accepts prints back as parsed
// (TypeId::Parse is the exact inverse of ToString); a timestamp of years
// 0..9999, parsed or any int64 of microseconds, formats and parses back.
#include <cctype>

#include "estoria/event.h"
#include "estoria/type_id.h"
#include "fuzz_util.h"

using namespace estoria;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = fuzz::AsText(data, size);

  if (auto uuid = Uuid::Parse(text)) {
    std::string lower(text);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    FUZZ_CHECK(uuid->ToString() == lower);
    auto again = Uuid::Parse(uuid->ToString());
    FUZZ_CHECK(again.has_value() && *again == *uuid);
  } else {
    FUZZ_CHECK(uuid.error().IsInvalidArgument());
  }

  if (auto id = TypeId::Parse(text)) {
    FUZZ_CHECK(id->ToString() == text);
    FUZZ_CHECK(TypeId::ValidateTypeName(id->type()).ok());
  } else {
    FUZZ_CHECK(id.error().IsInvalidArgument());
  }

  if (TypeId::ValidateTypeName(text).ok()) {
    auto made = TypeId::Make(text, Uuid::NewV7());
    FUZZ_CHECK(made.has_value());
    auto parsed = TypeId::Parse(made->ToString());
    FUZZ_CHECK(parsed.has_value() && *parsed == *made);
  }

  if (auto t = ParseTimestamp(text)) {
    // What was accepted formats (UTC, microseconds) and parses back, unless
    // the offset moved it out of years 0..9999 (which RFC 3339 cannot write).
    std::string formatted = FormatTimestamp(*t);
    if (formatted.size() == 27 && formatted[0] != '-') {
      auto again = ParseTimestamp(formatted);
      FUZZ_CHECK_MSG(again.has_value() && *again == *t, formatted);
    }
  } else {
    FUZZ_CHECK(t.error().IsInvalidArgument());
  }

  // Any instant (e.g. one decoded from a database) formats without failing;
  // within years 0..9999 the text parses back to it.
  if (size >= 8) {
    fuzz::FuzzInput in(data, size);
    Timestamp t{std::chrono::microseconds(in.Int64())};
    std::string formatted = FormatTimestamp(t);
    if (formatted.size() == 27 && formatted[0] != '-') {
      auto again = ParseTimestamp(formatted);
      FUZZ_CHECK_MSG(again.has_value() && *again == t, formatted);
    }
  }
  return 0;
}
