#include "mcsinkctl/args.h"

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mcsinkctl/config_input.h"

namespace mcsink::ctl {
namespace {

constexpr char kUsagePayload[] = "type.mcsink/ctl.usage";

// Flags that take no value (`--wait`, or `--wait=false`); every other flag takes one.
const std::set<std::string>& BooleanFlags() {
  static const auto* flags =
      new std::set<std::string>{"wait",          "deploy",      "check-target", "only-failed",
                                "delete-topics", "to-earliest", "to-latest",    "help"};
  return *flags;
}

const std::set<std::string>& GlobalFlags() {
  static const auto* flags = new std::set<std::string>{
      "controller", "token-file",  "output",        "wait",        "wait-timeout",
      "help",       "tls-ca-file", "tls-cert-file", "tls-key-file"};
  return *flags;
}

struct CommandSpec {
  std::vector<std::string> words;
  size_t min_args;
  size_t max_args;  // SIZE_MAX: any number (joined, for sql)
  std::vector<std::string> flags;
  const char* synopsis;
  const char* help;
};

std::vector<std::string> ConfigFlagNames(std::vector<std::string> extra) {
  std::vector<std::string> names = {"file", "kafka-property", "bootstrap-servers"};
  for (const ConfigFlag& f : ConfigFlags()) names.push_back(f.flag);
  names.insert(names.end(), extra.begin(), extra.end());
  return names;
}

const std::vector<CommandSpec>& Commands() {
  static const auto* commands = new std::vector<CommandSpec>{
      {{"create"},
       0,
       0,
       ConfigFlagNames({"deploy"}),
       "create -f FILE [config flags] [--deploy] [--wait]",
       "validate and store a connector (YAML or JSON file, flags override it); --deploy runs it"},
      {{"validate"},
       0,
       0,
       ConfigFlagNames({"check-target"}),
       "validate -f FILE [config flags] [--check-target]",
       "a dry run: every bad field; --check-target also checks the table and internal topics"},
      {{"get"}, 1, 1, {}, "get NAME", "the connector's config (secrets by reference) and state"},
      {{"list"}, 0, 0, {}, "list", "every connector with its state"},
      {{"deploy"}, 1, 1, {}, "deploy NAME [--wait]", "run the connector"},
      {{"pause"}, 1, 1, {}, "pause NAME [--wait]", "close its consumers; offsets may be reset"},
      {{"resume"}, 1, 1, {}, "resume NAME [--wait]", "run a paused connector again"},
      {{"restart"},
       1,
       1,
       {"only-failed"},
       "restart NAME [--only-failed] [--wait]",
       "restart the connector, or only the partitions the failure policy stopped"},
      {{"delete"},
       1,
       1,
       {"delete-topics"},
       "delete NAME [--delete-topics]",
       "stop and remove the connector; --delete-topics also deletes its internal topics"},
      {{"status"}, 1, 1, {}, "status NAME", "state, and per partition: owner, offset, lag, error"},
      {{"offsets", "get"}, 1, 1, {}, "offsets get NAME", "committed and log offsets"},
      {{"offsets", "reset"},
       1,
       1,
       {"to-earliest", "to-latest", "to", "topic"},
       "offsets reset NAME --to-earliest | --to-latest | --to P=OFFSET[,P=OFFSET...] [--topic T]",
       "move the group's offsets (the connector must be paused)"},
      {{"watch"}, 0, 1, {}, "watch [NAME]", "print every change of the connectors as it happens"},
      {{"sql"},
       0,
       SIZE_MAX,
       {"execute", "connector", "endpoint", "project", "region"},
       "sql [-e] STATEMENT [--connector NAME | --endpoint URL --project P [--region R]]",
       "run a statement in MaxCompute and print the result as the console does; keys from "
       "ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET"},
      {{"help"}, 0, 0, {}, "help", "this text"},
  };
  return *commands;
}

absl::StatusOr<absl::Duration> ParseSeconds(const std::string& flag, const std::string& text) {
  absl::Duration d;
  int64_t seconds = 0;
  if (absl::SimpleAtoi(text, &seconds) && seconds > 0) return absl::Seconds(seconds);
  if (absl::ParseDuration(text, &d) && d > absl::ZeroDuration()) return d;
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag, ": '", text, "' is not a duration (e.g. 90, 90s, 5m)"));
}

}  // namespace

