#include "cli/config.h"

#include <filesystem>
#include <toml++/toml.h>

#include "mqtt/topic.h"

namespace shoal::cli {
namespace {

std::string Where(const toml::source_region& r) {
  return "line " + std::to_string(r.begin.line);
}

// `value` as a string, into *out; InvalidArgument (naming `at`) otherwise.
Status ReadString(const toml::node& value, const std::string& at, std::string* out) {
  auto v = value.value<std::string>();
  if (!v) return Status::InvalidArgument(at + " must be a string");
  *out = *v;
  return Status::OK();
}

// `value` as an array of strings, replacing *out.
Status ReadStrings(const toml::node& value, const std::string& at, std::vector<std::string>* out) {
  const toml::array* a = value.as_array();
  if (!a) return Status::InvalidArgument(at + " must be an array of strings");
  out->clear();
  for (auto& e : *a) {
    auto v = e.value<std::string>();
    if (!v) return Status::InvalidArgument(at + " must be an array of strings");
    out->push_back(*v);
  }
  return Status::OK();
}

// `value` as true or false, into *out (a bool or an optional one).
template <typename T>
Status ReadBool(const toml::node& value, const std::string& at, T* out) {
  auto v = value.value<bool>();
  if (!v) return Status::InvalidArgument(at + " must be true or false");
  *out = *v;
  return Status::OK();
}

// An integer setting in [lo, hi].
template <typename T>
Status ReadCount(const toml::node& value, const std::string& at, int64_t lo, int64_t hi,
                 std::optional<T>* out) {
  auto v = value.value<int64_t>();
  if (!v || *v < lo || *v > hi) {
    return Status::InvalidArgument(at + " must be an integer from " + std::to_string(lo) +
                                   " to " + std::to_string(hi));
  }
  *out = static_cast<T>(*v);
  return Status::OK();
}

// [[mqtt.acl]] tables: user, publish, subscribe, deny_publish,
// deny_subscribe; every filter valid.
Status ReadAcl(const toml::node& value, const std::string& at,
               std::vector<mqtt::AclRule>* out) {
  const toml::array* entries = value.as_array();
  if (entries == nullptr) return Status::InvalidArgument(at + " must be [[mqtt.acl]] tables");
  for (const toml::node& entry : *entries) {
    const toml::table* t = entry.as_table();
    const std::string where = at + " (line " + std::to_string(entry.source().begin.line) + ")";
    if (t == nullptr) return Status::InvalidArgument(where + " must be a table");
    mqtt::AclRule acl;
    for (auto& [key, v] : *t) {
      const std::string k(key.str());
      if (k == "user") {
        SHOAL_RETURN_IF_ERROR(ReadString(v, where + ".user", &acl.user));
      } else if (k == "publish" || k == "subscribe" || k == "deny_publish" ||
                 k == "deny_subscribe") {
        auto* list = k == "publish"          ? &acl.publish
                     : k == "subscribe"      ? &acl.subscribe
                     : k == "deny_publish"   ? &acl.deny_publish
                                             : &acl.deny_subscribe;
        SHOAL_RETURN_IF_ERROR(ReadStrings(v, where + "." + k, list));
        for (const std::string& f : *list) {
          if (!mqtt::ValidTopicFilter(f)) {
            return Status::InvalidArgument(where + "." + k + ": not a topic filter: " + f);
          }
        }
      } else {
        return Status::InvalidArgument(where + ": unknown key " + k);
      }
    }
    if (acl.user.empty()) return Status::InvalidArgument(where + " needs a user");
    out->push_back(std::move(acl));
  }
  return Status::OK();
}

}  // namespace

Status LoadConfig(const std::string& path, ServeConfig* config) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return Status::NotFound("no config file " + path);
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(path + ": " + Where(e.source()) + ": " +
                                   std::string(e.description()));
  }
  for (auto& [section, value] : root) {
    if ((section.str() != "s3" && section.str() != "peer" && section.str() != "discovery" &&
         section.str() != "mqtt" && section.str() != "tls") ||
        !value.is_table()) {
      return Status::InvalidArgument(path + ": " + Where(value.source()) + ": unknown section [" +
                                     std::string(section.str()) + "]");
    }
  }
  if (const toml::table* s3 = root["s3"].as_table()) {
    for (auto& [key, value] : *s3) {
      const std::string k(key.str());
      const std::string at = path + ": " + Where(value.source()) + ": s3." + k;
      if (k == "listen_tls") {
        SHOAL_RETURN_IF_ERROR(ReadString(value, at, &config->s3_listen_tls));
      } else if (k == "listen" || k == "region") {
        SHOAL_RETURN_IF_ERROR(ReadString(value, at, k == "listen" ? &config->s3_listen : &config->s3.region));
      } else if (k == "domains") {
        SHOAL_RETURN_IF_ERROR(ReadStrings(value, at, &config->s3.domains));
      } else if (k == "max_clock_skew_seconds") {
        auto v = value.value<int64_t>();
        if (!v || *v < 1) return Status::InvalidArgument(at + " must be a positive integer");
        config->s3.max_clock_skew_seconds = *v;
      } else {
        return Status::InvalidArgument(path + ": " + Where(value.source()) + ": unknown key s3." + k);
      }
    }
  }
  if (const toml::table* peer = root["peer"].as_table()) {
    for (auto& [key, value] : *peer) {
      const std::string k(key.str());
      const std::string at = path + ": " + Where(value.source()) + ": peer." + k;
      if (k == "listen") {
        SHOAL_RETURN_IF_ERROR(ReadString(value, at, &config->peer_listen));
      } else if (k == "peers") {
        SHOAL_RETURN_IF_ERROR(ReadStrings(value, at, &config->peers));
      } else {
        return Status::InvalidArgument(path + ": " + Where(value.source()) + ": unknown key peer." + k);
      }
    }
  }
  if (const toml::table* d = root["discovery"].as_table()) {
    for (auto& [key, value] : *d) {
      const std::string k(key.str());
      const std::string at = path + ": " + Where(value.source()) + ": discovery." + k;
      if (k == "dht") {
        SHOAL_RETURN_IF_ERROR(ReadString(value, at, &config->dht_listen));
      } else if (k == "bootstrap") {
        SHOAL_RETURN_IF_ERROR(ReadStrings(value, at, &config->dht_bootstrap));
      } else if (k == "lan") {
        SHOAL_RETURN_IF_ERROR(ReadBool(value, at, &config->lan));
      } else {
        return Status::InvalidArgument(path + ": " + Where(value.source()) + ": unknown key discovery." + k);
      }
    }
  }
  if (const toml::table* t = root["tls"].as_table()) {
    const std::filesystem::path folder = std::filesystem::path(path).parent_path();
    for (auto& [key, value] : *t) {
      const std::string k(key.str());
      const std::string at = path + ": " + Where(value.source()) + ": tls." + k;
      if (k == "cert" || k == "key") {
        std::string* file = k == "cert" ? &config->tls_cert : &config->tls_key;
        SHOAL_RETURN_IF_ERROR(ReadString(value, at, file));
        *file = (folder / *file).string();  // an absolute path stays as it is
      } else {
        return Status::InvalidArgument(path + ": " + Where(value.source()) + ": unknown key tls." + k);
      }
    }
    if (config->tls_cert.empty() != config->tls_key.empty()) {
      return Status::InvalidArgument(path + ": [tls] needs both cert and key");
    }
  }
  if (const toml::table* m = root["mqtt"].as_table()) {
    for (auto& [key, value] : *m) {
      const std::string k(key.str());
      const std::string at = path + ": " + Where(value.source()) + ": mqtt." + k;
      if (k == "listen") {
        SHOAL_RETURN_IF_ERROR(ReadString(value, at, &config->mqtt_listen));
      } else if (k == "listen_tls") {
        SHOAL_RETURN_IF_ERROR(ReadString(value, at, &config->mqtt_listen_tls));
      } else if (k == "allow_anonymous") {
        SHOAL_RETURN_IF_ERROR(ReadBool(value, at, &config->mqtt_allow_anonymous));
      } else if (k == "max_packet_size") {
        SHOAL_RETURN_IF_ERROR(ReadCount(value, at, 16, 268'435'460, &config->mqtt_max_packet_size));
      } else if (k == "receive_maximum") {
        SHOAL_RETURN_IF_ERROR(ReadCount(value, at, 1, 65535, &config->mqtt_receive_maximum));
      } else if (k == "max_inflight") {
        SHOAL_RETURN_IF_ERROR(ReadCount(value, at, 1, 65535, &config->mqtt_max_inflight));
      } else if (k == "max_queued") {
        SHOAL_RETURN_IF_ERROR(ReadCount(value, at, 0, 1u << 31, &config->mqtt_max_queued));
      } else if (k == "max_queued_bytes") {
        SHOAL_RETURN_IF_ERROR(ReadCount(value, at, 0, int64_t{1} << 40, &config->mqtt_max_queued_bytes));
      } else if (k == "max_keep_alive") {
        SHOAL_RETURN_IF_ERROR(ReadCount(value, at, 1, 65535, &config->mqtt_max_keep_alive));
      } else if (k == "max_connections") {
        SHOAL_RETURN_IF_ERROR(ReadCount(value, at, 1, 1u << 31, &config->mqtt_max_connections));
      } else if (k == "acl") {
        SHOAL_RETURN_IF_ERROR(ReadAcl(value, at, &config->mqtt_acl));
      } else {
        return Status::InvalidArgument(path + ": " + Where(value.source()) + ": unknown key mqtt." + k);
      }
    }
  }
  return Status::OK();
}

}  // namespace shoal::cli
