#include "mcsink/testing/process.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace mcsink::testing {

absl::StatusOr<ChildProcess> ChildProcess::Start(const std::vector<std::string>& argv,
                                                 const std::string& log_path,
                                                 const std::map<std::string, std::string>& env) {
  if (argv.empty()) return absl::InvalidArgumentError("no program");
  const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (log < 0) return absl::InternalError(absl::StrCat("cannot open ", log_path));
  const pid_t pid = ::fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    ::dup2(log, STDOUT_FILENO);
    ::dup2(log, STDERR_FILENO);
    // The test blocks SIGTERM/SIGINT in some threads; the child starts with a clean mask.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (const auto& [name, value] : env) ::setenv(name.c_str(), value.c_str(), 1);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(log);
  return ChildProcess(pid);
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept : pid_(other.pid_), exit_(other.exit_) {
  other.pid_ = -1;
}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0) Stop();
    pid_ = other.pid_;
    exit_ = other.exit_;
    other.pid_ = -1;
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !exit_.has_value()) Stop(absl::Seconds(10));
}

std::optional<int> ChildProcess::Wait(absl::Duration timeout) {
  if (exit_.has_value() || pid_ <= 0) return exit_;
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
      return exit_;
    }
    if (absl::Now() >= deadline) return std::nullopt;
    absl::SleepFor(absl::Milliseconds(20));
  }
}

bool ChildProcess::Running() { return pid_ > 0 && !Wait(absl::ZeroDuration()).has_value(); }

int ChildProcess::Stop(absl::Duration grace) {
  if (pid_ <= 0) return -1;
  if (!exit_.has_value()) {
    ::kill(pid_, SIGTERM);
    if (!Wait(grace).has_value()) {
      ::kill(pid_, SIGKILL);
      Wait(absl::InfiniteDuration());
    }
  }
  return *exit_;
}

void ChildProcess::Kill() {
  if (pid_ <= 0 || exit_.has_value()) return;
  ::kill(pid_, SIGKILL);
  Wait(absl::InfiniteDuration());
}

namespace {

// Whether a listening socket could be bound to 127.0.0.1:`port` now (0: any port, returned).
int TryBind(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  int bound = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    socklen_t len = sizeof(addr);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      bound = ntohs(addr.sin_port);
    }
  }
  ::close(fd);
  return bound;
}

}  // namespace

int FreePort() {
  // Below the kernel's ephemeral range (ip_local_port_range, 32768 by default): a port drawn
  // from that range (bind to port 0) can be taken by any outgoing connection (Kafka clients,
  // other tests) before the child process binds it, which failed a test with "address in use".
  // Here only another FreePort caller could take it, and the draw is random over 12k ports.
  int low = 32768;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> low;
  thread_local std::mt19937 random(std::random_device{}());
  if (low > 20000) {
    std::uniform_int_distribution<int> pick(20000, low - 1);
    for (int attempt = 0; attempt < 100; ++attempt) {
      if (const int port = TryBind(pick(random)); port > 0) return port;
    }
  }
  return TryBind(0);
}

absl::StatusOr<std::string> WaitForFileLine(const std::string& path, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    std::ifstream in(path);
    std::string line;
    if (std::getline(in, line) && !absl::StripAsciiWhitespace(line).empty()) {
      return std::string(absl::StripAsciiWhitespace(line));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("nothing in ", path, " after ", absl::FormatDuration(timeout)));
}

absl::Status WaitForFileContaining(const std::string& path, absl::string_view text,
                                   absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    std::ifstream in(path);
    const std::string content((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
    if (absl::StrContains(content, text)) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("no \"", text, "\" in ", path, " after ", absl::FormatDuration(timeout)));
}

}  // namespace mcsink::testing
