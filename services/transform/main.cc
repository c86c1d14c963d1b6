// mcsink-transform: converts RecordBatches from ingest into rows of the target table and streams
// them to the writer; records that fail go to the error topic.
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "mcsink/common/grpc_server.h"
#include "mcsink/common/shutdown.h"
#include "mcsink/connection/connection.h"
#include "mcsink/runtime/flags.h"
#include "mcsink/runtime/tls.h"
#include "mcsink/transform/transform_service.h"

ABSL_FLAG(std::string, writer_address, "127.0.0.1:50053", "host:port of the writer");
ABSL_FLAG(std::string, grpc_address, "127.0.0.1:50052", "host:port this service listens on");
ABSL_FLAG(std::string, metrics_address, "127.0.0.1:9465", "host:port of /metrics");

namespace {

using mcsink::runtime::Check;

int Run() {
  auto base = mcsink::runtime::StartService(absl::GetFlag(FLAGS_metrics_address));
  if (!Check(base)) return 2;
  auto target = mcsink::connection::Connect(base->config.target());
  if (!Check(target)) return 1;
  mcsink::transform::TransformServiceOptions options;
  options.connector = base->config;
  options.schema = target->schema;
  options.kafka_properties = base->kafka;
  auto writer_channel = mcsink::runtime::Dial(absl::GetFlag(FLAGS_writer_address));
  if (!Check(writer_channel)) return 2;
  options.writer_channel = *writer_channel;
  options.max_unacked_bytes = mcsink::runtime::TransformUnackedBytesFromFlags();
  auto service = mcsink::transform::TransformService::Create(options, *base->registry);
  if (!Check(service)) return 1;
  auto server = mcsink::runtime::StartGrpcServer(
      {.address = absl::GetFlag(FLAGS_grpc_address),
       .services = {{service->get(), mcsink::v1::Transform::service_full_name()}}});
  if (!Check(server)) return 1;
  MCSINK_LOG(INFO) << "transform serving on port " << (*server)->port() << ", metrics on port "
                   << base->metrics->port();
  mcsink::runtime::ServeUntilShutdown("transform", **server, [&] {
    (*service)->Stop(mcsink::runtime::DrainDeadline() - absl::Now());
  });
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "mcsink-transform --connector_config=FILE --writer_address=HOST:PORT");
  absl::ParseCommandLine(argc, argv);
  mcsink::InitService();
  return Run();
}
