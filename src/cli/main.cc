// The `shoal` binary: global options, then one command. Commands other than
// `serve` go through a running `shoal serve` on the same home when there is
// one (control.h), and open the home themselves when there is not.
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/control.h"
#include "cli/serve.h"

namespace {

constexpr char kUsage[] =
    "usage: shoal [--home DIR] COMMAND ...\n"
    "\n"
    "commands:\n"
    "  init [--seed HEX64]            create the home and its master seed\n"
    "  serve [--listen-s3 HOST:PORT]  run the node until SIGTERM (S3 on 127.0.0.1:9000 by default)\n"
    "  credentials [--user NAME] [--json]   the S3 keys, as AWS_ACCESS_KEY_ID=... lines\n"
    "  user add NAME [--json]         add a user; prints its new S3 keys\n"
    "  log append NAME [VALUE...] [--hex]   append (stdin lines when no VALUE)\n"
    "  log get NAME|KEY INDEX         one raw block on stdout\n"
    "  log info NAME|KEY [--json]     key, discovery key, length, tree hash, signature\n"
    "  log dump NAME|KEY              every block as hex ('-' when missing)\n"
    "  log verify NAME|KEY            re-check every stored byte\n"
    "  log truncate NAME|KEY LENGTH   cut the log (new fork)\n"
    "  log proof NAME|KEY [--block I] [--hash I] [--seek B] [--upgrade S:L] [--nodes N] [--manifest]\n"
    "                                 a proof as hex (hypercore's `data` message)\n"
    "  log apply KEY [HEX...]         verify proofs into a read-only copy of KEY\n"
    "  kv put NAME KEY VALUE · kv get NAME KEY [--version V] · kv del NAME KEY\n"
    "  kv batch NAME                  stdin lines put<TAB>KEY<TAB>VALUE / del<TAB>KEY, one append\n"
    "  kv diff NAME V1 [V2] [--json]  what changed between two versions\n"
    "  kv compact NAME                free blocks the newest version no longer uses\n"
    "  kv ls NAME [--gte K] [--gt K] [--lte K] [--lt K] [--reverse] [--limit N] [--version V] [--json]\n"
    "  log clear NAME|KEY START [END] delete stored blocks and free their space\n"
    "\n"
    "--home defaults to $SHOAL_HOME, then ~/.local/share/shoal.\n";

}  // namespace

int main(int argc, char** argv) {
  using namespace shoal::cli;
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string home_dir = DefaultHome();
  while (!args.empty() && args[0].rfind("--", 0) == 0) {
    if (args[0] == "--home" && args.size() >= 2) {
      home_dir = args[1];
      args.erase(args.begin(), args.begin() + 2);
    } else if (args[0].rfind("--home=", 0) == 0) {
      home_dir = args[0].substr(7);
      args.erase(args.begin());
    } else if (args[0] == "--help") {
      std::cout << kUsage;
      return kExitOk;
    } else {
      std::cerr << "shoal: unknown option " << args[0] << "\n" << kUsage;
      return kExitUsage;
    }
  }
  if (args.empty()) {
    std::cerr << kUsage;
    return kExitUsage;
  }

  Home home(std::filesystem::absolute(home_dir).lexically_normal().string());
  if (args[0] == "serve") {
    return Serve(std::vector<std::string>(args.begin() + 1, args.end()), home);
  }

  bool reads_stdin = CommandReadsStdin(args);
  std::string input;
  bool input_read = false;
  auto read_stdin = [&] {
    if (!input_read) {
      input.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
      input_read = true;
    }
    return input;
  };

  if (access(home.socket_path().c_str(), F_OK) == 0) {
    ControlRequest req{args, reads_stdin ? read_stdin() : std::string()};
    auto resp = SendControl(home.socket_path(), req);
    if (resp.ok()) {
      std::cout << resp->out << std::flush;
      std::cerr << resp->err << std::flush;
      return resp->exit_code;
    }
    if (!resp.status().IsNotFound()) {
      std::cerr << "shoal: " << resp.status().ToString() << "\n";
      return kExitError;
    }
  }
  Io io{std::cout, std::cerr, read_stdin};
  int code = RunCommand(args, home, io);
  std::cout.flush();
  return code;
}
