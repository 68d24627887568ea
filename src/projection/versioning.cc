// Versioned names, the in-memory VersionRegistry and CutOver.
#include "estoria/projection/versioning.h"

#include <map>
#include <mutex>
#include <string>

namespace estoria {

Status ValidateIdentifier(std::string_view text) {
  if (text.empty() || text.size() > 48) {
    return Status::InvalidArgument("identifier must have 1 to 48 characters: '" + std::string(text) + "'");
  }
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    bool ok = (c >= 'a' && c <= 'z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return Status::InvalidArgument("identifier must match [a-z_][a-z0-9_]*: '" + std::string(text) + "'");
  }
  return Status::Ok();
}

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
