// Integration: the xfpctl binary against a real xfpd, as a script uses them. Each test starts
// xfpd in its demo mode (its own namespaces xfpd<pid>a/b with 10.201.0.1/.2, enforcing
// examples/policy.json on the a end) with a control socket of its own, runs xfpctl and checks
// exit statuses, output and -- with real datagrams from b to a -- what the data path does:
//  - show lists the example policy (tables and --json), also through $XFP_SOCKET;
//  - add filter blocks a UDP port (a datagram is no longer received), delete opens it again,
//    and show reflects both; bad values, unknown layers and engine refusals get 4, 2 and 7;
//  - apply of a file with one object the engine refuses exits 7, names the object and changes
//    nothing (generation, filters, data path); --dry-run changes nothing; a good file applies;
//  - explain against the service gives the offline explain's verdict for the same policy;
//  - events shows a real drop with the deciding filter's id, also while following;
//  - plugins load, list and unload;
//  - an unprivileged client gets exit 6 and the service's refusal; no xfpd gets exit 5.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/harness/netns.h"
#include "tests/harness/sockets.h"
#include "tests/harness/test_env.h"

#ifndef XFP_XFPCTL_BIN
#error "XFP_XFPCTL_BIN: the xfpctl binary (set by tests/integration/CMakeLists.txt)"
#endif
#ifndef XFP_XFPD_BIN
#error "XFP_XFPD_BIN: the xfpd binary (set by tests/integration/CMakeLists.txt)"
#endif
#ifndef XFP_FLOW_BYTES_SO
#error "XFP_FLOW_BYTES_SO: an example plugin (set by tests/integration/CMakeLists.txt)"
#endif

namespace xfp::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kAddrA = "10.201.0.1";  // xfpd's demo: the enforced end

struct Ran {
  int status = -1;  // exit status; -1: killed or did not exit
  std::string out;
  std::string err;
};

// Runs a program (no shell) with a time limit; stdout and stderr captured apart. `env` entries
// ("NAME=VALUE") are added to the child's environment.
Ran runProgram(const std::vector<std::string>& argv,
               std::chrono::seconds limit = 60s,
               const std::vector<std::string>& env = {}) {
  Ran r;
  int out[2];
  int err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    return r;
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    for (const std::string& e : env) {
      ::putenv(const_cast<char*>(e.c_str()));
    }
    std::vector<char*> args;
    for (const std::string& a : argv) {
      args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  if (pid < 0) {
    ::close(out[0]);
    ::close(err[0]);
    return r;
  }
  const auto until = std::chrono::steady_clock::now() + limit;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open = 2;
  bool killed = false;
  while (open > 0) {
    if (std::chrono::steady_clock::now() >= until) {
      ::kill(pid, SIGKILL);  // our own child, by pid
      killed = true;
      break;
    }
    if (::poll(fds, 2, 100) <= 0) {
      continue;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP)) != 0) {
        char buf[4096];
        const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
        if (n > 0) {
          sinks[i]->append(buf, static_cast<size_t>(n));
        } else {
          fds[i].fd = -1;
          --open;
        }
      }
    }
  }
  ::close(out[0]);
  ::close(err[0]);
  int st = 0;
  ::waitpid(pid, &st, 0);
  r.status = !killed && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

Ran xfpctl(std::vector<std::string> args,
           std::chrono::seconds limit = 60s,
           const std::vector<std::string>& env = {}) {
  args.insert(args.begin(), XFP_XFPCTL_BIN);
  return runProgram(args, limit, env);
}

std::string show(const Ran& r) {
  return "exit " + std::to_string(r.status) + "\nstdout:\n" + r.out + "stderr:\n" + r.err;
}

std::string examplePolicy() {
  return sourceDir() + "/examples/policy.json";
}

