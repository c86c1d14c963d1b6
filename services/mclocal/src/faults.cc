#include "mclocal/faults.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace mclocal {

absl::StatusOr<FaultRule> ParseFaultRule(std::string_view text) {
  absl::string_view rest(text.data(), text.size());
  FaultRule rule;
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad fault rule '", std::string(text), "': ", std::string(why),
                     "; expected <kind>:fail[:status]|delay:ms|drop|crash|expire[:after][@n[+]]"));
  };
  const auto at = rest.rfind('@');
  if (at != absl::string_view::npos) {
    absl::string_view n = rest.substr(at + 1);
    rest = rest.substr(0, at);
    if (absl::ConsumeSuffix(&n, "+")) rule.and_later = true;
    if (!absl::SimpleAtoi(n, &rule.nth) || rule.nth < 1) return bad("@n needs n >= 1");
  }
  std::vector<std::string> f = absl::StrSplit(rest, ':');
  if (f.size() < 2 || f[0].empty()) return bad("missing kind or action");
  rule.kind = f[0];
  // A trailing `after` (or `before`) says when the action happens relative to the work.
  if (f.size() > 2 && (f.back() == "after" || f.back() == "before")) {
    rule.after = f.back() == "after";
    f.pop_back();
  }
  const std::string& action = f[1];
  if (action == "fail") {
    if (f.size() > 3) return bad("too many fields");
    if (f.size() == 3 &&
        (!absl::SimpleAtoi(f[2], &rule.status) || rule.status < 400 || rule.status > 599)) {
      return bad("status must be 400..599");
    }
  } else if (action == "delay") {
    rule.action = FaultRule::Action::kDelay;
    if (f.size() != 3 || !absl::SimpleAtoi(f[2], &rule.delay_ms) || rule.delay_ms < 0) {
      return bad("delay needs milliseconds");
    }
  } else if (action == "drop") {
    rule.action = FaultRule::Action::kDrop;
    if (f.size() != 2) return bad("drop takes no argument but after");
  } else if (action == "crash") {
    rule.action = FaultRule::Action::kCrash;
    if (f.size() != 2) return bad("crash takes before or after");
  } else if (action == "expire") {
    rule.action = FaultRule::Action::kExpire;
    if (f.size() != 2 || rule.after) return bad("expire takes no argument");
  } else {
    return bad(absl::StrCat("unknown action '", action, "'"));
  }
  rule.text = std::string(text);
  return rule;
}

absl::Status FaultInjector::Apply(const std::vector<std::string>& specs) {
  std::vector<FaultRule> rules;
  std::vector<std::string> expire;
  for (const auto& spec : specs) {
    absl::string_view s = absl::StripAsciiWhitespace(spec);
    if (s.empty()) continue;
    if (absl::ConsumePrefix(&s, "expire:")) {
      if (s.empty()) return absl::InvalidArgumentError("expire: needs a session id");
      expire.emplace_back(s);
      continue;
    }
    auto rule = ParseFaultRule(std::string(s));
    if (!rule.ok()) return rule.status();
    rules.push_back(*rule);
  }
  std::lock_guard lock(mu_);
  if (!rules.empty()) rules_ = std::move(rules);
  expired_.insert(expire.begin(), expire.end());
  return absl::OkStatus();
}

void FaultInjector::Clear() {
  std::lock_guard lock(mu_);
  rules_.clear();
  expired_.clear();
}

std::optional<FaultRule> FaultInjector::OnRequest(std::string_view kind) {
  std::lock_guard lock(mu_);
  for (FaultRule& rule : rules_) {
    if (rule.kind != "any" && rule.kind != kind) continue;
    ++rule.seen;
    if (rule.nth == 0 || rule.seen == rule.nth || (rule.and_later && rule.seen > rule.nth)) {
      ++rule.fired;
      return rule;
    }
  }
  return std::nullopt;
}

bool FaultInjector::IsExpired(const std::string& session_id) {
  std::lock_guard lock(mu_);
  return expired_.count(session_id) > 0;
}

void FaultInjector::Expire(const std::string& session_id) {
  std::lock_guard lock(mu_);
  expired_.insert(session_id);
}

std::string FaultInjector::Describe() {
  std::lock_guard lock(mu_);
  std::string out;
  for (const FaultRule& rule : rules_) {
    absl::StrAppend(&out, rule.text, " seen=", rule.seen, " fired=", rule.fired, "\n");
  }
  for (const std::string& id : expired_) absl::StrAppend(&out, "expire:", id, "\n");
  return out;
}

}  // namespace mclocal
