// Section 1: commit latency through the FWPM C API against a running xfpd, beside nftables.
//
// Per base (shape, N): a fresh xfpd (no policy; its own namespaces, pins and state), N filters
// preloaded in one transaction (timed: Begin, N FwpmFilterAdd0, Commit), then `reps` single
// FwpmFilterAdd0 calls in implicit transactions (each: engine commit, compile, data-path
// generation flip, before the call returns), and at the transaction base one transaction of
// `txn` more filters (timed as a whole, then deleted again in one transaction). The same rules go
// into an nftables input chain in another namespace of ours: the preload as one batch, one
// `add rule` per single add, the transaction as one batch; through libnftables in process and
// through the nft command. xfp and nft calls alternate, so both see the same machine state.
#include <fwpmu.h>
#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include <fmt/format.h>

#include "bench/service/filter_shapes.h"
#include "bench/service/nft_peer.h"
#include "bench/service/service_cases.h"
#include "bench/service/service_env.h"
#include "compiler/compiler.h"
#include "userspace/client/fwpm_convert.h"
#include "userspace/core/policy.h"

namespace xfp::bench::service {
namespace {

struct Base {
  std::string shape;
  std::vector<BenchRule> rules;
  bool txnHere = false;
};

struct Samples {
  std::vector<double> xfp, nft, cli;
};

struct TxnTimes {
  double total = 0, begin = 0, adds = 0, commit = 0;
  std::string error;
};

struct BaseResult {
  std::string shape;
  size_t filters = 0;
  TxnTimes preload;
  double nftPreload = -1, cliPreload = -1;
  Samples single;
  int flips = 0;          // single adds after which the pinned generation had moved by exactly one
  double compileMs = -1;  // compiler::compile of the base policy in this process
  std::vector<double> roundTripUs;  // FwpmFilterGetById0 of an absent id: the API's floor
  size_t txnSize = 0;
  std::vector<TxnTimes> txn;
  std::vector<double> txnDelete;
  Samples txnPeer;  // nft / cli
  std::vector<std::string> notes;
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string w; in >> w;) {
    out.push_back(w);
  }
  return out;
}

double msOf(Clock::time_point a) {
  return msBetween(a, Clock::now());
}

std::string why(DWORD rc) {
  return fmt::format("0x{:08x} {}", rc, XfpmLastErrorMessage());
}

// Begin, one FwpmFilterAdd0 per rule, Commit; ids of the added filters into `ids`.
TxnTimes addInTransaction(HANDLE h,
                          const std::vector<BenchRule>& rules,
                          const char* prefix,
                          std::vector<UINT64>* ids) {
  TxnTimes t;
  FwpmFilter f;
  const auto start = Clock::now();
  if (DWORD rc = FwpmTransactionBegin0(h, 0); rc != 0) {
    t.error = "FwpmTransactionBegin0: " + why(rc);
    return t;
  }
  t.begin = msOf(start);
  const auto adds = Clock::now();
  for (size_t i = 0; i < rules.size() && !gStop.load(); ++i) {
    UINT64 id = 0;
    if (DWORD rc = FwpmFilterAdd0(h, f.build(rules[i], prefix, i), nullptr, &id); rc != 0) {
      t.error = fmt::format("FwpmFilterAdd0 #{}: {}", i, why(rc));
      (void)FwpmTransactionAbort0(h);
      return t;
    }
    if (ids != nullptr) {
      ids->push_back(id);
    }
  }
  t.adds = msOf(adds);
  const auto commit = Clock::now();
  if (DWORD rc = FwpmTransactionCommit0(h); rc != 0) {
    t.error = "FwpmTransactionCommit0: " + why(rc);
    return t;
  }
  t.commit = msOf(commit);
  t.total = msOf(start);
  return t;
}

std::string writeBatch(const std::string& path,
                       const std::vector<BenchRule>& rules,
                       bool flushFirst) {
  std::ofstream out(path, std::ios::trunc);
  if (flushFirst) {
    out << fmt::format("flush chain ip {} {}\n", NftPeer::kTable, NftPeer::kChain);
  }
  for (const BenchRule& r : rules) {
    out << NftPeer::addRule(nftRule(r)) << '\n';
  }
  return path;
}

BaseResult runBase(const Settings& s,
                   ServiceEnv& env,
                   NftPeer& nft,
                   const Base& base,
                   int reps,
                   size_t txnSize,
                   int txnReps,
                   std::mt19937_64& rng) {
  BaseResult res;
  res.shape = base.shape;
  res.filters = base.rules.size();
  fmt::print(stderr, "commit: {} x {}: starting xfpd\n", base.shape, base.rules.size());
  XfpdChild xfpd({"xfpd ready", "could not be published"});
  if (std::string e = xfpd.start(s.xfpd, {"--config", env.configPath(), "--duration", "7200"});
      !e.empty()) {
    res.notes.push_back(e);
    return res;
  }
  if (!xfpd.waitFor("xfpd ready", milliseconds(60000))) {
    res.notes.push_back("xfpd did not become ready");
    fmt::print(stderr, "{}\n", xfpd.logExcerpt());
    return res;
  }
  HANDLE h = nullptr;
  if (DWORD rc = FwpmEngineOpen0(nullptr, RPC_C_AUTHN_WINNT, nullptr, nullptr, &h); rc != 0) {
    res.notes.push_back("FwpmEngineOpen0: " + why(rc));
    return res;
  }

  // Preload: one transaction through the API; one batch into the nft chain.
  fmt::print(stderr, "commit: {} x {}: preloading\n", base.shape, base.rules.size());
  res.preload = addInTransaction(h, base.rules, "base", nullptr);
  if (!res.preload.error.empty()) {
    res.notes.push_back(res.preload.error);
    (void)FwpmEngineClose0(h);
    return res;
  }
  std::vector<std::string> nftBase;
  nftBase.reserve(base.rules.size());
  for (const BenchRule& r : base.rules) {
    nftBase.push_back(nftRule(r));
  }
  const std::string batchFile = env.dir() + "/nft-batch.nft";
  if (nft.hasLibrary()) {
    NftTimed t = nft.load(nftBase);
    res.nftPreload = t.ok ? t.ms : -1;
    if (!t.ok) {
      res.notes.push_back("nft preload: " + t.error);
    }
  }
  NftTimed cli = nft.runCli({"-f", writeBatch(batchFile, base.rules, true)});
  res.cliPreload = cli.ok ? cli.ms : -1;
  if (!cli.ok) {
    res.notes.push_back("nft -f preload: " + cli.error);
  }
  std::vector<std::string> nftNow = nftBase;  // the chain's rules, to restore after a batch

  // The API's floor: a call the service answers at once (an absent filter id), 200 times.
  for (int i = 0; i < 200 && !gStop.load(); ++i) {
    FWPM_FILTER0* got = nullptr;
    const auto t0 = Clock::now();
    (void)FwpmFilterGetById0(h, ~UINT64{0} - static_cast<UINT64>(i), &got);
    res.roundTripUs.push_back(msOf(t0) * 1000.0);
    FwpmFreeMemory0(reinterpret_cast<void**>(&got));
  }

  // Single adds, alternating xfp / libnftables / nft CLI.
  fmt::print(stderr, "commit: {} x {}: {} single adds\n", base.shape, base.rules.size(), reps);
  const std::vector<BenchRule> extra = randomFiveTuples(rng, static_cast<size_t>(reps) * 2);
  FwpmFilter f;
  for (int r = 0; r < reps && !gStop.load(); ++r) {
    const BenchRule& one = extra[static_cast<size_t>(r) * 2];
    const auto before = pinnedGeneration(env.pinDir());
    FWPM_FILTER0* filter = f.build(one, "single", static_cast<uint64_t>(r));
    UINT64 id = 0;
    const auto t0 = Clock::now();
    const DWORD rc = FwpmFilterAdd0(h, filter, nullptr, &id);
    const double ms = msOf(t0);
    if (rc != 0) {
      res.notes.push_back("FwpmFilterAdd0: " + why(rc));
      break;
    }
    res.single.xfp.push_back(ms);
    const auto after = pinnedGeneration(env.pinDir());
    if (before && after && *after == *before + 1) {
      ++res.flips;
    }
    const std::string body = nftRule(one);
    if (nft.hasLibrary()) {
      NftTimed t = nft.run(NftPeer::addRule(body));
      if (t.ok) {
        res.single.nft.push_back(t.ms);
      }
    }
    nftNow.push_back(body);
    // The CLI adds a second, distinct rule (the chain grows like xfp's policy: by one per call
    // per client); both peers' rules stay in the chain.
    const std::string cliBody = nftRule(extra[static_cast<size_t>(r) * 2 + 1]);
    std::vector<std::string> args{"add", "rule", "ip", NftPeer::kTable, NftPeer::kChain};
    for (std::string& w : split(cliBody)) {
      args.push_back(std::move(w));
    }
    NftTimed c = nft.runCli(args);
    if (c.ok) {
      res.single.cli.push_back(c.ms);
    } else if (r == 0) {
      res.notes.push_back("nft add rule: " + c.error);
    }
    nftNow.push_back(cliBody);
  }

  // Where a single add's time goes: the compile of the same base policy alone, in this process.
  if (!res.single.xfp.empty() && !gStop.load()) {
    Policy p;
    for (size_t i = 0; i < base.rules.size(); ++i) {
      auto one = client::filterFromC(f.build(base.rules[i], "base", i));
      if (one) {
        (void)p.addFilter(std::move(*one));
      }
    }
    const auto t0 = Clock::now();
    auto compiled = compiler::compile(p);
    res.compileMs = msOf(t0);
    if (!compiled) {
      res.notes.push_back("compile alone failed: " + compiled.error().message);
    }
  }

  // One transaction of txnSize more filters, then deleted again (one transaction).
  if (base.txnHere && txnSize > 0) {
    res.txnSize = txnSize;
    for (int r = 0; r < txnReps && !gStop.load(); ++r) {
      fmt::print(stderr,
                 "commit: {} x {}: transaction of {} ({}/{})\n",
                 base.shape,
                 base.rules.size(),
                 txnSize,
                 r + 1,
                 txnReps);
      const std::vector<BenchRule> batch = randomFiveTuples(rng, txnSize);
      std::vector<UINT64> ids;
      ids.reserve(batch.size());
      TxnTimes t = addInTransaction(h, batch, "txn", &ids);
      if (!t.error.empty()) {
        res.notes.push_back(t.error);
        break;
      }
      res.txn.push_back(t);
      const auto del = Clock::now();
      DWORD rc = FwpmTransactionBegin0(h, 0);
      for (size_t i = 0; rc == 0 && i < ids.size(); ++i) {
        rc = FwpmFilterDeleteById0(h, ids[i]);
      }
      rc = rc == 0 ? FwpmTransactionCommit0(h) : (FwpmTransactionAbort0(h), rc);
      if (rc != 0) {
        res.notes.push_back("deleting the transaction's filters: " + why(rc));
        break;
      }
      res.txnDelete.push_back(msOf(del));
      if (nft.hasLibrary()) {
        std::string cmds;
        for (const BenchRule& b : batch) {
          cmds += NftPeer::addRule(nftRule(b)) + "\n";
        }
        NftTimed n = nft.run(cmds);
        if (n.ok) {
          res.txnPeer.nft.push_back(n.ms);
        } else {
          res.notes.push_back("nft batch: " + n.error);
        }
        (void)nft.load(nftNow);  // back to the base
      }
      NftTimed c = nft.runCli({"-f", writeBatch(batchFile, batch, false)});
      if (c.ok) {
        res.txnPeer.cli.push_back(c.ms);
      }
      if (nft.hasLibrary()) {
        (void)nft.load(nftNow);
      } else {
        (void)nft.runCli({"-f", writeBatch(batchFile, base.rules, true)});
      }
    }
  }
  if (uint64_t n = xfpd.count("could not be published"); n > 0) {
    res.notes.push_back(fmt::format("{} generation(s) could not be published (see xfpd's log)", n));
  }
  (void)FwpmEngineClose0(h);
  xfpd.stop(SIGTERM);
  env.removePins();
  return res;
}

std::string ms(const std::vector<double>& v, double p) {
  return v.empty() ? "" : fixed(percentile(v, p), 1);
}

std::string ratio(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.empty() || b.empty() || percentile(b, 50) <= 0) {
    return "";
  }
  return fixed(percentile(a, 50) / percentile(b, 50), 1);
}

