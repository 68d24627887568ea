// Session-level advisory locks of the projection layer (internal): class
// 'ESTP' and key hashtext(text key), so they never collide with the event
// store's single-bigint advisory locks.
#pragma once

#include <string>

#include "estoria/postgres/connection.h"

namespace estoria::postgres::internal {

inline constexpr int32_t kProjectionLockClass = 1163087952;  // 'ESTP'

// pg_try_advisory_lock on conn's session. true when taken (or already held).
inline Result<bool> TryAdvisoryLock(PgConnection& conn, const std::string& key) {
  ESTORIA_ASSIGN_OR_RETURN(PgResult r,
                           conn.ExecParams("SELECT pg_try_advisory_lock($1, hashtext($2))::int4",
                                           PgParams().Int32(kProjectionLockClass).Text(key), PgFormat::kBinary));
  return r.rows() == 1 && r.Int64(0, 0) == 1;
}

// Whether conn's session holds the lock (pg_locks).
inline Result<bool> HoldsAdvisoryLock(PgConnection& conn, const std::string& key) {
  ESTORIA_ASSIGN_OR_RETURN(PgResult r,
                           conn.ExecParams("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid ="
                                           " pg_backend_pid() AND classid = $1::int4::oid AND objid ="
                                           " hashtext($2)::oid AND objsubid = 2 AND granted",
                                           PgParams().Int32(kProjectionLockClass).Text(key), PgFormat::kBinary));
  return r.rows() == 1 && r.Int64(0, 0) > 0;
}

inline void AdvisoryUnlock(PgConnection& conn, const std::string& key) {
  (void)conn.ExecParams("SELECT pg_advisory_unlock($1, hashtext($2))",
                        PgParams().Int32(kProjectionLockClass).Text(key));
}

}  // namespace estoria::postgres::internal
