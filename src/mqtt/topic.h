// Topic names, topic filters and shared subscriptions (MQTT 5.0 §4.7-4.8;
// 3.1.1 §4.7 has the same rules for names and filters).
//
//   name    "a/b/c": levels split by '/', may be empty ("a//b", "/a");
//           no '+' or '#'; at least one character.
//   filter  a name whose levels may be '+' (any one level) or, as the last
//           level only, '#' (the parent level and everything below it).
//           '+' and '#' must fill their level.
//   shared  "$share/GROUP/FILTER": GROUP is at least one character without
//           '/', '+' or '#'.
// A filter starting with '+' or '#' does not match a name starting with '$'
// ($SYS/..., for instance).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace shoal::mqtt {

bool ValidTopicName(std::string_view name);
bool ValidTopicFilter(std::string_view filter);

struct SharedFilter {
  std::string group;
  std::string filter;
};

// The group and filter of a "$share/..." filter; nullopt for any other
// filter. InvalidArgument for a "$share" filter that breaks the rules above
// (the broker answers 0x8F Topic Filter Invalid).
Result<std::optional<SharedFilter>> ParseShared(std::string_view filter);

// Whether `filter` (valid, not shared) matches `name` (valid).
bool Matches(std::string_view filter, std::string_view name);

// Whether every name `inner` matches is matched by `outer` (both valid,
// not shared): "a/#" covers "a/+/b" and "a"; "+/b" does not cover "#".
bool Covers(std::string_view outer, std::string_view inner);

}  // namespace shoal::mqtt
