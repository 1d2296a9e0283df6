#include "cli/config.h"

#include <filesystem>
#include <toml++/toml.h>

namespace shoal::cli {
namespace {

std::string Where(const toml::source_region& r) {
  return "line " + std::to_string(r.begin.line);
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
    if ((section.str() != "s3" && section.str() != "peer" && section.str() != "discovery") ||
        !value.is_table()) {
      return Status::InvalidArgument(path + ": " + Where(value.source()) + ": unknown section [" +
                                     std::string(section.str()) + "]");
    }
  }
  if (const toml::table* s3 = root["s3"].as_table()) {
    for (auto& [key, value] : *s3) {
      const std::string k(key.str());
      const std::string at = path + ": " + Where(value.source()) + ": s3." + k;
      if (k == "listen" || k == "region") {
        auto v = value.value<std::string>();
        if (!v) return Status::InvalidArgument(at + " must be a string");
        (k == "listen" ? config->s3_listen : config->s3.region) = *v;
      } else if (k == "domains") {
        const toml::array* a = value.as_array();
        if (!a) return Status::InvalidArgument(at + " must be an array of strings");
        config->s3.domains.clear();
        for (auto& d : *a) {
          auto v = d.value<std::string>();
          if (!v) return Status::InvalidArgument(at + " must be an array of strings");
          config->s3.domains.push_back(*v);
        }
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
        auto v = value.value<std::string>();
        if (!v) return Status::InvalidArgument(at + " must be a string");
        config->peer_listen = *v;
      } else if (k == "peers") {
        const toml::array* a = value.as_array();
        if (!a) return Status::InvalidArgument(at + " must be an array of strings");
        config->peers.clear();
        for (auto& d : *a) {
          auto v = d.value<std::string>();
          if (!v) return Status::InvalidArgument(at + " must be an array of strings");
          config->peers.push_back(*v);
        }
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
        auto v = value.value<std::string>();
        if (!v) return Status::InvalidArgument(at + " must be a string");
        config->dht_listen = *v;
      } else if (k == "bootstrap") {
        const toml::array* a = value.as_array();
        if (!a) return Status::InvalidArgument(at + " must be an array of strings");
        config->dht_bootstrap.clear();
        for (auto& e : *a) {
          auto v = e.value<std::string>();
          if (!v) return Status::InvalidArgument(at + " must be an array of strings");
          config->dht_bootstrap.push_back(*v);
        }
      } else if (k == "lan") {
        auto v = value.value<bool>();
        if (!v) return Status::InvalidArgument(at + " must be true or false");
        config->lan = *v;
      } else {
        return Status::InvalidArgument(path + ": " + Where(value.source()) + ": unknown key discovery." + k);
      }
    }
  }
  return Status::OK();
}

}  // namespace shoal::cli
