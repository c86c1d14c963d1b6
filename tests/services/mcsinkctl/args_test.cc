// mcsinkctl's command line: where flags may go, what comes from the environment, and which exit
// code each kind of error gives.
#include "mcsinkctl/args.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mcsink/testing/status_matchers.h"
#include "mcsink/v1/connector.pb.h"
#include "mcsinkctl/config_input.h"

namespace mcsink::ctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

absl::StatusOr<Invocation> Parse(std::vector<std::string> args,
                                 std::map<std::string, std::string> env = {}) {
  return ParseArgs(args, Env(std::move(env)));
}

std::string TempFile(const std::string& name, const std::string& content) {
  const auto path =
      std::filesystem::temp_directory_path() / (std::to_string(getpid()) + "-" + name);
  std::ofstream(path) << content;
  return path.string();
}

TEST(Args, GlobalFlagsWorkBeforeAndAfterTheCommand) {
  ASSERT_OK_AND_ASSIGN(Invocation before, Parse({"--controller=h:1", "-o", "json", "get", "c1"}));
  ASSERT_OK_AND_ASSIGN(Invocation after,
                       Parse({"get", "c1", "--controller", "h:1", "--output=json"}));
  for (const Invocation* inv : {&before, &after}) {
    EXPECT_THAT(inv->command, ElementsAre("get"));
    EXPECT_THAT(inv->positionals, ElementsAre("c1"));
    EXPECT_EQ(inv->global.controller, "h:1");
    EXPECT_EQ(inv->global.output, OutputFormat::kJson);
  }
}

TEST(Args, TwoWordCommandsAndBooleanFlags) {
  ASSERT_OK_AND_ASSIGN(Invocation inv, Parse({"offsets", "reset", "c1", "--to-earliest"}));
  EXPECT_THAT(inv.command, ElementsAre("offsets", "reset"));
  EXPECT_THAT(inv.positionals, ElementsAre("c1"));
  EXPECT_TRUE(inv.Has("to-earliest"));
  ASSERT_OK_AND_ASSIGN(Invocation off, Parse({"restart", "c1", "--only-failed=false", "--wait"}));
  EXPECT_FALSE(off.Has("only-failed"));
  EXPECT_TRUE(off.global.wait);
}

TEST(Args, ControllerAndTokenComeFromTheEnvironmentWhenNoFlagGivesThem) {
  ASSERT_OK_AND_ASSIGN(
      Invocation inv, Parse({"list"}, {{"MCSINK_CONTROLLER", "ctl:7"}, {"MCSINK_TOKEN", "t0k\n"}}));
  EXPECT_EQ(inv.global.controller, "ctl:7");
  EXPECT_EQ(inv.global.token, "t0k");
  ASSERT_OK_AND_ASSIGN(Invocation defaults, Parse({"list"}));
  EXPECT_EQ(defaults.global.controller, "127.0.0.1:50051");
  EXPECT_FALSE(defaults.global.token.has_value());
}

TEST(Args, TokenFileWinsOverTheEnvironmentAndLosesItsNewline) {
  const std::string path = TempFile("token", "from-file\n");
  ASSERT_OK_AND_ASSIGN(Invocation inv,
                       Parse({"list", "--token-file", path}, {{"MCSINK_TOKEN", "from-env"}}));
  EXPECT_EQ(inv.global.token, "from-file");
  std::filesystem::remove(path);
}

TEST(Args, UnreadableOrEmptyTokenFileIsAnInvalidArgument) {
  const auto missing = Parse({"list", "--token-file", "/nonexistent/token"});
  EXPECT_EQ(ExitCodeFor(missing.status()), kExitInvalid);
  EXPECT_THAT(missing.status().message(), HasSubstr("/nonexistent/token"));
  const std::string empty = TempFile("empty-token", "\n");
  EXPECT_EQ(ExitCodeFor(Parse({"list", "--token-file", empty}).status()), kExitInvalid);
  std::filesystem::remove(empty);
}