// xfpd in its demo mode, started and stopped by the fixture.
class XfpctlService : public ::testing::Test {
 protected:
  void SetUp() override {
    XFP_REQUIRE_ROOT();
    base_ = "/tmp/xfpt-xfpctl-" + std::to_string(::getpid());
    socket_ = base_ + ".sock";
    logPath_ = base_ + ".log";
    const int log = ::open(logPath_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT_GE(log, 0);
    pid_ = ::fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      // Should this test process die (a failed assertion under ASan aborts), xfpd stops too
      // and removes its namespaces.
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      // A file, not a pipe: xfpd logs every net event, and a full pipe would stall it.
      ::dup2(log, 1);
      ::dup2(log, 2);
      ::execl(XFP_XFPD_BIN,
              XFP_XFPD_BIN,
              "--socket",
              socket_.c_str(),
              "--duration",
              "180",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(log);
    ASSERT_TRUE(waitForLog("xfpd ready", 60s)) << log_;
    // The demo names its namespaces after xfpd's pid; the banner says which.
    const std::string marker = "namespaces ";
    const size_t at = log_.find(marker);
    ASSERT_NE(at, std::string::npos) << log_;
    nsA_ = log_.substr(at + marker.size(), log_.find(' ', at + marker.size()) - at - marker.size());
    ASSERT_EQ(nsA_, "xfpd" + std::to_string(pid_ % 100000) + "a") << log_;
    nsB_ = nsA_.substr(0, nsA_.size() - 1) + "b";
    // Ready, and the socket answers.
    Ran st;
    for (int i = 0; i < 50; ++i) {
      st = ctl({"show", "status"});
      if (st.status == 0) {
        break;
      }
      std::this_thread::sleep_for(100ms);
    }
    ASSERT_EQ(st.status, 0) << show(st);
  }

  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      bool exited = false;
      for (int i = 0; i < 200 && !exited; ++i) {
        exited = ::waitpid(pid_, &status, WNOHANG) == pid_;
        if (!exited) {
          std::this_thread::sleep_for(50ms);
        }
      }
      if (!exited) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        // It could not remove its namespaces itself.
        if (!nsA_.empty()) {
          VethNamespaces::run("ip netns del " + nsA_ + " 2>/dev/null");
          VethNamespaces::run("ip netns del " + nsB_ + " 2>/dev/null");
        }
      }
      EXPECT_TRUE(exited) << "xfpd did not stop on SIGTERM\n" << readLog();
      pid_ = -1;
    }
    if (!base_.empty()) {
      ::unlink(socket_.c_str());
      if (!HasFailure()) {
        ::unlink(logPath_.c_str());
      } else {
        std::cerr << "xfpd's log (" << logPath_ << "):\n" << readLog();
      }
      for (const std::string& f : files_) {
        ::unlink(f.c_str());
      }
    }
  }

  std::string readLog() {
    std::ifstream in(logPath_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  bool waitForLog(const std::string& needle, std::chrono::seconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    for (;;) {
      log_ = readLog();
      if (log_.find(needle) != std::string::npos) {
        return true;
      }
      if (std::chrono::steady_clock::now() >= until || ::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        return false;
      }
      std::this_thread::sleep_for(100ms);
    }
  }

  // xfpctl --socket <ours> ARGS...
  Ran ctl(std::vector<std::string> args, std::chrono::seconds limit = 60s) {
    args.insert(args.begin(), {"--socket", socket_});
    return xfpctl(args, limit);
  }

  json ctlJson(std::vector<std::string> args) {
    args.push_back("--json");
    const Ran r = ctl(args);
    EXPECT_EQ(r.status, 0) << show(r);
    try {
      return json::parse(r.out);
    } catch (const json::parse_error& e) {
      ADD_FAILURE() << e.what() << "\n" << show(r);
      return json();
    }
  }

  std::string writeFile(const std::string& name, const std::string& text) {
    const std::string path = base_ + "-" + name;
    std::ofstream(path) << text;
    files_.push_back(path);
    return path;
  }

  bool arrives(uint16_t port) { return udpArrives(nsA_, kAddrA, nsB_, port, 700ms); }

  // Adds a filter blocking UDP to `port` at INBOUND_TRANSPORT_V4; returns its id (0: failed).
  uint64_t blockUdp(const std::string& name, uint16_t port) {
    const Ran r = ctl({"add",
                       "filter",
                       "--layer",
                       "INBOUND_TRANSPORT_V4",
                       "--name",
                       name,
                       "--action",
                       "block",
                       "--condition",
                       "IP_PROTOCOL=udp",
                       "--condition",
                       "IP_LOCAL_PORT=" + std::to_string(port)});
    EXPECT_EQ(r.status, 0) << show(r);
    try {
      return std::stoull(r.out);
    } catch (const std::exception&) {
      ADD_FAILURE() << "add filter did not print an id\n" << show(r);
      return 0;
    }
  }

  std::string base_, socket_, logPath_, log_, nsA_, nsB_;
  std::vector<std::string> files_;
  pid_t pid_ = -1;
};

TEST_F(XfpctlService, ShowListsTheExamplePolicy) {
  json example;
  std::ifstream(examplePolicy()) >> example;
  std::set<std::string> expected;
  for (const json& f : example["filters"]) {
    expected.insert(f["name"].get<std::string>());
  }
  ASSERT_EQ(expected.size(), 9u);

  const Ran table = ctl({"show", "filters"});
  ASSERT_EQ(table.status, 0) << show(table);
  for (const std::string& name : expected) {
    EXPECT_NE(table.out.find(name), std::string::npos) << name << "\n" << table.out;
  }
  for (const char* header : {"ID", "NAME", "LAYER", "SUBLAYER", "WEIGHT", "ACTION", "FLAGS"}) {
    EXPECT_NE(table.out.find(header), std::string::npos) << header;
  }
  // Conditions, actions and flags in the policy file's words.
  for (const char* text : {"IP_PROTOCOL=tcp, IP_LOCAL_PORT=23",
                           "IP_REMOTE_ADDRESS=10.99.0.0/16",
                           "IP_LOCAL_PORT=10000..20000",
                           "IP_REMOTE_ADDRESS!=fd00::53",
                           "IP_LOCAL_PORT=80 or IP_LOCAL_PORT=443",
                           "callout_terminating:connection inspector",
                           "CLEAR_ACTION_RIGHT",
                           "PERMIT_IF_CALLOUT_UNREGISTERED",
                           "Example admin rules"}) {
    EXPECT_NE(table.out.find(text), std::string::npos) << text << "\n" << table.out;
  }

  const json filters = ctlJson({"show", "filters"});
  ASSERT_TRUE(filters.is_array());
  ASSERT_EQ(filters.size(), 9u);
  std::set<std::string> names;
  for (const json& f : filters) {
    names.insert(f["name"].get<std::string>());
    for (const char* k : {"id",
                          "key",
                          "name",
                          "layer",
                          "sublayer",
                          "sublayer_key",
                          "weight",
                          "action",
                          "conditions",
                          "flags",
                          "lifetime"}) {
      EXPECT_TRUE(f.contains(k)) << k << " in " << f.dump();
    }
    if (f["name"] == "Admin: block telnet") {
      EXPECT_EQ(f["action"], "block");
      EXPECT_EQ(f["layer"], "INBOUND_TRANSPORT_V4");
      EXPECT_EQ(f["sublayer"], "Example admin rules");
      ASSERT_EQ(f["conditions"].size(), 2u);
      EXPECT_EQ(f["conditions"][1]["text"], "IP_LOCAL_PORT=23");
    }
  }
  EXPECT_EQ(names, expected);

  // Only one layer.
  const json connect = ctlJson({"show", "filters", "--layer", "ALE_AUTH_CONNECT_V4"});
  EXPECT_EQ(connect.size(), 2u) << connect.dump();

  // The other views.
  const Ran sublayers = ctl({"show", "sublayers"});
  EXPECT_EQ(sublayers.status, 0) << show(sublayers);
  EXPECT_NE(sublayers.out.find("Example app rules"), std::string::npos) << sublayers.out;
  EXPECT_NE(sublayers.out.find("FWPM_SUBLAYER_UNIVERSAL"), std::string::npos) << sublayers.out;
  const Ran providers = ctl({"show", "providers"});
  EXPECT_NE(providers.out.find("Example Corp"), std::string::npos) << show(providers);
  const json callouts = ctlJson({"show", "callouts"});
  ASSERT_EQ(callouts.size(), 1u);
  EXPECT_EQ(callouts[0]["name"], "connection inspector");
  const json status = ctlJson({"show", "status"});
  EXPECT_EQ(status["filters"], 9);
  EXPECT_EQ(status["daemon_pid"], pid_);
  const json sessions = ctlJson({"show", "sessions"});
  ASSERT_EQ(sessions.size(), 1u);  // this command's own
  EXPECT_EQ(sessions[0]["name"], "xfpctl show sessions");
  const json counters = ctlJson({"show", "counters"});
  EXPECT_EQ(counters["filters"].size(), 9u);
  EXPECT_FALSE(counters["layers"].empty());
  const Ran layers = ctl({"show", "layers", "--counters", "--layer", "INBOUND_TRANSPORT_V4"});
  EXPECT_EQ(layers.status, 0) << show(layers);
  EXPECT_NE(layers.out.find("BLOCKED"), std::string::npos) << layers.out;

  // The socket from the environment.
  const Ran env = xfpctl({"show", "filters"}, 60s, {"XFP_SOCKET=" + socket_});
  EXPECT_EQ(env.status, 0) << show(env);
  EXPECT_NE(env.out.find("Admin: block telnet"), std::string::npos);
  // A kind show does not know is a command-line error.
  EXPECT_EQ(ctl({"show", "nonsense"}).status, 2);
}

TEST_F(XfpctlService, AddAndDeleteChangeShowAndTheDataPath) {
  const std::string name = "xfpctl test: block udp 7961";
  ASSERT_TRUE(arrives(7961));
  const uint64_t id = blockUdp(name, 7961);
  ASSERT_NE(id, 0u);

  const Ran listed = ctl({"show", "filters"});
  ASSERT_EQ(listed.status, 0) << show(listed);
  EXPECT_NE(listed.out.find(name), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("IP_PROTOCOL=udp, IP_LOCAL_PORT=7961"), std::string::npos);
  bool found = false;
  for (const json& f : ctlJson({"show", "filters"})) {
    found = found || (f["id"] == id && f["name"] == name && f["action"] == "block");
  }
  EXPECT_TRUE(found);

  EXPECT_FALSE(arrives(7961)) << "the added filter does not block";
  EXPECT_TRUE(arrives(7962)) << "the added filter blocks too much";
  const json counters = ctlJson({"show", "counters"});
  bool counted = false;
  for (const json& c : counters["filters"]) {
    if (c["id"] == id) {
      counted = true;
      EXPECT_GE(c["packets"].get<uint64_t>(), 1u) << c.dump();
    }
  }
  EXPECT_TRUE(counted) << counters.dump();

  const Ran del = ctl({"delete", "filter", std::to_string(id)});
  ASSERT_EQ(del.status, 0) << show(del);
  EXPECT_EQ(ctl({"show", "filters"}).out.find(name), std::string::npos);
  EXPECT_TRUE(arrives(7961)) << "the deleted filter still blocks";

  // Deleting it again: the engine's refusal, by name.
  const Ran again = ctl({"delete", "filter", std::to_string(id)});
  EXPECT_EQ(again.status, 7) << show(again);
  EXPECT_NE(again.err.find("FWP_E_FILTER_NOT_FOUND"), std::string::npos) << show(again);

  // By key, with the flags of a filter in a sublayer of the policy, and a --json object.
  const std::string key = "{7e57c7a1-0001-4000-8000-00000000f001}";
  const Ran keyed = ctl({"add",
                         "filter",
                         "--json",
                         R"({"layer": "INBOUND_TRANSPORT_V4", "conditions":
                             [{"field": "IP_PROTOCOL", "value": "udp"}]})",
                         "--name",
                         "xfpctl test: keyed",
                         "--action",
                         "block",
                         "--sublayer",
                         "Example app rules",
                         "--condition",
                         "IP_LOCAL_PORT=7963",
                         "--key",
                         key});
  ASSERT_EQ(keyed.status, 0) << show(keyed);
  EXPECT_FALSE(arrives(7963));
  const Ran dup = ctl({"add",
                       "filter",
                       "--layer",
                       "INBOUND_TRANSPORT_V4",
                       "--name",
                       "dup",
                       "--action",
                       "permit",
                       "--key",
                       key});
  EXPECT_EQ(dup.status, 7) << show(dup);
  EXPECT_NE(dup.err.find("FWP_E_ALREADY_EXISTS"), std::string::npos) << show(dup);
  const Ran byKey = ctl({"delete", "filter", key});
  EXPECT_EQ(byKey.status, 0) << show(byKey);
  EXPECT_TRUE(arrives(7963));

  // `add` without a kind is `add filter` (the form xfpd's demo banner prints); delete by name.
  const Ran banner = ctl({"add",
                          "--layer",
                          "INBOUND_TRANSPORT_V4",
                          "--name",
                          "no-ssh",
                          "--action",
                          "block",
                          "--condition",
                          "IP_LOCAL_PORT=22"});
  EXPECT_EQ(banner.status, 0) << show(banner);
  const Ran byName = ctl({"delete", "filter", "no-ssh"});
  EXPECT_EQ(byName.status, 0) << show(byName);

  // What the command line gets wrong never reaches the engine.
  const Ran badValue = ctl({"add",
                            "filter",
                            "--layer",
                            "INBOUND_TRANSPORT_V4",
                            "--name",
                            "x",
                            "--action",
                            "block",
                            "--condition",
                            "IP_LOCAL_PORT=99999"});
  EXPECT_EQ(badValue.status, 4) << show(badValue);
  EXPECT_NE(badValue.err.find("FWP_E_OUT_OF_BOUNDS"), std::string::npos) << show(badValue);
  const Ran badField = ctl({"add",
                            "filter",
                            "--layer",
                            "INBOUND_TRANSPORT_V4",
                            "--name",
                            "x",
                            "--action",
                            "block",
                            "--condition",
                            "NO_SUCH_FIELD=1"});
  EXPECT_EQ(badField.status, 4) << show(badField);
  const Ran badLayer =
      ctl({"add", "filter", "--layer", "NO_SUCH_LAYER", "--name", "x", "--action", "block"});
  EXPECT_EQ(badLayer.status, 2) << show(badLayer);
  const Ran badJson = ctl({"add", "filter", "--json", R"({"layer": "INBOUND_TRANSPORT_V4",
                           "name": "x", "action": "block", "typo": 1})"});
  EXPECT_EQ(badJson.status, 3) << show(badJson);
  EXPECT_EQ(ctlJson({"show", "status"})["filters"], 9);

  // Sublayers and providers: add, use, delete.
  const Ran prov = ctl({"add", "provider", "--name", "xfpctl test provider"});
  ASSERT_EQ(prov.status, 0) << show(prov);
  const Ran sub = ctl({"add",
                       "sublayer",
                       "--name",
                       "xfpctl test sublayer",
                       "--weight",
                       "4660",
                       "--provider",
                       "xfpctl test provider"});
  ASSERT_EQ(sub.status, 0) << show(sub);
  const Ran subs = ctl({"show", "sublayers"});
  EXPECT_NE(subs.out.find("xfpctl test sublayer"), std::string::npos) << subs.out;
  EXPECT_NE(subs.out.find("0x1234"), std::string::npos) << subs.out;
  EXPECT_EQ(ctl({"delete", "provider", "xfpctl test provider"}).status, 7);  // in use
  EXPECT_EQ(ctl({"delete", "sublayer", "xfpctl test sublayer"}).status, 0);
  EXPECT_EQ(ctl({"delete", "provider", "xfpctl test provider"}).status, 0);
  EXPECT_EQ(ctl({"delete", "sublayer", "xfpctl test sublayer"}).status, 2);  // no such name
}

