#include "kv/bee.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <list>

#include "kv/block_cache.h"

namespace shoal::kv {
namespace {

// Hyperbee's B-tree shape (hyperbee/index.js): T = 5.
constexpr size_t kMinKeys = 4;
constexpr size_t kMaxChildren = 9;
// Far deeper than any tree of 2^53 keys; a deeper walk means a corrupt index.
constexpr int kMaxDepth = 64;
constexpr size_t kDefaultCacheBytes = BeeOptions{}.cache_bytes;

int Compare(ByteView a, ByteView b) {
  size_t n = std::min(a.size(), b.size());
  int c = n ? std::memcmp(a.data(), b.data(), n) : 0;
  if (c != 0) return c < 0 ? -1 : 1;
  return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
}

struct TreeNode;

struct ChildRef {
  uint64_t seq = 0;
  uint64_t offset = 0;
  std::shared_ptr<TreeNode> value;  // loaded or built in memory
};

// One B-tree node, as loaded from level `offset` of block `block` or built by
// an operation in progress (block 0 then).
struct TreeNode {
  uint64_t block = 0;
  uint64_t offset = 0;
  std::vector<uint64_t> keys;  // seqs of the blocks holding the keys
  // Shared, as hyperbee's Child objects are: a batch's pending blocks point
  // at the same references that later operations move and renumber.
  std::vector<std::shared_ptr<ChildRef>> children;
  bool changed = false;
};

using NodePtr = std::shared_ptr<TreeNode>;

// Whether `key` lies within the bounds of `r` (its order and limit aside).
bool AboveLower(ByteView key, const Range& r) {
  if (r.gt && Compare(key, *r.gt) <= 0) return false;
  if (r.gte && Compare(key, *r.gte) < 0) return false;
  return true;
}
bool BelowUpper(ByteView key, const Range& r) {
  if (r.lt && Compare(key, *r.lt) >= 0) return false;
  if (r.lte && Compare(key, *r.lte) > 0) return false;
  return true;
}
bool InRange(ByteView key, const Range& r) { return AboveLower(key, r) && BelowUpper(key, r); }

NodePtr NewNode() {
  auto n = std::make_shared<TreeNode>();
  n->changed = true;
  return n;
}

}  // namespace

struct Bee::Impl {
  std::shared_ptr<log::Log> log;
  std::mutex mu;
  uint64_t cache_fork = 0;
  // The budget is split: a quarter for keys alone, which every comparison
  // reads and which are small, the rest for whole decoded blocks.
  BlockCache cache{kDefaultCacheBytes / 2};
  KeyCache keys{kDefaultCacheBytes / 2};

  void SetCacheBytes(size_t bytes) {
    cache = BlockCache(bytes - bytes / 2);
    keys = KeyCache(bytes / 2);
  }

  void ClearCaches() {
    cache.Clear();
    keys.Clear();
  }

  void CacheBlock(uint64_t seq, std::shared_ptr<const NodeBlock> block) {
    keys.Insert(seq, std::make_shared<const Bytes>(block->key));
    cache.Insert(seq, std::move(block));
  }

  // Keeps blocks this Bee just appended, so the next operation does not read
  // its root back from the log.
  void CacheWritten(uint64_t seq, NodeBlock&& block) {
    if (log->fork() != cache_fork) return;
    CacheBlock(seq, std::make_shared<const NodeBlock>(std::move(block)));
  }

  // Drops the cache when the log was truncated since it was filled.
  void CheckFork() {
    uint64_t fork = log->fork();
    if (fork != cache_fork) {
      ClearCaches();
      cache_fork = fork;
    }
  }

  // Reads and caches block `seq`; the pointer is valid until the next cache
  // insert (any later Find, Load or Block may insert).
  Result<const NodeBlock*> Load(uint64_t seq) {
    if (seq == 0) return Status::Corruption("a hyperbee index points at the header");
    CheckFork();
    if (const NodeBlock* b = cache.Find(seq)) return b;
    SHOAL_ASSIGN_OR_RETURN(Bytes raw, log->Get(seq));
    auto decoded = DecodeNode(raw);
    if (!decoded.ok()) return decoded.status().WithContext("block " + std::to_string(seq));
    auto block = std::make_shared<const NodeBlock>(std::move(*decoded));
    const NodeBlock* p = block.get();
    CacheBlock(seq, std::move(block));
    return p;
  }

  Result<std::shared_ptr<const NodeBlock>> Block(uint64_t seq) {
    SHOAL_RETURN_IF_ERROR(Load(seq).status());
    return cache.Shared(seq);
  }

  // The key of the block being built, which is not in the log yet.
  uint64_t pending_seq = 0;
  Bytes pending_key;

  // The seq the next operation writes.
  uint64_t NextSeq() { return log->length() + pending.size(); }

  // The key of block `seq`: valid until the next cache insert, so compare
  // it before looking up another block.
  Result<ByteView> KeyView(uint64_t seq) {
    if (seq == pending_seq && seq != 0) return ByteView(pending_key);
    if (!pending.empty() && seq >= pending.front().seq) {
      uint64_t i = seq - pending.front().seq;
      if (i >= pending.size()) return Status::Corruption("key of a block past the batch");
      return ByteView(pending[i].key);
    }
    CheckFork();
    if (const Bytes* k = keys.Find(seq)) return ByteView(*k);
    SHOAL_ASSIGN_OR_RETURN(const NodeBlock* b, Load(seq));
    return ByteView(b->key);
  }