int ExitCodeFor(const absl::Status& status) {
  if (status.ok()) return kExitOk;
  if (IsUsageError(status)) return kExitUsage;
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return kExitInvalid;
    case absl::StatusCode::kNotFound:
      return kExitNotFound;
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return kExitUnauthenticated;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kExitUnavailable;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted:
      return kExitConflict;
    default:
      return kExitError;
  }
}

std::optional<std::string> Invocation::Get(const std::string& flag) const {
  auto it = flags.find(flag);
  if (it == flags.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

EnvLookup ProcessEnvironment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

absl::Status UsageError(const std::string& message) {
  absl::Status st = absl::InvalidArgumentError(message);
  st.SetPayload(kUsagePayload, absl::Cord("1"));
  return st;
}

bool IsUsageError(const absl::Status& status) {
  return status.GetPayload(kUsagePayload).has_value();
}

absl::StatusOr<Invocation> ParseArgs(const std::vector<std::string>& args, const EnvLookup& env) {
  Invocation inv;
  std::vector<std::string> words;
  bool only_words = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (only_words || a.empty() || a[0] != '-' || a == "-") {
      words.push_back(a);
      continue;
    }
    if (a == "--") {
      only_words = true;
      continue;
    }
    std::string name;
    std::optional<std::string> value;
    if (a.rfind("--", 0) == 0) {
      name = a.substr(2);
      if (const size_t eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
    } else if (a == "-f" || a == "-o" || a == "-e" || a == "-h") {
      name = a == "-f" ? "file" : a == "-o" ? "output" : a == "-e" ? "execute" : "help";
    } else {
      return UsageError(absl::StrCat("unknown option '", a, "'; see mcsinkctl help"));
    }
    if (name.empty()) return UsageError(absl::StrCat("'", a, "' names no option"));
    if (BooleanFlags().count(name)) {
      if (!value) value = "true";
      bool b = false;
      if (!absl::SimpleAtob(*value, &b)) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, ": '", *value, "' is not true or false"));
      }
      if (!b) continue;
    } else if (!value) {
      if (i + 1 >= args.size()) {
        return UsageError(absl::StrCat("--", name, " needs a value"));
      }
      value = args[++i];
    }
    inv.flags[name].push_back(*value);
  }

  // The subcommand: the longest run of leading words that names one.
  const CommandSpec* spec = nullptr;
  if (words.empty() || inv.Has("help")) {
    inv.command = {"help"};
  } else {
    for (const CommandSpec& c : Commands()) {
      if (words.size() >= c.words.size() &&
          std::equal(c.words.begin(), c.words.end(), words.begin())) {
        if (spec == nullptr || c.words.size() > spec->words.size()) spec = &c;
      }
    }
    if (spec == nullptr) {
      if (words[0] == "offsets") {
        return UsageError("offsets needs a subcommand: offsets get NAME, or offsets reset NAME");
      }
      return UsageError(absl::StrCat("unknown command '", words[0], "'; see mcsinkctl help"));
    }
    inv.command = spec->words;
    inv.positionals.assign(words.begin() + static_cast<std::ptrdiff_t>(spec->words.size()),
                           words.end());
  }
  const std::string command_name = absl::StrJoin(inv.command, " ");
  if (spec != nullptr) {
    for (const auto& [name, unused] : inv.flags) {
      if (GlobalFlags().count(name)) continue;
      if (std::find(spec->flags.begin(), spec->flags.end(), name) == spec->flags.end()) {
        return UsageError(absl::StrCat("unknown flag --", name, " for `mcsinkctl ", command_name,
                                       "`; usage: mcsinkctl ", spec->synopsis));
      }
    }
    const size_t n = inv.positionals.size();
    if (n < spec->min_args || n > spec->max_args) {
      return UsageError(absl::StrCat("usage: mcsinkctl ", spec->synopsis));
    }
  }

  GlobalOptions& g = inv.global;
  if (auto v = inv.Get("controller")) {
    g.controller = *v;
  } else if (auto e = env("MCSINK_CONTROLLER"); e && !e->empty()) {
    g.controller = *e;
  }
  if (auto path = inv.Get("token-file")) {
    std::ifstream in(*path, std::ios::binary);
    if (!in) {
      return absl::InvalidArgumentError(absl::StrCat("--token-file: cannot read ", *path,
                                                     ": it does not exist or is not readable"));
    }
    std::stringstream text;
    text << in.rdbuf();
    std::string token(absl::StripAsciiWhitespace(text.str()));
    if (token.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--token-file: ", *path, " is empty"));
    }
    g.token = std::move(token);
  } else if (auto e = env("MCSINK_TOKEN"); e && !e->empty()) {
    g.token = std::string(absl::StripAsciiWhitespace(*e));
  }
  if (auto v = inv.Get("output")) {
    if (*v == "table") {
      g.output = OutputFormat::kTable;
    } else if (*v == "json") {
      g.output = OutputFormat::kJson;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("--output: '", *v, "' is not table or json"));
    }
  }
  g.tls_ca_file = inv.Get("tls-ca-file").value_or("");
  g.tls_cert_file = inv.Get("tls-cert-file").value_or("");
  g.tls_key_file = inv.Get("tls-key-file").value_or("");
  g.wait = inv.Has("wait");
  if (auto v = inv.Get("wait-timeout")) {
    auto d = ParseSeconds("wait-timeout", *v);
    if (!d.ok()) return d.status();
    g.wait_timeout = *d;
  }
  return inv;
}

