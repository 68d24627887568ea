// estoria/upcaster.h: event schema evolution. An upcaster registered for an
// (event type, from schema version) pair transforms a stored event (type,
// schema version, content type, payload) into a newer shape before it is
// decoded; chains run until the event reaches the schema version its type is
// registered with. Stored events are never rewritten.
//   UpcastEvent       the event being transformed
//   Upcaster          one step
//   JsonUpcaster(fn)  a step editing a JSON payload in place
//   UpcasterRegistry  the steps of one aggregate store
//   EventUpcasting    the steps and current schema versions of a reader of
//                     raw events (FoldStream, FoldAll; EventSourcedStore::
//                     upcasting() returns the store's own)
//   SnapshotUpcasterRegistry  state schema version N -> N+1 steps of stored
//                     snapshot payloads (SnapshottingStoreOptions::upcasters)
//
// Thread safety: build a registry on one thread, then hand it (by value) to a
// store; const member functions may be called from many threads at once.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>

#include "estoria/event.h"
#include "estoria/snapshot_store.h"
#include "estoria/status.h"

namespace estoria {

struct UpcastEvent {
  std::string type;        // event type; an upcaster may rename it
  int schema_version = 1;  // the schema version of data
  std::string content_type;
  std::string data;
  Metadata metadata;  // the stored metadata (read only for the chain's purpose)
};

// Transforms `event` in place. When it leaves type and schema_version unchanged,
// schema_version is advanced by one for it. It may return an error (returned by
// the load with context); an exception becomes Internal.
using Upcaster = std::function<Status(UpcastEvent& event)>;

// A step that parses a JSON payload, lets `edit` change it, and writes it back.
// A payload of another content type or invalid JSON is Corruption.
Upcaster JsonUpcaster(std::function<void(nlohmann::json& payload)> edit);

class UpcasterRegistry {
 public:
  // Registers the step for events of `type` stored at `from_version`. An
  // invalid type name, from_version < 1, a null upcaster or a duplicate
  // registration is recorded in status() and reported (InvalidArgument) by every
  // operation of the store the registry is given to.
  UpcasterRegistry& Add(std::string type, int from_version, Upcaster upcaster);

  // The step for (type, version), or null.
  const Upcaster* Find(std::string_view type, int version) const;
  // OK, or the first invalid registration.
  const Status& status() const { return status_; }
  bool empty() const { return steps_.empty(); }

  // Runs the chain on `event` until its type is one `current_version` knows (it
  // returns the registered schema version, or 0 for an unknown type) at that
  // version. Sets *known to false when the chain ends at an unknown type (the
  // caller decides whether to skip). Errors (Corruption): a schema version newer
  // than registered, no step from an older version, a step that does not
  // progress, a chain longer than 64 steps; Internal when a step throws.
  Status UpcastToCurrent(UpcastEvent& event, const std::function<int(std::string_view type)>& current_version,
                         bool* known) const;

 private:
  std::map<std::pair<std::string, int>, Upcaster, std::less<>> steps_;
  Status status_;
};

// Upcasting for a reader of raw events: the steps, and the schema version each
// event type is current at (what EventSourcedStore registers; a type absent
// here is unknown to the reader). Events of a type at its current version, or
// of an unknown type with no step, pass unchanged.
struct EventUpcasting {
  UpcasterRegistry upcasters{};
  std::map<std::string, int, std::less<>> current_versions{};

  // Brings `event` to its type's current schema version with the chain
  // (UpcasterRegistry::UpcastToCurrent): type (the id's type name), content
  // type and data are replaced and the "estoria.schema_version" metadata set
  // to the version reached; id, stream, version, position and timestamp are
  // kept. An event whose chain ends at an unknown type keeps the steps applied
  // so far. Errors: InvalidArgument (an invalid registration, upcasters.status()),
  // Corruption (malformed stored schema version, or see UpcastToCurrent),
  // whatever a step returns, Internal (a step threw). `event` is unchanged on
  // error.
  Status Upcast(Event& event) const;
};

// Steps that bring a stored snapshot's state payload from an older state
// schema version to the current one (SchemaVersionOf<S>()), so that a
// SnapshottingStore starts from it instead of replaying the whole stream.
// Stored snapshots are never rewritten.
class SnapshotUpcasterRegistry {
 public:
  // Registers the step for snapshots stored at state schema version
  // `from_version`. The step sees the payload as an UpcastEvent: type = the
  // aggregate type (must not be changed), schema_version, content_type, data;
  // metadata empty. When it leaves schema_version unchanged it is advanced by
  // one (JsonUpcaster works here too). from_version < 1, a null step or a
  // duplicate registration is recorded in status() and reported
  // (InvalidArgument) by every Load and Save of the store it is given to.
  SnapshotUpcasterRegistry& Add(int from_version, Upcaster upcaster);

  // OK, or the first invalid registration.
  const Status& status() const { return status_; }
  bool empty() const { return steps_.empty(); }

  // Brings `snapshot` (content_type, data, schema_version) to
  // `current_version` step by step. OK and unchanged when already there.
  // Errors: InvalidArgument (status()), FailedPrecondition (stored version
  // newer than current, or no step from a version on the way), Corruption (a
  // step changed the type, went backwards, or past current_version), a step's
  // own error, Internal (a step threw). `snapshot` is unchanged on error.
  Status Upcast(Snapshot& snapshot, int current_version) const;

 private:
  std::map<int, Upcaster> steps_;
  Status status_;
};

namespace internal {
// The schema version recorded in an event's metadata under
// "estoria.schema_version" (1 when absent). Corruption when malformed.
Result<int> StoredSchemaVersion(const Metadata& metadata);
}  // namespace internal

// The reserved metadata key holding an event's schema version.
inline constexpr std::string_view kSchemaVersionMetadataKey = "estoria.schema_version";

}  // namespace estoria
