// The blocks the crash test writes: block i is "block-<i>", padded with '.'
// to 1,500 bytes when it was appended in a large batch. The reader accepts
// either form.
#pragma once

#include <string>

inline std::string CrashBlock(uint64_t index, bool padded) {
  std::string b = "block-" + std::to_string(index);
  if (padded) b.resize(1500, '.');
  return b;
}
