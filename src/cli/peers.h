// `shoal follow` and `shoal peers`: the commands about other nodes.
#pragma once

#include <string>
#include <vector>

#include "cli/command.h"

namespace shoal::cli {

// Follows the log KEY; with `bucket`, KEY is a drive's db log and the drive
// becomes that read-only S3 bucket of user `user`. Inside a running
// `shoal serve`, it is followed live from then on (and after restarts), and
// each --peer is dialled and kept. Without a running node it downloads from
// the --peer nodes until its copy is as long as theirs, or `timeout_seconds`
// pass, and exits.
int FollowCommand(Home& home, Io& io, const std::string& key_hex,
                  const std::vector<std::string>& peers, const std::string& bucket,
                  const std::string& user, int timeout_seconds);

// The connected peers and what they replicate, and the download progress of
// every log the node replicates.
int PeersCommand(Home& home, Io& io, bool json);

// The S3 buckets, each with the key of its drive (what `follow --bucket` takes).
int BucketsCommand(Home& home, Io& io, bool json);

}  // namespace shoal::cli
