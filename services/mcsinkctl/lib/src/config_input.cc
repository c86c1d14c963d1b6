#include "mcsinkctl/config_input.h"

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "mcsinkctl/yaml.h"

namespace mcsink::ctl {
namespace {

namespace pb = google::protobuf;

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The enum value `text` names: its full name, or the words at its end (`earliest` for
// INITIAL_OFFSET_EARLIEST), case-insensitively, `-` for `_`.
const pb::EnumValueDescriptor* FindEnumValue(const pb::EnumDescriptor* type,
                                             const std::string& text) {
  std::string want = absl::AsciiStrToUpper(text);
  for (char& c : want) {
    if (c == '-') c = '_';
  }
  if (want.empty()) return nullptr;
  const pb::EnumValueDescriptor* found = nullptr;
  for (int i = 0; i < type->value_count(); ++i) {
    const pb::EnumValueDescriptor* v = type->value(i);
    if (v->number() == 0) continue;  // UNSPECIFIED is not a choice
    if (v->name() == want) return v;
    if (EndsWith(v->name(), "_" + want)) {
      if (found != nullptr) return nullptr;  // ambiguous
      found = v;
    }
  }
  return found;
}

std::string EnumChoices(const pb::EnumDescriptor* type) {
  std::vector<std::string> names;
  for (int i = 0; i < type->value_count(); ++i) {
    if (type->value(i)->number() != 0) names.push_back(type->value(i)->name());
  }
  return absl::StrJoin(names, ", ");
}

// Sets the scalar at `path` (dot-separated message fields) from text.
absl::Status SetField(pb::Message* message, const std::string& path, const std::string& value) {
  const std::vector<std::string> parts = absl::StrSplit(path, '.');
  pb::Message* m = message;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    const pb::FieldDescriptor* f = m->GetDescriptor()->FindFieldByName(parts[i]);
    if (f == nullptr || f->type() != pb::FieldDescriptor::TYPE_MESSAGE) {
      return absl::InternalError(absl::StrCat("no message field ", path));
    }
    m = m->GetReflection()->MutableMessage(m, f);
  }
  const pb::FieldDescriptor* f = m->GetDescriptor()->FindFieldByName(parts.back());
  if (f == nullptr) return absl::InternalError(absl::StrCat("no field ", path));
  const pb::Reflection* r = m->GetReflection();
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_STRING:
      r->SetString(m, f, value);
      return absl::OkStatus();
    case pb::FieldDescriptor::CPPTYPE_UINT32: {
      uint32_t n = 0;
      if (!absl::SimpleAtoi(value, &n)) {
        return absl::InvalidArgumentError(absl::StrCat("'", value, "' is not a whole number"));
      }
      r->SetUInt32(m, f, n);
      return absl::OkStatus();
    }
    case pb::FieldDescriptor::CPPTYPE_BOOL: {
      bool b = false;
      if (!absl::SimpleAtob(value, &b)) {
        return absl::InvalidArgumentError(absl::StrCat("'", value, "' is not true or false"));
      }
      r->SetBool(m, f, b);
      return absl::OkStatus();
    }
    case pb::FieldDescriptor::CPPTYPE_ENUM: {
      const pb::EnumValueDescriptor* v = FindEnumValue(f->enum_type(), value);
      if (v == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(
            "'", value, "' is not one of ", EnumChoices(f->enum_type()), " (or their last word)"));
      }
      r->SetEnum(m, f, v);
      return absl::OkStatus();
    }
    default:
      return absl::InternalError(absl::StrCat("field ", path, " cannot be set from a flag"));
  }
}

}  // namespace

