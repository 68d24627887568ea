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

// The bookkeeping of a session-level lock, shared by PostgresAdvisoryLock and
// PostgresReadModel: `held_pid` is the backend pid of the session that took the
// lock (0 = not held), so a new session after a reconnect never counts as
// holding it. Errors: those of EnsureConnected and the queries.
inline Result<bool> AcquireSessionLock(PgConnection& conn, const std::string& key, int& held_pid) {
  ESTORIA_RETURN_IF_ERROR(conn.EnsureConnected());
  int pid = PQbackendPID(conn.raw());
  if (held_pid != 0 && held_pid == pid) return true;
  ESTORIA_ASSIGN_OR_RETURN(bool got, TryAdvisoryLock(conn, key));
  held_pid = got ? pid : 0;
  return got;
}

inline Result<bool> RenewSessionLock(PgConnection& conn, const std::string& key, int& held_pid) {
  if (held_pid == 0) return false;
  ESTORIA_RETURN_IF_ERROR(conn.EnsureConnected());
  if (PQbackendPID(conn.raw()) != held_pid) {
    held_pid = 0;
    return false;
  }
  ESTORIA_ASSIGN_OR_RETURN(bool held, HoldsAdvisoryLock(conn, key));
  if (!held) held_pid = 0;
  return held;
}

// Forgets the lock, and unlocks it when `unlock` and conn is still the session
// that took it.
inline void ReleaseSessionLock(PgConnection& conn, const std::string& key, int& held_pid, bool unlock) {
  bool same_session = held_pid != 0 && !conn.broken() && PQbackendPID(conn.raw()) == held_pid;
  held_pid = 0;
  if (same_session && unlock) AdvisoryUnlock(conn, key);
}

}  // namespace estoria::postgres::internal
