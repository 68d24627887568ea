// The SQLite test read model shared by the tests and the child process:
// per-stream totals, and a log of applied positions (not unique: a double
// application would show).
#pragma once

#include <string>
#include <utility>

#include "estoria/sqlite/database.h"
#include "projection_test_util.h"

namespace estoria::testing {

inline Status CreateTables(sqlite::SqliteDatabase& db, const std::string& suffix = "") {
  return db.Exec("CREATE TABLE IF NOT EXISTS totals" + suffix +
                 " (stream_id TEXT PRIMARY KEY, total INTEGER NOT NULL, events INTEGER NOT NULL);"
                 "CREATE TABLE IF NOT EXISTS applied" +
                 suffix + " (position INTEGER NOT NULL)");
}

inline Status ApplyTotals(sqlite::SqliteDatabase& db, const Event& e, const std::string& suffix = "") {
  ESTORIA_ASSIGN_OR_RETURN(auto up, db.Prepare("INSERT INTO totals" + suffix +
                                               " (stream_id, total, events) VALUES (?, ?, 1) ON CONFLICT(stream_id) "
                                               "DO UPDATE SET total = total + excluded.total, events = events + 1"));
  ESTORIA_RETURN_IF_ERROR(up.BindText(1, e.stream_id.ToString()));
  ESTORIA_RETURN_IF_ERROR(up.BindInt64(2, EventN(e)));
  ESTORIA_RETURN_IF_ERROR(up.Run());
  ESTORIA_ASSIGN_OR_RETURN(auto log, db.Prepare("INSERT INTO applied" + suffix + " (position) VALUES (?)"));
  ESTORIA_RETURN_IF_ERROR(log.BindInt64(1, e.global_position));
  return log.Run();
}

inline Result<TotalsByStream> ReadTotals(sqlite::SqliteDatabase& db, const std::string& suffix = "") {
  ESTORIA_ASSIGN_OR_RETURN(auto st, db.Prepare("SELECT stream_id, total, events FROM totals" + suffix));
  TotalsByStream out;
  for (;;) {
    ESTORIA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out[st.ColumnText(0)] = Totals{st.ColumnInt64(1), st.ColumnInt64(2)};
  }
  return out;
}

// {rows, distinct positions} of the applied log.
inline std::pair<int64_t, int64_t> AppliedCounts(sqlite::SqliteDatabase& db) {
  return {db.QueryInt64("SELECT COUNT(*) FROM applied").value_or(-1),
          db.QueryInt64("SELECT COUNT(DISTINCT position) FROM applied").value_or(-1)};
}

}  // namespace estoria::testing
