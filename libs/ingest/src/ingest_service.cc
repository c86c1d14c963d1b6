#include "mcsink/ingest/ingest_service.h"

#include "mcsink/common/log.h"
#include "mcsink/common/status.h"

namespace mcsink::ingest {

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
  for (uint32_t i = 0; i < c.concurrency(); ++i) {
    MCSINK_ASSIGN_OR_RETURN(
        std::unique_ptr<ConsumerWorker> worker,
        ConsumerWorker::Create(consumer, service.get(), static_cast<int>(i), &service->metrics_));
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
  stream_->Close(std::max(absl::ZeroDuration(), deadline - absl::Now()));
  stream_.reset();
}

absl::Status IngestService::Send(v1::RecordBatch batch) { return stream_->Send(std::move(batch)); }

void IngestService::OnAck(const v1::Ack& ack) {
  const int index = ConsumerWorker::WorkerIndexOf(ack.batch_id());
  if (index < 0 || index >= static_cast<int>(workers_.size())) {
    MCSINK_LOG(WARNING) << "ack for unknown batch " << ack.batch_id();
    return;
  }
  ConsumerWorker& worker = *workers_[static_cast<size_t>(index)];
  for (const v1::PartitionFailure& f : ack.stopped()) {
    worker.StopPartition({{f.topic(), f.partition()}, f.offset(), f.code() + ": " + f.message()});
  }
  worker.OnAck(ack.batch_id());
}

std::vector<ConsumerStats> IngestService::stats() const {
  std::vector<ConsumerStats> out;
  for (const auto& w : workers_) out.push_back(w->stats());
  return out;
}

}  // namespace mcsink::ingest
