#include "mqtt/server.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <utility>  // before Asio: Boost 1.74 with g++ 12 needs it
#include <boost/asio.hpp>

#include <array>
#include <future>
#include <thread>
#include <vector>

#include "http/websocket.h"

namespace shoal::mqtt {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr size_t kReadBytes = 64 << 10;
// Every connection reads into the one buffer of the broker's thread, so an
// idle connection holds no read buffer of its own.
using ReadBuffer = std::array<uint8_t, kReadBytes>;

// As many open files as the hard limit allows: the default soft limit of
// 1,024 would cap clients near a thousand without saying so.
void RaiseFileLimit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

}  // namespace

// One connection, on TCP or on a WebSocket: the broker's Link, and the
// reads that feed it.
//
// On a WebSocket, every Send goes out as one binary frame; the client's
// frames are unmasked and their payload handed to the broker as it comes,
// whatever the frame boundaries; pings are answered; a close frame, or a
// framing error, ends the connection as a lost one (the will goes out),
// with a close frame back.
//
// When the broker closes a connection, the socket is closed gracefully: what
// is queued is written (on a WebSocket, then a close frame), the sending
// side is shut down (the client sees the last packet, then end of stream),
// and reads go on, discarded, until the client closes too or kLinger
// passes. Closing outright with unread input would send a reset, which can
// destroy the DISCONNECT the client has not read yet and fails the client's
// last writes.
class TcpLink : public Link, public std::enable_shared_from_this<TcpLink> {
 public:
  static constexpr auto kLinger = std::chrono::seconds(2);

  TcpLink(tcp::socket socket, Broker* broker, ReadBuffer* buffer, size_t drain_bytes,
          bool websocket)
      : socket_(std::move(socket)),
        broker_(broker),
        buffer_(buffer),
        drain_bytes_(drain_bytes) {
    if (websocket) ws_ = std::make_unique<http::ws::Decoder>();
  }

  // `received`: bytes that came before the link (after a WebSocket
  // handshake read by the HTTP server).
  void Start(Broker::ConnId id, Bytes received = {}) {
    id_ = id;
    boost::system::error_code ignored;
    socket_.non_blocking(true, ignored);
    if (!received.empty()) Consume(received);
    if (!closed_) Read();
  }

  void Send(Bytes bytes) override {
    if (closing_) return;
    if (ws_) Queue(FrameHeader(bytes.size()));
    Queue(std::move(bytes));
  }

  void Close() override {
    if (closing_) return;
    if (ws_) Queue(http::ws::CloseFrame(http::ws::kNormalClosure));
    closing_ = true;
    if (!writing_) HalfClose();
  }

  size_t backlog() const override { return backlog_; }

 private:
  static Bytes FrameHeader(size_t n) {
    Bytes h;
    h.reserve(10);
    http::ws::AppendHeader(http::ws::Opcode::kBinary, n, &h);
    return h;
  }

  void Queue(Bytes bytes) {
    backlog_ += bytes.size();
    if (backlog_ >= drain_bytes_) was_above_ = true;
    pending_.push_back(std::move(bytes));
    if (!writing_) Write();
  }

  // The client ended the connection: the broker hears of it unless it
  // closed the connection itself.
  void TellLost() {
    if (!closing_) {
      closing_ = true;
      broker_->Lost(id_, Clock::now());
    }
  }

  // The socket failed or the client closed it.
  void Lost() {
    TellLost();
    CloseNow();
  }

  // The client's WebSocket ended (a close frame) or broke the framing: a
  // close frame answers, then the socket closes gracefully.
  void EndWebSocket(uint16_t code) {
    TellLost();
    Queue(http::ws::CloseFrame(code));
  }

  // Waits until the socket is readable, then reads what is there into the
  // shared buffer and hands it on before anything else runs on the thread.
  void Read() {
    auto self = shared_from_this();
    socket_.async_wait(tcp::socket::wait_read, [self](boost::system::error_code ec) {
      if (self->closed_) return;
      if (ec) {
        self->Lost();
        return;
      }
      size_t n = self->socket_.read_some(asio::buffer(*self->buffer_), ec);
      if (ec == asio::error::would_block) {
        self->Read();
        return;
      }
      if (ec) {
        self->Lost();
        return;
      }
      self->Consume(std::span<uint8_t>(self->buffer_->data(), n));
      if (!self->closed_) self->Read();
    });
  }

