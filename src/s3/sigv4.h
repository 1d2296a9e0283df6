// AWS Signature Version 4, as S3 checks it: the pieces of a signature a
// request carries (Authorization header or presigned query), the canonical
// request, the string to sign and the signing key.
// https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "http/server.h"

namespace shoal::s3 {

using QueryParams = std::vector<std::pair<std::string, std::string>>;

// What a signed request claims about its signature.
struct SignatureInfo {
  std::string access_key;
  std::string date;     // YYYYMMDD, from the credential scope
  std::string region;
  std::string service;  // "s3"
  std::vector<std::string> signed_headers;  // lower case, as listed
  std::string signature;                    // lower-case hex
  std::string amz_date;                     // YYYYMMDDTHHMMSSZ
  bool presigned = false;
  int64_t expires_seconds = 0;  // presigned only

  std::string Scope() const { return date + "/" + region + "/" + service + "/aws4_request"; }
};

// "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request,
// SignedHeaders=host;x-amz-date, Signature=…". Malformed if it is not that;
// the date comes from the x-amz-date (or Date) header, set by the caller.
Result<SignatureInfo> ParseAuthorization(std::string_view value);
// X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
// X-Amz-SignedHeaders and X-Amz-Signature from a query.
Result<SignatureInfo> ParsePresigned(const QueryParams& query);

// Percent-encodes every byte but A-Z a-z 0-9 - . _ ~ (and '/' unless
// `encode_slash`), with upper-case hex, as SigV4 requires.
std::string UriEncode(std::string_view s, bool encode_slash);
// Undoes percent-encoding ('+' stays '+'). Malformed on a bad escape.
Result<std::string> UriDecode(std::string_view s);
// "a=1&b&c=%20" as decoded (name, value) pairs, in order.
Result<QueryParams> ParseQuery(std::string_view raw);

// The canonical request. `raw_path` and `query` are as received; the path is
// decoded and re-encoded (S3 does not normalise it otherwise), the query
// sorted, and X-Amz-Signature left out.
std::string CanonicalRequest(std::string_view method, std::string_view raw_path,
                             const QueryParams& query, const http::Headers& headers,
                             const std::vector<std::string>& signed_headers,
                             std::string_view payload_hash);
std::string StringToSign(const SignatureInfo& info, std::string_view canonical_request);
FixedBytes<32> SigningKey(std::string_view secret, std::string_view date,
                          std::string_view region, std::string_view service);
// Lower-case hex of HMAC-SHA256(key, string_to_sign).
std::string Sign(const FixedBytes<32>& key, std::string_view string_to_sign);

// ASCII lower case, and whether `s` is 64 lower-case hex digits (a SHA-256
// or a signature as SigV4 writes them).
std::string Lower(std::string_view s);
bool IsLowerHex64(std::string_view s);

// Seconds since the epoch of "YYYYMMDDTHHMMSSZ"; Malformed otherwise.
Result<int64_t> ParseAmzDate(std::string_view s);

}  // namespace shoal::s3
