// The S3 benchmark: a load generator of its own against the S3 API of a
// node started in this process (http::Server + s3::Service on a Store in a
// temporary directory, as `shoal serve` wires them), over loopback TCP with
// SigV4-signed requests (UNSIGNED-PAYLOAD, as SDKs send over TLS).
//
//   s3.put.4KiB      PUTs of 4 KiB objects over 16 keep-alive connections
//   s3.get.4KiB      GETs of those objects, random, over 16 connections
//   s3.put.1GiB      one 1 GiB object up, streamed (MB/s)
//   s3.get.1GiB      and down (MB/s)
//   loopback.tcp     the limit: 1 GiB through one loopback TCP connection
//   disk.write.seq   the limit: 1 GiB written to a file and fdatasynced
//
// No peer server runs here: the figures to compare with are the limits of
// this machine, measured in the same run. Every loop is bounded by a count
// and by 10 s. Flags: --only=PREFIX, --scale=F (counts and sizes times F).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "crypto/digest.h"
#include "http/server.h"
#include "log/store.h"
#include "s3/service.h"
#include "s3/sigv4.h"

namespace shoal::bench {
namespace {

constexpr double kTimeLimitSeconds = 10;
constexpr int kConnections = 16;
constexpr size_t kSmall = 4 << 10;
constexpr const char* kAccess = "SHBENCHACCESSKEY0000";
constexpr const char* kSecret = "benchsecretbenchsecretbenchsecretbenchse";

struct Counts {
  uint64_t small_ops = 40000;
  uint64_t large_bytes = uint64_t{1} << 30;
};

// One keep-alive connection that sends signed requests.
class Client {
 public:
  static Result<Client> Connect(uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd);
      return Status::IOError("connect failed");
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return Client(fd, port);
  }
  Client(Client&& o) noexcept : fd_(o.fd_), port_(o.port_), buf_(std::move(o.buf_)) { o.fd_ = -1; }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }

  // Sends method+path with a body of `length` bytes produced by `body`
  // (called with a buffer to fill until length is reached), and reads the
  // answer, passing its body to `sink`. Returns the status code.
  template <class BodyFn, class SinkFn>
  Result<int> Request(const std::string& method, const std::string& path, uint64_t length,
                      BodyFn body, SinkFn sink) {
    std::string head = Sign(method, path, length);
    SHOAL_RETURN_IF_ERROR(SendAll(head.data(), head.size()));
    static thread_local Bytes chunk(1 << 20);
    for (uint64_t sent = 0; sent < length;) {
      size_t n = std::min<uint64_t>(chunk.size(), length - sent);
      body(chunk.data(), n, sent);
      SHOAL_RETURN_IF_ERROR(SendAll(chunk.data(), n));
      sent += n;
    }
    return ReadResponse(sink);
  }

 private:
  Client(int fd, uint16_t port) : fd_(fd), port_(port) {}

  std::string Sign(const std::string& method, const std::string& path, uint64_t length) {
    // A fixed request date keeps signing cheap and the same each time; the
    // service checks it against its clock, so use the real one.
    time_t now = time(nullptr);
    struct tm tm;
    gmtime_r(&now, &tm);
    char date[20];
    strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", &tm);
    http::Headers h;
    h.Add("Host", "127.0.0.1:" + std::to_string(port_));
    h.Add("x-amz-content-sha256", "UNSIGNED-PAYLOAD");
    h.Add("x-amz-date", date);
    s3::SignatureInfo info;
    info.access_key = kAccess;
    info.date = std::string(date, 8);
    info.region = "us-east-1";
    info.service = "s3";
    info.amz_date = date;
    info.signed_headers = {"host", "x-amz-content-sha256", "x-amz-date"};
    if (info.date != key_date_) {
      key_ = s3::SigningKey(kSecret, info.date, info.region, info.service);
      key_date_ = info.date;
    }
    std::string canonical =
        s3::CanonicalRequest(method, path, {}, h, info.signed_headers, "UNSIGNED-PAYLOAD");
    std::string signature = s3::Sign(key_, s3::StringToSign(info, canonical));
    std::string out = method + " " + path + " HTTP/1.1\r\n";
    for (const auto& [k, v] : h.fields()) out += k + ": " + v + "\r\n";
    out += "Authorization: AWS4-HMAC-SHA256 Credential=" + std::string(kAccess) + "/" +
           info.Scope() + ", SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=" +
           signature + "\r\n";
    if (method == "PUT") out += "Content-Length: " + std::to_string(length) + "\r\n";
    out += "\r\n";
    return out;
  }

