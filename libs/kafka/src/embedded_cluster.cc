#include "baton/kafka/embedded_cluster.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "librdkafka/rdkafka.h"
#include "librdkafka/rdkafka_mock.h"

namespace baton::kafka {

absl::StatusOr<std::unique_ptr<EmbeddedCluster>> EmbeddedCluster::Start() {
  std::unique_ptr<EmbeddedCluster> cluster(new EmbeddedCluster());
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The mock cluster needs a client handle to live in; this one never connects anywhere.
  rd_kafka_conf_set(conf, "log_level", "3", nullptr, 0);
  cluster->handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  if (cluster->handle_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InternalError(absl::StrCat("embedded cluster: ", error));
  }
  cluster->cluster_ = rd_kafka_mock_cluster_new(cluster->handle_, 1);
  if (cluster->cluster_ == nullptr) {
    return absl::InternalError("embedded cluster: rd_kafka_mock_cluster_new failed");
  }
  cluster->bootstrap_ = rd_kafka_mock_cluster_bootstraps(cluster->cluster_);
  return cluster;
}

EmbeddedCluster::~EmbeddedCluster() {
  if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
  if (handle_ != nullptr) rd_kafka_destroy(handle_);
}

absl::Status EmbeddedCluster::CreateTopic(const std::string& name, int partitions) {
  rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(cluster_, name.c_str(), partitions, 1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::InternalError(absl::StrCat("creating topic ", name, ": ", rd_kafka_err2str(err)));
  }
  return absl::OkStatus();
}

}  // namespace baton::kafka
