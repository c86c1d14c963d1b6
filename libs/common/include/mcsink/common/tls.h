// Transport security for gRPC between mcsink processes: TLS from PEM files read once at start,
// and the one place where mcsink makes client channels (plaintext or TLS).
//
// One set of files serves both directions: a service presents the same certificate as a server
// and, for mutual TLS, as a client (so the certificate needs both the serverAuth and clientAuth
// usages, or neither), and the CA bundle verifies its peers either way.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"

namespace mcsink {

struct TlsFiles {
  std::string cert_file;  // PEM certificate chain this process presents, leaf first
  std::string key_file;   // PEM private key of cert_file's leaf (not encrypted)
  // PEM CA bundle that verifies peers. On a server it also makes clients present a certificate
  // signed by it (mutual TLS). A client without it verifies servers against the system roots.
  std::string ca_file;
};

// What the files hold, checked (each file is PEM of the right kind, the key belongs to the
// certificate, the certificate has not expired). Default-constructed: plaintext.
class TlsConfig {
 public:
  TlsConfig() = default;
  // Reads and checks `files`; all empty means plaintext. Errors name the file and what is wrong.
  // Certificate and key go together; a CA file alone is enough for a client.
  static absl::StatusOr<TlsConfig> Load(const TlsFiles& files);

  bool enabled() const { return enabled_; }
  // Whether there is a certificate to present (needed to serve).
  bool has_certificate() const { return !cert_pem_.empty(); }
  // Whether peers are verified against our own CA (and, on a server, must present certificates).
  bool verifies_peers() const { return !ca_pem_.empty(); }
  const TlsFiles& files() const { return files_; }

  // Credentials to serve with: TLS with the certificate (and mutual TLS with a CA file), or
  // plaintext when not enabled. Requires has_certificate() when enabled.
  std::shared_ptr<grpc::ServerCredentials> ServerCredentials() const;
  // Credentials to dial with: TLS verifying the server (presenting the certificate when there
  // is one), or plaintext when not enabled.
  std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials() const;

 private:
  bool enabled_ = false;
  TlsFiles files_;
  std::string cert_pem_;
  std::string key_pem_;
  std::string ca_pem_;
};

// A channel to `address` (host:port, or any gRPC target) secured by `tls`. With TLS the server's
// certificate must name the host of `address` (DNS or IP subject alternative name).
std::shared_ptr<grpc::Channel> CreateChannel(const std::string& address, const TlsConfig& tls);

}  // namespace mcsink
