#include "s3/chunked.h"

#include <cstring>

#include "base/crc32c.h"
#include "crypto/digest.h"
#include "s3/sigv4.h"

namespace shoal::s3 {
namespace {

constexpr char kEmptySha256[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr size_t kMaxLine = 4096;

}  // namespace

struct AwsChunkedReader::State {
  http::BodyReader* inner;
  std::optional<ChunkedSigning> signing;
  bool trailer;

  enum class Phase { kHeader, kData, kDataEnd, kTrailer, kDone, kFailed } phase = Phase::kHeader;
  Bytes in;        // read from `inner`, not consumed yet
  size_t pos = 0;  // first unconsumed byte of `in`
  bool inner_done = false;

  uint64_t remaining = 0;  // of the current chunk
  std::string chunk_signature;
  std::string previous_signature;
  std::optional<crypto::StreamingDigest> chunk_sha;
  crypto::StreamingDigest body_sha{crypto::StreamingDigest::Kind::kSha256};
  uint32_t body_crc32c = 0;
  uint64_t decoded = 0;
  std::string trailer_text;  // "name:value\n" per trailing header, signature left out
  std::string trailer_signature;
  bool sha256_checked = false;
  std::string error_code;

  static bool SameSignature(const std::string& a, const std::string& b) {
    // Constant time: how far two signatures agree must not show in timing.
    uint8_t diff = a.size() != b.size();
    for (size_t i = 0; i < a.size() && i < b.size(); i++) diff |= static_cast<uint8_t>(a[i] ^ b[i]);
    return diff == 0;
  }

  Status Fail(const std::string& code, const std::string& message) {
    phase = Phase::kFailed;
    error_code = code;
    return Status::InvalidArgument(message);
  }

  // Makes sure unconsumed bytes are available; false at the end of the body.
  Result<bool> Fill() {
    if (pos < in.size()) return true;
    if (inner_done) return false;
    in.resize(64 << 10);
    pos = 0;
    SHOAL_ASSIGN_OR_RETURN(size_t n, inner->Read(in.data(), in.size()));
    in.resize(n);
    if (n == 0) inner_done = true;
    return n > 0;
  }

  // One CRLF-terminated line, without the CRLF.
  Result<std::string> Line() {
    std::string line;
    for (;;) {
      SHOAL_ASSIGN_OR_RETURN(bool more, Fill());
      if (!more) return Fail("IncompleteBody", "the aws-chunked body ends inside a line");
      const uint8_t* start = in.data() + pos;
      const uint8_t* nl = static_cast<const uint8_t*>(std::memchr(start, '\n', in.size() - pos));
      size_t take = nl ? static_cast<size_t>(nl - start) + 1 : in.size() - pos;
      line.append(reinterpret_cast<const char*>(start), take);
      pos += take;
      if (line.size() > kMaxLine) return Fail("InvalidArgument", "an aws-chunked line is too long");
      if (nl) break;
    }
    if (line.size() < 2 || line[line.size() - 2] != '\r') {
      return Fail("InvalidArgument", "an aws-chunked line does not end with CRLF");
    }
    line.resize(line.size() - 2);
    return line;
  }

  std::string ChunkStringToSign(const std::string& data_sha) const {
    return "AWS4-HMAC-SHA256-PAYLOAD\n" + signing->amz_date + "\n" + signing->scope + "\n" +
           previous_signature + "\n" + kEmptySha256 + "\n" + data_sha;
  }

  Status VerifyChunk(const std::string& data_sha) {
    if (!signing) return Status::OK();
    std::string expected = Sign(signing->key, ChunkStringToSign(data_sha));
    if (!SameSignature(expected, chunk_signature)) {
      return Fail("SignatureDoesNotMatch", "a chunk signature does not match");
    }
    previous_signature = chunk_signature;
    return Status::OK();
  }

  Status Header() {
    SHOAL_ASSIGN_OR_RETURN(std::string line, Line());
    std::string size_text = line.substr(0, line.find(';'));
    chunk_signature.clear();
    if (size_t at = line.find(";chunk-signature="); at != std::string::npos) {
      chunk_signature = line.substr(at + 17);
    }
    if (signing && chunk_signature.size() != 64) {
      return Fail("IncompleteSignature", "a chunk lacks its signature");
    }
    if (size_text.empty() || size_text.size() > 15 ||
        size_text.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
      return Fail("InvalidArgument", "a chunk size is not hex");
    }
    remaining = std::stoull(size_text, nullptr, 16);
    if (signing) chunk_sha.emplace(crypto::StreamingDigest::Kind::kSha256);
    if (remaining > 0) {
      phase = Phase::kData;
      return Status::OK();
    }
    // The last chunk: empty, signed over nothing.
    SHOAL_RETURN_IF_ERROR(VerifyChunk(kEmptySha256));
    if (trailer) {
      phase = Phase::kTrailer;
      return Status::OK();
    }
    SHOAL_ASSIGN_OR_RETURN(std::string end, Line());
    if (!end.empty()) return Fail("InvalidArgument", "bytes after the last chunk");
    phase = Phase::kDone;
    return Status::OK();
  }

