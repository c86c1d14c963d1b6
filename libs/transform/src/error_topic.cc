#include "mcsink/transform/error_topic.h"

#include <librdkafka/rdkafkacpp.h>

#include "absl/strings/str_cat.h"
#include "mcsink/common/log.h"
#include "mcsink/common/status.h"

namespace mcsink::transform {

class ErrorTopicWriter::Reports : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    std::unique_ptr<Done> done(static_cast<Done*>(message.msg_opaque()));
    absl::Status delivery = absl::OkStatus();
    if (message.err() != RdKafka::ERR_NO_ERROR) {
      delivery = absl::UnavailableError(absl::StrCat("producing to ", message.topic_name(),
                                                     " failed after retries: ", message.errstr()));
      MCSINK_LOG(ERROR) << delivery.message();
    }
    if (done != nullptr && *done) (*done)(delivery);
  }
};

absl::StatusOr<std::unique_ptr<ErrorTopicWriter>> ErrorTopicWriter::Create(
    const kafka::Properties& properties, std::string connector, const std::string& client_suffix) {
  std::unique_ptr<ErrorTopicWriter> writer(new ErrorTopicWriter());
  writer->connector_ = std::move(connector);
  writer->reports_ = std::make_unique<Reports>();
  kafka::Properties props = properties;
  props["enable.idempotence"] = "true";
  props["acks"] = "all";
  props["linger.ms"] = "5";
  props.try_emplace("client.id", writer->connector_ + "-" + client_suffix);
  MCSINK_ASSIGN_OR_RETURN(std::unique_ptr<RdKafka::Conf> conf, kafka::MakeConf(props));
  std::string err;
  if (conf->set("dr_cb", writer->reports_.get(), err) != RdKafka::Conf::CONF_OK) {
    return absl::InternalError(err);
  }
  writer->producer_.reset(RdKafka::Producer::create(conf.get(), err));
  if (writer->producer_ == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("error topic producer: ", err));
  }
  ErrorTopicWriter* self = writer.get();
  writer->poller_ = std::thread([self] {
    while (!self->stop_.load()) self->producer_->poll(100);
  });
  return writer;
}

ErrorTopicWriter::~ErrorTopicWriter() {
  Flush(absl::Seconds(10));
  stop_ = true;
  if (poller_.joinable()) poller_.join();
}

void ErrorTopicWriter::Send(const std::string& topic, const ErrorRecord& error, Done done) {
  const v1::KafkaRecord& r = *error.record;
  RdKafka::Headers* headers = RdKafka::Headers::create();
  headers->add(kHeaderConnector, connector_);
  headers->add(kHeaderTopic, error.topic);
  headers->add(kHeaderPartition, std::to_string(r.partition()));
  headers->add(kHeaderOffset, std::to_string(r.offset()));
  headers->add(kHeaderCode, error.code);
  if (!error.column.empty()) headers->add(kHeaderColumn, error.column);
  headers->add(kHeaderMessage, error.message);
  for (const v1::KafkaHeader& h : r.headers()) headers->add(h.key(), h.value());
  auto* opaque = new Done(std::move(done));
  RdKafka::ErrorCode code;
  while (true) {
    code =
        producer_->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                           r.has_value() ? const_cast<char*>(r.value().data()) : nullptr,
                           r.has_value() ? r.value().size() : 0,
                           r.has_key() ? r.key().data() : nullptr, r.has_key() ? r.key().size() : 0,
                           r.timestamp_ms() > 0 ? r.timestamp_ms() : 0, headers, opaque);
    if (code != RdKafka::ERR__QUEUE_FULL) break;
    absl::SleepFor(absl::Milliseconds(10));  // the poll thread drains the queue
  }
  if (code != RdKafka::ERR_NO_ERROR) {
    // produce() owns the headers only on success.
    delete headers;
    const absl::Status status = absl::UnavailableError(
        absl::StrCat("producing to ", topic, " failed: ", RdKafka::err2str(code)));
    MCSINK_LOG(ERROR) << status.message();
    std::unique_ptr<Done> failed(opaque);
    if (*failed) (*failed)(status);
  }
}

void ErrorTopicWriter::Flush(absl::Duration timeout) {
  if (producer_ != nullptr) {
    producer_->flush(static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  }
}

}  // namespace mcsink::transform
