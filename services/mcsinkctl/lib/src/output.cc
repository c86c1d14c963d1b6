#include "mcsinkctl/output.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"

namespace mcsink::ctl {
namespace {

namespace pb = google::protobuf;

std::string StripPrefix(const std::string& name, const std::string& prefix) {
  return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}

std::string ScalarText(const pb::Message& m, const pb::FieldDescriptor* f, int index) {
  const pb::Reflection* r = m.GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_STRING:
      return rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f);
    case pb::FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
    case pb::FieldDescriptor::CPPTYPE_INT64:
      return absl::StrCat(rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f));
    case pb::FieldDescriptor::CPPTYPE_UINT32:
      return absl::StrCat(rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      return absl::StrCat(rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f));
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      return (rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f)) ? "true" : "false";
    case pb::FieldDescriptor::CPPTYPE_ENUM:
      return (rep ? r->GetRepeatedEnum(m, f, index) : r->GetEnum(m, f))->name();
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      return absl::StrCat(rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f));
    case pb::FieldDescriptor::CPPTYPE_FLOAT:
      return absl::StrCat(rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f));
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
      return "";
  }
  return "";
}

void Flatten(const pb::Message& m, const std::string& prefix,
             std::vector<std::pair<std::string, std::string>>* out) {
  std::vector<const pb::FieldDescriptor*> fields;
  m.GetReflection()->ListFields(m, &fields);
  for (const pb::FieldDescriptor* f : fields) {
    const std::string path = prefix + f->name();
    if (f->is_map()) {
      // Sorted by key: map order is unspecified, a table should not change between runs.
      std::vector<std::pair<std::string, const pb::Message*>> entries;
      const int n = m.GetReflection()->FieldSize(m, f);
      for (int i = 0; i < n; ++i) {
        const pb::Message& entry = m.GetReflection()->GetRepeatedMessage(m, f, i);
        entries.emplace_back(ScalarText(entry, f->message_type()->map_key(), 0), &entry);
      }
      std::sort(entries.begin(), entries.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      for (const auto& [key, entry] : entries) {
        const pb::FieldDescriptor* vf = f->message_type()->map_value();
        if (vf->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
          Flatten(entry->GetReflection()->GetMessage(*entry, vf), path + "." + key + ".", out);
        } else {
          out->emplace_back(path + "." + key, ScalarText(*entry, vf, 0));
        }
      }
    } else if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      if (f->is_repeated()) {
        const int n = m.GetReflection()->FieldSize(m, f);
        for (int i = 0; i < n; ++i) {
          Flatten(m.GetReflection()->GetRepeatedMessage(m, f, i), absl::StrCat(path, "[", i, "]."),
                  out);
        }
      } else {
        Flatten(m.GetReflection()->GetMessage(m, f), path + ".", out);
      }
    } else if (f->is_repeated()) {
      const int n = m.GetReflection()->FieldSize(m, f);
      for (int i = 0; i < n; ++i)
        out->emplace_back(absl::StrCat(path, "[", i, "]"), ScalarText(m, f, i));
    } else {
      out->emplace_back(path, ScalarText(m, f, 0));
    }
  }
}

std::string OrDash(const std::string& s) { return s.empty() ? "-" : s; }
std::string OffsetText(int64_t offset) { return offset < 0 ? "-" : absl::StrCat(offset); }

}  // namespace

std::string RenderTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(header.size(), 0);
  auto measure = [&widths](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  };
  measure(header);
  for (const auto& row : rows) measure(row);
  std::string out;
  auto append = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < widths.size(); ++i) {
      const std::string& cell = i < row.size() ? row[i] : "";
      line += cell;
      if (i + 1 < widths.size()) line += std::string(widths[i] - cell.size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += '\n';
  };
  append(header);
  for (const auto& row : rows) append(row);
  return out;
}

std::string ToJson(const pb::Message& message, bool pretty) {
  pb::util::JsonPrintOptions options;
  options.add_whitespace = pretty;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string out;
  // Printing a valid message cannot fail (no Any with unknown types in our protos).
  (void)pb::util::MessageToJsonString(message, &out, options);
  if (out.empty() || out.back() != '\n') out += '\n';
  return out;
}

std::vector<std::pair<std::string, std::string>> FlattenFields(const pb::Message& message) {
  std::vector<std::pair<std::string, std::string>> out;
  Flatten(message, "", &out);
  return out;
}

std::string ShortName(v1::ConnectorState state) {
  return StripPrefix(v1::ConnectorState_Name(state), "CONNECTOR_STATE_");
}
std::string ShortName(v1::TargetState state) {
  return StripPrefix(v1::TargetState_Name(state), "TARGET_STATE_");
}
std::string ShortName(v1::PartitionState state) {
  return StripPrefix(v1::PartitionState_Name(state), "PARTITION_STATE_");
}

