// Fuzz target: the bank example's request parsing (examples/bank/
// request_parsing.cc): the ModifyBalance body, account ids, If-Match and the
// integer query parameters. The first byte picks the parser.
// Invariants: no crash and no exception; a refusal is a 400 with one of the
// documented codes; what is accepted honours the documented range.
#include <limits>

#include "fuzz_util.h"
#include "request_parsing.h"

using namespace estoria;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  const uint8_t mode = in.Byte();
  const std::string_view text = in.rest();
  bank::ApiError error;
  switch (mode % 4) {
    case 0: {
      auto amount = bank::ParseAmountBody(text, &error);
      if (amount) {
        FUZZ_CHECK(*amount != 0);
      } else {
        FUZZ_CHECK(error.status == 400);
        FUZZ_CHECK(error.code == "malformed_json" || error.code == "invalid_body" || error.code == "invalid_amount");
      }
      break;
    }
    case 1: {
      auto id = bank::ParseAccountId(text, &error);
      if (id) {
        FUZZ_CHECK(!id->IsNil());
      } else {
        FUZZ_CHECK(error.status == 400 && error.code == "invalid_id");
      }
      break;
    }
    case 2: {
      auto if_match = bank::ParseIfMatch(text, &error);
      if (if_match) {
        FUZZ_CHECK(if_match->any != if_match->version.has_value());
        if (if_match->version) FUZZ_CHECK(*if_match->version >= 0);
      } else {
        FUZZ_CHECK(error.status == 400 && error.code == "invalid_if_match");
      }
      break;
    }
    case 3: {
      const int64_t min = (mode & 0x80) ? std::numeric_limits<int64_t>::min() : 1;
      const int64_t max = (mode & 0x40) ? std::numeric_limits<int64_t>::max() : 1000;
      auto value = bank::ParseIntegerParameter("limit", text, min, max, &error);
      if (value) {
        FUZZ_CHECK(*value >= min && *value <= max);
      } else {
        FUZZ_CHECK(error.status == 400 && error.code == "invalid_parameter");
      }
      break;
    }
  }
  return 0;
}
