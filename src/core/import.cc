// The backend SDK's import validation and planning (estoria/backend/import.h).
#include "estoria/backend/import.h"

#include <map>
#include <unordered_set>

#include "estoria/backend/validation.h"

namespace estoria::backend {

Status ValidateImportEvents(std::span<const Event> events, const EventLimits& limits) {
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    ESTORIA_RETURN_IF_ERROR(TypeId::ValidateTypeName(e.stream_id.type()).WithContext("ImportEvents: stream id"));
    ESTORIA_RETURN_IF_ERROR(TypeId::ValidateTypeName(e.type()).WithContext("ImportEvents: event type"));
    if (e.stream_version < 1) return Status::InvalidArgument("ImportEvents: stream version < 1");
    ESTORIA_RETURN_IF_ERROR(ValidateMetadataText(e.metadata, "ImportEvents: event " + e.id.ToString()));
    ESTORIA_RETURN_IF_ERROR(CheckEventSize("ImportEvents: event " + std::to_string(i) + " (" + e.id.ToString() + ")",
                                           e.data, e.metadata, limits));
  }
  return Status::Ok();
}

Result<ImportPlan> PlanImport(std::span<const Event> events, const ImportOptions& options, const ImportTarget& target) {
  ImportPlan plan;
  plan.positions.reserve(events.size());
  plan.new_stream.reserve(events.size());
  std::map<std::string, std::optional<int64_t>> tips;  // stream -> tip (nullopt: new, no event yet)
  std::unordered_set<Uuid> batch_ids;
  int64_t last = target.head;
  for (const Event& e : events) {
    ESTORIA_ASSIGN_OR_RETURN(bool stored, target.id_stored(e.id.uuid()));
    if (stored || !batch_ids.insert(e.id.uuid()).second) {
      return Status::AlreadyExists("ImportEvents: event id " + e.id.ToString() + " is already stored");
    }
    std::string key = e.stream_id.ToString();
    auto tip = tips.find(key);
    if (tip == tips.end()) {
      ESTORIA_ASSIGN_OR_RETURN(std::optional<int64_t> t, target.stream_tip(key));
      tip = tips.emplace(key, t).first;
    }
    if (tip->second && e.stream_version != *tip->second + 1) {
      return Status::InvalidArgument("ImportEvents: " + key + " version " + std::to_string(e.stream_version) +
                                     " does not continue its tip " + std::to_string(*tip->second));
    }
    if (options.preserve_positions) {
      if (e.global_position <= last) {
        return Status::InvalidArgument("ImportEvents: position " + std::to_string(e.global_position) +
                                       " is not above " + std::to_string(last));
      }
      last = e.global_position;
    } else {
      ++last;
    }
    // The first event of a stream the target does not have (it may start at any
    // version: a truncated source stream).
    plan.new_stream.push_back(!tip->second.has_value());
    tip->second = e.stream_version;
    plan.positions.push_back(last);
  }
  plan.head = last;
  return plan;
}

}  // namespace estoria::backend
