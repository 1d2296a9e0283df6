// The peer protocol's decoders of untrusted bytes: secret-stream framing (in
// the handshake and after it), protomux frames and batches, the hypercore
// channel's messages, and the remote block set those messages fill. The
// first byte picks the target.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "net/mux.h"
#include "net/secret_stream.h"
#include "repl/block_set.h"
#include "repl/messages.h"

namespace {

using shoal::ByteView;
using shoal::Bytes;
using shoal::Status;

// Echoes every message, and closes its channel on type 7.
struct Echo : shoal::net::ChannelHandler {
  Status OnOpen(shoal::net::Channel& ch, ByteView) override { return ch.Send(0, ByteView()); }
  Status OnMessage(shoal::net::Channel& ch, uint64_t type, ByteView payload) override {
    if (type == 7) {
      ch.Close();
      return Status::OK();
    }
    return ch.Send(type, payload);
  }
  void OnClose(shoal::net::Channel&, bool) override {}
};

void FuzzMux(ByteView in) {
  Echo echo;
  shoal::net::Mux mux([](std::span<const ByteView>) { return Status::OK(); });
  mux.SetPairHandler([&](std::string_view protocol, const std::optional<Bytes>& id) {
    if (!protocol.empty() && protocol[0] != 'x') mux.Open(std::string(protocol), id, {}, &echo);
  });
  mux.Open("p", Bytes{1}, {}, &echo);
  // Frames: a length byte, then that many bytes.
  size_t pos = 0;
  while (pos < in.size()) {
    size_t n = std::min<size_t>(in[pos], in.size() - pos - 1);
    if (!mux.Receive(in.subspan(pos + 1, n)).ok()) break;
    pos += 1 + n;
  }
  mux.CloseAll();
}

void FuzzMessages(ByteView in) {
  using namespace shoal::repl;
  (void)DecodeHandshake(in);
  (void)DecodeSync(in);
  (void)DecodeRequest(in);
  (void)DecodeCancel(in);
  (void)DecodeNoData(in);
  (void)DecodeWant(in);
  (void)DecodeBitfield(in);
  (void)DecodeRange(in);
  (void)DecodeExtension(in);
  auto req = DecodeRequest(in);
  if (req.ok() && !DecodeRequest(EncodeRequest(*req)).ok()) __builtin_trap();
}

void FuzzBlockSet(ByteView in) {
  shoal::repl::BlockSet set;
  for (size_t pos = 0; pos + 4 <= in.size(); pos += 4) {
    uint64_t start = (in[pos + 1] | (in[pos + 2] << 8)) % 70000;
    uint64_t len = in[pos + 3] * 37;
    switch (in[pos] % 3) {
      case 0: set.SetRange(start, start + len, true); break;
      case 1: set.SetRange(start, start + len, false); break;
      default: {
        uint32_t words[3] = {in[pos + 1], uint32_t(in[pos + 2]) << 9, in[pos + 3] * 0x01010101u};
        set.SetWords(start & ~uint64_t{31}, words);
      }
    }
    if (set.Has(set.FirstMissing(start))) __builtin_trap();
  }
}

shoal::crypto::KeyPair Fixed(uint8_t b) {
  shoal::crypto::Seed seed;
  seed.fill(b);
  return shoal::crypto::KeyPairFromSeed(seed);
}

void FuzzHandshake(ByteView in) {
  shoal::net::SecretStream responder(false, Fixed(1), Fixed(2));
  (void)responder.Receive(in, [](ByteView) { return Status::OK(); });
}

void FuzzStream(ByteView in) {
  shoal::net::SecretStream a(true, Fixed(1), Fixed(2));
  shoal::net::SecretStream b(false, Fixed(3), Fixed(4));
  auto ok = [](ByteView) { return Status::OK(); };
  while (a.has_output() || b.has_output()) {
    Bytes x = a.TakeOutput();
    if (!b.Receive(x, ok).ok()) __builtin_trap();
    Bytes y = b.TakeOutput();
    if (!a.Receive(y, ok).ok()) __builtin_trap();
  }
  // Untrusted bytes after the handshake, in pieces.
  size_t pos = 0;
  while (pos < in.size()) {
    size_t n = std::min<size_t>(1 + in[pos] % 64, in.size() - pos);
    if (!b.Receive(in.subspan(pos, n), ok).ok()) break;
    pos += n;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  ByteView in(data + 1, size - 1);
  switch (data[0] % 5) {
    case 0: FuzzMux(in); break;
    case 1: FuzzMessages(in); break;
    case 2: FuzzBlockSet(in); break;
    case 3: FuzzHandshake(in); break;
    default: FuzzStream(in); break;
  }
  return 0;
}
