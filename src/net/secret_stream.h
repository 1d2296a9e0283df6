// SecretStream: Hypercore's encrypted stream (@hyperswarm/secret-stream),
// without the I/O. The caller moves bytes between it and a socket:
//
//   SecretStream s(/*initiator=*/true, identity);
//   socket.write(s.TakeOutput());              // the first handshake message
//   on socket data d:
//     Status st = s.Receive(d, on_message);     // handshake, then messages
//     socket.write(s.TakeOutput());            // replies, queued messages
//   to send m: s.Send(m); socket.write(s.TakeOutput());
//
// Wire format (docs/protocols/replication.md §1): every frame is a uint24 LE
// length and that many bytes, at most 2^24 − 1. The first frames are the three
// Noise XX messages (crypto/noise.h). Then each side sends one 56-byte frame:
// its stream id (BLAKE2b-256 of its role's namespace, keyed with the handshake
// hash) and its secretstream header. Every later frame is one message, pushed
// through libsodium's secretstream (length + 17 bytes). A message of zero
// bytes is a keep-alive; Receive drops them.
//
// Messages sent before the handshake ends are kept and sent once it does.
// Any error from Receive is final: the caller closes the connection.
//
// Not thread-safe: one object per connection, used from one thread (or strand).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>

#include "base/result.h"
#include "crypto/noise.h"
#include "crypto/secretstream.h"

namespace shoal::net {

constexpr size_t kMaxFrame = (1u << 24) - 1;
// The largest message Send takes: a frame holds the message and 17 bytes.
constexpr size_t kMaxMessage = kMaxFrame - crypto::kSecretStreamOverhead;

class SecretStream {
 public:
  // `ephemeral` fixes the handshake's ephemeral key pair (tests only).
  SecretStream(bool initiator, const crypto::KeyPair& identity,
               std::optional<crypto::KeyPair> ephemeral = std::nullopt);
  ~SecretStream();
  SecretStream(const SecretStream&) = delete;
  SecretStream& operator=(const SecretStream&) = delete;

  bool initiator() const { return initiator_; }
  // Both secretstream headers exchanged: messages flow both ways.
  bool established() const { return pull_ != nullptr; }
  // Known once the Noise handshake is complete.
  const crypto::PublicKey& remote_public_key() const { return remote_public_key_; }
  const crypto::HandshakeHash& handshake_hash() const { return handshake_hash_; }
  bool handshake_complete() const { return push_ != nullptr; }

  // Parses `data` from the socket. Each whole message is passed to
  // `on_message`, which may call Send; an error it returns stops parsing and
  // is returned. Errors: Malformed (a bad frame or header), VerificationFailed
  // (the handshake, the stream id or a message does not authenticate).
  Status Receive(ByteView data, const std::function<Status(ByteView message)>& on_message);

  // Queues `message` (at most kMaxMessage bytes; InvalidArgument otherwise).
  // Before the handshake completes it is kept in plaintext and encrypted then.
  Status Send(ByteView message) { return Send(std::span<const ByteView>(&message, 1)); }
  // The message that is `parts` back to back, copied once, straight into the
  // output, and encrypted there.
  Status Send(std::span<const ByteView> parts);
  // A keep-alive: an empty message.
  void SendKeepAlive() { (void)Send(ByteView()); }

  // The bytes to write to the socket, in order; leaves the queue empty.
  Bytes TakeOutput();
  // Gives back a buffer TakeOutput returned, once written, so the next
  // output reuses its memory instead of growing a new one (buffers over
  // 2 MiB are let go).
  void Recycle(Bytes buffer);
  bool has_output() const { return !out_.empty(); }
  size_t output_size() const { return out_.size(); }

  // Bytes of encrypted messages sent and received, frames included.
  uint64_t bytes_sent() const { return bytes_sent_; }
  uint64_t bytes_received() const { return bytes_received_; }

 private:
  Status OnFrame(ByteView frame, const std::function<Status(ByteView)>& on_message);
  Status WriteHandshake();
  void StartStream();
  void AppendFrame(ByteView payload);
  void Encrypt(std::span<const ByteView> parts, size_t size);

  const bool initiator_;
  std::unique_ptr<crypto::NoiseXX> noise_;
  std::unique_ptr<crypto::SecretStreamPush> push_;
  std::unique_ptr<crypto::SecretStreamPull> pull_;
  crypto::PublicKey remote_public_key_{};
  crypto::HandshakeHash handshake_hash_{};
  FixedBytes<32> rx_key_{};

  Bytes in_;         // a partial frame, when a read ends inside one
  Bytes out_;        // bytes for the socket
  Bytes plaintext_;  // uint24 length || message, queued before the handshake ends
  Bytes scratch_;
  bool failed_ = false;
  uint64_t bytes_sent_ = 0;
  uint64_t bytes_received_ = 0;
};

}  // namespace shoal::net
