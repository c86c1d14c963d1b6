#include "mcsink/runtime/service_part.h"

#include <algorithm>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "mcsink/common/grpc_server.h"
#include "mcsink/common/log.h"
#include "mcsink/common/metrics_server.h"
#include "mcsink/common/shutdown.h"
#include "mcsink/common/status.h"
#include "mcsink/config/connector_config.h"
#include "mcsink/config/secrets.h"
#include "mcsink/connection/connection.h"
#include "mcsink/connection/tunnel_backend.h"
#include "mcsink/controller/internal_topics.h"
#include "mcsink/ingest/ingest_service.h"
#include "mcsink/journal/journal_flags.h"
#include "mcsink/kafka/admin.h"
#include "mcsink/runtime/agent.h"
#include "mcsink/runtime/flags.h"
#include "mcsink/runtime/tls.h"
#include "mcsink/transform/transform_service.h"
#include "mcsink/writer/writer_service.h"

namespace mcsink::runtime {
namespace {

const char* RoleName(ServiceRole role) {
  switch (role) {
    case ServiceRole::kIngest:
      return "ingest";
    case ServiceRole::kTransform:
      return "transform";
    case ServiceRole::kWriter:
      return "writer";
  }
  return "service";
}

absl::Duration Remaining(absl::Time deadline) {
  return std::max(absl::ZeroDuration(), deadline - absl::Now());
}

// `address` (host:port) with its port replaced by `port`.
std::string WithPort(const std::string& address, int port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return address;
  return absl::StrCat(address.substr(0, colon + 1), port);
}

}  // namespace

// In start order; members are destroyed in reverse, so each part goes before what it uses.
// Which members are set depends on the role.
struct ServicePart::Parts {
  ServiceRole role = ServiceRole::kIngest;
  v1::ConnectorConfig config;
  kafka::Properties kafka;
  std::optional<connection::Connection> target;
  std::unique_ptr<connection::MaxComputeTunnelBackend> backend;
  std::unique_ptr<journal::KafkaJournal> journal;
  std::unique_ptr<writer::WriterMetrics> writer_metrics;
  std::unique_ptr<writer::WriterService> writer;
  std::unique_ptr<transform::TransformService> transform;
  std::unique_ptr<GrpcServer> server;  // transform's or the writer's
  std::unique_ptr<ingest::IngestService> ingest;
  absl::Mutex mu;
  bool stopped ABSL_GUARDED_BY(mu) = false;
};

ServicePart::ServicePart(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

ServicePart::~ServicePart() { Stop(absl::Now()); }

int ServicePart::port() const { return parts_->server != nullptr ? parts_->server->port() : 0; }

absl::StatusOr<std::unique_ptr<ServicePart>> ServicePart::Start(const ServicePartOptions& options,
                                                                const v1::ConnectorConfig& config,
                                                                prometheus::Registry& registry) {
  auto parts = std::make_unique<Parts>();
  Parts& p = *parts;
  p.role = options.role;
  p.config = config;
  MCSINK_ASSIGN_OR_RETURN(p.kafka, config::KafkaPropertiesFor(config));
  switch (options.role) {
    case ServiceRole::kIngest: {
      // The first service of a connector to start creates (or checks) its internal topics.
      MCSINK_ASSIGN_OR_RETURN(auto admin, kafka::Admin::Create(p.kafka));
      MCSINK_RETURN_IF_ERROR(controller::EnsureInternalTopics(*admin, config));
      ingest::IngestServiceOptions ingest_options;
      ingest_options.connector = config;
      ingest_options.extra_kafka_properties = p.kafka;
      MCSINK_ASSIGN_OR_RETURN(ingest_options.transform_channel, Dial(options.downstream_address));
      ApplyIngestFlags(config.concurrency(), &ingest_options);
      // Exactly-once: each partition is claimed through the journal before it is consumed;
      // upload sessions a dead writer left pending are finished with MaxCompute.
      if (journal::ExactlyOnceEnabled()) {
        MCSINK_ASSIGN_OR_RETURN(p.target, connection::Connect(config.target()));
        p.backend = std::make_unique<connection::MaxComputeTunnelBackend>(p.target->rest.get(),
                                                                          p.target->tunnel.get());
      }
      MCSINK_ASSIGN_OR_RETURN(
          p.journal, journal::JournalFromFlags(config, p.kafka, p.backend.get(), &registry));
      ingest_options.tuning.gate = p.journal.get();
      MCSINK_ASSIGN_OR_RETURN(p.ingest, ingest::IngestService::Create(ingest_options, registry));
      p.ingest->Start();
      break;
    }
    case ServiceRole::kTransform: {
      MCSINK_ASSIGN_OR_RETURN(p.target, connection::Connect(config.target()));
      transform::TransformServiceOptions transform_options;
      transform_options.connector = config;
      transform_options.schema = p.target->schema;
      transform_options.exactly_once = journal::ExactlyOnceEnabled();
      transform_options.kafka_properties = p.kafka;
      MCSINK_ASSIGN_OR_RETURN(transform_options.writer_channel, Dial(options.downstream_address));
      transform_options.max_unacked_bytes = TransformUnackedBytesFromFlags();
      MCSINK_ASSIGN_OR_RETURN(p.transform,
                              transform::TransformService::Create(transform_options, registry));
      MCSINK_ASSIGN_OR_RETURN(
          p.server,
          StartGrpcServer({.address = options.grpc_address,
                           .services = {{p.transform.get(), v1::Transform::service_full_name()}}}));
      break;
    }
    case ServiceRole::kWriter: {
      MCSINK_ASSIGN_OR_RETURN(p.target, connection::Connect(config.target()));
      const std::string& table = config.target().table();
      p.backend = std::make_unique<connection::MaxComputeTunnelBackend>(p.target->rest.get(),
                                                                        p.target->tunnel.get());
      p.writer_metrics = std::make_unique<writer::WriterMetrics>(registry, config.name(), table);
      // Exactly-once: journal each commit; the backend finishes pending sessions holding a
      // redelivered batch (ingest, which claims partitions, resolves the rest).
      MCSINK_ASSIGN_OR_RETURN(
          p.journal, journal::JournalFromFlags(config, p.kafka, p.backend.get(), &registry));
      MCSINK_ASSIGN_OR_RETURN(p.writer,
                              writer::WriterService::Create(
                                  WriterOptionsFromFlags(table), p.backend.get(),
                                  {.journal = p.journal.get(), .metrics = p.writer_metrics.get()}));
      MCSINK_ASSIGN_OR_RETURN(
          p.server,
          StartGrpcServer({.address = options.grpc_address,
                           .services = {{p.writer.get(), v1::Writer::service_full_name()}}}));
      break;
    }
  }
  MCSINK_LOG(INFO) << RoleName(options.role) << " of connector " << config.name() << " running"
                   << (p.server != nullptr ? absl::StrCat(" on port ", p.server->port()) : "");
  return std::unique_ptr<ServicePart>(new ServicePart(std::move(parts)));
}

void ServicePart::Stop(absl::Time deadline) {
  Parts& p = *parts_;
  absl::MutexLock lock(&p.mu);
  if (p.stopped) return;
  p.stopped = true;
  if (p.server != nullptr) p.server->SetServing(false);
  if (p.ingest != nullptr) {
    p.ingest->Stop(Remaining(deadline));
    // Consumers have left the group.
    p.ingest.reset();
  }
  if (p.transform != nullptr) p.transform->Stop(Remaining(deadline));
  if (p.writer != nullptr) {
    if (absl::Status s = p.writer->Drain(deadline); !s.ok()) {
      MCSINK_LOG(ERROR) << "writer of connector " << p.config.name() << ": " << s;
    }
  }
  if (p.server != nullptr) p.server->Shutdown(absl::Seconds(1));
  MCSINK_LOG(INFO) << RoleName(p.role) << " of connector " << p.config.name() << " stopped";
}

absl::Status ServicePart::RestartStoppedPartitions() {
  Parts& p = *parts_;
  absl::MutexLock lock(&p.mu);
  if (p.stopped || p.ingest == nullptr) return absl::OkStatus();  // no partitions of its own
  const std::vector<ingest::TopicPartition> restarted = p.ingest->RestartStoppedPartitions();
  MCSINK_LOG(INFO) << "ingest of connector " << p.config.name() << ": " << restarted.size()
                   << " stopped partitions consume again";
  return absl::OkStatus();
}

int RunSplitService(ServicePartOptions options) {
  const std::string name = RoleName(options.role);
  auto registry = std::make_shared<prometheus::Registry>();
  auto metrics = MetricsServer::Start(options.metrics_address, registry);
  if (!Check(metrics)) return 1;
  // Ingest serves no API: its health service lives as long as the process.
  std::unique_ptr<GrpcServer> health;
  if (options.role == ServiceRole::kIngest) {
    auto server = StartGrpcServer({.address = options.grpc_address});
    if (!Check(server)) return 1;
    health = std::move(*server);
  }
  // Every start of the part binds the port the first one had, so that a restart (config
  // change, restart generation) does not move it away from its clients when it was port 0.
  auto start =
      [&options, &registry](
          const v1::ConnectorConfig& config) -> absl::StatusOr<std::unique_ptr<RunningConnector>> {
    MCSINK_ASSIGN_OR_RETURN(const v1::ConnectorConfig normalized, config::Normalize(config));
    MCSINK_ASSIGN_OR_RETURN(auto part, ServicePart::Start(options, normalized, *registry));
    if (part->port() != 0) options.grpc_address = WithPort(options.grpc_address, part->port());
    return std::unique_ptr<RunningConnector>(std::move(part));
  };

  const std::string controller = absl::GetFlag(FLAGS_controller_address);
  std::unique_ptr<RunningConnector> part;
  std::unique_ptr<Agent> agent;
  if (!absl::GetFlag(FLAGS_connector_config).empty() || controller.empty()) {
    auto config = config::LoadJsonFile(absl::GetFlag(FLAGS_connector_config));
    if (!Check(config)) return 2;
    auto started = start(*config);
    if (!Check(started)) return 1;
    part = std::move(*started);
  } else {
    const std::string connector = absl::GetFlag(FLAGS_connector);
    if (connector.empty()) {
      MCSINK_LOG(ERROR) << "--controller_address needs --connector: which connector's " << name
                        << " this is";
      return 2;
    }
    auto token = ControllerClientToken();
    if (!Check(token)) return 2;
    auto channel = Dial(controller);
    if (!Check(channel)) return 2;
    AgentOptions agent_options{.controller = *channel,
                               .token = *token,
                               .connector = connector,
                               .start = start,
                               .registry = registry.get(),
                               .drain = absl::Seconds(absl::GetFlag(FLAGS_drain_seconds))};
    if (options.role == ServiceRole::kIngest) {
      agent_options.report = nullptr;  // the default: the connector's status topic
    } else {
      // Ingest reports the connector's state; one reporter keeps the state from flapping.
      agent_options.report = [](const v1::ConnectorConfig&, const v1::ConnectorStatus&) {
        return absl::OkStatus();
      };
      agent_options.stop_when_paused = false;
    }
    agent = Agent::Start(std::move(agent_options));
    MCSINK_LOG(INFO) << name << ": following connector " << connector << " of the controller at "
                     << controller;
  }
  // Tools read the ports from this line (e.g. tests/deploy/promharness.py): "<name> serving on
  // port N, metrics on port M", ingest: "health on port N, ..."; following a controller,
  // transform and the writer serve only while their part runs, on the port the part logs.
  const int port = health != nullptr ? health->port()
                   : part != nullptr ? static_cast<ServicePart*>(part.get())->port()
                                     : 0;
  MCSINK_LOG(INFO) << name << " running: "
                   << (port == 0 ? ""
                                 : absl::StrCat(health != nullptr ? "health" : "serving",
                                                " on port ", port, ", "))
                   << "metrics on port " << (*metrics)->port();
  const auto signal = WaitForShutdownSignal();
  MCSINK_LOG(INFO) << name << ": signal " << signal.value_or(0) << ", draining";
  if (health != nullptr) health->SetServing(false);
  if (agent != nullptr) agent->Stop(DrainDeadline());
  if (part != nullptr) part->Stop(DrainDeadline());
  if (health != nullptr) health->Shutdown(absl::Seconds(1));
  MCSINK_LOG(INFO) << name << " stopped";
  return 0;
}

}  // namespace mcsink::runtime