TEST_F(XfpctlService, ApplyIsOneTransaction) {
  // A filter the file will collide with.
  const std::string existingKey = "{7e57c7a1-0002-4000-8000-00000000f002}";
  const Ran existing = ctl({"add",
                            "filter",
                            "--layer",
                            "INBOUND_TRANSPORT_V4",
                            "--name",
                            "xfpctl test: existing",
                            "--action",
                            "permit",
                            "--condition",
                            "IP_LOCAL_PORT=7979",
                            "--key",
                            existingKey});
  ASSERT_EQ(existing.status, 0) << show(existing);
  const json before = ctlJson({"show", "status"});
  ASSERT_EQ(before["filters"], 10);

  // Valid on its own; the engine refuses the third filter (its key exists).
  const std::string good = R"({"xfp_policy": 1,
    "sublayers": [{"name": "xfpctl test apply", "weight": 4096, "provider": "Example Corp"}],
    "filters": [
      {"name": "apply: block udp 7971", "layer": "INBOUND_TRANSPORT_V4",
       "sublayer": "xfpctl test apply", "action": "block",
       "conditions": [{"field": "IP_PROTOCOL", "value": "udp"},
                      {"field": "IP_LOCAL_PORT", "value": 7971}]},
      {"name": "apply: block udp 7972", "layer": "INBOUND_TRANSPORT_V4",
       "sublayer": "Example admin rules", "action": "block",
       "conditions": [{"field": "IP_PROTOCOL", "value": "udp"},
                      {"field": "IP_LOCAL_PORT", "value": 7972}]}]})";
  json bad = json::parse(good);
  bad["filters"].push_back({{"name", "apply: collides"},
                            {"key", existingKey},
                            {"layer", "INBOUND_TRANSPORT_V4"},
                            {"action", "block"}});
  const std::string badPath = writeFile("bad.json", bad.dump(2));
  const Ran refused = ctl({"apply", badPath});
  EXPECT_EQ(refused.status, 7) << show(refused);
  EXPECT_NE(refused.err.find("filters[2] \"apply: collides\""), std::string::npos) << show(refused);
  EXPECT_NE(refused.err.find("FWP_E_ALREADY_EXISTS"), std::string::npos) << show(refused);
  EXPECT_NE(refused.err.find("nothing changed"), std::string::npos) << show(refused);
  // Nothing changed: no commit, no objects, the data path as before.
  const json after = ctlJson({"show", "status"});
  EXPECT_EQ(after["generation"], before["generation"]);
  EXPECT_EQ(after["filters"], before["filters"]);
  EXPECT_EQ(ctl({"show", "sublayers"}).out.find("xfpctl test apply"), std::string::npos);
  EXPECT_TRUE(arrives(7971));

  // A file the policy reader refuses: exit 3, the service is not asked to change anything.
  const std::string brokenPath =
      writeFile("broken.json", R"({"xfp_policy": 1, "filters": [{"name": "x", "action": "block",
        "layer": "INBOUND_TRANSPORT_V4", "conditions": [{"field": "IP_LOCAL_PORT",
        "value": 70000}]}]})");
  const Ran broken = ctl({"apply", brokenPath});
  EXPECT_EQ(broken.status, 3) << show(broken);
  EXPECT_NE(broken.err.find("filters[0] \"x\""), std::string::npos) << show(broken);
  EXPECT_EQ(ctl({"apply", base_ + "-no-such-file.json"}).status, 3);

  // --dry-run: the service accepts it all, and nothing changes.
  const std::string goodPath = writeFile("good.json", good);
  const Ran dry = ctl({"apply", goodPath, "--dry-run"});
  EXPECT_EQ(dry.status, 0) << show(dry);
  EXPECT_EQ(ctlJson({"show", "status"})["generation"], before["generation"]);
  EXPECT_TRUE(arrives(7971));

  // The good file: one commit (one generation), enforced.
  const Ran applied = ctl({"apply", goodPath});
  ASSERT_EQ(applied.status, 0) << show(applied);
  const json done = ctlJson({"show", "status"});
  EXPECT_EQ(done["generation"], before["generation"].get<uint64_t>() + 1);
  EXPECT_EQ(done["filters"], 12);
  EXPECT_NE(ctl({"show", "sublayers"}).out.find("xfpctl test apply"), std::string::npos);
  EXPECT_FALSE(arrives(7971));
  EXPECT_FALSE(arrives(7972));
  EXPECT_TRUE(arrives(7973));
}

