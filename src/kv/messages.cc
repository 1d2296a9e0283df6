#include "kv/messages.h"

#include <cstring>

namespace shoal::kv {
namespace {

// Encoding sizes everything first and writes into one buffer of the exact
// size: a node is encoded on every write, so no intermediate buffers.
size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

uint8_t* PutVarint(uint8_t* out, uint64_t v) {
  while (v >= 0x80) {
    *out++ = static_cast<uint8_t>(v | 0x80);
    v >>= 7;
  }
  *out++ = static_cast<uint8_t>(v);
  return out;
}

// Size of a length-delimited field whose payload is `n` bytes.
size_t FieldSize(size_t n) { return 1 + VarintSize(n) + n; }

uint8_t* PutFieldHeader(uint8_t* out, uint8_t tag, size_t n) {
  *out++ = tag;
  return PutVarint(out, n);
}

uint8_t* PutBytesField(uint8_t* out, uint8_t tag, ByteView b) {
  out = PutFieldHeader(out, tag, b.size());
  if (!b.empty()) std::memcpy(out, b.data(), b.size());
  return out + b.size();
}

size_t PackedSize(const std::vector<uint64_t>& values) {
  size_t n = 0;
  for (uint64_t v : values) n += VarintSize(v);
  return n;
}

// A packed field, left out when empty (as protobuf encoders do).
size_t PackedFieldSize(const std::vector<uint64_t>& values) {
  return values.empty() ? 0 : FieldSize(PackedSize(values));
}

uint8_t* PutPacked(uint8_t* out, uint8_t tag, const std::vector<uint64_t>& values) {
  if (values.empty()) return out;
  out = PutFieldHeader(out, tag, PackedSize(values));
  for (uint64_t v : values) out = PutVarint(out, v);
  return out;
}

size_t LevelSize(const Level& l) { return PackedFieldSize(l.keys) + PackedFieldSize(l.children); }

size_t IndexSize(const std::vector<Level>& levels) {
  size_t n = 0;
  for (const Level& l : levels) n += FieldSize(LevelSize(l));
  return n;
}

uint8_t* PutIndex(uint8_t* out, const std::vector<Level>& levels) {
  for (const Level& l : levels) {
    out = PutFieldHeader(out, 0x0a, LevelSize(l));
    out = PutPacked(out, 0x0a, l.keys);
    out = PutPacked(out, 0x12, l.children);
  }
  return out;
}

// A minimal protobuf reader over a borrowed view.
class Reader {
 public:
  explicit Reader(ByteView in) : in_(in) {}
  bool done() const { return pos_ >= in_.size(); }
  bool ok() const { return ok_; }

  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return Fail();
      uint8_t b = in_[pos_++];
      v |= uint64_t{b & 0x7fu} << shift;
      if (!(b & 0x80)) return v;
    }
    return Fail();
  }
  ByteView LengthDelimited() {
    uint64_t n = Varint();
    if (!ok_ || n > in_.size() - pos_) {
      Fail();
      return {};
    }
    ByteView out = in_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  // Skips a field of `wire_type`.
  void Skip(uint64_t wire_type) {
    switch (wire_type) {
      case 0: Varint(); break;
      case 1: Advance(8); break;
      case 2: LengthDelimited(); break;
      case 5: Advance(4); break;
      default: Fail();
    }
  }

 private:
  uint64_t Fail() {
    ok_ = false;
    pos_ = in_.size();
    return 0;
  }
  void Advance(size_t n) {
    if (n > in_.size() - pos_) Fail();
    else pos_ += n;
  }
  ByteView in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

Status Malformed(const char* what) { return Status::Malformed(std::string("hyperbee ") + what); }

Result<std::vector<uint64_t>> Packed(ByteView bytes) {
  Reader r(bytes);
  std::vector<uint64_t> out;
  while (!r.done()) {
    uint64_t v = r.Varint();
    if (!r.ok()) return Malformed("packed integers are malformed");
    out.push_back(v);
  }
  return out;
}

}  // namespace

Bytes EncodeHeader(const std::optional<Bytes>& metadata) {
  ByteView protocol = AsBytes("hyperbee");
  Bytes out(FieldSize(protocol.size()) + (metadata ? FieldSize(metadata->size()) : 0));
  uint8_t* p = PutBytesField(out.data(), 0x0a, protocol);
  if (metadata) PutBytesField(p, 0x12, *metadata);
  return out;
}

Status DecodeHeader(ByteView bytes) {
  Reader r(bytes);
  bool is_bee = false;
  while (!r.done()) {
    uint64_t tag = r.Varint();
    if (tag == 0x0a) {
      is_bee = AsString(r.LengthDelimited()) == "hyperbee";
    } else {
      r.Skip(tag & 7);
    }
    if (!r.ok()) return Malformed("header is malformed");
  }
  return is_bee ? Status::OK() : Status::InvalidArgument("the log is not a hyperbee");
}

Bytes EncodeIndex(const std::vector<Level>& levels) {
  Bytes out(IndexSize(levels));
  PutIndex(out.data(), levels);
  return out;
}

Result<std::vector<Level>> DecodeIndex(ByteView bytes) {
  Reader r(bytes);
  std::vector<Level> levels;
  while (!r.done()) {
    uint64_t tag = r.Varint();
    if (tag != 0x0a) {
      r.Skip(tag & 7);
      if (!r.ok()) return Malformed("index is malformed");
      continue;
    }
    ByteView lb = r.LengthDelimited();
    if (!r.ok()) return Malformed("index is malformed");
    Level level;
    Reader lr(lb);
    while (!lr.done()) {
      uint64_t ltag = lr.Varint();
      if (ltag == 0x0a || ltag == 0x12) {
        ByteView packed = lr.LengthDelimited();
        if (!lr.ok()) return Malformed("index level is malformed");
        SHOAL_ASSIGN_OR_RETURN(auto values, Packed(packed));
        auto& dest = ltag == 0x0a ? level.keys : level.children;
        dest.insert(dest.end(), values.begin(), values.end());
      } else if (ltag == 0x08 || ltag == 0x10) {  // unpacked encoding is legal protobuf
        uint64_t v = lr.Varint();
        (ltag == 0x08 ? level.keys : level.children).push_back(v);
      } else {
        lr.Skip(ltag & 7);
      }
      if (!lr.ok()) return Malformed("index level is malformed");
    }
    if (level.children.size() % 2 != 0) return Malformed("index level has half a child");
    levels.push_back(std::move(level));
  }
  return levels;
}

Bytes EncodeNode(const NodeBlock& node) {
  const size_t index = IndexSize(node.index);
  Bytes out(FieldSize(index) + FieldSize(node.key.size()) +
            (node.value ? FieldSize(node.value->size()) : 0));
  uint8_t* p = PutFieldHeader(out.data(), 0x0a, index);
  p = PutIndex(p, node.index);
  p = PutBytesField(p, 0x12, node.key);
  if (node.value) PutBytesField(p, 0x1a, *node.value);
  return out;
}

Result<NodeBlock> DecodeNode(ByteView bytes) {
  Reader r(bytes);
  NodeBlock node;
  bool has_index = false, has_key = false;
  while (!r.done()) {
    uint64_t tag = r.Varint();
    if (tag == 0x0a) {
      ByteView index = r.LengthDelimited();
      if (!r.ok()) break;
      SHOAL_ASSIGN_OR_RETURN(node.index, DecodeIndex(index));
      has_index = true;
    } else if (tag == 0x12) {
      ByteView key = r.LengthDelimited();
      node.key.assign(key.begin(), key.end());
      has_key = true;
    } else if (tag == 0x1a) {
      ByteView value = r.LengthDelimited();
      node.value = Bytes(value.begin(), value.end());
    } else {
      r.Skip(tag & 7);
    }
    if (!r.ok()) return Malformed("node is malformed");
  }
  if (!has_key) return Malformed("node has no key");
  if (!has_index) node.index.clear();
  return node;
}

}  // namespace shoal::kv
