#include "http/server.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <utility>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace shoal::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

// ---- Headers ----

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x += 'a' - 'A';
    if (y >= 'A' && y <= 'Z') y += 'a' - 'A';
    if (x != y) return false;
  }
  return true;
}

void Headers::Add(std::string name, std::string value) {
  fields_.emplace_back(std::move(name), std::move(value));
}

void Headers::Set(std::string name, std::string value) {
  Remove(name);
  Add(std::move(name), std::move(value));
}

void Headers::Remove(std::string_view name) {
  std::erase_if(fields_, [&](const auto& f) { return EqualsIgnoreCase(f.first, name); });
}

const std::string* Headers::Find(std::string_view name) const {
  for (const auto& f : fields_) {
    if (EqualsIgnoreCase(f.first, name)) return &f.second;
  }
  return nullptr;
}

std::string Headers::Get(std::string_view name) const {
  const std::string* v = Find(name);
  return v ? *v : std::string();
}

namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The current time as an HTTP date (RFC 9110 §5.6.7), for the Date header.
std::string HttpDate() {
  time_t now = time(nullptr);
  struct tm tm;
  gmtime_r(&now, &tm);
  char buf[40];
  strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

// What a connection's thread is doing, for the reaper.
// kTaken: a handler took the connection over; the server no longer touches
// its socket (the reaper and Stop leave it alone).
enum class Phase { kIdle, kHeader, kIo, kHandler, kTaken };

}  // namespace

struct Server::Impl {
  struct Conn {
    int fd = -1;
    std::atomic<Phase> phase{Phase::kIdle};
    std::atomic<int64_t> since_ms{0};  // when the current phase (or progress) began
    std::atomic<bool> done{false};
    std::thread thread;
  };

  ServerOptions options;
  Handler handler;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  uint16_t port = 0;
  std::string address;
  std::thread accept_thread;
  std::thread reaper_thread;

  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  uint64_t next_conn = 1;
  std::map<uint64_t, std::unique_ptr<Conn>> conns;

  uint32_t id_prefix = 0;
  std::atomic<uint64_t> next_request{1};

  std::string NewRequestId() {
    char buf[24];
    std::snprintf(buf, sizeof(buf), "%08X%08llX", id_prefix,
                  static_cast<unsigned long long>(next_request++));
    return buf;
  }

  void AcceptLoop();
  void ReaperLoop();
  void Serve(tcp::socket& sock, Conn& conn);
  // Joins the threads of finished connections. Called with mu held.
  void JoinFinishedLocked();
};

namespace {

void Touch(std::atomic<Phase>& phase, std::atomic<int64_t>& since, Phase p) {
  since.store(NowMs());
  phase.store(p);
}

// A connection's bytes as Beast reads and writes them (a SyncReadStream and
// SyncWriteStream): the socket's own, or the application data of TLS over
// it. Under TLS, a read runs the handshake as records come, and every write
// is encrypted and written whole before it returns. A TLS failure (a bad
// handshake, a forged record) reads as connection_reset, once the alert for
// the peer has been written.
class Stream {
 public:
  Stream(tcp::socket& sock, std::unique_ptr<crypto::Tls> tls)
      : sock_(sock), tls_(std::move(tls)) {}

  tcp::socket& socket() { return sock_; }
  // Application data decrypted but not read yet.
  bool has_buffered() const { return pos_ < plain_.size(); }

  template <class MutableBuffers>
  size_t read_some(const MutableBuffers& buffers, beast::error_code& ec) {
    if (!tls_) return sock_.read_some(buffers, ec);
    ec = {};
    while (!has_buffered()) {
      if (tls_->peer_closed()) {
        ec = asio::error::eof;
        return 0;
      }
      uint8_t cipher[16 << 10];
      size_t n = sock_.read_some(asio::buffer(cipher), ec);
      if (ec) return 0;
      plain_.clear();
      pos_ = 0;
      Status st = tls_->Receive(ByteView(cipher, n), &plain_);
      if (!Flush(ec)) return 0;
      if (!st.ok()) {
        ec = asio::error::connection_reset;
        return 0;
      }
    }
    size_t n = asio::buffer_copy(buffers, asio::buffer(plain_.data() + pos_, plain_.size() - pos_));
    pos_ += n;
    return n;
  }

