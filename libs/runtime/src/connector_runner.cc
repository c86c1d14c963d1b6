#include "mcsink/runtime/connector_runner.h"

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "mcsink/common/log.h"
#include "mcsink/common/status.h"
#include "mcsink/config/secrets.h"
#include "mcsink/connection/connection.h"
#include "mcsink/connection/tunnel_backend.h"
#include "mcsink/controller/internal_topics.h"
#include "mcsink/ingest/ingest_service.h"
#include "mcsink/journal/journal_flags.h"
#include "mcsink/kafka/admin.h"
#include "mcsink/runtime/flags.h"
#include "mcsink/runtime/tls.h"
#include "mcsink/transform/transform_service.h"
#include "mcsink/writer/writer_service.h"

namespace mcsink::runtime {

// In start order; members are destroyed in reverse, so each part goes before what it uses.
struct ConnectorRunner::Parts {
  v1::ConnectorConfig config;
  kafka::Properties kafka;
  connection::Connection target;
  std::unique_ptr<connection::MaxComputeTunnelBackend> backend;
  std::unique_ptr<journal::KafkaJournal> journal;  // null with --exactly_once=false
  std::unique_ptr<writer::WriterMetrics> writer_metrics;
  std::unique_ptr<writer::WriterService> writer;
  std::unique_ptr<GrpcServer> writer_server;
  std::unique_ptr<transform::TransformService> transform;
  std::unique_ptr<GrpcServer> server;
  std::unique_ptr<ingest::IngestService> ingest;
};

ConnectorRunner::ConnectorRunner(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

ConnectorRunner::~ConnectorRunner() { Stop(absl::Now()); }

const v1::ConnectorConfig& ConnectorRunner::config() const { return parts_->config; }
int ConnectorRunner::transform_port() const { return parts_->server->port(); }

absl::StatusOr<std::unique_ptr<ConnectorRunner>> ConnectorRunner::Start(
    ConnectorRunnerOptions options) {
  auto parts = std::make_unique<Parts>();
  Parts& p = *parts;
  p.config = std::move(options.config);
  const v1::ConnectorConfig& config = p.config;
  prometheus::Registry& registry = *options.registry;
  MCSINK_ASSIGN_OR_RETURN(p.kafka, config::KafkaPropertiesFor(config));
  // Deploying a connector creates (or checks) its internal topics first.
  MCSINK_ASSIGN_OR_RETURN(auto admin, kafka::Admin::Create(p.kafka));
  MCSINK_RETURN_IF_ERROR(controller::EnsureInternalTopics(*admin, config));
  MCSINK_ASSIGN_OR_RETURN(p.target, connection::Connect(config.target()));

  // writer
  p.backend = std::make_unique<connection::MaxComputeTunnelBackend>(p.target.rest.get(),
                                                                    p.target.tunnel.get());
  // Exactly-once (docs/exactly-once.md): the writer journals its commits, ingest claims its
  // partitions through the same journal.
  MCSINK_ASSIGN_OR_RETURN(p.journal,
                          journal::JournalFromFlags(config, p.kafka, p.backend.get(), &registry));
  p.writer_metrics =
      std::make_unique<writer::WriterMetrics>(registry, config.name(), config.target().table());
  MCSINK_ASSIGN_OR_RETURN(p.writer,
                          writer::WriterService::Create(
                              WriterOptionsFromFlags(config.target().table()), p.backend.get(),
                              {.journal = p.journal.get(), .metrics = p.writer_metrics.get()}));
  MCSINK_ASSIGN_OR_RETURN(
      p.writer_server,
      GrpcServer::Start({.services = {{p.writer.get(), v1::Writer::service_full_name()}}}));

  // transform
  transform::TransformServiceOptions transform_options;
  transform_options.connector = config;
  transform_options.schema = p.target.schema;
  transform_options.exactly_once = journal::ExactlyOnceEnabled();
  transform_options.kafka_properties = p.kafka;
  transform_options.writer_channel = p.writer_server->InProcessChannel();
  transform_options.max_unacked_bytes = TransformUnackedBytesFromFlags();
  MCSINK_ASSIGN_OR_RETURN(p.transform,
                          transform::TransformService::Create(transform_options, registry));
  GrpcServerOptions server_options{
      .services = {{p.transform.get(), v1::Transform::service_full_name()}}};
  if (options.transform_address.empty()) {
    MCSINK_ASSIGN_OR_RETURN(p.server, GrpcServer::Start(server_options));
  } else {
    server_options.address = options.transform_address;
    MCSINK_ASSIGN_OR_RETURN(p.server, StartGrpcServer(server_options));
  }

  // ingest
  ingest::IngestServiceOptions ingest_options;
  ingest_options.connector = config;
  ingest_options.extra_kafka_properties = p.kafka;
  ingest_options.transform_channel = p.server->InProcessChannel();
  ApplyIngestFlags(config.concurrency(), &ingest_options);
  ingest_options.tuning.gate = p.journal.get();
  MCSINK_ASSIGN_OR_RETURN(p.ingest, ingest::IngestService::Create(ingest_options, registry));
  p.ingest->Start();
  MCSINK_LOG(INFO) << "connector " << config.name() << " running: " << config.source_topic()
                   << " -> " << config.target().project() << "." << config.target().table();
  return std::unique_ptr<ConnectorRunner>(new ConnectorRunner(std::move(parts)));
}

absl::Status ConnectorRunner::RestartStoppedPartitions() {
  absl::MutexLock lock(&mu_);
  if (stopped_) {
    return absl::FailedPreconditionError(
        absl::StrCat("connector ", parts_->config.name(), " is stopped"));
  }
  const std::vector<ingest::TopicPartition> restarted = parts_->ingest->RestartStoppedPartitions();
  MCSINK_LOG(INFO) << "connector " << parts_->config.name() << ": " << restarted.size()
                   << " stopped partitions consume again";
  return absl::OkStatus();
}

void ConnectorRunner::Stop(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (stopped_) return;
  stopped_ = true;
  Parts& p = *parts_;
  p.server->SetServing(false);
  // Ingest waits for acknowledgements of what it sent, so the writer commits early meanwhile.
  std::atomic<bool> ingest_stopped{false};
  std::thread stopper([&] {
    p.ingest->Stop(std::max(absl::ZeroDuration(), deadline - absl::Now()));
    ingest_stopped = true;
  });
  while (!ingest_stopped.load() && absl::Now() < deadline) {
    p.writer->Flush();
    absl::SleepFor(absl::Milliseconds(200));
  }
  stopper.join();
  p.transform->Stop(std::max(absl::ZeroDuration(), deadline - absl::Now()));
  if (absl::Status s = p.writer->Drain(deadline); !s.ok()) {
    MCSINK_LOG(ERROR) << "connector " << p.config.name() << ": " << s;
  }
  p.server->Shutdown(absl::Seconds(1));
  p.writer_server->Shutdown(absl::Seconds(1));
  // Consumers have left the group; nothing of the connector keeps running.
  p.ingest.reset();
  MCSINK_LOG(INFO) << "connector " << p.config.name() << " stopped";
}

}  // namespace mcsink::runtime
