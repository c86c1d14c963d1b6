#include "mcsink/kafka/config.h"

#include "gtest/gtest.h"
#include "mcsink/testing/status_matchers.h"

namespace mcsink::kafka {
namespace {

TEST(MakeConf, AcceptsValidProperties) {
  ASSERT_OK_AND_ASSIGN(auto conf, MakeConf({{"bootstrap.servers", "127.0.0.1:9092"},
                                            {"enable.auto.commit", "false"}}));
  std::string value;
  ASSERT_EQ(conf->get("enable.auto.commit", value), RdKafka::Conf::CONF_OK);
  EXPECT_EQ(value, "false");
}

TEST(MakeConf, NamesEveryRefusedPropertyAtOnce) {
  const auto conf = MakeConf(
      {{"no.such.property", "1"}, {"session.timeout.ms", "not-a-number"}, {"client.id", "fine"}});
  ASSERT_FALSE(conf.ok());
  EXPECT_EQ(conf.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(conf.status().message());
  EXPECT_NE(message.find("no.such.property: no such property"), std::string::npos) << message;
  EXPECT_NE(message.find("session.timeout.ms=not-a-number"), std::string::npos) << message;
  EXPECT_EQ(message.find("client.id"), std::string::npos) << message;
}

TEST(MakeConf, NeverEchoesASecretValue) {
  // A misspelt secret property is refused; its value must not reach the error.
  const auto conf = MakeConf({{"sasl.pasword", "hunter2"},
                              {"ssl.keystore.passwrd", "s3cret"},
                              {"sasl.oauthbearer.config", ""},
                              {"sasl.mechanism", "NOPE"}});
  ASSERT_FALSE(conf.ok());
  const std::string message(conf.status().message());
  EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
  EXPECT_EQ(message.find("s3cret"), std::string::npos) << message;
  EXPECT_NE(message.find("sasl.pasword: no such property"), std::string::npos) << message;
}

TEST(IsSecretProperty, CoversPasswordsAndJaas) {
  EXPECT_TRUE(IsSecretProperty("sasl.password"));
  EXPECT_TRUE(IsSecretProperty("ssl.key.password"));
  EXPECT_TRUE(IsSecretProperty("sasl.jaas.config"));
  EXPECT_FALSE(IsSecretProperty("sasl.username"));
}

}  // namespace
}  // namespace mcsink::kafka
