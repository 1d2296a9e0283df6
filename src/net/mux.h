// Mux: Hypercore's channel multiplexer (protomux), without the I/O.
//
// Each message of a SecretStream is one frame:
//   uint channel, uint type, payload
// where `channel` is the sender's local id for the channel (1-based), and
// channel 0 is the control channel:
//   type 1 open:   uint localId, string protocol, optionalBuffer id, handshake…
//   type 2 reject: uint remoteId      (the id the opener chose)
//   type 3 close:  uint localId
//   type 0 batch:  uint channel, then items `uint len, bytes[len]`, each item
//                  `uint type, payload` on the current channel; a len of 0
//                  means the next uint is a new current channel.
// Channels pair by (protocol, id): each side sends an open, and a channel is
// open once both have. docs/protocols/replication.md §2 has the details.
//
// Pairing is decided at once. When the remote opens a (protocol, id) that no
// local channel waits for, the pair handler runs inside Receive; it accepts
// by calling Open for that (protocol, id) before it returns, or the open is
// rejected. So a message never arrives for a channel that is still pending,
// and no early messages need buffering. Messages for an unknown or closed
// channel are ignored, as protomux does; a malformed frame, an open on an id
// already in use, a reject for a channel that is not waiting, or more than
// kMaxChannels open by the remote are errors, and the caller closes the
// connection.
//
// Sending goes through the `send` function given at construction, one
// call per frame. Cork/Uncork gather the frames sent in between into batch
// frames (as protomux's cork does). A batch is sent once it reaches
// kBatchFlush bytes, and a message of that size or more goes out on its
// own, so large messages (block data) are never held back to travel in one
// big frame that the receiver must take whole before it can use any of it.
//
// Not thread-safe: one per connection, used from one thread (or strand).
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/encoding.h"
#include "base/result.h"

namespace shoal::net {

class Mux;
class Channel;

// What a channel's owner implements. A handler must not destroy the Mux from
// inside a call.
class ChannelHandler {
 public:
  virtual ~ChannelHandler() = default;
  // Both sides have opened; `handshake` is the rest of the remote's open
  // message. An error closes the connection.
  virtual Status OnOpen(Channel& channel, ByteView handshake) = 0;
  // A message of type `type` on an open channel. An error closes the connection.
  virtual Status OnMessage(Channel& channel, uint64_t type, ByteView payload) = 0;
  // The channel is closed (by the remote, by a reject, or because the
  // connection ended). The Channel is destroyed right after this returns.
  virtual void OnClose(Channel& channel, bool by_remote) = 0;
};

class Channel {
 public:
  const std::string& protocol() const { return protocol_; }
  const std::optional<Bytes>& id() const { return id_; }
  // The remote has opened its side too.
  bool opened() const { return remote_id_ != 0; }
  Mux& mux() const { return *mux_; }

  // Sends a message of `type`. Ignored on a closed channel.
  Status Send(uint64_t type, ByteView payload) {
    return Send(type, std::span<const ByteView>(&payload, 1));
  }
  // The same, with the payload in parts (sent without joining them first).
  Status Send(uint64_t type, std::span<const ByteView> payload);
  // Sends a close and closes this side (OnClose(by_remote = false)).
  void Close();

 private:
  friend class Mux;
  Channel(Mux* mux, std::string protocol, std::optional<Bytes> id, ChannelHandler* handler)
      : mux_(mux), protocol_(std::move(protocol)), id_(std::move(id)), handler_(handler) {}

  Mux* const mux_;
  const std::string protocol_;
  const std::optional<Bytes> id_;
  ChannelHandler* const handler_;
  uint64_t local_id_ = 0;
  uint64_t remote_id_ = 0;
};

class Mux {
 public:
  static constexpr size_t kMaxChannels = 65536;
  static constexpr size_t kBatchFlush = 64 << 10;

  // Sends one frame, given in parts to be sent back to back.
  using SendFn = std::function<Status(std::span<const ByteView> frame)>;
  using PairFn = std::function<void(std::string_view protocol, const std::optional<Bytes>& id)>;

  explicit Mux(SendFn send);
  ~Mux();
  Mux(const Mux&) = delete;
  Mux& operator=(const Mux&) = delete;

  // Runs when the remote opens a (protocol, id) no local channel waits for.
  void SetPairHandler(PairFn pair) { pair_ = std::move(pair); }

  // Opens a channel and sends its open message with `handshake` after the id.
  // Returns nullptr if a channel for (protocol, id) is already open or
  // opening. If the remote has already opened it (Open called from the pair
  // handler), handler->OnOpen runs before Open returns; an error there is
  // kept for Receive to return, which closes the connection.
  Channel* Open(std::string protocol, std::optional<Bytes> id, ByteView handshake,
                ChannelHandler* handler);

  // Handles one frame (one secret-stream message).
  Status Receive(ByteView frame);

  void Cork();
  void Uncork();

  // The connection is gone: closes every channel (OnClose(by_remote = true)).
  void CloseAll();

  size_t channel_count() const { return by_key_.size(); }

 private:
  friend class Channel;
  struct Pending {  // a remote open waiting for the pair handler
    uint64_t remote_id;
    Bytes handshake;
  };

  Status SendFrame(uint64_t local_id, uint64_t type, std::span<const ByteView> payload);
  Status SendFrame(uint64_t local_id, uint64_t type, ByteView payload) {
    return SendFrame(local_id, type, std::span<const ByteView>(&payload, 1));
  }
  Status SendControl(uint64_t type, uint64_t value);
  Status FlushBatch();
  Status Control(uint64_t type, enc::Decoder& d);
  Status OnBatch(enc::Decoder& d);
  Status Dispatch(uint64_t remote_id, uint64_t type, ByteView payload);
  Status OnOpenMessage(enc::Decoder& d);
  Status OnReject(uint64_t local_id);
  void OnCloseMessage(uint64_t remote_id);
  // Marks `channel` open with the remote's id and tells its handler.
  Status Pair(Channel* channel, uint64_t remote_id, ByteView handshake);
  // Forgets `channel` and tells its handler; deletes it.
  void Drop(Channel* channel, bool by_remote);
  void CloseLocal(Channel* channel);
  static std::string Key(std::string_view protocol, const std::optional<Bytes>& id);

  SendFn send_;
  PairFn pair_;
  std::vector<Channel*> local_;   // by local id − 1; null for a free slot
  std::vector<Channel*> remote_;  // by remote id − 1; null when unused
  std::vector<uint64_t> free_;    // local ids to reuse
  std::map<std::string, std::unique_ptr<Channel>> by_key_;  // every open or opening channel
  // Local ids of opens the remote has not answered, oldest first, by key. A
  // channel closed before the answer keeps its id here (its local_ slot
  // null) until the remote's open or reject arrives, as protomux does.
  std::map<std::string, std::deque<uint64_t>> outgoing_;
  std::map<std::string, Pending> pending_;  // opened there, being offered to the pair handler
  Status deferred_;                          // an OnOpen error from inside Open
  size_t remote_open_ = 0;

  int corked_ = 0;
  Bytes batch_;
  uint64_t batch_channel_ = 0;
  bool batch_empty_ = true;
};

}  // namespace shoal::net
