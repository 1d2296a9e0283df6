#include "s3/error.h"

namespace shoal::s3 {
namespace {

Error Make(int status, std::string code, std::string message) {
  return Error{status, std::move(code), std::move(message)};
}

}  // namespace

Error Error::AccessDenied(std::string message) { return Make(403, "AccessDenied", std::move(message)); }
Error Error::SlowDown(std::string message) { return Make(503, "SlowDown", std::move(message)); }
Error Error::BadDigest() {
  return Make(400, "BadDigest", "The Content-MD5 you specified did not match what we received.");
}
Error Error::BucketAlreadyExists() {
  return Make(409, "BucketAlreadyExists",
              "The requested bucket name is not available. The bucket namespace is shared by "
              "all users of the system. Please select a different name and try again.");
}
Error Error::BucketAlreadyOwnedByYou() {
  return Make(409, "BucketAlreadyOwnedByYou",
              "Your previous request to create the named bucket succeeded and you already own it.");
}
Error Error::BucketNotEmpty() {
  return Make(409, "BucketNotEmpty", "The bucket you tried to delete is not empty");
}
Error Error::EntityTooLarge() {
  return Make(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size");
}
Error Error::EntityTooSmall() {
  return Make(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size");
}
Error Error::IncompleteBody() {
  return Make(400, "IncompleteBody",
              "You did not provide the number of bytes specified by the Content-Length HTTP header.");
}
Error Error::InternalError(std::string message) { return Make(500, "InternalError", std::move(message)); }
Error Error::InvalidAccessKeyId() {
  return Make(403, "InvalidAccessKeyId",
              "The AWS Access Key Id you provided does not exist in our records.");
}
Error Error::InvalidArgument(std::string message) {
  return Make(400, "InvalidArgument", std::move(message));
}
Error Error::InvalidBucketName() {
  return Make(400, "InvalidBucketName", "The specified bucket is not valid.");
}
Error Error::InvalidDigest() {
  return Make(400, "InvalidDigest", "The Content-MD5 you specified is not valid.");
}
Error Error::InvalidPart() {
  return Make(400, "InvalidPart",
              "One or more of the specified parts could not be found. The part might not have "
              "been uploaded, or the specified entity tag might not have matched the part's "
              "entity tag.");
}
Error Error::InvalidPartOrder() {
  return Make(400, "InvalidPartOrder",
              "The list of parts was not in ascending order. Parts must be ordered by part number.");
}
Error Error::InvalidRange() {
  return Make(416, "InvalidRange", "The requested range is not satisfiable");
}
Error Error::InvalidRequest(std::string message) {
  return Make(400, "InvalidRequest", std::move(message));
}
Error Error::KeyTooLong() { return Make(400, "KeyTooLongError", "Your key is too long"); }
Error Error::MalformedXML() {
  return Make(400, "MalformedXML",
              "The XML you provided was not well-formed or did not validate against our "
              "published schema.");
}
Error Error::MethodNotAllowed() {
  return Make(405, "MethodNotAllowed", "The specified method is not allowed against this resource.");
}
Error Error::MissingContentLength() {
  return Make(411, "MissingContentLength", "You must provide the Content-Length HTTP header.");
}
Error Error::NoSuchBucket() { return Make(404, "NoSuchBucket", "The specified bucket does not exist"); }
Error Error::NoSuchKey() { return Make(404, "NoSuchKey", "The specified key does not exist."); }
Error Error::NoSuchUpload() {
  return Make(404, "NoSuchUpload",
              "The specified multipart upload does not exist. The upload ID might be invalid, "
              "or the multipart upload might have been aborted or completed.");
}
Error Error::NotImplemented(std::string message) {
  return Make(501, "NotImplemented", std::move(message));
}
Error Error::PreconditionFailed() {
  return Make(412, "PreconditionFailed",
              "At least one of the pre-conditions you specified did not hold");
}
Error Error::NotModified() { return Make(304, "NotModified", "Not Modified"); }
Error Error::RequestTimeTooSkewed() {
  return Make(403, "RequestTimeTooSkewed",
              "The difference between the request time and the server's time is too large.");
}
Error Error::SignatureDoesNotMatch() {
  return Make(403, "SignatureDoesNotMatch",
              "The request signature we calculated does not match the signature you provided. "
              "Check your key and signing method.");
}
Error Error::XAmzContentSHA256Mismatch() {
  return Make(400, "XAmzContentSHA256Mismatch",
              "The provided 'x-amz-content-sha256' header does not match what was computed.");
}
Error Error::AuthorizationHeaderMalformed(std::string message) {
  return Make(400, "AuthorizationHeaderMalformed", std::move(message));
}
Error Error::ExpiredToken() {
  return Make(403, "AccessDenied", "Request has expired");
}

std::string XmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string ErrorXml(const Error& e, std::string_view resource, std::string_view request_id) {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>";
  out += XmlEscape(e.code);
  out += "</Code><Message>";
  out += XmlEscape(e.message);
  out += "</Message><Resource>";
  out += XmlEscape(resource);
  out += "</Resource><RequestId>";
  out += XmlEscape(request_id);
  out += "</RequestId></Error>";
  return out;
}

}  // namespace shoal::s3
