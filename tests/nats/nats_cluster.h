// Control of the 3-node test cluster started by scripts/with-nats: which node
// leads a stream, killing, stopping and restarting nodes. For the failover
// tests only.
#pragma once

#include <nats/nats.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

extern char** environ;

namespace estoria::nats::testing {

inline std::string Env(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  return v == nullptr ? std::string() : std::string(v);
}

inline bool HaveCluster() {
  return !Env("ESTORIA_NATS_CLUSTER_URL").empty() && !Env("ESTORIA_NATS_NODE1_CONF").empty();
}

// Node i in 1..3.
inline std::string NodeVar(int i, const char* what) {
  return Env("ESTORIA_NATS_NODE" + std::to_string(i) + "_" + what);
}

inline pid_t NodePid(int i) {
  std::ifstream in(NodeVar(i, "PIDFILE"));
  long pid = 0;
  in >> pid;
  return static_cast<pid_t>(pid);
}

inline void SignalNode(int i, int sig) {
  const pid_t pid = NodePid(i);
  if (pid > 0) ::kill(pid, sig);
}

// Waits until node i's monitoring endpoint answers /healthz with "ok".
inline bool WaitHealthy(int i, std::chrono::seconds timeout) {
  const std::string cmd = "curl -sf -m 2 " + NodeVar(i, "MONITOR") + "/healthz 2>/dev/null | grep -q ok";
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (std::system(cmd.c_str()) == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

// Starts node i again from its configuration (after a SIGKILL), detached,
// without waiting for it to be healthy (a node alone has no JetStream quorum).
inline bool StartNode(int i) {
  const pid_t old = NodePid(i);
  if (old > 0) {
    for (int k = 0; k < 100 && ::kill(old, 0) == 0; ++k) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::string server = Env("NATS_SERVER");
  if (server.empty()) server = "/usr/sbin/nats-server";
  const std::string conf = NodeVar(i, "CONF");
  const std::string cmd = "setsid " + server + " -c " + conf + " >/dev/null 2>&1 &";
  return std::system(cmd.c_str()) == 0;
}

// StartNode, then waits until it is healthy.
inline bool RestartNode(int i) { return StartNode(i) && WaitHealthy(i, std::chrono::seconds(30)); }

// The server name ("n1".."n3") of the stream's leader, "" when none answers.
inline std::string StreamLeader(const std::string& stream) {
  natsOptions* opts = nullptr;
  natsOptions_Create(&opts);
  std::string servers = Env("ESTORIA_NATS_CLUSTER_URL");
  std::vector<std::string> urls;
  size_t start = 0;
  const std::string body = servers.substr(std::string("nats://").size());
  while (start <= body.size()) {
    size_t comma = body.find(',', start);
    urls.push_back("nats://" + body.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  std::vector<const char*> c;
  for (auto& u : urls) c.push_back(u.c_str());
  natsOptions_SetServers(opts, c.data(), static_cast<int>(c.size()));
  natsConnection* nc = nullptr;
  std::string leader;
  if (natsConnection_Connect(&nc, opts) == NATS_OK) {
    natsMsg* reply = nullptr;
    const std::string subject = "$JS.API.STREAM.INFO." + stream;
    if (natsConnection_RequestString(&reply, nc, subject.c_str(), "{}", 2000) == NATS_OK) {
      auto j = nlohmann::json::parse(std::string(natsMsg_GetData(reply), natsMsg_GetDataLength(reply)), nullptr, false);
      if (j.is_object() && j.contains("cluster") && j["cluster"].is_object()) {
        leader = j["cluster"].value("leader", std::string());
      }
      natsMsg_Destroy(reply);
    }
    natsConnection_Destroy(nc);
  }
  natsOptions_Destroy(opts);
  return leader;
}

// The node index (1..3) of a server name "nK", 0 when unknown.
inline int NodeIndex(const std::string& name) {
  if (name.size() == 2 && name[0] == 'n' && name[1] >= '1' && name[1] <= '3') return name[1] - '0';
  return 0;
}

}  // namespace estoria::nats::testing
