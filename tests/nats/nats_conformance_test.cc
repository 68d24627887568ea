// The conformance suites on a single NATS node (replicas 1) and on the 3-node
// cluster (replicas 3). Each test gets a new JetStream stream.
#include <atomic>
#include <cstdlib>

#include "estoria/nats/nats_event_store.h"
#include "estoria/open.h"
#include "estoria/testing/conformance.h"
#include "estoria/testing/event_store_capability_conformance.h"

namespace {

using estoria::Result;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

// A new stream name per call: tests share the servers.
std::string NewStreamName() {
  static std::atomic<int> n{0};
  return "t" + estoria::Uuid::NewV7().ToString().substr(24) + "_" + std::to_string(n++);
}

Result<std::shared_ptr<estoria::EventStore>> OpenOn(const char* env, int replicas) {
  const std::string url = Env(env);
  if (url.empty()) return estoria::Status::Unavailable(std::string(env) + " is unset: run under scripts/with-nats");
  auto store = estoria::OpenEventStore(url + "?stream=" + NewStreamName() + "&replicas=" + std::to_string(replicas));
  if (!store.ok()) return store.status();
  return *store;
}

// Without servers (not under scripts/with-nats) every test skips.
class RequireNats : public ::testing::Environment {
 public:
  void SetUp() override {
    if (Env("ESTORIA_NATS_URL").empty() || Env("ESTORIA_NATS_CLUSTER_URL").empty()) {
      GTEST_SKIP() << "ESTORIA_NATS_URL/ESTORIA_NATS_CLUSTER_URL unset: no NATS servers to test";
    }
  }
};
const auto* const kRequireNats = ::testing::AddGlobalTestEnvironment(new RequireNats);

ESTORIA_INSTANTIATE_EVENT_STORE_CONFORMANCE(NatsSingle, [] { return OpenOn("ESTORIA_NATS_URL", 1); });
ESTORIA_INSTANTIATE_EVENT_STORE_CONFORMANCE(NatsCluster, [] { return OpenOn("ESTORIA_NATS_CLUSTER_URL", 3); });
ESTORIA_INSTANTIATE_EVENT_STORE_CAPABILITY_CONFORMANCE(NatsSingle, [] { return OpenOn("ESTORIA_NATS_URL", 1); });
ESTORIA_INSTANTIATE_EVENT_STORE_CAPABILITY_CONFORMANCE(NatsCluster,
                                                       [] { return OpenOn("ESTORIA_NATS_CLUSTER_URL", 3); });

}  // namespace
