// ParallelFor: splits a loop between the calling thread and one shared helper
// thread. Used where a single call has enough independent work to pay for a
// wake-up (~10 µs), such as hashing the blocks of a large append.
//
// Thread safety: any thread may call it; calls are served one at a time by the
// helper, so concurrent callers may end up doing all of their own work.
#pragma once

#include <cstddef>
#include <functional>

namespace shoal {

// Calls fn(begin, end) over disjoint ranges that cover [0, n). Returns when
// every range is done. Runs inline when n < min_parallel.
void ParallelFor(size_t n, size_t min_parallel, const std::function<void(size_t, size_t)>& fn);

}  // namespace shoal
