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
#include "crypto/sign.h"
#include "crypto/tls.h"
#include "http/server.h"
#include "http/websocket.h"
#include "mqtt/server.h"
#include "node/peering.h"
#include "node/users.h"
#include "s3/service.h"

namespace shoal::cli {

namespace {

bool IsLoopback(const std::string& host) {
  return host.rfind("127.", 0) == 0 || host == "::1" || host == "localhost";
}

// If args[*i] is `--NAME VALUE` or `--NAME=VALUE`, the value (moving *i past
// it); nullopt otherwise.
std::optional<std::string> FlagValue(const std::vector<std::string>& args, size_t* i,
                                     std::string_view name) {
  const std::string& a = args[*i];
  if (a == name && *i + 1 < args.size()) return args[++*i];
  if (a.size() > name.size() && a.compare(0, name.size(), name) == 0 && a[name.size()] == '=') {
    return a.substr(name.size() + 1);
  }
  return std::nullopt;
}

// `text` as HOST:PORT; InvalidArgument starting with `what` otherwise.
Result<net::Endpoint> EndpointSetting(const std::string& text, std::string_view what) {
  auto ep = net::ParseEndpoint(text);
  if (!ep.ok()) return Status::InvalidArgument(std::string(what) + ": " + ep.status().message());
  return ep;
}

// The peering `config` asks for; InvalidArgument names a setting that is
// not HOST:PORT.
Result<node::PeeringOptions> PeeringSettings(const ServeConfig& config,
                                             const std::string& follows_path) {
  node::PeeringOptions o;
  SHOAL_ASSIGN_OR_RETURN(o.listen, EndpointSetting(config.peer_listen, "the peer listener"));
  for (const auto& p : config.peers) {
    SHOAL_ASSIGN_OR_RETURN(net::Endpoint ep, EndpointSetting(p, "--peer"));
    o.peers.push_back(ep);
  }
  o.follows_path = follows_path;
  if (!config.dht_listen.empty()) {
    SHOAL_ASSIGN_OR_RETURN(o.discovery.dht_listen, EndpointSetting(config.dht_listen, "--dht"));
  }
  for (const auto& b : config.dht_bootstrap) {
    SHOAL_ASSIGN_OR_RETURN(net::Endpoint ep, EndpointSetting(b, "--dht-bootstrap"));
    o.discovery.dht_bootstrap.push_back(ep);
  }
  // Joining a DHT needs a node of our own: any address, any port.
  if (!o.discovery.dht_bootstrap.empty() && !o.discovery.dht_listen) {
    o.discovery.dht_listen = net::Endpoint{"0.0.0.0", 0};
  }
  o.discovery.lan = config.lan;
  return o;
}

}  // namespace

int Serve(const std::vector<std::string>& args, Home& home) {
  std::optional<std::string> s3_addr, https_addr, peer_addr, mqtt_addr, mqtts_addr, config_path;
  std::vector<std::string> peer_flags, bootstrap_flags;
  std::optional<std::string> dht_addr;
  bool lan_flag = false;
  for (size_t i = 0; i < args.size(); i++) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::cout << "usage: shoal [--home DIR] serve [--config FILE] [--listen-s3 HOST:PORT]\n"
                   "                    [--listen-https HOST:PORT] [--listen-peer HOST:PORT]\n"
                   "                    [--listen-mqtt HOST:PORT] [--listen-mqtts HOST:PORT]\n"
                   "                    [--peer HOST:PORT]...\n"
                   "Opens the home and serves it until SIGTERM or SIGINT.\n"
                   "  --config FILE        settings (default HOME/shoal.toml, if there is one)\n"
                   "  --listen-s3 ADDR     the S3 API, and MQTT over WebSocket at /mqtt\n"
                   "                       (default 127.0.0.1:9000; port 0: any free port)\n"
                   "  --listen-https ADDR  the same over TLS, served when [tls] in the config\n"
                   "                       names a certificate (default 127.0.0.1:9443)\n"
                   "  --listen-peer ADDR   replication with other nodes and JS peers\n"
                   "                       (default 127.0.0.1:7300; port 0: any free port)\n"
                   "  --listen-mqtt ADDR   the MQTT broker (default 127.0.0.1:1883)\n"
                   "  --listen-mqtts ADDR  the MQTT broker over TLS, served when [tls] in the\n"
                   "                       config names a certificate (default 127.0.0.1:8883)\n"
                   "  --peer ADDR          a node to keep connected to (repeatable)\n"
                   "  --dht ADDR           run a DHT node here (UDP) to announce and find logs\n"
                   "  --dht-bootstrap ADDR a DHT node to join through (repeatable)\n"
                   "  --lan                find nodes on the LAN by multicast\n";
      return kExitOk;
    }
    if (auto v = FlagValue(args, &i, "--listen-s3")) {
      s3_addr = *v;
    } else if (auto v = FlagValue(args, &i, "--listen-https")) {
      https_addr = *v;
    } else if (auto v = FlagValue(args, &i, "--listen-peer")) {
      peer_addr = *v;
    } else if (auto v = FlagValue(args, &i, "--listen-mqtt")) {
      mqtt_addr = *v;
    } else if (auto v = FlagValue(args, &i, "--listen-mqtts")) {
      mqtts_addr = *v;
    } else if (auto v = FlagValue(args, &i, "--peer")) {
      peer_flags.push_back(*v);
    } else if (auto v = FlagValue(args, &i, "--dht")) {
      dht_addr = *v;
    } else if (auto v = FlagValue(args, &i, "--dht-bootstrap")) {
      bootstrap_flags.push_back(*v);
    } else if (a == "--lan") {
      lan_flag = true;
    } else if (auto v = FlagValue(args, &i, "--config")) {
      config_path = *v;
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
  if (https_addr) config.s3_listen_tls = *https_addr;
  if (mqtt_addr) config.mqtt_listen = *mqtt_addr;
  if (mqtts_addr) config.mqtt_listen_tls = *mqtts_addr;
  auto s3_ep = EndpointSetting(config.s3_listen, "the S3 listener");
  auto https_ep = EndpointSetting(config.s3_listen_tls, "the HTTPS listener");
  auto mqtt_ep = EndpointSetting(config.mqtt_listen, "the MQTT listener");
  auto mqtts_ep = EndpointSetting(config.mqtt_listen_tls, "the MQTT TLS listener");
  for (const Status& st :
       {s3_ep.status(), https_ep.status(), mqtt_ep.status(), mqtts_ep.status()}) {
    if (!st.ok()) {
      std::cerr << "shoal: serve: " << st.message() << "\n";
      return kExitUsage;
    }
  }
  http::ServerOptions s3_listen;
  s3_listen.host = s3_ep->host;
  s3_listen.port = s3_ep->port;
  http::ServerOptions https_listen;
  https_listen.host = https_ep->host;
  https_listen.port = https_ep->port;
  mqtt::ServerOptions mqtt_options;
  mqtt_options.host = mqtt_ep->host;
  mqtt_options.port = mqtt_ep->port;
  if (!config.tls_cert.empty()) {
    auto tls = crypto::TlsContext::ForServer(config.tls_cert, config.tls_key);
    if (!tls.ok()) {
      std::cerr << "shoal: serve: " << tls.status().message() << "\n";
      return kExitUsage;
    }
    https_listen.tls = *tls;
    mqtt_options.tls = std::move(*tls);
    mqtt_options.tls_host = mqtts_ep->host;
    mqtt_options.tls_port = mqtts_ep->port;
  } else if (mqtts_addr || https_addr) {
    std::cerr << "shoal: serve: " << (mqtts_addr ? "--listen-mqtts" : "--listen-https")
              << " needs a certificate ([tls] cert and key)\n";
    return kExitUsage;
  }
  {
    mqtt::BrokerOptions& b = mqtt_options.broker;
    if (config.mqtt_max_packet_size) b.max_packet_size = *config.mqtt_max_packet_size;
    if (config.mqtt_receive_maximum) b.receive_maximum = *config.mqtt_receive_maximum;
    if (config.mqtt_max_inflight) b.max_inflight = *config.mqtt_max_inflight;
    if (config.mqtt_max_queued) b.max_queued = *config.mqtt_max_queued;
    if (config.mqtt_max_queued_bytes) b.max_queued_bytes = *config.mqtt_max_queued_bytes;
    if (config.mqtt_max_keep_alive) b.max_keep_alive = *config.mqtt_max_keep_alive;
    if (config.mqtt_max_connections) mqtt_options.max_connections = *config.mqtt_max_connections;
  }

  if (peer_addr) config.peer_listen = *peer_addr;
  config.peers.insert(config.peers.end(), peer_flags.begin(), peer_flags.end());
  if (dht_addr) config.dht_listen = *dht_addr;
  config.dht_bootstrap.insert(config.dht_bootstrap.end(), bootstrap_flags.begin(),
                              bootstrap_flags.end());
  config.lan = config.lan || lan_flag;
  auto peering_options = PeeringSettings(config, home.follows_path());
  if (!peering_options.ok()) {
    std::cerr << "shoal: serve: " << peering_options.status().message() << "\n";
    return kExitUsage;
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

  // MQTT clients sign in as a node user: the user's name, and its secret
  // key as the password. Without a name, only while every listener MQTT is
  // served on (TCP, TLS, and WebSocket on the HTTP and HTTPS listeners) is on
  // loopback, unless the config says otherwise.
  const bool anonymous = config.mqtt_allow_anonymous.value_or(
      IsLoopback(mqtt_options.host) && IsLoopback(s3_listen.host) &&
      (!mqtt_options.tls ||
       (IsLoopback(mqtt_options.tls_host) && IsLoopback(https_listen.host))));
  mqtt_options.broker.authenticate = [user_list, anonymous](
                                         const std::optional<std::string>& name,
                                         const std::optional<Bytes>& password) -> uint8_t {
    if (!name) return anonymous ? mqtt::reason::kSuccess : mqtt::reason::kNotAuthorized;
    auto user = user_list->ByName(*name);
    if (!user || !password || !crypto::ConstantTimeEqual(*password, AsBytes(user->secret_key))) {
      return mqtt::reason::kBadUserNameOrPassword;
    }
    return mqtt::reason::kSuccess;
  };
  if (!config.mqtt_acl.empty()) {
    auto acl = std::make_shared<const mqtt::Acl>(config.mqtt_acl);
    mqtt_options.broker.authorize = [acl](const std::optional<std::string>& user,
                                          std::string_view client_id, mqtt::Access access,
                                          std::string_view topic) {
      return acl->Allows(user, client_id, access, topic);
    };
  }
  // Sessions, wills and retained messages live in the node's database.
  mqtt_options.broker.db = &home.store().db();
  mqtt_options.broker.log = [](const std::string& line) { std::cerr << "shoal: " << line << "\n"; };
  auto mqtt_server = mqtt::Server::Start(mqtt_options);
  if (!mqtt_server.ok()) {
    std::cerr << "shoal: mqtt: " << mqtt_server.status().ToString() << "\n";
    return kExitError;
  }
  const std::string mqtt_url = "mqtt://" + (*mqtt_server)->address();
  const std::string mqtts_url =
      mqtt_options.tls ? "mqtts://" + (*mqtt_server)->tls_address() : std::string();

  auto s3 = s3::Service::Open(
      home.store(),
      [user_list](std::string_view access_key) { return user_list->ByAccessKey(access_key); },
      config.s3);
  if (!s3.ok()) {
    std::cerr << "shoal: " << s3.status().ToString() << "\n";
    return kExitError;
  }
  s3::Service* service = s3->get();
  // The HTTP listener serves S3, and MQTT over WebSocket at /mqtt (only
  // requests that ask to upgrade; a plain GET /mqtt is S3's, the bucket
  // "mqtt").
  mqtt::Server* broker = mqtt_server->get();
  http::Handler handler = [service, broker](http::Request& req, http::ResponseWriter& w) {
    if (req.path == "/mqtt" && http::ws::IsUpgrade(req)) {
      broker->HandleWebSocket(req, w);
      return;
    }
    service->Handle(req, w);
  };
  auto s3_server = http::Server::Start(s3_listen, handler);
  if (!s3_server.ok()) {
    std::cerr << "shoal: s3: " << s3_server.status().ToString() << "\n";
    return kExitError;
  }
  const std::string s3_url = "http://" + (*s3_server)->address();
  std::unique_ptr<http::Server> https_server;
  if (https_listen.tls) {
    auto started = http::Server::Start(https_listen, handler);
    if (!started.ok()) {
      std::cerr << "shoal: https: " << started.status().ToString() << "\n";
      return kExitError;
    }
    https_server = std::move(*started);
  }
  const std::string https_url = https_server ? "https://" + https_server->address() : "";

  auto peering = node::Peering::Start(&home.store(), *peering_options);
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
  if (!https_url.empty()) endpoints["https"] = https_url;
  endpoints["mqtt"] = mqtt_url;
  if (!mqtts_url.empty()) endpoints["mqtts"] = mqtts_url;
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
            << (https_url.empty() ? std::string() : "https " + https_url + "\n")
            << "mqtt " << mqtt_url << "\n"
            << (mqtts_url.empty() ? std::string() : "mqtts " + mqtts_url + "\n")
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
  if (https_server) https_server->Stop();
  (*mqtt_server)->Stop();
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
