#include "cli/command.h"

#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/peers.h"
#include "kv/bee.h"
#include "log/log.h"
#include "node/users.h"

namespace shoal::cli {

std::string DefaultHome() {
  if (const char* h = std::getenv("SHOAL_HOME"); h && *h) return h;
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.local/share/shoal";
}

Status Home::Open(const std::optional<crypto::Seed>& seed) {
  if (store_) {
    if (seed && *seed != store_->seed()) {
      return Status::AlreadyExists("home " + dir_ + " already has a different master seed");
    }
    return Status::OK();
  }
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Status::IOError("cannot create " + dir_ + ": " + ec.message());
  ::chmod(dir_.c_str(), 0700);
  log::StoreOptions options;
  options.seed = seed;
  auto store = log::Store::Open(db_path(), options);
  if (!store.ok()) {
    if (store.status().code() == Status::Code::kBusy) {
      return Status::Busy("home " + dir_ + " is in use by another process");
    }
    if (store.status().code() == Status::Code::kAlreadyExists) {
      return Status::AlreadyExists("home " + dir_ + " already has a different master seed");
    }
    return store.status();
  }
  store_ = std::move(*store);
  return Status::OK();
}

namespace {

// Splits the text of standard input into lines without their newline.
std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

Result<uint64_t> ParseIndex(const std::string& s) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (s.empty() || s.size() > 16 || !std::all_of(s.begin(), s.end(), digit)) {
    return Status::InvalidArgument("not a block index: '" + s + "'");
  }
  return std::stoull(s);
}

// An optional index: none when `text` is empty.
Result<std::optional<uint64_t>> ParseOptionalIndex(const std::string& text) {
  if (text.empty()) return std::optional<uint64_t>();
  SHOAL_ASSIGN_OR_RETURN(uint64_t n, ParseIndex(text));
  return std::optional<uint64_t>(n);
}

class Runner {
 public:
  Runner(Home& home, Io& io) : home_(home), io_(io) {}

  int Fail(const Status& s) {
    io_.err << "shoal: " << s.ToString() << "\n";
    return kExitError;
  }

  Result<std::shared_ptr<log::Log>> Find(const std::string& name_or_key) {
    SHOAL_RETURN_IF_ERROR(home_.Open());
    return home_.store().FindLog(name_or_key);
  }

  int Init(const std::string& seed_hex) {
    std::optional<crypto::Seed> seed;
    if (!seed_hex.empty()) {
      seed = FixedFromHex<32>(seed_hex);
      if (!seed) return Fail(Status::InvalidArgument("--seed must be 64 hex digits"));
    }
    Status s = home_.Open(seed);
    if (!s.ok()) return Fail(s);
    io_.out << "home " << home_.dir() << "\n";
    return kExitOk;
  }

  Result<std::unique_ptr<node::Users>> OpenUsers() {
    std::error_code ec;
    std::filesystem::create_directories(home_.dir(), ec);
    if (ec) return Status::IOError("cannot create " + home_.dir() + ": " + ec.message());
    ::chmod(home_.dir().c_str(), 0700);
    return node::Users::Open(home_.users_path());
  }

  void PrintKeys(const s3::User& u, bool json) {
    if (json) {
      nlohmann::ordered_json j;
      j["user"] = u.name;
      j["accessKeyId"] = u.access_key;
      j["secretAccessKey"] = u.secret_key;
      io_.out << j.dump() << "\n";
    } else {
      io_.out << "AWS_ACCESS_KEY_ID=" << u.access_key << "\n"
              << "AWS_SECRET_ACCESS_KEY=" << u.secret_key << "\n";
    }
  }

  int Credentials(const std::string& name, bool json) {
    auto users = OpenUsers();
    if (!users.ok()) return Fail(users.status());
    const std::string who = name.empty() ? node::Users::kOwner : name;
    auto u = (*users)->ByName(who);
    if (!u) return Fail(Status::NotFound("no user " + who));
    PrintKeys(*u, json);
    return kExitOk;
  }

  int UserAdd(const std::string& name, bool json) {
    auto users = OpenUsers();
    if (!users.ok()) return Fail(users.status());
    auto u = (*users)->Add(name);
    if (!u.ok()) return Fail(u.status());
    PrintKeys(*u, json);
    return kExitOk;
  }

