// estoria-metrics-bench: the overhead of estoria::metrics::InstrumentedEventStore,
// measured side by side in one run. For each store (memory; SQLite with strict
// durability, the default; SQLite relaxed) and each workload (appends: one
// writer, 1 or 100 events of 100 bytes per call with ExpectVersion, over 10 streams;
// reads: ReadStream of each stream to its end), ROUNDS interleaved rounds run
// the plain store and the instrumented one (the order alternates every round:
// ABBA), each on a fresh store. The table shows the medians of events/s (wall
// time) and the medians of the per-round ratios instrumented / plain, of wall
// time and of process CPU time (the CPU ratio is the steadier one on a shared
// machine; SQLite strict appends are dominated by fsync, which takes no CPU).
//
//   estoria-metrics-bench [--rounds N] [--sqlite-dir DIR] [--only memory|sqlite]
#include <prometheus/registry.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "estoria/open.h"
#include "estoria/prometheus/instrumented_event_store.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Case {
  std::string label;
  std::string durability;               // as stated in the table
  std::function<std::string(int)> uri;  // the store URI of round i (a fresh store)
  int64_t appends;                      // events appended per round
  int batch;                            // events per append call
  int read_passes;                      // whole-store read passes per round
};

// Events per second of wall time and per second of process CPU time (the
// latter is far less sensitive to other processes on a shared machine).
struct Rates {
  double append = 0;
  double read = 0;
  double append_cpu = 0;
  double read_cpu = 0;
};

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

void Die(const std::string& what) {
  std::cerr << "estoria-metrics-bench: " << what << "\n";
  std::exit(1);
}

Rates RunOnce(const Case& c, int round, bool instrumented) {
  auto opened = estoria::OpenEventStore(c.uri(round));
  if (!opened) Die(opened.error().ToString());
  std::shared_ptr<estoria::EventStore> store = *opened;
  if (instrumented) {
    auto wrapped = estoria::metrics::InstrumentedEventStore::Create(store, std::make_shared<prometheus::Registry>(),
                                                                    {.labels = {.backend = c.label}});
    if (!wrapped) Die(wrapped.error().ToString());
    store = *wrapped;
  }
  constexpr int kStreams = 10;
  std::vector<estoria::TypeId> streams;
  for (int i = 0; i < kStreams; ++i)
    streams.push_back(estoria::TypeId::Make("account", estoria::Uuid::NewV7()).value());
  std::vector<int64_t> versions(kStreams, 0);
  estoria::WritableEvent event;
  event.type = "deposited";
  event.data = std::string(100, 'x');
  std::vector<estoria::WritableEvent> batch(static_cast<size_t>(c.batch), event);
  Rates rates;
  auto start = Clock::now();
  double cpu = CpuSeconds();
  for (int64_t n = 0; n < c.appends / c.batch; ++n) {
    size_t s = static_cast<size_t>(n % kStreams);
    auto appended = store->AppendStream(streams[s], batch, estoria::AppendOptions::ExpectVersion(versions[s]));
    if (!appended) Die(appended.error().ToString());
    versions[s] += c.batch;
  }
  rates.append = static_cast<double>(c.appends) / std::chrono::duration<double>(Clock::now() - start).count();
  rates.append_cpu = static_cast<double>(c.appends) / (CpuSeconds() - cpu);
  int64_t read = 0;
  start = Clock::now();
  cpu = CpuSeconds();
  for (int pass = 0; pass < c.read_passes; ++pass) {
    for (const auto& stream : streams) {
      auto it = store->ReadStream(stream);
      if (!it) Die(it.error().ToString());
      while (true) {
        auto next = (*it)->Next();
        if (!next) Die(next.error().ToString());
        if (!next->has_value()) break;
        ++read;
      }
    }
  }
  rates.read = static_cast<double>(read) / std::chrono::duration<double>(Clock::now() - start).count();
  rates.read_cpu = static_cast<double>(read) / (CpuSeconds() - cpu);
  return rates;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 11;
  std::string dir = std::filesystem::temp_directory_path().string();
  std::string only;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--rounds" && i + 1 < argc) {
      rounds = std::atoi(argv[++i]);
    } else if (arg == "--sqlite-dir" && i + 1 < argc) {
      dir = argv[++i];
    } else if (arg == "--only" && i + 1 < argc) {
      only = argv[++i];
    } else {
      Die("usage: estoria-metrics-bench [--rounds N] [--sqlite-dir DIR] [--only memory|sqlite]");
    }
  }
  auto sqlite_uri = [dir](const std::string& durability) {
    return [dir, durability](int round) {
      std::string path = dir + "/estoria-metrics-bench-" + std::to_string(getpid()) + "-" + durability + "-" +
                         std::to_string(round) + ".db";
      for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
      return "sqlite:" + path + "?durability=" + durability;
    };
  };
  std::vector<Case> cases = {
      {"memory", "n/a", [](int) { return std::string("memory:"); }, 100000, 1, 5},
      {"memory", "n/a", [](int) { return std::string("memory:"); }, 500000, 100, 1},
      {"sqlite", "strict", sqlite_uri("strict"), 400, 1, 100},
      {"sqlite", "relaxed", sqlite_uri("relaxed"), 10000, 1, 5},
  };
  std::printf(
      "| store | durability | workload | plain events/s | instrumented events/s | ratio, wall (median) | "
      "ratio, CPU (median) | wall ratio per round |\n");
  std::printf("|---|---|---|---:|---:|---:|---:|---|\n");
  for (const Case& c : cases) {
    if (!only.empty() && c.label != only) continue;
    std::vector<double> plain_append, inst_append, plain_read, inst_read;
    std::vector<double> ratio_append, ratio_read, cpu_ratio_append, cpu_ratio_read;
    for (int r = 0; r < rounds; ++r) {
      Rates plain, inst;
      if (r % 2 == 0) {
        plain = RunOnce(c, 2 * r, false);
        inst = RunOnce(c, 2 * r + 1, true);
      } else {
        inst = RunOnce(c, 2 * r, true);
        plain = RunOnce(c, 2 * r + 1, false);
      }
      plain_append.push_back(plain.append);
      inst_append.push_back(inst.append);
      plain_read.push_back(plain.read);
      inst_read.push_back(inst.read);
      ratio_append.push_back(inst.append / plain.append);
      ratio_read.push_back(inst.read / plain.read);
      cpu_ratio_append.push_back(inst.append_cpu / plain.append_cpu);
      cpu_ratio_read.push_back(inst.read_cpu / plain.read_cpu);
    }
    auto row = [&](const std::string& workload, const std::vector<double>& p, const std::vector<double>& i,
                   const std::vector<double>& ratios, const std::vector<double>& cpu_ratios) {
      std::string each;
      for (double x : ratios) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "%s%.2f", each.empty() ? "" : " ", x);
        each += buf;
      }
      std::printf("| %s | %s | %s | %.0f | %.0f | %.3f | %.3f | %s |\n", c.label.c_str(), c.durability.c_str(),
                  workload.c_str(), Median(p), Median(i), Median(ratios), Median(cpu_ratios), each.c_str());
      std::fflush(stdout);
    };
    row("append, 1 writer, batch " + std::to_string(c.batch), plain_append, inst_append, ratio_append,
        cpu_ratio_append);
    if (c.batch == 1) row("read-stream, 1 reader", plain_read, inst_read, ratio_read, cpu_ratio_read);
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().filename().string().starts_with("estoria-metrics-bench-" + std::to_string(getpid()))) {
      std::filesystem::remove(entry.path());
    }
  }
  return 0;
}