  template <class ConstBuffers>
  size_t write_some(const ConstBuffers& buffers, beast::error_code& ec) {
    if (!tls_) return sock_.write_some(buffers, ec);
    ec = {};
    size_t total = 0;
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers);
         ++it) {
      asio::const_buffer b = *it;
      if (!tls_->Send(ByteView(static_cast<const uint8_t*>(b.data()), b.size())).ok()) {
        ec = asio::error::connection_reset;
        return 0;
      }
      total += b.size();
    }
    return Flush(ec) ? total : 0;
  }

  // The throwing forms the stream concepts ask for; the server uses the
  // ones above.
  template <class MutableBuffers>
  size_t read_some(const MutableBuffers& buffers) {
    beast::error_code ec;
    size_t n = read_some(buffers, ec);
    if (ec) throw beast::system_error(ec);
    return n;
  }
  template <class ConstBuffers>
  size_t write_some(const ConstBuffers& buffers) {
    beast::error_code ec;
    size_t n = write_some(buffers, ec);
    if (ec) throw beast::system_error(ec);
    return n;
  }

  // Ends TLS with close_notify (best effort); nothing for plain TCP.
  void Close() {
    if (!tls_) return;
    tls_->Shutdown();
    beast::error_code ec;
    Flush(ec);
  }

  // For a connection taken over: its TLS, and the application data not
  // read yet, appended to `*rest`.
  std::unique_ptr<crypto::Tls> Release(Bytes* rest) {
    rest->insert(rest->end(), plain_.begin() + static_cast<ptrdiff_t>(pos_), plain_.end());
    plain_.clear();
    pos_ = 0;
    return std::move(tls_);
  }

 private:
  // Writes what TLS has for the peer. False (and `ec` set) if that fails.
  bool Flush(beast::error_code& ec) {
    if (!tls_->has_output()) return true;
    Bytes out = tls_->TakeOutput();
    asio::write(sock_, asio::buffer(out), ec);
    return !ec;
  }

  tcp::socket& sock_;
  std::unique_ptr<crypto::Tls> tls_;
  Bytes plain_;     // decrypted application data
  size_t pos_ = 0;  // how much of plain_ was read
};

class BodyReaderImpl final : public BodyReader {
 public:
  BodyReaderImpl(Stream& stream, beast::flat_buffer& buf,
                 bhttp::request_parser<bhttp::buffer_body>& parser, std::atomic<Phase>& phase,
                 std::atomic<int64_t>& since, bool expect_continue)
      : stream_(stream), buf_(buf), parser_(parser), phase_(phase), since_(since),
        expect_continue_(expect_continue) {
    // A body of known length is read straight from the socket into the
    // handler's buffer, as much as it asks for at a time: no parser, no copy
    // through Beast's buffer, far fewer system calls for a big upload.
    if (!parser_.is_done() && !parser_.chunked() && parser_.content_length()) {
      direct_ = true;
      remaining_ = *parser_.content_length();
    }
  }

  // The whole body has been read.
  bool done() const { return direct_ ? remaining_ == 0 : parser_.is_done(); }