std::string UsageText() {
  std::string out =
      "mcsinkctl: manage mcsink connectors through the controller's ConnectorService.\n\n"
      "Commands:\n";
  for (const CommandSpec& c : Commands()) {
    absl::StrAppend(&out, "  mcsinkctl ", c.synopsis, "\n      ", c.help, "\n");
  }
  absl::StrAppend(&out,
                  "\nConfig flags (create, validate; they override the file's fields):\n"
                  "  --kafka-property KEY=VALUE (repeatable)  --bootstrap-servers HOST:PORT,...\n");
  for (const ConfigFlag& f : ConfigFlags()) {
    absl::StrAppend(&out, "  --", f.flag, " (", f.field, "): ", f.help, "\n");
  }
  absl::StrAppend(
      &out,
      "\nGlobal flags:\n"
      "  --controller HOST:PORT   the controller (env MCSINK_CONTROLLER; default 127.0.0.1:50051)\n"
      "  --token-file PATH        the API token (env MCSINK_TOKEN); never printed\n"
      "  --tls-ca-file PATH       TLS to the controller, verified with this CA bundle (PEM)\n"
      "  --tls-cert-file PATH     with --tls-key-file: a client certificate, for mutual TLS\n"
      "  -o, --output table|json  tables for people (default), proto JSON for scripts\n"
      "  --wait                   with create --deploy, deploy, pause, resume, restart: show\n"
      "                           progress until RUNNING (PAUSED for pause), or FAILED and why\n"
      "  --wait-timeout DURATION  how long --wait waits (default 5m)\n"
      "\nExit codes:\n"
      "  0 ok; 1 usage; 2 invalid config or argument (every bad field printed); 3 not found;\n"
      "  4 unauthenticated or permission denied; 5 controller or MaxCompute unavailable;\n"
      "  6 FAILED under --wait; 7 already exists or not allowed in the current state;\n"
      "  8 --wait timed out; 9 the SQL statement failed; 10 other error.\n");
  return out;
}

}  // namespace mcsink::ctl
