// Fuzz target: upcaster chains (src/core/upcaster.cc) fed an arbitrary stored
// event: type, schema version (also as the "estoria.schema_version" metadata
// text), content type and payload, through a small chain with JSON edits, a
// rename, a step that throws on payloads without a field, and a step
// registered at a version chosen by the input.
// Invariants: no crash; errors are Corruption (bad stored data, broken chain),
// Internal (a step threw) or InvalidArgument (bad registration); on success
// the event is at the version its type is registered with, or marked unknown.
#include <limits>
#include <nlohmann/json.hpp>

#include "estoria/upcaster.h"
#include "fuzz_util.h"

using namespace estoria;

namespace {

int CurrentVersion(std::string_view type, int custom_version) {
  if (type == "account") return 3;
  if (type == "ledger") return 2;
  if (type == "custom") return custom_version;
  return 0;  // unknown (e.g. "legacy" after its chain ends)
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  const int custom_from = static_cast<int>(static_cast<int32_t>(in.Int64()));
  const int custom_version = static_cast<int>(in.Int64() & 0x7fffffff);  // 0: unknown
  const uint8_t custom_kind = in.Byte();

  UpcasterRegistry registry;
  registry.Add("account", 1, JsonUpcaster([](nlohmann::json& j) { j["currency"] = "EUR"; }));
  registry.Add("account", 2, JsonUpcaster([](nlohmann::json& j) {
                 // Throws (type_error / out_of_range) for payloads without a
                 // string "amount": the registry turns it into Internal.
                 j["amount_text"] = j.at("amount").get<std::string>();
               }));
  registry.Add("renamed", 1, [](UpcastEvent& e) {
    e.type = "account";
    return Status::Ok();
  });
  registry.Add("legacy", 1, [](UpcastEvent& e) {
    e.type = "gone";  // a type nobody knows any more: the event is skipped
    return Status::Ok();
  });
  registry.Add("ledger", 1, [](UpcastEvent& e) {
    if (e.data.empty()) return Status::Corruption("empty ledger entry");
    e.data.pop_back();
    return Status::Ok();
  });
  // A step at a version the input chooses: unchanged, going back, or renaming
  // to itself.
  registry.Add("custom", custom_from, [custom_kind](UpcastEvent& e) {
    switch (custom_kind % 3) {
      case 0:
        return Status::Ok();  // version advanced by the registry
      case 1:
        e.schema_version -= 1;  // goes back: Corruption
        return Status::Ok();
      default:
        e.type = "custom";
        return Status::Ok();
    }
  });
  if (!registry.status().ok()) {
    FUZZ_CHECK(registry.status().IsInvalidArgument());
    FUZZ_CHECK(custom_from < 1);
    return 0;
  }

  UpcastEvent event;
  event.type = std::string(in.Next());
  std::string version_text(in.Next());
  event.content_type = std::string(in.Next());
  event.data = std::string(in.rest());
  event.metadata[std::string(kSchemaVersionMetadataKey)] = version_text;

  auto stored = internal::StoredSchemaVersion(event.metadata);
  if (!stored) {
    FUZZ_CHECK(stored.error().IsCorruption());
    return 0;
  }
  FUZZ_CHECK(*stored >= 1);
  event.schema_version = *stored;

  bool known = true;
  Status st = registry.UpcastToCurrent(
      event, [&](std::string_view type) { return CurrentVersion(type, custom_version); }, &known);
  if (!st.ok()) {
    FUZZ_CHECK_MSG(st.IsCorruption() || st.IsInternal() || st.IsInvalidArgument(), st.ToString());
    return 0;
  }
  if (known) {
    FUZZ_CHECK(event.schema_version == CurrentVersion(event.type, custom_version));
  } else {
    FUZZ_CHECK(CurrentVersion(event.type, custom_version) == 0);
  }
  return 0;
}
