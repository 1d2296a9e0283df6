#include "net/tcp.h"

#include <utility>  // before Asio: Boost 1.74 with g++ 12 needs it

#include <boost/asio.hpp>

#include <algorithm>
#include <atomic>
#include <list>
#include <mutex>
#include <set>
#include <thread>

#include "net/secret_stream.h"

namespace shoal::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kKeepAlive = std::chrono::seconds(5);
constexpr auto kIdleTimeout = std::chrono::seconds(30);
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
constexpr size_t kReadBytes = 256 << 10;
// Reading stops while this much output waits for a peer that does not read.
constexpr size_t kPauseReadBytes = 64 << 20;

Status FromError(const boost::system::error_code& ec) {
  return Status::IOError(ec.message());
}

}  // namespace

std::string Endpoint::ToString() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<Endpoint> ParseEndpoint(std::string_view text) {
  auto bad = [text](std::string_view what) {
    return Status::InvalidArgument(std::string(what) + ", got '" + std::string(text) + "'");
  };
  Endpoint ep;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return bad("expected [ADDRESS]:PORT");
    }
    ep.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return bad("expected HOST:PORT");
    ep.host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
  }
  uint32_t n = 0;
  if (port.empty() || port.size() > 5) return bad("expected a port of 0 to 65535");
  for (char c : port) {
    if (c < '0' || c > '9') return bad("expected a port of 0 to 65535");
    n = n * 10 + (c - '0');
  }
  if (n > 65535) return bad("expected a port of 0 to 65535");
  ep.port = static_cast<uint16_t>(n);
  return ep;
}

struct Network::Impl {
  Impl(const crypto::KeyPair& id, NetworkCallbacks c) : identity(id), cb(std::move(c)) {}

  void Accept(const std::shared_ptr<tcp::acceptor>& acceptor);
  void Start(tcp::socket socket, bool initiator,
             std::function<void(const Status&)> on_end = nullptr);
  void Forget(Connection* conn);

  const crypto::KeyPair identity;
  const NetworkCallbacks cb;
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  std::atomic<bool> stopped{false};

  mutable std::mutex mu;
  std::vector<std::shared_ptr<tcp::acceptor>> acceptors;
  std::set<std::shared_ptr<Connection>> connections;
  std::list<std::shared_ptr<asio::steady_timer>> timers;
  std::set<std::shared_ptr<tcp::socket>> connecting;
};

struct Connection::Impl {
  Impl(Network::Impl* n, tcp::socket s, bool init)
      : net(n),
        strand(asio::make_strand(n->io)),
        socket(std::move(s)),
        stream(init, n->identity),
        mux([this](std::span<const ByteView> frame) { return stream.Send(frame); }),
        initiator(init),
        timer(strand),
        read_buf(kReadBytes) {}

  void DoRead(const std::shared_ptr<Connection>& self);
  void OnRead(const std::shared_ptr<Connection>& self, size_t n);
  void Flush(const std::shared_ptr<Connection>& self);
  void MaybeOpen(const std::shared_ptr<Connection>& self);
  void Tick(const std::shared_ptr<Connection>& self);
  void Teardown(const std::shared_ptr<Connection>& self, const Status& why);

  Network::Impl* const net;
  std::function<void(const Status&)> on_end;  // for a connection Connect made
  asio::strand<asio::io_context::executor_type> strand;
  tcp::socket socket;
  SecretStream stream;
  Mux mux;
  const bool initiator;
  asio::steady_timer timer;
  std::string remote_address;

  Bytes read_buf;
  // Output as the stream made it, one buffer per flush, written with one
  // gathering write: nothing is copied to join it.
  std::vector<Bytes> writing;  // the buffers an async_write holds
  std::vector<Bytes> pending;  // output waiting for the write in flight
  size_t writing_bytes = 0;
  size_t pending_bytes = 0;
  bool write_in_flight = false;
  bool reading = false;
  bool read_paused = false;
  bool above_drain = false;
  bool opened = false;
  bool closing = false;
  Clock::time_point started = Clock::now();
  Clock::time_point last_send = Clock::now();
  Clock::time_point last_recv = Clock::now();
};

