// The little XML the MaxCompute REST API needs: escaping for the documents mclocal writes, and
// reading an element's text from the flat documents SDKs send (no namespaces, no nesting of the
// same tag), CDATA sections included.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mclocal {

std::string XmlEscape(std::string_view text);
// Decodes the five named entities and numeric character references (to UTF-8).
std::string XmlUnescape(std::string_view text);
// The text of the first <tag ...>...</tag> (or "" for <tag/>) in `xml`, with CDATA sections
// unwrapped and entities decoded; nullopt when there is no such element.
std::optional<std::string> XmlElementText(std::string_view xml, std::string_view tag);

}  // namespace mclocal
