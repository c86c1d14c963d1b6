// From a connector's target (proto MaxComputeTarget) to working MaxCompute clients: credentials
// (an AccessKey by reference, or a RAM role assumed through STS), the REST client, the Tunnel
// client (configured or discovered endpoint) and the table's schema.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "mcsink/maxcompute/types.h"
#include "mcsink/maxcompute_client/credentials.h"
#include "mcsink/maxcompute_client/rest_client.h"
#include "mcsink/maxcompute_client/tunnel_client.h"
#include "mcsink/v1/connector.pb.h"

namespace mcsink::connection {

// Reads an AccessKey from two references on every Get(), so rotated secrets take effect.
class SecretRefCredentialsProvider final : public maxcompute_client::CredentialsProvider {
 public:
  SecretRefCredentialsProvider(v1::SecretRef id, v1::SecretRef secret);
  absl::StatusOr<maxcompute_client::Credentials> Get() override;

 private:
  const v1::SecretRef id_;
  const v1::SecretRef secret_;
};

// The AccessKey given by reference, or the environment's ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET;
// with account_id and role_name, the RAM role assumed with that AccessKey.
absl::StatusOr<std::shared_ptr<maxcompute_client::CredentialsProvider>> CredentialsFor(
    const v1::MaxComputeTarget& target);

// MaxCompute's column list as our schema types.
absl::StatusOr<maxcompute::TableSchema> ToTableSchema(const maxcompute_client::TableInfo& table);

struct Connection {
  std::shared_ptr<maxcompute_client::CredentialsProvider> credentials;
  std::unique_ptr<maxcompute_client::RestClient> rest;
  std::unique_ptr<maxcompute_client::TunnelClient> tunnel;
  maxcompute::TableSchema schema;  // of target.table
};

// Opens clients for `target` and describes its table (NotFound when the table is missing).
absl::StatusOr<Connection> Connect(const v1::MaxComputeTarget& target);

}  // namespace mcsink::connection
