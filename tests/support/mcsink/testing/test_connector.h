// A connector config for tests whose MaxCompute target is never reached.
#pragma once

#include <string>

#include "mcsink/v1/connector.pb.h"

namespace mcsink::testing {

// A connector `name` reading `source_topic` from `bootstrap`, whose target (never reached) is a
// table t of project p; options as in `config`. Not normalized.
inline v1::ConnectorConfig TestConnector(v1::ConnectorConfig config, const std::string& name,
                                         const std::string& source_topic,
                                         const std::string& bootstrap) {
  config.set_name(name);
  config.set_source_topic(source_topic);
  (*config.mutable_kafka_properties())["bootstrap.servers"] = bootstrap;
  config.mutable_target()->set_endpoint("http://127.0.0.1:1/api");
  config.mutable_target()->set_project("p");
  config.mutable_target()->set_table("t");
  config.mutable_target()->mutable_access_key_id()->set_env("AK");
  config.mutable_target()->mutable_access_key_secret()->set_env("SK");
  return config;
}

}  // namespace mcsink::testing
