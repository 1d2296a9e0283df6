#include "net/secret_stream.h"

#include <algorithm>

#include <cstring>

#include "crypto/hash.h"

namespace shoal::net {
namespace {

constexpr size_t kIdHeaderBytes = 32 + crypto::kSecretStreamHeaderBytes;

// streamId(handshakeHash, isInitiator) in secret-stream's index.js.
crypto::Hash StreamId(const crypto::HandshakeHash& hash, bool initiator) {
  static const std::vector<crypto::Hash> ns = crypto::Namespace("hyperswarm/secret-stream", 3);
  return crypto::Blake2b256Keyed(hash, {ns[initiator ? 0 : 1]});
}

void PutUint24(Bytes& out, size_t n) {
  out.push_back(static_cast<uint8_t>(n));
  out.push_back(static_cast<uint8_t>(n >> 8));
  out.push_back(static_cast<uint8_t>(n >> 16));
}

size_t GetUint24(const uint8_t* p) { return p[0] | (size_t{p[1]} << 8) | (size_t{p[2]} << 16); }

}  // namespace

SecretStream::SecretStream(bool initiator, const crypto::KeyPair& identity,
                           std::optional<crypto::KeyPair> ephemeral)
    : initiator_(initiator),
      noise_(std::make_unique<crypto::NoiseXX>(initiator, identity, ephemeral)) {
  if (initiator_) (void)WriteHandshake();
}

SecretStream::~SecretStream() = default;

Status SecretStream::WriteHandshake() {
  SHOAL_ASSIGN_OR_RETURN(Bytes message, noise_->Write());
  AppendFrame(message);
  if (noise_->complete()) StartStream();
  return Status::OK();
}

void SecretStream::AppendFrame(ByteView payload) {
  PutUint24(out_, payload.size());
  out_.insert(out_.end(), payload.begin(), payload.end());
}

// The handshake is done: send our stream id and secretstream header, then
// whatever was queued.
void SecretStream::StartStream() {
  const crypto::NoiseSplit& split = noise_->split();
  remote_public_key_ = split.remote_public_key;
  handshake_hash_ = split.hash;
  rx_key_ = split.rx;
  push_ = std::make_unique<crypto::SecretStreamPush>(split.tx);
  noise_.reset();

  crypto::Hash id = StreamId(handshake_hash_, initiator_);
  Bytes frame(id.begin(), id.end());
  frame.insert(frame.end(), push_->header().begin(), push_->header().end());
  AppendFrame(frame);

  Bytes queued = std::move(plaintext_);
  plaintext_.clear();
  for (size_t pos = 0; pos < queued.size();) {
    size_t n = GetUint24(queued.data() + pos);
    ByteView message(queued.data() + pos + 3, n);
    Encrypt(std::span<const ByteView>(&message, 1), n);
    pos += 3 + n;
  }
}

// The frame is uint24 length || tag (1) || ciphertext || MAC (16): the parts
// are appended where the ciphertext goes and encrypted in place, the output
// starting one byte before the input. Appending (not resizing) leaves the
// bytes unwritten twice, and growth is geometric however messages arrive.
void SecretStream::Encrypt(std::span<const ByteView> parts, size_t size) {
  size_t n = size + crypto::kSecretStreamOverhead;
  size_t need = out_.size() + 3 + n;
  if (out_.capacity() < need) out_.reserve(std::max(need, 2 * out_.capacity()));
  PutUint24(out_, n);
  size_t at = out_.size();
  out_.push_back(0);  // the tag byte
  for (ByteView part : parts) out_.insert(out_.end(), part.begin(), part.end());
  out_.resize(out_.size() + crypto::kSecretStreamOverhead - 1);  // the MAC
  push_->Push(ByteView(out_.data() + at + 1, size), out_.data() + at);
  bytes_sent_ += 3 + n;
}

Status SecretStream::Send(std::span<const ByteView> parts) {
  size_t size = 0;
  for (ByteView part : parts) size += part.size();
  if (size > kMaxMessage) {
    return Status::InvalidArgument("secret-stream: message larger than a frame");
  }
  if (push_ == nullptr) {
    PutUint24(plaintext_, size);
    for (ByteView part : parts) plaintext_.insert(plaintext_.end(), part.begin(), part.end());
    return Status::OK();
  }
  Encrypt(parts, size);
  return Status::OK();
}

Bytes SecretStream::TakeOutput() {
  Bytes out = std::move(out_);
  out_.clear();
  return out;
}

void SecretStream::Recycle(Bytes buffer) {
  // An idle connection should not hold a burst's worth of memory.
  constexpr size_t kMaxKept = 2 << 20;
  if (!out_.empty() || buffer.capacity() <= out_.capacity() || buffer.capacity() > kMaxKept) return;
  buffer.clear();
  out_ = std::move(buffer);
}

Status SecretStream::Receive(ByteView data,
                             const std::function<Status(ByteView message)>& on_message) {
  if (failed_) return Status::InvalidArgument("secret-stream: the stream has failed");
  Status st;
  while (!data.empty() && st.ok()) {
    if (in_.empty() && data.size() >= 3) {
      // The common case: whole frames straight from the read buffer.
      size_t n = GetUint24(data.data());
      if (data.size() >= 3 + n) {
        st = OnFrame(data.subspan(3, n), on_message);
        data = data.subspan(3 + n);
        continue;
      }
    }
    // Gather a frame across reads: its length first, then its bytes, in a
    // buffer kept from frame to frame (no allocation per frame).
    size_t want = 3;
    if (in_.size() >= 3) {
      want = 3 + GetUint24(in_.data());
      if (in_.capacity() < want) in_.reserve(want);
    }
    size_t take = std::min(want - in_.size(), data.size());
    in_.insert(in_.end(), data.begin(), data.begin() + take);
    data = data.subspan(take);
    if (in_.size() >= 3 && in_.size() == 3 + GetUint24(in_.data())) {
      st = OnFrame(ByteView(in_).subspan(3), on_message);
      in_.clear();
    }
  }
  if (!st.ok()) failed_ = true;
  return st;
}

Status SecretStream::OnFrame(ByteView frame, const std::function<Status(ByteView)>& on_message) {
  if (noise_ != nullptr) {
    SHOAL_RETURN_IF_ERROR(noise_->Read(frame));
    if (noise_->complete()) {
      StartStream();
      return Status::OK();
    }
    return WriteHandshake();
  }
  if (pull_ == nullptr) {
    if (frame.size() != kIdHeaderBytes) {
      return Status::Malformed("secret-stream: the stream header is not 56 bytes");
    }
    crypto::Hash expected = StreamId(handshake_hash_, !initiator_);
    if (!Equal(frame.first(32), expected)) {
      return Status::VerificationFailed("secret-stream: the remote stream id is wrong");
    }
    crypto::SecretStreamHeader header;
    std::memcpy(header.data(), frame.data() + 32, header.size());
    pull_ = std::make_unique<crypto::SecretStreamPull>(rx_key_, header);
    return Status::OK();
  }
  if (frame.size() < crypto::kSecretStreamOverhead) {
    return Status::Malformed("secret-stream: a message shorter than its MAC");
  }
  bytes_received_ += 3 + frame.size();
  scratch_.resize(frame.size() - crypto::kSecretStreamOverhead);
  SHOAL_RETURN_IF_ERROR(pull_->Pull(frame, scratch_.data()));
  if (scratch_.empty()) return Status::OK();  // a keep-alive
  return on_message(scratch_);
}

}  // namespace shoal::net