  Result<size_t> Read(uint8_t* out, size_t n) override {
    if (failed_) return Status::IOError("the request body was already lost");
    if (n == 0) return size_t{0};
    // Sent even before an empty body: a client that waits for it (botocore)
    // otherwise takes the final answer for the 100 and misreads the next
    // response on the connection.
    if (expect_continue_ && !continued_) {
      static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
      beast::error_code ec;
      Touch(phase_, since_, Phase::kIo);
      asio::write(stream_, asio::buffer(kContinue, sizeof(kContinue) - 1), ec);
      phase_.store(Phase::kHandler);
      if (ec) return Fail("sending 100 Continue: " + ec.message());
      continued_ = true;
    }
    if (direct_) {
      if (remaining_ == 0) return size_t{0};
      size_t want = static_cast<size_t>(std::min<uint64_t>(n, remaining_));
      size_t got = 0;
      if (buf_.size() > 0) {
        // Bytes that came with the header.
        got = asio::buffer_copy(asio::buffer(out, want), buf_.data());
        buf_.consume(got);
      } else {
        beast::error_code ec;
        Touch(phase_, since_, Phase::kIo);
        got = stream_.read_some(asio::buffer(out, want), ec);
        phase_.store(Phase::kHandler);
        if (ec == asio::error::eof) return Fail("the client closed the connection mid-body");
        if (ec) return Fail("reading the request body: " + ec.message());
      }
      remaining_ -= got;
      return got;
    }
    while (!parser_.is_done()) {
      parser_.get().body().data = out;
      parser_.get().body().size = n;
      beast::error_code ec;
      Touch(phase_, since_, Phase::kIo);
      bhttp::read_some(stream_, buf_, parser_, ec);
      phase_.store(Phase::kHandler);
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) return Fail("reading the request body: " + ec.message());
      size_t got = n - parser_.get().body().size;
      if (got > 0) return got;
    }
    return size_t{0};
  }

  bool continued() const { return continued_; }
  bool failed() const { return failed_; }

 private:
  Status Fail(const std::string& what) {
    failed_ = true;
    return Status::IOError(what);
  }

  Stream& stream_;
  beast::flat_buffer& buf_;
  bhttp::request_parser<bhttp::buffer_body>& parser_;
  std::atomic<Phase>& phase_;
  std::atomic<int64_t>& since_;
  const bool expect_continue_;
  bool continued_ = false;
  bool failed_ = false;
  bool direct_ = false;
  uint64_t remaining_ = 0;  // direct: body bytes not read yet
};

class ResponseWriterImpl final : public ResponseWriter {
 public:
  ResponseWriterImpl(Stream& stream, beast::flat_buffer& buf, std::atomic<Phase>& phase,
                     std::atomic<int64_t>& since, bool head, bool keep_alive,
                     const std::string& server, const std::string& request_id)
      : stream_(stream), buf_(buf), phase_(phase), since_(since), head_(head),
        keep_alive_(keep_alive), server_(server), request_id_(request_id) {}

