#include "mcsink/ingest/range_reader.h"

#include <librdkafka/rdkafkacpp.h>

#include "absl/strings/str_cat.h"
#include "mcsink/common/log.h"
#include "mcsink/common/status.h"
#include "mcsink/ingest/kafka_record.h"

namespace mcsink::ingest {

absl::StatusOr<std::unique_ptr<RangeReader>> RangeReader::Create(RangeReaderOptions options) {
  std::unique_ptr<RangeReader> reader(new RangeReader(std::move(options)));
  const RangeReaderOptions& o = reader->options_;
  kafka::Properties props = o.kafka_properties;
  // The reader only assign()s and never commits: the group id is required by the client, and is
  // distinct from the connector's so it can never take part in its rebalances.
  props["group.id"] = o.name;
  props["enable.auto.commit"] = "false";
  props["enable.auto.offset.store"] = "false";
  props["enable.partition.eof"] = "true";  // a range whose tail is gone ends at the log end
  props["auto.offset.reset"] = "earliest";
  props.try_emplace("client.id", o.name);
  MCSINK_ASSIGN_OR_RETURN(std::unique_ptr<RdKafka::Conf> conf, kafka::MakeConf(props));
  std::string err;
  reader->consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (reader->consumer_ == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("Kafka reader ", o.name, ": ", err));
  }
  return reader;
}

RangeReader::~RangeReader() {
  if (consumer_ != nullptr) consumer_->close();
}

absl::Status RangeReader::Read(const v1::OffsetRange& range, const Visit& visit) {
  const std::string where = absl::StrCat(range.topic(), "[", range.partition(), "] offsets ",
                                         range.first_offset(), "..", range.last_offset());
  std::vector<RdKafka::TopicPartition*> list = {
      RdKafka::TopicPartition::create(range.topic(), range.partition(), range.first_offset())};
  const RdKafka::ErrorCode assigned = consumer_->assign(list);
  RdKafka::TopicPartition::destroy(list);
  if (assigned != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat("reading back ", where, " ", options_.purpose, ": ",
                                               RdKafka::err2str(assigned)));
  }
  const absl::Time deadline = absl::Now() + options_.read_timeout;
  absl::Status status = absl::DeadlineExceededError(
      absl::StrCat("reading back ", where, " ", options_.purpose, " took over ",
                   absl::FormatDuration(options_.read_timeout), "; is the broker reachable?"));
  int64_t next = range.first_offset();
  v1::KafkaRecord record;
  while (absl::Now() < deadline) {
    if (cancelled_.load()) {
      status = absl::CancelledError(
          absl::StrCat("reading back ", where, " ", options_.purpose, ": shutting down"));
      break;
    }
    std::unique_ptr<RdKafka::Message> msg(consumer_->consume(200));
    if (msg->err() == RdKafka::ERR__TIMED_OUT) continue;
    if (msg->err() == RdKafka::ERR__PARTITION_EOF) {
      // The range's tail is not in the log (compacted or never there): nothing more to read.
      status = absl::OkStatus();
      break;
    }
    if (msg->err() != RdKafka::ERR_NO_ERROR) {
      MCSINK_LOG(WARNING) << options_.name << ", " << where << ": " << msg->errstr();
      continue;
    }
    if (msg->topic_name() != range.topic() || msg->partition() != range.partition() ||
        msg->offset() < next) {
      continue;  // left over from a previous assignment
    }
    if (msg->offset() > range.last_offset()) {
      status = absl::OkStatus();
      break;
    }
    if (msg->offset() > next) {
      MCSINK_LOG(WARNING) << options_.name << ": " << range.topic() << "[" << range.partition()
                          << "] offsets " << next << ".." << msg->offset() - 1
                          << " are no longer in Kafka (retention or compaction); skipped "
                          << options_.purpose;
    }
    ToKafkaRecord(*msg, &record);
    visit(record);
    next = msg->offset() + 1;
    if (msg->offset() == range.last_offset()) {
      status = absl::OkStatus();
      break;
    }
  }
  consumer_->unassign();
  return status;
}

}  // namespace mcsink::ingest
