#include "mcsink/runtime/tls.h"

#include "absl/flags/flag.h"
#include "mcsink/common/status.h"

ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM certificate chain: serve gRPC over TLS with it and present it to the services "
          "this one dials (needs --tls_key_file); empty: plaintext");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key of --tls_cert_file");
ABSL_FLAG(std::string, tls_ca_file, "",
          "PEM CA bundle: verify the services this one dials with it, and require client "
          "certificates signed by it (mutual TLS); empty: the system roots, no client "
          "certificates");
ABSL_FLAG(std::string, health_address, "",
          "host:port of a plaintext port with only the gRPC health service, for probes that "
          "cannot speak TLS (the kubelet's gRPC probe); empty: none");

namespace mcsink::runtime {

const absl::StatusOr<TlsConfig>& TlsFromFlags() {
  // Read once: a process keeps the certificate it started with (restart to rotate).
  static const absl::StatusOr<TlsConfig> config = [] {
    const absl::StatusOr<TlsConfig> loaded = TlsConfig::Load({
        .cert_file = absl::GetFlag(FLAGS_tls_cert_file),
        .key_file = absl::GetFlag(FLAGS_tls_key_file),
        .ca_file = absl::GetFlag(FLAGS_tls_ca_file),
    });
    if (loaded.ok()) return loaded;
    return absl::StatusOr<TlsConfig>(Annotate(loaded.status(), "TLS flags"));
  }();
  return config;
}

absl::StatusOr<std::unique_ptr<GrpcServer>> StartGrpcServer(GrpcServerOptions options) {
  const auto& tls = TlsFromFlags();
  if (!tls.ok()) return tls.status();
  if (tls->enabled() && !tls->has_certificate()) {
    return absl::InvalidArgumentError(
        "--tls_ca_file is set without --tls_cert_file and --tls_key_file: a service needs a "
        "certificate to serve TLS");
  }
  options.tls = *tls;
  options.health_address = absl::GetFlag(FLAGS_health_address);
  return GrpcServer::Start(options);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> Dial(const std::string& address) {
  const auto& tls = TlsFromFlags();
  if (!tls.ok()) return tls.status();
  return CreateChannel(address, *tls);
}

}  // namespace mcsink::runtime
