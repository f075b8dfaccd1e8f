// JSON pointers (RFC 6901) as the code uses them to name fields: building them, unescaping their
// tokens and turning them into the dotted paths users read in error messages.
#pragma once
#include <string>
#include <string_view>

namespace ktwin {

//! Appends a token, escaping '~' and '/': pointer_join("/metadata/labels", "kaito.sh/x").
std::string pointer_join(const std::string& base, std::string_view token);
inline std::string pointer_join(const std::string& base, size_t index) { return base + "/" + std::to_string(index); }
//! "~1" -> "/", "~0" -> "~".
std::string unescape_pointer_token(std::string_view token);
//! "/traffic/0/rate" -> "traffic[0].rate"
std::string field_path(const std::string& json_pointer);

}  // namespace ktwin
