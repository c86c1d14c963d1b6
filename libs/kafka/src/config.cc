#include "mcsink/kafka/config.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace mcsink::kafka {

bool IsSecretProperty(const std::string& name) {
  return absl::StrContains(name, "passw") || absl::StrContains(name, "secret") ||
         absl::StrContains(name, "sasl.jaas") || name == "ssl.key.pem" ||
         name == "sasl.oauthbearer.config";
}

absl::StatusOr<std::unique_ptr<RdKafka::Conf>> MakeConf(const Properties& properties) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::vector<std::string> errors;
  for (const auto& [name, value] : properties) {
    std::string err;
    if (conf->set(name, value, err) != RdKafka::Conf::CONF_OK) {
      // An unknown name may be a misspelt secret, so only a known, non-secret property's
      // value is echoed.
      const bool unknown = absl::StrContains(err, "No such configuration property");
      errors.push_back(unknown                  ? absl::StrCat(name, ": no such property")
                       : IsSecretProperty(name) ? absl::StrCat(name, ": refused (value hidden)")
                                                : absl::StrCat(name, "=", value, ": ", err));
    }
  }
  if (!errors.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid Kafka client properties: ", absl::StrJoin(errors, "; ")));
  }
  return conf;
}

}  // namespace mcsink::kafka