  Status Trailers() {
    for (;;) {
      SHOAL_ASSIGN_OR_RETURN(std::string line, Line());
      if (line.empty()) break;
      size_t colon = line.find(':');
      if (colon == std::string::npos) return Fail("InvalidArgument", "a trailer is not name:value");
      std::string name = line.substr(0, colon), value = line.substr(colon + 1);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      if (name == "x-amz-trailer-signature") {
        trailer_signature = value;
        continue;
      }
      trailer_text += name + ":" + value + "\n";
      if (name == "x-amz-checksum-crc32c") {
        uint8_t be[4] = {static_cast<uint8_t>(body_crc32c >> 24), static_cast<uint8_t>(body_crc32c >> 16),
                         static_cast<uint8_t>(body_crc32c >> 8), static_cast<uint8_t>(body_crc32c)};
        if (value != ToBase64(ByteView(be, 4))) return Fail("BadDigest", "x-amz-checksum-crc32c does not match");
      } else if (name == "x-amz-checksum-sha256") {
        if (sha256_checked) return Fail("InvalidArgument", "x-amz-checksum-sha256 is given twice");
        sha256_checked = true;
        if (value != ToBase64(body_sha.Final())) return Fail("BadDigest", "x-amz-checksum-sha256 does not match");
      }
    }
    if (signing) {
      std::string sts = "AWS4-HMAC-SHA256-TRAILER\n" + signing->amz_date + "\n" + signing->scope +
                        "\n" + previous_signature + "\n" +
                        ToHex(crypto::Sha256(AsBytes(trailer_text)));
      if (!SameSignature(Sign(signing->key, sts), trailer_signature)) {
        return Fail("SignatureDoesNotMatch", "the trailer signature does not match");
      }
    }
    phase = Phase::kDone;
    return Status::OK();
  }
};

AwsChunkedReader::AwsChunkedReader(http::BodyReader* inner, std::optional<ChunkedSigning> signing,
                                   bool trailer)
    : s_(std::make_unique<State>()) {
  s_->inner = inner;
  s_->signing = std::move(signing);
  s_->trailer = trailer;
  if (s_->signing) s_->previous_signature = s_->signing->seed_signature;
}

AwsChunkedReader::~AwsChunkedReader() = default;

uint64_t AwsChunkedReader::decoded_length() const { return s_->decoded; }
const std::string& AwsChunkedReader::error_code() const { return s_->error_code; }

Result<size_t> AwsChunkedReader::Read(uint8_t* out, size_t n) {
  State& s = *s_;
  for (;;) {
    switch (s.phase) {
      case State::Phase::kFailed:
        return Status::InvalidArgument("the aws-chunked body did not verify");
      case State::Phase::kDone:
        return size_t{0};
      case State::Phase::kHeader:
        SHOAL_RETURN_IF_ERROR(s.Header());
        continue;
      case State::Phase::kTrailer:
        SHOAL_RETURN_IF_ERROR(s.Trailers());
        continue;
      case State::Phase::kDataEnd: {
        SHOAL_ASSIGN_OR_RETURN(std::string end, s.Line());
        if (!end.empty()) return s.Fail("InvalidArgument", "a chunk is longer than its size");
        SHOAL_RETURN_IF_ERROR(s.VerifyChunk(s.chunk_sha ? ToHex(s.chunk_sha->Final()) : ""));
        s.phase = State::Phase::kHeader;
        continue;
      }
      case State::Phase::kData: {
        if (n == 0) return size_t{0};
        SHOAL_ASSIGN_OR_RETURN(bool more, s.Fill());
        if (!more) return s.Fail("IncompleteBody", "the aws-chunked body ends inside a chunk");
        size_t take = std::min<uint64_t>({n, s.remaining, s.in.size() - s.pos});
        std::memcpy(out, s.in.data() + s.pos, take);
        ByteView piece(out, take);
        if (s.chunk_sha) s.chunk_sha->Update(piece);
        if (s.trailer) {
          s.body_sha.Update(piece);
          s.body_crc32c = Crc32c(piece, s.body_crc32c);
        }
        s.pos += take;
        s.remaining -= take;
        s.decoded += take;
        if (s.remaining == 0) s.phase = State::Phase::kDataEnd;
        return take;
      }
    }
  }
}

}  // namespace shoal::s3
