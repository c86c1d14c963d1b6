#include "mcsink/common/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace mcsink::log {
namespace {

Level LevelFromEnv() {
  Level level = Level::kInfo;
  if (const char* env = std::getenv("MCSINK_LOG_LEVEL"); env != nullptr) ParseLevel(env, &level);
  return level;
}

std::atomic<Level>& MinLevelRef() {
  static std::atomic<Level> level{LevelFromEnv()};
  return level;
}

const char* LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "DEBUG";
    case Level::kInfo:
      return "INFO";
    case Level::kWarning:
      return "WARN";
    case Level::kError:
      return "ERROR";
  }
  return "?";
}

std::string_view Basename(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace

Level MinLevel() { return MinLevelRef().load(std::memory_order_relaxed); }
void SetMinLevel(Level level) { MinLevelRef().store(level, std::memory_order_relaxed); }

bool ParseLevel(std::string_view text, Level* level) {
  const std::string lower = absl::AsciiStrToLower(std::string(text));
  if (lower == "debug") {
    *level = Level::kDebug;
  } else if (lower == "info") {
    *level = Level::kInfo;
  } else if (lower == "warning" || lower == "warn") {
    *level = Level::kWarning;
  } else if (lower == "error") {
    *level = Level::kError;
  } else {
    return false;
  }
  return true;
}

Line::Line(Level level, const char* file, int line) : level_(level) {
  stream_ << absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()) << ' '
          << LevelName(level_) << ' ' << Basename(file) << ':' << line << "] ";
}

Line::~Line() {
  stream_ << '\n';
  const std::string text = stream_.str();
  // One write(2) per line keeps lines from different threads whole.
  [[maybe_unused]] const ssize_t written = ::write(STDERR_FILENO, text.data(), text.size());
}

}  // namespace mcsink::log