  Status SendAll(const uint8_t* p, size_t n) {
    while (n > 0) {
      ssize_t w = ::send(fd_, p, n, MSG_NOSIGNAL);
      if (w <= 0) return Status::IOError("send failed");
      p += w;
      n -= static_cast<size_t>(w);
    }
    return Status::OK();
  }
  Status SendAll(const char* p, size_t n) { return SendAll(reinterpret_cast<const uint8_t*>(p), n); }

  Status Fill() {
    uint8_t tmp[64 << 10];
    ssize_t r = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (r <= 0) return Status::IOError("the server closed the connection");
    buf_.append(reinterpret_cast<char*>(tmp), static_cast<size_t>(r));
    return Status::OK();
  }

  template <class SinkFn>
  Result<int> ReadResponse(SinkFn sink) {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) SHOAL_RETURN_IF_ERROR(Fill());
    std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    int status = std::atoi(head.c_str() + 9);
    uint64_t length = 0;
    size_t cl = head.find("Content-Length: ");
    if (cl != std::string::npos) length = std::strtoull(head.c_str() + cl + 16, nullptr, 10);
    while (length > 0) {
      if (buf_.empty()) SHOAL_RETURN_IF_ERROR(Fill());
      size_t n = std::min<uint64_t>(length, buf_.size());
      sink(reinterpret_cast<const uint8_t*>(buf_.data()), n);
      buf_.erase(0, n);
      length -= n;
    }
    return status;
  }

  int fd_;
  uint16_t port_;
  std::string buf_;
  FixedBytes<32> key_{};
  std::string key_date_;
};

// A node's S3 API on a fresh store, listening on a loopback port.
struct Node {
  TempDir dir;
  std::unique_ptr<log::Store> store;
  std::unique_ptr<s3::Service> service;
  std::unique_ptr<http::Server> server;

  static Result<std::unique_ptr<Node>> Start() {
    SHOAL_ASSIGN_OR_RETURN(TempDir dir, TempDir::Create());
    auto n = std::unique_ptr<Node>(new Node{std::move(dir), nullptr, nullptr, nullptr});
    log::StoreOptions o;
    SHOAL_ASSIGN_OR_RETURN(n->store, log::Store::Open(n->dir.path() + "/db", o));
    SHOAL_ASSIGN_OR_RETURN(n->service, s3::Service::Open(*n->store, [](std::string_view key) {
      return key == kAccess ? std::optional<s3::User>(s3::User{"bench", kAccess, kSecret})
                            : std::nullopt;
    }));
    s3::Service* svc = n->service.get();
    SHOAL_ASSIGN_OR_RETURN(n->server, http::Server::Start({}, [svc](http::Request& r, http::ResponseWriter& w) {
      svc->Handle(r, w);
    }));
    return n;
  }
  ~Node() {
    if (server) server->Stop();
  }
};

Status MakeBucket(uint16_t port, const std::string& bucket) {
  SHOAL_ASSIGN_OR_RETURN(Client c, Client::Connect(port));
  SHOAL_ASSIGN_OR_RETURN(int status, c.Request("PUT", "/" + bucket, 0, [](uint8_t*, size_t, uint64_t) {},
                                                [](const uint8_t*, size_t) {}));
  if (status != 200) return Status::IOError("create bucket: HTTP " + std::to_string(status));
  return Status::OK();
}

// Runs `op(client, i)` for i in [0, total) over kConnections connections,
// until done or 10 s; returns operations per second.
template <class Op>
Result<double> Parallel(uint16_t port, uint64_t total, Op op) {
  std::atomic<uint64_t> next{0}, done{0};
  std::atomic<bool> failed{false};
  std::string error;
  std::mutex error_mu;
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kConnections; t++) {
    threads.emplace_back([&] {
      auto c = Client::Connect(port);
      if (!c.ok()) {
        failed = true;
        return;
      }
      for (;;) {
        uint64_t i = next++;
        if (i >= total || SecondsSince(start) > kTimeLimitSeconds || failed) break;
        Status s = op(*c, i);
        if (!s.ok()) {
          std::lock_guard lock(error_mu);
          error = s.ToString();
          failed = true;
          break;
        }
        done++;
      }
    });
  }
  for (auto& t : threads) t.join();
  if (failed) return Status::IOError("a request failed: " + error);
  return done / SecondsSince(start);
}

