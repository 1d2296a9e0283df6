// MQTT load generator: drives one broker on 127.0.0.1:PORT (Shoal's or
// Mosquitto's, the same code for both) and prints a JSON line per figure.
// bench/run-mqtt starts the brokers and joins the two sides.
//
//   mqtt_bench --port=P --pid=PID --side=shoal|peer [--peer-name=NAME]
//              [--only=PREFIX] [--scale=F]
//
// Figures (MQTT 3.1.1 clients with clean sessions, 64-byte payloads):
//   mqtt.idle.memory     KiB of broker memory (RSS) per idle connection,
//                        10,000 connections, measured first on a fresh broker
//   mqtt.idle.subscribed.memory
//                        the same once each has subscribed to a topic of its
//                        own ("idle/K/cmd", QoS 1), as a device waiting for
//                        commands does
//   mqtt.fanin.qos0      msgs/s: 4 publishers → 1 subscriber, QoS 0
//   mqtt.fanout.qos0     deliveries/s: 1 publisher → 100 subscribers, QoS 0
//   mqtt.qos1.latency.p50, .p99
//                        µs from a QoS 1 PUBLISH leaving its publisher to the
//                        message reaching the subscriber, one at a time
//
// The throughput loops keep publishers at most a window of messages ahead
// of the slowest subscriber, so the figure is what the broker sustains, not
// what it drops; they stop at their count or after 10 s. Messages that never
// arrived are reported as "lost" (0 when the broker kept up).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using Bytes = std::vector<uint8_t>;

struct Flags {
  int port = 0;
  int pid = 0;
  std::string side = "shoal";
  std::string peer_name = "mosquitto";
  std::string only;
  double scale = 1;
};

Flags flags;

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "mqtt_bench: %s\n", why.c_str());
  std::exit(1);
}

bool Wanted(const std::string& bench) { return bench.rfind(flags.only, 0) == 0; }

void Print(const std::string& bench, const std::string& unit, double value, const std::string& extra = "") {
  if (flags.side == "shoal") {
    std::printf("{\"bench\":\"%s\",\"unit\":\"%s\",\"shoal\":%.3f%s}\n", bench.c_str(), unit.c_str(),
                value, extra.c_str());
  } else {
    std::printf("{\"bench\":\"%s\",\"unit\":\"%s\",\"peer\":\"%s\",\"peer_value\":%.3f%s}\n",
                bench.c_str(), unit.c_str(), flags.peer_name.c_str(), value, extra.c_str());
  }
  std::fflush(stdout);
}

// --- MQTT 3.1.1 packets, just what the loads need ---

void PutLength(Bytes* out, size_t n) {
  do {
    uint8_t b = n & 0x7f;
    n >>= 7;
    out->push_back(n ? b | 0x80 : b);
  } while (n);
}

void PutString(Bytes* out, std::string_view s) {
  out->push_back(static_cast<uint8_t>(s.size() >> 8));
  out->push_back(static_cast<uint8_t>(s.size()));
  out->insert(out->end(), s.begin(), s.end());
}

