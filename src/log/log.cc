#include "log/log.h"

#include <cstring>
#include <string>

#include "base/crc32c.h"
#include "base/encoding.h"
#include "base/parallel.h"
#include "log/log_format.h"
#include "storage/db.h"

namespace shoal::log {

using format::LogKey;

namespace {

constexpr uint64_t kMetaWritable = 1;
constexpr uint64_t kMetaManifest = 2;
constexpr uint64_t kMetaEncrypted = 4;
constexpr uint64_t kMetaName = 8;
constexpr uint64_t kMetaSigner = 16;  // the key pair derives from another name
constexpr uint64_t kMetaReplicaFile = 32;  // a replica's blocks are in its blocks file

Bytes EncodeNodeValue(const Node& n) {
  enc::Encoder e(40);
  e.Uint(n.size);
  e.Fixed(n.hash);
  return e.Take();
}

// A block is stored as crc32c(stored) (u32le) || stored bytes.
void PutBlock(storage::WriteBatch& wb, uint64_t id, uint64_t index, ByteView stored) {
  uint32_t crc = Crc32c(stored);
  uint8_t prefix[4];
  for (int i = 0; i < 4; i++) prefix[i] = static_cast<uint8_t>(crc >> (8 * i));
  wb.Put(LogKey(id, format::kBlock, index), ByteView(prefix, 4), stored);
}

std::string Num(uint64_t n) { return std::to_string(n); }

// Where a writer's block lies in its blocks file, and its checksum.
struct Locator {
  uint64_t offset = 0;
  uint64_t size = 0;
  uint32_t crc = 0;
};

// A replica's block locator (kReplicaBlock): uint offset, uint size, crc32c.
Bytes EncodeReplicaLocator(const Locator& l) {
  enc::Encoder e(24);
  e.Uint(l.offset);
  e.Uint(l.size);
  e.Uint32(l.crc);
  return e.Take();
}

Result<Locator> DecodeReplicaLocator(ByteView value, uint64_t index) {
  enc::Decoder d(value);
  Locator l;
  l.offset = d.Uint();
  l.size = d.Uint();
  l.crc = d.Uint32();
  if (!d.Finish().ok()) return Status::Corruption("locator of block " + std::to_string(index) + " is unreadable");
  return l;
}

// The locators of blocks [16g, 16g + 16) share one key (kLocatorGroup):
//   uint offset of block 16g, then per block in order: uint size, u32le crc32c.
// Blocks are contiguous in the file, so offsets follow from the sizes. A group
// may list blocks past the log's length (left by a truncate); they are ignored.
struct LocatorGroup {
  uint64_t base = 0;
  std::vector<std::pair<uint64_t, uint32_t>> blocks;  // (size, crc)
};

Bytes EncodeLocatorGroup(const LocatorGroup& g) {
  enc::Encoder e(8 + 9 * g.blocks.size());
  e.Uint(g.base);
  for (const auto& [size, crc] : g.blocks) {
    e.Uint(size);
    e.Uint32(crc);
  }
  return e.Take();
}

Result<LocatorGroup> DecodeLocatorGroup(ByteView value, uint64_t group) {
  enc::Decoder d(value);
  LocatorGroup g;
  g.base = d.Uint();
  while (d.ok() && !d.done() && g.blocks.size() < format::kLocatorGroupBlocks) {
    uint64_t size = d.Uint();
    uint32_t crc = d.Uint32();
    g.blocks.emplace_back(size, crc);
  }
  if (!d.Finish().ok()) {
    return Status::Corruption("locators of blocks from " +
                              Num(group * format::kLocatorGroupBlocks) + " are unreadable");
  }
  return g;
}

// The locator of slot `slot` of a group.
Result<Locator> LocatorAt(const LocatorGroup& g, uint64_t slot, uint64_t index) {
  if (slot >= g.blocks.size()) return Status::Corruption("block " + Num(index) + " has no locator");
  Locator l{g.base, 0, 0};
  for (uint64_t j = 0; j < slot; j++) l.offset += g.blocks[j].first;
  l.size = g.blocks[slot].first;
  l.crc = g.blocks[slot].second;
  return l;
}

}  // namespace

Status DecodeRun(ByteView value, uint64_t* first, std::vector<Node>* nodes);

// Reads tree nodes. A writer's log keeps them in node runs, one value per
// append (fewer, larger writes); a replica, whose nodes arrive one proof at a
// time, keeps one key per node.
class Log::Reader final : public NodeReader {
 public:
  Reader(storage::Db* db, uint64_t id) : db_(db), id_(id) {}

  void set_runs(bool runs) { runs_ = runs; }
  bool runs() const { return runs_; }

  Result<Node> GetNode(uint64_t index) override {
    return runs_ ? GetFromRun(index) : GetSingle(index);
  }

 private:
  Result<Node> GetSingle(uint64_t index) {
    Bytes value;
    SHOAL_RETURN_IF_ERROR(db_->Get(LogKey(id_, format::kNode, index), &value));
    enc::Decoder d(value);
    Node n;
    n.index = index;
    n.size = d.Uint();
    n.hash = d.Fixed<32>();
    if (!d.Finish().ok()) return Status::Corruption("tree node " + Num(index) + " is unreadable");
    return n;
  }

