#include "mqtt/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <future>
#include <thread>
#include <vector>

#include "crypto/tls.h"
#include "http/websocket.h"
#include "mqtt/event_loop.h"

namespace shoal::mqtt {

namespace {

constexpr size_t kReadBytes = 64 << 10;

// As many open files as the hard limit allows: the default soft limit of
// 1,024 would cap clients near a thousand without saying so.
void RaiseFileLimit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

void SetNoDelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

class TcpLink;

// What the connections of one server share: the loop and broker they run
// on, and the one buffer every read goes into, so an idle connection holds
// no read buffer of its own.
struct Hub {
  EventLoop* loop = nullptr;
  Broker* broker = nullptr;
  size_t drain_bytes = 0;  // a backlog back under this is reported Drained
  std::array<uint8_t, kReadBytes> buffer;
  Bytes plain;  // what TLS decrypted from one read, reused
  TcpLink* links = nullptr;  // every link not yet deleted, linked through them
};

// One connection, on TCP or on a WebSocket: the broker's Link, and the
// reads that feed it.
//
// Reads: the descriptor stays in the loop for input (level-triggered), and
// each time it is readable one read goes into the hub's buffer and on to
// the broker before anything else runs.
//
// Writes: what the broker sends is written at once, as far as the socket
// takes it; the rest waits, in order, and the loop is asked for
// writability until it is gone. A write error is not reported from inside
// Send (the broker may be iterating its connections): the link waits for
// the loop to report the socket, and loses it then.
//
// On TLS, what is read is decrypted before anything else sees it (a bad
// record or handshake loses the connection, after the alert is written),
// what is sent is encrypted, and a close sends close_notify before FIN.
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
//
// A link is deleted on the loop once its socket is closed and its linger
// timer, if it had one, has run; the broker is done with it by then (it was
// told Lost, or closed it).
class TcpLink final : public Link, public EventLoop::Watcher {
 public:
  static constexpr auto kLinger = std::chrono::seconds(2);

  TcpLink(Hub* hub, int fd, bool websocket, std::unique_ptr<crypto::Tls> tls)
      : hub_(hub), tls_(std::move(tls)), fd_(fd) {
    if (websocket) ws_ = std::make_unique<http::ws::Decoder>();
    next_ = hub_->links;
    if (next_ != nullptr) next_->prev_ = this;
    hub_->links = this;
  }

  ~TcpLink() {
    if (!closed_) ::close(fd_);
    if (prev_ != nullptr) prev_->next_ = next_;
    if (next_ != nullptr) next_->prev_ = prev_;
    if (hub_->links == this) hub_->links = next_;
  }

  // `received`: bytes that came before the link (after a WebSocket
  // handshake read by the HTTP server).
  void Start(Broker::ConnId id, std::span<uint8_t> received) {
    id_ = id;
    if (!hub_->loop->Watch(fd_, EPOLLIN, this).ok()) {
      Lost();
      return;
    }
    if (!received.empty()) Consume(received);
  }

  void Send(Bytes bytes) override {
    if (closing_) return;
    if (ws_) {
      Bytes header;
      http::ws::AppendHeader(http::ws::Opcode::kBinary, bytes.size(), &header);
      Out(std::move(header));
    }
    Out(std::move(bytes));
  }

  void Close() override {
    if (closing_) return;
    if (ws_) Out(http::ws::CloseFrame(http::ws::kNormalClosure));
    closing_ = true;
    Finish();
  }

  size_t backlog() const override { return backlog_; }

  void OnReady(uint32_t events) override {
    if (closed_) return;  // fetched in the turn it closed
    if (write_failed_) {
      Lost();
      return;
    }
    if (backlog_ > 0 && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
      Flush();
      if (write_failed_) {
        Lost();
        return;
      }
      if (backlog_ == 0) Flushed();
      if (closed_) return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) ReadOnce();
  }

 private:
  // Application bytes for the peer: through TLS if the link has it.
  void Out(Bytes bytes) {
    if (!tls_) {
      Queue(std::move(bytes));
      return;
    }
    if (tls_->Send(bytes).ok()) Queue(tls_->TakeOutput());
  }

