// The services' transport security flags, declared once: --tls_cert_file, --tls_key_file,
// --tls_ca_file (TLS on the gRPC port and on every channel a service dials; with a CA, mutual
// TLS) and --health_address (a plaintext port with only the gRPC health service, for probes that
// cannot speak TLS). All unset: plaintext, as without them.
#pragma once

#include <memory>
#include <string>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "mcsink/common/grpc_server.h"
#include "mcsink/common/tls.h"

ABSL_DECLARE_FLAG(std::string, tls_cert_file);
ABSL_DECLARE_FLAG(std::string, tls_key_file);
ABSL_DECLARE_FLAG(std::string, tls_ca_file);
ABSL_DECLARE_FLAG(std::string, health_address);

namespace mcsink::runtime {

// The TLS flags with their files read and checked. The files are read on the first call (at
// start, after flag parsing) and the result is kept: later calls return the same.
const absl::StatusOr<TlsConfig>& TlsFromFlags();

// GrpcServer::Start with `options` secured by the TLS flags and the health port of
// --health_address. A service's server is always started through this.
absl::StatusOr<std::unique_ptr<GrpcServer>> StartGrpcServer(GrpcServerOptions options);

// A channel to another mcsink service at `address`, secured by the TLS flags. Fails only when
// the TLS files cannot be used. In-process channels do not need this.
absl::StatusOr<std::shared_ptr<grpc::Channel>> Dial(const std::string& address);

}  // namespace mcsink::runtime
