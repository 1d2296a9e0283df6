// `shoal serve`: opens the home and keeps it open for the services of the
// node, answering `shoal` commands on the control socket, until SIGTERM or
// SIGINT.
#pragma once

#include <string>
#include <vector>

#include "cli/command.h"

namespace shoal::cli {

int Serve(const std::vector<std::string>& args, Home& home);

}  // namespace shoal::cli