TEST(Args, SqlStatementFromExecuteOrFromTheWords) {
  ASSERT_OK_AND_ASSIGN(Invocation e, Parse({"sql", "-e", "show partitions t;"}));
  EXPECT_EQ(e.Get("execute"), "show partitions t;");
  ASSERT_OK_AND_ASSIGN(Invocation words, Parse({"sql", "show", "partitions", "t;"}));
  EXPECT_THAT(words.positionals, ElementsAre("show", "partitions", "t;"));
}

TEST(Args, WaitTimeoutAcceptsSecondsAndDurations) {
  ASSERT_OK_AND_ASSIGN(Invocation s, Parse({"deploy", "c", "--wait-timeout", "90"}));
  EXPECT_EQ(s.global.wait_timeout, absl::Seconds(90));
  ASSERT_OK_AND_ASSIGN(Invocation m, Parse({"deploy", "c", "--wait-timeout=2m"}));
  EXPECT_EQ(m.global.wait_timeout, absl::Minutes(2));
  EXPECT_EQ(ExitCodeFor(Parse({"deploy", "c", "--wait-timeout=soon"}).status()), kExitInvalid);
}

TEST(Args, NoArgumentsOrHelpAskForTheHelpText) {
  ASSERT_OK_AND_ASSIGN(Invocation none, Parse({}));
  EXPECT_THAT(none.command, ElementsAre("help"));
  ASSERT_OK_AND_ASSIGN(Invocation help, Parse({"create", "--help"}));
  EXPECT_THAT(help.command, ElementsAre("help"));
  EXPECT_THAT(UsageText(), HasSubstr("offsets reset NAME"));
  EXPECT_THAT(UsageText(), HasSubstr("Exit codes"));
}

struct UsageCase {
  const char* name;
  std::vector<std::string> args;
  const char* what;
};

class ArgsUsage : public ::testing::TestWithParam<UsageCase> {};

TEST_P(ArgsUsage, IsAUsageErrorWithExitCodeOne) {
  const auto result = Parse(GetParam().args);
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(IsUsageError(result.status()));
  EXPECT_EQ(ExitCodeFor(result.status()), kExitUsage);
  EXPECT_THAT(result.status().message(), HasSubstr(GetParam().what));
}

INSTANTIATE_TEST_SUITE_P(
    Args, ArgsUsage,
    ::testing::Values(UsageCase{"UnknownCommand", {"lsit"}, "unknown command 'lsit'"},
                      UsageCase{"UnknownFlag", {"get", "c", "--frobnicate"}, "--frobnicate"},
                      UsageCase{"FlagOfAnotherCommand", {"get", "c", "--deploy"}, "--deploy"},
                      UsageCase{"MissingName", {"status"}, "status NAME"},
                      UsageCase{"ExtraArgument", {"get", "a", "b"}, "get NAME"},
                      UsageCase{"MissingValue", {"get", "c", "--controller"}, "needs a value"},
                      UsageCase{"OffsetsAlone", {"offsets", "c"}, "offsets get NAME"},
                      UsageCase{"UnknownShortOption", {"list", "-x"}, "unknown option '-x'"}),
    [](const ::testing::TestParamInfo<UsageCase>& p) { return p.param.name; });

TEST(Args, BadValuesAreInvalidArgumentsWithExitCodeTwo) {
  const auto output = Parse({"list", "-o", "yaml"});
  EXPECT_FALSE(IsUsageError(output.status()));
  EXPECT_EQ(ExitCodeFor(output.status()), kExitInvalid);
  EXPECT_THAT(output.status().message(), HasSubstr("'yaml' is not table or json"));
}