  int Append(const std::string& name, const std::vector<std::string>& values, bool hex) {
    std::vector<std::string> blocks = values;
    if (blocks.empty()) blocks = Lines(io_.read_stdin());
    std::vector<Bytes> decoded;
    decoded.reserve(blocks.size());
    for (const auto& b : blocks) {
      if (hex) {
        auto bytes = FromHex(b);
        if (!bytes) return Fail(Status::InvalidArgument("not hex: '" + b + "'"));
        decoded.push_back(std::move(*bytes));
      } else {
        decoded.push_back(ToBytes(b));
      }
    }
    Status s = home_.Open();
    if (!s.ok()) return Fail(s);
    // An existing log by name or key, else a new log of that name.
    auto log = home_.store().FindLog(name);
    if (!log.ok() && log.status().IsNotFound()) log = home_.store().OpenLog(name);
    if (!log.ok()) return Fail(log.status());
    if (Status s = NotServiceLog(**log); !s.ok()) return Fail(s);
    std::vector<ByteView> views(decoded.begin(), decoded.end());
    auto length = (*log)->Append(views);
    if (!length.ok()) return Fail(length.status());
    io_.out << *length << "\n";
    return kExitOk;
  }

  int Get(const std::string& name, const std::string& index_text) {
    auto index = ParseIndex(index_text);
    if (!index.ok()) return Fail(index.status());
    auto log = Find(name);
    if (!log.ok()) return Fail(log.status());
    auto block = (*log)->Get(*index);
    if (!block.ok()) return Fail(block.status());
    io_.out.write(reinterpret_cast<const char*>(block->data()), block->size());
    return kExitOk;
  }

  int Info(const std::string& name, bool json) {
    auto found = Find(name);
    if (!found.ok()) return Fail(found.status());
    log::Log& log = **found;
    auto state = log.state();
    if (!state.ok()) return Fail(state.status());
    const log::TreeState& st = *state;
    nlohmann::ordered_json j;
    j["name"] = log.name();
    j["key"] = ToHex(log.key());
    j["discoveryKey"] = ToHex(log.discovery_key());
    j["length"] = st.length;
    j["byteLength"] = log.byte_length();
    j["contiguousLength"] = log.contiguous_length();
    j["fork"] = st.fork;
    j["treeHash"] = ToHex(st.TreeHash());
    j["signature"] = ToHex(st.signature);
    j["writable"] = log.writable();
    j["encrypted"] = log.encrypted();
    if (json) {
      io_.out << j.dump() << "\n";
    } else {
      for (auto& [k, v] : j.items()) {
        io_.out << k << ": " << (v.is_string() ? v.get<std::string>() : v.dump()) << "\n";
      }
    }
    return kExitOk;
  }

  int Dump(const std::string& name) {
    auto log = Find(name);
    if (!log.ok()) return Fail(log.status());
    uint64_t length = (*log)->length();
    for (uint64_t i = 0; i < length; i++) {
      auto block = (*log)->Get(i);
      if (block.ok()) {
        io_.out << ToHex(*block) << "\n";
      } else if (block.status().IsNotFound()) {
        io_.out << "-\n";
      } else {
        return Fail(block.status());
      }
    }
    return kExitOk;
  }

  int Verify(const std::string& name) {
    auto log = Find(name);
    if (!log.ok()) return Fail(log.status());
    Status s = (*log)->Audit();
    if (!s.ok()) return Fail(s);
    io_.out << "ok " << (*log)->length() << " blocks\n";
    return kExitOk;
  }

