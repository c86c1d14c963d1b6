#include "mcsink/config/connector_config.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"
#include "mcsink/convert/partition_value.h"
#include "mcsink/kafka/config.h"

namespace mcsink::config {
namespace {

constexpr size_t kMaxNameLength = 48;
constexpr size_t kMaxTopicLength = 249;

void DefaultTopic(std::string* topic, const std::string& kind, const std::string& name) {
  if (topic->empty()) *topic = absl::StrCat("connect-", kind, "-", name);
}

bool IsValidProjectOrTable(const std::string& s) {
  if (s.empty() || s.size() > 128 || !absl::ascii_isalpha(static_cast<unsigned char>(s[0]))) {
    return false;
  }
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

void CheckSecretRef(const v1::SecretRef& ref, const std::string& field,
                    std::vector<FieldViolation>* out) {
  if (ref.source_case() == v1::SecretRef::SOURCE_NOT_SET || (ref.has_env() && ref.env().empty()) ||
      (ref.has_file() && ref.file().empty())) {
    out->push_back({field, "give the name of an environment variable (env) or a file path (file)"});
  }
}

}  // namespace

bool IsValidConnectorName(const std::string& name) {
  if (name.empty() || name.size() > kMaxNameLength || name[0] == '-') return false;
  for (char c : name) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) && !(c >= 'a' && c <= 'z') &&
        c != '-') {
      return false;
    }
  }
  return true;
}

