#include "kv/messages.h"

namespace shoal::kv {
namespace {

void PutVarint(Bytes& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}

void PutBytesField(Bytes& out, uint8_t tag, ByteView b) {
  out.push_back(tag);
  PutVarint(out, b.size());
  out.insert(out.end(), b.begin(), b.end());
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

void PutPacked(Bytes& out, uint8_t tag, const std::vector<uint64_t>& values) {
  Bytes packed;
  for (uint64_t v : values) PutVarint(packed, v);
  if (packed.empty()) return;
  PutBytesField(out, tag, packed);
}

}  // namespace

Bytes EncodeHeader(const std::optional<Bytes>& metadata) {
  Bytes out;
  PutBytesField(out, 0x0a, AsBytes("hyperbee"));
  if (metadata) PutBytesField(out, 0x12, *metadata);
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
  Bytes out;
  for (const Level& l : levels) {
    Bytes level;
    PutPacked(level, 0x0a, l.keys);
    PutPacked(level, 0x12, l.children);
    PutBytesField(out, 0x0a, level);
  }
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
  Bytes out;
  PutBytesField(out, 0x0a, EncodeIndex(node.index));
  PutBytesField(out, 0x12, node.key);
  if (node.value) PutBytesField(out, 0x1a, *node.value);
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
