// Result<T>: what a call that can fail at run time returns, a value or the reason there is none.
// A plain value; one thread at a time, like the T it holds. Load-time problems with a place in a
// file are Diagnostics (diagnostics.h) instead.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace lodestone {

// The reason a call failed, in one sentence for a person (it never holds a secret). Converts to
// a failed Result of any type: `return Failure{"path must not be empty"};`.
struct Failure {
  std::string message;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: a value is a success
  Result(Failure failure) : error_(std::move(failure.message)) {}  // NOLINT: so is a Failure a failure

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  // The value; only when ok().
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  // Why not; empty when ok().
  const std::string& error() const { return error_; }

 private:
  std::optional<T> value_;
  std::string error_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;                                              // success
  Result(Failure failure)  // NOLINT: a Failure is a failure
      : error_(failure.message.empty() ? "failed" : std::move(failure.message)) {}
  bool ok() const { return error_.empty(); }
  explicit operator bool() const { return ok(); }
  const std::string& error() const { return error_; }

 private:
  std::string error_;  // never empty after a Failure, so empty means ok
};

}  // namespace lodestone