bool IsValidTopicName(const std::string& name) {
  if (name.empty() || name.size() > kMaxTopicLength || name == "." || name == "..") return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

v1::ConnectorConfig WithDefaults(v1::ConnectorConfig c) {
  const std::string& name = c.name();
  if (c.consumer_group().empty()) c.set_consumer_group(absl::StrCat("connect-", name));
  if (c.concurrency() == 0) c.set_concurrency(6);
  if (c.initial_offset() == v1::INITIAL_OFFSET_UNSPECIFIED) {
    c.set_initial_offset(v1::INITIAL_OFFSET_EARLIEST);
  }
  if (c.failure_policy() == v1::FAILURE_POLICY_UNSPECIFIED) {
    c.set_failure_policy(v1::FAILURE_POLICY_CONTINUE);
  }
  if (c.resource_creation() == v1::RESOURCE_CREATION_UNSPECIFIED) {
    c.set_resource_creation(v1::RESOURCE_CREATION_AUTO);
  }
  v1::InternalTopics* t = c.mutable_topics();
  DefaultTopic(t->mutable_offset_topic(), "offset", name);
  DefaultTopic(t->mutable_config_topic(), "config", name);
  DefaultTopic(t->mutable_status_topic(), "status", name);
  DefaultTopic(t->mutable_dead_letter_topic(), "error", name);
  DefaultTopic(t->mutable_error_topic(), "error", name);
  if (c.mode() == v1::MODE_UNSPECIFIED) c.set_mode(v1::MODE_DEFAULT);
  if (c.format() == v1::FORMAT_UNSPECIFIED) c.set_format(v1::FORMAT_TEXT);
  if (c.granularity() == v1::GRANULARITY_UNSPECIFIED) c.set_granularity(v1::GRANULARITY_HOUR);
  if (c.time_zone().empty()) c.set_time_zone("GMT+08:00");
  if (c.time_source() == v1::TIME_SOURCE_UNSPECIFIED) c.set_time_source(v1::TIME_SOURCE_WALL_CLOCK);
  if (c.partition_format() == v1::PARTITION_FORMAT_UNSPECIFIED) {
    c.set_partition_format(v1::PARTITION_FORMAT_LEGACY);
  }
  if (c.csv_delimiter().empty()) c.set_csv_delimiter(",");
  return c;
}

std::vector<FieldViolation> Validate(const v1::ConnectorConfig& c) {
  std::vector<FieldViolation> out;
  if (!IsValidConnectorName(c.name())) {
    out.push_back(
        {"name", absl::StrCat("'", c.name(),
                              "' is not a connector name: use digits, lowercase letters and '-',"
                              " not starting with '-', at most ",
                              kMaxNameLength, " characters")});
  }
  if (!IsValidTopicName(c.source_topic())) {
    out.push_back({"source_topic", absl::StrCat("'", c.source_topic(),
                                                "' is not a Kafka topic name: use letters, digits,"
                                                " '.', '_' and '-', at most 249 characters")});
  }
  if (c.consumer_group() != absl::StrCat("connect-", c.name())) {
    out.push_back({"consumer_group",
                   absl::StrCat("must be connect-", c.name(), ", not '", c.consumer_group(), "'")});
  }
  if (c.concurrency() != 6 && c.concurrency() != 12) {
    out.push_back(
        {"concurrency", absl::StrCat("must be 6 or 12 consumer threads, not ", c.concurrency())});
  }
  const v1::InternalTopics& t = c.topics();
  for (const auto& [field, value] : {std::pair{"topics.offset_topic", t.offset_topic()},
                                     {"topics.config_topic", t.config_topic()},
                                     {"topics.status_topic", t.status_topic()},
                                     {"topics.dead_letter_topic", t.dead_letter_topic()},
                                     {"topics.error_topic", t.error_topic()}}) {
    if (!IsValidTopicName(value)) {
      out.push_back({field, absl::StrCat("'", value, "' is not a Kafka topic name")});
    } else if (value == c.source_topic()) {
      out.push_back({field, "must differ from the source topic"});
    }
  }
  if ((c.format() == v1::FORMAT_CSV || c.format() == v1::FORMAT_JSON) &&
      c.mode() == v1::MODE_DEFAULT) {
    // Users know the formats as the guide names them: CSV, not FORMAT_CSV.
    const std::string format = v1::Format_Name(c.format()).substr(sizeof("FORMAT_") - 1);
    out.push_back({"format", absl::StrCat(format, " needs mode KEY or VALUE, not DEFAULT")});
  }
  if (c.csv_delimiter().size() != 1 || c.csv_delimiter() == "\"" || c.csv_delimiter() == "\n" ||
      c.csv_delimiter() == "\r") {
    out.push_back({"csv_delimiter", absl::StrCat("'", c.csv_delimiter(),
                                                 "' must be one character, not a quote or a "
                                                 "line break")});
  }
  if (auto zone = convert::ParseTimeZone(c.time_zone()); !zone.ok()) {
    out.push_back({"time_zone", std::string(zone.status().message())});
  }
  const v1::MaxComputeTarget& target = c.target();
  if (!absl::StartsWith(target.endpoint(), "http://") &&
      !absl::StartsWith(target.endpoint(), "https://")) {
    out.push_back(
        {"target.endpoint", absl::StrCat("'", target.endpoint(),
                                         "' is not an http(s) URL such as "
                                         "http://service.cn-hangzhou.maxcompute.aliyun.com/api")});
  }
  if (!target.tunnel_endpoint().empty() && !absl::StartsWith(target.tunnel_endpoint(), "http://") &&
      !absl::StartsWith(target.tunnel_endpoint(), "https://")) {
    out.push_back({"target.tunnel_endpoint", "must be empty (discovered) or an http(s) URL"});
  }
  if (!IsValidProjectOrTable(target.project())) {
    out.push_back({"target.project",
                   absl::StrCat("'", target.project(), "' is not a MaxCompute project name")});
  }
  if (!IsValidProjectOrTable(target.table())) {
    out.push_back(
        {"target.table", absl::StrCat("'", target.table(), "' is not a MaxCompute table name")});
  }
  const bool role = !target.account_id().empty() || !target.role_name().empty();
  const bool access_key = target.has_access_key_id() || target.has_access_key_secret();
  if (role) {
    if (target.account_id().empty() ||
        !std::all_of(target.account_id().begin(), target.account_id().end(),
                     [](char ch) { return absl::ascii_isdigit(static_cast<unsigned char>(ch)); })) {
      out.push_back({"target.account_id", "must be the Alibaba Cloud account id (digits)"});
    }
    if (target.role_name().empty()) {
      out.push_back(
          {"target.role_name", "the RAM role to assume, e.g. AliyunKafkaMaxComputeUser1"});
    }
    if (target.region().empty()) {
      out.push_back({"target.region", "needed for the RAM role (STS), e.g. cn-hangzhou"});
    }
  }
  if (!role && !access_key) {
    out.push_back({"target",
                   "give a RAM role (account_id, role_name) or an AccessKey "
                   "(access_key_id, access_key_secret)"});
  }
  // The role is assumed with an AccessKey too, so a given AccessKey must be whole.
  if (access_key || role) {
    if (target.has_access_key_id() || !role) {
      CheckSecretRef(target.access_key_id(), "target.access_key_id", &out);
    }
    if (target.has_access_key_secret() || !role) {
      CheckSecretRef(target.access_key_secret(), "target.access_key_secret", &out);
    }
  }
  if (!c.kafka_properties().contains("bootstrap.servers")) {
    out.push_back({"kafka_properties", "bootstrap.servers is required"});
  }
  kafka::Properties props(c.kafka_properties().begin(), c.kafka_properties().end());
  for (const auto& [name, ref] : c.kafka_secrets()) {
    CheckSecretRef(ref, absl::StrCat("kafka_secrets[", name, "]"), &out);
    props[name] = "x";  // the name is checked here; the value is read only where it is used
  }
  if (auto conf = kafka::MakeConf(props); !conf.ok()) {
    out.push_back({"kafka_properties", std::string(conf.status().message())});
  }
  return out;
}

absl::StatusOr<v1::ConnectorConfig> Normalize(v1::ConnectorConfig config) {
  config = WithDefaults(std::move(config));
  const std::vector<FieldViolation> violations = Validate(config);
  if (violations.empty()) return config;
  return absl::InvalidArgumentError(
      absl::StrCat("invalid connector config: ",
                   absl::StrJoin(violations, "; ", [](std::string* out, const FieldViolation& v) {
                     absl::StrAppend(out, v.field, ": ", v.message);
                   })));
}

absl::StatusOr<v1::ConnectorConfig> LoadJsonFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read connector config ", path));
  std::stringstream text;
  text << in.rdbuf();
  v1::ConnectorConfig config;
  const auto status = google::protobuf::util::JsonStringToMessage(text.str(), &config);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("connector config ", path,
                     " is not valid JSON for ConnectorConfig: ", std::string(status.message())));
  }
  return Normalize(std::move(config));
}

std::string ToJson(const v1::ConnectorConfig& config) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(config, &out, options);
  return out;
}

}  // namespace mcsink::config