  // The node lives in the run that covers its rightmost block.
  Result<Node> GetFromRun(uint64_t index) {
    const uint64_t block = flat::RightSpan(index) / 2;
    auto it = db_->NewIterator(LogKey(id_, format::kNodeRun, 0), LogKey(id_, format::kNodeRun + 1));
    it->Seek(LogKey(id_, format::kNodeRun, block));
    if (!it->Valid()) {
      SHOAL_RETURN_IF_ERROR(it->status());
      return Status::NotFound("tree node " + Num(index) + " is not stored");
    }
    std::vector<Node> nodes;
    uint64_t first = 0;
    SHOAL_RETURN_IF_ERROR(DecodeRun(it->value(), &first, &nodes));
    if (block < first) return Status::NotFound("tree node " + Num(index) + " is not stored");
    for (const Node& n : nodes) {
      if (n.index == index) return n;
    }
    return Status::NotFound("tree node " + Num(index) + " is not stored");
  }

  storage::Db* db_;
  uint64_t id_;
  bool runs_ = false;
};

Status DecodeRun(ByteView value, uint64_t* first, std::vector<Node>* nodes) {
  enc::Decoder d(value);
  *first = d.Uint();
  uint64_t count = d.ArrayLength(34);
  nodes->clear();
  nodes->reserve(count);
  for (uint64_t i = 0; i < count && d.ok(); i++) {
    Node n;
    n.index = d.Uint();
    n.size = d.Uint();
    n.hash = d.Fixed<32>();
    nodes->push_back(n);
  }
  if (!d.Finish().ok()) return Status::Corruption("a tree node run is unreadable");
  return Status::OK();
}

// Stores `nodes`, all with rightmost block in [first, last], as node runs of
// at most kMaxRunBlocks blocks each.
void PutRuns(storage::WriteBatch& wb, uint64_t id, uint64_t first, uint64_t last,
             const std::vector<Node>& nodes) {
  for (uint64_t run_first = first; run_first <= last; run_first += format::kMaxRunBlocks) {
    uint64_t run_last = std::min(last, run_first + format::kMaxRunBlocks - 1);
    enc::Encoder e(64 + 40 * 2 * (run_last - run_first + 1));
    size_t count = 0;
    for (const Node& n : nodes) {
      uint64_t b = flat::RightSpan(n.index) / 2;
      count += b >= run_first && b <= run_last;
    }
    e.Uint(run_first);
    e.Uint(count);
    for (const Node& n : nodes) {
      uint64_t b = flat::RightSpan(n.index) / 2;
      if (b < run_first || b > run_last) continue;
      e.Uint(n.index);
      e.Uint(n.size);
      e.Fixed(n.hash);
    }
    wb.Put(LogKey(id, format::kNodeRun, run_last), e.bytes());
  }
}

Log::Log(storage::Db* db, uint64_t id, std::string blocks_path)
    : db_(db), id_(id), blocks_path_(std::move(blocks_path)),
      reader_(std::make_unique<Reader>(db, id)) {}

Log::~Log() {
  std::lock_guard lock(mu_);
  (void)SignLocked();  // best effort: the next open or read signs otherwise
}

Status Log::UseWriterLayout() {
  reader_->set_runs(true);
  SHOAL_ASSIGN_OR_RETURN(file_, BlockFile::Open(blocks_path_));
  return Status::OK();
}

Status Log::UseReplicaFile() {
  SHOAL_ASSIGN_OR_RETURN(replica_file_, BlockFile::Open(blocks_path_));
  // Bytes past the last committed locator are a block whose batch never
  // committed; the next block goes after them.
  SHOAL_ASSIGN_OR_RETURN(replica_end_, replica_file_->Size());
  return Status::OK();
}

bool Log::compat() const {
  std::lock_guard lock(mu_);
  return verifier_ && verifier_->compat();
}

std::optional<Manifest> Log::manifest() const {
  std::lock_guard lock(mu_);
  if (!verifier_) return std::nullopt;
  return verifier_->manifest();
}
uint64_t Log::length() const {
  std::lock_guard lock(mu_);
  return state_.length;
}
uint64_t Log::byte_length() const {
  std::lock_guard lock(mu_);
  return state_.byte_length - (encryption_ ? BlockEncryption::kPadding * state_.length : 0);
}
uint64_t Log::fork() const {
  std::lock_guard lock(mu_);
  return state_.fork;
}
uint64_t Log::contiguous_length() const {
  std::lock_guard lock(mu_);
  return contiguous_;
}
Result<TreeState> Log::state() {
  std::lock_guard lock(mu_);
  SHOAL_RETURN_IF_ERROR(SignLocked());
  return state_;
}

Status Log::Sign() {
  std::lock_guard lock(mu_);
  return SignLocked();
}

Status Log::SignLocked() {
  if (signed_length_ == state_.length || !key_pair_ || !verifier_) return Status::OK();
  SHOAL_ASSIGN_OR_RETURN(Bytes signature, verifier_->Sign(state_.TreeHash(), state_.length,
                                                           state_.fork, *key_pair_));
  // The signature is derived from what storage already holds, so it is kept
  // even if writing the head fails: the stored head stays valid, only older.
  state_.signature = std::move(signature);
  signed_length_ = state_.length;
  const uint64_t stored_head = head_length_;
  storage::WriteBatch wb;
  PersistHead(wb);
  Status s = db_->Write(wb, sync_.load());
  if (!s.ok()) head_length_ = stored_head;  // the stored head is the old one
  return s;
}
Hash Log::tree_hash() const {
  std::lock_guard lock(mu_);
  return state_.TreeHash();
}

// ---- persistence ----

Bytes Log::EncodeMeta() const {
  enc::Encoder e(200);
  uint64_t flags = (writer_layout() ? kMetaWritable : 0) | (verifier_ ? kMetaManifest : 0) |
                   (encryption_key_ ? kMetaEncrypted : 0) | (!name_.empty() ? kMetaName : 0) |
                   (!signer_.empty() ? kMetaSigner : 0) | (replica_file_ ? kMetaReplicaFile : 0);
  e.Uint(format::kMetaVersion);
  e.Uint(flags);
  e.Fixed(key_);
  if (verifier_) {
    e.Bool(verifier_->compat());
    EncodeManifest(e, verifier_->manifest());
  }
  if (encryption_key_) e.Fixed(*encryption_key_);
  if (!name_.empty()) e.String(name_);
  if (!signer_.empty()) e.String(signer_);
  return e.Take();
}

Bytes Log::EncodeHead() const {
  enc::Encoder e(100);
  e.Uint(format::kHeadVersion);
  e.Uint(state_.fork);
  e.Uint(state_.length);
  e.Uint(contiguous_);
  e.Uint(signed_length_);
  e.Buffer(state_.signature);
  return e.Take();
}

// Whether state_.signature verifies the tree at signed_length_, which
// appends since (unsigned yet) may have extended: the roots there are
// rebuilt from the stored nodes.
Result<bool> Log::SignatureVerifies() const {
  TreeState signed_state;
  signed_state.fork = state_.fork;
  signed_state.length = signed_length_;
  if (signed_length_ == state_.length) {
    signed_state.roots = state_.roots;
  } else {
    SHOAL_RETURN_IF_ERROR(LoadRoots(signed_length_, &signed_state.roots));
  }
  return verifier_->Verify(signed_state.TreeHash(), signed_length_, state_.fork,
                           state_.signature);
}

Status Log::LoadRoots(uint64_t length, std::vector<Node>* roots) const {
  roots->clear();
  for (uint64_t index : flat::FullRoots(2 * length)) {
    auto node = reader_->GetNode(index);
    if (!node.ok()) {
      if (node.status().IsNotFound()) {
        return Status::Corruption("root " + Num(index) + " of length " + Num(length) +
                                  " is missing");
      }
      return node.status();
    }
    roots->push_back(*node);
  }
  return Status::OK();
}

// Reads meta, head, roots and bitfield, and checks the signature.
Status Log::Load() {
  tail_group_.reset();
  locator_cache_.clear();
  signed_length_ = 0;
  head_length_ = 0;
  Bytes meta;
  SHOAL_RETURN_IF_ERROR(db_->Get(LogKey(id_, format::kMeta), &meta).WithContext("log meta"));
  enc::Decoder d(meta);
  if (d.Uint() != format::kMetaVersion) return Status::NotSupported("log meta version");
  uint64_t flags = d.Uint();
  key_ = d.Fixed<32>();
  if (flags & kMetaManifest) {
    bool compat = d.Bool();
    Manifest m = DecodeManifest(d);
    if (d.ok()) {
      if (compat) {
        if (m.signers.size() != 1 || m.signers[0].public_key != key_) {
          return Status::Corruption("stored compat signer is not the log key");
        }
        verifier_ = Verifier::Compat(key_);
      } else {
        auto v = Verifier::Create(key_, m);
        if (!v.ok()) return Status::Corruption("stored manifest does not match the log key");
        verifier_ = std::move(*v);
      }
    }
  }
  if ((flags & kMetaWritable) && !file_) SHOAL_RETURN_IF_ERROR(UseWriterLayout());
  if ((flags & kMetaReplicaFile) && !replica_file_) SHOAL_RETURN_IF_ERROR(UseReplicaFile());
  if (flags & kMetaEncrypted) encryption_key_ = d.Fixed<32>();
  if (flags & kMetaName) name_ = std::string(d.String());
  if (flags & kMetaSigner) signer_ = std::string(d.String());
  if (!d.Finish().ok()) return Status::Corruption("log meta is unreadable");
  discovery_key_ = DiscoveryKey(key_);
  if (encryption_key_) encryption_.emplace(key_, *encryption_key_);

  Bytes head;
  Status s = db_->Get(LogKey(id_, format::kHead), &head);
  if (s.IsNotFound()) {
    // No head: an empty log, or a writer's whose appends wrote none yet.
    if (file_) SHOAL_RETURN_IF_ERROR(ExtendByRuns());
    if (state_.length == 0) return Status::OK();
  } else {
    SHOAL_RETURN_IF_ERROR(s);
    SHOAL_RETURN_IF_ERROR(DecodeHead(head));
  }
  return LoadTail();
}

Status Log::DecodeHead(ByteView head) {
  enc::Decoder h(head);
  const uint64_t version = h.Uint();
  if (version != 1 && version != format::kHeadVersion) {
    return Status::NotSupported("log head version");
  }
  state_.fork = h.Uint();
  state_.length = h.Uint();
  contiguous_ = h.Uint();
  signed_length_ = version == 1 ? state_.length : h.Uint();
  ByteView sig = h.Buffer();
  state_.signature.assign(sig.begin(), sig.end());
  if (!h.Finish().ok() || contiguous_ > state_.length || signed_length_ > state_.length) {
    return Status::Corruption("log head is unreadable");
  }
  head_length_ = state_.length;
  if (file_) SHOAL_RETURN_IF_ERROR(ExtendByRuns());
  return Status::OK();
}

// Appends since the head was last written left only their node runs: each
// run that starts at the length extends it (docs/formats/log.md §3.2).
Status Log::ExtendByRuns() {
  const uint64_t from = state_.length;
  auto it = db_->NewIterator(LogKey(id_, format::kNodeRun, from),
                             LogKey(id_, format::kNodeRun + 1));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ByteView k = it->key();
    if (k.size() != 18) return Status::Corruption("node run key is malformed");
    uint64_t last = GetU64BE(k.data() + 10);
    enc::Decoder d(it->value());
    uint64_t first = d.Uint();
    if (!d.ok() || first != state_.length || last < first) {
      return Status::Corruption("node run ending at " + Num(last) +
                                " does not follow on from length " + Num(state_.length));
    }
    state_.length = last + 1;
  }
  SHOAL_RETURN_IF_ERROR(it->status());
  if (contiguous_ == from) contiguous_ = state_.length;
  return Status::OK();
}

