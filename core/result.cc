// Names and formatting for ErrorCode / Error.
#include "core/result.h"

namespace ktwin {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNotFound:
      return "NotFound";
    case ErrorCode::kAlreadyExists:
      return "AlreadyExists";
    case ErrorCode::kConflict:
      return "Conflict";
    case ErrorCode::kInvalid:
      return "Invalid";
    case ErrorCode::kForbidden:
      return "Forbidden";
    case ErrorCode::kGone:
      return "Gone";
    case ErrorCode::kTooManyRequests:
      return "TooManyRequests";
    case ErrorCode::kUnavailable:
      return "Unavailable";
    case ErrorCode::kTimeout:
      return "Timeout";
    case ErrorCode::kQuotaExceeded:
      return "QuotaExceeded";
    case ErrorCode::kCapacityUnavailable:
      return "CapacityUnavailable";
    case ErrorCode::kInternal:
      return "Internal";
  }
  return "Unknown";
}

std::string Error::to_string() const {
  std::string out = error_code_name(code);
  if (!reason.empty() && reason != out) out += " (" + reason + ")";
  if (!message.empty()) out += ": " + message;
  return out;
}

}  // namespace ktwin
