// The aws-chunked content encoding: a body sent as chunks, each signed with
// the previous chunk's signature (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), or
// unsigned (STREAMING-UNSIGNED-PAYLOAD-TRAILER), optionally followed by
// trailing headers such as x-amz-checksum-crc32c, themselves signed in the
// -TRAILER variants.
// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html
//
//   chunk   = hex-size [";chunk-signature=" 64hex] CRLF data CRLF
//   last    = "0" [";chunk-signature=" 64hex] CRLF
//   trailer = *(name ":" value CRLF) [x-amz-trailer-signature:64hex CRLF] CRLF
//
// AwsChunkedReader decodes such a body from the request's reader and checks
// every signature and the checksums it can (sha256, crc32c) as the data goes
// by; a bad one makes the Read that meets it fail, so nothing that does not
// verify is ever committed.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "base/bytes.h"
#include "http/server.h"

namespace shoal::s3 {

struct ChunkedSigning {
  FixedBytes<32> key;  // the request's signing key
  std::string amz_date;
  std::string scope;
  std::string seed_signature;  // the Authorization header's
};

class AwsChunkedReader final : public http::BodyReader {
 public:
  // `signing` is given for the signed variants, none for the unsigned one.
  // `trailer` tells whether trailing headers may follow the last chunk.
  AwsChunkedReader(http::BodyReader* inner, std::optional<ChunkedSigning> signing, bool trailer);
  ~AwsChunkedReader() override;

  Result<size_t> Read(uint8_t* out, size_t n) override;

  // How many payload bytes Read has returned so far.
  uint64_t decoded_length() const;
  // A Read that failed because of the encoding (not the connection) left
  // this: the S3 error code to answer with.
  const std::string& error_code() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace shoal::s3