// The rest of Load, once the head and the runs past it gave the length.
Status Log::LoadTail() {
  SHOAL_RETURN_IF_ERROR(LoadRoots(state_.length, &state_.roots));
  state_.byte_length = 0;
  for (const Node& r : state_.roots) state_.byte_length += r.size;
  if (state_.length > 0 && !verifier_) return Status::Corruption("log has blocks but no manifest");
  if (signed_length_ > 0) {
    SHOAL_ASSIGN_OR_RETURN(bool valid, SignatureVerifies());
    if (!valid) {
      return Status::Corruption("signature does not match the stored tree at length " +
                                Num(signed_length_));
    }
  }
  if (file_) {
    // Bytes past the committed length are an append that never committed.
    SHOAL_ASSIGN_OR_RETURN(uint64_t size, file_->Size());
    if (size > state_.byte_length) SHOAL_RETURN_IF_ERROR(file_->Truncate(state_.byte_length));
  }

  auto it = db_->NewIterator(LogKey(id_, format::kBitfield, 0),
                             LogKey(id_, format::kBitfield + 1));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ByteView k = it->key();
    if (k.size() != 18) return Status::Corruption("bitfield key is malformed");
    uint64_t page = GetU64BE(k.data() + 10);
    bitfield_.LoadPage(page, it->value());
    stored_pages_.insert(page);
  }
  SHOAL_RETURN_IF_ERROR(it->status());
  // Pages may be stale below the contiguous prefix, so the prefix wins.
  bitfield_.SetRange(0, contiguous_, true);
  bitfield_.Truncate(state_.length);
  bitfield_.TakeDirty();
  return Status::OK();
}

