#include "cli/serve.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/config.h"
#include "cli/control.h"
#include "http/server.h"
#include "node/peering.h"
#include "node/users.h"
#include "s3/service.h"

namespace shoal::cli {

namespace {

// "HOST:PORT" or "[V6]:PORT" into host and port.
bool ParseAddress(const std::string& addr, std::string* host, uint16_t* port) {
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos || colon + 1 == addr.size()) return false;
  std::string h = addr.substr(0, colon), p = addr.substr(colon + 1);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  unsigned long n = std::stoul(p);
  if (n > 65535) return false;
  *host = h;
  *port = static_cast<uint16_t>(n);
  return true;
}

}  // namespace

int Serve(const std::vector<std::string>& args, Home& home) {
  std::optional<std::string> s3_addr, peer_addr, config_path;
  std::vector<std::string> peer_flags, bootstrap_flags;
  std::optional<std::string> dht_addr;
  bool lan_flag = false;
  for (size_t i = 0; i < args.size(); i++) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::cout << "usage: shoal [--home DIR] serve [--config FILE] [--listen-s3 HOST:PORT]\n"
                   "                    [--listen-peer HOST:PORT] [--peer HOST:PORT]...\n"
                   "Opens the home and serves it until SIGTERM or SIGINT.\n"
                   "  --config FILE        settings (default HOME/shoal.toml, if there is one)\n"
                   "  --listen-s3 ADDR     the S3 API (default 127.0.0.1:9000; port 0: any free port)\n"
                   "  --listen-peer ADDR   replication with other nodes and JS peers\n"
                   "                       (default 127.0.0.1:7300; port 0: any free port)\n"
                   "  --peer ADDR          a node to keep connected to (repeatable)\n"
                   "  --dht ADDR           run a DHT node here (UDP) to announce and find logs\n"
                   "  --dht-bootstrap ADDR a DHT node to join through (repeatable)\n"
                   "  --lan                find nodes on the LAN by multicast\n";
      return kExitOk;
    }
    if (a == "--listen-s3" && i + 1 < args.size()) {
      s3_addr = args[++i];
    } else if (a.rfind("--listen-s3=", 0) == 0) {
      s3_addr = a.substr(12);
    } else if (a == "--listen-peer" && i + 1 < args.size()) {
      peer_addr = args[++i];
    } else if (a.rfind("--listen-peer=", 0) == 0) {
      peer_addr = a.substr(14);
    } else if (a == "--peer" && i + 1 < args.size()) {
      peer_flags.push_back(args[++i]);
    } else if (a.rfind("--peer=", 0) == 0) {
      peer_flags.push_back(a.substr(7));
    } else if (a == "--dht" && i + 1 < args.size()) {
      dht_addr = args[++i];
    } else if (a.rfind("--dht=", 0) == 0) {
      dht_addr = a.substr(6);
    } else if (a == "--dht-bootstrap" && i + 1 < args.size()) {
      bootstrap_flags.push_back(args[++i]);
    } else if (a.rfind("--dht-bootstrap=", 0) == 0) {
      bootstrap_flags.push_back(a.substr(16));
    } else if (a == "--lan") {
      lan_flag = true;
    } else if (a == "--config" && i + 1 < args.size()) {
      config_path = args[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      config_path = a.substr(9);
    } else {
      std::cerr << "shoal: serve: unknown option " << a << "\n";
      return kExitUsage;
    }
  }
  ServeConfig config;
  {
    Status c = LoadConfig(config_path.value_or(home.dir() + "/shoal.toml"), &config);
    if (!c.ok() && !(c.IsNotFound() && !config_path)) {
      std::cerr << "shoal: serve: " << c.message() << "\n";
      return kExitUsage;
    }
  }
  if (s3_addr) config.s3_listen = *s3_addr;
  http::ServerOptions s3_listen;
  if (!ParseAddress(config.s3_listen, &s3_listen.host, &s3_listen.port)) {
    std::cerr << "shoal: serve: the S3 listener wants HOST:PORT, not '" << config.s3_listen << "'\n";
    return kExitUsage;
  }

  if (peer_addr) config.peer_listen = *peer_addr;
  node::PeeringOptions peering_options;
  {
    auto listen = net::ParseEndpoint(config.peer_listen);
    if (!listen.ok()) {
      std::cerr << "shoal: serve: the peer listener: " << listen.status().message() << "\n";
      return kExitUsage;
    }
    peering_options.listen = *listen;
    std::vector<std::string> peers = config.peers;
    peers.insert(peers.end(), peer_flags.begin(), peer_flags.end());
    for (const auto& p : peers) {
      auto ep = net::ParseEndpoint(p);
      if (!ep.ok()) {
        std::cerr << "shoal: serve: --peer: " << ep.status().message() << "\n";
        return kExitUsage;
      }
      peering_options.peers.push_back(*ep);
    }
    peering_options.follows_path = home.follows_path();
    if (dht_addr) config.dht_listen = *dht_addr;
    if (!config.dht_listen.empty()) {
      auto dht = net::ParseEndpoint(config.dht_listen);
      if (!dht.ok()) {
        std::cerr << "shoal: serve: --dht: " << dht.status().message() << "\n";
        return kExitUsage;
      }
      peering_options.discovery.dht_listen = *dht;
    }
    std::vector<std::string> bootstrap = config.dht_bootstrap;
    bootstrap.insert(bootstrap.end(), bootstrap_flags.begin(), bootstrap_flags.end());
    for (const auto& b : bootstrap) {
      auto ep = net::ParseEndpoint(b);
      if (!ep.ok()) {
        std::cerr << "shoal: serve: --dht-bootstrap: " << ep.status().message() << "\n";
        return kExitUsage;
      }
      peering_options.discovery.dht_bootstrap.push_back(*ep);
    }
    if (!bootstrap.empty() && !peering_options.discovery.dht_listen) {
      peering_options.discovery.dht_listen = net::Endpoint{"0.0.0.0", 0};
    }
    peering_options.discovery.lan = config.lan || lan_flag;
  }

  // Diagnostics go to stderr; stdout has the listener lines.
  spdlog::set_default_logger(spdlog::stderr_logger_mt("shoal"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %v");

  // Block the stop signals before any thread starts, then wait for them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Status s = home.Open();
  if (!s.ok()) {
    std::cerr << "shoal: " << s.ToString() << "\n";
    return kExitError;
  }

  auto users = node::Users::Open(home.users_path());
  if (!users.ok()) {
    std::cerr << "shoal: " << users.status().ToString() << "\n";
    return kExitError;
  }
  node::Users* user_list = users->get();
  auto s3 = s3::Service::Open(
      home.store(),
      [user_list](std::string_view access_key) { return user_list->ByAccessKey(access_key); },
      config.s3);
  if (!s3.ok()) {
    std::cerr << "shoal: " << s3.status().ToString() << "\n";
    return kExitError;
  }
  s3::Service* service = s3->get();
  auto s3_server = http::Server::Start(
      s3_listen, [service](http::Request& req, http::ResponseWriter& w) { service->Handle(req, w); });
  if (!s3_server.ok()) {
    std::cerr << "shoal: s3: " << s3_server.status().ToString() << "\n";
    return kExitError;
  }
  const std::string s3_url = "http://" + (*s3_server)->address();

  auto peering = node::Peering::Start(&home.store(), peering_options);
  if (!peering.ok()) {
    std::cerr << "shoal: peer: " << peering.status().ToString() << "\n";
    return kExitError;
  }
  home.set_peering(peering->get());
  home.set_s3(service);
  const std::string peer_address = (*peering)->endpoint()->ToString();
  const std::string peer_key = ToHex((*peering)->public_key());

  std::mutex mu;  // one command at a time against the store
  ControlServer control;
  s = control.Start(home.socket_path(), [&](const ControlRequest& req) {
    std::lock_guard lock(mu);
    std::ostringstream out, err;
    std::string input = req.stdin_data;
    Io io{out, err, [&] { return input; }};
    ControlResponse resp;
    resp.exit_code = RunCommand(req.args, home, io);
    resp.out = out.str();
    resp.err = err.str();
    return resp;
  });
  if (!s.ok()) {
    std::cerr << "shoal: " << s.ToString() << "\n";
    return kExitError;
  }

  nlohmann::ordered_json endpoints;
  endpoints["s3"] = s3_url;
  endpoints["peer"] = peer_address;
  endpoints["peerKey"] = peer_key;
  std::optional<net::Endpoint> dht = (*peering)->dht_endpoint();
  if (dht) endpoints["dht"] = dht->ToString();
  endpoints["control"] = "unix:" + home.socket_path();
  {
    std::ofstream f(home.endpoints_path() + ".tmp");
    f << endpoints.dump(2) << "\n";
  }
  std::rename((home.endpoints_path() + ".tmp").c_str(), home.endpoints_path().c_str());

  std::cout << "home " << home.dir() << "\n"
            << "store " << home.db_path() << "\n"
            << "s3 " << s3_url << "\n"
            << "peer " << peer_address << " " << peer_key << "\n"
            << (dht ? "dht " + dht->ToString() + "\n" : std::string())
            << "control unix:" << home.socket_path() << "\n"
            << std::flush;

  int sig = 0;
  sigwait(&stop, &sig);
  std::cout << "stopping (" << (sig == SIGTERM ? "SIGTERM" : "SIGINT") << ")\n" << std::flush;
  control.Stop();
  // Requests in progress fail their reads and writes; nothing is answered
  // that was not written first.
  (*s3_server)->Stop();
  {
    std::lock_guard lock(mu);
    home.set_peering(nullptr);
    home.set_s3(nullptr);
  }
  peering->reset();
  s3->reset();
  {
    std::lock_guard lock(mu);
    home.Close();
  }
  std::remove(home.endpoints_path().c_str());
  return kExitOk;
}

}  // namespace shoal::cli