  void Consume(std::span<uint8_t> data) {
    if (closing_) return;  // while closing, input is read only to be discarded
    if (!ws_) {
      broker_->Receive(id_, data, Clock::now());
      return;
    }
    using Kind = http::ws::Decoder::Event::Kind;
    Status st = ws_->Feed(data, [this](const http::ws::Decoder::Event& e) {
      if (closing_) return;
      switch (e.kind) {
        case Kind::kData:
          broker_->Receive(id_, e.data, Clock::now());
          break;
        case Kind::kPing: {
          Bytes pong;
          http::ws::AppendHeader(http::ws::Opcode::kPong, e.data.size(), &pong);
          pong.insert(pong.end(), e.data.begin(), e.data.end());
          Queue(std::move(pong));
          break;
        }
        case Kind::kPong:
          break;
        case Kind::kClose: {
          // Echo the client's code if it may be sent (RFC 6455 §7.4).
          uint16_t c = e.close_code;
          bool sendable = (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) ||
                          (c >= 3000 && c <= 4999);
          EndWebSocket(c == 1005 ? http::ws::kNormalClosure
                                 : sendable ? c : http::ws::kProtocolError);
          break;
        }
      }
    });
    if (!st.ok() && !closing_) EndWebSocket(ws_->close_code());
  }

  void Write() {
    writing_ = true;
    writing_buffers_.swap(pending_);
    pending_.clear();
    std::vector<asio::const_buffer> buffers;
    buffers.reserve(writing_buffers_.size());
    for (const Bytes& b : writing_buffers_) buffers.push_back(asio::buffer(b));
    auto self = shared_from_this();
    asio::async_write(socket_, buffers, [self](boost::system::error_code ec, size_t n) {
      self->writing_ = false;
      self->backlog_ -= n;
      self->writing_buffers_.clear();
      if (ec) {
        self->Lost();
        return;
      }
      if (!self->pending_.empty()) {
        self->Write();
      } else if (self->closing_) {
        self->HalfClose();
      } else if (self->was_above_ && self->backlog_ < self->drain_bytes_) {
        self->was_above_ = false;
        self->broker_->Drained(self->id_, Clock::now());
      }
    });
  }

  void HalfClose() {
    if (half_closed_ || closed_) return;
    half_closed_ = true;
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    // The timer is made only now: idle connections need none.
    linger_ = std::make_unique<asio::steady_timer>(socket_.get_executor());
    linger_->expires_after(kLinger);
    linger_->async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->CloseNow();
    });
  }

  void CloseNow() {
    if (closed_) return;
    closed_ = true;
    if (linger_) linger_->cancel();
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

  tcp::socket socket_;
  std::unique_ptr<asio::steady_timer> linger_;
  Broker* broker_;
  ReadBuffer* buffer_;
  const size_t drain_bytes_;
  std::unique_ptr<http::ws::Decoder> ws_;  // a WebSocket's framing
  Broker::ConnId id_ = 0;
  std::vector<Bytes> pending_;
  std::vector<Bytes> writing_buffers_;
  size_t backlog_ = 0;
  bool writing_ = false;
  bool closing_ = false;      // the broker is done with it, or it failed
  bool half_closed_ = false;  // our side has sent FIN
  bool closed_ = false;
  bool was_above_ = false;
};

struct Server::Impl {
  explicit Impl(ServerOptions o)
      : options(std::move(o)), acceptor(io), tick(io), broker(options.broker, Clock::now()) {}

  void Accept() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        if (broker.stats().connections >= options.max_connections) {
          boost::system::error_code ignored;
          socket.close(ignored);
        } else {
          Adopt(std::move(socket), false, {});
        }
      }
      Accept();
    });
  }

  void Adopt(tcp::socket socket, bool websocket, Bytes received) {
    boost::system::error_code ec;
    socket.set_option(tcp::no_delay(true), ec);
    auto link = std::make_shared<TcpLink>(std::move(socket), &broker, &read_buffer,
                                          options.broker.max_backlog_bytes / 2, websocket);
    link->Start(broker.Open(link, Clock::now()), std::move(received));
  }

  void Tick() {
    tick.expires_after(std::chrono::seconds(1));
    tick.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      broker.Tick(Clock::now());
      Tick();
    });
  }

  ServerOptions options;
  asio::io_context io;
  tcp::acceptor acceptor;
  asio::steady_timer tick;
  Broker broker;
  ReadBuffer read_buffer;
  std::thread thread;
  uint16_t port = 0;
  std::string host;
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Stop(); }

