#include "kv/block_cache.h"

namespace shoal::kv {

size_t Footprint(const NodeBlock& b) {
  size_t n = sizeof(NodeBlock) + 64 + b.key.size() + (b.value ? b.value->size() : 0);
  for (const Level& l : b.index) n += sizeof(Level) + 8 * (l.keys.size() + l.children.size());
  return n;
}

size_t Footprint(const Bytes& key) {
  // The shared_ptr's control block and the vector, each a heap allocation.
  return sizeof(Bytes) + 32 + key.size();
}

}  // namespace shoal::kv
