// Debian 12's Abseil has its own absl::string_view, which a std::string_view does not convert
// to implicitly; AsAbsl bridges the two at calls into absl (StrCat, StrSplit, ...).
#pragma once

#include <string_view>

#include "absl/strings/string_view.h"

namespace mcsink {

inline absl::string_view AsAbsl(std::string_view s) { return {s.data(), s.size()}; }

}  // namespace mcsink
