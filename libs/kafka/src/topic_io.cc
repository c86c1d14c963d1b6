#include "mcsink/kafka/topic_io.h"

#include <librdkafka/rdkafkacpp.h>

#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "mcsink/common/status.h"

namespace mcsink::kafka {
namespace {

int Millis(absl::Duration d) {
  return static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(d)));
}

// The outcome of one produce, filled by the delivery report.
struct Delivery {
  bool done = false;
  RdKafka::ErrorCode err = RdKafka::ERR_NO_ERROR;
  std::string errstr;
  WrittenOffset where;
};

class DeliveryReport : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    auto* delivery = static_cast<Delivery*>(message.msg_opaque());
    if (delivery == nullptr) return;
    delivery->done = true;
    delivery->err = message.err();
    delivery->errstr = message.errstr();
    delivery->where = {message.partition(), message.offset()};
  }
};

}  // namespace

struct KeyedWriter::Impl {
  DeliveryReport report;  // outlives the producer, which calls it
  std::unique_ptr<RdKafka::Producer> producer;
};

KeyedWriter::KeyedWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KeyedWriter::~KeyedWriter() {
  absl::MutexLock lock(&mu_);
  if (impl_->producer != nullptr) impl_->producer->flush(5000);
}

absl::StatusOr<std::unique_ptr<KeyedWriter>> KeyedWriter::Create(const Properties& properties) {
  Properties props = properties;
  props["enable.idempotence"] = "true";
  props["acks"] = "all";
  props["linger.ms"] = "0";
  MCSINK_ASSIGN_OR_RETURN(std::unique_ptr<RdKafka::Conf> conf, MakeConf(props));
  auto impl = std::make_unique<Impl>();
  std::string err;
  if (conf->set("dr_cb", &impl->report, err) != RdKafka::Conf::CONF_OK) {
    return absl::InternalError(absl::StrCat("Kafka producer for control records: ", err));
  }
  impl->producer.reset(RdKafka::Producer::create(conf.get(), err));
  if (impl->producer == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("Kafka producer for control records: ", err));
  }
  return std::unique_ptr<KeyedWriter>(new KeyedWriter(std::move(impl)));
}

absl::StatusOr<WrittenOffset> KeyedWriter::Write(const std::string& topic, const std::string& key,
                                                 const std::optional<std::string>& value,
                                                 absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  const std::string what = absl::StrCat("write ", key, " to topic ", topic);
  Delivery delivery;
  const RdKafka::ErrorCode code = impl_->producer->produce(
      topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
      value.has_value() ? const_cast<char*>(value->data()) : nullptr,
      value.has_value() ? value->size() : 0, key.data(), key.size(), 0, &delivery);
  if (code != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat(what, ": ", RdKafka::err2str(code)));
  }
  const absl::Time deadline = absl::Now() + timeout;
  while (!delivery.done && absl::Now() < deadline) {
    impl_->producer->poll(std::min(100, Millis(deadline - absl::Now())));
  }
  if (!delivery.done) {
    // The report would otherwise point at `delivery` after it is gone: wait it out.
    impl_->producer->purge(RdKafka::Producer::PURGE_QUEUE);
    while (!delivery.done) impl_->producer->poll(100);
    if (delivery.err == RdKafka::ERR_NO_ERROR) return delivery.where;
    return absl::DeadlineExceededError(
        absl::StrCat(what, ": not acknowledged within ", absl::FormatDuration(timeout)));
  }
  if (delivery.err != RdKafka::ERR_NO_ERROR) {
    const bool missing = delivery.err == RdKafka::ERR_UNKNOWN_TOPIC_OR_PART ||
                         delivery.err == RdKafka::ERR__UNKNOWN_TOPIC;
    const std::string message = absl::StrCat(what, ": ", delivery.errstr);
    return missing ? absl::NotFoundError(message) : absl::UnavailableError(message);
  }
  return delivery.where;
}