Connection::Connection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Connection::~Connection() = default;

Mux& Connection::mux() { return impl_->mux; }
bool Connection::initiator() const { return impl_->initiator; }
bool Connection::open() const { return impl_->opened && !impl_->closing; }
const crypto::PublicKey& Connection::remote_public_key() const {
  return impl_->stream.remote_public_key();
}
const crypto::HandshakeHash& Connection::handshake_hash() const {
  return impl_->stream.handshake_hash();
}
const std::string& Connection::remote_address() const { return impl_->remote_address; }
size_t Connection::pending_output() const {
  return impl_->writing_bytes + impl_->pending_bytes + impl_->stream.output_size();
}
uint64_t Connection::bytes_sent() const { return impl_->stream.bytes_sent(); }
uint64_t Connection::bytes_received() const { return impl_->stream.bytes_received(); }

void Connection::Post(std::function<void()> fn) {
  asio::post(impl_->strand, [self = shared_from_this(), fn = std::move(fn)] {
    if (self->impl_->closing) return;
    fn();
    self->impl_->Flush(self);
  });
}

void Connection::Close(const Status& why) {
  Impl& c = *impl_;
  if (c.closing) return;
  c.closing = true;
  boost::system::error_code ignored;
  c.socket.close(ignored);
  c.timer.cancel();
  // The rest runs later on the strand, so a channel handler may call Close
  // from inside the Mux.
  asio::post(c.strand, [self = shared_from_this(), why] { self->impl_->Teardown(self, why); });
}

void Connection::Impl::Teardown(const std::shared_ptr<Connection>& self, const Status& why) {
  mux.CloseAll();
  if (net->cb.on_close) net->cb.on_close(self, why);
  self->user_data.reset();
  net->Forget(self.get());
  if (on_end) std::exchange(on_end, nullptr)(why);
}

void Connection::Impl::MaybeOpen(const std::shared_ptr<Connection>& self) {
  if (opened || closing || !stream.handshake_complete()) return;
  if (stream.remote_public_key() == net->identity.public_key) {
    // A node that dialled an address of its own (say, found through discovery).
    self->Close(Status::Aborted("connected to itself"));
    return;
  }
  opened = true;
  if (net->cb.on_open) net->cb.on_open(self);
}

void Connection::Impl::DoRead(const std::shared_ptr<Connection>& self) {
  if (closing || reading) return;
  reading = true;
  socket.async_read_some(
      asio::buffer(read_buf),
      asio::bind_executor(strand, [self](const boost::system::error_code& ec, size_t n) {
        Impl& c = *self->impl_;
        c.reading = false;
        if (c.closing) return;
        if (ec) {
          self->Close(ec == asio::error::eof ? Status::OK() : FromError(ec));
          return;
        }
        c.OnRead(self, n);
      }));
}

void Connection::Impl::OnRead(const std::shared_ptr<Connection>& self, size_t n) {
  last_recv = Clock::now();
  Status st = stream.Receive(ByteView(read_buf.data(), n), [&](ByteView message) -> Status {
    MaybeOpen(self);
    if (closing) return Status::Aborted("closed");
    return mux.Receive(message);
  });
  if (st.ok()) MaybeOpen(self);
  Flush(self);
  if (!st.ok()) {
    self->Close(st);
    return;
  }
  if (closing) return;
  if (self->pending_output() > kPauseReadBytes) {
    read_paused = true;
    return;
  }
  DoRead(self);
}