  int MakeProof(const std::string& name, const std::string& block, const std::string& hash,
                const std::string& seek, const std::string& upgrade, const std::string& nodes,
                bool with_manifest) {
    auto found = Find(name);
    if (!found.ok()) return Fail(found.status());
    log::Log& log = **found;
    log::ProofRequest req;
    uint64_t missing = 0;
    if (!nodes.empty()) {
      auto n = ParseIndex(nodes);
      if (!n.ok()) return Fail(n.status());
      missing = *n;
    }
    if (!block.empty()) {
      auto i = ParseIndex(block);
      if (!i.ok()) return Fail(i.status());
      req.block = log::ProofRequest::Indexed{*i, missing};
    }
    if (!hash.empty()) {
      auto i = ParseIndex(hash);
      if (!i.ok()) return Fail(i.status());
      req.hash = log::ProofRequest::Indexed{*i, missing};
    }
    if (!seek.empty()) {
      auto b = ParseIndex(seek);
      if (!b.ok()) return Fail(b.status());
      req.seek = log::ProofRequest::Seek{*b, log.encrypted() ? log::BlockEncryption::kPadding : 0};
    }
    if (!upgrade.empty()) {
      size_t colon = upgrade.find(':');
      auto start = ParseIndex(upgrade.substr(0, colon));
      if (!start.ok() || *start > log.length()) {
        return Fail(Status::InvalidArgument("--upgrade takes START[:LENGTH] within the log"));
      }
      auto length = colon == std::string::npos ? Result<uint64_t>(log.length() - *start)
                                               : ParseIndex(upgrade.substr(colon + 1));
      if (!length.ok()) return Fail(Status::InvalidArgument("--upgrade takes START[:LENGTH]"));
      req.upgrade = log::ProofRequest::Upgrade{*start, *length};
    }
    auto proof = log.MakeProof(req);
    if (!proof.ok()) return Fail(proof.status());
    if (with_manifest) proof->manifest = log.manifest();
    io_.out << ToHex(log::EncodeProof(*proof)) << "\n";
    return kExitOk;
  }

  int ApplyProofs(const std::string& key_hex, const std::vector<std::string>& values) {
    auto key = FixedFromHex<32>(key_hex);
    if (!key) return Fail(Status::InvalidArgument("KEY must be 64 hex digits"));
    std::vector<std::string> lines = values;
    if (lines.empty()) lines = Lines(io_.read_stdin());
    // Decode everything before touching the store.
    std::vector<log::Proof> proofs;
    for (size_t i = 0; i < lines.size(); i++) {
      auto bytes = FromHex(lines[i]);
      if (!bytes) return Fail(Status::InvalidArgument("proof " + std::to_string(i) + " is not hex"));
      auto proof = log::DecodeProof(*bytes);
      if (!proof.ok()) return Fail(proof.status().WithContext("proof " + std::to_string(i)));
      proofs.push_back(std::move(*proof));
    }
    Status s = home_.Open();
    if (!s.ok()) return Fail(s);
    auto log = home_.store().OpenLogByKey(*key, /*create=*/true);
    if (!log.ok()) return Fail(log.status());
    for (size_t i = 0; i < proofs.size(); i++) {
      s = (*log)->ApplyProof(proofs[i]);
      if (!s.ok()) return Fail(s.WithContext("proof " + std::to_string(i)));
    }
    io_.out << (*log)->length() << "\n";
    return kExitOk;
  }

  // The database in log `name` (created on a write, found on a read).
  // The S3 service is the only writer of its logs ("s3.buckets" and
  // "s3/<id>/..."): a command writing to them would race it.
  static Status NotServiceLog(const log::Log& log) {
    const std::string& n = log.name();
    if (n == "s3.buckets" || n.rfind("s3/", 0) == 0) {
      return Status::ReadOnly("log " + n + " belongs to the S3 service; change it through the S3 API");
    }
    return Status::OK();
  }

  // `create`: a command that writes, which may create the database.
  Result<std::unique_ptr<kv::Bee>> OpenBee(const std::string& name, bool create) {
    SHOAL_RETURN_IF_ERROR(home_.Open());
    auto log = home_.store().FindLog(name);
    if (!log.ok() && log.status().IsNotFound() && create) log = home_.store().OpenLog(name);
    if (!log.ok()) return log.status();
    if (create) SHOAL_RETURN_IF_ERROR(NotServiceLog(**log));
    if (create && !(*log)->writable()) {
      return Status::ReadOnly("database " + ToHex((*log)->key()) +
                              " is a read-only replica; write to it on the node that owns it");
    }
    return std::make_unique<kv::Bee>(*log);
  }

