#include "log/proof.h"

namespace shoal::log {

void EncodeNodes(enc::Encoder& e, const std::vector<Node>& nodes) {
  e.Uint(nodes.size());
  for (const Node& n : nodes) {
    e.Uint(n.index);
    e.Uint(n.size);
    e.Fixed(n.hash);
  }
}

std::vector<Node> DecodeNodes(enc::Decoder& d) {
  uint64_t n = d.ArrayLength(34);
  std::vector<Node> out;
  out.reserve(n);
  for (uint64_t i = 0; i < n && d.ok(); i++) {
    Node node;
    node.index = d.Uint();
    node.size = d.Uint();
    node.hash = d.Fixed<32>();
    out.push_back(node);
  }
  return out;
}

ByteView EncodeProofParts(const Proof& p, uint64_t request, Bytes* head, Bytes* tail) {
  enc::Encoder e(64);
  uint64_t flags = (p.block ? 1 : 0) | (p.hash ? 2 : 0) | (p.seek ? 4 : 0) |
                   (p.upgrade ? 8 : 0) | (p.manifest ? 16 : 0);
  e.Uint(flags);
  e.Uint(request);
  e.Uint(p.fork);
  ByteView value;
  if (p.block) {
    e.Uint(p.block->index);
    e.Uint(p.block->value.size());  // the buffer's length; its bytes are the middle part
    value = p.block->value;
  }
  *head = e.Take();
  enc::Encoder t(256);
  if (p.block) EncodeNodes(t, p.block->nodes);
  if (p.hash) {
    t.Uint(p.hash->index);
    EncodeNodes(t, p.hash->nodes);
  }
  if (p.seek) {
    t.Uint(p.seek->bytes);
    EncodeNodes(t, p.seek->nodes);
  }
  if (p.upgrade) {
    t.Uint(p.upgrade->start);
    t.Uint(p.upgrade->length);
    EncodeNodes(t, p.upgrade->nodes);
    EncodeNodes(t, p.upgrade->additional_nodes);
    t.Buffer(p.upgrade->signature);
  }
  if (p.manifest) EncodeManifest(t, *p.manifest);
  *tail = t.Take();
  return value;
}

Bytes EncodeProof(const Proof& p, uint64_t request) {
  Bytes head, tail;
  ByteView value = EncodeProofParts(p, request, &head, &tail);
  Bytes out;
  out.reserve(head.size() + value.size() + tail.size());
  out.insert(out.end(), head.begin(), head.end());
  out.insert(out.end(), value.begin(), value.end());
  out.insert(out.end(), tail.begin(), tail.end());
  return out;
}

Result<Proof> DecodeProof(ByteView bytes, uint64_t* request) {
  enc::Decoder d(bytes);
  Proof p;
  uint64_t flags = d.Uint();
  uint64_t req = d.Uint();
  p.fork = d.Uint();
  if (flags & 1) {
    Proof::Block b;
    b.index = d.Uint();
    ByteView v = d.Buffer();
    b.value.assign(v.begin(), v.end());
    b.nodes = DecodeNodes(d);
    p.block = std::move(b);
  }
  if (flags & 2) {
    Proof::HashNodes h;
    h.index = d.Uint();
    h.nodes = DecodeNodes(d);
    p.hash = std::move(h);
  }
  if (flags & 4) {
    Proof::Seek s;
    s.bytes = d.Uint();
    s.nodes = DecodeNodes(d);
    p.seek = std::move(s);
  }
  if (flags & 8) {
    Proof::Upgrade u;
    u.start = d.Uint();
    u.length = d.Uint();
    u.nodes = DecodeNodes(d);
    u.additional_nodes = DecodeNodes(d);
    ByteView sig = d.Buffer();
    u.signature.assign(sig.begin(), sig.end());
    p.upgrade = std::move(u);
  }
  if (flags & 16) p.manifest = DecodeManifest(d);
  // Like compact-encoding in JS, bytes after the message are ignored: later
  // protocol versions append fields.
  SHOAL_RETURN_IF_ERROR(d.status().WithContext("proof"));
  if (request) *request = req;
  return p;
}

}  // namespace shoal::log