  Result<Bytes> Key(uint64_t seq) {
    SHOAL_ASSIGN_OR_RETURN(ByteView k, KeyView(seq));
    return Bytes(k.begin(), k.end());
  }

  // The node at level `offset` of block `seq`. Pointers may not lead forward
  // in the log; within one block levels may point either way (a batch
  // reorders them), so walks are bounded in depth instead.
  Result<NodePtr> NodeAt(uint64_t seq, uint64_t offset) {
    SHOAL_ASSIGN_OR_RETURN(auto b, Block(seq));
    if (offset >= b->index.size()) {
      return Status::Corruption("block " + std::to_string(seq) + " has no index level " +
                                std::to_string(offset));
    }
    const Level& level = b->index[offset];
    auto n = std::make_shared<TreeNode>();
    n->block = seq;
    n->offset = offset;
    for (uint64_t k : level.keys) {
      if (k == 0 || k > seq) return Status::Corruption("index key points outside the log");
      n->keys.push_back(k);
    }
    for (size_t i = 0; i + 1 < level.children.size(); i += 2) {
      uint64_t cs = level.children[i], co = level.children[i + 1];
      if (cs == 0 || cs > seq || (cs == seq && co == offset)) {
        return Status::Corruption("index child points outside the log or at itself");
      }
      n->children.push_back(std::make_shared<ChildRef>(ChildRef{cs, co, nullptr}));
    }
    if (!n->children.empty() && n->children.size() != n->keys.size() + 1) {
      return Status::Corruption("index node has the wrong number of children");
    }
    return n;
  }

  Result<NodePtr> Child(TreeNode& n, size_t i) {
    if (i >= n.children.size()) return Status::Corruption("index child out of range");
    ChildRef& c = *n.children[i];
    if (!c.value) {
      SHOAL_ASSIGN_OR_RETURN(c.value, NodeAt(c.seq, c.offset));
    }
    return c.value;
  }

  // The root of the database at `version`, or null when it is empty.
  Result<NodePtr> Root(uint64_t version) {
    // Inside a batch the newest root is the live one its operations change.
    if (!pending.empty() && version == pending.back().seq + 1) return pending.back().index[0]->value;
    if (version < 2) return NodePtr();
    return NodeAt(version - 1, 0);
  }

  std::optional<Bytes> header_metadata;  // BeeOptions::header_metadata

  // The fork at which block 0 was last found to be a hyperbee header.
  std::optional<uint64_t> header_fork;

  Status EnsureHeader() {
    if (log->length() == 0 && log->writable()) {
      SHOAL_RETURN_IF_ERROR(log->Append(EncodeHeader(header_metadata)).status());
      header_fork = log->fork();
    } else if (log->length() > 0 && header_fork != log->fork()) {
      auto header = log->Get(0);
      if (header.ok()) {
        SHOAL_RETURN_IF_ERROR(DecodeHeader(*header));
        header_fork = log->fork();
      }
    }
    return Status::OK();
  }

  // Binary search of `key` among a node's keys: the index, and the last
  // comparison (0 on a hit), as hyperbee does.
  Result<std::pair<size_t, int>> Search(TreeNode& n, ByteView key) {
    size_t s = 0, e = n.keys.size();
    int c = 0;
    while (s < e) {
      size_t mid = (s + e) >> 1;
      SHOAL_ASSIGN_OR_RETURN(ByteView k, KeyView(n.keys[mid]));
      c = Compare(key, k);
      if (c == 0) return std::make_pair(mid, 0);
      if (c < 0) e = mid;
      else s = mid + 1;
    }
    return std::make_pair(c < 0 ? e : s, c == 0 ? 2 : c);  // 2: not found, no comparison
  }

  // hyperbee TreeNode.insertKey: false when the node overflows.
  Result<bool> InsertKey(TreeNode& n, uint64_t key_seq, ByteView key, ByteView value,
                         NodePtr child) {
    SHOAL_ASSIGN_OR_RETURN(auto found, Search(n, key));
    if (found.second == 0) {
      // Like hyperbee (alwaysDuplicate, its default), a put of the value the
      // key already has still writes a block.
      n.changed = true;
      n.keys[found.first] = key_seq;
      return true;
    }
    size_t i = found.first;
    n.keys.insert(n.keys.begin() + i, key_seq);
    if (child) {
      n.children.insert(n.children.begin() + i + 1,
                        std::make_shared<ChildRef>(ChildRef{0, 0, child}));
    }
    n.changed = true;
    return n.keys.size() < kMaxChildren;
  }

  // hyperbee TreeNode.split: the left half stays in `n`.
  std::pair<uint64_t, NodePtr> Split(TreeNode& n) {
    size_t len = n.keys.size() >> 1;
    NodePtr right = NewNode();
    right->keys.assign(n.keys.end() - len, n.keys.end());
    n.keys.resize(n.keys.size() - len);
    uint64_t median = n.keys.back();
    n.keys.pop_back();
    if (!n.children.empty()) {
      right->children.assign(n.children.end() - (len + 1), n.children.end());
      n.children.resize(n.children.size() - (len + 1));
    }
    n.changed = true;
    return {median, right};
  }

