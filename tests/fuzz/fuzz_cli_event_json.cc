// Fuzz target: the CLI's untrusted JSON: an event line of `estoria import`
// (backend::EventFromJsonLine) and the --data / --metadata arguments
// (cli::NormalizeJson, cli::ParseMetadata). Invariants: no crash and no
// exception; refusals are InvalidArgument; an accepted event line exports
// (EventToJsonLine) and imports back to the same event; normalising is
// idempotent; accepted metadata encodes.
#include "estoria/backend/json_codec.h"
#include "event_json.h"
#include "fuzz_util.h"

using namespace estoria;

namespace {

bool SameEvent(const Event& a, const Event& b) {
  return a.id == b.id && a.stream_id == b.stream_id && a.stream_version == b.stream_version &&
         a.global_position == b.global_position && a.timestamp == b.timestamp && a.content_type == b.content_type &&
         a.data == b.data && a.metadata == b.metadata;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = fuzz::AsText(data, size);

  if (auto event = backend::EventFromJsonLine(text)) {
    auto line = backend::EventToJsonLine(*event);
    FUZZ_CHECK_MSG(line.has_value(), line.error().ToString());
    auto again = backend::EventFromJsonLine(*line);
    FUZZ_CHECK_MSG(again.has_value(), again.error().ToString() + " in " + *line);
    FUZZ_CHECK_MSG(SameEvent(*event, *again), *line);
  } else {
    FUZZ_CHECK(event.error().IsInvalidArgument());
  }

  if (auto normal = cli::NormalizeJson(text, "--data")) {
    auto twice = cli::NormalizeJson(*normal, "--data");
    FUZZ_CHECK(twice.has_value() && *twice == *normal);
  } else {
    FUZZ_CHECK(normal.error().IsInvalidArgument());
  }

  if (auto metadata = cli::ParseMetadata(text)) {
    auto encoded = backend::EncodeMetadataJson(*metadata);
    FUZZ_CHECK_MSG(encoded.has_value(), encoded.error().ToString());
    auto decoded = backend::DecodeMetadataJson(*encoded);
    FUZZ_CHECK(decoded.has_value() && *decoded == *metadata);
  } else {
    FUZZ_CHECK(metadata.error().IsInvalidArgument());
  }
  return 0;
}
