// CRC-32C (Castagnoli), the checksum the log stores with every block so that a
// flipped byte on disk is reported instead of returned. Uses the SSE4.2
// instruction when the CPU has it. Thread-safe.
#pragma once

#include <cstdint>

#include "base/bytes.h"

namespace shoal {

uint32_t Crc32c(ByteView data, uint32_t crc = 0);

}  // namespace shoal