  // The changed nodes under `root`, root first and children after their
  // parent, numbered as levels of block `seq` (hyperbee indexChanges).
  std::vector<std::shared_ptr<ChildRef>> IndexChanges(NodePtr root, uint64_t seq) {
    std::vector<std::shared_ptr<ChildRef>> index;
    std::function<uint64_t(TreeNode*)> walk = [&](TreeNode* n) -> uint64_t {
      uint64_t offset = index.size();
      index.push_back(nullptr);
      n->changed = false;
      for (auto& c : n->children) {
        if (!c->value || !c->value->changed) continue;
        c->seq = seq;
        c->offset = walk(c->value.get());
        index[c->offset] = c;
      }
      return offset;
    };
    walk(root.get());
    index[0] = std::make_shared<ChildRef>(ChildRef{seq, 0, root});
    return index;
  }

  static NodeBlock BuildBlock(const std::vector<std::shared_ptr<ChildRef>>& index, ByteView key,
                              const std::optional<Bytes>& value) {
    NodeBlock block;
    block.index.reserve(index.size());
    block.key.assign(key.begin(), key.end());
    block.value = value;
    for (const auto& entry : index) {
      const TreeNode& n = *entry->value;
      Level level;
      level.keys = n.keys;
      level.children.reserve(2 * n.children.size());
      for (const auto& c : n.children) {
        level.children.push_back(c->seq);
        level.children.push_back(c->offset);
      }
      block.index.push_back(std::move(level));
    }
    return block;
  }

  // A block not yet appended: the key, value and index of one operation of a
  // batch, whose nodes later operations of the batch may still change.
  struct Pending {
    uint64_t seq;
    Bytes key;
    std::optional<Bytes> value;
    std::vector<std::shared_ptr<ChildRef>> index;
  };
  bool batching = false;
  std::vector<Pending> pending;

  // Writes the block (or, in a batch, keeps it pending).
  Status AppendBlock(NodePtr root, uint64_t seq, ByteView key, const std::optional<Bytes>& value) {
    auto index = IndexChanges(root, seq);
    if (batching) {
      pending.push_back(Pending{seq, Bytes(key.begin(), key.end()), value, std::move(index)});
      return Status::OK();
    }
    NodeBlock block = BuildBlock(index, key, value);
    SHOAL_ASSIGN_OR_RETURN(uint64_t length, log->Append(EncodeNode(block)));
    if (length != seq + 1) return Status::Corruption("the log grew under the database");
    CacheWritten(seq, std::move(block));
    return Status::OK();
  }

  // Appends a batch's blocks in one append. Every block but the last keeps
  // only the nodes that still belong to it once the batch is done
  // (hyperbee Batch.toBlocks); the last one holds the whole changed path.
  Status Flush() {
    std::vector<NodeBlock> built;
    std::vector<Bytes> blocks;
    built.reserve(pending.size());
    blocks.reserve(pending.size());
    for (size_t i = 0; i < pending.size(); i++) {
      Pending& p = pending[i];
      auto& index = p.index;
      if (i + 1 < pending.size()) {
        index[0] = nullptr;
        size_t j = 0;
        while (j < index.size()) {
          if (index[j] && index[j]->seq == p.seq) {
            index[j]->offset = j;
            j++;
            continue;
          }
          if (j == index.size() - 1) {
            index.pop_back();
          } else {
            index[j] = index.back();
            index.pop_back();
          }
        }
      }
      built.push_back(BuildBlock(index, p.key, p.value));
      blocks.push_back(EncodeNode(built.back()));
    }
    if (blocks.empty()) return Status::OK();
    std::vector<ByteView> views(blocks.begin(), blocks.end());
    const uint64_t expect = pending.back().seq + 1;
    SHOAL_ASSIGN_OR_RETURN(uint64_t length, log->Append(views));
    if (length != expect) return Status::Corruption("the log grew under the database");
    for (size_t i = 0; i < built.size(); i++) CacheWritten(pending[i].seq, std::move(built[i]));
    return Status::OK();
  }

  // Asks `cas` whether the write of (key, value) at `seq` may replace the
  // entry in block `prev_seq` (hyperbee calls it only when the key exists).
  Result<bool> CasAllows(const Cas* cas, uint64_t prev_seq, uint64_t seq, ByteView key,
                         const std::optional<Bytes>& value) {
    if (!cas || !*cas) return true;
    SHOAL_ASSIGN_OR_RETURN(auto prev, EntryOf(prev_seq));
    Entry next{seq, Bytes(key.begin(), key.end()), value.value_or(Bytes())};
    return (*cas)(*prev, next);
  }

  Status Put(ByteView key, ByteView value, const Cas* cas = nullptr) {
    Status s = PutLocked(key, value, cas);
    pending_seq = 0;
    return s;
  }