  int KvPut(const std::string& name, const std::string& key, const std::string& value) {
    auto bee = OpenBee(name, true);
    if (!bee.ok()) return Fail(bee.status());
    Status s = (*bee)->Put(AsBytes(key), AsBytes(value));
    if (!s.ok()) return Fail(s);
    io_.out << (*bee)->version() << "\n";
    return kExitOk;
  }

  int KvGet(const std::string& name, const std::string& key, const std::string& version) {
    auto bee = OpenBee(name, false);
    if (!bee.ok()) return Fail(bee.status());
    auto v = ParseOptionalIndex(version);
    if (!v.ok()) return Fail(v.status());
    auto entry = (*bee)->Get(AsBytes(key), *v);
    if (!entry.ok()) return Fail(entry.status());
    if (!entry->has_value()) return Fail(Status::NotFound("no key '" + key + "'"));
    io_.out << AsString((*entry)->value) << "\n";
    return kExitOk;
  }

  int KvDel(const std::string& name, const std::string& key) {
    auto bee = OpenBee(name, true);
    if (!bee.ok()) return Fail(bee.status());
    Status s = (*bee)->Del(AsBytes(key));
    if (!s.ok()) return Fail(s);
    io_.out << (*bee)->version() << "\n";
    return kExitOk;
  }

  int KvDiff(const std::string& name, const std::string& from_text, const std::string& to_text,
             bool json) {
    auto from = ParseIndex(from_text);
    if (!from.ok()) return Fail(from.status());
    auto to = ParseOptionalIndex(to_text);
    if (!to.ok()) return Fail(to.status());
    auto bee = OpenBee(name, false);
    if (!bee.ok()) return Fail(bee.status());
    auto diff = (*bee)->Diff(*from, *to);
    if (!diff.ok()) return Fail(diff.status());
    auto side = [](const std::optional<kv::Entry>& e) {
      if (!e) return nlohmann::ordered_json();
      return nlohmann::ordered_json{{"seq", e->seq}, {"value", std::string(AsString(e->value))}};
    };
    if (json) {
      nlohmann::ordered_json out = nlohmann::ordered_json::array();
      for (const auto& d : *diff) {
        const kv::Entry& any = d.after ? *d.after : *d.before;
        out.push_back({{"key", std::string(AsString(any.key))},
                       {"before", side(d.before)},
                       {"after", side(d.after)}});
      }
      io_.out << out.dump() << "\n";
      return kExitOk;
    }
    // "+ key value" added, "- key value" deleted, "~ key old new" changed.
    for (const auto& d : *diff) {
      if (d.before && d.after) {
        io_.out << "~\t" << AsString(d.after->key) << "\t" << AsString(d.before->value) << "\t"
                << AsString(d.after->value) << "\n";
      } else if (d.after) {
        io_.out << "+\t" << AsString(d.after->key) << "\t" << AsString(d.after->value) << "\n";
      } else {
        io_.out << "-\t" << AsString(d.before->key) << "\t" << AsString(d.before->value) << "\n";
      }
    }
    return kExitOk;
  }

  int KvCompact(const std::string& name) {
    auto bee = OpenBee(name, true);
    if (!bee.ok()) return Fail(bee.status());
    auto cleared = (*bee)->Compact();
    if (!cleared.ok()) return Fail(cleared.status());
    io_.out << "cleared " << *cleared << " blocks\n";
    return kExitOk;
  }

  // Standard input, one operation a line: "put\tKEY\tVALUE" or "del\tKEY".
  int KvBatch(const std::string& name) {
    std::vector<kv::Op> ops;
    for (const std::string& line : Lines(io_.read_stdin())) {
      if (line.empty()) continue;
      size_t t1 = line.find('\t');
      std::string verb = line.substr(0, t1);
      if (verb == "put" && t1 != std::string::npos) {
        size_t t2 = line.find('\t', t1 + 1);
        if (t2 == std::string::npos) return Fail(Status::InvalidArgument("put needs KEY<TAB>VALUE"));
        ops.push_back(kv::Op{ToBytes(line.substr(t1 + 1, t2 - t1 - 1)), ToBytes(line.substr(t2 + 1))});
      } else if (verb == "del" && t1 != std::string::npos) {
        ops.push_back(kv::Op{ToBytes(line.substr(t1 + 1)), std::nullopt});
      } else {
        return Fail(Status::InvalidArgument("not an operation: '" + line + "'"));
      }
    }
    auto bee = OpenBee(name, true);
    if (!bee.ok()) return Fail(bee.status());
    Status s = (*bee)->Apply(ops);
    if (!s.ok()) return Fail(s);
    io_.out << (*bee)->version() << "\n";
    return kExitOk;
  }

