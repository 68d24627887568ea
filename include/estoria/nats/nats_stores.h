// estoria/nats/nats_stores.h (estoria::nats, target estoria::nats): the snapshot
// and checkpoint stores of the NATS backend, each on a JetStream key-value
// bucket, so that they are replicated like the event log (replicas=3 on a
// 3-node cluster keeps every acknowledged write through the loss of one node).
//
// Thread safety: both stores are safe for concurrent use from many threads, and
// several store objects (in one process or many) may share a bucket. A store
// holds no lock: each call is a few requests on the store's connection, each
// answered by the bucket's stream leader (never a lagging replica), so a call
// sees every write acknowledged before it began, whoever made it.
//
// Layout. A bucket B is the stream "KV_B" holding the subjects "$KV.B.>", the
// layout of every NATS key-value client (`nats kv get B KEY` reads it). A store
// creates its bucket on first open with one value per key (history 1) and
// without direct gets, which 2.9 servers may answer from a lagging replica; an
// existing bucket keeps its own settings (the stores never use direct gets).
// Keys escape every byte outside [A-Za-z0-9_-] as '=' and two uppercase hex
// digits:
//   snapshot     <escaped aggregate id "type_uuid">.<version>   ("bank=2Eaccount_0190...-7c2d.42")
//   checkpoint   <escaped name>                                  ("a=2Eb=20c" for "a.b c")
// A snapshot value is binary: "ESS1", version (int64), timestamp (int64
// microseconds), schema version (int32), the aggregate id and content type
// (each a uint32 length, then the bytes), then the data (the rest); integers are
// little-endian. A checkpoint value is JSON: {"position":42,"updated_at_us":T}.
// Deletions (retention, DeleteBelow, Delete) purge the key's messages and
// write no delete marker; a key deleted by another KV client (a marker) reads
// as absent, though ListVersions lists a snapshot key until it is purged.
// Load, ListVersions and retention list an aggregate's keys with one stream
// info request, whose cost on the server grows with the keys in the bucket.
// Values and keys this store did not write are Corruption when read. Give each
// store its own bucket: the default names differ.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "estoria/checkpoint_store.h"
#include "estoria/snapshot_store.h"

namespace estoria::nats {

struct NatsSnapshotStoreOptions {
  // Server URLs of one NATS system ("nats://host:port"); the client connects to
  // any of them and reconnects to another on failure. Required.
  std::vector<std::string> servers{};
  // The key-value bucket: 1 to 64 letters, digits, '-' and '_'. Created on
  // first open. Default "estoria_snapshots".
  std::string bucket = "estoria_snapshots";
  // Replicas of the bucket when this open creates it (1..5; 3 for a 3-node
  // cluster). An existing bucket keeps its own. Default 1.
  int replicas = 1;
  // How long one request may wait for the servers (connecting, an
  // acknowledgement, a leader election) before the call returns Unavailable.
  // Default 10 s.
  std::chrono::milliseconds timeout{10000};
  // Applied after each Save, to the saved aggregate. Default: keep all.
  SnapshotRetention retention{};
};

class NatsSnapshotStore final : public SnapshotStore {
 public:
  // Connects and creates the bucket when it does not exist. Errors:
  //  InvalidArgument     no servers, a bad bucket name, replicas outside 1..5,
  //                      a timeout <= 0, a negative retention.keep_last
  //  FailedPrecondition  a stream "KV_<bucket>" exists but does not hold
  //                      "$KV.<bucket>.>" (it is not that bucket)
  //  Unavailable         no server answered within the timeout, JetStream is
  //                      not enabled, or the cluster cannot place the replicas
  //  Internal            anything else
  static Result<std::shared_ptr<NatsSnapshotStore>> Open(NatsSnapshotStoreOptions options);
  ~NatsSnapshotStore() override;

  // Stores the snapshot (replacing the same version's), then deletes the
  // aggregate's versions beyond the newest retention.keep_last. InvalidArgument
  // (invalid aggregate id, version < 1, a value larger than the server's
  // max_payload), Unavailable, Internal. An error from the retention step
  // leaves the snapshot stored; the next Save trims again. Retention leaves
  // keys it cannot read alone.
  Status Save(const Snapshot& snapshot) override;
  // The newest snapshot with version <= max_version (0 = no bound). NotFound,
  // InvalidArgument (invalid aggregate id, max_version < 0), Unavailable,
  // Corruption (a key or value of the aggregate this store did not write),
  // Internal.
  Result<Snapshot> Load(const TypeId& aggregate_id, int64_t max_version = 0) override;
  // Versions stored for the aggregate, ascending (empty when none), from the
  // key names. InvalidArgument (invalid aggregate id), Unavailable, Corruption
  // (a key of the aggregate this store did not write), Internal.
  Result<std::vector<int64_t>> ListVersions(const TypeId& aggregate_id) override;
  // Deletes the aggregate's versions < below_version (every key of the
  // aggregate when 0); OK when none matched. Keys it cannot read are left
  // alone, except by below_version 0. InvalidArgument (invalid aggregate id,
  // below_version < 0), Unavailable, Internal.
  Status DeleteBelow(const TypeId& aggregate_id, int64_t below_version) override;

 private:
  struct Impl;
  explicit NatsSnapshotStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct NatsCheckpointStoreOptions {
  // As NatsSnapshotStoreOptions. Required.
  std::vector<std::string> servers{};
  // The key-value bucket: 1 to 64 letters, digits, '-' and '_'. Created on
  // first open. Default "estoria_checkpoints".
  std::string bucket = "estoria_checkpoints";
  // Replicas of the bucket when this open creates it (1..5). Default 1.
  int replicas = 1;
  // As NatsSnapshotStoreOptions. Default 10 s.
  std::chrono::milliseconds timeout{10000};
};

class NatsCheckpointStore final : public CheckpointStore {
 public:
  // Connects and creates the bucket when it does not exist. Errors as
  // NatsSnapshotStore::Open (without the retention).
  static Result<std::shared_ptr<NatsCheckpointStore>> Open(NatsCheckpointStoreOptions options);
  ~NatsCheckpointStore() override;

  // The stored position, 0 when none. InvalidArgument (empty name, a name
  // whose key exceeds 3000 characters), Unavailable, Corruption (a value this
  // store did not write), Internal.
  Result<int64_t> Load(std::string_view name) override;
  // Stores the position (it may move backwards: a reset; the last save wins).
  // InvalidArgument (empty name, negative position, a name whose key exceeds
  // 3000 characters), Unavailable, Internal.
  Status Save(std::string_view name, int64_t position) override;
  // All checkpoints ordered by name (bytewise). Unavailable, Corruption (a key
  // or value in the bucket this store did not write), Internal.
  Result<std::vector<Checkpoint>> List() override;
  // Removes the checkpoint. Of concurrent deletes of one checkpoint, one
  // returns OK and the others NotFound (the purge is conditional on the value
  // read). NotFound, InvalidArgument (empty name, a name whose key exceeds
  // 3000 characters), Unavailable, Internal.
  Status Delete(std::string_view name) override;

 private:
  struct Impl;
  explicit NatsCheckpointStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace estoria::nats