  // Nothing more will be sent: close_notify on TLS, and FIN once what is
  // queued is written.
  void Finish() {
    if (tls_) {
      tls_->Shutdown();
      Queue(tls_->TakeOutput());
    }
    if (backlog_ == 0) HalfClose();
  }

  // Writes `bytes` now if nothing waits before them, and keeps what the
  // socket does not take.
  void Queue(Bytes bytes) {
    if (bytes.empty() || write_failed_ || closed_) return;
    if (backlog_ == 0) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n == static_cast<ssize_t>(bytes.size())) return;
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        Fail();
        return;
      }
      if (n > 0) bytes.erase(bytes.begin(), bytes.begin() + n);
      // The socket is full: from now on the loop says when it takes more.
      if (!hub_->loop->Change(fd_, EPOLLIN | EPOLLOUT, this).ok()) {
        Fail();
        return;
      }
    }
    backlog_ += bytes.size();
    if (backlog_ >= hub_->drain_bytes) was_above_ = true;
    pending_.push_back(std::move(bytes));
  }

  // Writes what is pending, as far as the socket takes it.
  void Flush() {
    while (backlog_ > 0) {
      std::array<iovec, 64> iov;
      size_t count = 0;
      for (size_t i = head_; i < pending_.size() && count < iov.size(); i++, count++) {
        size_t skip = i == head_ ? offset_ : 0;
        iov[count] = {pending_[i].data() + skip, pending_[i].size() - skip};
      }
      msghdr msg{};
      msg.msg_iov = iov.data();
      msg.msg_iovlen = count;
      ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        Fail();
        return;
      }
      backlog_ -= static_cast<size_t>(n);
      size_t left = static_cast<size_t>(n);
      while (left > 0) {
        size_t rest = pending_[head_].size() - offset_;
        if (left < rest) {
          offset_ += left;
          break;
        }
        left -= rest;
        pending_[head_++] = Bytes();
        offset_ = 0;
      }
      if (head_ == pending_.size()) {
        // Nothing waits: give the memory back, an idle link keeps none.
        pending_ = std::vector<Bytes>();
        head_ = 0;
      } else if (head_ >= 64 && head_ * 2 >= pending_.size()) {
        pending_.erase(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(head_));
        head_ = 0;
      }
    }
  }

  // Everything queued is written.
  void Flushed() {
    if (!hub_->loop->Change(fd_, EPOLLIN, this).ok()) {
      Lost();
      return;
    }
    if (closing_) {
      HalfClose();
    } else if (was_above_ && backlog_ < hub_->drain_bytes) {
      was_above_ = false;
      hub_->broker->Drained(id_, Clock::now());
    }
  }

  // A write failed: drop the output, and be reported to the loop (a broken
  // socket is always writable) to lose the connection from there.
  void Fail() {
    write_failed_ = true;
    DropOutput();
    (void)hub_->loop->Change(fd_, EPOLLIN | EPOLLOUT, this);
  }

  // Forgets what was not written, and gives its memory back.
  void DropOutput() {
    pending_ = std::vector<Bytes>();
    head_ = offset_ = backlog_ = 0;
  }

  void ReadOnce() {
    ssize_t n = ::recv(fd_, hub_->buffer.data(), hub_->buffer.size(), 0);
    if (n > 0 && tls_) {
      Bytes& plain = hub_->plain;
      plain.clear();
      Status st = tls_->Receive(ByteView(hub_->buffer.data(), static_cast<size_t>(n)), &plain);
      Queue(tls_->TakeOutput());  // the handshake's answers, or an alert
      if (!plain.empty()) Consume(plain);
      if (closed_) return;
      if (!st.ok()) {
        // A bad record or handshake: the alert goes, then FIN.
        TellLost();
        if (backlog_ == 0) HalfClose();
        return;
      }
      if (!tls_->peer_closed()) return;
      n = 0;  // close_notify: the end of the stream
    } else if (n > 0) {
      Consume(std::span<uint8_t>(hub_->buffer.data(), static_cast<size_t>(n)));
      return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    // End of stream, or a failed socket.
    if (half_closed_) {
      CloseNow();
    } else {
      Lost();
    }
  }

  // The client ended the connection: the broker hears of it unless it
  // closed the connection itself.
  void TellLost() {
    if (!closing_) {
      closing_ = true;
      hub_->broker->Lost(id_, Clock::now());
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
    Out(http::ws::CloseFrame(code));
    Finish();
  }

  void Consume(std::span<uint8_t> data) {
    if (closing_) return;  // while closing, input is read only to be discarded
    if (!ws_) {
      hub_->broker->Receive(id_, data, Clock::now());
      return;
    }
    using Kind = http::ws::Decoder::Event::Kind;
    Status st = ws_->Feed(data, [this](const http::ws::Decoder::Event& e) {
      if (closing_) return;
      switch (e.kind) {
        case Kind::kData:
          hub_->broker->Receive(id_, e.data, Clock::now());
          break;
        case Kind::kPing: {
          Bytes pong;
          http::ws::AppendHeader(http::ws::Opcode::kPong, e.data.size(), &pong);
          pong.insert(pong.end(), e.data.begin(), e.data.end());
          Out(std::move(pong));
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

  void HalfClose() {
    if (half_closed_ || closed_) return;
    half_closed_ = true;
    ::shutdown(fd_, SHUT_WR);
    lingering_ = true;
    hub_->loop->At(Clock::now() + kLinger, [this] {
      lingering_ = false;
      if (closed_) {
        delete this;
      } else {
        CloseNow();
      }
    });
  }

  void CloseNow() {
    if (closed_) return;
    closed_ = true;
    ::close(fd_);  // which takes it out of the loop
    DropOutput();
    // Deleted once this turn's events are dispatched, or by its timer.
    if (!lingering_) hub_->loop->Post([this] { delete this; });
  }

  Hub* const hub_;
  std::unique_ptr<crypto::Tls> tls_;  // none on plain TCP
  TcpLink* prev_ = nullptr;
  TcpLink* next_ = nullptr;
  std::unique_ptr<http::ws::Decoder> ws_;  // a WebSocket's framing
  Broker::ConnId id_ = 0;
  // Output the socket has not taken yet: pending_[head_], from offset_ on,
  // and what follows it.
  std::vector<Bytes> pending_;
  size_t head_ = 0;
  size_t offset_ = 0;
  size_t backlog_ = 0;
  const int fd_;
  bool closing_ = false;      // the broker is done with it, or it failed
  bool half_closed_ = false;  // our side has sent FIN
  bool lingering_ = false;    // its linger timer is set
  bool closed_ = false;
  bool write_failed_ = false;
  bool was_above_ = false;  // the backlog went over hub_->drain_bytes
};

// A socket address for a numeric host and a port.
bool MakeAddress(const std::string& host, uint16_t port, sockaddr_storage* out,
                 socklen_t* len) {
  *out = {};
  auto* v4 = reinterpret_cast<sockaddr_in*>(out);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    *len = sizeof(sockaddr_in);
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(out);
  if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    *len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

}  // namespace

struct Server::Impl {
  // A listening socket: plain MQTT, or MQTT over TLS.
  struct Listener : EventLoop::Watcher {
    Impl* impl = nullptr;
    int fd = -1;
    bool tls = false;
    std::string host;
    uint16_t port = 0;  // as bound

    ~Listener() {
      if (fd >= 0) ::close(fd);
    }
    void OnReady(uint32_t) override { impl->Accept(*this); }
  };

  Impl(ServerOptions o, std::unique_ptr<EventLoop> l)
      : options(std::move(o)), loop(std::move(l)), broker(options.broker, Clock::now()) {
    hub.loop = loop.get();
    hub.broker = &broker;
    hub.drain_bytes = options.broker.max_backlog_bytes / 2;
  }

  ~Impl() {
    while (hub.links != nullptr) delete hub.links;
  }

  // Binds and listens on host:port, and watches the socket.
  Status Listen(Listener* l, const std::string& host, uint16_t port, bool tls) {
    l->impl = this;
    l->tls = tls;
    l->host = host;
    sockaddr_storage addr;
    socklen_t len;
    if (!MakeAddress(host, port, &addr, &len)) {
      return Status::InvalidArgument("mqtt: not an IP address: " + host);
    }
    auto fail = [&](const char* what) {
      return Status::IOError("mqtt: cannot listen on " + host + ":" + std::to_string(port) + ": " +
                             what + ": " + std::strerror(errno));
    };
    l->fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (l->fd < 0) return fail("socket");
    int one = 1;
    ::setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(l->fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) return fail("bind");
    if (::listen(l->fd, 65535) != 0) return fail("listen");
    if (::getsockname(l->fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return fail("getsockname");
    }
    l->port = ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                               : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    return loop->Watch(l->fd, EPOLLIN, l);
  }

  // A listener is readable: take the connections waiting.
  void Accept(Listener& l) {
    for (int i = 0; i < 64; i++) {
      int fd = ::accept4(l.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          // Out of descriptors or memory: the connection stays in the
          // backlog, and the listener rests a little rather than spin.
          (void)loop->Change(l.fd, 0, &l);
          loop->At(Clock::now() + std::chrono::milliseconds(100),
                   [this, &l] { (void)loop->Change(l.fd, EPOLLIN, &l); });
        }
        return;
      }
      std::unique_ptr<crypto::Tls> session;
      if (l.tls) {
        auto made = crypto::Tls::Make(*options.tls);
        if (!made.ok()) {
          ::close(fd);
          continue;
        }
        session = std::move(*made);
      }
      Adopt(fd, false, std::move(session), {});
    }
  }

  // Serves a connected socket (with its TLS, if it has one), or closes it if
  // there are too many.
  void Adopt(int fd, bool websocket, std::unique_ptr<crypto::Tls> session,
             std::span<uint8_t> received) {
    if (broker.stats().connections >= options.max_connections) {
      ::close(fd);
      return;
    }
    SetNoDelay(fd);
    auto* link = new TcpLink(&hub, fd, websocket, std::move(session));
    link->Start(broker.Open(link, Clock::now()), received);
  }

  void Tick() {
    loop->At(Clock::now() + std::chrono::seconds(1), [this] {
      broker.Tick(Clock::now());
      Tick();
    });
  }

  ServerOptions options;
  std::unique_ptr<EventLoop> loop;
  Broker broker;
  Hub hub;
  Listener plain;
  Listener tls;  // fd -1 without a certificate
  std::thread thread;
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Stop(); }

Result<std::unique_ptr<Server>> Server::Start(ServerOptions options) {
  RaiseFileLimit();
  auto loop = EventLoop::Make();
  if (!loop.ok()) return loop.status();
  auto impl = std::make_unique<Impl>(std::move(options), std::move(*loop));
  if (Status st = impl->broker.Load(Clock::now()); !st.ok()) return st;
  const ServerOptions& o = impl->options;
  SHOAL_RETURN_IF_ERROR(impl->Listen(&impl->plain, o.host, o.port, false));
  if (o.tls) SHOAL_RETURN_IF_ERROR(impl->Listen(&impl->tls, o.tls_host, o.tls_port, true));
  impl->Tick();
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->loop->Run(); });
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

namespace {

std::string HostPort(const std::string& host, uint16_t port) {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace

std::string Server::address() const { return HostPort(impl_->plain.host, impl_->plain.port); }

uint16_t Server::port() const { return impl_->plain.port; }

std::string Server::tls_address() const {
  return impl_->tls.fd < 0 ? "" : HostPort(impl_->tls.host, impl_->tls.port);
}

uint16_t Server::tls_port() const { return impl_->tls.fd < 0 ? 0 : impl_->tls.port; }


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
  // Owned by the posted work, so the socket is closed if the loop stops
  // before that runs.
  auto conn = std::shared_ptr<http::TakenConnection>(
      new http::TakenConnection(std::move(*taken)), [](http::TakenConnection* c) {
        if (c->fd >= 0) ::close(c->fd);
        delete c;
      });
  impl_->loop->Post([impl = impl_.get(), conn] {
    int fd = std::exchange(conn->fd, -1);
    int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
      ::close(fd);
      return;
    }
    impl->Adopt(fd, true, std::move(conn->tls), conn->received);
  });
}

BrokerStats Server::stats() {
  if (!impl_->thread.joinable()) return impl_->broker.stats();
  std::promise<BrokerStats> p;
  auto f = p.get_future();
  impl_->loop->Post([&] { p.set_value(impl_->broker.stats()); });
  return f.get();
}

void Server::Stop() {
  if (!impl_ || !impl_->thread.joinable()) return;
  impl_->loop->Stop();
  impl_->thread.join();
}

}  // namespace shoal::mqtt