TEST_F(XfpctlService, ExplainOnlineMatchesOffline) {
  struct Case {
    std::string packet;
    std::vector<std::string> extra;
  };
  const std::vector<Case> cases = {
      {"IP_PROTOCOL=tcp IP_LOCAL_PORT=23", {}},
      {"IP_PROTOCOL=tcp IP_LOCAL_PORT=22 IP_REMOTE_ADDRESS=10.99.1.2", {}},
      {"IP_PROTOCOL=tcp IP_LOCAL_PORT=22 IP_REMOTE_ADDRESS=10.1.1.1", {}},
      {"IP_PROTOCOL=tcp IP_LOCAL_PORT=80", {}},
      {"IP_PROTOCOL=udp IP_LOCAL_PORT=12000", {}},
      {"IP_PROTOCOL=udp IP_LOCAL_PORT=12000", {"--callout", "connection inspector=block!"}},
      {"IP_PROTOCOL=udp IP_LOCAL_PORT=9", {}},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {
        "explain", "--layer", "INBOUND_TRANSPORT_V4", "--packet", c.packet, "--json"};
    args.insert(args.end(), c.extra.begin(), c.extra.end());
    std::vector<std::string> offlineArgs = args;
    offlineArgs.insert(offlineArgs.end(), {"--policy", examplePolicy()});
    const Ran offline = xfpctl(offlineArgs);
    const Ran online = ctl(args);
    ASSERT_EQ(offline.status, 0) << show(offline);
    ASSERT_EQ(online.status, 0) << show(online);
    const json a = json::parse(offline.out);
    const json b = json::parse(online.out);
    EXPECT_EQ(a["verdict"], b["verdict"]) << c.packet;
    EXPECT_EQ(a["action"], b["action"]) << c.packet;
    EXPECT_EQ(a["hard"], b["hard"]) << c.packet;
    EXPECT_EQ(a["filter"].is_null(), b["filter"].is_null()) << c.packet;
    if (a["filter"].is_object() && b["filter"].is_object()) {
      EXPECT_EQ(a["filter"]["name"], b["filter"]["name"]) << c.packet;
    }
  }
  // The text report too.
  const Ran text = ctl({"explain",
                        "--layer",
                        "INBOUND_TRANSPORT_V4",
                        "--packet",
                        "IP_PROTOCOL=tcp IP_LOCAL_PORT=23"});
  EXPECT_EQ(text.status, 0) << show(text);
  EXPECT_NE(text.out.find("verdict  BLOCK"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("Admin: block telnet"), std::string::npos) << text.out;
  // The offline exit statuses for what the command line gets wrong.
  EXPECT_EQ(ctl({"explain", "--layer", "NO_SUCH_LAYER", "--packet", ""}).status, 2);
  EXPECT_EQ(
      ctl({"explain", "--layer", "INBOUND_TRANSPORT_V4", "--packet", "IP_PROTOCOL=xyz"}).status, 4);
  const Ran unknownCallout = ctl({"explain",
                                  "--layer",
                                  "INBOUND_TRANSPORT_V4",
                                  "--packet",
                                  "IP_PROTOCOL=udp",
                                  "--callout",
                                  "no such callout=block"});
  EXPECT_EQ(unknownCallout.status, 7) << show(unknownCallout);
}

TEST_F(XfpctlService, EventsShowARealDropWithItsFilter) {
  const std::string name = "xfpctl test: block udp 7981";
  const uint64_t id = blockUdp(name, 7981);
  ASSERT_NE(id, 0u);

  // Following: started before the drops, ends by itself after two events.
  Ran followed;
  std::thread follower([&] {
    followed = ctl({"events",
                    "--follow",
                    "--json",
                    "--protocol",
                    "udp",
                    "--local-port",
                    "7981",
                    "--count",
                    "2",
                    "--timeout",
                    "30"},
                   45s);
  });
  std::this_thread::sleep_for(1s);
  EXPECT_FALSE(arrives(7981));
  EXPECT_FALSE(arrives(7981));
  follower.join();
  EXPECT_EQ(followed.status, 0) << show(followed);
  std::istringstream lines(followed.out);
  std::string line;
  int events = 0;
  while (std::getline(lines, line)) {
    const json e = json::parse(line);
    ++events;
    EXPECT_EQ(e["type"], "drop") << line;
    EXPECT_EQ(e["filter_id"], id) << line;
    EXPECT_EQ(e["filter_name"], name) << line;
    EXPECT_EQ(e["direction"], "in") << line;
    EXPECT_EQ(e["protocol"], 17) << line;
    EXPECT_EQ(e["local_addr"], kAddrA) << line;
    EXPECT_EQ(e["local_port"], 7981) << line;
    EXPECT_EQ(e["remote_addr"], "10.201.0.2") << line;
    EXPECT_EQ(e["layer"], "INBOUND_TRANSPORT_V4") << line;
    EXPECT_EQ(e["interface"], nsA_) << line;
  }
  EXPECT_EQ(events, 2) << followed.out;

  // The log afterwards, as text: one line per drop, with the filter's id and name.
  const Ran log = ctl({"events", "--remote-port", "0", "--protocol", "udp"});
  EXPECT_EQ(log.status, 0) << show(log);
  EXPECT_TRUE(log.out.empty()) << log.out;  // no datagram came from port 0
  const Ran all = ctl({"events", "--local-port", "7981"});
  EXPECT_EQ(all.status, 0) << show(all);
  const std::string expected = "filter " + std::to_string(id) + " \"" + name + "\"";
  EXPECT_NE(all.out.find(expected), std::string::npos) << all.out;
  EXPECT_NE(all.out.find("drop"), std::string::npos) << all.out;
  EXPECT_NE(all.out.find("10.201.0.1:7981"), std::string::npos) << all.out;
  // A follow with nothing to show ends at its timeout, cleanly.
  const Ran quiet = ctl({"events", "--follow", "--local-port", "1", "--timeout", "1"}, 30s);
  EXPECT_EQ(quiet.status, 0) << show(quiet);
}

TEST_F(XfpctlService, PluginsLoadListUnload) {
  const Ran load = ctl({"plugin", "load", XFP_FLOW_BYTES_SO});
  ASSERT_EQ(load.status, 0) << show(load);
  const Ran list = ctl({"plugin", "list"});
  EXPECT_EQ(list.status, 0) << show(list);
  EXPECT_NE(list.out.find("xfp_flow_bytes"), std::string::npos) << list.out;
  const json status = ctlJson({"show", "status"});
  EXPECT_EQ(status["plugins"], json::array({"xfp_flow_bytes"}));
  const Ran twice = ctl({"plugin", "load", XFP_FLOW_BYTES_SO});
  EXPECT_EQ(twice.status, 7) << show(twice);
  EXPECT_NE(twice.err.find("FWP_E_ALREADY_EXISTS"), std::string::npos) << show(twice);
  EXPECT_EQ(ctl({"plugin", "unload", "xfp_flow_bytes"}).status, 0);
  EXPECT_EQ(ctlJson({"plugin", "list"}), json::array());
  const Ran gone = ctl({"plugin", "unload", "xfp_flow_bytes"});
  EXPECT_EQ(gone.status, 7) << show(gone);
}

TEST_F(XfpctlService, UnprivilegedClientIsRefused) {
  const auto asNobody = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/setpriv",
                                     "--reuid=65534",
                                     "--regid=65534",
                                     "--clear-groups",
                                     XFP_XFPCTL_BIN,
                                     "--socket",
                                     socket_};
    argv.insert(argv.end(), args.begin(), args.end());
    return runProgram(argv);
  };
  const Ran list = asNobody({"show", "filters"});
  EXPECT_EQ(list.status, 6) << show(list);
  EXPECT_NE(list.err.find("refused"), std::string::npos) << show(list);
  EXPECT_NE(list.err.find("uid 65534"), std::string::npos) << show(list);  // the service's words
  EXPECT_TRUE(list.out.empty()) << list.out;
  const Ran add = asNobody({"add",
                            "filter",
                            "--layer",
                            "INBOUND_TRANSPORT_V4",
                            "--name",
                            "not allowed",
                            "--action",
                            "block"});
  EXPECT_EQ(add.status, 6) << show(add);
  const Ran events = asNobody({"events"});
  EXPECT_EQ(events.status, 6) << show(events);
  EXPECT_EQ(ctlJson({"show", "status"})["filters"], 9);  // nothing was added
}

