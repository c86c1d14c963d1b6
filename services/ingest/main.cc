// mcsink-ingest: consumes the connector's source topic in group connect-<name> and streams
// batches to transform; commits to Kafka only what came back acknowledged.
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "mcsink/common/grpc_server.h"
#include "mcsink/common/shutdown.h"
#include "mcsink/connection/connection.h"
#include "mcsink/connection/tunnel_backend.h"
#include "mcsink/controller/internal_topics.h"
#include "mcsink/ingest/ingest_service.h"
#include "mcsink/journal/journal_flags.h"
#include "mcsink/runtime/flags.h"
#include "mcsink/runtime/tls.h"

ABSL_FLAG(std::string, transform_address, "127.0.0.1:50052", "host:port of transform");
ABSL_FLAG(std::string, grpc_address, "127.0.0.1:50051", "host:port of gRPC health");
ABSL_FLAG(std::string, metrics_address, "127.0.0.1:9464", "host:port of /metrics");

namespace {

using mcsink::runtime::Check;

int Run() {
  auto base = mcsink::runtime::StartService(absl::GetFlag(FLAGS_metrics_address));
  if (!Check(base)) return 2;
  // The first service of a connector to start creates (or checks) its internal topics.
  auto admin = mcsink::kafka::Admin::Create(base->kafka);
  if (!Check(admin) || !Check(mcsink::controller::EnsureInternalTopics(**admin, base->config))) {
    return 1;
  }
  mcsink::ingest::IngestServiceOptions options;
  options.connector = base->config;
  options.extra_kafka_properties = base->kafka;
  auto transform_channel = mcsink::runtime::Dial(absl::GetFlag(FLAGS_transform_address));
  if (!Check(transform_channel)) return 2;
  options.transform_channel = *transform_channel;
  mcsink::runtime::ApplyIngestFlags(base->config.concurrency(), &options);
  // Exactly-once: each partition is claimed through the journal before it is consumed; upload
  // sessions a dead writer left pending are finished with MaxCompute.
  absl::StatusOr<mcsink::connection::Connection> target;
  std::unique_ptr<mcsink::connection::MaxComputeTunnelBackend> backend;
  if (mcsink::journal::ExactlyOnceEnabled()) {
    target = mcsink::connection::Connect(base->config.target());
    if (!Check(target)) return 1;
    backend = std::make_unique<mcsink::connection::MaxComputeTunnelBackend>(target->rest.get(),
                                                                            target->tunnel.get());
  }
  auto journal = mcsink::journal::JournalFromFlags(base->config, base->kafka, backend.get(),
                                                   base->registry.get());
  if (!Check(journal)) return 1;
  options.tuning.gate = journal->get();
  auto service = mcsink::ingest::IngestService::Create(options, *base->registry);
  if (!Check(service)) return 1;
  auto server = mcsink::runtime::StartGrpcServer({.address = absl::GetFlag(FLAGS_grpc_address)});
  if (!Check(server)) return 1;
  (*service)->Start();
  MCSINK_LOG(INFO) << "ingest running: health on port " << (*server)->port() << ", metrics on port "
                   << base->metrics->port();
  mcsink::runtime::ServeUntilShutdown("ingest", **server, [&] {
    (*service)->Stop(mcsink::runtime::DrainDeadline() - absl::Now());
  });
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "mcsink-ingest --connector_config=FILE --transform_address=HOST:PORT");
  absl::ParseCommandLine(argc, argv);
  mcsink::InitService();
  return Run();
}