void Log::SetContiguous(uint64_t value) {
  constexpr uint64_t kPage = Bitfield::kBitsPerPage;
  if (value < contiguous_) bitfield_.MarkDirty(value / kPage, (contiguous_ + kPage - 1) / kPage);
  contiguous_ = value;
}

void Log::PersistBitfieldAndHead(storage::WriteBatch& wb) {
  PersistBitfield(wb);
  PersistHead(wb);
}

void Log::PersistBitfield(storage::WriteBatch& wb) {
  // A page is stored only while it holds a set bit at or above the contiguous
  // length: everything below is implied by the head (invariant 3). So a
  // writer's appends, which keep contiguous == length, write no page at all.
  for (uint64_t page : bitfield_.TakeDirty()) {
    uint64_t page_end = (page + 1) * Bitfield::kBitsPerPage;
    uint64_t first = bitfield_.FindFirst(true, std::max(contiguous_, page * Bitfield::kBitsPerPage));
    if (first < page_end) {
      wb.Put(LogKey(id_, format::kBitfield, page), bitfield_.PageBytes(page));
      stored_pages_.insert(page);
    } else if (stored_pages_.erase(page) > 0) {
      wb.Delete(LogKey(id_, format::kBitfield, page));
    }
  }
}

void Log::PersistHead(storage::WriteBatch& wb) {
  wb.Put(LogKey(id_, format::kHead), EncodeHead());
  head_length_ = state_.length;
}

Status Log::CommitOrReload(storage::WriteBatch& wb) {
  Status s = db_->Write(wb, sync_.load());
  if (s.ok()) return s;
  // The in-memory state ran ahead of storage; go back to what storage has.
  state_ = TreeState{};
  bitfield_ = Bitfield();
  stored_pages_.clear();
  written_nodes_.clear();
  contiguous_ = 0;
  verifier_.reset();
  encryption_.reset();
  encryption_key_.reset();
  Status reload = Load();
  return reload.ok() ? s : reload.WithContext(s.ToString());
}

// ---- writing ----

Result<uint64_t> Log::Append(std::span<const ByteView> blocks) {
  auto length = AppendImpl(blocks);
  if (length.ok() && !blocks.empty()) NotifyListeners();
  return length;
}

Status Log::Truncate(uint64_t length) {
  Status s = TruncateImpl(length);
  if (s.ok()) NotifyListeners();
  return s;
}

Status Log::ApplyProof(const Proof& proof) {
  const Proof* one[] = {&proof};
  return ApplyProofs(one)[0];
}