TEST(ExitCodes, EachStatusCodeMapsToItsDocumentedExitCode) {
  EXPECT_EQ(ExitCodeFor(absl::OkStatus()), 0);
  EXPECT_EQ(ExitCodeFor(UsageError("x")), 1);
  EXPECT_EQ(ExitCodeFor(absl::InvalidArgumentError("x")), 2);
  EXPECT_EQ(ExitCodeFor(absl::NotFoundError("x")), 3);
  EXPECT_EQ(ExitCodeFor(absl::UnauthenticatedError("x")), 4);
  EXPECT_EQ(ExitCodeFor(absl::PermissionDeniedError("x")), 4);
  EXPECT_EQ(ExitCodeFor(absl::UnavailableError("x")), 5);
  EXPECT_EQ(ExitCodeFor(absl::DeadlineExceededError("x")), 5);
  EXPECT_EQ(ExitCodeFor(absl::AlreadyExistsError("x")), 7);
  EXPECT_EQ(ExitCodeFor(absl::FailedPreconditionError("x")), 7);
  EXPECT_EQ(ExitCodeFor(absl::InternalError("x")), 10);
}

TEST(ConfigFlags, FlagsOverrideTheFileAndEnumsTakeShortNames) {
  // given a file with a topic and flags for the topic, an enum and a nested field
  const std::string path =
      TempFile("c.yaml", "name: c1\nsource_topic: from-file\nmode: MODE_KEY\n");
  ASSERT_OK_AND_ASSIGN(Invocation inv,
                       Parse({"create", "-f", path, "--topic", "from-flag", "--initial-offset",
                              "latest", "--time-source", "record-time", "--project", "p",
                              "--access-key-id-env", "AK", "--kafka-property", "acks=all",
                              "--bootstrap-servers", "k:9092", "--concurrency", "12"}));
  // when
  ASSERT_OK_AND_ASSIGN(v1::ConnectorConfig c, ConfigFromInvocation(inv));
  // then
  EXPECT_EQ(c.name(), "c1");
  EXPECT_EQ(c.source_topic(), "from-flag");
  EXPECT_EQ(c.mode(), v1::MODE_KEY);
  EXPECT_EQ(c.initial_offset(), v1::INITIAL_OFFSET_LATEST);
  EXPECT_EQ(c.time_source(), v1::TIME_SOURCE_RECORD_TIME);
  EXPECT_EQ(c.target().project(), "p");
  EXPECT_EQ(c.target().access_key_id().env(), "AK");
  EXPECT_EQ(c.kafka_properties().at("acks"), "all");
  EXPECT_EQ(c.kafka_properties().at("bootstrap.servers"), "k:9092");
  EXPECT_EQ(c.concurrency(), 12u);
  std::filesystem::remove(path);
}

TEST(ConfigFlags, EveryBadFlagIsListedAtOnce) {
  ASSERT_OK_AND_ASSIGN(Invocation inv, Parse({"create", "--name", "c1", "--concurrency", "six",
                                              "--mode", "both", "--kafka-property", "novalue"}));
  const auto c = ConfigFromInvocation(inv);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(ExitCodeFor(c.status()), kExitInvalid);
  EXPECT_THAT(c.status().message(), HasSubstr("--concurrency (concurrency): 'six'"));
  EXPECT_THAT(c.status().message(), HasSubstr("--mode (mode): 'both' is not one of MODE_DEFAULT"));
  EXPECT_THAT(c.status().message(), HasSubstr("--kafka-property: 'novalue'"));
}

TEST(ConfigFlags, AConfigWithoutANameIsRefused) {
  ASSERT_OK_AND_ASSIGN(Invocation inv, Parse({"create", "--topic", "t"}));
  const auto c = ConfigFromInvocation(inv);
  EXPECT_EQ(ExitCodeFor(c.status()), kExitInvalid);
  EXPECT_THAT(c.status().message(), HasSubstr("name"));
}

TEST(ConfigFlags, AMissingConfigFileIsNamed) {
  ASSERT_OK_AND_ASSIGN(Invocation inv, Parse({"create", "-f", "/nonexistent/c.yaml"}));
  const auto c = ConfigFromInvocation(inv);
  EXPECT_EQ(ExitCodeFor(c.status()), kExitInvalid);
  EXPECT_THAT(c.status().message(), HasSubstr("/nonexistent/c.yaml"));
}

}  // namespace
}  // namespace mcsink::ctl
