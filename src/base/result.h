// Result<T>: a value of type T, or the Status that explains why there is none.
//
//   Result<Bytes> block = log.Get(7);
//   if (!block.ok()) return block.status();
//   Use(*block);
//
// Constructing a Result from an OK Status is a programming error (CHECKed).
#pragma once

#include <optional>
#include <utility>

#include "base/check.h"
#include "base/status.h"

namespace shoal {

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    SHOAL_CHECK(!status_.ok());
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  T& value() & {
    SHOAL_CHECK(ok());
    return *value_;
  }
  const T& value() const& {
    SHOAL_CHECK(ok());
    return *value_;
  }
  T&& value() && {
    SHOAL_CHECK(ok());
    return std::move(*value_);
  }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace shoal

// Evaluates `rexpr` (a Result); on failure returns its status, else moves the
// value into `lhs`.
#define SHOAL_ASSIGN_OR_RETURN(lhs, rexpr) \
  SHOAL_ASSIGN_OR_RETURN_IMPL(SHOAL_CONCAT(_result_, __LINE__), lhs, rexpr)
#define SHOAL_ASSIGN_OR_RETURN_IMPL(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()
#define SHOAL_CONCAT(a, b) SHOAL_CONCAT_INNER(a, b)
#define SHOAL_CONCAT_INNER(a, b) a##b
