// reserved_metadata.h (internal, not installed): the library's own append path
// for events that carry reserved "estoria." metadata keys. Within the scope of
// an AllowReservedMetadata object, backend::ValidateAppend on this thread
// accepts reserved keys; everywhere else they are InvalidArgument. This
// replaces a public per-event flag that any caller could set.
//
// Thread safety: the permission is per thread; scopes nest.
#pragma once

namespace estoria::internal {

class AllowReservedMetadata {
 public:
  AllowReservedMetadata();
  ~AllowReservedMetadata();
  AllowReservedMetadata(const AllowReservedMetadata&) = delete;
  AllowReservedMetadata& operator=(const AllowReservedMetadata&) = delete;
};

// True within an AllowReservedMetadata scope on this thread.
bool ReservedMetadataAllowed();

}  // namespace estoria::internal