Bytes Connect(const std::string& client_id) {
  Bytes body;
  PutString(&body, "MQTT");
  body.push_back(4);     // 3.1.1
  body.push_back(0x02);  // clean session
  body.push_back(0);
  body.push_back(0);  // keep-alive 0: idle connections stay
  PutString(&body, client_id);
  Bytes out = {0x10};
  PutLength(&out, body.size());
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Bytes Subscribe(std::string_view filter, uint8_t qos) {
  Bytes body = {0, 1};
  PutString(&body, filter);
  body.push_back(qos);
  Bytes out = {0x82};
  PutLength(&out, body.size());
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

void AppendPublish(Bytes* out, std::string_view topic, const uint8_t* payload, size_t n, uint8_t qos,
                   uint16_t id) {
  out->push_back(static_cast<uint8_t>(0x30 | qos << 1));
  PutLength(out, 2 + topic.size() + (qos ? 2 : 0) + n);
  PutString(out, topic);
  if (qos) {
    out->push_back(static_cast<uint8_t>(id >> 8));
    out->push_back(static_cast<uint8_t>(id));
  }
  out->insert(out->end(), payload, payload + n);
}

// One packet at the front of `in`: its first byte and the offset and size of
// its body; false while incomplete.
struct Packet {
  uint8_t first = 0;
  size_t body = 0, size = 0, total = 0;
};
bool NextPacket(const uint8_t* in, size_t n, Packet* p) {
  if (n < 2) return false;
  size_t len = 0, i = 1;
  for (int shift = 0;; shift += 7, i++) {
    if (i >= n) return false;
    len |= size_t{in[i] & 0x7fu} << shift;
    if (!(in[i] & 0x80)) break;
    if (shift > 21) Die("bad remaining length from the broker");
  }
  p->first = in[0];
  p->body = i + 1;
  p->size = len;
  p->total = i + 1 + len;
  return p->total <= n;
}

// --- sockets ---

int Dial() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) Die(std::string("socket: ") + std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(flags.port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    Die(std::string("connect: ") + std::strerror(errno));
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

void WriteAll(int fd, const Bytes& b) {
  size_t off = 0;
  while (off < b.size()) {
    ssize_t n = ::send(fd, b.data() + off, b.size() - off, MSG_NOSIGNAL);
    if (n <= 0) Die(std::string("send: ") + std::strerror(errno));
    off += n;
  }
}

// Reads one whole packet (blocking); `buf` keeps what came after it.
Packet ReadPacket(int fd, Bytes* buf) {
  Packet p;
  while (!NextPacket(buf->data(), buf->size(), &p)) {
    uint8_t tmp[65536];
    ssize_t n = ::recv(fd, tmp, sizeof(tmp), 0);
    if (n <= 0) Die("the broker closed a connection or sent nothing for 10 s");
    buf->insert(buf->end(), tmp, tmp + n);
  }
  return p;
}

void Consume(Bytes* buf, const Packet& p) { buf->erase(buf->begin(), buf->begin() + p.total); }

// A client connected and, if `filter` is given, subscribed.
int Client(const std::string& id, std::string_view filter = {}, uint8_t qos = 0) {
  int fd = Dial();
  WriteAll(fd, Connect(id));
  Bytes buf;
  Packet p = ReadPacket(fd, &buf);
  if (p.first != 0x20 || buf[p.body + 1] != 0) Die("CONNECT refused");
  Consume(&buf, p);
  if (!filter.empty()) {
    WriteAll(fd, Subscribe(filter, qos));
    p = ReadPacket(fd, &buf);
    if (p.first != 0x90 || buf[p.body + 2] > 2) Die("SUBSCRIBE refused");
  }
  return fd;
}

uint64_t RssKiB() {
  std::ifstream f("/proc/" + std::to_string(flags.pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10);
  }
  Die("cannot read the broker's VmRSS (--pid)");
}

// --- the loads ---

void IdleMemory() {
  const int n = std::max(1, static_cast<int>(10000 * flags.scale));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const uint64_t before = RssKiB();
  std::vector<int> fds;
  fds.reserve(n);
  // CONNECTs go out in groups of 500; each group's CONNACKs are read before
  // the next, so the listen backlog never overflows.
  for (int i = 0; i < n; i += 500) {
    int end = std::min(n, i + 500);
    for (int k = i; k < end; k++) {
      int fd = Dial();
      WriteAll(fd, Connect("idle-" + std::to_string(k)));
      fds.push_back(fd);
    }
    for (int k = i; k < end; k++) {
      Bytes buf;
      Packet p = ReadPacket(fds[k], &buf);
      if (p.first != 0x20) Die("no CONNACK for an idle connection");
    }
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const uint64_t after = RssKiB();
  Print("mqtt.idle.memory", "KiB/conn", double(after - before) / n,
        ",\"connections\":" + std::to_string(n) + ",\"rss_before_kib\":" + std::to_string(before) +
            ",\"rss_after_kib\":" + std::to_string(after));
  if (Wanted("mqtt.idle.subscribed.memory")) {
    for (int i = 0; i < n; i += 500) {
      int end = std::min(n, i + 500);
      for (int k = i; k < end; k++) WriteAll(fds[k], Subscribe("idle/" + std::to_string(k) + "/cmd", 1));
      for (int k = i; k < end; k++) {
        Bytes buf;
        Packet p = ReadPacket(fds[k], &buf);
        if (p.first != 0x90 || buf[p.body + 2] > 2) Die("SUBSCRIBE refused");
      }
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const uint64_t subscribed = RssKiB();
    Print("mqtt.idle.subscribed.memory", "KiB/conn", double(subscribed - before) / n,
          ",\"connections\":" + std::to_string(n) + ",\"rss_after_kib\":" + std::to_string(subscribed));
  }
  for (int fd : fds) ::close(fd);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
}

// `pubs` publishers, each `count / pubs` messages, and `subs` subscribers of
// them all. Returns deliveries per second.
void Throughput(const std::string& bench, const std::string& unit, int pubs, int subs,
                uint64_t count, uint64_t window) {
  const std::string topic = "bench/" + bench;
  std::vector<int> sub_fds, pub_fds;
  for (int i = 0; i < subs; i++) sub_fds.push_back(Client(bench + "-sub-" + std::to_string(i), topic, 0));
  for (int i = 0; i < pubs; i++) pub_fds.push_back(Client(bench + "-pub-" + std::to_string(i)));
  int ep = ::epoll_create1(0);
  struct Sub {
    Bytes in;
    uint64_t received = 0;
  };
  std::vector<Sub> subs_state(subs);
  for (int i = 0; i < subs; i++) {
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.u64 = i;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, sub_fds[i], &e);
  }
  struct Pub {
    Bytes out;
    size_t off = 0;
    uint64_t sent = 0;
  };
  std::vector<Pub> pub_state(pubs);
  const uint64_t per_pub = count / pubs;
  uint8_t payload[64];
  for (int i = 0; i < 64; i++) payload[i] = static_cast<uint8_t>(i);
  Bytes one;
  AppendPublish(&one, topic, payload, sizeof(payload), 0, 0);
  const size_t packet_size = one.size();
  uint64_t sent_total = 0;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::seconds(10);
  auto min_received = [&] {
    uint64_t m = UINT64_MAX;
    for (const Sub& s : subs_state) m = std::min(m, s.received);
    return m;
  };
  epoll_event events[128];
  auto receive = [&](int timeout_ms) {
    int n = ::epoll_wait(ep, events, 128, timeout_ms);
    for (int k = 0; k < n; k++) {
      Sub& s = subs_state[events[k].data.u64];
      int fd = sub_fds[events[k].data.u64];
      uint8_t tmp[65536];
      ssize_t got = ::recv(fd, tmp, sizeof(tmp), MSG_DONTWAIT);
      if (got <= 0) continue;
      s.in.insert(s.in.end(), tmp, tmp + got);
      size_t at = 0;
      Packet p;
      while (NextPacket(s.in.data() + at, s.in.size() - at, &p)) {
        if ((p.first >> 4) == 3) s.received++;
        at += p.total;
      }
      s.in.erase(s.in.begin(), s.in.begin() + at);
    }
  };
  auto delivered = [&] {
    uint64_t d = 0;
    for (const Sub& s : subs_state) d += s.received;
    return d;
  };
  while (Clock::now() < deadline) {
    const uint64_t slowest = min_received();
    if (slowest >= per_pub * pubs) break;
    // Publishers write while the slowest subscriber is within the window.
    for (int i = 0; i < pubs; i++) {
      Pub& p = pub_state[i];
      if (p.off == p.out.size()) {
        p.out.clear();
        p.off = 0;
        while (p.sent < per_pub && sent_total - slowest < window && p.out.size() < 16384) {
          AppendPublish(&p.out, topic, payload, sizeof(payload), 0, 0);
          p.sent++;
          sent_total++;
        }
      }
      if (p.off < p.out.size()) {
        ssize_t n = ::send(pub_fds[i], p.out.data() + p.off, p.out.size() - p.off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) p.off += n;
      }
    }
    receive(1);
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  const uint64_t in_time = delivered();
  // Messages written to the broker that have not arrived get 2 s more
  // (not counted in the rate); what is still missing then was dropped.
  uint64_t published = 0;
  for (const Pub& p : pub_state) {
    published += p.sent;
    if (p.off < p.out.size()) {  // the rest of the buffer never left
      size_t left = p.out.size() - p.off;
      published -= left / packet_size;  // a PUBLISH partly written counts as sent
    }
  }
  for (const auto drain_end = Clock::now() + std::chrono::seconds(2);
       Clock::now() < drain_end && delivered() < published * subs;) {
    receive(10);
  }
  Print(bench, unit, in_time / secs,
        ",\"published\":" + std::to_string(published) + ",\"lost\":" +
            std::to_string(published * subs - std::min(published * subs, delivered())) +
            ",\"seconds\":" + std::to_string(secs));
  ::close(ep);
  for (int fd : sub_fds) ::close(fd);
  for (int fd : pub_fds) ::close(fd);
}

void Qos1Latency() {
  const int samples = std::max(100, static_cast<int>(5000 * flags.scale));
  int sub = Client("lat-sub", "bench/latency", 1);
  int pub = Client("lat-pub");
  Bytes sub_buf, pub_buf;
  std::vector<double> us;
  uint8_t payload[64] = {};
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  for (int i = 0; i < samples && Clock::now() < deadline; i++) {
    uint16_t id = static_cast<uint16_t>(i % 65535 + 1);
    Bytes msg;
    AppendPublish(&msg, "bench/latency", payload, sizeof(payload), 1, id);
    auto t0 = Clock::now();
    WriteAll(pub, msg);
    Packet p = ReadPacket(sub, &sub_buf);
    auto t1 = Clock::now();
    if ((p.first >> 4) != 3) Die("the subscriber got something else than PUBLISH");
    // Acknowledge it with its own id.
    size_t topic_len = size_t{sub_buf[p.body]} << 8 | sub_buf[p.body + 1];
    uint8_t hi = sub_buf[p.body + 2 + topic_len], lo = sub_buf[p.body + 3 + topic_len];
    Consume(&sub_buf, p);
    WriteAll(sub, Bytes{0x40, 2, hi, lo});
    Packet ack = ReadPacket(pub, &pub_buf);
    if ((ack.first >> 4) != 4) Die("no PUBACK for the publisher");
    Consume(&pub_buf, ack);
    if (i >= 100) us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());  // after warm-up
  }
  std::sort(us.begin(), us.end());
  auto pct = [&](double q) { return us[static_cast<size_t>(q * (us.size() - 1))]; };
  Print("mqtt.qos1.latency.p50", "us", pct(0.50), ",\"samples\":" + std::to_string(us.size()));
  Print("mqtt.qos1.latency.p99", "us", pct(0.99), ",\"samples\":" + std::to_string(us.size()));
  ::close(sub);
  ::close(pub);
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto value = [&](const char* name) -> const char* {
      size_t n = std::strlen(name);
      return a.compare(0, n, name) == 0 ? argv[i] + n : nullptr;
    };
    if (auto v = value("--port=")) flags.port = std::atoi(v);
    else if (auto v = value("--pid=")) flags.pid = std::atoi(v);
    else if (auto v = value("--side=")) flags.side = v;
    else if (auto v = value("--peer-name=")) flags.peer_name = v;
    else if (auto v = value("--only=")) flags.only = v;
    else if (auto v = value("--scale=")) flags.scale = std::atof(v);
    else Die("unknown argument " + a);
  }
  if (flags.port == 0 || flags.pid == 0) Die("--port and --pid are required");
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
  auto count = [](double n) { return static_cast<uint64_t>(std::max(1000.0, n * flags.scale)); };
  if (Wanted("mqtt.idle.memory") || Wanted("mqtt.idle.subscribed.memory")) IdleMemory();
  if (Wanted("mqtt.fanin.qos0")) Throughput("mqtt.fanin.qos0", "msgs/s", 4, 1, count(2'000'000), 4000);
  if (Wanted("mqtt.fanout.qos0")) Throughput("mqtt.fanout.qos0", "deliveries/s", 1, 100, count(40'000), 200);
  if (Wanted("mqtt.qos1.latency")) Qos1Latency();
  return 0;
}
