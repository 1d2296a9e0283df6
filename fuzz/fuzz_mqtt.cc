// Feeds arbitrary bytes to the MQTT framing and packet decoder, as a client
// of any version could send them, and to the topic checks. Nothing may read
// out of bounds or loop; whatever decodes must encode to bytes that decode
// to the same packet; a topic filter that is valid must match names
// consistently with its rules.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/check.h"
#include "mqtt/codec.h"
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
  return 0;
}
