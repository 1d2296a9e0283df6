// S3 errors: the code, HTTP status and message S3 answers with, and the XML
// document that carries them.
// https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
#pragma once

#include <string>
#include <string_view>

namespace shoal::s3 {

struct Error {
  int status = 500;
  std::string code = "InternalError";
  std::string message = "We encountered an internal error. Please try again.";

  // The common ones, with S3's status and message.
  static Error AccessDenied(std::string message = "Access Denied");
  static Error BadDigest();
  static Error BucketAlreadyExists();
  static Error BucketAlreadyOwnedByYou();
  static Error BucketNotEmpty();
  static Error EntityTooLarge();
  static Error EntityTooSmall();
  static Error IncompleteBody();
  static Error InternalError(std::string message = "We encountered an internal error. Please try again.");
  static Error InvalidAccessKeyId();
  static Error InvalidArgument(std::string message);
  static Error InvalidBucketName();
  static Error InvalidDigest();
  static Error InvalidPart();
  static Error InvalidPartOrder();
  static Error InvalidRange();
  static Error InvalidRequest(std::string message);
  static Error KeyTooLong();
  static Error MalformedXML();
  static Error MethodNotAllowed();
  static Error MissingContentLength();
  static Error NoSuchBucket();
  static Error NoSuchKey();
  static Error NoSuchUpload();
  static Error NotImplemented(std::string message = "A header you provided implies functionality that is not implemented.");
  static Error PreconditionFailed();
  static Error NotModified();
  static Error RequestTimeTooSkewed();
  static Error SignatureDoesNotMatch();
  static Error SlowDown(std::string message);
  static Error XAmzContentSHA256Mismatch();
  static Error AuthorizationHeaderMalformed(std::string message);
  static Error ExpiredToken();
};

// <Error><Code>…</Code><Message>…</Message><Resource>…</Resource>
// <RequestId>…</RequestId></Error>
std::string ErrorXml(const Error& e, std::string_view resource, std::string_view request_id);

// Escapes &, <, >, " and ' for XML text and attributes.
std::string XmlEscape(std::string_view s);

}  // namespace shoal::s3
