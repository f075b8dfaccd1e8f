// Escaping text for XML and HTML (JUnit reports, the HTML run report).
#pragma once
#include <string>
#include <string_view>

namespace ktwin {

//! &, <, >, " and ' as entities; control characters other than newline and tab (not allowed in XML 1.0)
//! become spaces.
std::string xml_escape(std::string_view text);

}  // namespace ktwin