  Status Send(int status, const Headers& headers, std::string_view body) override {
    if (started_) return Status::InvalidArgument("the response was already started");
    started_ = true;
    status_ = status;
    beast::error_code ec;
    Touch(phase_, since_, Phase::kIo);
    if (head_) {
      bhttp::response<bhttp::empty_body> res{static_cast<bhttp::status>(status), 11};
      Fill(res, headers);
      if (!headers.Find("content-length") && HasBody(status)) res.content_length(body.size());
      bhttp::write(stream_, res, ec);
    } else {
      bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(status), 11};
      Fill(res, headers);
      res.body().assign(body.data(), body.size());
      if (HasBody(status)) res.content_length(body.size());
      bhttp::write(stream_, res, ec);
    }
    phase_.store(Phase::kHandler);
    complete_ = !ec;
    if (ec) return Fail("writing the response: " + ec.message());
    return Status::OK();
  }

  Status Begin(int status, const Headers& headers, uint64_t length) override {
    if (started_) return Status::InvalidArgument("the response was already started");
    started_ = true;
    length_ = length;
    beast::error_code ec;
    Touch(phase_, since_, Phase::kIo);
    if (head_ || length == 0) {
      bhttp::response<bhttp::empty_body> res{static_cast<bhttp::status>(status), 11};
      Fill(res, headers);
      res.content_length(length);
      bhttp::write(stream_, res, ec);
      complete_ = !ec;
    } else {
      res_ = std::make_unique<bhttp::response<bhttp::buffer_body>>(
          static_cast<bhttp::status>(status), 11);
      Fill(*res_, headers);
      res_->content_length(length);
      res_->body().data = nullptr;
      res_->body().more = true;
      sr_ = std::make_unique<bhttp::response_serializer<bhttp::buffer_body>>(*res_);
      bhttp::write_header(stream_, *sr_, ec);
    }
    phase_.store(Phase::kHandler);
    if (ec) return Fail("writing the response header: " + ec.message());
    return Status::OK();
  }

  Status Write(ByteView data) override {
    if (!started_ || failed_) return Status::IOError("the response is not being written");
    if (head_) return Status::OK();
    if (data.size() > length_ - written_) {
      return Status::InvalidArgument("more response bytes than the length announced");
    }
    if (data.empty() || !sr_) return Status::OK();
    beast::error_code ec;
    Touch(phase_, since_, Phase::kIo);
    res_->body().data = const_cast<uint8_t*>(data.data());
    res_->body().size = data.size();
    res_->body().more = true;
    bhttp::write(stream_, *sr_, ec);
    if (ec == bhttp::error::need_buffer) ec = {};
    if (!ec) {
      written_ += data.size();
      if (written_ == length_) {
        res_->body().data = nullptr;
        res_->body().size = 0;
        res_->body().more = false;
        bhttp::write(stream_, *sr_, ec);
        complete_ = !ec;
      }
    }
    phase_.store(Phase::kHandler);
    if (ec) return Fail("writing the response body: " + ec.message());
    return Status::OK();
  }

  bool started() const override { return started_; }
  // The whole response went out, so the connection may carry another.
  bool complete() const { return complete_; }

  Result<TakenConnection> TakeOver() override {
    if (status_ != 101 || !complete_ || taken_) {
      return Status::InvalidArgument("only a connection switched with 101 can be taken over");
    }
    // A duplicate descriptor: the server closes its own, which leaves the
    // socket open through this one.
    int fd = ::fcntl(stream_.socket().native_handle(), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return Status::IOError(std::string("taking the connection over: ") + std::strerror(errno));
    TakenConnection taken;
    taken.fd = fd;
    auto data = buf_.data();
    const auto* p = static_cast<const uint8_t*>(data.data());
    taken.received.assign(p, p + data.size());
    buf_.consume(buf_.size());
    taken.tls = stream_.Release(&taken.received);
    taken_ = true;
    // Before the taker can use it: from here a Stop must not shut it down.
    phase_.store(Phase::kTaken);
    return taken;
  }
  bool taken() const { return taken_; }

 private:
  static bool HasBody(int status) { return status >= 200 && status != 204 && status != 304; }

  template <class Res>
  void Fill(Res& res, const Headers& headers) {
    for (const auto& [name, value] : headers.fields()) res.insert(name, value);
    if (!headers.Find("server")) res.set(bhttp::field::server, server_);
    if (!headers.Find("date")) res.set(bhttp::field::date, HttpDate());
    res.set("x-request-id", request_id_);
    res.keep_alive(keep_alive_);
  }

  Status Fail(const std::string& what) {
    failed_ = true;
    return Status::IOError(what);
  }

  Stream& stream_;
  beast::flat_buffer& buf_;
  std::atomic<Phase>& phase_;
  std::atomic<int64_t>& since_;
  const bool head_;
  const bool keep_alive_;
  const std::string& server_;
  const std::string& request_id_;
  bool started_ = false;
  bool complete_ = false;
  bool failed_ = false;
  bool taken_ = false;
  int status_ = 0;
  uint64_t length_ = 0;
  uint64_t written_ = 0;
  std::unique_ptr<bhttp::response<bhttp::buffer_body>> res_;
  std::unique_ptr<bhttp::response_serializer<bhttp::buffer_body>> sr_;
};

// A plain error response for requests that never reach the handler.
void SendPlain(Stream& stream, int status, const std::string& server, const std::string& id) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(status), 11};
  res.set(bhttp::field::server, server);
  res.set("x-request-id", id);
  res.set(bhttp::field::content_type, "text/plain");
  res.body() = std::string(bhttp::obsolete_reason(static_cast<bhttp::status>(status))) + "\n";
  res.keep_alive(false);
  res.prepare_payload();
  beast::error_code ec;
  bhttp::write(stream, res, ec);
}

}  // namespace