  Status PutLocked(ByteView key, ByteView value, const Cas* cas) {
    SHOAL_RETURN_IF_ERROR(EnsureHeader());
    if (!log->writable()) return Status::ReadOnly("this node cannot write the database");
    const uint64_t seq = NextSeq();
    pending_seq = seq;
    pending_key.assign(key.begin(), key.end());
    SHOAL_ASSIGN_OR_RETURN(NodePtr root, Root(seq));
    if (!root) root = NewNode();
    std::vector<NodePtr> stack;
    NodePtr node = root;
    for (int depth = 0; !node->children.empty(); depth++) {
      if (depth > kMaxDepth) return Status::Corruption("hyperbee tree is too deep");
      stack.push_back(node);
      node->changed = true;
      SHOAL_ASSIGN_OR_RETURN(auto found, Search(*node, key));
      if (found.second == 0) {
        Bytes v(value.begin(), value.end());
        SHOAL_ASSIGN_OR_RETURN(bool allowed, CasAllows(cas, node->keys[found.first], seq, key, v));
        if (!allowed) return Status::OK();
        node->keys[found.first] = seq;
        return AppendBlock(root, seq, key, v);
      }
      SHOAL_ASSIGN_OR_RETURN(node, Child(*node, found.first));
    }
    {
      // The key may already be in this leaf: then `cas` decides.
      SHOAL_ASSIGN_OR_RETURN(auto found, Search(*node, key));
      if (found.second == 0) {
        SHOAL_ASSIGN_OR_RETURN(bool allowed,
                               CasAllows(cas, node->keys[found.first], seq, key,
                                         Bytes(value.begin(), value.end())));
        if (!allowed) return Status::OK();
      }
    }
    SHOAL_ASSIGN_OR_RETURN(bool fits, InsertKey(*node, seq, key, value, nullptr));
    if (!node->changed) return Status::OK();
    bool needs_split = !fits;
    while (needs_split) {
      NodePtr parent;
      if (!stack.empty()) {
        parent = stack.back();
        stack.pop_back();
      }
      auto [median, right] = Split(*node);
      if (parent) {
        SHOAL_ASSIGN_OR_RETURN(Bytes median_key, Key(median));
        SHOAL_ASSIGN_OR_RETURN(fits, InsertKey(*parent, median, median_key, value, right));
        needs_split = !fits;
        node = parent;
      } else {
        root = NewNode();
        root->keys.push_back(median);
        root->children.push_back(std::make_shared<ChildRef>(ChildRef{0, 0, node}));
        root->children.push_back(std::make_shared<ChildRef>(ChildRef{0, 0, right}));
        needs_split = false;
      }
    }
    return AppendBlock(root, seq, key, Bytes(value.begin(), value.end()));
  }

  Result<size_t> LeafSize(NodePtr n, bool go_left) {
    for (int depth = 0; !n->children.empty(); depth++) {
      if (depth > kMaxDepth) return Status::Corruption("hyperbee tree is too deep");
      SHOAL_ASSIGN_OR_RETURN(n, Child(*n, go_left ? 0 : n->children.size() - 1));
    }
    return n->keys.size();
  }

  Status SetKeyToNearestLeaf(TreeNode& n, size_t index, std::vector<NodePtr>& stack) {
    SHOAL_ASSIGN_OR_RETURN(NodePtr left, Child(n, index));
    SHOAL_ASSIGN_OR_RETURN(NodePtr right, Child(n, index + 1));
    SHOAL_ASSIGN_OR_RETURN(size_t ls, LeafSize(left, false));
    SHOAL_ASSIGN_OR_RETURN(size_t rs, LeafSize(right, true));
    if (ls < rs) {
      stack.push_back(right);
      while (!right->children.empty()) {
        right = right->children[0]->value;
        stack.push_back(right);
      }
      n.keys[index] = right->keys.front();
      right->keys.erase(right->keys.begin());
    } else {
      stack.push_back(left);
      while (!left->children.empty()) {
        left = left->children.back()->value;
        stack.push_back(left);
      }
      n.keys[index] = left->keys.back();
      left->keys.pop_back();
    }
    return Status::OK();
  }

  static void RemoveKey(TreeNode& n, size_t index) {
    n.keys.erase(n.keys.begin() + index);
    if (!n.children.empty()) {
      n.children[index + 1]->seq = 0;  // freed: a pending block no longer owns it
      n.children.erase(n.children.begin() + index + 1);
    }
    n.changed = true;
  }

  Result<NodePtr> Rebalance(std::vector<NodePtr>& stack) {
    NodePtr root = stack.front();
    while (stack.size() > 1) {
      NodePtr node = stack.back();
      stack.pop_back();
      NodePtr parent = stack.back();
      if (node->keys.size() >= kMinKeys) return root;

      size_t index = 0;
      while (index < parent->children.size() && parent->children[index]->value != node) index++;
      if (index == parent->children.size()) return Status::Corruption("bad parent in rebalance");
      NodePtr left, right;
      if (index > 0) {
        SHOAL_ASSIGN_OR_RETURN(left, Child(*parent, index - 1));
      }
      if (index + 1 < parent->children.size()) {
        SHOAL_ASSIGN_OR_RETURN(right, Child(*parent, index + 1));
      }

      if (left && left->keys.size() > kMinKeys) {  // borrow from the left
        left->changed = true;
        node->keys.insert(node->keys.begin(), parent->keys[index - 1]);
        if (!left->children.empty()) {
          node->children.insert(node->children.begin(), left->children.back());
          left->children.pop_back();
        }
        parent->keys[index - 1] = left->keys.back();
        left->keys.pop_back();
        return root;
      }
      if (right && right->keys.size() > kMinKeys) {  // borrow from the right
        right->changed = true;
        node->keys.push_back(parent->keys[index]);
        if (!right->children.empty()) {
          node->children.push_back(right->children.front());
          right->children.erase(right->children.begin());
        }
        parent->keys[index] = right->keys.front();
        right->keys.erase(right->keys.begin());
        return root;
      }
      // Merge with a sibling.
      if (left) {
        index--;
        right = node;
      } else {
        left = node;
      }
      left->changed = true;
      left->keys.push_back(parent->keys[index]);
      left->keys.insert(left->keys.end(), right->keys.begin(), right->keys.end());
      left->children.insert(left->children.end(), right->children.begin(), right->children.end());
      RemoveKey(*parent, index);
    }
    if (root->keys.empty() && !root->children.empty()) return Child(*root, 0);
    return root;
  }

