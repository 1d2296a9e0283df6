// The control socket: a unix socket in the home (HOME/shoal.sock) through
// which `shoal` commands reach a running `shoal serve`, since only one process
// may open the home's database.
//
// One request per connection. All integers are u32le:
//   request:  argc, then argc x (length, bytes), then (length, stdin bytes)
//   response: exit code, (length, stdout bytes), (length, stderr bytes)
// The socket file is created 0600 and removed on clean shutdown.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"

namespace shoal::cli {

struct ControlRequest {
  std::vector<std::string> args;
  std::string stdin_data;
};

struct ControlResponse {
  int exit_code = 0;
  std::string out;
  std::string err;
};

// Sends `request` to the server at `socket_path`. NotFound if no server
// listens there (no socket, or a stale one).
Result<ControlResponse> SendControl(const std::string& socket_path,
                                    const ControlRequest& request);

// Serves control requests on its own thread until Stop().
class ControlServer {
 public:
  using Handler = std::function<ControlResponse(const ControlRequest&)>;

  ControlServer() = default;
  ~ControlServer();

  Status Start(const std::string& socket_path, Handler handler);
  void Stop();

 private:
  void Loop();

  std::string path_;
  Handler handler_;
  int fd_ = -1;
  int wake_[2] = {-1, -1};
  std::thread thread_;
};

}  // namespace shoal::cli
