#include "cli/serve.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/control.h"

namespace shoal::cli {

int Serve(const std::vector<std::string>& args, Home& home) {
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      std::cout << "usage: shoal [--home DIR] serve\n"
                   "Opens the home and serves it until SIGTERM or SIGINT.\n";
      return kExitOk;
    }
    std::cerr << "shoal: serve: unknown option " << a << "\n";
    return kExitUsage;
  }

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
  endpoints["control"] = "unix:" + home.socket_path();
  {
    std::ofstream f(home.endpoints_path() + ".tmp");
    f << endpoints.dump(2) << "\n";
  }
  std::rename((home.endpoints_path() + ".tmp").c_str(), home.endpoints_path().c_str());

  std::cout << "home " << home.dir() << "\n"
            << "store " << home.db_path() << "\n"
            << "control unix:" << home.socket_path() << "\n"
            << std::flush;

  int sig = 0;
  sigwait(&stop, &sig);
  std::cout << "stopping (" << (sig == SIGTERM ? "SIGTERM" : "SIGINT") << ")\n" << std::flush;
  control.Stop();
  {
    std::lock_guard lock(mu);
    home.Close();
  }
  std::remove(home.endpoints_path().c_str());
  return kExitOk;
}

}  // namespace shoal::cli