void Server::Impl::Serve(tcp::socket& sock, Conn& conn) {
  beast::error_code ec;
  sock.set_option(tcp::no_delay(true), ec);  // small answers must not wait 40 ms
  std::unique_ptr<crypto::Tls> tls;
  if (options.tls) {
    auto made = crypto::Tls::Make(*options.tls);
    if (!made.ok()) {
      std::lock_guard lock(mu);
      sock.close(ec);
      conn.done.store(true);
      return;
    }
    tls = std::move(*made);
  }
  Stream stream(sock, std::move(tls));
  std::string remote;
  {
    auto ep = sock.remote_endpoint(ec);
    if (!ec) {
      const std::string a = ep.address().to_string();
      remote = (ep.address().is_v6() ? "[" + a + "]" : a) + ":" + std::to_string(ep.port());
    }
  }
  beast::flat_buffer buf;
  bool taken = false;  // a handler took the connection over
  for (;;) {
    bhttp::request_parser<bhttp::buffer_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
    parser.body_limit((std::numeric_limits<std::uint64_t>::max)());
    Touch(conn.phase, conn.since_ms, buf.size() > 0 ? Phase::kHeader : Phase::kIdle);
    // The header timeout runs from the first byte of the request.
    if (buf.size() == 0 && !stream.has_buffered()) {
      sock.wait(tcp::socket::wait_read, ec);
      if (ec) break;
      Touch(conn.phase, conn.since_ms, Phase::kHeader);
    }
    bhttp::read_header(stream, buf, parser, ec);
    conn.phase.store(Phase::kHandler);
    if (ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::connection_reset) {
      break;
    }
    if (ec) {
      const std::string id = NewRequestId();
      if (ec == bhttp::error::header_limit) {
        SendPlain(stream, 431, options.server_name, id);
      } else if (ec != asio::error::operation_aborted && ec != asio::error::bad_descriptor &&
                 ec != asio::error::shut_down) {
        SendPlain(stream, 400, options.server_name, id);
      }
      break;
    }
    auto& msg = parser.get();
    Request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    size_t q = req.target.find('?');
    req.path = req.target.substr(0, q);
    if (q != std::string::npos) req.query = req.target.substr(q + 1);
    for (const auto& f : msg) {
      req.headers.Add(std::string(f.name_string()), std::string(f.value()));
    }
    if (parser.content_length()) req.content_length = *parser.content_length();
    req.chunked = parser.chunked();
    req.id = NewRequestId();
    req.remote = remote;
    const auto expect = msg[bhttp::field::expect];
    const bool expect_continue =
        EqualsIgnoreCase(std::string_view(expect.data(), expect.size()), "100-continue");
    const bool keep_alive = msg.keep_alive();
    BodyReaderImpl body(stream, buf, parser, conn.phase, conn.since_ms, expect_continue);
    req.body = &body;
    ResponseWriterImpl writer(stream, buf, conn.phase, conn.since_ms, req.method == "HEAD",
                              keep_alive, options.server_name, req.id);
    handler(req, writer);
    if (writer.taken()) {
      taken = true;
      break;
    }
    if (!writer.started()) {
      Headers h;
      h.Add("Content-Type", "text/plain");
      (void)writer.Send(500, h, "the handler sent no response\n");
    }
    if (!writer.complete() || !keep_alive || body.failed()) break;
    // A client that waited for 100 Continue and got a final answer instead
    // may still send the body, or keep state about the refusal: the
    // connection closes (as S3 does).
    if (expect_continue && !body.continued()) break;
    if (!body.done()) {
      // The handler answered without reading the whole body, which the
      // client sends anyway: read and dropped if small, else the connection
      // closes.
      uint64_t drained = 0;
      uint8_t scratch[16 << 10];
      while (!body.done() && drained < (1 << 20)) {
        auto n = body.Read(scratch, sizeof(scratch));
        if (!n.ok() || *n == 0) break;
        drained += *n;
      }
      if (!body.done()) break;
    }
  }
  // A taken connection lives on through the taker's descriptor: shutting
  // the socket down would end it there too.
  if (!taken) {
    stream.Close();
    sock.shutdown(tcp::socket::shutdown_both, ec);
  }
  // Closed under the lock, with `done` set at once, so that the reaper and
  // Stop never shut down a descriptor number that a new socket has reused.
  std::lock_guard lock(mu);
  sock.close(ec);
  conn.done.store(true);
}

