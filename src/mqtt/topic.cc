#include "mqtt/topic.h"

#include <vector>

#include "mqtt/codec.h"

namespace shoal::mqtt {

bool ValidTopicName(std::string_view name) {
  return !name.empty() && name.find_first_of("+#") == std::string_view::npos &&
         ValidString(name);
}

bool ValidTopicFilter(std::string_view filter) {
  if (filter.empty() || !ValidString(filter)) return false;
  size_t start = 0;
  for (;;) {
    size_t end = filter.find('/', start);
    std::string_view level =
        filter.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    bool last = end == std::string_view::npos;
    if (level.find_first_of("+#") != std::string_view::npos) {
      if (level.size() != 1) return false;              // '+' or '#' shares its level
      if (level == "#" && !last) return false;          // '#' only at the end
    }
    if (last) return true;
    start = end + 1;
  }
}

Result<std::optional<SharedFilter>> ParseShared(std::string_view filter) {
  constexpr std::string_view kPrefix = "$share/";
  if (filter.substr(0, kPrefix.size()) != kPrefix) {
    if (filter == "$share") return Status::InvalidArgument("mqtt: $share without a group");
    return std::optional<SharedFilter>();
  }
  std::string_view rest = filter.substr(kPrefix.size());
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) {
    return Status::InvalidArgument("mqtt: a shared subscription needs $share/GROUP/FILTER");
  }
  std::string_view group = rest.substr(0, slash);
  std::string_view inner = rest.substr(slash + 1);
  if (group.empty() || group.find_first_of("+#") != std::string_view::npos) {
    return Status::InvalidArgument("mqtt: a share group must be a non-empty name");
  }
  if (!ValidTopicFilter(inner)) return Status::InvalidArgument("mqtt: invalid shared filter");
  return std::optional<SharedFilter>(SharedFilter{std::string(group), std::string(inner)});
}

namespace {

std::vector<std::string_view> SplitLevels(std::string_view s) {
  std::vector<std::string_view> out;
  for (size_t start = 0;;) {
    size_t end = s.find('/', start);
    out.push_back(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

}  // namespace

bool Covers(std::string_view outer, std::string_view inner) {
  std::vector<std::string_view> o = SplitLevels(outer), in = SplitLevels(inner);
  // A leading wildcard does not reach names starting with '$'.
  if (!in[0].empty() && in[0][0] == '$' && (o[0] == "+" || o[0] == "#")) return false;
  for (size_t i = 0;; i++) {
    if (i < o.size() && o[i] == "#") return true;
    if (i == in.size()) return i == o.size();
    if (i == o.size() || in[i] == "#") return false;
    if (o[i] == "+") continue;
    if (in[i] == "+" || o[i] != in[i]) return false;
  }
}

bool Matches(std::string_view filter, std::string_view name) {
  if (!name.empty() && name[0] == '$' && !filter.empty() && (filter[0] == '+' || filter[0] == '#')) {
    return false;
  }
  size_t f = 0, n = 0;
  for (;;) {
    size_t f_end = filter.find('/', f);
    size_t n_end = name.find('/', n);
    std::string_view fl = filter.substr(f, f_end == std::string_view::npos ? std::string_view::npos : f_end - f);
    if (fl == "#") return true;  // this level and everything below, even nothing ("a/#" ~ "a")
    if (n == std::string_view::npos) return false;  // the name ran out first
    std::string_view nl = name.substr(n, n_end == std::string_view::npos ? std::string_view::npos : n_end - n);
    if (fl != "+" && fl != nl) return false;
    bool f_last = f_end == std::string_view::npos;
    bool n_last = n_end == std::string_view::npos;
    if (f_last && n_last) return true;
    if (f_last) return false;
    f = f_end + 1;
    n = n_last ? std::string_view::npos : n_end + 1;
  }
}

}  // namespace shoal::mqtt
