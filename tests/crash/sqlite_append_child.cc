// The child process of the SQLite crash and multi-process tests.
//
//   sqlite_append_child crash PATH THREADS FD
//     Appends forever from THREADS threads to 16 streams (1-3 events each) and,
//     after each acknowledged append, writes one line per event to FD in a
//     single write(2) (atomic: shorter than PIPE_BUF):
//       ack POSITION STREAM_ID VERSION EVENT_UUID
//     Runs until killed; exits 3 on any append error.
//
//   sqlite_append_child race PATH TAG SHARED_STREAM ATTEMPTS
//     Prints "ready", waits for a line on stdin, then ATTEMPTS times: reads the
//     tip of SHARED_STREAM and appends "TAG:i" with ExpectVersion(tip) (a
//     Conflict is counted, anything else exits 3), and appends "TAG:i" to its
//     own stream "own_..." without expectation. Prints
//       done OK CONFLICTS OWN_STREAM_ID
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "estoria/sqlite/sqlite_event_store.h"

namespace {

using namespace estoria;          // NOLINT(google-build-using-namespace): a small test program
using namespace estoria::sqlite;  // NOLINT(google-build-using-namespace)

std::shared_ptr<SqliteEventStore> OpenOrDie(const std::string& path) {
  SqliteOptions o;
  o.path = path;
  o.durability = estoria::Durability::kStrict;
  o.busy_timeout = std::chrono::seconds(30);
  auto store = SqliteEventStore::Open(o);
  if (!store) {
    std::cerr << "child: open failed: " << store.error() << "\n";
    std::exit(3);
  }
  return *store;
}

WritableEvent Ev(std::string data) {
  WritableEvent e;
  e.type = "appended";
  e.data = std::move(data);
  e.metadata = {{"by", "child"}};
  return e;
}

int Crash(const std::string& path, int threads, int fd) {
  auto store = OpenOrDie(path);
  std::vector<TypeId> streams;
  for (int i = 0; i < 16; ++i) streams.push_back(TypeId::New("crash").value());
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (uint64_t i = 0;; ++i) {
        const TypeId& stream = streams[(t * 7 + i) % streams.size()];
        std::vector<WritableEvent> batch;
        for (uint64_t n = 0; n <= (i + t) % 3; ++n) batch.push_back(Ev(std::to_string(t) + ":" + std::to_string(i)));
        auto r = store->AppendStream(stream, batch);
        if (!r) {
          std::cerr << "child: append failed: " << r.error() << "\n";
          std::_Exit(3);
        }
        std::string lines;
        for (const auto& e : *r) {
          lines += "ack " + std::to_string(e.global_position) + " " + e.stream_id.ToString() + " " +
                   std::to_string(e.stream_version) + " " + e.id.uuid().ToString() + "\n";
        }
        if (::write(fd, lines.data(), lines.size()) != static_cast<ssize_t>(lines.size())) std::_Exit(4);
      }
    });
  }
  for (auto& w : workers) w.join();
  return 0;
}

int Race(const std::string& path, const std::string& tag, const std::string& shared_text, int attempts) {
  auto store = OpenOrDie(path);
  auto shared = TypeId::Parse(shared_text);
  if (!shared) return 3;
  TypeId own = TypeId::New("own").value();
  std::cout << "ready" << std::endl;
  std::string go;
  std::getline(std::cin, go);
  int ok = 0, conflicts = 0;
  for (int i = 0; i < attempts; ++i) {
    int64_t tip = 0;
    estoria::ReadStreamOptions last;
    last.direction = estoria::Direction::kBackward;
    last.count = 1;
    auto it = store->ReadStream(*shared, last);
    if (it) {
      auto next = (*it)->Next();
      if (!next) {
        std::cerr << "child: read failed: " << next.error() << "\n";
        return 3;
      }
      if (next->has_value()) tip = (*next)->stream_version;
    } else if (!it.error().IsNotFound()) {
      std::cerr << "child: read failed: " << it.error() << "\n";
      return 3;
    }
    std::string data = tag + ":" + std::to_string(i);
    auto r = store->AppendStream(*shared, std::vector<WritableEvent>{Ev(data)}, AppendOptions::ExpectVersion(tip));
    if (r) {
      ++ok;
    } else if (r.error().IsConflict()) {
      ++conflicts;
    } else {
      std::cerr << "child: shared append failed: " << r.error() << "\n";
      return 3;
    }
    auto mine = store->AppendStream(own, std::vector<WritableEvent>{Ev(data)});
    if (!mine) {
      std::cerr << "child: own append failed: " << mine.error() << "\n";
      return 3;
    }
  }
  std::cout << "done " << ok << " " << conflicts << " " << own.ToString() << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 4 && args[0] == "crash") return Crash(args[1], std::stoi(args[2]), std::stoi(args[3]));
  if (args.size() == 5 && args[0] == "race") return Race(args[1], args[2], args[3], std::stoi(args[4]));
  std::cerr << "usage: sqlite_append_child crash PATH THREADS FD | race PATH TAG SHARED_STREAM ATTEMPTS\n";
  return 2;
}