  int KvLs(const std::string& name, const kv::Range& range, const std::string& version,
           bool json) {
    auto bee = OpenBee(name, false);
    if (!bee.ok()) return Fail(bee.status());
    auto v = ParseOptionalIndex(version);
    if (!v.ok()) return Fail(v.status());
    auto entries = (*bee)->List(range, *v);
    if (!entries.ok()) return Fail(entries.status());
    if (json) {
      nlohmann::ordered_json out = nlohmann::ordered_json::array();
      for (const auto& e : *entries) {
        out.push_back({{"seq", e.seq}, {"key", std::string(AsString(e.key))},
                       {"value", std::string(AsString(e.value))}});
      }
      io_.out << out.dump() << "\n";
    } else {
      for (const auto& e : *entries) io_.out << AsString(e.key) << "\t" << AsString(e.value) << "\n";
    }
    return kExitOk;
  }

  int Truncate(const std::string& name, const std::string& length_text) {
    auto length = ParseIndex(length_text);
    if (!length.ok()) return Fail(length.status());
    auto log = Find(name);
    if (!log.ok()) return Fail(log.status());
    if (Status s = NotServiceLog(**log); !s.ok()) return Fail(s);
    Status s = (*log)->Truncate(*length);
    if (!s.ok()) return Fail(s);
    io_.out << (*log)->length() << "\n";
    return kExitOk;
  }

  int Clear(const std::string& name, const std::string& start_text, const std::string& end_text) {
    auto start = ParseIndex(start_text);
    if (!start.ok()) return Fail(start.status());
    auto end = end_text.empty() ? Result<uint64_t>(*start + 1) : ParseIndex(end_text);
    if (!end.ok()) return Fail(end.status());
    auto log = Find(name);
    if (!log.ok()) return Fail(log.status());
    if (Status s = NotServiceLog(**log); !s.ok()) return Fail(s);
    Status s = (*log)->Clear(*start, *end);
    if (!s.ok()) return Fail(s);
    return kExitOk;
  }

 private:
  Home& home_;
  Io& io_;
};

}  // namespace

bool CommandReadsStdin(const std::vector<std::string>& args) {
  // `log append NAME` with no values (options aside) reads lines from stdin.
  if (args.size() >= 3 && args[0] == "kv" && args[1] == "batch") return true;
  // `log append NAME` and `log apply KEY` read stdin when given no values:
  // exactly one positional argument after the subcommand (flags take none).
  if (args.size() < 3 || args[0] != "log" || (args[1] != "append" && args[1] != "apply")) {
    return false;
  }
  size_t positional = 0;
  bool options_ended = false;
  for (size_t i = 2; i < args.size(); i++) {
    if (!options_ended && args[i] == "--") {
      options_ended = true;
    } else if (options_ended || args[i].rfind("--", 0) != 0) {
      positional++;
    }
  }
  return positional == 1;
}

