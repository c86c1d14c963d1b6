#include "mcsink/connection/connection.h"

#include <cstdlib>
#include <fstream>

#include "gtest/gtest.h"
#include "mcsink/testing/status_matchers.h"

namespace mcsink::connection {
namespace {

TEST(SecretRefCredentialsProvider, ReadsTheReferencesOnEveryCall) {
  v1::SecretRef id, secret;
  id.set_env("MCSINK_TEST_AK");
  secret.set_env("MCSINK_TEST_SK");
  ::setenv("MCSINK_TEST_AK", "id1", 1);
  ::setenv("MCSINK_TEST_SK", "sk1", 1);
  SecretRefCredentialsProvider provider(id, secret);
  ASSERT_OK_AND_ASSIGN(auto first, provider.Get());
  EXPECT_EQ(first.access_key_id, "id1");
  ::setenv("MCSINK_TEST_SK", "sk2", 1);  // rotated
  ASSERT_OK_AND_ASSIGN(auto second, provider.Get());
  EXPECT_EQ(second.access_key_secret, "sk2");
  ::unsetenv("MCSINK_TEST_AK");
  ::unsetenv("MCSINK_TEST_SK");
}

TEST(ToTableSchema, MapsTheSeedTableAndRefusesUnknownTypes) {
  maxcompute_client::TableInfo info;
  info.name = "test_kafka";
  info.columns = {{"topic", "string"},
                  {"partition", "bigint"},
                  {"offset", "bigint"},
                  {"key", "string"},
                  {"value", "string"}};
  info.partition_keys = {{"pt", "string"}};
  ASSERT_OK_AND_ASSIGN(const maxcompute::TableSchema schema, ToTableSchema(info));
  ASSERT_EQ(schema.columns.size(), 5u);
  EXPECT_EQ(schema.columns[1].type.kind, maxcompute::TypeKind::kBigint);
  EXPECT_EQ(schema.partition_columns[0].name, "pt");

  info.columns.push_back({"tags", "array<string>"});
  const auto bad = ToTableSchema(info);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("column tags"), std::string::npos);
}

TEST(CredentialsFor, ARoleNeedsAValidAccountAndRoleName) {
  v1::MaxComputeTarget target;
  target.set_account_id("12ab");
  target.set_role_name("AliyunKafkaMaxComputeUser1");
  EXPECT_EQ(CredentialsFor(target).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace mcsink::connection
