#include "blob/blobs.h"

#include <algorithm>

#include "base/encoding.h"

namespace shoal::blob {

std::vector<Bytes> EncodeBlockMap(const std::vector<MapEntry>& entries) {
  std::vector<Bytes> out;
  for (size_t i = 0; i < entries.size(); i += Blobs::kMapEntriesPerBlock) {
    size_t n = std::min(Blobs::kMapEntriesPerBlock, entries.size() - i);
    enc::Encoder e(2 + 8 * n);
    e.Uint(0);
    e.Uint(n);
    for (size_t k = i; k < i + n; k++) {
      e.Uint(entries[k].index);
      e.Uint(entries[k].size);
    }
    out.push_back(e.Take());
  }
  return out;
}

Result<std::vector<MapEntry>> DecodeBlockMap(const std::vector<Bytes>& blocks) {
  std::vector<MapEntry> out;
  for (const Bytes& b : blocks) {
    enc::Decoder d(b);
    if (d.Uint() != 0 || !d.ok()) return Status::Malformed("unsupported block map version");
    uint64_t n = d.ArrayLength(2);
    for (uint64_t i = 0; i < n && d.ok(); i++) {
      MapEntry m;
      m.index = d.Uint();
      m.size = d.Uint();
      out.push_back(m);
    }
    if (!d.Finish().ok()) return Status::Malformed("a block map does not decode");
  }
  return out;
}

// ---- writing ----

Blobs::Writer::~Writer() = default;

Status Blobs::Writer::Write(ByteView data) {
  if (finished_) return Status::InvalidArgument("the blob is finished");
  size_ += data.size();
  while (!data.empty()) {
    if (current_.capacity() < kBlockSize) current_.reserve(kBlockSize);
    size_t take = std::min(data.size(), kBlockSize - current_.size());
    current_.insert(current_.end(), data.begin(), data.begin() + take);
    data = data.subspan(take);
    if (current_.size() == kBlockSize) {
      full_.push_back(std::move(current_));
      current_ = Bytes();
      if (full_.size() == kBlocksPerAppend) SHOAL_RETURN_IF_ERROR(Flush());
    }
  }
  return Status::OK();
}

// Appends the full blocks in one append; they are the last ones of the log
// once it returns, whatever other writers did before or after.
Status Blobs::Writer::Flush() {
  if (full_.empty()) return Status::OK();
  std::vector<ByteView> views(full_.begin(), full_.end());
  SHOAL_ASSIGN_OR_RETURN(uint64_t length, blobs_.log_->Append(views));
  uint64_t first = length - full_.size();
  for (size_t i = 0; i < full_.size(); i++) blocks_.push_back({first + i, full_[i].size()});
  full_.clear();
  return Status::OK();
}

Result<BlobId> Blobs::Writer::Finish() {
  if (finished_) return Status::InvalidArgument("the blob is finished");
  finished_ = true;
  if (!current_.empty()) full_.push_back(std::move(current_));
  SHOAL_RETURN_IF_ERROR(Flush());
  return FinishBlocks();
}

// The id of blocks_, which are in the log.
Result<BlobId> Blobs::Writer::FinishBlocks() {
  log::Log& log = *blobs_.log_;
  BlobId id;
  if (blocks_.empty()) {
    // As Hyperblobs: an empty blob sits at the end of the log, with no block.
    id.block_offset = log.length();
    id.byte_offset = log.byte_length();
    return id;
  }
  bool consecutive = true;
  for (size_t i = 1; i < blocks_.size(); i++) {
    consecutive = consecutive && blocks_[i].index == blocks_[0].index + i;
  }
  if (consecutive) {
    id.block_offset = blocks_.front().index;
    SHOAL_ASSIGN_OR_RETURN(id.byte_offset, log.ByteOffset(id.block_offset));
    id.block_length = blocks_.size();
    id.byte_length = size_;
    return id;
  }
  // Interleaved with another blob: a block map lists where the blocks went.
  std::vector<Bytes> map = EncodeBlockMap(blocks_);
  if (map.size() > kMaxMapBlocks) {
    return Status::InvalidArgument("a blob written alongside others may have at most " +
                                   std::to_string(kMaxMapBlocks * kMapEntriesPerBlock) +
                                   " blocks");
  }
  std::vector<ByteView> views(map.begin(), map.end());
  SHOAL_ASSIGN_OR_RETURN(uint64_t length, log.Append(views));
  id.block_offset = length - map.size();
  SHOAL_ASSIGN_OR_RETURN(id.byte_offset, log.ByteOffset(id.block_offset));
  id.block_length = map.size();
  for (const Bytes& b : map) id.byte_length += b.size();
  id.block_map = true;
  return id;
}

Result<BlobId> Blobs::PutBlocks(const std::vector<MapEntry>& blocks) {
  Writer w(*this);
  w.blocks_ = blocks;
  for (const MapEntry& m : blocks) w.size_ += m.size;
  w.finished_ = true;
  return w.FinishBlocks();
}

Result<BlobId> Blobs::Put(ByteView data) {
  auto w = NewWriter();
  SHOAL_RETURN_IF_ERROR(w->Write(data));
  return w->Finish();
}

// ---- reading ----

Result<std::vector<MapEntry>> Blobs::Blocks(const BlobId& id) {
  if (id.block_map) {
    if (id.block_length > kMaxMapBlocks) return Status::Malformed("the block map is too large");
    std::vector<Bytes> map;
    for (uint64_t i = 0; i < id.block_length; i++) {
      SHOAL_ASSIGN_OR_RETURN(Bytes b, log_->Get(id.block_offset + i));
      map.push_back(std::move(b));
    }
    return DecodeBlockMap(map);
  }
  std::vector<MapEntry> out;
  out.reserve(id.block_length);
  SHOAL_ASSIGN_OR_RETURN(uint64_t start, log_->ByteOffset(id.block_offset));
  for (uint64_t i = 0; i < id.block_length; i++) {
    SHOAL_ASSIGN_OR_RETURN(uint64_t end, log_->ByteOffset(id.block_offset + i + 1));
    out.push_back({id.block_offset + i, end - start});
    start = end;
  }
  return out;
}

Result<uint64_t> Blobs::Size(const BlobId& id) {
  if (!id.block_map) return id.byte_length;
  SHOAL_ASSIGN_OR_RETURN(auto blocks, Blocks(id));
  uint64_t n = 0;
  for (const MapEntry& m : blocks) n += m.size;
  return n;
}

Status Blobs::Read(const BlobId& id, uint64_t offset, uint64_t length,
                   const std::function<Status(ByteView)>& sink) {
  if (length == 0) return Status::OK();
  if (!id.block_map) {
    if (offset > id.byte_length || length > id.byte_length - offset) {
      return Status::InvalidArgument("the range is not inside the blob");
    }
    if (id.block_offset + id.block_length > log_->length()) {
      return Status::Corruption("the blob lies past the end of its log");
    }
    // The block holding the first byte, then block after block: the blob's
    // blocks are consecutive, whatever their sizes.
    SHOAL_ASSIGN_OR_RETURN(auto at, log_->Seek(id.byte_offset + offset));
    uint64_t index = at.first, skip = at.second;
    while (length > 0) {
      if (index >= id.block_offset + id.block_length) {
        return Status::Corruption("the blob's blocks hold fewer bytes than its id says");
      }
      SHOAL_ASSIGN_OR_RETURN(Bytes block, log_->Get(index));
      if (skip > block.size()) return Status::Corruption("a blob block is shorter than its size");
      uint64_t n = std::min<uint64_t>(length, block.size() - skip);
      SHOAL_RETURN_IF_ERROR(sink(ByteView(block).subspan(skip, n)));
      length -= n;
      skip = 0;
      index++;
    }
    return Status::OK();
  }
  SHOAL_ASSIGN_OR_RETURN(auto blocks, Blocks(id));
  uint64_t size = 0;
  for (const MapEntry& m : blocks) size += m.size;
  if (offset > size || length > size - offset) {
    return Status::InvalidArgument("the range is not inside the blob");
  }
  for (const MapEntry& m : blocks) {
    if (length == 0) break;
    if (offset >= m.size) {
      offset -= m.size;
      continue;
    }
    SHOAL_ASSIGN_OR_RETURN(Bytes block, log_->Get(m.index));
    if (block.size() != m.size) return Status::Corruption("a mapped block has another size");
    uint64_t n = std::min<uint64_t>(length, m.size - offset);
    SHOAL_RETURN_IF_ERROR(sink(ByteView(block).subspan(offset, n)));
    length -= n;
    offset = 0;
  }
  return Status::OK();
}

Result<Bytes> Blobs::ReadAll(const BlobId& id) {
  SHOAL_ASSIGN_OR_RETURN(uint64_t size, Size(id));
  Bytes out;
  out.reserve(size);
  SHOAL_RETURN_IF_ERROR(Read(id, 0, size, [&](ByteView b) {
    out.insert(out.end(), b.begin(), b.end());
    return Status::OK();
  }));
  return out;
}

Status Blobs::Clear(const BlobId& id) {
  if (id.block_map) {
    SHOAL_ASSIGN_OR_RETURN(auto blocks, Blocks(id));
    for (const MapEntry& m : blocks) SHOAL_RETURN_IF_ERROR(log_->Clear(m.index, m.index + 1));
  }
  if (id.block_length == 0) return Status::OK();
  return log_->Clear(id.block_offset, id.block_offset + id.block_length);
}

}  // namespace shoal::blob