void printTables(const std::vector<BaseResult>& results, bool haveLibrary) {
  fmt::print(
      "\n### One filter added through the API (FwpmFilterAdd0, implicit transaction) beside "
      "`nft add rule`\n\n");
  fmt::print(
      "| base policy | filters before | reps | xfp p50 ms | xfp p90 ms | nft p50 ms | nft p90 ms "
      "| xfp/nft (p50) | nft CLI p50 ms | nft CLI p90 ms | generation flips | compile alone ms | "
      "notes "
      "|\n");
  fmt::print(
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- "
      "|\n");
  for (const BaseResult& r : results) {
    fmt::print("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {}/{} | {} | {} |\n",
               r.shape,
               r.filters,
               r.single.xfp.size(),
               ms(r.single.xfp, 50),
               ms(r.single.xfp, 90),
               ms(r.single.nft, 50),
               ms(r.single.nft, 90),
               ratio(r.single.xfp, r.single.nft),
               ms(r.single.cli, 50),
               ms(r.single.cli, 90),
               r.flips,
               r.single.xfp.size(),
               r.compileMs >= 0 ? fixed(r.compileMs, 1) : "",
               fmt::join(r.notes, "; "));
  }
  fmt::print(
      "\n### One transaction of many filters (Begin, FwpmFilterAdd0 per filter, Commit) beside "
      "one nft batch\n\n");
  fmt::print(
      "| base policy | filters before | filters added | reps | xfp p50 ms | of which Begin / adds "
      "/ "
      "Commit ms | nft batch p50 ms | xfp/nft | nft -f CLI p50 ms | xfp delete txn ms |\n");
  fmt::print("| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |\n");
  for (const BaseResult& r : results) {
    if (r.preload.error.empty() && r.preload.total > 0) {
      const std::vector<double> x{r.preload.total};
      const std::vector<double> n =
          r.nftPreload >= 0 ? std::vector<double>{r.nftPreload} : std::vector<double>{};
      fmt::print("| {} | 0 | {} | 1 | {} | {} / {} / {} | {} | {} | {} | |\n",
                 r.shape,
                 r.filters,
                 fixed(r.preload.total, 1),
                 fixed(r.preload.begin, 1),
                 fixed(r.preload.adds, 1),
                 fixed(r.preload.commit, 1),
                 ms(n, 50),
                 ratio(x, n),
                 r.cliPreload >= 0 ? fixed(r.cliPreload, 1) : "");
    }
    if (!r.txn.empty()) {
      std::vector<double> total, begin, adds, commit;
      for (const TxnTimes& t : r.txn) {
        total.push_back(t.total);
        begin.push_back(t.begin);
        adds.push_back(t.adds);
        commit.push_back(t.commit);
      }
      fmt::print("| {} | {} | {} | {} | {} | {} / {} / {} | {} | {} | {} | {} |\n",
                 r.shape,
                 r.filters,
                 r.txnSize,
                 r.txn.size(),
                 ms(total, 50),
                 ms(begin, 50),
                 ms(adds, 50),
                 ms(commit, 50),
                 ms(r.txnPeer.nft, 50),
                 ratio(total, r.txnPeer.nft),
                 ms(r.txnPeer.cli, 50),
                 ms(r.txnDelete, 50));
    }
  }
  std::vector<double> rt;
  for (const BaseResult& r : results) {
    rt.insert(rt.end(), r.roundTripUs.begin(), r.roundTripUs.end());
  }
  if (!rt.empty()) {
    fmt::print(
        "\nOne API round trip (FwpmFilterGetById0 of an absent id, answered at once): p50 {} us, "
        "p90 {} us over {} calls. Inside a transaction each FwpmFilterAdd0 is one such round trip "
        "plus the engine's add to the working copy.\n",
        fixed(percentile(rt, 50), 0),
        fixed(percentile(rt, 90), 0),
        rt.size());
  }
  if (!haveLibrary) {
    fmt::print("\nlibnftables could not be loaded: the nft columns are empty; see the CLI ones.\n");
  }
}

}  // namespace

