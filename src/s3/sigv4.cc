#include "s3/sigv4.h"

#include <algorithm>
#include <cctype>
#include <ctime>

#include "crypto/digest.h"

namespace shoal::s3 {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t end = s.find(sep, start);
    out.emplace_back(s.substr(start, end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}


// "AK/20130524/us-east-1/s3/aws4_request" into `info`.
Status ParseCredential(std::string_view credential, SignatureInfo& info) {
  auto parts = Split(credential, '/');
  if (parts.size() != 5 || parts[4] != "aws4_request" || parts[1].size() != 8 ||
      parts[0].empty()) {
    return Status::Malformed("the credential is not AK/date/region/service/aws4_request");
  }
  info.access_key = parts[0];
  info.date = parts[1];
  info.region = parts[2];
  info.service = parts[3];
  return Status::OK();
}

}  // namespace

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsLowerHex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::string UriEncode(std::string_view s, bool encode_slash) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3 / 2);
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
        (c == '/' && !encode_slash)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

Result<std::string> UriDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      return Status::Malformed("bad percent-encoding");
    }
    auto hex = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
    out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
    i += 2;
  }
  return out;
}

Result<QueryParams> ParseQuery(std::string_view raw) {
  QueryParams out;
  if (raw.empty()) return out;
  for (const std::string& pair : Split(raw, '&')) {
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    SHOAL_ASSIGN_OR_RETURN(std::string name, UriDecode(std::string_view(pair).substr(0, eq)));
    std::string value;
    if (eq != std::string::npos) {
      SHOAL_ASSIGN_OR_RETURN(value, UriDecode(std::string_view(pair).substr(eq + 1)));
    }
    out.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

Result<SignatureInfo> ParseAuthorization(std::string_view value) {
  constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
  if (value.substr(0, kAlgorithm.size()) != kAlgorithm) {
    return Status::NotSupported("only AWS4-HMAC-SHA256 signatures are accepted");
  }
  SignatureInfo info;
  bool credential = false, headers = false, signature = false;
  for (const std::string& raw : Split(value.substr(kAlgorithm.size()), ',')) {
    std::string_view part = Trim(raw);
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) return Status::Malformed("an authorization part lacks '='");
    std::string_view name = part.substr(0, eq), v = part.substr(eq + 1);
    if (name == "Credential") {
      SHOAL_RETURN_IF_ERROR(ParseCredential(v, info));
      credential = true;
    } else if (name == "SignedHeaders") {
      info.signed_headers = Split(v, ';');
      headers = true;
    } else if (name == "Signature") {
      info.signature = std::string(v);
      signature = true;
    }
  }
  if (!credential || !headers || !signature) {
    return Status::Malformed("the authorization lacks Credential, SignedHeaders or Signature");
  }
  if (!IsLowerHex64(info.signature)) return Status::Malformed("the signature is not 64 hex digits");
  return info;
}

Result<SignatureInfo> ParsePresigned(const QueryParams& query) {
  auto get = [&](std::string_view name) -> const std::string* {
    for (const auto& [k, v] : query) {
      if (k == name) return &v;
    }
    return nullptr;
  };
  const std::string* algorithm = get("X-Amz-Algorithm");
  const std::string* credential = get("X-Amz-Credential");
  const std::string* date = get("X-Amz-Date");
  const std::string* expires = get("X-Amz-Expires");
  const std::string* headers = get("X-Amz-SignedHeaders");
  const std::string* signature = get("X-Amz-Signature");
  if (!algorithm || *algorithm != "AWS4-HMAC-SHA256") {
    return Status::NotSupported("only AWS4-HMAC-SHA256 signatures are accepted");
  }
  if (!credential || !date || !expires || !headers || !signature) {
    return Status::Malformed("a presigned URL needs X-Amz-Credential, -Date, -Expires, "
                             "-SignedHeaders and -Signature");
  }
  SignatureInfo info;
  info.presigned = true;
  SHOAL_RETURN_IF_ERROR(ParseCredential(*credential, info));
  info.amz_date = *date;
  info.signed_headers = Split(*headers, ';');
  info.signature = *signature;
  if (!IsLowerHex64(info.signature)) return Status::Malformed("the signature is not 64 hex digits");
  char* end = nullptr;
  long long e = std::strtoll(expires->c_str(), &end, 10);
  if (expires->empty() || *end != '\0') return Status::Malformed("X-Amz-Expires is not a number");
  if (e < 1 || e > 7 * 24 * 3600) {
    return Status::VerificationFailed("X-Amz-Expires must be 1 to 604800 seconds");
  }
  info.expires_seconds = e;
  return info;
}

std::string CanonicalRequest(std::string_view method, std::string_view raw_path,
                             const QueryParams& query, const http::Headers& headers,
                             const std::vector<std::string>& signed_headers,
                             std::string_view payload_hash) {
  std::string out;
  out.append(method).push_back('\n');
  auto path = UriDecode(raw_path);
  out.append(UriEncode(path.ok() ? *path : std::string(raw_path), false)).push_back('\n');

  std::vector<std::pair<std::string, std::string>> q;
  for (const auto& [k, v] : query) {
    if (k == "X-Amz-Signature") continue;
    q.emplace_back(UriEncode(k, true), UriEncode(v, true));
  }
  std::sort(q.begin(), q.end());
  for (size_t i = 0; i < q.size(); i++) {
    if (i) out.push_back('&');
    out.append(q[i].first).push_back('=');
    out.append(q[i].second);
  }
  out.push_back('\n');

  for (const std::string& name : signed_headers) {
    // Every field of that name, values trimmed, inner runs of spaces squeezed,
    // joined by commas.
    std::string joined;
    bool first = true;
    for (const auto& [k, v] : headers.fields()) {
      if (!http::EqualsIgnoreCase(k, name)) continue;
      if (!first) joined.push_back(',');
      first = false;
      std::string_view t = Trim(v);
      bool space = false;
      for (char c : t) {
        if (c == ' ' || c == '\t') {
          space = true;
          continue;
        }
        if (space) joined.push_back(' ');
        space = false;
        joined.push_back(c);
      }
    }
    out.append(Lower(name)).push_back(':');
    out.append(joined).push_back('\n');
  }
  out.push_back('\n');
  for (size_t i = 0; i < signed_headers.size(); i++) {
    if (i) out.push_back(';');
    out.append(Lower(signed_headers[i]));
  }
  out.push_back('\n');
  out.append(payload_hash);
  return out;
}

std::string StringToSign(const SignatureInfo& info, std::string_view canonical_request) {
  std::string out = "AWS4-HMAC-SHA256\n";
  out.append(info.amz_date).push_back('\n');
  out.append(info.Scope()).push_back('\n');
  out.append(ToHex(crypto::Sha256(AsBytes(canonical_request))));
  return out;
}

FixedBytes<32> SigningKey(std::string_view secret, std::string_view date,
                          std::string_view region, std::string_view service) {
  std::string k = "AWS4" + std::string(secret);
  auto k_date = crypto::HmacSha256(AsBytes(k), AsBytes(date));
  auto k_region = crypto::HmacSha256(k_date, AsBytes(region));
  auto k_service = crypto::HmacSha256(k_region, AsBytes(service));
  return crypto::HmacSha256(k_service, AsBytes("aws4_request"));
}

std::string Sign(const FixedBytes<32>& key, std::string_view string_to_sign) {
  return ToHex(crypto::HmacSha256(key, AsBytes(string_to_sign)));
}

Result<int64_t> ParseAmzDate(std::string_view s) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') {
    return Status::Malformed("the date is not YYYYMMDDTHHMMSSZ");
  }
  for (size_t i = 0; i < 15; i++) {
    if (i != 8 && !std::isdigit(static_cast<unsigned char>(s[i]))) {
      return Status::Malformed("the date is not YYYYMMDDTHHMMSSZ");
    }
  }
  auto num = [&](size_t at, size_t n) { return std::stoi(std::string(s.substr(at, n))); };
  std::tm tm{};
  tm.tm_year = num(0, 4) - 1900;
  tm.tm_mon = num(4, 2) - 1;
  tm.tm_mday = num(6, 2);
  tm.tm_hour = num(9, 2);
  tm.tm_min = num(11, 2);
  tm.tm_sec = num(13, 2);
  if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60) {
    return Status::Malformed("the date is out of range");
  }
  return static_cast<int64_t>(timegm(&tm));
}

}  // namespace shoal::s3
