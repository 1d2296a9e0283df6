// Feeds arbitrary bytes to the MQTT framing and packet decoder, as a client
// of any version could send them, to the topic checks, to the WebSocket
// framing MQTT also arrives in, and to the decoder of the broker's stored
// messages. Nothing may read out of bounds or loop; whatever decodes must
// encode to bytes that decode to the same packet; a topic filter that is
// valid must match names consistently with its rules; WebSocket frames must
// decode alike whole and in two pieces.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <string>

#include "base/check.h"
#include "http/websocket.h"
#include "mqtt/codec.h"
#include "mqtt/state_store.h"
#include "mqtt/topic.h"

using namespace shoal;
using namespace shoal::mqtt;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static constexpr Version kVersions[] = {Version::k31, Version::k311, Version::k5};
  Version version = kVersions[data[0] % 3];
  ByteView in(data + 1, size - 1);

  // Every packet in the input, as a broker reads a stream.
  while (!in.empty()) {
    auto frame = NextFrame(in, 1 << 20);
    if (!frame.ok() || !*frame) break;
    in = in.subspan((*frame)->size);
    auto packet = Decode(**frame, version);
    if (!packet.ok()) continue;
    Version v = version;
    if (auto* c = std::get_if<Connect>(&*packet)) v = c->version;
    Bytes again;
    Encode(*packet, v, &again);
    auto reframed = NextFrame(again, 1 << 21);
    SHOAL_CHECK(reframed.ok() && *reframed && (*reframed)->size == again.size());
    auto twice = Decode(**reframed, v);
    SHOAL_CHECK(twice.ok());
    SHOAL_CHECK(*twice == *packet);
  }

  // The input as a filter and a name, split at the first NUL.
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  size_t cut = text.find('\0');
  std::string_view filter = text.substr(0, cut);
  std::string_view name = cut == std::string_view::npos ? "" : text.substr(cut + 1);
  (void)ParseShared(filter);
  if (ValidTopicFilter(filter) && ValidTopicName(name)) {
    if (filter == name) SHOAL_CHECK(Matches(filter, name));
    if (filter == "#" && name[0] != '$') SHOAL_CHECK(Matches(filter, name));
  }

  // WebSocket frames, whole and split at a point the first byte picks: the
  // same payload bytes and events, and the same verdict.
  auto frames = [&](size_t split) {
    Bytes copy(data + 1, data + size);
    std::string out;
    http::ws::Decoder d;
    bool in_data = false;  // data comes in pieces wherever the input was cut
    auto sink = [&](const http::ws::Decoder::Event& e) {
      const bool data_event = e.kind == http::ws::Decoder::Event::Kind::kData;
      if (!(data_event && in_data)) out += static_cast<char>('0' + static_cast<int>(e.kind));
      in_data = data_event;
      out.append(reinterpret_cast<const char*>(e.data.data()), e.data.size());
    };
    split = std::min(split, copy.size());
    Status st = d.Feed(std::span<uint8_t>(copy.data(), split), sink);
    if (st.ok()) st = d.Feed(std::span<uint8_t>(copy.data() + split, copy.size() - split), sink);
    return std::make_pair(st.ok(), out);
  };
  auto whole = frames(size);
  auto pieces = frames(data[0]);
  SHOAL_CHECK(whole.first == pieces.first);
  if (whole.first) SHOAL_CHECK(whole.second == pieces.second);

  // A stored message: what decodes encodes back to the same message.
  auto stored = DecodeStoredMessage(ByteView(data + 1, size - 1));
  if (stored.ok()) {
    Bytes again = EncodeStoredMessage(stored->publish, stored->publish.payload, stored->expires_ms);
    auto back = DecodeStoredMessage(again);
    SHOAL_CHECK(back.ok() && back->publish == stored->publish && back->expires_ms == stored->expires_ms);
  }
  return 0;
}
