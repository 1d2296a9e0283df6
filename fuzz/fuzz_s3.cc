// The S3 layer's decoders of untrusted bytes: SigV4 headers and queries,
// percent-encoding, aws-chunked bodies (signed and unsigned), and the drive
// format's block maps and entry values. The first byte picks the decoder.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "blob/blobs.h"
#include "blob/drive.h"
#include "s3/chunked.h"
#include "s3/sigv4.h"

namespace {

class Body : public shoal::http::BodyReader {
 public:
  Body(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  shoal::Result<size_t> Read(uint8_t* out, size_t n) override {
    // Odd-sized pieces, so lines and chunks straddle reads.
    size_t take = std::min({n, size_ - pos_, size_t{7} + pos_ % 13});
    std::memcpy(out, data_ + pos_, take);
    pos_ += take;
    return take;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

void DrainChunked(const uint8_t* data, size_t size, bool is_signed, bool trailer) {
  Body body(data, size);
  std::optional<shoal::s3::ChunkedSigning> signing;
  if (is_signed) {
    shoal::s3::ChunkedSigning s;
    s.key = shoal::s3::SigningKey("secret", "20130524", "us-east-1", "s3");
    s.amz_date = "20130524T000000Z";
    s.scope = "20130524/us-east-1/s3/aws4_request";
    s.seed_signature = std::string(64, 'a');
    signing = s;
  }
  shoal::s3::AwsChunkedReader r(&body, signing, trailer);
  uint8_t buf[333];
  for (int i = 0; i < 100000; i++) {
    auto n = r.Read(buf, sizeof(buf));
    if (!n.ok() || *n == 0) break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t which = data[0] % 6;
  data++;
  size--;
  std::string text(reinterpret_cast<const char*>(data), size);
  switch (which) {
    case 0:
      (void)shoal::s3::ParseAuthorization(text);
      break;
    case 1: {
      auto q = shoal::s3::ParseQuery(text);
      if (q.ok()) {
        (void)shoal::s3::ParsePresigned(*q);
        shoal::http::Headers h;
        h.Add("host", text.substr(0, 20));
        (void)shoal::s3::CanonicalRequest("GET", text, *q, h, {"host"}, "UNSIGNED-PAYLOAD");
      }
      (void)shoal::s3::ParseAmzDate(text);
      break;
    }
    case 2:
      DrainChunked(data, size, false, true);
      break;
    case 3:
      DrainChunked(data, size, true, size % 2 == 0);
      break;
    case 4: {
      std::vector<shoal::Bytes> blocks;
      for (size_t at = 0; at < size; at += 64) {
        blocks.emplace_back(data + at, data + std::min(size, at + 64));
      }
      (void)shoal::blob::DecodeBlockMap(blocks);
      break;
    }
    case 5: {
      auto e = shoal::blob::DecodeEntryValue(shoal::ByteView(data, size));
      if (e.ok()) (void)shoal::blob::EncodeEntryValue(*e);
      break;
    }
  }
  return 0;
}
