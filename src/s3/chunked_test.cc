#include "s3/chunked.h"

#include <gtest/gtest.h>

#include "s3/sigv4.h"

namespace shoal::s3 {
namespace {

// A request body served from memory, in pieces of at most `step` bytes.
class MemoryBody : public http::BodyReader {
 public:
  MemoryBody(std::string data, size_t step) : data_(std::move(data)), step_(step) {}
  Result<size_t> Read(uint8_t* out, size_t n) override {
    size_t take = std::min({n, step_, data_.size() - pos_});
    std::memcpy(out, data_.data() + pos_, take);
    pos_ += take;
    return take;
  }

 private:
  std::string data_;
  size_t step_;
  size_t pos_ = 0;
};

Result<std::string> ReadAll(http::BodyReader& r) {
  std::string out;
  uint8_t buf[1000];
  for (;;) {
    SHOAL_ASSIGN_OR_RETURN(size_t n, r.Read(buf, sizeof(buf)));
    if (n == 0) return out;
    out.append(reinterpret_cast<char*>(buf), n);
  }
}

// The example of the S3 documentation ("Signature Calculations for the
// Authorization Header: Transferring Payload in Multiple Chunks"): 66,560
// bytes of 'a' in chunks of 65,536 and 1,024 bytes, then the final chunk.
ChunkedSigning DocSigning() {
  ChunkedSigning s;
  s.key = SigningKey("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1", "s3");
  s.amz_date = "20130524T000000Z";
  s.scope = "20130524/us-east-1/s3/aws4_request";
  s.seed_signature = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
  return s;
}

std::string DocBody(char fill = 'a') {
  return "10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n" +
         std::string(65536, fill) +
         "\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n" +
         std::string(1024, 'a') +
         "\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n";
}

TEST(AwsChunked, DocumentationExampleVerifies) {
  for (size_t step : {1u, 7u, 4096u, 100000u}) {
    MemoryBody body(DocBody(), step);
    AwsChunkedReader r(&body, DocSigning(), false);
    auto all = ReadAll(r);
    ASSERT_TRUE(all.ok()) << all.status().ToString() << " step " << step;
    EXPECT_EQ(*all, std::string(66560, 'a'));
    EXPECT_EQ(r.decoded_length(), 66560u);
  }
}

TEST(AwsChunked, TamperedChunksAndBadFramingFail) {
  {
    MemoryBody body(DocBody('b'), 4096);  // data changed, signatures not
    AwsChunkedReader r(&body, DocSigning(), false);
    EXPECT_FALSE(ReadAll(r).ok());
    EXPECT_EQ(r.error_code(), "SignatureDoesNotMatch");
  }
  {
    std::string cut = DocBody().substr(0, 66000);  // inside the second chunk
    MemoryBody body(cut, 4096);
    AwsChunkedReader r(&body, DocSigning(), false);
    EXPECT_FALSE(ReadAll(r).ok());
    EXPECT_EQ(r.error_code(), "IncompleteBody");
  }
  {
    MemoryBody body("zz;chunk-signature=" + std::string(64, '0') + "\r\n", 100);
    AwsChunkedReader r(&body, DocSigning(), false);
    EXPECT_FALSE(ReadAll(r).ok());
  }
  {
    MemoryBody body("5\r\nhello\r\n0\r\n\r\n", 100);  // unsigned chunks where signed are due
    AwsChunkedReader r(&body, DocSigning(), false);
    EXPECT_FALSE(ReadAll(r).ok());
    EXPECT_EQ(r.error_code(), "IncompleteSignature");
  }
}

TEST(AwsChunked, UnsignedWithTrailingChecksum) {
  // crc32c("hello world") = c99465aa, base64 "yZRlqg=="
  std::string ok = "5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32c:yZRlqg==\r\n\r\n";
  MemoryBody body(ok, 3);
  AwsChunkedReader r(&body, std::nullopt, true);
  auto all = ReadAll(r);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(*all, "hello world");
  std::string bad = "5\r\nhello\r\n0\r\nx-amz-checksum-crc32c:yZRlqg==\r\n\r\n";
  MemoryBody body2(bad, 3);
  AwsChunkedReader r2(&body2, std::nullopt, true);
  EXPECT_FALSE(ReadAll(r2).ok());
  EXPECT_EQ(r2.error_code(), "BadDigest");
}

}  // namespace
}  // namespace shoal::s3