int RunCommand(const std::vector<std::string>& args, Home& home, Io& io) {
  CLI::App app("shoal: a personal cloud in one binary", "shoal");
  app.require_subcommand(1);
  Runner runner(home, io);
  int code = kExitOk;

  std::string seed_hex;
  auto* init = app.add_subcommand("init", "create the home and its master seed");
  init->add_option("--seed", seed_hex, "the 32-byte master seed, as 64 hex digits");
  init->callback([&] { code = runner.Init(seed_hex); });

  std::string user_name;
  bool keys_json = false;
  auto* credentials = app.add_subcommand(
      "credentials", "print the S3 keys of the owner (or of --user NAME) as environment lines");
  credentials->add_option("--user", user_name, "another user's keys");
  credentials->add_flag("--json", keys_json, "print one JSON object");
  credentials->callback([&] { code = runner.Credentials(user_name, keys_json); });

  auto* user = app.add_subcommand("user", "the users of this node's APIs");
  user->require_subcommand(1);
  auto* user_add = user->add_subcommand("add", "add a user and print its new S3 keys");
  user_add->add_option("name", user_name, "letters, digits, '-', '_' or '.'")->required();
  user_add->add_flag("--json", keys_json, "print one JSON object");
  user_add->callback([&] { code = runner.UserAdd(user_name, keys_json); });

  auto* log = app.add_subcommand("log", "signed append-only logs");
  log->require_subcommand(1);
  std::string name, index, end;
  std::vector<std::string> values;
  bool hex = false, json = false;

  auto* append = log->add_subcommand("append", "append blocks; prints the new length");
  append->add_option("name", name, "log name")->required();
  append->add_option("values", values, "blocks (stdin lines when none)");
  append->add_flag("--hex", hex, "values are hex");
  append->callback([&] { code = runner.Append(name, values, hex); });

  auto* get = log->add_subcommand("get", "write one raw block to stdout");
  get->add_option("log", name, "log name or key")->required();
  get->add_option("index", index, "block index")->required();
  get->callback([&] { code = runner.Get(name, index); });

  auto* info = log->add_subcommand("info", "key, length, tree hash and signature");
  info->add_option("log", name, "log name or key")->required();
  info->add_flag("--json", json, "print one JSON object");
  info->callback([&] { code = runner.Info(name, json); });

  auto* dump = log->add_subcommand("dump", "every block as hex, '-' when missing");
  dump->add_option("log", name, "log name or key")->required();
  dump->callback([&] { code = runner.Dump(name); });

  auto* verify = log->add_subcommand("verify", "re-check every stored byte of a log");
  verify->add_option("log", name, "log name or key")->required();
  verify->callback([&] { code = runner.Verify(name); });

  auto* truncate = log->add_subcommand("truncate", "cut a log to LENGTH blocks (new fork)");
  truncate->add_option("log", name, "log name or key")->required();
  truncate->add_option("length", index, "new length")->required();
  truncate->callback([&] { code = runner.Truncate(name, index); });

  auto* clear = log->add_subcommand("clear", "delete stored blocks [START, END) to free space");
  clear->add_option("log", name, "log name or key")->required();
  clear->add_option("start", index, "first block")->required();
  clear->add_option("end", end, "one past the last block (default START + 1)");
  clear->callback([&] { code = runner.Clear(name, index, end); });

  std::string block, hash, seek, upgrade, nodes;
  bool with_manifest = false;
  auto* proof = log->add_subcommand("proof", "print a proof (a hypercore `data` message) as hex");
  proof->add_option("log", name, "log name or key")->required();
  proof->add_option("--block", block, "prove block INDEX (its value included)");
  proof->add_option("--hash", hash, "prove tree node INDEX");
  proof->add_option("--seek", seek, "prove where byte BYTES is");
  proof->add_option("--upgrade", upgrade, "prove the signed length: START:LENGTH");
  proof->add_option("--nodes", nodes, "ancestors of the block the receiver lacks (default 0)");
  proof->add_flag("--manifest", with_manifest, "include the manifest");
  proof->callback([&] {
    code = runner.MakeProof(name, block, hash, seek, upgrade, nodes, with_manifest);
  });

  auto* apply = log->add_subcommand("apply", "verify proofs (hex, stdin lines when none) into a copy of KEY");
  apply->add_option("key", name, "log key, 64 hex digits")->required();
  apply->add_option("proofs", values, "proofs as hex");
  apply->callback([&] { code = runner.ApplyProofs(name, values); });

  auto* kvcmd = app.add_subcommand("kv", "the key/value database in a log (Hyperbee format)");
  kvcmd->require_subcommand(1);
  std::string key, value, version;
  auto* put = kvcmd->add_subcommand("put", "set KEY to VALUE; prints the new version");
  put->add_option("name", name, "database (log) name")->required();
  put->add_option("key", key, "key")->required();
  put->add_option("value", value, "value")->required();
  put->callback([&] { code = runner.KvPut(name, key, value); });
  auto* kget = kvcmd->add_subcommand("get", "print the value of KEY");
  kget->add_option("name", name, "database name or key")->required();
  kget->add_option("key", key, "key")->required();
  kget->add_option("--version", version, "read an old version");
  kget->callback([&] { code = runner.KvGet(name, key, version); });
  auto* del = kvcmd->add_subcommand("del", "delete KEY; prints the new version");
  del->add_option("name", name, "database name")->required();
  del->add_option("key", key, "key")->required();
  del->callback([&] { code = runner.KvDel(name, key); });
  auto* batch = kvcmd->add_subcommand(
      "batch", "apply stdin lines put<TAB>KEY<TAB>VALUE / del<TAB>KEY as one append");
  batch->add_option("name", name, "database name")->required();
  batch->callback([&] { code = runner.KvBatch(name); });

  auto* compact = kvcmd->add_subcommand(
      "compact", "free the space of blocks the newest version no longer uses");
  compact->add_option("name", name, "database name")->required();
  compact->callback([&] { code = runner.KvCompact(name); });

  std::string v1, v2;
  auto* diff = kvcmd->add_subcommand("diff", "what changed from version V1 to V2 (default: now)");
  diff->add_option("name", name, "database name or key")->required();
  diff->add_option("v1", v1, "older version")->required();
  diff->add_option("v2", v2, "newer version");
  diff->add_flag("--json", json, "print one JSON array");
  diff->callback([&] { code = runner.KvDiff(name, v1, v2, json); });

  kv::Range range;
  std::string gt, gte, lt, lte;
  uint64_t limit = UINT64_MAX;
  bool reverse = false;
  auto* ls = kvcmd->add_subcommand("ls", "list entries in key order");
  ls->add_option("name", name, "database name or key")->required();
  ls->add_option("--gt", gt, "keys after");
  ls->add_option("--gte", gte, "keys from");
  ls->add_option("--lt", lt, "keys before");
  ls->add_option("--lte", lte, "keys up to");
  ls->add_flag("--reverse", reverse, "descending order");
  ls->add_option("--limit", limit, "at most N entries");
  ls->add_option("--version", version, "read an old version");
  ls->add_flag("--json", json, "print one JSON array");
  ls->callback([&] {
    if ((ls->count("--gt") && ls->count("--gte")) || (ls->count("--lt") && ls->count("--lte"))) {
      code = runner.Fail(Status::InvalidArgument("give one lower and one upper bound at most"));
      return;
    }
    if (ls->count("--gt")) range.gt = ToBytes(gt);
    if (ls->count("--gte")) range.gte = ToBytes(gte);
    if (ls->count("--lt")) range.lt = ToBytes(lt);
    if (ls->count("--lte")) range.lte = ToBytes(lte);
    range.reverse = reverse;
    range.limit = limit;
    code = runner.KvLs(name, range, version, json);
  });

  std::string follow_key, follow_bucket, follow_user = "owner";
  std::vector<std::string> follow_peers;
  int follow_timeout = 300;
  auto* follow = app.add_subcommand(
      "follow", "replicate someone's log, read-only (live inside shoal serve)");
  follow->add_option("key", follow_key, "log key, 64 hex digits")->required();
  follow->add_option("--peer", follow_peers, "a node to download from, HOST:PORT (repeatable)");
  follow->add_option("--bucket", follow_bucket, "KEY is a drive: serve it as this read-only S3 bucket");
  follow->add_option("--user", follow_user, "the user the bucket belongs to (default owner)");
  follow->add_option("--timeout", follow_timeout, "without shoal serve: seconds to wait (default 300)");
  follow->callback([&] {
    code = FollowCommand(home, io, follow_key, follow_peers, follow_bucket, follow_user, follow_timeout);
  });

  auto* buckets = app.add_subcommand("buckets", "the S3 buckets and the keys of their drives");
  buckets->add_flag("--json", json, "print one JSON array");
  buckets->callback([&] { code = BucketsCommand(home, io, json); });

  auto* peers = app.add_subcommand("peers", "connected peers and what they replicate");
  peers->add_flag("--json", json, "print one JSON object");
  peers->callback([&] { code = PeersCommand(home, io, json); });

  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    std::ostringstream help;
    int rc = app.exit(e, help, io.err);
    io.out << help.str();
    return rc == 0 ? kExitOk : kExitUsage;
  }
  return code;
}

}  // namespace shoal::cli
