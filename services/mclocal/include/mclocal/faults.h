// Fault injection for tests: rules that make the server fail, delay or drop the Nth request of a
// kind, or expire a tunnel session. Set from --fault flags or POST /admin/faults.
//
// Rule syntax (one per flag or line): `<kind>:<action>[:<arg>][:after][@<n>[+]]`
//   kind    a request kind: any, rest, sql, instance, create_upload, get_upload, put_block,
//           commit, create_download, get_download, read, create_stream, stream, stream_write,
//           sts; or a storage step inside a commit: commit.blocks_moved,
//           commit.manifest_written (only crash acts there)
//   action  fail (answer 5xx; arg = HTTP status, default 500), delay (arg = milliseconds),
//           drop (close the connection without answering), crash (exit the process at once,
//           as kill -9 would), expire (expire the tunnel session the request names, then serve
//           it: the client sees an expired session)
//   after   fail, delay, drop and crash act after the request's work instead of before it: the
//           work is done (a commit is published) but the client gets a 5xx, a late answer, no
//           answer, or a dead server; what a client must resolve without knowing the outcome.
//           `crash:before` is accepted as the default.
//   @n      only the n-th request of that kind (1-based, counted from when the rule was set);
//           `@n+` the n-th and every later one; no @: every request.
// `expire:<session id>` marks an upload/download/stream session expired.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace mclocal {

struct FaultRule {
  std::string kind;
  enum class Action { kFail, kDelay, kDrop, kCrash, kExpire } action = Action::kFail;
  bool after = false;  // act once the request's work is done
  int status = 500;
  int delay_ms = 0;
  int64_t nth = 0;  // 0: every request
  bool and_later = false;
  int64_t seen = 0;   // requests of `kind` counted since the rule was set
  int64_t fired = 0;  // how many of them the rule acted on
  std::string text;   // as written, for GET /admin/faults
};

absl::StatusOr<FaultRule> ParseFaultRule(std::string_view text);

class FaultInjector {
 public:
  // Replaces (rules) or adds (expirations) what `specs` describe; InvalidArgument on a bad spec.
  absl::Status Apply(const std::vector<std::string>& specs);
  void Clear();

  // Counts a request of `kind` against the rules; returns the rule that fires, if any.
  std::optional<FaultRule> OnRequest(std::string_view kind);
  bool IsExpired(const std::string& session_id);
  void Expire(const std::string& session_id);
  // One line per rule: its text, requests seen and fired; then the expired sessions. Tests wait
  // on `fired` to act while a fault is in progress (e.g. kill a client during a delayed answer).
  std::string Describe();

 private:
  std::mutex mu_;
  std::vector<FaultRule> rules_;
  std::set<std::string> expired_;
};

}  // namespace mclocal
