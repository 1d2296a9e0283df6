#include "s3/sigv4.h"

#include <gtest/gtest.h>

namespace shoal::s3 {
namespace {

// The GET Object example of the S3 documentation ("Signature Calculations
// for the Authorization Header: Transferring Payload in a Single Chunk").
TEST(SigV4, AwsDocumentationExample) {
  http::Headers h;
  h.Add("Host", "examplebucket.s3.amazonaws.com");
  h.Add("Range", "bytes=0-9");
  h.Add("x-amz-content-sha256",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  h.Add("x-amz-date", "20130524T000000Z");
  auto info = ParseAuthorization(
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
      "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
      "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->access_key, "AKIAIOSFODNN7EXAMPLE");
  EXPECT_EQ(info->region, "us-east-1");
  info->amz_date = "20130524T000000Z";
  std::string canonical =
      CanonicalRequest("GET", "/test.txt", {}, h, info->signed_headers,
                       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(canonical,
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
            "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
            "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // The documentation gives the hash of the canonical request too.
  EXPECT_NE(StringToSign(*info, canonical)
                .find("7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"),
            std::string::npos);
  auto key = SigningKey("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", info->date, info->region,
                        info->service);
  EXPECT_EQ(Sign(key, StringToSign(*info, canonical)), info->signature);
}

TEST(SigV4, QueryAndPathEncoding) {
  auto q = ParseQuery("prefix=a%2Fb&list-type=2&delimiter=%2F&empty&x=%20+");
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->size(), 5u);
  EXPECT_EQ((*q)[0].second, "a/b");
  EXPECT_EQ((*q)[3].first, "empty");
  EXPECT_EQ((*q)[4].second, " +");
  http::Headers h;
  std::string c = CanonicalRequest("GET", "/bucket/a%20b/c+d", *q, h, {}, "UNSIGNED-PAYLOAD");
  // Path segments re-encoded once; the query sorted, everything but
  // unreserved characters encoded, '/' included.
  EXPECT_EQ(c.substr(0, c.find('\n', c.find('\n', 4) + 1)),
            "GET\n/bucket/a%20b/c%2Bd\ndelimiter=%2F&empty=&list-type=2&prefix=a%2Fb&x=%20%2B");
  EXPECT_FALSE(ParseQuery("a=%zz").ok());
  EXPECT_EQ(UriEncode("é~ /", true), "%C3%A9~%20%2F");
}

TEST(SigV4, MalformedAuthorizationIsRefused) {
  EXPECT_FALSE(ParseAuthorization("AWS AKID:sig").ok());
  EXPECT_FALSE(ParseAuthorization("AWS4-HMAC-SHA256 Credential=AK/2013/us/s3/aws4_request, "
                                  "SignedHeaders=host, Signature=00")
                   .ok());
  EXPECT_FALSE(ParseAuthorization("AWS4-HMAC-SHA256 SignedHeaders=host").ok());
  auto ok = ParseAuthorization(
      "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, "
      "SignedHeaders=host;x-amz-date, Signature=" + std::string(64, 'a'));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->signed_headers.size(), 2u);
}

TEST(SigV4, PresignedQuery) {
  auto q = ParseQuery(
      "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
      "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=" +
      std::string(64, 'b'));
  ASSERT_TRUE(q.ok());
  auto info = ParsePresigned(*q);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->expires_seconds, 86400);
  EXPECT_EQ(info->access_key, "AK");
  EXPECT_EQ(*ParseAmzDate("20130524T000000Z"), 1369353600);
  EXPECT_FALSE(ParseAmzDate("2013-05-24").ok());
}

}  // namespace
}  // namespace shoal::s3
