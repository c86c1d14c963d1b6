#include "mcsink/testing/kafka_fixture.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>

#include <librdkafka/rdkafkacpp.h>

#include <memory>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace mcsink::testing {

absl::StatusOr<std::string> KafkaFixtureBootstrap() {
  const char* path = std::getenv("MCSINK_KAFKA_BOOTSTRAP_FILE");
  if (path == nullptr) {
    return absl::FailedPreconditionError(
        "MCSINK_KAFKA_BOOTSTRAP_FILE is not set: run this test through ctest, which starts the "
        "kafka fixture");
  }
  std::ifstream in(path);
  std::string bootstrap;
  std::getline(in, bootstrap);
  bootstrap = std::string(absl::StripAsciiWhitespace(bootstrap));
  if (bootstrap.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no bootstrap address in ", path, ": did the kafka fixture start?"));
  }
  return bootstrap;
}

namespace {
class CountingDeliveryReport : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    if (message.err() == RdKafka::ERR_NO_ERROR) {
      delivered.fetch_add(1);
    } else {
      failed.fetch_add(1);
      last_error = message.errstr();
    }
  }
  std::atomic<int64_t> delivered{0};
  std::atomic<int64_t> failed{0};
  std::string last_error;
};
}  // namespace

absl::Status ProduceTestRecords(const std::string& bootstrap, const std::string& topic,
                                int64_t count, const std::function<std::string(int64_t)>& make_key,
                                const std::function<std::string(int64_t)>& make_value,
                                int32_t partition) {
  CountingDeliveryReport report;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  if (conf->set("bootstrap.servers", bootstrap, err) != RdKafka::Conf::CONF_OK ||
      conf->set("enable.idempotence", "true", err) != RdKafka::Conf::CONF_OK ||
      conf->set("linger.ms", "5", err) != RdKafka::Conf::CONF_OK ||
      conf->set("dr_cb", &report, err) != RdKafka::Conf::CONF_OK) {
    return absl::InternalError(err);
  }
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), err));
  if (producer == nullptr) return absl::InternalError(err);
  for (int64_t i = 0; i < count; ++i) {
    const std::string key = make_key(i);
    const std::string value = make_value(i);
    RdKafka::ErrorCode code;
    while ((code = producer->produce(
                topic, partition < 0 ? RdKafka::Topic::PARTITION_UA : partition,
                RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(value.data()), value.size(),
                key.data(), key.size(), 0, nullptr)) == RdKafka::ERR__QUEUE_FULL) {
      producer->poll(10);
    }
    if (code != RdKafka::ERR_NO_ERROR) {
      return absl::InternalError(absl::StrCat("produce to ", topic, ": ", RdKafka::err2str(code)));
    }
  }
  if (producer->flush(120000) != RdKafka::ERR_NO_ERROR) {
    return absl::DeadlineExceededError(absl::StrCat("flush to ", topic, " timed out"));
  }
  if (report.failed.load() > 0 || report.delivered.load() != count) {
    return absl::InternalError(
        absl::StrCat(report.failed.load(), " of ", count, " records failed: ", report.last_error));
  }
  return absl::OkStatus();
}

std::string UniqueTopicName(const std::string& prefix) {
  static std::atomic<int> counter{0};
  // The pid alone repeats: pid_max is 32768 here, and one CI run (compilers, test processes,
  // the broker's threads) can go round it, reusing a name (and a directory named after it)
  // that an earlier test left behind. A random tag per process keeps names apart.
  static const std::string tag = [] {
    std::random_device random;
    return absl::StrCat(absl::Hex(random() & 0xffffff, absl::kZeroPad6));
  }();
  return absl::StrCat(prefix, "-", getpid(), "-", tag, "-", counter.fetch_add(1));
}

}  // namespace mcsink::testing
