#include "mcsink/testing/mock_kafka.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace mcsink::testing {

MockKafkaCluster::MockKafkaCluster(int brokers) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The mock's own handle has no bootstrap servers; keep its CONFWARN out of test logs.
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
  handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (handle_ == nullptr) std::abort();
  cluster_ = rd_kafka_mock_cluster_new(handle_, brokers);
  if (cluster_ == nullptr) std::abort();
  bootstrap_ = rd_kafka_mock_cluster_bootstraps(cluster_);
}

MockKafkaCluster::~MockKafkaCluster() {
  rd_kafka_mock_cluster_destroy(cluster_);
  rd_kafka_destroy(handle_);
}

absl::Status MockKafkaCluster::CreateTopic(const std::string& topic, int partitions) {
  const rd_kafka_resp_err_t err =
      rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, 1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::InternalError(absl::StrCat("mock topic ", topic, ": ", rd_kafka_err2str(err)));
  }
  return absl::OkStatus();
}

}  // namespace mcsink::testing