std::string SmallKey(uint64_t i) { return "/bench/small/" + std::to_string(i); }

void Fill(uint8_t* p, size_t n, uint64_t offset) {
  for (size_t i = 0; i < n; i++) p[i] = static_cast<uint8_t>((offset + i) * 131 + 7);
}

Result<double> LoopbackTcp(uint64_t bytes) {
  int ls = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(ls, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(ls, 1) != 0 ||
      ::getsockname(ls, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(ls);
    return Status::IOError("loopback listen failed");
  }
  std::thread reader([ls] {
    int fd = ::accept(ls, nullptr, nullptr);
    std::vector<uint8_t> buf(1 << 20);
    while (::recv(fd, buf.data(), buf.size(), 0) > 0) {
    }
    ::close(fd);
  });
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  Status s;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) s = Status::IOError("connect");
  std::vector<uint8_t> buf(1 << 20, 1);
  const auto start = Clock::now();
  uint64_t sent = 0;
  while (s.ok() && sent < bytes && SecondsSince(start) < kTimeLimitSeconds) {
    ssize_t w = ::send(fd, buf.data(), std::min<uint64_t>(buf.size(), bytes - sent), MSG_NOSIGNAL);
    if (w <= 0) s = Status::IOError("send");
    else sent += static_cast<uint64_t>(w);
  }
  ::shutdown(fd, SHUT_WR);
  reader.join();
  const double seconds = SecondsSince(start);
  ::close(fd);
  ::close(ls);
  SHOAL_RETURN_IF_ERROR(s);
  return sent / seconds / 1e6;
}

Result<double> DiskWrite(uint64_t bytes) {
  SHOAL_ASSIGN_OR_RETURN(TempDir dir, TempDir::Create());
  const std::string path = dir.path() + "/disk";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return Status::IOError("open " + path);
  std::vector<uint8_t> buf(1 << 20, 3);
  const auto start = Clock::now();
  uint64_t done = 0;
  Status s;
  while (done < bytes && SecondsSince(start) < kTimeLimitSeconds) {
    if (::write(fd, buf.data(), buf.size()) != static_cast<ssize_t>(buf.size())) {
      s = Status::IOError("write");
      break;
    }
    done += buf.size();
  }
  if (s.ok() && ::fdatasync(fd) != 0) s = Status::IOError("fdatasync");
  const double seconds = SecondsSince(start);
  ::close(fd);
  SHOAL_RETURN_IF_ERROR(s);
  return done / seconds / 1e6;
}

void Print(const char* bench, const char* unit, double shoal, std::optional<double> limit) {
  if (limit) {
    std::printf("{\"bench\":\"%s\",\"unit\":\"%s\",\"shoal\":%.1f,\"peer\":null,\"limit\":%.1f}\n",
                bench, unit, shoal, *limit);
  } else {
    std::printf("{\"bench\":\"%s\",\"unit\":\"%s\",\"shoal\":%.1f,\"peer\":null}\n", bench, unit, shoal);
  }
  std::fflush(stdout);
}

