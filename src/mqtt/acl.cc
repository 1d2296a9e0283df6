#include "mqtt/acl.h"

#include "mqtt/topic.h"

namespace shoal::mqtt {
namespace {

// Whether `value` may stand for a whole level of a filter.
bool Fills(std::string_view value) {
  return !value.empty() && value.front() != '$' &&
         value.find_first_of("/+#") == std::string_view::npos;
}

// `filter` with its "%u" and "%c" levels filled in; for a level that cannot
// be filled, '+' in a deny filter and nullopt (matches nothing) in an allow
// filter.
std::optional<std::string> Fill(std::string_view filter, bool deny,
                                const std::optional<std::string>& username,
                                std::string_view client_id) {
  std::string out;
  out.reserve(filter.size() + 16);
  size_t start = 0;
  for (;;) {
    const size_t end = filter.find('/', start);
    const std::string_view level = filter.substr(start, end - start);
    if (level == "%u" || level == "%c") {
      // No user name reads as "", which fills nothing.
      const std::string_view value =
          level == "%c" ? client_id : username ? std::string_view(*username) : "";
      if (Fills(value)) {
        out += value;
      } else if (deny) {
        out += '+';
      } else {
        return std::nullopt;
      }
    } else {
      out += level;
    }
    if (end == std::string_view::npos) return out;
    out += '/';
    start = end + 1;
  }
}

bool HasPattern(std::string_view filter) {
  return filter.find("%u") != std::string_view::npos || filter.find("%c") != std::string_view::npos;
}

}  // namespace

Acl::Acl(std::vector<AclRule> rules) : rules_(std::move(rules)) {}

bool Acl::Hits(const std::vector<std::string>& filters, bool deny, bool covers,
               const std::optional<std::string>& username, std::string_view client_id,
               std::string_view topic) const {
  for (const std::string& f : filters) {
    std::optional<std::string> filled;
    std::string_view filter = f;
    if (HasPattern(f)) {
      filled = Fill(f, deny, username, client_id);
      if (!filled) continue;
      filter = *filled;
    }
    if (covers ? Covers(filter, topic) : Matches(filter, topic)) return true;
  }
  return false;
}

bool Acl::Allows(const std::optional<std::string>& username, std::string_view client_id,
                 Access access, std::string_view topic) const {
  bool allowed = false;
  for (const AclRule& rule : rules_) {
    const bool applies =
        rule.user == "*" || (username ? rule.user == *username : rule.user == "anonymous");
    if (!applies) continue;
    switch (access) {
      case Access::kPublish:
        if (Hits(rule.deny_publish, true, false, username, client_id, topic)) return false;
        allowed = allowed || Hits(rule.publish, false, false, username, client_id, topic);
        break;
      case Access::kSubscribe:
        if (Hits(rule.deny_subscribe, true, true, username, client_id, topic)) return false;
        allowed = allowed || Hits(rule.subscribe, false, true, username, client_id, topic);
        break;
      case Access::kReceive:
        if (Hits(rule.deny_subscribe, true, false, username, client_id, topic)) return false;
        allowed = allowed || Hits(rule.subscribe, false, false, username, client_id, topic);
        break;
    }
  }
  return allowed;
}

}  // namespace shoal::mqtt