int runCommitSection(const Settings& s) {
  const auto started = Clock::now();
  ServiceEnv env;
  if (std::string e = env.setUp(); !e.empty()) {
    fmt::print(stderr, "commit: {}\n", e);
    return 1;
  }
  if (std::string e = env.writeConfig("", true); !e.empty()) {
    fmt::print(stderr, "commit: {}\n", e);
    return 1;
  }
  ::setenv("XFP_SOCKET", env.socket().c_str(), 1);
  NftPeer nft;
  const std::string nftError = nft.start(env.ns().nsB());
  if (!nftError.empty()) {
    fmt::print(stderr, "commit: {} (nft CLI only)\n", nftError);
  }
  if (std::string e = nft.reset(); !e.empty() && nft.hasLibrary()) {
    fmt::print(stderr, "commit: {}\n", e);
    return 1;
  }
  if (!nft.hasLibrary()) {
    (void)nft.runCli({"add", "table", "ip", NftPeer::kTable});
    (void)nft.runCli(
        {"add chain ip xfpbench in { type filter hook input priority 0; policy "
         "accept; }"});
  }

  std::mt19937_64 rng(20261123);
  std::vector<Base> bases;
  const std::vector<uint32_t> sizes = !s.sizes.empty() ? s.sizes
                                      : s.quick        ? std::vector<uint32_t>{1000}
                                                       : std::vector<uint32_t>{1000, 10000, 100000};
  const uint32_t txnBase = s.quick ? 1000 : 10000;
  for (uint32_t n : sizes) {
    bases.push_back({"random 5-tuple", randomFiveTuples(rng, n), n == txnBase});
  }
  const std::vector<std::string> sets = !s.classbench.empty() ? s.classbench
                                        : s.quick             ? std::vector<std::string>{"acl1_1K"}
                                                  : std::vector<std::string>{"acl1_1K", "acl1_10K"};
  for (const std::string& set : sets) {
    if (set == "none") {
      continue;
    }
    std::string error;
    auto rules = classBenchRules(s.classbenchDir + "/wustl-hs1/" + set, &error);
    if (rules.empty()) {
      fmt::print(stderr, "commit: ClassBench {} skipped: {}\n", set, error);
      continue;
    }
    bases.push_back({fmt::format("ClassBench {}", set), std::move(rules), false});
  }

  std::vector<BaseResult> results;
  for (const Base& b : bases) {
    if (gStop.load()) {
      break;
    }
    const size_t n = b.rules.size();
    const int reps = s.reps > 0 ? s.reps : s.quick ? 5 : n <= 1000 ? 30 : n <= 10000 ? 15 : 5;
    results.push_back(runBase(s, env, nft, b, reps, txnBase, s.quick ? 1 : 3, rng));
  }
  ::unsetenv("XFP_SOCKET");

  fmt::print("\n## 1. Commit latency through the FWPM C API, beside nftables\n\n");
  fmt::print(
      "xfpd with no start-up policy, enforcing on a veth end in its own namespace (XDP + tc "
      "attached, maps and links pinned); a non-dynamic FWPM session of this process "
      "(FwpmEngineOpen0 over the control socket). Filters at INBOUND_TRANSPORT_V4 (static, not "
      "persistent: no store write). `random 5-tuple`: exact remote/local address, ports and "
      "protocol, all BLOCK; `ClassBench`: wustl-hs1 sets (prefixes, ranges, wildcards; rule order "
      "= weight order). The single adds and the transaction add random 5-tuples on top of the "
      "base. A single FwpmFilterAdd0 returns after the engine commit, the compile of the whole "
      "policy and the data-path generation flip (`generation flips`: calls after which the "
      "pinned generation had moved by one). nft: the same rules in one `ip` table's input chain "
      "(linear rules, no sets) in another namespace of ours; `nft` = libnftables in this process "
      "(one context, one netlink batch per call), `nft CLI` = the nft command (fork/exec "
      "included). Run time {:.0f} s.\n",
      msBetween(started, Clock::now()) / 1000.0);
  printTables(results, nft.hasLibrary());
  bool complete = !results.empty();
  for (const BaseResult& r : results) {
    complete = complete && r.preload.error.empty() && !r.single.xfp.empty();
  }
  return complete || gStop.load() ? 0 : 1;
}

}  // namespace xfp::bench::service