// No xfpd: a missing socket and a socket file nobody listens on.
TEST(Xfpctl, UnreachableServiceExitsFive) {
  const std::string base = "/tmp/xfpt-xfpctl-dead-" + std::to_string(::getpid());
  const Ran missing = xfpctl({"--socket", base + ".none", "show", "filters"});
  EXPECT_EQ(missing.status, 5) << show(missing);
  EXPECT_NE(missing.err.find(base + ".none"), std::string::npos) << show(missing);
  EXPECT_NE(missing.err.find("xfpd may not be running"), std::string::npos) << show(missing);

  const std::string dead = base + ".sock";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", dead.c_str());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  ::close(fd);  // the file stays; nothing listens
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"show", "filters"},
                                             {"events", "--follow", "--timeout", "1"},
                                             {"apply", examplePolicy()}}) {
    std::vector<std::string> a = {"--socket", dead};
    a.insert(a.end(), args.begin(), args.end());
    const Ran r = xfpctl(a);
    EXPECT_EQ(r.status, 5) << args[0] << "\n" << show(r);
    EXPECT_NE(r.err.find(dead), std::string::npos) << show(r);
  }
  const Ran env = xfpctl({"show", "status"}, 60s, {"XFP_SOCKET=" + dead});
  EXPECT_EQ(env.status, 5) << show(env);
  ::unlink(dead.c_str());
}

}  // namespace
}  // namespace xfp::test
