// The MaxCompute-compatible service: REST metadata, SQL instances, Tunnel upload/download/stream
// and STS AssumeRole on one HTTP port (maxcompute-protocol.md §8). Requests go to Handle(); the
// HttpServer in main() (or a test) feeds it.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "mclocal/faults.h"
#include "mclocal/http_server.h"
#include "mclocal/storage.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace mclocal {

enum class AuthMode { kPermissive, kStrict };

// A key mclocal accepts in strict mode. With a security token the key is an STS key and
// requests must carry the same token in `authorization-sts-token`.
struct AccessKey {
  std::string id;
  std::string secret;
  std::string security_token;
  std::optional<absl::Time> expiration;
};

// Keys file: one key per line, `<access key id> <secret> [<security token>]`, whitespace
// separated; blank lines and lines starting with # are ignored.
absl::StatusOr<std::vector<AccessKey>> ParseKeysFile(std::string_view content,
                                                     std::string_view source);

struct ServerOptions {
  AuthMode auth = AuthMode::kPermissive;
  std::vector<AccessKey> keys;
  absl::Duration max_clock_skew = absl::Minutes(15);
  // host:port given to clients as the tunnel endpoint and stream slot address.
  std::string advertised_address;
  // Largest decompressed block or stream pack.
  size_t max_block_bytes = size_t{1} << 30;
  // Largest number of rows a SELECT returns (COUNT(*) counts all).
  int64_t max_result_rows = 10000;
  absl::Duration sts_duration = absl::Hours(1);
  // Upload, download and stream sessions (and finished SQL instances) are forgotten after this.
  absl::Duration session_ttl = absl::Hours(24);
};

class Server {
 public:
  static absl::StatusOr<std::unique_ptr<Server>> Create(
      ServerOptions options, std::unique_ptr<Storage> storage,
      std::shared_ptr<prometheus::Registry> registry);
  ~Server();

  HttpResponse Handle(HttpRequest& request);

  FaultInjector& faults() { return faults_; }
  void set_advertised_address(std::string address);

  struct Impl;

 private:
  Server() = default;
  std::unique_ptr<Impl> impl_;
  FaultInjector faults_;
};

}  // namespace mclocal
