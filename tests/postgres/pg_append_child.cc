// estoria_pg_append_child URI SCHEMA PROCESS THREADS APPENDS STREAMS LOGFILE
// A helper process for the multi-process test: THREADS threads each make
// APPENDS attempts to append 1-2 events (with caller-chosen ids) to one of
// STREAMS shared streams ("shared_<uuid>" ids derived from the index), with
// ExpectVersion(the version it last read). Each attempt is logged as one line:
//   OK <stream> <expected> <first_version> <first_position> <count> <ids...>
//   CONFLICT <stream> <expected> <actual> <count> <ids...>
//   ERROR <stream> <expected> <status>
// Exit status 0 when every attempt ended OK or Conflict.
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "estoria/postgres/postgres_event_store.h"

using namespace estoria;

TypeId SharedStream(int index) {
  std::array<uint8_t, 16> bytes{};
  bytes[6] = 0x70;
  bytes[8] = 0x80;
  bytes[15] = static_cast<uint8_t>(index);
  return TypeId("shared", Uuid(bytes));
}

int main(int argc, char** argv) {
  if (argc != 8) {
    std::fprintf(stderr, "usage: %s URI SCHEMA PROCESS THREADS APPENDS STREAMS LOGFILE\n", argv[0]);
    return 2;
  }
  auto options = postgres::ParsePostgresUri(argv[1]);
  if (!options) return 2;
  options->schema = argv[2];
  int process = std::atoi(argv[3]), threads = std::atoi(argv[4]), appends = std::atoi(argv[5]),
      streams = std::atoi(argv[6]);
  auto store = postgres::PostgresEventStore::Open(*options);
  if (!store) {
    std::fprintf(stderr, "open: %s\n", store.error().ToString().c_str());
    return 1;
  }
  FILE* log = std::fopen(argv[7], "w");
  if (!log) return 1;
  std::mutex log_mu;
  bool failed = false;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(process * 1000 + t));
      for (int i = 0; i < appends; ++i) {
        TypeId stream = SharedStream(static_cast<int>(rng() % static_cast<unsigned>(streams)));
        int64_t expected = 0;
        ReadStreamOptions tip;
        tip.direction = Direction::kBackward;
        tip.count = 1;
        auto it = (*store)->ReadStream(stream, tip);
        if (it) {
          auto last = (*it)->Next();
          if (last && last->has_value()) expected = (*last)->stream_version;
        }
        int n = 1 + static_cast<int>(rng() % 2);
        std::vector<WritableEvent> evs(static_cast<size_t>(n));
        std::string ids;
        for (auto& e : evs) {
          e.type = "tick";
          e.id = Uuid::NewV7();
          e.data = "{\"p\":" + std::to_string(process) + "}";
          ids += " " + e.id->ToString();
        }
        auto r = (*store)->AppendStream(stream, evs, AppendOptions::ExpectVersion(expected));
        std::string line;
        if (r) {
          line = "OK " + stream.ToString() + " " + std::to_string(expected) + " " +
                 std::to_string(r->front().stream_version) + " " + std::to_string(r->front().global_position) + " " +
                 std::to_string(n) + ids;
        } else if (r.error().IsConflict() && r.error().conflict()) {
          line = "CONFLICT " + stream.ToString() + " " + std::to_string(expected) + " " +
                 std::to_string(r.error().conflict()->actual_version) + " " + std::to_string(n) + ids;
        } else {
          line = "ERROR " + stream.ToString() + " " + std::to_string(expected) + " " + r.error().ToString();
        }
        std::lock_guard<std::mutex> lock(log_mu);
        if (line.starts_with("ERROR")) failed = true;
        std::fprintf(log, "%s\n", line.c_str());
      }
    });
  }
  for (auto& w : workers) w.join();
  std::fclose(log);
  return failed ? 1 : 0;
}