void Connection::Impl::Flush(const std::shared_ptr<Connection>& self) {
  if (closing) return;
  if (stream.has_output()) {
    pending.push_back(stream.TakeOutput());
    pending_bytes += pending.back().size();
  }
  if (self->pending_output() > Network::kDrainBytes) above_drain = true;
  if (write_in_flight || pending.empty()) return;
  writing.swap(pending);
  writing_bytes = pending_bytes;
  pending.clear();
  pending_bytes = 0;
  write_in_flight = true;
  last_send = Clock::now();
  std::vector<asio::const_buffer> buffers;
  buffers.reserve(writing.size());
  for (const Bytes& b : writing) buffers.push_back(asio::buffer(b));
  asio::async_write(
      socket, buffers,
      asio::bind_executor(strand, [self](const boost::system::error_code& ec, size_t) {
        Impl& c = *self->impl_;
        c.write_in_flight = false;
        if (c.closing) return;
        if (ec) {
          self->Close(FromError(ec));
          return;
        }
        // The largest buffer written becomes the stream's next output.
        if (!c.writing.empty()) {
          auto largest = std::max_element(c.writing.begin(), c.writing.end(),
                                          [](const Bytes& a, const Bytes& b) {
                                            return a.capacity() < b.capacity();
                                          });
          c.stream.Recycle(std::move(*largest));
        }
        c.writing.clear();
        c.writing_bytes = 0;
        c.Flush(self);
        if (c.above_drain && self->pending_output() == 0) {
          c.above_drain = false;
          if (c.net->cb.on_drain) c.net->cb.on_drain(self);
          c.Flush(self);
        }
        if (c.read_paused && self->pending_output() <= kPauseReadBytes / 2) {
          c.read_paused = false;
          c.DoRead(self);
        }
      }));
}

void Connection::Impl::Tick(const std::shared_ptr<Connection>& self) {
  timer.expires_after(std::chrono::seconds(1));
  timer.async_wait([self](const boost::system::error_code& ec) {
    Impl& c = *self->impl_;
    if (ec || c.closing) return;
    Clock::time_point now = Clock::now();
    if (!c.opened && now - c.started > kHandshakeTimeout) {
      self->Close(Status::IOError("the handshake timed out"));
      return;
    }
    if (now - c.last_recv > kIdleTimeout && !c.read_paused) {
      self->Close(Status::IOError("the peer sent nothing for 30 s"));
      return;
    }
    if (c.opened && now - c.last_send >= kKeepAlive) {
      c.stream.SendKeepAlive();
      c.Flush(self);
    }
    c.Tick(self);
  });
}

void Network::Impl::Start(tcp::socket socket, bool initiator,
                          std::function<void(const Status&)> on_end) {
  boost::system::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  tcp::endpoint remote = socket.remote_endpoint(ec);
  auto impl = std::make_unique<Connection::Impl>(this, std::move(socket), initiator);
  impl->on_end = std::move(on_end);
  if (!ec) impl->remote_address = Endpoint{remote.address().to_string(), remote.port()}.ToString();
  std::shared_ptr<Connection> conn(new Connection(std::move(impl)));
  {
    std::lock_guard<std::mutex> lock(mu);
    if (stopped) return;
    connections.insert(conn);
  }
  asio::post(conn->impl_->strand, [conn] {
    Connection::Impl& c = *conn->impl_;
    c.Flush(conn);  // the initiator's first handshake message
    c.DoRead(conn);
    c.Tick(conn);
  });
}

void Network::Impl::Forget(Connection* conn) {
  std::lock_guard<std::mutex> lock(mu);
  for (auto it = connections.begin(); it != connections.end(); ++it) {
    if (it->get() == conn) {
      connections.erase(it);
      return;
    }
  }
}

void Network::Impl::Accept(const std::shared_ptr<tcp::acceptor>& acceptor) {
  acceptor->async_accept([this, acceptor](const boost::system::error_code& ec, tcp::socket socket) {
    if (stopped) return;
    if (!ec) Start(std::move(socket), /*initiator=*/false);
    if (ec == asio::error::operation_aborted) return;
    Accept(acceptor);
  });
}

Network::Network(const crypto::KeyPair& identity, NetworkCallbacks callbacks, int threads)
    : impl_(std::make_unique<Impl>(identity, std::move(callbacks))) {
  impl_->work.emplace(asio::make_work_guard(impl_->io));
  for (int i = 0; i < std::max(1, threads); i++) {
    impl_->threads.emplace_back([this] { impl_->io.run(); });
  }
}

