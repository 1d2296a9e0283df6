#include "cli/control.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace shoal::cli {
namespace {

constexpr uint32_t kMaxField = 1u << 30;

bool WriteAll(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool ReadAll(int fd, void* data, size_t n) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    ssize_t r = ::recv(fd, p, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

bool WriteU32(int fd, uint32_t v) {
  uint8_t b[4] = {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)};
  return WriteAll(fd, b, 4);
}

bool ReadU32(int fd, uint32_t* v) {
  uint8_t b[4];
  if (!ReadAll(fd, b, 4)) return false;
  *v = b[0] | b[1] << 8 | b[2] << 16 | uint32_t(b[3]) << 24;
  return true;
}

bool WriteField(int fd, const std::string& s) {
  return WriteU32(fd, static_cast<uint32_t>(s.size())) && WriteAll(fd, s.data(), s.size());
}

bool ReadField(int fd, std::string* s) {
  uint32_t n;
  if (!ReadU32(fd, &n) || n > kMaxField) return false;
  s->resize(n);
  return ReadAll(fd, s->data(), n);
}

bool FillAddress(const std::string& path, sockaddr_un* addr) {
  std::memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr->sun_path)) return false;
  std::memcpy(addr->sun_path, path.c_str(), path.size() + 1);
  return true;
}

}  // namespace

Result<ControlResponse> SendControl(const std::string& socket_path,
                                    const ControlRequest& request) {
  sockaddr_un addr;
  if (!FillAddress(socket_path, &addr)) return Status::InvalidArgument("socket path too long");
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IOError(std::strerror(errno));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int e = errno;
    ::close(fd);
    if (e == ENOENT || e == ECONNREFUSED) return Status::NotFound("no server on " + socket_path);
    return Status::IOError("connecting to " + socket_path + ": " + std::strerror(e));
  }
  bool ok = WriteU32(fd, static_cast<uint32_t>(request.args.size()));
  for (const auto& a : request.args) ok = ok && WriteField(fd, a);
  ok = ok && WriteField(fd, request.stdin_data);
  ControlResponse resp;
  uint32_t code = 0;
  ok = ok && ReadU32(fd, &code) && ReadField(fd, &resp.out) && ReadField(fd, &resp.err);
  ::close(fd);
  if (!ok) return Status::IOError("the server closed the control connection");
  resp.exit_code = static_cast<int>(code);
  return resp;
}

ControlServer::~ControlServer() { Stop(); }

Status ControlServer::Start(const std::string& socket_path, Handler handler) {
  path_ = socket_path;
  handler_ = std::move(handler);
  sockaddr_un addr;
  if (!FillAddress(path_, &addr)) return Status::InvalidArgument("socket path too long");
  ::unlink(path_.c_str());  // a stale socket from a killed server
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return Status::IOError(std::strerror(errno));
  mode_t old = ::umask(0177);
  int rc = ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::umask(old);
  if (rc != 0 || ::listen(fd_, 16) != 0 || ::pipe2(wake_, O_CLOEXEC) != 0) {
    Status s = Status::IOError("control socket " + path_ + ": " + std::strerror(errno));
    ::close(fd_);
    fd_ = -1;
    return s;
  }
  thread_ = std::thread([this] { Loop(); });
  return Status::OK();
}

void ControlServer::Stop() {
  if (!thread_.joinable()) return;
  char c = 0;
  (void)!::write(wake_[1], &c, 1);
  thread_.join();
  ::close(fd_);
  ::close(wake_[0]);
  ::close(wake_[1]);
  ::unlink(path_.c_str());
}

void ControlServer::Loop() {
  while (true) {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;
    int client = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    // A client that stalls must not hold the server forever.
    timeval tv{30, 0};
    ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    ControlRequest req;
    uint32_t argc = 0;
    bool ok = ReadU32(client, &argc) && argc < 4096;
    for (uint32_t i = 0; ok && i < argc; i++) {
      req.args.emplace_back();
      ok = ReadField(client, &req.args.back());
    }
    ok = ok && ReadField(client, &req.stdin_data);
    if (ok) {
      ControlResponse resp = handler_(req);
      (void)(WriteU32(client, static_cast<uint32_t>(resp.exit_code)) &&
             WriteField(client, resp.out) && WriteField(client, resp.err));
    }
    ::close(client);
  }
}

}  // namespace shoal::cli