  Status Del(ByteView key, const Cas* cas = nullptr) {
    SHOAL_RETURN_IF_ERROR(EnsureHeader());
    if (!log->writable()) return Status::ReadOnly("this node cannot write the database");
    const uint64_t seq = NextSeq();
    SHOAL_ASSIGN_OR_RETURN(NodePtr node, Root(seq));
    if (!node) return Status::OK();
    std::vector<NodePtr> stack;
    for (int depth = 0;; depth++) {
      if (depth > kMaxDepth) return Status::Corruption("hyperbee tree is too deep");
      stack.push_back(node);
      SHOAL_ASSIGN_OR_RETURN(auto found, Search(*node, key));
      if (found.second == 0) {
        SHOAL_ASSIGN_OR_RETURN(bool allowed,
                               CasAllows(cas, node->keys[found.first], seq, key, std::nullopt));
        if (!allowed) return Status::OK();
        if (!node->children.empty()) {
          SHOAL_RETURN_IF_ERROR(SetKeyToNearestLeaf(*node, found.first, stack));
        } else {
          RemoveKey(*node, found.first);
        }
        for (auto& n : stack) n->changed = true;
        SHOAL_ASSIGN_OR_RETURN(NodePtr root, Rebalance(stack));
        return AppendBlock(root, seq, key, std::nullopt);
      }
      if (node->children.empty()) return Status::OK();
      SHOAL_ASSIGN_OR_RETURN(node, Child(*node, found.first));
    }
  }

  // Whether block `seq` deletes its key: no value, and its index does not
  // list the block itself (hyperbee BlockEntry.isDeletion).
  static bool IsDeletion(const NodeBlock& b, uint64_t seq) {
    if (b.value) return false;
    for (const Level& l : b.index) {
      for (uint64_t k : l.keys) {
        if (k == seq) return false;
      }
    }
    return true;
  }

  Result<std::optional<Entry>> EntryOf(uint64_t seq) {
    SHOAL_ASSIGN_OR_RETURN(auto b, Block(seq));
    Entry e;
    e.seq = seq;
    e.key = b->key;
    if (b->value) e.value = *b->value;
    return std::optional<Entry>(std::move(e));
  }

  Result<std::optional<Entry>> Get(ByteView key, uint64_t version) {
    if (pending.empty() || version != pending.back().seq + 1) return GetStored(key, version);
    SHOAL_ASSIGN_OR_RETURN(NodePtr node, Root(version));
    for (int depth = 0; node; depth++) {
      if (depth > kMaxDepth) return Status::Corruption("hyperbee tree is too deep");
      SHOAL_ASSIGN_OR_RETURN(auto block, Block(node->block));
      if (Equal(block->key, key)) {
        if (IsDeletion(*block, node->block)) return std::optional<Entry>();
        return EntryOf(node->block);
      }
      SHOAL_ASSIGN_OR_RETURN(auto found, Search(*node, key));
      if (found.second == 0) return EntryOf(node->keys[found.first]);
      if (node->children.empty()) break;
      SHOAL_ASSIGN_OR_RETURN(node, Child(*node, found.first));
    }
    return std::optional<Entry>();
  }

  // Get at a version in the log: walks the cached levels themselves, with no
  // TreeNode built, and checks each pointer as it follows it.
  Result<std::optional<Entry>> GetStored(ByteView key, uint64_t version) {
    if (version < 2) return std::optional<Entry>();
    uint64_t seq = version - 1, offset = 0;
    for (int depth = 0;; depth++) {
      if (depth > kMaxDepth) return Status::Corruption("hyperbee tree is too deep");
      SHOAL_ASSIGN_OR_RETURN(auto block, Block(seq));
      if (offset >= block->index.size()) {
        return Status::Corruption("block " + std::to_string(seq) + " has no index level " +
                                  std::to_string(offset));
      }
      if (Equal(block->key, key)) {
        if (IsDeletion(*block, seq)) return std::optional<Entry>();
        return EntryOf(seq);
      }
      const Level& level = block->index[offset];
      size_t lo = 0, hi = level.keys.size();
      while (lo < hi) {
        size_t mid = (lo + hi) >> 1;
        uint64_t k = level.keys[mid];
        if (k == 0 || k > seq) return Status::Corruption("index key points outside the log");
        SHOAL_ASSIGN_OR_RETURN(ByteView probe, KeyView(k));
        int c = Compare(key, probe);
        if (c == 0) return EntryOf(k);
        if (c < 0) hi = mid;
        else lo = mid + 1;
      }
      if (level.children.empty()) return std::optional<Entry>();
      if (level.children.size() != 2 * (level.keys.size() + 1)) {
        return Status::Corruption("index node has the wrong number of children");
      }
      uint64_t cs = level.children[2 * lo], co = level.children[2 * lo + 1];
      if (cs == 0 || cs > seq || (cs == seq && co == offset)) {
        return Status::Corruption("index child points outside the log or at itself");
      }
      seq = cs;
      offset = co;
    }
  }

