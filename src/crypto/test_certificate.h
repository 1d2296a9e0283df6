// For tests only: a self-signed P-256 certificate and its private key,
// written as PEM files in a fresh temporary folder that goes with the
// object.
//
//   TestCertificate c;  // names 127.0.0.1
//   auto ctx = TlsContext::ForServer(c.cert_file(), c.key_file());
//   auto client = TlsContext::ForClient(c.cert_file());  // trusts it
#pragma once

#include <filesystem>
#include <string>

namespace shoal::crypto {

class TestCertificate {
 public:
  // A certificate for the IP address `ip` (its subjectAltName), valid from a
  // minute ago for an hour.
  explicit TestCertificate(const std::string& ip = "127.0.0.1");
  ~TestCertificate();
  TestCertificate(const TestCertificate&) = delete;
  TestCertificate& operator=(const TestCertificate&) = delete;

  std::string cert_file() const { return (dir_ / "cert.pem").string(); }
  std::string key_file() const { return (dir_ / "key.pem").string(); }

 private:
  std::filesystem::path dir_;
};

}  // namespace shoal::crypto
