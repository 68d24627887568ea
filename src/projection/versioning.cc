// Versioned names, the in-memory VersionRegistry and CutOver.
#include "estoria/projection/versioning.h"

#include <map>
#include <mutex>
#include <string>

#include "estoria/backend/validation.h"

namespace estoria {

Status ValidateIdentifier(std::string_view text) { return backend::ValidateSqlIdentifier("SQL identifier", text, 48); }

Result<std::string> VersionedName(std::string_view name, int version) {
  ESTORIA_RETURN_IF_ERROR(ValidateIdentifier(name));
  if (version < 1) return Status::InvalidArgument("projection version must be >= 1");
  return std::string(name) + "_v" + std::to_string(version);
}

Status CutOver(VersionRegistry& registry, GlobalReader& reader, std::string_view name, int version,
               int64_t reached_position) {
  ESTORIA_ASSIGN_OR_RETURN(int64_t head, reader.HeadPosition());
  if (reached_position < head) {
    return Status::FailedPrecondition("projection " + std::string(name) + " version " + std::to_string(version) +
                                      " is at " + std::to_string(reached_position) + ", head is " +
                                      std::to_string(head) + ": not caught up");
  }
  return registry.SetActiveVersion(name, version);
}

}  // namespace estoria