std::vector<Status> Log::ApplyProofs(std::span<const Proof* const> proofs) {
  // Hashing the blocks is most of verifying them; readers of the log need not
  // wait for it.
  std::vector<uint64_t> indexes;
  std::vector<ByteView> blocks;
  for (const Proof* p : proofs) {
    if (!p->block) continue;
    indexes.push_back(p->block->index);
    blocks.push_back(p->block->value);
  }
  std::vector<Node> leaves(blocks.size());
  LeafNodes(indexes, blocks, leaves);

  std::vector<Status> out;
  out.reserve(proofs.size());
  uint64_t before = length();
  uint64_t fork_before = fork();
  size_t next_leaf = 0;
  for (const Proof* p : proofs) {
    std::optional<Node> leaf;
    if (p->block) leaf = leaves[next_leaf++];
    out.push_back(ApplyProofImpl(*p, leaf));
  }
  if (length() != before || fork() != fork_before) NotifyListeners();
  return out;
}

uint64_t Log::Subscribe(std::function<void()> on_change) {
  std::lock_guard lock(listeners_mu_);
  uint64_t id = next_listener_++;
  listeners_.emplace_back(id, std::move(on_change));
  return id;
}

void Log::Unsubscribe(uint64_t id) {
  std::lock_guard lock(listeners_mu_);
  std::erase_if(listeners_, [id](const auto& l) { return l.first == id; });
}

void Log::NotifyListeners() {
  std::lock_guard lock(listeners_mu_);
  for (auto& [id, fn] : listeners_) fn();
}

Result<uint64_t> Log::Append(ByteView block) {
  ByteView one[] = {block};
  return Append(one);
}

Result<uint64_t> Log::AppendImpl(std::span<const ByteView> blocks) {
  std::lock_guard lock(mu_);
  if (!key_pair_ || !verifier_) return Status::ReadOnly("this node cannot sign the log");
  if (!file_) return Status::Corruption("the log's writer layout is missing");
  if (blocks.empty()) return state_.length;

  std::vector<Bytes> encrypted;
  std::vector<ByteView> stored(blocks.begin(), blocks.end());
  if (encryption_) {
    encrypted.reserve(blocks.size());
    for (size_t k = 0; k < blocks.size(); k++) {
      encrypted.push_back(encryption_->Encrypt(state_.length + k, blocks[k], state_.fork));
      stored[k] = encrypted.back();
    }
  }

  // The blocks go to the blocks file first: until the batch below commits
  // (its node run is what extends the length, log.md §3.2), bytes past the
  // committed length are ignored, and cut off at the next open.
  SHOAL_RETURN_IF_ERROR(file_->Write(state_.byte_length, stored));
  if (sync_.load()) SHOAL_RETURN_IF_ERROR(file_->Sync());
  TreeBatch batch(state_);
  for (const Node& leaf : HashLeaves(state_.length, stored)) batch.AppendLeaf(leaf);
  // Unsigned: next keeps the signature at signed_length_ (see log.h).
  TreeState next = std::move(batch.state());

  if (!append_batch_) append_batch_ = std::make_unique<storage::WriteBatch>();
  storage::WriteBatch& wb = *append_batch_;
  wb.Clear();
  const uint64_t old_length = state_.length;
  std::optional<std::pair<uint64_t, Bytes>> tail;
  SHOAL_RETURN_IF_ERROR(PutLocators(wb, stored, &tail));
  PutRuns(wb, id_, state_.length, next.length - 1, batch.nodes());

  bitfield_.SetRange(state_.length, next.length, true);
  if (contiguous_ == state_.length) contiguous_ = next.length;
  state_ = std::move(next);
  PersistBitfield(wb);
  // The node runs above extend the stored head's length when the log opens,
  // so an append rewrites the head only every kHeadIntervalBlocks blocks,
  // which bounds the runs an open reads (docs/formats/log.md §3.2).
  if (state_.length - head_length_ >= format::kHeadIntervalBlocks) PersistHead(wb);
  SHOAL_RETURN_IF_ERROR(CommitOrReload(wb));
  // The group the append extended changed; later groups were not read yet.
  locator_cache_.erase(old_length / format::kLocatorGroupBlocks);
  tail_group_ = std::move(tail);
  return state_.length;
}

// Adds the locators of `stored`, appended at the current length, to `wb`:
// the group holding the first of them is extended, later groups are new.
Status Log::PutLocators(storage::WriteBatch& wb, std::span<const ByteView> stored,
                        std::optional<std::pair<uint64_t, Bytes>>* tail) const {
  constexpr uint64_t kGroup = format::kLocatorGroupBlocks;
  uint64_t index = state_.length;
  LocatorGroup g;
  g.base = state_.byte_length;
  if (index % kGroup != 0) {
    Bytes value;
    uint64_t group = index / kGroup;
    if (tail_group_ && tail_group_->first == group) {
      value = tail_group_->second;
    } else {
      Status s = db_->Get(LogKey(id_, format::kLocatorGroup, group), &value);
      if (s.IsNotFound()) s = Status::Corruption("the locators of the last blocks are missing");
      SHOAL_RETURN_IF_ERROR(s);
    }
    SHOAL_ASSIGN_OR_RETURN(g, DecodeLocatorGroup(value, group));
    if (g.blocks.size() < index % kGroup) {
      return Status::Corruption("locator group " + Num(group) + " lacks blocks of the log");
    }
    g.blocks.resize(index % kGroup);  // entries past the length are stale
  }
  for (ByteView block : stored) {
    g.blocks.emplace_back(block.size(), Crc32c(block));
    index++;
    if (index % kGroup == 0) {
      wb.Put(LogKey(id_, format::kLocatorGroup, index / kGroup - 1), EncodeLocatorGroup(g));
      for (const auto& b : g.blocks) g.base += b.first;
      g.blocks.clear();
    }
  }
  tail->reset();
  if (!g.blocks.empty()) {
    Bytes value = EncodeLocatorGroup(g);
    wb.Put(LogKey(id_, format::kLocatorGroup, index / kGroup), value);
    tail->emplace(index / kGroup, std::move(value));
  }
  return Status::OK();
}

