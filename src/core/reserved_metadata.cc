#include "reserved_metadata.h"

namespace estoria::internal {

namespace {
thread_local int allow_depth = 0;
}  // namespace

AllowReservedMetadata::AllowReservedMetadata() { ++allow_depth; }
AllowReservedMetadata::~AllowReservedMetadata() { --allow_depth; }
bool ReservedMetadataAllowed() { return allow_depth > 0; }

}  // namespace estoria::internal