int Run(int argc, char** argv) {
  auto args = ParseArgs(argc, argv, "s3_bench");
  if (!args) return 2;
  const double scale = args->scale;
  Counts c;
  c.small_ops = std::max<uint64_t>(100, static_cast<uint64_t>(c.small_ops * scale));
  c.large_bytes = std::max<uint64_t>(1 << 20, static_cast<uint64_t>(c.large_bytes * scale)) & ~uint64_t{(1 << 20) - 1};
  auto wanted = [&](std::string_view name) { return args->Wants(name); };
  auto fail = [](const char* what, const Status& s) {
    std::fprintf(stderr, "s3_bench: %s: %s\n", what, s.ToString().c_str());
    return 1;
  };

  std::optional<double> loopback, disk;
  if (wanted("loopback.tcp") || wanted("s3.put.1GiB") || wanted("s3.get.1GiB")) {
    auto r = LoopbackTcp(c.large_bytes);
    if (!r.ok()) return fail("loopback.tcp", r.status());
    loopback = *r;
    std::printf("{\"bench\":\"loopback.tcp\",\"unit\":\"MB/s\",\"shoal\":null,\"peer\":null,\"limit\":%.1f}\n", *r);
  }
  if (wanted("disk.write.seq") || wanted("s3.put.1GiB")) {
    auto r = DiskWrite(c.large_bytes);
    if (!r.ok()) return fail("disk.write.seq", r.status());
    disk = *r;
    std::printf("{\"bench\":\"disk.write.seq\",\"unit\":\"MB/s\",\"shoal\":null,\"peer\":null,\"limit\":%.1f}\n", *r);
  }
  std::fflush(stdout);

  if (!wanted("s3.put.4KiB") && !wanted("s3.get.4KiB") && !wanted("s3.put.1GiB") &&
      !wanted("s3.get.1GiB")) {
    return 0;
  }
  auto node = Node::Start();
  if (!node.ok()) return fail("starting the node", node.status());
  const uint16_t port = (*node)->server->port();
  if (Status s = MakeBucket(port, "bench"); !s.ok()) return fail("bucket", s);

  uint64_t stored = 0;
  if (wanted("s3.put.4KiB") || wanted("s3.get.4KiB")) {
    std::atomic<uint64_t> ok{0};
    auto r = Parallel(port, c.small_ops, [&](Client& cl, uint64_t i) -> Status {
      SHOAL_ASSIGN_OR_RETURN(int status, cl.Request("PUT", SmallKey(i), kSmall,
                                                    [i](uint8_t* p, size_t n, uint64_t off) { Fill(p, n, off + i); },
                                                    [](const uint8_t*, size_t) {}));
      if (status != 200) return Status::IOError("PUT: HTTP " + std::to_string(status));
      ok++;
      return Status::OK();
    });
    if (!r.ok()) return fail("s3.put.4KiB", r.status());
    stored = ok.load();
    if (wanted("s3.put.4KiB")) Print("s3.put.4KiB", "ops/s", *r, std::nullopt);
  }
  if (wanted("s3.get.4KiB")) {
    // Which keys were written: the first `stored` numbers were handed out,
    // but 16 threads may stop with gaps; GET only those that answer 200.
    std::atomic<uint64_t> bad{0};
    auto r = Parallel(port, c.small_ops, [&](Client& cl, uint64_t i) -> Status {
      uint64_t k = (i * 2654435761u) % stored;
      uint64_t got = 0;
      SHOAL_ASSIGN_OR_RETURN(int status, cl.Request("GET", SmallKey(k), 0, [](uint8_t*, size_t, uint64_t) {},
                                                    [&got](const uint8_t*, size_t n) { got += n; }));
      if (status != 200 || got != kSmall) bad++;
      return Status::OK();
    });
    if (!r.ok()) return fail("s3.get.4KiB", r.status());
    if (bad > stored / 100 + 16) return fail("s3.get.4KiB", Status::Corruption("GETs missed their objects"));
    Print("s3.get.4KiB", "ops/s", *r, std::nullopt);
  }
  if (wanted("s3.put.1GiB") || wanted("s3.get.1GiB")) {
    auto cl = Client::Connect(port);
    if (!cl.ok()) return fail("s3.put.1GiB", cl.status());
    auto start = Clock::now();
    auto status = cl->Request("PUT", "/bench/large", c.large_bytes, Fill, [](const uint8_t*, size_t) {});
    const double up = c.large_bytes / SecondsSince(start) / 1e6;
    if (!status.ok() || *status != 200) return fail("s3.put.1GiB", status.ok() ? Status::IOError("HTTP") : status.status());
    if (wanted("s3.put.1GiB")) Print("s3.put.1GiB", "MB/s", up, std::min(*loopback, *disk));
    if (wanted("s3.get.1GiB")) {
      // Spot-checks that the bytes come back as written: the first byte of
      // every piece received.
      uint64_t got = 0;
      bool same = true;
      start = Clock::now();
      auto gs = cl->Request("GET", "/bench/large", 0, [](uint8_t*, size_t, uint64_t) {},
                            [&](const uint8_t* p, size_t n) {
                              if (same && n > 0) {
                                uint8_t e0 = static_cast<uint8_t>(got * 131 + 7);
                                same = p[0] == e0;
                              }
                              got += n;
                            });
      const double down = got / SecondsSince(start) / 1e6;
      if (!gs.ok() || *gs != 200 || got != c.large_bytes || !same) {
        return fail("s3.get.1GiB", gs.ok() ? Status::Corruption("the object came back different") : gs.status());
      }
      Print("s3.get.1GiB", "MB/s", down, *loopback);
    }
  }
  return 0;
}

}  // namespace
}  // namespace shoal::bench

int main(int argc, char** argv) { return shoal::bench::Run(argc, argv); }
