// mcsink all-in-one: ingest, transform and writer for one connector in one process, joined by
// in-process gRPC channels: the same code as the split services, without the network hops.
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "mcsink/common/grpc_server.h"
#include "mcsink/common/log.h"
#include "mcsink/common/metrics_server.h"
#include "mcsink/common/shutdown.h"
#include "mcsink/config/connector_config.h"
#include "mcsink/config/secrets.h"
#include "mcsink/connection/connection.h"
#include "mcsink/connection/tunnel_backend.h"
#include "mcsink/controller/internal_topics.h"
#include "mcsink/ingest/ingest_service.h"
#include "mcsink/runtime/flags.h"
#include "mcsink/transform/transform_service.h"
#include "mcsink/writer/writer_service.h"

ABSL_FLAG(std::string, grpc_address, "127.0.0.1:50051", "host:port of the gRPC API");
ABSL_FLAG(std::string, metrics_address, "127.0.0.1:9464", "host:port of the Prometheus /metrics");

namespace {

using mcsink::runtime::Check;

// Without a connector the process serves health and /metrics only (until the controller, which
// will hand it connectors, joins the all-in-one process).
int RunIdle() {
  auto metrics = mcsink::MetricsServer::Start(absl::GetFlag(FLAGS_metrics_address),
                                              std::make_shared<prometheus::Registry>());
  if (!Check(metrics)) return 1;
  auto server = mcsink::GrpcServer::Start({.address = absl::GetFlag(FLAGS_grpc_address)});
  if (!Check(server)) return 1;
  MCSINK_LOG(INFO) << "mcsink without a connector (--connector_config): gRPC on port "
                   << (*server)->port() << ", metrics on port " << (*metrics)->port();
  mcsink::WaitForShutdownSignal();
  (*server)->Shutdown(absl::Seconds(1));
  return 0;
}

int Run() {
  if (absl::GetFlag(FLAGS_connector_config).empty()) return RunIdle();
  auto base = mcsink::runtime::StartService(absl::GetFlag(FLAGS_metrics_address));
  if (!Check(base)) return 2;
  const mcsink::v1::ConnectorConfig* config = &base->config;
  const mcsink::kafka::Properties* kafka = &base->kafka;
  prometheus::Registry* registry = base->registry.get();
  // Deploying a connector creates (or checks) its internal topics first.
  auto admin = mcsink::kafka::Admin::Create(*kafka);
  if (!Check(admin)) return 1;
  if (!Check(mcsink::controller::EnsureInternalTopics(**admin, *config))) return 1;
  auto target = mcsink::connection::Connect(config->target());
  if (!Check(target)) return 1;

  // writer
  mcsink::connection::MaxComputeTunnelBackend backend(target->rest.get(), target->tunnel.get());
  mcsink::writer::WriterMetrics writer_metrics(*registry, config->name(), config->target().table());
  auto writer = mcsink::writer::WriterService::Create(
      mcsink::runtime::WriterOptionsFromFlags(config->target().table()), &backend,
      {.metrics = &writer_metrics});
  if (!Check(writer)) return 1;
  auto writer_server = mcsink::GrpcServer::Start(
      {.services = {{writer->get(), mcsink::v1::Writer::service_full_name()}}});
  if (!Check(writer_server)) return 1;

  // transform, on the public port with health and reflection
  mcsink::transform::TransformServiceOptions transform_options;
  transform_options.connector = *config;
  transform_options.schema = target->schema;
  transform_options.kafka_properties = *kafka;
  transform_options.writer_channel = (*writer_server)->InProcessChannel();
  transform_options.max_unacked_bytes = mcsink::runtime::TransformUnackedBytesFromFlags();
  auto transform = mcsink::transform::TransformService::Create(transform_options, *registry);
  if (!Check(transform)) return 1;
  auto server = mcsink::GrpcServer::Start(
      {.address = absl::GetFlag(FLAGS_grpc_address),
       .services = {{transform->get(), mcsink::v1::Transform::service_full_name()}}});
  if (!Check(server)) return 1;

  // ingest
  mcsink::ingest::IngestServiceOptions ingest_options;
  ingest_options.connector = *config;
  ingest_options.extra_kafka_properties = *kafka;
  ingest_options.transform_channel = (*server)->InProcessChannel();
  mcsink::runtime::ApplyIngestFlags(config->concurrency(), &ingest_options);
  auto ingest = mcsink::ingest::IngestService::Create(ingest_options, *registry);
  if (!Check(ingest)) return 1;
  (*ingest)->Start();
  MCSINK_LOG(INFO) << "mcsink " << config->name() << ": " << config->source_topic() << " -> "
                   << config->target().project() << "." << config->target().table()
                   << "; gRPC on port " << (*server)->port() << ", metrics on port "
                   << base->metrics->port();

  const auto signal = mcsink::WaitForShutdownSignal();
  MCSINK_LOG(INFO) << "signal " << signal.value_or(0) << ": draining";
  (*server)->SetServing(false);
  const absl::Time deadline = mcsink::runtime::DrainDeadline();
  // Ingest waits for acknowledgements of what it sent, so the writer commits early meanwhile.
  std::atomic<bool> ingest_stopped{false};
  std::thread stopper([&] {
    (*ingest)->Stop(deadline - absl::Now());
    ingest_stopped = true;
  });
  while (!ingest_stopped.load() && absl::Now() < deadline) {
    (*writer)->Flush();
    absl::SleepFor(absl::Milliseconds(200));
  }
  stopper.join();
  (*transform)->Stop(std::max(absl::ZeroDuration(), deadline - absl::Now()));
  Check((*writer)->Drain(deadline));
  (*server)->Shutdown(absl::Seconds(1));
  (*writer_server)->Shutdown(absl::Seconds(1));
  MCSINK_LOG(INFO) << "mcsink stopped";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "mcsink all-in-one: Kafka to MaxCompute sink connector\n  mcsink --connector_config=FILE");
  absl::ParseCommandLine(argc, argv);
  mcsink::InitService();
  return Run();
}