  // In-order walk that skips subtrees wholly outside the range.
  Status Walk(NodePtr n, const Range& r, std::vector<Entry>& out, int depth) {
    if (depth > kMaxDepth) return Status::Corruption("hyperbee tree is too deep");
    const size_t count = n->keys.size();
    std::vector<Bytes> keys(count);
    for (size_t i = 0; i < count; i++) {
      SHOAL_ASSIGN_OR_RETURN(keys[i], Key(n->keys[i]));
    }
    auto visit_child = [&](size_t i) -> Status {
      if (n->children.empty() || out.size() >= r.limit) return Status::OK();
      // Child i holds the keys between keys[i - 1] and keys[i].
      if (i < count && !AboveLower(keys[i], r)) return Status::OK();
      if (i > 0 && !BelowUpper(keys[i - 1], r)) return Status::OK();
      SHOAL_ASSIGN_OR_RETURN(NodePtr child, Child(*n, i));
      return Walk(child, r, out, depth + 1);
    };
    auto visit_key = [&](size_t i) -> Status {
      if (out.size() >= r.limit) return Status::OK();
      if (!InRange(keys[i], r)) return Status::OK();
      SHOAL_ASSIGN_OR_RETURN(auto e, EntryOf(n->keys[i]));
      out.push_back(std::move(*e));
      return Status::OK();
    };
    if (!r.reverse) {
      for (size_t i = 0; i < count; i++) {
        SHOAL_RETURN_IF_ERROR(visit_child(i));
        SHOAL_RETURN_IF_ERROR(visit_key(i));
      }
      return visit_child(count);
    }
    SHOAL_RETURN_IF_ERROR(visit_child(count));
    for (size_t i = count; i-- > 0;) {
      SHOAL_RETURN_IF_ERROR(visit_key(i));
      SHOAL_RETURN_IF_ERROR(visit_child(i));
    }
    return Status::OK();
  }
};


namespace {

// One node being walked by a diff: position i alternates between children
// (even) and keys (odd), as hyperbee's iterators/diff.js does.
struct SubTree {
  NodePtr node;
  SubTree* parent;
  bool is_key;
  uint64_t i;
  uint64_t n = 0;
  uint64_t seq;
  uint64_t offset;

  SubTree(NodePtr nd, SubTree* p) : node(std::move(nd)), parent(p) {
    is_key = node->children.empty();
    i = is_key ? 1 : 0;
    if (!is_key) {
      seq = node->children[0]->seq;
      offset = node->children[0]->offset;
    } else {
      seq = node->keys.empty() ? 0 : node->keys[0];
      offset = 0;
    }
  }

  bool Next() {
    i++;
    is_key = (i & 1) == 1;
    if (!is_key && node->children.empty()) i++;
    return Update();
  }

  bool Update() {
    is_key = (i & 1) == 1;
    n = i >> 1;
    if (n >= (is_key ? node->keys.size() : node->children.size())) return false;
    if (is_key) {
      seq = node->keys[n];
      offset = 0;
    } else {
      seq = node->children[n]->seq;
      offset = node->children[n]->offset;
    }
    return true;
  }
};

}  // namespace

// Walks one version's tree for a diff (hyperbee TreeIterator, without bounds).
class Bee::DiffWalker {
 public:
  DiffWalker(Impl* impl) : impl_(impl) {}

  Status Open(uint64_t version) {
    SHOAL_ASSIGN_OR_RETURN(NodePtr root, impl_->Root(version));
    if (!root || root->keys.empty()) return Status::OK();
    stack_.push_back(std::make_unique<SubTree>(root, nullptr));
    return Status::OK();
  }

  SubTree* Peek() { return stack_.empty() ? nullptr : stack_.back().get(); }

  void Skip() {
    if (!stack_.empty() && !stack_.back()->Next()) stack_.pop_back();
  }

  // The key a subtree stands for: its current key, or its parent's.
  Result<std::optional<Bytes>> KeyOf(SubTree* t) {
    for (int depth = 0; t; depth++, t = t->parent) {
      if (depth > 64) return Status::Corruption("hyperbee tree is too deep");
      if (t->n < t->node->keys.size()) {
        SHOAL_ASSIGN_OR_RETURN(Bytes k, impl_->Key(t->node->keys[t->n]));
        return std::optional<Bytes>(std::move(k));
      }
    }
    return std::optional<Bytes>();
  }

  // Advances one step; returns the key block's seq when the step passed a key.
  Result<std::optional<uint64_t>> Step() {
    if (stack_.empty()) return std::optional<uint64_t>();
    SubTree* top = stack_.back().get();
    const bool is_key = top->is_key;
    const uint64_t n = top->n, seq = top->seq;
    NodePtr node = top->node;
    SubTree* parent = top;
    std::unique_ptr<SubTree> popped;
    if (!top->Next()) {
      popped = std::move(stack_.back());  // keep it alive: a child may point at it
      stack_.pop_back();
      parent = popped.get();
      retired_.push_back(std::move(popped));
    }
    if (is_key) return std::optional<uint64_t>(seq);
    if (stack_.size() > 64) return Status::Corruption("hyperbee tree is too deep");
    SHOAL_ASSIGN_OR_RETURN(NodePtr child, impl_->Child(*node, n));
    stack_.push_back(std::make_unique<SubTree>(child, parent));
    return std::optional<uint64_t>();
  }

  // Steps until a key comes out (or the walk ends).
  Result<std::optional<uint64_t>> NextKey() {
    while (!stack_.empty()) {
      SHOAL_ASSIGN_OR_RETURN(auto seq, Step());
      if (seq) return seq;
    }
    return std::optional<uint64_t>();
  }