Network::~Network() {
  Stop();
  impl_->work.reset();
  impl_->io.stop();
  for (auto& t : impl_->threads) t.join();
}

const crypto::PublicKey& Network::public_key() const { return impl_->identity.public_key; }

Result<Endpoint> Network::Listen(const Endpoint& at) {
  boost::system::error_code ec;
  tcp::resolver resolver(impl_->io);
  auto results = resolver.resolve(at.host, std::to_string(at.port),
                                  tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    return Status::InvalidArgument("cannot resolve '" + at.host + "': " + ec.message());
  }
  auto acceptor = std::make_shared<tcp::acceptor>(impl_->io);
  tcp::endpoint ep = results.begin()->endpoint();
  acceptor->open(ep.protocol(), ec);
  if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor->bind(ep, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::IOError("cannot listen on " + at.ToString() + ": " + ec.message());
  tcp::endpoint bound = acceptor->local_endpoint(ec);
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->acceptors.push_back(acceptor);
  }
  impl_->Accept(acceptor);
  return Endpoint{bound.address().to_string(), bound.port()};
}

void Network::Connect(const Endpoint& to, std::function<void(const Status&)> on_end) {
  auto socket = std::make_shared<tcp::socket>(impl_->io);
  auto resolver = std::make_shared<tcp::resolver>(impl_->io);
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->stopped) return;
    impl_->connecting.insert(socket);
  }
  Impl* net = impl_.get();
  auto fail = [net, socket, on_end, to](const boost::system::error_code& ec) {
    {
      std::lock_guard<std::mutex> lock(net->mu);
      net->connecting.erase(socket);
    }
    if (on_end) on_end(Status::IOError("cannot connect to " + to.ToString() + ": " + ec.message()));
  };
  resolver->async_resolve(
      to.host, std::to_string(to.port),
      [net, socket, resolver, fail, on_end](const boost::system::error_code& ec,
                                            tcp::resolver::results_type results) {
        if (ec) return fail(ec);
        asio::async_connect(*socket, results,
                            [net, socket, fail, on_end](const boost::system::error_code& ec,
                                                        const tcp::endpoint&) {
                              if (ec) return fail(ec);
                              {
                                std::lock_guard<std::mutex> lock(net->mu);
                                net->connecting.erase(socket);
                              }
                              net->Start(std::move(*socket), /*initiator=*/true, on_end);
                            });
      });
}

void Network::RunAfter(std::chrono::milliseconds delay, std::function<void()> fn) {
  auto timer = std::make_shared<asio::steady_timer>(impl_->io, delay);
  std::list<std::shared_ptr<asio::steady_timer>>::iterator it;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->stopped) return;
    it = impl_->timers.insert(impl_->timers.end(), timer);
  }
  Impl* net = impl_.get();
  timer->async_wait([net, it, fn = std::move(fn)](const boost::system::error_code& ec) {
    {
      std::lock_guard<std::mutex> lock(net->mu);
      net->timers.erase(it);
    }
    if (!ec && !net->stopped) fn();
  });
}

size_t Network::connection_count() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->connections.size();
}

void Network::Stop() {
  std::vector<std::shared_ptr<Connection>> conns;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->stopped.exchange(true)) return;
    for (auto& a : impl_->acceptors) {
      asio::post(impl_->io, [a] {
        boost::system::error_code ignored;
        a->close(ignored);
      });
    }
    for (auto& s : impl_->connecting) {
      asio::post(impl_->io, [s] {
        boost::system::error_code ignored;
        s->close(ignored);
      });
    }
    for (auto& t : impl_->timers) {
      asio::post(impl_->io, [t] { t->cancel(); });
    }
    conns.assign(impl_->connections.begin(), impl_->connections.end());
  }
  for (auto& c : conns) {
    asio::post(c->impl_->strand, [c] { c->Close(Status::Aborted("the network stopped")); });
  }
  // Let the closes run their callbacks, for a bounded time.
  Clock::time_point deadline = Clock::now() + std::chrono::seconds(2);
  while (connection_count() > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace shoal::net
