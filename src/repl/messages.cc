#include "repl/messages.h"

#include "base/encoding.h"

namespace shoal::repl {
namespace {

template <typename T>
Result<T> Done(const enc::Decoder& d, T value) {
  SHOAL_RETURN_IF_ERROR(d.status());
  return value;
}

}  // namespace

Bytes EncodeHandshake(const Handshake& m) {
  enc::Encoder e;
  e.Uint(m.seeks ? 1 : 0);
  e.Fixed(m.capability);
  return e.Take();
}

Result<Handshake> DecodeHandshake(ByteView b) {
  enc::Decoder d(b);
  Handshake m;
  m.seeks = (d.Uint() & 1) != 0;
  m.capability = d.Fixed<32>();
  return Done(d, m);
}

Bytes EncodeSync(const Sync& m) {
  enc::Encoder e;
  e.Uint((m.can_upgrade ? 1 : 0) | (m.uploading ? 2 : 0) | (m.downloading ? 4 : 0) |
         (m.has_manifest ? 8 : 0) | (m.allow_push ? 16 : 0));
  e.Uint(m.fork);
  e.Uint(m.length);
  e.Uint(m.remote_length);
  return e.Take();
}

Result<Sync> DecodeSync(ByteView b) {
  enc::Decoder d(b);
  Sync m;
  uint64_t flags = d.Uint();
  m.fork = d.Uint();
  m.length = d.Uint();
  m.remote_length = d.Uint();
  m.can_upgrade = flags & 1;
  m.uploading = flags & 2;
  m.downloading = flags & 4;
  m.has_manifest = flags & 8;
  m.allow_push = flags & 16;
  return Done(d, m);
}

Bytes EncodeRequest(const Request& m) {
  const log::ProofRequest& p = m.proof;
  enc::Encoder e;
  e.Uint((p.block ? 1 : 0) | (p.hash ? 2 : 0) | (p.seek ? 4 : 0) | (p.upgrade ? 8 : 0) |
         (m.manifest ? 16 : 0) | (m.priority ? 32 : 0));
  e.Uint(m.id);
  e.Uint(m.fork);
  if (p.block) {
    e.Uint(p.block->index);
    e.Uint(p.block->nodes);
  }
  if (p.hash) {
    e.Uint(p.hash->index);
    e.Uint(p.hash->nodes);
  }
  if (p.seek) {
    e.Uint(p.seek->bytes);
    e.Uint(p.seek->padding);
  }
  if (p.upgrade) {
    e.Uint(p.upgrade->start);
    e.Uint(p.upgrade->length);
  }
  if (m.priority) e.Uint(m.priority);
  return e.Take();
}

Result<Request> DecodeRequest(ByteView b) {
  enc::Decoder d(b);
  Request m;
  uint64_t flags = d.Uint();
  m.id = d.Uint();
  m.fork = d.Uint();
  log::ProofRequest& p = m.proof;
  if (flags & 1) p.block = log::ProofRequest::Indexed{d.Uint(), d.Uint()};
  if (flags & 2) p.hash = log::ProofRequest::Indexed{d.Uint(), d.Uint()};
  if (flags & 4) p.seek = log::ProofRequest::Seek{d.Uint(), d.Uint()};
  if (flags & 8) p.upgrade = log::ProofRequest::Upgrade{d.Uint(), d.Uint()};
  m.manifest = (flags & 16) != 0;
  if (flags & 32) m.priority = d.Uint();
  return Done(d, m);
}

Bytes EncodeCancel(uint64_t request) {
  enc::Encoder e;
  e.Uint(request);
  return e.Take();
}

Result<uint64_t> DecodeCancel(ByteView b) {
  enc::Decoder d(b);
  uint64_t request = d.Uint();
  return Done(d, request);
}

Bytes EncodeNoData(const NoData& m) {
  enc::Encoder e;
  e.Uint(m.request);
  e.Uint(m.reason ? 1 : 0);
  if (m.reason) e.Uint(m.reason);
  return e.Take();
}

Result<NoData> DecodeNoData(ByteView b) {
  enc::Decoder d(b);
  NoData m;
  m.request = d.Uint();
  uint64_t flags = d.remaining() > 0 ? d.Uint() : 0;
  if (flags & 1) m.reason = d.Uint();
  return Done(d, m);
}

Bytes EncodeWant(const Want& m) {
  enc::Encoder e;
  e.Uint(m.start);
  e.Uint(m.length);
  if (m.any) e.Uint(1);
  return e.Take();
}

Result<Want> DecodeWant(ByteView b) {
  enc::Decoder d(b);
  Want m;
  m.start = d.Uint();
  m.length = d.Uint();
  uint64_t flags = d.remaining() > 0 ? d.Uint() : 0;
  m.any = (flags & 1) != 0;
  return Done(d, m);
}

Bytes EncodeBitfield(const Bitfield& m) {
  enc::Encoder e;
  e.Uint(m.start);
  e.Uint32Array(m.words);
  return e.Take();
}

Result<Bitfield> DecodeBitfield(ByteView b) {
  enc::Decoder d(b);
  Bitfield m;
  m.start = d.Uint();
  m.words = d.Uint32Array();
  return Done(d, std::move(m));
}

Bytes EncodeRange(const Range& m) {
  enc::Encoder e;
  e.Uint((m.drop ? 1 : 0) | (m.length == 1 ? 2 : 0));
  e.Uint(m.start);
  if (m.length != 1) e.Uint(m.length);
  return e.Take();
}

Result<Range> DecodeRange(ByteView b) {
  enc::Decoder d(b);
  Range m;
  uint64_t flags = d.Uint();
  m.drop = (flags & 1) != 0;
  m.start = d.Uint();
  m.length = (flags & 2) ? 1 : d.Uint();
  return Done(d, m);
}

Bytes EncodeExtension(const Extension& m) {
  enc::Encoder e;
  e.String(m.name);
  e.Raw(m.message);
  return e.Take();
}

Result<Extension> DecodeExtension(ByteView b) {
  enc::Decoder d(b);
  Extension m;
  m.name = std::string(d.String());
  ByteView rest = d.Raw();
  m.message.assign(rest.begin(), rest.end());
  return Done(d, std::move(m));
}

}  // namespace shoal::repl