Result<std::unique_ptr<Server>> Server::Start(ServerOptions options) {
  RaiseFileLimit();
  auto impl = std::make_unique<Impl>(std::move(options));
  if (Status st = impl->broker.Load(Clock::now()); !st.ok()) return st;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(impl->options.host, ec);
  if (ec) return Status::InvalidArgument("mqtt: not an IP address: " + impl->options.host);
  tcp::endpoint ep(address, impl->options.port);
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::IOError("mqtt: cannot listen on " + impl->options.host + ":" +
                           std::to_string(impl->options.port) + ": " + ec.message());
  }
  impl->port = impl->acceptor.local_endpoint().port();
  impl->host = impl->options.host;
  impl->Accept();
  impl->Tick();
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->io.run(); });
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

std::string Server::address() const {
  bool v6 = impl_->host.find(':') != std::string::npos;
  return (v6 ? "[" + impl_->host + "]" : impl_->host) + ":" + std::to_string(impl_->port);
}

uint16_t Server::port() const { return impl_->port; }

namespace {

// The host of an origin or Host value ("http://h:1", "h:1", "[::1]:1").
std::string_view HostOf(std::string_view v) {
  if (size_t p = v.find("://"); p != std::string_view::npos) v.remove_prefix(p + 3);
  v = v.substr(0, v.find('/'));
  if (!v.empty() && v.front() == '[') return v.substr(0, v.find(']') + 1);
  return v.substr(0, v.find(':'));
}

// A page in a browser may open a WebSocket to any address, and the browser
// says whose page it is in Origin. One from another site must not reach a
// broker that lets anonymous clients in on loopback: only pages served from
// loopback or by this node (Origin naming the host the request was sent
// to) may connect. Clients that are not browsers send no Origin.
bool OriginAllowed(const http::Request& req) {
  const std::string* origin = req.headers.Find("origin");
  if (origin == nullptr) return true;
  std::string_view host = HostOf(*origin);
  return host == "localhost" || host == "[::1]" || host.rfind("127.", 0) == 0 ||
         host == HostOf(req.headers.Get("host"));
}

}  // namespace

void Server::HandleWebSocket(http::Request& req, http::ResponseWriter& w) {
  if (!OriginAllowed(req)) {
    http::Headers h;
    h.Add("Content-Type", "text/plain");
    (void)w.Send(403, h, "MQTT over WebSocket is not open to pages from other origins\n");
    return;
  }
  auto headers = http::ws::Accept(req, {"mqtt", "mqttv3.1"});
  if (!headers.ok()) {
    http::Headers h;
    h.Add("Content-Type", "text/plain");
    const bool version = headers.status().code() == Status::Code::kNotSupported;
    if (version) h.Add("Sec-WebSocket-Version", "13");
    (void)w.Send(version ? 426 : 400, h, headers.status().message() + "\n");
    return;
  }
  if (!w.Send(101, *headers, "").ok()) return;
  auto taken = w.TakeOver();
  if (!taken.ok()) return;
  int fd = taken->fd;
  asio::post(impl_->io, [impl = impl_.get(), fd, received = std::move(taken->received)]() mutable {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    boost::system::error_code ec;
    tcp::socket socket(impl->io);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
        impl->broker.stats().connections >= impl->options.max_connections) {
      ::close(fd);
      return;
    }
    socket.assign(addr.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), fd, ec);
    if (ec) {
      ::close(fd);
      return;
    }
    impl->Adopt(std::move(socket), true, std::move(received));
  });
}

BrokerStats Server::stats() {
  std::promise<BrokerStats> p;
  auto f = p.get_future();
  asio::post(impl_->io, [&] { p.set_value(impl_->broker.stats()); });
  return f.get();
}

void Server::Stop() {
  if (!impl_ || !impl_->thread.joinable()) return;
  asio::post(impl_->io, [this] {
    boost::system::error_code ignored;
    impl_->acceptor.close(ignored);
    impl_->tick.cancel();
    impl_->io.stop();
  });
  impl_->thread.join();
}

}  // namespace shoal::mqtt