std::string FormatMillis(int64_t ms) {
  if (ms <= 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

namespace {

// "running/total" partitions and the summed lag of the partitions that know theirs.
std::pair<std::string, std::string> PartitionSummary(const v1::ConnectorStatus& status) {
  if (status.partitions().empty()) return {"-", "-"};
  int running = 0;
  int64_t lag = 0;
  bool lag_known = false;
  for (const v1::PartitionStatus& p : status.partitions()) {
    if (p.state() == v1::PARTITION_STATE_RUNNING) ++running;
    if (p.lag() >= 0 && p.committed_offset() >= 0) {
      lag += p.lag();
      lag_known = true;
    }
  }
  return {absl::StrCat(running, "/", status.partitions_size()),
          lag_known ? absl::StrCat(lag) : "-"};
}

}  // namespace

std::string RenderConnectorList(const v1::ListConnectorsResponse& list) {
  std::vector<std::vector<std::string>> rows;
  for (const v1::Connector& c : list.connectors()) {
    const auto [partitions, lag] = PartitionSummary(c.status());
    rows.push_back({c.record().config().name(), ShortName(c.record().target_state()),
                    ShortName(c.status().state()), partitions, lag,
                    OrDash(c.record().config().source_topic()),
                    OrDash(c.record().config().target().project().empty()
                               ? ""
                               : absl::StrCat(c.record().config().target().project(), ".",
                                              c.record().config().target().table()))});
  }
  if (rows.empty()) return "no connectors\n";
  return RenderTable({"NAME", "TARGET", "STATE", "RUNNING", "LAG", "TOPIC", "TABLE"}, rows);
}

std::string RenderConnector(const v1::Connector& connector) {
  const v1::ConnectorRecord& r = connector.record();
  const v1::ConnectorStatus& s = connector.status();
  const auto [partitions, lag] = PartitionSummary(s);
  std::vector<std::vector<std::string>> head = {
      {"Name:", r.config().name()},
      {"Target state:", ShortName(r.target_state())},
      {"State:", ShortName(s.state())},
  };
  if (!s.message().empty()) head.push_back({"Message:", s.message()});
  head.push_back({"Partitions running:", partitions});
  head.push_back({"Lag:", lag});
  head.push_back({"Version:", absl::StrCat(r.version())});
  head.push_back({"Created:", FormatMillis(r.created_at_ms())});
  head.push_back({"Updated:", FormatMillis(r.updated_at_ms())});
  std::string out;
  // RenderTable without a header line: the first row serves as one.
  out += RenderTable(head.front(), {head.begin() + 1, head.end()});
  out += "Config:\n";
  std::vector<std::vector<std::string>> config;
  for (auto& [field, value] : FlattenFields(r.config())) config.push_back({"  " + field, value});
  if (!config.empty()) out += RenderTable(config.front(), {config.begin() + 1, config.end()});
  return out;
}

std::string RenderStatus(const v1::ConnectorStatus& status) {
  std::string out = absl::StrCat("Connector ", status.name(), ": ", ShortName(status.state()));
  if (!status.message().empty()) absl::StrAppend(&out, " (", status.message(), ")");
  absl::StrAppend(&out, "\nUpdated: ", FormatMillis(status.updated_at_ms()), "\n");
  if (status.partitions().empty()) return out + "No partition has reported yet.\n";
  std::vector<const v1::PartitionStatus*> parts;
  for (const auto& p : status.partitions()) parts.push_back(&p);
  std::sort(parts.begin(), parts.end(), [](const auto* a, const auto* b) {
    return std::make_tuple(a->topic(), a->partition()) <
           std::make_tuple(b->topic(), b->partition());
  });
  std::vector<std::vector<std::string>> rows;
  for (const v1::PartitionStatus* p : parts) {
    std::string error = "-";
    if (!p->last_error().code().empty() || !p->last_error().message().empty()) {
      error = absl::StrCat(p->last_error().code(), ": ", p->last_error().message());
      if (p->last_error().offset() >= 0)
        absl::StrAppend(&error, " (offset ", p->last_error().offset(), ")");
    }
    rows.push_back({p->topic(), absl::StrCat(p->partition()), ShortName(p->state()),
                    OrDash(p->owner()), OffsetText(p->committed_offset()),
                    OffsetText(p->log_end_offset()),
                    p->committed_offset() < 0 ? "-" : absl::StrCat(p->lag()), error});
  }
  return out + RenderTable({"TOPIC", "PARTITION", "STATE", "OWNER", "COMMITTED", "END", "LAG",
                            "LAST ERROR"},
                           rows);
}

std::string RenderOffsets(const v1::ConnectorOffsets& offsets) {
  std::string out = absl::StrCat("Connector ", offsets.name(), ", consumer group ",
                                 offsets.consumer_group(), "\n");
  std::vector<std::vector<std::string>> rows;
  for (const v1::PartitionOffset& p : offsets.partitions()) {
    rows.push_back({p.topic(), absl::StrCat(p.partition()), OffsetText(p.committed_offset()),
                    OffsetText(p.log_start_offset()), OffsetText(p.log_end_offset()),
                    p.committed_offset() < 0 ? "-"
                                             : absl::StrCat(std::max<int64_t>(
                                                   0, p.log_end_offset() - p.committed_offset()))});
  }
  if (rows.empty()) return out + "No partitions.\n";
  return out +
         RenderTable({"TOPIC", "PARTITION", "COMMITTED", "LOG START", "LOG END", "LAG"}, rows);
}

std::string RenderViolations(const std::vector<std::pair<std::string, std::string>>& violations) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& [field, message] : violations) rows.push_back({field, message});
  return RenderTable({"FIELD", "PROBLEM"}, rows);
}

std::string RenderEvent(const v1::ConnectorEvent& event) {
  if (event.type() == v1::ConnectorEvent::TYPE_SYNCED) {
    return absl::StrCat(FormatMillis(absl::ToUnixMillis(absl::Now())),
                        "  SYNCED  (the connectors above are the current state; changes follow)\n");
  }
  if (event.type() == v1::ConnectorEvent::TYPE_DELETE) {
    return absl::StrCat(FormatMillis(absl::ToUnixMillis(absl::Now())), "  DELETE  ", event.name(),
                        "\n");
  }
  return absl::StrCat(FormatMillis(event.record().updated_at_ms()), "  UPSERT  ", event.name(),
                      "  target ", ShortName(event.record().target_state()), "  version ",
                      event.record().version(), "\n");
}

}  // namespace mcsink::ctl
