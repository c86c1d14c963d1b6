#include "mcsink/ingest/ingest_service.h"

#include <algorithm>
#include <atomic>

#include "mcsink/common/log.h"
#include "mcsink/common/status.h"
#include "mcsink/pipeline/failure_codes.h"

namespace mcsink::ingest {

SplitFailures SplitFenced(const v1::Ack& ack) {
  SplitFailures out;
  for (const v1::BatchFailure& f : ack.failures()) {
    if (f.code() != pipeline::kFenced) {
      out.others.push_back(f);
      continue;
    }
    if (!out.any_fenced) out.fenced_message = f.message();
    out.any_fenced = true;
    out.fenced.insert(out.fenced.end(), f.ranges().begin(), f.ranges().end());
  }
  return out;
}

IngestService::IngestService(IngestServiceOptions options, prometheus::Registry& registry)
    : options_(std::move(options)), metrics_(registry, options_.connector.name()) {}

absl::StatusOr<std::unique_ptr<IngestService>> IngestService::Create(
    IngestServiceOptions options, prometheus::Registry& registry) {
  std::unique_ptr<IngestService> service(new IngestService(std::move(options), registry));
  const v1::ConnectorConfig& c = service->options_.connector;

  std::shared_ptr<v1::Transform::Stub> stub =
      v1::Transform::NewStub(service->options_.transform_channel);
  pipeline::StreamClientOptions stream_options;
  stream_options.name = c.name() + ": ingest->transform";
  stream_options.max_unacked_bytes = service->options_.max_unacked_bytes;
  IngestService* self = service.get();
  service->stream_ = std::make_unique<pipeline::StreamClient<v1::RecordBatch, v1::Ack>>(
      stream_options, [stub](grpc::ClientContext* ctx) { return stub->Convert(ctx); },
      [self](const v1::Ack& ack) { self->OnAck(ack); });

  ConsumerOptions consumer = service->options_.tuning;
  consumer.connector = c.name();
  consumer.group_id = c.consumer_group();
  consumer.topic = c.source_topic();
  consumer.start_from_earliest = c.initial_offset() != v1::INITIAL_OFFSET_LATEST;
  consumer.kafka_properties =
      kafka::Properties(c.kafka_properties().begin(), c.kafka_properties().end());
  for (const auto& [name, value] : service->options_.extra_kafka_properties) {
    consumer.kafka_properties[name] = value;
  }
  DeadLetterOptions dead_letter;
  dead_letter.connector = c.name();
  dead_letter.topic = c.topics().dead_letter_topic();
  dead_letter.kafka_properties = consumer.kafka_properties;
  if (consumer.gate != nullptr) {
    // Exactly-once: a record is dead-lettered once, also when its batch is read again.
    dead_letter.offset_topic = c.topics().offset_topic();
    dead_letter.consumer_group = c.consumer_group();
  }
  MCSINK_ASSIGN_OR_RETURN(service->dead_letters_,
                          DeadLetterQueue::Create(std::move(dead_letter), &service->metrics_));
  StatusPublisherOptions status;
  status.connector = c.name();
  status.topic = c.topics().status_topic();
  status.kafka_properties = consumer.kafka_properties;
  MCSINK_ASSIGN_OR_RETURN(service->status_, StatusPublisher::Create(std::move(status)));
  ResenderOptions resend;
  resend.connector = c.name();
  resend.kafka_properties = consumer.kafka_properties;
  MCSINK_ASSIGN_OR_RETURN(
      service->resender_,
      Resender::Create(
          std::move(resend), [self](v1::RecordBatch batch) { return self->Send(std::move(batch)); },
          [self](uint64_t batch_id, const absl::Status& why) {
            MCSINK_LOG(ERROR) << self->options_.connector.name() << ": batch " << batch_id
                              << " refused as FENCED was not sent again, so it stays "
                                 "unacknowledged until a restart or rebalance reads it again: "
                              << why;
            self->metrics_.OnFencedGiveUp();
          }));
  for (uint32_t i = 0; i < c.concurrency(); ++i) {
    MCSINK_ASSIGN_OR_RETURN(
        std::unique_ptr<ConsumerWorker> worker,
        ConsumerWorker::Create(consumer, service.get(), static_cast<int>(i), &service->metrics_));
    worker->SetObserver(service->status_.get());
    service->workers_.push_back(std::move(worker));
  }
  return service;
}

IngestService::~IngestService() { Stop(absl::ZeroDuration()); }

void IngestService::Start() {
  MCSINK_LOG(INFO) << options_.connector.name() << ": ingest starts " << workers_.size()
                   << " consumers of " << options_.connector.source_topic() << " in group "
                   << options_.connector.consumer_group();
  for (auto& w : workers_) w->Start();
}

void IngestService::Stop(absl::Duration drain) {
  if (stream_ == nullptr) return;
  const absl::Time deadline = absl::Now() + drain;
  // Consumers stop in parallel so one slow drain does not eat the others' time.
  std::vector<std::thread> stoppers;
  for (auto& w : workers_) {
    stoppers.emplace_back([&w, deadline] { w->Stop(deadline - absl::Now()); });
  }
  for (auto& t : stoppers) t.join();
  // It sends on the stream.
  resender_.reset();
  stream_->Close(std::max(absl::ZeroDuration(), deadline - absl::Now()));
  stream_.reset();
  dead_letters_.reset();
}

absl::Status IngestService::Send(v1::RecordBatch batch) {
  if (stream_->congested()) batch.set_flush_hint(true);
  return stream_->Send(std::move(batch));
}

ConsumerWorker* IngestService::WorkerOf(uint64_t batch_id) {
  const int index = ConsumerWorker::WorkerIndexOf(batch_id);
  if (index < 0 || index >= static_cast<int>(workers_.size())) {
    MCSINK_LOG(WARNING) << "ack for unknown batch " << batch_id;
    return nullptr;
  }
  return workers_[static_cast<size_t>(index)].get();
}

void IngestService::OnAck(const v1::Ack& ack) {
  ConsumerWorker* worker = WorkerOf(ack.batch_id());
  if (worker == nullptr) return;
  for (const v1::PartitionFailure& f : ack.stopped()) {
    worker->StopPartition(
        ack.batch_id(),
        {{f.topic(), f.partition()}, f.offset(), f.code() + ": " + f.message(), f.code()});
  }
  if (ack.failures().empty()) {
    worker->OnAck(ack.batch_id());
    return;
  }
  SplitFailures split = SplitFenced(ack);
  // The fenced part first: the worker must know of it before the other failures' handling
  // acknowledges the batch.
  if (split.any_fenced) {
    worker->OnFenced(ack.batch_id(), std::move(split.fenced), !split.others.empty(),
                     std::move(split.fenced_message));
  }
  if (!split.others.empty()) Fail(ack.batch_id(), split.others);
}

void IngestService::Resend(uint64_t batch_id, std::vector<v1::OffsetRange> ranges) {
  if (resender_ == nullptr) {
    MCSINK_LOG(WARNING) << options_.connector.name() << ": batch " << batch_id
                        << " refused as FENCED is not sent again: ingest is stopping";
    return;
  }
  resender_->Submit(batch_id, std::move(ranges));
}

void IngestService::DeadLetter(uint64_t batch_id, const std::string& topic,
                               const v1::KafkaRecord& record, const std::string& message) {
  v1::BatchFailure failure;
  failure.set_code(kRecordTooLarge);
  failure.set_message(message);
  v1::OffsetRange* range = failure.add_ranges();
  range->set_topic(topic);
  range->set_partition(record.partition());
  range->set_first_offset(record.offset());
  range->set_last_offset(record.offset());
  Fail(batch_id, {std::move(failure)}, &record);
}

void IngestService::Fail(uint64_t batch_id, const std::vector<v1::BatchFailure>& failures,
                         const v1::KafkaRecord* record) {
  ConsumerWorker* worker = WorkerOf(batch_id);
  if (worker == nullptr) return;
  if (options_.connector.failure_policy() == v1::FAILURE_POLICY_STOP) {
    // Stops come before the ack in the worker, so nothing at or past them is committed.
    for (const v1::BatchFailure& f : failures) {
      for (const v1::OffsetRange& r : f.ranges()) {
        worker->StopPartition(batch_id, {{r.topic(), r.partition()},
                                         r.first_offset(),
                                         f.code() + ": " + f.message(),
                                         f.code()});
      }
    }
    worker->OnAck(batch_id);
    return;
  }
  // Acknowledged once every failure's records are in the dead-letter topic.
  struct Outcome {
    std::atomic<int> left;
    std::atomic<bool> ok{true};
  };
  auto outcome = std::make_shared<Outcome>();
  outcome->left = static_cast<int>(failures.size());
  for (const v1::BatchFailure& f : failures) {
    MCSINK_LOG(WARNING) << options_.connector.name() << ": batch " << batch_id << ": " << f.code()
                        << ": " << f.message() << "; its records go to the dead-letter topic "
                        << dead_letters_->topic();
    auto done = [this, worker, batch_id, outcome, f](const absl::Status& status) {
      if (!status.ok()) {
        outcome->ok = false;
        MCSINK_LOG(ERROR) << options_.connector.name() << ": batch " << batch_id
                          << " stays unacknowledged (it is read again after a restart): " << status;
      } else {
        for (const v1::OffsetRange& r : f.ranges()) {
          status_->OnDeadLettered({r.topic(), r.partition()}, r.first_offset(), f.code(),
                                  f.message());
        }
      }
      if (--outcome->left > 0) return;
      if (outcome->ok) {
        worker->OnAck(batch_id);
      } else {
        metrics_.OnDeadLetterFailed();
      }
    };
    if (record != nullptr) {
      dead_letters_->SendRecord(f.ranges(0).topic(), *record, f.code(), f.message(), done);
    } else {
      dead_letters_->Submit(f, done);
    }
  }
}

std::vector<TopicPartition> IngestService::RestartStoppedPartitions() {
  std::vector<TopicPartition> restarted;
  for (auto& w : workers_) {
    for (TopicPartition& tp : w->RestartStopped()) restarted.push_back(std::move(tp));
  }
  if (!restarted.empty()) {
    MCSINK_LOG(INFO) << options_.connector.name() << ": restarting " << restarted.size()
                     << " stopped partitions";
  }
  return restarted;
}

std::vector<ConsumerStats> IngestService::stats() const {
  std::vector<ConsumerStats> out;
  for (const auto& w : workers_) out.push_back(w->stats());
  return out;
}

}  // namespace mcsink::ingest