const std::vector<ConfigFlag>& ConfigFlags() {
  static const auto* flags = new std::vector<ConfigFlag>{
      {"name", "name", "connector name (digits, lowercase letters, '-'; at most 48)"},
      {"topic", "source_topic", "the Kafka topic to sink"},
      {"group", "consumer_group", "consumer group (default connect-<name>)"},
      {"concurrency", "concurrency", "consumer threads: 6 (default) or 12"},
      {"initial-offset", "initial_offset", "earliest (default) or latest"},
      {"failure-policy", "failure_policy", "continue (default) or stop"},
      {"resource-creation", "resource_creation", "auto (default) or manual internal topics"},
      {"mode", "mode", "default, key or value"},
      {"format", "format", "text, binary, csv or json"},
      {"granularity", "granularity", "day, hour (default) or minute partitions"},
      {"time-zone", "time_zone", "partition time zone (default GMT+08:00)"},
      {"time-source", "time_source", "wall-clock (default) or record-time"},
      {"partition-format", "partition_format", "legacy (MM-dd-yyyy HH, default) or iso"},
      {"csv-delimiter", "csv_delimiter", "one character (default ,)"},
      {"endpoint", "target.endpoint", "MaxCompute endpoint, e.g. http://service.cn-hangzhou..."},
      {"tunnel-endpoint", "target.tunnel_endpoint", "Tunnel endpoint (default: discovered)"},
      {"project", "target.project", "MaxCompute project"},
      {"table", "target.table", "MaxCompute table"},
      {"region", "target.region", "region, e.g. cn-hangzhou"},
      {"account-id", "target.account_id", "Alibaba Cloud account id (STS with --role-name)"},
      {"role-name", "target.role_name", "RAM role to assume"},
      {"sts-endpoint", "target.sts_endpoint", "STS endpoint (default https://sts.aliyuncs.com)"},
      {"access-key-id-env", "target.access_key_id.env", "env variable holding the AccessKey id"},
      {"access-key-secret-env", "target.access_key_secret.env",
       "env variable holding the AccessKey secret"},
      {"access-key-id-file", "target.access_key_id.file", "file holding the AccessKey id"},
      {"access-key-secret-file", "target.access_key_secret.file",
       "file holding the AccessKey secret"},
      {"offset-topic", "topics.offset_topic", "default connect-offset-<name>"},
      {"config-topic", "topics.config_topic", "default connect-config-<name>"},
      {"status-topic", "topics.status_topic", "default connect-status-<name>"},
      {"dead-letter-topic", "topics.dead_letter_topic", "default connect-error-<name>"},
      {"error-topic", "topics.error_topic", "default connect-error-<name>"},
  };
  return *flags;
}

absl::StatusOr<v1::ConnectorConfig> ParseConfigText(const std::string& text,
                                                    const std::string& source_name) {
  std::string json;
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (EndsWith(source_name, ".json") || (first != std::string::npos && text[first] == '{')) {
    json = text;
  } else {
    auto converted = YamlToJson(text, source_name);
    if (!converted.ok()) return converted.status();
    json = *std::move(converted);
  }
  v1::ConnectorConfig config;
  pb::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto st = pb::util::JsonStringToMessage(json, &config, options);
  if (!st.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_name,
                     ": not a connector config (fields as in connector.proto, enums "
                     "by full name such as MODE_DEFAULT): ",
                     std::string(st.message())));
  }
  return config;
}

absl::StatusOr<v1::ConnectorConfig> LoadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read the config file ", path,
                                                   ": it does not exist or is not readable"));
  }
  std::stringstream text;
  text << in.rdbuf();
  return ParseConfigText(text.str(), path);
}

absl::Status ApplyConfigFlags(const Invocation& invocation, v1::ConnectorConfig* config) {
  std::vector<std::string> errors;
  for (const ConfigFlag& flag : ConfigFlags()) {
    const auto value = invocation.Get(flag.flag);
    if (!value) continue;
    if (auto st = SetField(config, flag.field, *value); !st.ok()) {
      errors.push_back(absl::StrCat("--", flag.flag, " (", flag.field, "): ", st.message()));
    }
  }
  if (auto it = invocation.flags.find("kafka-property"); it != invocation.flags.end()) {
    for (const std::string& kv : it->second) {
      const size_t eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) {
        errors.push_back(absl::StrCat("--kafka-property: '", kv, "' is not key=value"));
        continue;
      }
      (*config->mutable_kafka_properties())[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  }
  if (auto bootstrap = invocation.Get("bootstrap-servers")) {
    (*config->mutable_kafka_properties())["bootstrap.servers"] = *bootstrap;
  }
  if (!errors.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  return absl::OkStatus();
}

absl::StatusOr<v1::ConnectorConfig> ConfigFromInvocation(const Invocation& invocation) {
  v1::ConnectorConfig config;
  if (auto file = invocation.Get("file")) {
    auto loaded = LoadConfigFile(*file);
    if (!loaded.ok()) return loaded.status();
    config = *std::move(loaded);
  }
  if (auto st = ApplyConfigFlags(invocation, &config); !st.ok()) return st;
  if (config.name().empty()) {
    return absl::InvalidArgumentError(
        "name: the connector has no name; give -f <config file> with a `name`, or --name");
  }
  return config;
}

}  // namespace mcsink::ctl
