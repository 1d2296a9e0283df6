#include "mqtt/server.h"

#include <sys/resource.h>

#include <utility>  // before Asio: Boost 1.74 with g++ 12 needs it
#include <boost/asio.hpp>

#include <array>
#include <future>
#include <thread>
#include <vector>

namespace shoal::mqtt {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

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

}  // namespace

// One TCP connection: the broker's Link, and the reads that feed it.
//
// When the broker closes a connection, the socket is closed gracefully: what
// is queued is written, the sending side is shut down (the client sees the
// last packet, then end of stream), and reads go on, discarded, until the
// client closes too or kLinger passes. Closing outright with unread input
// would send a reset, which can destroy the DISCONNECT the client has not
// read yet and fails the client's last writes.
class TcpLink : public Link, public std::enable_shared_from_this<TcpLink> {
 public:
  static constexpr auto kLinger = std::chrono::seconds(2);

  TcpLink(tcp::socket socket, Broker* broker, size_t drain_bytes)
      : socket_(std::move(socket)),
        linger_(socket_.get_executor()),
        broker_(broker),
        drain_bytes_(drain_bytes) {}

  void Start(Broker::ConnId id) {
    id_ = id;
    Read();
  }

  void Send(Bytes bytes) override {
    if (closing_) return;
    backlog_ += bytes.size();
    if (backlog_ >= drain_bytes_) was_above_ = true;
    pending_.push_back(std::move(bytes));
    if (!writing_) Write();
  }

  void Close() override {
    if (closing_) return;
    closing_ = true;
    if (!writing_) HalfClose();
  }

  size_t backlog() const override { return backlog_; }

 private:
  // The socket failed or the client closed it: the broker hears of it
  // unless it closed the connection itself.
  void Lost() {
    if (!closing_) {
      closing_ = true;
      broker_->Lost(id_, Clock::now());
    }
    CloseNow();
  }

  void Read() {
    auto self = shared_from_this();
    socket_.async_read_some(asio::buffer(buffer_), [self](boost::system::error_code ec, size_t n) {
      if (ec) {
        self->Lost();
        return;
      }
      // While closing, input is read only to be discarded.
      if (!self->closing_) {
        self->broker_->Receive(self->id_, ByteView(self->buffer_.data(), n), Clock::now());
      }
      if (!self->closed_) self->Read();
    });
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
    linger_.expires_after(kLinger);
    linger_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->CloseNow();
    });
  }

  void CloseNow() {
    if (closed_) return;
    closed_ = true;
    linger_.cancel();
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

  tcp::socket socket_;
  asio::steady_timer linger_;
  Broker* broker_;
  const size_t drain_bytes_;
  Broker::ConnId id_ = 0;
  std::array<uint8_t, kReadBytes> buffer_;
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
          socket.set_option(tcp::no_delay(true), ec);
          auto link = std::make_shared<TcpLink>(std::move(socket), &broker,
                                                options.broker.max_backlog_bytes / 2);
          link->Start(broker.Open(link, Clock::now()));
        }
      }
      Accept();
    });
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
