// Minimal structured logging to stderr: one line per message, written atomically.
//   MCSINK_LOG(INFO) << "consumer started, topic=" << topic;
// The level comes from MCSINK_LOG_LEVEL (debug, info, warning, error; default info).
// Never log secrets: configs are logged through their redacting printers only.
#pragma once

#include <sstream>
#include <string_view>

namespace mcsink::log {

enum class Level { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// The lowest level written; set from MCSINK_LOG_LEVEL at start-up, or by SetMinLevel.
Level MinLevel();
void SetMinLevel(Level level);
// Parses "debug", "info", "warning"/"warn", "error"; false for anything else.
bool ParseLevel(std::string_view text, Level* level);

// Collects one message and writes it on destruction.
class Line {
 public:
  Line(Level level, const char* file, int line);
  ~Line();
  Line(const Line&) = delete;
  Line& operator=(const Line&) = delete;
  std::ostream& stream() { return stream_; }

 private:
  Level level_;
  std::ostringstream stream_;
};

// Turns `stream << ...` into void so MCSINK_LOG can be an expression (safe in an unbraced if).
struct Voidify {
  void operator&(std::ostream&) {}
};

}  // namespace mcsink::log

#define MCSINK_LOG_LEVEL_DEBUG ::mcsink::log::Level::kDebug
#define MCSINK_LOG_LEVEL_INFO ::mcsink::log::Level::kInfo
#define MCSINK_LOG_LEVEL_WARNING ::mcsink::log::Level::kWarning
#define MCSINK_LOG_LEVEL_ERROR ::mcsink::log::Level::kError

#define MCSINK_LOG(severity)                                \
  (MCSINK_LOG_LEVEL_##severity < ::mcsink::log::MinLevel()) \
      ? (void)0                                             \
      : ::mcsink::log::Voidify() &                          \
            ::mcsink::log::Line(MCSINK_LOG_LEVEL_##severity, __FILE__, __LINE__).stream()
