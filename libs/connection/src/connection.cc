#include "mcsink/connection/connection.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "mcsink/common/status.h"
#include "mcsink/config/secrets.h"
#include "mcsink/maxcompute_client/sts.h"

namespace mcsink::connection {

using maxcompute_client::Credentials;
using maxcompute_client::CredentialsProvider;

SecretRefCredentialsProvider::SecretRefCredentialsProvider(v1::SecretRef id, v1::SecretRef secret)
    : id_(std::move(id)), secret_(std::move(secret)) {}

absl::StatusOr<Credentials> SecretRefCredentialsProvider::Get() {
  Credentials c;
  MCSINK_ASSIGN_OR_RETURN(c.access_key_id, config::ReadSecret(id_));
  MCSINK_ASSIGN_OR_RETURN(c.access_key_secret, config::ReadSecret(secret_));
  return c;
}

absl::StatusOr<std::shared_ptr<CredentialsProvider>> CredentialsFor(
    const v1::MaxComputeTarget& target) {
  std::shared_ptr<CredentialsProvider> access_key;
  if (target.has_access_key_id() && target.has_access_key_secret()) {
    access_key = std::make_shared<SecretRefCredentialsProvider>(target.access_key_id(),
                                                                target.access_key_secret());
  } else {
    access_key = std::make_shared<maxcompute_client::EnvCredentialsProvider>();
  }
  if (target.account_id().empty() && target.role_name().empty()) return access_key;

  maxcompute_client::AssumeRoleOptions options;
  MCSINK_ASSIGN_OR_RETURN(options.role_arn,
                          maxcompute_client::MakeRoleArn(target.account_id(), target.role_name()));
  if (!target.sts_endpoint().empty()) options.sts_endpoint = target.sts_endpoint();
  MCSINK_ASSIGN_OR_RETURN(
      std::unique_ptr<maxcompute_client::RamRoleArnCredentialsProvider> role,
      maxcompute_client::RamRoleArnCredentialsProvider::Create(options, access_key));
  return std::shared_ptr<CredentialsProvider>(std::move(role));
}

absl::StatusOr<maxcompute::TableSchema> ToTableSchema(const maxcompute_client::TableInfo& table) {
  maxcompute::TableSchema schema;
  for (const auto& [from, to] : {std::pair{&table.columns, &schema.columns},
                                 std::pair{&table.partition_keys, &schema.partition_columns}}) {
    for (const maxcompute_client::ColumnInfo& c : *from) {
      auto type = maxcompute::Type::Parse(c.type);
      if (!type.ok()) {
        return Annotate(type.status(), absl::StrCat("table ", table.name, " column ", c.name));
      }
      to->push_back({c.name, *type, c.nullable});
    }
  }
  return schema;
}

absl::StatusOr<Connection> Connect(const v1::MaxComputeTarget& target) {
  Connection out;
  MCSINK_ASSIGN_OR_RETURN(out.credentials, CredentialsFor(target));
  maxcompute_client::RestClientOptions rest;
  rest.endpoint = target.endpoint();
  rest.project = target.project();
  if (!target.region().empty()) rest.region = target.region();
  MCSINK_ASSIGN_OR_RETURN(out.rest, maxcompute_client::RestClient::Create(rest, out.credentials));
  MCSINK_ASSIGN_OR_RETURN(const maxcompute_client::TableInfo info,
                          out.rest->GetTable(target.table()));
  MCSINK_ASSIGN_OR_RETURN(out.schema, ToTableSchema(info));

  maxcompute_client::TunnelClientOptions tunnel;
  tunnel.project = target.project();
  if (!target.region().empty()) tunnel.region = target.region();
  if (!target.tunnel_endpoint().empty()) {
    tunnel.endpoint = target.tunnel_endpoint();
  } else {
    MCSINK_ASSIGN_OR_RETURN(tunnel.endpoint, out.rest->GetTunnelEndpoint());
  }
  MCSINK_ASSIGN_OR_RETURN(out.tunnel,
                          maxcompute_client::TunnelClient::Create(tunnel, out.credentials));
  return out;
}

}  // namespace mcsink::connection
