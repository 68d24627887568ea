#include "estoria/upcaster.h"

#include <charconv>
#include <exception>

#include "estoria/codec.h"
#include "estoria/type_id.h"

namespace estoria {

Upcaster JsonUpcaster(std::function<void(nlohmann::json& payload)> edit) {
  return [edit = std::move(edit)](UpcastEvent& event) -> Status {
    ESTORIA_RETURN_IF_ERROR(internal::CheckContentType(kJsonContentType, event.content_type));
    nlohmann::json j;
    ESTORIA_RETURN_IF_ERROR(internal::ParseJson(event.data, &j));
    edit(j);  // exceptions are caught by UpcastToCurrent
    return internal::DumpJson(j, &event.data);
  };
}

UpcasterRegistry& UpcasterRegistry::Add(std::string type, int from_version, Upcaster upcaster) {
  std::string where = "upcaster for " + type + " v" + std::to_string(from_version);
  Status st = TypeId::ValidateTypeName(type);
  if (!st.ok()) {
    if (status_.ok()) status_ = st.WithContext(where);
  } else if (from_version < 1) {
    if (status_.ok()) status_ = Status::InvalidArgument(where + ": from_version must be >= 1");
  } else if (!upcaster) {
    if (status_.ok()) status_ = Status::InvalidArgument(where + ": null upcaster");
  } else if (!steps_.emplace(std::make_pair(std::move(type), from_version), std::move(upcaster)).second) {
    if (status_.ok()) status_ = Status::InvalidArgument(where + ": registered twice");
  }
  return *this;
}

const Upcaster* UpcasterRegistry::Find(std::string_view type, int version) const {
  auto it = steps_.find(std::make_pair(std::string(type), version));
  return it == steps_.end() ? nullptr : &it->second;
}

Status UpcasterRegistry::UpcastToCurrent(UpcastEvent& event,
                                         const std::function<int(std::string_view type)>& current_version,
                                         bool* known) const {
  *known = true;
  for (int step = 0; step <= 64; ++step) {
    int current = current_version(event.type);
    if (current > 0 && event.schema_version == current) return Status::Ok();
    if (current > 0 && event.schema_version > current) {
      return Status::Corruption("event type " + event.type + " stored at schema version " +
                                std::to_string(event.schema_version) + ", newer than the registered version " +
                                std::to_string(current));
    }
    const Upcaster* up = Find(event.type, event.schema_version);
    if (up == nullptr) {
      if (current == 0) {
        *known = false;
        return Status::Ok();
      }
      return Status::Corruption("no upcaster for event type " + event.type + " from schema version " +
                                std::to_string(event.schema_version) + " (registered version " +
                                std::to_string(current) + ")");
    }
    std::string before_type = event.type;
    int before_version = event.schema_version;
    Status st;
    try {
      st = (*up)(event);
    } catch (const std::exception& e) {
      return Status::Internal("upcaster for " + before_type + " v" + std::to_string(before_version) +
                              " threw: " + e.what());
    } catch (...) {
      return Status::Internal("upcaster for " + before_type + " v" + std::to_string(before_version) +
                              " threw an unknown exception");
    }
    if (!st.ok()) return st.WithContext("upcaster for " + before_type + " v" + std::to_string(before_version));
    if (event.type == before_type && event.schema_version == before_version) ++event.schema_version;
    if (event.type == before_type && event.schema_version < before_version) {
      return Status::Corruption("upcaster for " + before_type + " v" + std::to_string(before_version) +
                                " lowered the schema version");
    }
  }
  return Status::Corruption("upcaster chain for event type " + event.type + " is longer than 64 steps");
}

Status EventUpcasting::Upcast(Event& event) const {
  ESTORIA_RETURN_IF_ERROR(upcasters.status());
  ESTORIA_ASSIGN_OR_RETURN(int stored, internal::StoredSchemaVersion(event.metadata));
  auto current = [this](std::string_view type) {
    auto it = current_versions.find(type);
    return it == current_versions.end() ? 0 : it->second;
  };
  if (current(event.type()) == stored) return Status::Ok();  // the common case: nothing to do
  UpcastEvent up{event.type(), stored, event.content_type, event.data, event.metadata};
  bool known = true;
  ESTORIA_RETURN_IF_ERROR(upcasters.UpcastToCurrent(up, current, &known));
  if (up.type == event.type() && up.schema_version == stored) return Status::Ok();  // no step applied
  event.id = TypeId(std::move(up.type), event.id.uuid());
  event.content_type = std::move(up.content_type);
  event.data = std::move(up.data);
  event.metadata[std::string(kSchemaVersionMetadataKey)] = std::to_string(up.schema_version);
  return Status::Ok();
}

SnapshotUpcasterRegistry& SnapshotUpcasterRegistry::Add(int from_version, Upcaster upcaster) {
  std::string where = "snapshot upcaster for state v" + std::to_string(from_version);
  if (from_version < 1) {
    if (status_.ok()) status_ = Status::InvalidArgument(where + ": from_version must be >= 1");
  } else if (!upcaster) {
    if (status_.ok()) status_ = Status::InvalidArgument(where + ": null upcaster");
  } else if (!steps_.emplace(from_version, std::move(upcaster)).second) {
    if (status_.ok()) status_ = Status::InvalidArgument(where + ": registered twice");
  }
  return *this;
}

Status SnapshotUpcasterRegistry::Upcast(Snapshot& snapshot, int current_version) const {
  ESTORIA_RETURN_IF_ERROR(status_);
  if (snapshot.schema_version == current_version) return Status::Ok();
  if (snapshot.schema_version > current_version) {
    return Status::FailedPrecondition("snapshot state schema version " + std::to_string(snapshot.schema_version) +
                                      " is newer than the current version " + std::to_string(current_version));
  }
  const std::string& type = snapshot.aggregate_id.type();
  UpcastEvent up{type, snapshot.schema_version, snapshot.content_type, snapshot.data, {}};
  while (up.schema_version < current_version) {  // each step progresses: at most current_version steps
    auto it = steps_.find(up.schema_version);
    if (it == steps_.end()) {
      return Status::FailedPrecondition("no snapshot upcaster from state schema version " +
                                        std::to_string(up.schema_version) + " (current version " +
                                        std::to_string(current_version) + ")");
    }
    const int before = up.schema_version;
    Status st;
    try {
      st = it->second(up);
    } catch (const std::exception& e) {
      st = Status::Internal(std::string("snapshot upcaster threw: ") + e.what());
    } catch (...) {
      st = Status::Internal("snapshot upcaster threw an unknown exception");
    }
    ESTORIA_RETURN_IF_ERROR(st.WithContext("snapshot upcaster from state v" + std::to_string(before)));
    if (up.type != type) {
      return Status::Corruption("snapshot upcaster from state v" + std::to_string(before) + " changed the type to " +
                                up.type);
    }
    if (up.schema_version == before) ++up.schema_version;
    if (up.schema_version < before || up.schema_version > current_version) {
      return Status::Corruption("snapshot upcaster from state v" + std::to_string(before) + " went to v" +
                                std::to_string(up.schema_version) + " (current version " +
                                std::to_string(current_version) + ")");
    }
  }
  snapshot.schema_version = up.schema_version;
  snapshot.content_type = std::move(up.content_type);
  snapshot.data = std::move(up.data);
  return Status::Ok();
}

namespace internal {
Result<int> StoredSchemaVersion(const Metadata& metadata) {
  static const std::string* const kKey = new std::string(kSchemaVersionMetadataKey);
  auto it = metadata.find(*kKey);
  if (it == metadata.end()) return 1;
  int v = 0;
  const std::string& s = it->second;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || v < 1) {
    return Status::Corruption("malformed " + std::string(kSchemaVersionMetadataKey) + " \"" + s + "\"");
  }
  return v;
}
}  // namespace internal

}  // namespace estoria
