#include "mcsink/ingest/dead_letter.h"

#include "absl/strings/str_cat.h"
#include "mcsink/common/log.h"
#include "mcsink/common/status.h"
#include "mcsink/ingest/ingest_metrics.h"

namespace mcsink::ingest {

// The outcome of one request: the records sent for it and their delivery reports. `done` runs
// once, after the request is sealed (nothing more will be sent) and every report came back.
class DeadLetterQueue::Delivery {
 public:
  Delivery(Done done, IngestMetrics* metrics, std::string code)
      : done_(std::move(done)), metrics_(metrics), code_(std::move(code)) {}

  void Sending() {
    absl::MutexLock lock(&mu_);
    ++outstanding_;
  }
  void Delivered(const absl::Status& status) {
    if (status.ok() && metrics_ != nullptr) metrics_->OnDeadLettered(code_);
    Finish([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      --outstanding_;
      if (!status.ok() && status_.ok()) status_ = status;
    });
  }
  void Seal(const absl::Status& status) {
    Finish([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      sealed_ = true;
      if (!status.ok() && status_.ok()) status_ = status;
    });
  }

 private:
  template <typename F>
  void Finish(F update) {
    absl::Status result;
    {
      absl::MutexLock lock(&mu_);
      update();
      if (!sealed_ || outstanding_ > 0 || finished_) return;
      finished_ = true;
      result = status_;
    }
    done_(result);
  }

  const Done done_;
  IngestMetrics* const metrics_;
  const std::string code_;
  absl::Mutex mu_;
  int64_t outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  bool sealed_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<std::unique_ptr<DeadLetterQueue>> DeadLetterQueue::Create(DeadLetterOptions options,
                                                                         IngestMetrics* metrics) {
  if (options.topic.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("connector ", options.connector,
                     ": no dead-letter topic (topics.dead_letter_topic); normalize the config"));
  }
  std::unique_ptr<DeadLetterQueue> queue(new DeadLetterQueue(std::move(options), metrics));
  const DeadLetterOptions& o = queue->options_;
  MCSINK_ASSIGN_OR_RETURN(
      queue->producer_, transform::ErrorTopicWriter::Create({.properties = o.kafka_properties,
                                                             .connector = o.connector,
                                                             .role = "dead-letter",
                                                             .offset_topic = o.offset_topic,
                                                             .consumer_group = o.consumer_group}));
  MCSINK_ASSIGN_OR_RETURN(queue->queue_,
                          RangeJobQueue::Create({.name = o.connector + "-dead-letter-reader",
                                                 .purpose = "for the dead-letter topic",
                                                 .kafka_properties = o.kafka_properties,
                                                 .read_timeout = o.read_timeout}));
  return queue;
}

DeadLetterQueue::~DeadLetterQueue() {
  // Not acknowledged: what is still queued stays uncommitted and is read again after a restart.
  if (queue_ != nullptr) queue_->Stop();
  producer_.reset();  // flushes what is in flight
}

void DeadLetterQueue::Submit(v1::BatchFailure failure, Done done) {
  auto delivery = std::make_shared<Delivery>(std::move(done), metrics_, failure.code());
  queue_->Submit({.what = absl::StrCat("failure ", failure.code()),
                  .ranges = {failure.ranges().begin(), failure.ranges().end()},
                  .visit =
                      [this, delivery, code = failure.code(), message = failure.message()](
                          const v1::OffsetRange& range, const v1::KafkaRecord& record) {
                        delivery->Sending();
                        producer_->Send(
                            options_.topic, {range.topic(), &record, code, "", message},
                            [delivery](const absl::Status& s) { delivery->Delivered(s); });
                      },
                  .done = [delivery](const absl::Status& status) { delivery->Seal(status); }});
}

void DeadLetterQueue::SendRecord(const std::string& topic, const v1::KafkaRecord& record,
                                 const std::string& code, const std::string& message, Done done) {
  auto delivery = std::make_shared<Delivery>(std::move(done), metrics_, code);
  delivery->Sending();
  producer_->Send(options_.topic, {topic, &record, code, "", message},
                  [delivery](const absl::Status& s) { delivery->Delivered(s); });
  delivery->Seal(absl::OkStatus());
}

}  // namespace mcsink::ingest