 private:
  Impl* impl_;
  std::vector<std::unique_ptr<SubTree>> stack_;
  std::vector<std::unique_ptr<SubTree>> retired_;
};

Result<std::vector<DiffEntry>> Bee::Diff(uint64_t from, std::optional<uint64_t> to,
                                         uint64_t limit) {
  std::lock_guard lock(impl_->mu);
  const uint64_t length = impl_->log->length();
  uint64_t newer = to.value_or(length);
  if (from > length || newer > length) return Status::InvalidArgument("version is past the log");
  DiffWalker a(impl_.get()), b(impl_.get());
  SHOAL_RETURN_IF_ERROR(a.Open(newer));
  SHOAL_RETURN_IF_ERROR(b.Open(from));
  std::vector<DiffEntry> out;
  auto entry = [&](std::optional<uint64_t> seq) -> Result<std::optional<Entry>> {
    if (!seq) return std::optional<Entry>();
    return impl_->EntryOf(*seq);
  };
  for (uint64_t steps = 0; out.size() < limit; steps++) {
    SubTree* l = a.Peek();
    SubTree* r = b.Peek();
    if (!l && !r) break;
    DiffEntry d;
    if (!l) {
      SHOAL_ASSIGN_OR_RETURN(auto s, b.NextKey());
      SHOAL_ASSIGN_OR_RETURN(d.before, entry(s));
    } else if (!r) {
      SHOAL_ASSIGN_OR_RETURN(auto s, a.NextKey());
      SHOAL_ASSIGN_OR_RETURN(d.after, entry(s));
    } else if (l->seq == r->seq && l->is_key == r->is_key && l->offset == r->offset) {
      a.Skip();  // the same subtree or key in both versions
      b.Skip();
      continue;
    } else if (l->is_key != r->is_key) {
      if (l->is_key) {
        SHOAL_RETURN_IF_ERROR(b.Step().status());
      } else {
        SHOAL_RETURN_IF_ERROR(a.Step().status());
      }
      continue;
    } else {
      SHOAL_ASSIGN_OR_RETURN(auto lk, a.KeyOf(l));
      SHOAL_ASSIGN_OR_RETURN(auto rk, b.KeyOf(r));
      int c = !lk ? (rk ? 1 : 0) : !rk ? -1 : Compare(*lk, *rk);
      if (l->is_key) {
        if (c <= 0) {
          SHOAL_ASSIGN_OR_RETURN(auto s, a.NextKey());
          SHOAL_ASSIGN_OR_RETURN(d.after, entry(s));
        }
        if (c >= 0) {
          SHOAL_ASSIGN_OR_RETURN(auto s, b.NextKey());
          SHOAL_ASSIGN_OR_RETURN(d.before, entry(s));
        }
      } else {
        if (c == 0) {
          SHOAL_RETURN_IF_ERROR(a.Step().status());
          SHOAL_RETURN_IF_ERROR(b.Step().status());
        } else if (c < 0) {
          SHOAL_RETURN_IF_ERROR(b.Step().status());
        } else {
          SHOAL_RETURN_IF_ERROR(a.Step().status());
        }
        continue;
      }
    }
    if (d.before || d.after) out.push_back(std::move(d));
  }
  return out;
}

Bee::Bee(std::shared_ptr<log::Log> log, const BeeOptions& options)
    : impl_(std::make_unique<Impl>()) {
  impl_->log = std::move(log);
  impl_->SetCacheBytes(options.cache_bytes);
  impl_->header_metadata = options.header_metadata;
}
Bee::~Bee() = default;

uint64_t Bee::version() const { return impl_->log->length(); }

Result<std::optional<Entry>> Bee::Get(ByteView key, std::optional<uint64_t> version) {
  std::lock_guard lock(impl_->mu);
  uint64_t v = version.value_or(impl_->log->length());
  if (v > impl_->log->length()) return Status::InvalidArgument("version is past the log");
  return impl_->Get(key, v);
}

Status Bee::Put(ByteView key, ByteView value, const Cas& cas) {
  std::lock_guard lock(impl_->mu);
  return impl_->Put(key, value, &cas);
}

Status Bee::Del(ByteView key, const Cas& cas) {
  std::lock_guard lock(impl_->mu);
  return impl_->Del(key, &cas);
}

Status Bee::Apply(std::span<const Op> ops) {
  std::lock_guard lock(impl_->mu);
  impl_->batching = true;
  Status s;
  for (const Op& op : ops) {
    s = op.value ? impl_->Put(op.key, *op.value) : impl_->Del(op.key);
    if (!s.ok()) break;
  }
  if (s.ok()) s = impl_->Flush();
  impl_->batching = false;
  impl_->pending.clear();
  return s;
}

Result<std::vector<Entry>> Bee::List(const Range& range, std::optional<uint64_t> version) {
  std::lock_guard lock(impl_->mu);
  uint64_t v = version.value_or(impl_->log->length());
  if (v > impl_->log->length()) return Status::InvalidArgument("version is past the log");
  SHOAL_ASSIGN_OR_RETURN(NodePtr root, impl_->Root(v));
  std::vector<Entry> out;
  if (root && range.limit > 0) {
    SHOAL_RETURN_IF_ERROR(impl_->Walk(root, range, out, 0));
  }
  return out;
}

}  // namespace shoal::kv