Status Log::TruncateImpl(uint64_t length) {
  std::lock_guard lock(mu_);
  tail_group_.reset();
  locator_cache_.clear();
  if (!key_pair_ || !verifier_) return Status::ReadOnly("this node cannot sign the log");
  if (!file_) return Status::Corruption("the log's writer layout is missing");
  if (length > state_.length) {
    return Status::InvalidArgument("cannot truncate to " + Num(length) + ", the log has " +
                                   Num(state_.length) + " blocks");
  }
  TreeState next;
  next.fork = state_.fork + 1;
  next.length = length;
  SHOAL_RETURN_IF_ERROR(LoadRoots(length, &next.roots));
  for (const Node& r : next.roots) next.byte_length += r.size;
  SHOAL_ASSIGN_OR_RETURN(next.signature,
                         verifier_->Sign(next.TreeHash(), length, next.fork, *key_pair_));

  storage::WriteBatch wb;
  const uint64_t old_length = state_.length;
  // Nodes whose rightmost block is cut go: whole runs past the new end, and
  // the tail of the run that straddles it, which is rewritten to end there.
  if (length > 0) {
    auto it = db_->NewIterator(LogKey(id_, format::kNodeRun, 0),
                               LogKey(id_, format::kNodeRun + 1));
    it->Seek(LogKey(id_, format::kNodeRun, length - 1));
    SHOAL_RETURN_IF_ERROR(it->status());
    if (it->Valid() && GetU64BE(it->key().data() + 10) >= length) {
      uint64_t first;
      std::vector<Node> nodes, kept;
      SHOAL_RETURN_IF_ERROR(DecodeRun(it->value(), &first, &nodes));
      for (const Node& n : nodes) {
        if (flat::RightSpan(n.index) / 2 < length) kept.push_back(n);
      }
      if (first < length) PutRuns(wb, id_, first, length - 1, kept);
    }
  }
  wb.DeleteRange(LogKey(id_, format::kNodeRun, length), LogKey(id_, format::kNodeRun + 1));
  // Groups wholly past the new length go; the one that straddles it keeps
  // entries past the length, which are ignored and overwritten.
  constexpr uint64_t kGroup = format::kLocatorGroupBlocks;
  wb.DeleteRange(LogKey(id_, format::kLocatorGroup, (length + kGroup - 1) / kGroup),
                 LogKey(id_, format::kLocatorGroup + 1));

  bitfield_.SetRange(length, old_length, false);
  SetContiguous(std::min(contiguous_, length));
  state_ = std::move(next);
  signed_length_ = length;
  PersistBitfieldAndHead(wb);
  SHOAL_RETURN_IF_ERROR(CommitOrReload(wb));
  // Committed: the bytes past the new length are garbage now.
  return file_->Truncate(state_.byte_length);
}

Status Log::Clear(uint64_t start, uint64_t end) {
  {
    std::lock_guard lock(mu_);
    end = std::min(end, state_.length);
    if (start >= end) return Status::OK();
    storage::WriteBatch wb;
    // A replica's block bytes in its file, to punch out once the batch commits.
    std::vector<std::pair<uint64_t, uint64_t>> replica_holes;
    if (replica_file_) {
      auto it = db_->NewIterator(LogKey(id_, format::kReplicaBlock, start),
                                 LogKey(id_, format::kReplicaBlock, end));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        auto l = DecodeReplicaLocator(it->value(), GetU64BE(it->key().data() + 10));
        if (l.ok()) replica_holes.emplace_back(l->offset, l->size);
      }
      SHOAL_RETURN_IF_ERROR(it->status());
      wb.DeleteRange(LogKey(id_, format::kReplicaBlock, start),
                     LogKey(id_, format::kReplicaBlock, end));
    } else if (!file_) {
      wb.DeleteRange(LogKey(id_, format::kBlock, start), LogKey(id_, format::kBlock, end));
    }
    // A writer's locators stay (the bitfield says the blocks are gone); only
    // their bytes go, and the signed tree says which bytes those are.
    uint64_t hole_start = 0, hole_end = 0;
    if (file_) {
      SHOAL_ASSIGN_OR_RETURN(hole_start, log::ByteOffset(state_, *reader_, 2 * start));
      SHOAL_ASSIGN_OR_RETURN(hole_end, log::ByteOffset(state_, *reader_, 2 * end));
    }
    bitfield_.SetRange(start, end, false);
    SetContiguous(std::min(contiguous_, start));
    PersistBitfieldAndHead(wb);
    SHOAL_RETURN_IF_ERROR(CommitOrReload(wb));
    if (file_) {
      // Under the lock: an append after a truncate could reuse these bytes.
      return file_->PunchHole(hole_start, hole_end - hole_start)
          .WithContext("blocks cleared, but their space was not reclaimed yet");
    }
    if (replica_file_) {
      for (auto [offset, size] : replica_holes) {
        SHOAL_RETURN_IF_ERROR(replica_file_->PunchHole(offset, size)
                                  .WithContext("blocks cleared, but their space was not reclaimed yet"));
      }
      return Status::OK();
    }
  }
  // Deleted keys keep their space until compaction rewrites their tables.
  return db_->CompactRange(LogKey(id_, format::kBlock, start), LogKey(id_, format::kBlock, end))
      .WithContext("blocks cleared, but their space was not reclaimed yet");
}

