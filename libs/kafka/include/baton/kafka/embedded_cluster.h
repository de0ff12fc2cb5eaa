// EmbeddedCluster: librdkafka's in-process mock cluster, for the demo (`baton` with no
// --brokers). It speaks the Kafka protocol on an ephemeral loopback port but does not implement
// read_committed, transactional offsets or compaction, and it truncates large partitions: it
// proves nothing about Baton's guarantees and is never used by the integration tests.
//
// Thread-safety: the cluster runs on its own thread; the methods are called from one thread.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"

struct rd_kafka_s;
struct rd_kafka_mock_cluster_s;

namespace baton::kafka {

class EmbeddedCluster {
 public:
  static absl::StatusOr<std::unique_ptr<EmbeddedCluster>> Start();
  ~EmbeddedCluster();

  absl::Status CreateTopic(const std::string& name, int partitions);
  const std::string& bootstrap() const { return bootstrap_; }

 private:
  EmbeddedCluster() = default;
  rd_kafka_s* handle_ = nullptr;
  rd_kafka_mock_cluster_s* cluster_ = nullptr;
  std::string bootstrap_;
};

}  // namespace baton::kafka