namespace shoal::kv {

Result<uint64_t> Bee::Compact() {
  std::lock_guard lock(impl_->mu);
  log::Log& log = *impl_->log;
  const uint64_t length = log.length();
  SHOAL_ASSIGN_OR_RETURN(NodePtr root, impl_->Root(length));
  // Every block the newest tree reaches: nodes' blocks and keys' blocks.
  std::vector<bool> linked(length, false);
  if (length > 0) linked[0] = true;  // the header
  std::vector<std::pair<NodePtr, int>> todo;
  if (root) todo.emplace_back(root, 0);
  while (!todo.empty()) {
    auto [n, depth] = todo.back();
    todo.pop_back();
    if (depth > 64) return Status::Corruption("hyperbee tree is too deep");
    if (n->block < length) linked[n->block] = true;
    for (uint64_t k : n->keys) {
      if (k < length) linked[k] = true;
    }
    for (size_t i = 0; i < n->children.size(); i++) {
      SHOAL_ASSIGN_OR_RETURN(NodePtr child, impl_->Child(*n, i));
      todo.emplace_back(child, depth + 1);
    }
  }
  uint64_t cleared = 0;
  for (uint64_t i = 0; i < length;) {
    if (linked[i] || !log.Has(i)) {
      i++;
      continue;
    }
    uint64_t j = i;
    while (j < length && !linked[j] && log.Has(j)) j++;
    SHOAL_RETURN_IF_ERROR(log.Clear(i, j));
    cleared += j - i;
    i = j;
  }
  impl_->ClearCaches();
  return cleared;
}

std::unique_ptr<Watch> Bee::WatchRange(const Range& range,
                                       std::function<void(uint64_t, uint64_t)> on_change) {
  std::unique_ptr<Watch> w(new Watch());
  w->bee_ = this;
  w->range_ = range;
  w->range_.limit = UINT64_MAX;
  w->on_change_ = std::move(on_change);
  w->version_ = impl_->log->length();
  w->fork_ = impl_->log->fork();
  Watch* raw = w.get();
  w->listener_ = impl_->log->Subscribe([raw] {
    std::lock_guard lock(raw->mu_);
    raw->dirty_ = true;
    raw->cv_.notify_all();
  });
  w->thread_ = std::thread([raw] { raw->Run(); });
  return w;
}

Watch::~Watch() {
  bee_->impl_->log->Unsubscribe(listener_);
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  thread_.join();
}

void Watch::Run() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return dirty_ || stop_; });
    if (stop_) return;
    dirty_ = false;
    lock.unlock();
    log::Log& log = *bee_->impl_->log;
    const uint64_t to = log.length();
    const uint64_t fork = log.fork();
    bool changed = false;
    if (fork != fork_ || to < version_) {
      changed = true;  // truncated: the old version is gone
    } else if (to != version_) {
      auto diff = bee_->Diff(version_, to);
      if (!diff.ok()) {
        changed = true;  // cannot tell: say so rather than miss a change
      } else {
        for (const DiffEntry& d : *diff) {
          const Entry& e = d.after ? *d.after : *d.before;
          if (InRange(e.key, range_)) {
            changed = true;
            break;
          }
        }
      }
    }
    const uint64_t from = version_;
    version_ = to;
    fork_ = fork;
    if (changed) on_change_(from, to);
    lock.lock();
  }
}

Sub::Sub(Bee& bee, ByteView prefix, uint8_t separator) : bee_(bee) {
  prefix_.assign(prefix.begin(), prefix.end());
  prefix_.push_back(separator);
}

Sub::Sub(const Sub& parent, ByteView prefix, uint8_t separator) : bee_(parent.bee_) {
  prefix_ = parent.prefix_;
  prefix_.insert(prefix_.end(), prefix.begin(), prefix.end());
  prefix_.push_back(separator);
}

Bytes Sub::Full(ByteView key) const {
  Bytes full = prefix_;
  full.insert(full.end(), key.begin(), key.end());
  return full;
}

Entry Sub::Strip(Entry e) const {
  e.key.erase(e.key.begin(), e.key.begin() + std::min(e.key.size(), prefix_.size()));
  return e;
}

Result<std::optional<Entry>> Sub::Get(ByteView key, std::optional<uint64_t> version) {
  SHOAL_ASSIGN_OR_RETURN(auto e, bee_.Get(Full(key), version));
  if (!e) return e;
  return std::optional<Entry>(Strip(std::move(*e)));
}

Status Sub::Put(ByteView key, ByteView value, const Cas& cas) {
  if (!cas) return bee_.Put(Full(key), value);
  return bee_.Put(Full(key), value, [&](const Entry& prev, const Entry& next) {
    return cas(Strip(prev), Strip(next));
  });
}

Status Sub::Del(ByteView key, const Cas& cas) {
  if (!cas) return bee_.Del(Full(key));
  return bee_.Del(Full(key), [&](const Entry& prev, const Entry& next) {
    return cas(Strip(prev), Strip(next));
  });
}

Status Sub::Apply(std::span<const Op> ops) {
  std::vector<Op> full;
  full.reserve(ops.size());
  for (const Op& op : ops) full.push_back(Op{Full(op.key), op.value});
  return bee_.Apply(full);
}

Result<std::vector<Entry>> Sub::List(const Range& range, std::optional<uint64_t> version) {
  // hyperbee: a sub with no lower bound starts after prefix || 0x00, and with
  // no upper bound ends before the prefix with its last byte bumped.
  Range r = range;
  if (r.gt) r.gt = Full(*r.gt);
  if (r.gte) r.gte = Full(*r.gte);
  if (r.lt) r.lt = Full(*r.lt);
  if (r.lte) r.lte = Full(*r.lte);
  if (!r.gt && !r.gte) r.gt = Full(Bytes{0});
  if (!r.lt && !r.lte) {
    Bytes end = prefix_;
    end.back()++;
    r.lt = end;
  }
  SHOAL_ASSIGN_OR_RETURN(auto entries, bee_.List(r, version));
  for (Entry& e : entries) e = Strip(std::move(e));
  return entries;
}

}  // namespace shoal::kv