// ---- reading ----

uint64_t Log::stored_blocks() const {
  std::lock_guard lock(mu_);
  return contiguous_ + bitfield_.Count(contiguous_, state_.length);
}

bool Log::Has(uint64_t index) const {
  std::lock_guard lock(mu_);
  return bitfield_.Get(index);
}

std::vector<uint64_t> Log::Missing(uint64_t start, uint64_t end, size_t limit) const {
  std::vector<uint64_t> out;
  std::lock_guard lock(mu_);
  for (uint64_t i = bitfield_.FindFirst(false, start); i < end && out.size() < limit;
       i = bitfield_.FindFirst(false, i + 1)) {
    out.push_back(i);
  }
  return out;
}

Result<Bytes> Log::GetStoredLocked(uint64_t index) const {
  if (index >= state_.length || !bitfield_.Get(index)) {
    return Status::NotFound("block " + Num(index) + " is not stored");
  }
  Bytes value;
  if (file_) {
    uint64_t group = index / format::kLocatorGroupBlocks;
    auto cached = locator_cache_.find(group);
    if (cached == locator_cache_.end()) {
      Status s = db_->Get(LogKey(id_, format::kLocatorGroup, group), &value);
      if (s.IsNotFound()) {
        return Status::Corruption("block " + Num(index) + " has no locator in storage");
      }
      SHOAL_RETURN_IF_ERROR(s);
      if (locator_cache_.size() >= kLocatorCacheGroups) locator_cache_.clear();
      cached = locator_cache_.emplace(group, std::move(value)).first;
    }
    SHOAL_ASSIGN_OR_RETURN(LocatorGroup g, DecodeLocatorGroup(cached->second, group));
    SHOAL_ASSIGN_OR_RETURN(Locator l, LocatorAt(g, index % format::kLocatorGroupBlocks, index));
    if (l.offset > state_.byte_length || l.size > state_.byte_length - l.offset) {
      return Status::Corruption("locator of block " + Num(index) + " points past the log");
    }
    Bytes block;
    SHOAL_RETURN_IF_ERROR(file_->Read(l.offset, l.size, &block));
    if (Crc32c(block) != l.crc) {
      return Status::Corruption("block " + Num(index) + " does not match its checksum");
    }
    return block;
  }
  if (replica_file_) {
    Status s = db_->Get(LogKey(id_, format::kReplicaBlock, index), &value);
    if (s.IsNotFound()) {
      return Status::Corruption("block " + Num(index) + " has no locator in storage");
    }
    SHOAL_RETURN_IF_ERROR(s);
    SHOAL_ASSIGN_OR_RETURN(Locator l, DecodeReplicaLocator(value, index));
    if (l.offset > replica_end_ || l.size > replica_end_ - l.offset) {
      return Status::Corruption("locator of block " + Num(index) + " points past the blocks file");
    }
    Bytes block;
    SHOAL_RETURN_IF_ERROR(replica_file_->Read(l.offset, l.size, &block));
    if (Crc32c(block) != l.crc) {
      return Status::Corruption("block " + Num(index) + " does not match its checksum");
    }
    return block;
  }
  Status s = db_->Get(LogKey(id_, format::kBlock, index), &value);
  if (s.IsNotFound()) return Status::Corruption("block " + Num(index) + " is missing from storage");
  SHOAL_RETURN_IF_ERROR(s);
  if (value.size() < 4) return Status::Corruption("block " + Num(index) + " is truncated");
  uint32_t crc = 0;
  for (int i = 3; i >= 0; i--) crc = (crc << 8) | value[i];
  if (Crc32c(ByteView(value).subspan(4)) != crc) {
    return Status::Corruption("block " + Num(index) + " does not match its checksum");
  }
  value.erase(value.begin(), value.begin() + 4);
  return value;
}

Result<Bytes> Log::Get(uint64_t index) const {
  std::lock_guard lock(mu_);
  SHOAL_ASSIGN_OR_RETURN(Bytes stored, GetStoredLocked(index));
  if (encryption_) return encryption_->Decrypt(index, stored);
  return stored;
}

Result<uint64_t> Log::ByteOffset(uint64_t index) const {
  std::lock_guard lock(mu_);
  if (index > state_.length) return Status::InvalidArgument("block index past the end");
  SHOAL_ASSIGN_OR_RETURN(uint64_t offset, log::ByteOffset(state_, *reader_, 2 * index));
  return offset - (encryption_ ? BlockEncryption::kPadding * index : 0);
}

Result<std::pair<uint64_t, uint64_t>> Log::Seek(uint64_t bytes) const {
  std::lock_guard lock(mu_);
  return SeekBytes(state_, *reader_, bytes, encryption_ ? BlockEncryption::kPadding : 0);
}

Result<Proof> Log::MakeProof(const ProofRequest& request) {
  std::lock_guard lock(mu_);
  SHOAL_RETURN_IF_ERROR(SignLocked());
  SHOAL_ASSIGN_OR_RETURN(Proof proof, GenerateProof(state_, *reader_, request));
  if (proof.block) {
    SHOAL_ASSIGN_OR_RETURN(proof.block->value, GetStoredLocked(proof.block->index));
  }
  return proof;
}

