// Expected failures of cluster and cloud operations, as values (not found, conflict, quota, ...).
// Programming errors are assertions; bad user input is InputError (core/input_error.h).
#pragma once
#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace ktwin {

enum class ErrorCode {
  kNotFound,         //!< 404
  kAlreadyExists,    //!< 409 on create
  kConflict,         //!< 409 stale resourceVersion
  kInvalid,          //!< 422 rejected by validation or admission
  kForbidden,        //!< 403
  kGone,             //!< 410 watch resourceVersion too old
  kTooManyRequests,  //!< 429 throttled
  kUnavailable,      //!< 5xx or connection failure
  kTimeout,
  kQuotaExceeded,        //!< cloud: subscription quota for the SKU family exhausted
  kCapacityUnavailable,  //!< cloud: SKU has no capacity in the region/zone
  kInternal,
};

const char* error_code_name(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  std::string reason;           //!< short machine reason, e.g. a cloud error code ("QuotaExceeded")
  int retry_after_seconds = 0;  //!< from Retry-After on 429/503; 0 when absent

  std::string to_string() const;
};

inline Error make_error(ErrorCode code, std::string message, std::string reason = {}) {
  return Error{code, std::move(message), std::move(reason), 0};
}

//! Result<T>: a value or an Error. Result<void> carries only the error.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }
  bool is(ErrorCode code) const { return !ok() && error().code == code; }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}
  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const {
    assert(!ok());
    return *error_;
  }
  bool is(ErrorCode code) const { return !ok() && error_->code == code; }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

}  // namespace ktwin
