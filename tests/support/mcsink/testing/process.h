// A child process for end-to-end and fault tests: started with arguments and extra environment,
// its output in a log file, stopped with SIGTERM (clean) or SIGKILL (a crash), reaped on
// destruction.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace mcsink::testing {

class ChildProcess {
 public:
  // Starts `argv[0]` (a path) with `argv`; stdout and stderr go to `log_path`.
  static absl::StatusOr<ChildProcess> Start(const std::vector<std::string>& argv,
                                            const std::string& log_path,
                                            const std::map<std::string, std::string>& env = {});
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  bool Running();
  // SIGTERM, then waits up to `grace` and SIGKILLs. Returns the exit code, or -signal.
  int Stop(absl::Duration grace = absl::Seconds(30));
  // SIGKILL: a crash at whatever the process was doing.
  void Kill();
  // Waits for the process to end by itself; nullopt on timeout.
  std::optional<int> Wait(absl::Duration timeout);

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
  std::optional<int> exit_;
};

// A TCP port on 127.0.0.1 that was free a moment ago, below the kernel's ephemeral range so that
// no outgoing connection takes it before the process it is meant for binds it.
int FreePort();

// Waits until `path` exists and holds a line; returns that line.
absl::StatusOr<std::string> WaitForFileLine(const std::string& path, absl::Duration timeout);

// Waits until `path` holds `text` somewhere (a log line a process writes, say).
absl::Status WaitForFileContaining(const std::string& path, absl::string_view text,
                                   absl::Duration timeout);

}  // namespace mcsink::testing