Result<uint64_t> Log::MissingNodes(uint64_t index) const {
  std::lock_guard lock(mu_);
  const uint64_t head = 2 * state_.length;
  flat::Iterator ite(2 * index);
  if (ite.PeekRightSpan() >= head) return 0;  // outside the tree we know
  uint64_t count = 0;
  while (!ite.Contains(head)) {
    auto node = reader_->GetNode(ite.index());
    if (node.ok()) break;
    if (!node.status().IsNotFound()) return node.status();
    if (++count >= 64) return Status::Corruption("tree has no stored root above block");
    ite.Parent();
  }
  return count;
}

// `leaf` is LeafNode of proof.block, hashed by ApplyProofs.
Status Log::ApplyProofImpl(const Proof& proof, const std::optional<Node>& leaf) {
  std::lock_guard lock(mu_);
  if (key_pair_) return Status::InvalidArgument("the writer of a log does not take proofs of it");
  std::optional<Verifier> learnt;
  if (!verifier_) {
    // Without a manifest, the key must be a compat key (a v10 core's), as JS
    // assumes: its signatures then show whether it is.
    if (proof.manifest) {
      SHOAL_ASSIGN_OR_RETURN(learnt, Verifier::Create(key_, *proof.manifest));
    } else {
      learnt = Verifier::Compat(key_);
    }
  }
  const Verifier& verifier = verifier_ ? *verifier_ : *learnt;
  SHOAL_ASSIGN_OR_RETURN(VerifiedProof verified, VerifyProof(state_, *reader_, proof, verifier, leaf));

  // The block's bytes first, then (in the batch) the locator that makes them
  // part of the log: bytes a failed batch leaves behind are never read.
  // Nothing in memory changes before they are written.
  std::optional<Bytes> locator;
  if (proof.block && replica_file_) {
    ByteView value = proof.block->value;
    SHOAL_RETURN_IF_ERROR(replica_file_->Write(replica_end_, std::span<const ByteView>(&value, 1)));
    if (sync_.load()) SHOAL_RETURN_IF_ERROR(replica_file_->Sync());
    locator = EncodeReplicaLocator({replica_end_, value.size(), Crc32c(value)});
    replica_end_ += value.size();
  }
  storage::WriteBatch wb;
  constexpr size_t kMaxWritten = 1 << 16;
  if (written_nodes_.size() > kMaxWritten) written_nodes_.clear();
  for (const Node& n : verified.nodes) {
    uint64_t tag;
    std::memcpy(&tag, n.hash.data(), sizeof(tag));
    auto [it, added] = written_nodes_.try_emplace(n.index, tag);
    if (!added && it->second == tag) continue;
    it->second = tag;
    wb.Put(LogKey(id_, format::kNode, n.index), EncodeNodeValue(n));
  }
  if (verified.upgraded) {
    state_ = verified.state;
    signed_length_ = state_.length;
  }
  if (proof.block) {
    uint64_t index = proof.block->index;
    if (locator) {
      wb.Put(LogKey(id_, format::kReplicaBlock, index), *locator);
    } else {
      PutBlock(wb, id_, index, proof.block->value);
    }
    bitfield_.SetRange(index, index + 1, true);
    if (index == contiguous_) contiguous_ = bitfield_.FindFirst(false, contiguous_);
  }
  if (learnt) {
    verifier_ = std::move(learnt);
    wb.Put(LogKey(id_, format::kMeta), EncodeMeta());
  }
  PersistBitfieldAndHead(wb);
  return CommitOrReload(wb);
}

Status Log::Audit() const {
  std::lock_guard lock(mu_);
  if (state_.length == 0) return Status::OK();
  // The signature vouches for the tree at signed_length_; the checks of every
  // parent against its children below carry that to the unsigned tail.
  if (!verifier_) return Status::Corruption("signature does not match the tree");
  if (signed_length_ > 0) {
    SHOAL_ASSIGN_OR_RETURN(bool valid, SignatureVerifies());
    if (!valid) return Status::Corruption("signature does not match the tree");
  }
  std::vector<Node> roots;
  SHOAL_RETURN_IF_ERROR(LoadRoots(state_.length, &roots));
  for (size_t i = 0; i < roots.size(); i++) {
    if (roots[i] != state_.roots[i]) return Status::Corruption("stored root differs from head");
  }
  for (uint64_t i = 0; i < state_.length; i++) {
    if (!bitfield_.Get(i)) continue;
    SHOAL_ASSIGN_OR_RETURN(Bytes stored, GetStoredLocked(i));
    auto leaf = reader_->GetNode(2 * i);
    if (!leaf.ok()) return Status::Corruption("leaf of block " + Num(i) + " is missing");
    if (LeafNode(i, stored) != *leaf) {
      return Status::Corruption("block " + Num(i) + " does not match its tree node");
    }
  }
  for (uint64_t index = 1; index < 2 * state_.length; index += 2) {
    auto parent = reader_->GetNode(index);
    if (!parent.ok()) {
      if (parent.status().IsNotFound()) continue;
      return parent.status();
    }
    auto left = reader_->GetNode(flat::LeftChild(index));
    auto right = reader_->GetNode(flat::RightChild(index));
    if (!left.ok() || !right.ok()) continue;
    if (ParentNode(index, *left, *right) != *parent) {
      return Status::Corruption("tree node " + Num(index) + " does not match its children");
    }
  }
  return Status::OK();
}

}  // namespace shoal::log
