// SHOAL_CHECK(cond): aborts the process with the file, line and condition when
// one of our own invariants does not hold. Never used for bad input, which is
// a Status.
#pragma once

namespace shoal::internal {
[[noreturn]] void CheckFailed(const char* file, int line, const char* condition);
}  // namespace shoal::internal

#define SHOAL_CHECK(cond)                                                           \
  do {                                                                              \
    if (__builtin_expect(!(cond), 0)) ::shoal::internal::CheckFailed(__FILE__, __LINE__, #cond); \
  } while (0)
