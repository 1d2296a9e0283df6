// `shoal follow` and `shoal peers`: the commands about other nodes.
#pragma once

#include <string>
#include <vector>

#include "cli/command.h"

namespace shoal::cli {

// Follows the log KEY. Inside a running `shoal serve`, it is followed live
// from then on (and after restarts), and each --peer is dialled and kept.
// Without a running node it downloads KEY from the --peer nodes until its
// copy is as long as theirs, or `timeout_seconds` pass, and exits.
int FollowCommand(Home& home, Io& io, const std::string& key_hex,
                  const std::vector<std::string>& peers, int timeout_seconds);

// The connected peers and what they replicate, and the download progress of
// every log the node replicates.
int PeersCommand(Home& home, Io& io, bool json);

}  // namespace shoal::cli