void Server::Impl::JoinFinishedLocked() {
  for (auto it = conns.begin(); it != conns.end();) {
    if (it->second->done.load()) {
      if (it->second->thread.joinable()) it->second->thread.join();
      it = conns.erase(it);
    } else {
      ++it;
    }
  }
}

void Server::Impl::AcceptLoop() {
  for (;;) {
    tcp::socket sock(ioc);
    beast::error_code ec;
    acceptor.accept(sock, ec);
    std::lock_guard lock(mu);
    if (stopping) break;
    if (ec) {
      // Out of descriptors and the like: back off a little, keep serving.
      if (ec != asio::error::connection_aborted) {
        mu.unlock();
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        mu.lock();
      }
      continue;
    }
    JoinFinishedLocked();
    if (conns.size() >= options.max_connections) {
      sock.close(ec);
      continue;
    }
    auto conn = std::make_unique<Conn>();
    conn->fd = sock.native_handle();
    conn->since_ms.store(NowMs());
    Conn* c = conn.get();
    conns.emplace(next_conn++, std::move(conn));
    c->thread = std::thread([this, c, s = std::move(sock)]() mutable { Serve(s, *c); });
  }
}

void Server::Impl::ReaperLoop() {
  std::unique_lock lock(mu);
  while (!stopping) {
    cv.wait_for(lock, std::chrono::milliseconds(250));
    if (stopping) break;
    const int64_t now = NowMs();
    for (auto& [id, c] : conns) {
      if (c->done.load()) continue;
      int64_t limit_ms;
      switch (c->phase.load()) {
        case Phase::kHeader: limit_ms = options.header_timeout_seconds * 1000LL; break;
        case Phase::kIdle:
        case Phase::kIo: limit_ms = options.idle_timeout_seconds * 1000LL; break;
        default: continue;  // the handler is working
      }
      if (now - c->since_ms.load() > limit_ms) ::shutdown(c->fd, SHUT_RDWR);
    }
    JoinFinishedLocked();
  }
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Stop(); }

Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& options, Handler handler) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->handler = std::move(handler);
  impl->id_prefix = std::random_device{}();
  beast::error_code ec;
  auto address = asio::ip::make_address(options.host, ec);
  if (ec) return Status::InvalidArgument("not an IP address: " + options.host);
  tcp::endpoint ep(address, options.port);
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::IOError("cannot listen on " + options.host + ":" +
                           std::to_string(options.port) + ": " + ec.message());
  }
  impl->port = impl->acceptor.local_endpoint().port();
  impl->address = (address.is_v6() ? "[" + options.host + "]" : options.host) + ":" +
                  std::to_string(impl->port);
  Impl* p = impl.get();
  impl->accept_thread = std::thread([p] { p->AcceptLoop(); });
  impl->reaper_thread = std::thread([p] { p->ReaperLoop(); });
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

uint16_t Server::port() const { return impl_->port; }
std::string Server::address() const { return impl_->address; }

void Server::Stop() {
  if (!impl_) return;
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping) return;
    impl_->stopping = true;
    // Wakes the blocked accept; closing from another thread is not safe.
    ::shutdown(impl_->acceptor.native_handle(), SHUT_RDWR);
    for (auto& [id, c] : impl_->conns) {
      if (!c->done.load() && c->phase.load() != Phase::kTaken) ::shutdown(c->fd, SHUT_RDWR);
    }
  }
  impl_->cv.notify_all();
  if (impl_->accept_thread.joinable()) impl_->accept_thread.join();
  if (impl_->reaper_thread.joinable()) impl_->reaper_thread.join();
  std::map<uint64_t, std::unique_ptr<Impl::Conn>> conns;
  {
    std::lock_guard lock(impl_->mu);
    conns.swap(impl_->conns);
  }
  for (auto& [id, c] : conns) {
    if (c->thread.joinable()) c->thread.join();
  }
  beast::error_code ec;
  impl_->acceptor.close(ec);
}

}  // namespace shoal::http
