// mcsink-writer: takes rows from transform, writes them to MaxCompute upload sessions per pt and
// acknowledges them once committed.
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "mcsink/common/grpc_server.h"
#include "mcsink/common/shutdown.h"
#include "mcsink/connection/connection.h"
#include "mcsink/connection/tunnel_backend.h"
#include "mcsink/journal/journal_flags.h"
#include "mcsink/runtime/flags.h"
#include "mcsink/runtime/tls.h"
#include "mcsink/writer/writer_service.h"

ABSL_FLAG(std::string, grpc_address, "127.0.0.1:50053", "host:port this service listens on");
ABSL_FLAG(std::string, metrics_address, "127.0.0.1:9466", "host:port of /metrics");

namespace {

using mcsink::runtime::Check;

int Run() {
  auto base = mcsink::runtime::StartService(absl::GetFlag(FLAGS_metrics_address));
  if (!Check(base)) return 2;
  auto target = mcsink::connection::Connect(base->config.target());
  if (!Check(target)) return 1;
  const std::string& table = base->config.target().table();
  mcsink::connection::MaxComputeTunnelBackend backend(target->rest.get(), target->tunnel.get());
  mcsink::writer::WriterMetrics writer_metrics(*base->registry, base->config.name(), table);
  // Exactly-once: journal each commit; ingest (which claims partitions) resolves what is pending.
  auto journal =
      mcsink::journal::JournalFromFlags(base->config, base->kafka, nullptr, base->registry.get());
  if (!Check(journal)) return 1;
  auto service = mcsink::writer::WriterService::Create(
      mcsink::runtime::WriterOptionsFromFlags(table), &backend,
      {.journal = journal->get(), .metrics = &writer_metrics});
  if (!Check(service)) return 1;
  auto server = mcsink::runtime::StartGrpcServer(
      {.address = absl::GetFlag(FLAGS_grpc_address),
       .services = {{service->get(), mcsink::v1::Writer::service_full_name()}}});
  if (!Check(server)) return 1;
  MCSINK_LOG(INFO) << "writer serving on port " << (*server)->port() << ", metrics on port "
                   << base->metrics->port();
  mcsink::runtime::ServeUntilShutdown(
      "writer", **server, [&] { Check((*service)->Drain(mcsink::runtime::DrainDeadline())); });
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("mcsink-writer --connector_config=FILE");
  absl::ParseCommandLine(argc, argv);
  mcsink::InitService();
  return Run();
}
