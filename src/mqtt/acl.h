// Access control lists: what each client may publish, subscribe to and
// receive, from rules such as those of `[[mqtt.acl]]` in shoal.toml. An Acl
// is the broker's `authorize` callback (BrokerOptions::authorize).
//
// A rule applies to one user name, to "anonymous" (clients that gave none)
// or to "*" (every client). In its topic filters a level that is exactly
// "%u" stands for the client's user name and one that is exactly "%c" for
// its client id, so one rule can give every device a subtree of its own:
//
//   user = "*", publish = ["devices/%c/#"], subscribe = ["devices/%c/cmd"]
//
// A name or id that cannot fill a level safely (empty, holding '/', '+' or
// '#', or starting with '$'), or a missing user name, fills none: an allow
// filter with it matches nothing, and a deny filter takes '+' there, so it
// refuses whatever any name would.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mqtt/broker.h"

namespace shoal::mqtt {

struct AclRule {
  std::string user;                    // a user name, "anonymous", or "*"
  std::vector<std::string> publish;    // topic names one may publish to
  std::vector<std::string> subscribe;  // filters one may subscribe within
  // Refused even where an allow filter matches: no publishing there, no
  // subscribing to a filter one of them covers, and no receiving messages
  // published there through a wider subscription.
  std::vector<std::string> deny_publish;
  std::vector<std::string> deny_subscribe;
};

class Acl {
 public:
  explicit Acl(std::vector<AclRule> rules);

  // Whether the client may do `access` with `topic` (a topic name, or for
  // kSubscribe a filter, the one inside a $share). Each needs a filter of a
  // rule for the client that allows it and none that denies it:
  //   kPublish    a publish filter matches; no deny_publish filter does.
  //   kSubscribe  a subscribe filter covers the filter; no deny_subscribe
  //               filter covers it.
  //   kReceive    a subscribe filter matches; no deny_subscribe filter does.
  // Checking every message sent, not only the SUBSCRIBE, makes a change of
  // the rules apply to subscriptions made before it (sessions are kept
  // across restarts), and makes a deny filter inside a granted wider
  // subscription hold.
  bool Allows(const std::optional<std::string>& username, std::string_view client_id,
              Access access, std::string_view topic) const;

 private:
  bool Hits(const std::vector<std::string>& filters, bool deny, bool covers,
            const std::optional<std::string>& username, std::string_view client_id,
            std::string_view topic) const;

  std::vector<AclRule> rules_;
};

}  // namespace shoal::mqtt
