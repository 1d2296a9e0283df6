// Status: the outcome of an operation that can fail in an expected way.
//
// An OK status is a null pointer and costs nothing to create, copy or test.
// A failed status carries a code and a message meant for a person. Every
// library in Shoal returns Status (or Result<T>, result.h) for failures that
// are part of normal operation: a missing block, a bad signature, a malformed
// packet, a full disk. Programming errors are CHECKs, not Statuses.
//
// Thread safety: a Status is a value; distinct objects may be used from
// distinct threads without synchronisation.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace shoal {

class [[nodiscard]] Status {
 public:
  enum class Code : int {
    kOk = 0,
    kNotFound = 1,
    kCorruption = 2,         // stored bytes do not match what was written
    kInvalidArgument = 3,    // the caller asked for something impossible
    kIOError = 4,            // the operating system or storage engine failed
    kNotSupported = 5,
    kVerificationFailed = 6, // a proof, hash or signature did not verify
    kMalformed = 7,          // input bytes could not be decoded
    kReadOnly = 8,           // a write to something this node cannot sign
    kAlreadyExists = 9,
    kBusy = 10,              // another process holds the resource
    kAborted = 11,           // stopped before it finished (a closed connection, a shutdown)
  };

  Status() = default;
  Status(const Status& other);
  Status& operator=(const Status& other);
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;

  static Status OK() { return Status(); }
  static Status NotFound(std::string_view msg) { return Status(Code::kNotFound, msg); }
  static Status Corruption(std::string_view msg) { return Status(Code::kCorruption, msg); }
  static Status InvalidArgument(std::string_view msg) {
    return Status(Code::kInvalidArgument, msg);
  }
  static Status IOError(std::string_view msg) { return Status(Code::kIOError, msg); }
  static Status NotSupported(std::string_view msg) { return Status(Code::kNotSupported, msg); }
  static Status VerificationFailed(std::string_view msg) {
    return Status(Code::kVerificationFailed, msg);
  }
  static Status Malformed(std::string_view msg) { return Status(Code::kMalformed, msg); }
  static Status ReadOnly(std::string_view msg) { return Status(Code::kReadOnly, msg); }
  static Status AlreadyExists(std::string_view msg) { return Status(Code::kAlreadyExists, msg); }
  static Status Busy(std::string_view msg) { return Status(Code::kBusy, msg); }
  static Status Aborted(std::string_view msg) { return Status(Code::kAborted, msg); }

  bool ok() const { return state_ == nullptr; }
  Code code() const { return state_ ? state_->code : Code::kOk; }
  bool IsNotFound() const { return code() == Code::kNotFound; }
  bool IsCorruption() const { return code() == Code::kCorruption; }
  bool IsInvalidArgument() const { return code() == Code::kInvalidArgument; }
  bool IsVerificationFailed() const { return code() == Code::kVerificationFailed; }
  bool IsMalformed() const { return code() == Code::kMalformed; }

  // The message alone, without the code name.
  const std::string& message() const;
  // "Corruption: block 3 does not match its tree node".
  std::string ToString() const;

  // Returns a copy with "context: " put in front of the message.
  Status WithContext(std::string_view context) const;

 private:
  struct State {
    Code code;
    std::string message;
  };

  Status(Code code, std::string_view msg);

  std::unique_ptr<State> state_;
};

const char* CodeName(Status::Code code);

}  // namespace shoal

// Returns early from the enclosing function if `expr` is not OK.
#define SHOAL_RETURN_IF_ERROR(expr)        \
  do {                                     \
    ::shoal::Status _st = (expr);          \
    if (!_st.ok()) return _st;             \
  } while (0)