absl::StatusOr<std::map<std::string, std::string>> ReadLatestByKey(const Properties& properties,
                                                                   const std::string& topic,
                                                                   absl::Duration timeout) {
  const std::string what = absl::StrCat("read topic ", topic);
  const absl::Time deadline = absl::Now() + timeout;
  Properties props = properties;
  // assign() never joins this group; the id is only required by the consumer API.
  props["group.id"] = "mcsink-control-reader";
  props["enable.auto.commit"] = "false";
  props["enable.partition.eof"] = "true";
  MCSINK_ASSIGN_OR_RETURN(std::unique_ptr<RdKafka::Conf> conf, MakeConf(props));
  std::string err;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (consumer == nullptr) return absl::InvalidArgumentError(absl::StrCat(what, ": ", err));

  std::unique_ptr<RdKafka::Topic> handle(
      RdKafka::Topic::create(consumer.get(), topic, nullptr, err));
  if (handle == nullptr) return absl::InvalidArgumentError(absl::StrCat(what, ": ", err));
  RdKafka::Metadata* raw = nullptr;
  RdKafka::ErrorCode code = consumer->metadata(false, handle.get(), &raw, Millis(timeout));
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  if (code != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat(what, ": metadata: ", RdKafka::err2str(code)));
  }
  int partitions = -1;
  for (const RdKafka::TopicMetadata* t : *metadata->topics()) {
    if (t->topic() != topic) continue;
    if (t->err() == RdKafka::ERR_UNKNOWN_TOPIC_OR_PART) {
      return absl::NotFoundError(absl::StrCat(what, ": no such topic"));
    }
    if (t->err() != RdKafka::ERR_NO_ERROR) {
      return absl::UnavailableError(absl::StrCat(what, ": ", RdKafka::err2str(t->err())));
    }
    partitions = static_cast<int>(t->partitions()->size());
  }
  if (partitions <= 0) return absl::NotFoundError(absl::StrCat(what, ": no such topic"));

  std::vector<RdKafka::TopicPartition*> assignment;
  std::map<int32_t, int64_t> end;  // partitions still to read, to their end offset
  for (int32_t p = 0; p < partitions; ++p) {
    int64_t low = 0;
    int64_t high = 0;
    code = consumer->query_watermark_offsets(topic, p, &low, &high, Millis(timeout));
    if (code != RdKafka::ERR_NO_ERROR) {
      return absl::UnavailableError(
          absl::StrCat(what, ": end offset of partition ", p, ": ", RdKafka::err2str(code)));
    }
    if (high <= low) continue;
    end[p] = high;
    assignment.push_back(RdKafka::TopicPartition::create(topic, p, low));
  }
  std::map<std::string, std::string> out;
  if (end.empty()) return out;
  code = consumer->assign(assignment);
  RdKafka::TopicPartition::destroy(assignment);
  if (code != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat(what, ": assign: ", RdKafka::err2str(code)));
  }
  while (!end.empty()) {
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(what, ": not read to its end within ",
                                                      absl::FormatDuration(timeout), " (",
                                                      end.size(), " partition(s) left)"));
    }
    std::unique_ptr<RdKafka::Message> message(
        consumer->consume(std::min(200, Millis(deadline - absl::Now()))));
    if (message->err() == RdKafka::ERR__TIMED_OUT) continue;
    if (message->err() == RdKafka::ERR__PARTITION_EOF) {
      end.erase(message->partition());
      continue;
    }
    if (message->err() != RdKafka::ERR_NO_ERROR) {
      return absl::UnavailableError(absl::StrCat(what, ": ", message->errstr()));
    }
    if (message->key() != nullptr) {
      if (message->payload() == nullptr) {
        out.erase(*message->key());
      } else {
        out[*message->key()] =
            std::string(static_cast<const char*>(message->payload()), message->len());
      }
    }
    auto it = end.find(message->partition());
    if (it != end.end() && message->offset() + 1 >= it->second) end.erase(it);
  }
  consumer->close();
  return out;
}

}  // namespace mcsink::kafka
