// bm_zone_load -- where the start-up time of a big zone goes: reading the zone-file text into a Zone,
// and precompiling its answers. The zone is the one bench/gen_data.py writes for bench/compare
// ($ORIGIN, $TTL, SOA, NS, then one A record per name), built in memory so no file is needed.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>

#include "horizon/diagnostics.hpp"
#include "server/query/precompiled.hpp"
#include "zones/snapshot.hpp"
#include "zones/zonefile.hpp"

using namespace phoenix;

namespace {

std::string bench_zone_text(int names) {
  std::string t =
      "$ORIGIN bench.test.\n$TTL 300\n@ SOA ns1.bench.test. hostmaster.bench.test. 1 3600 900 1209600 300\n"
      "@ NS ns1.bench.test.\nns1 A 10.255.255.1\n";
  for (int i = 0; i < names; ++i)
    t += "host" + std::to_string(i) + " A 10." + std::to_string((i >> 16) & 255) + "." +
         std::to_string((i >> 8) & 255) + "." + std::to_string(i & 255) + "\n";
  return t;
}

const zones::Name& origin() {
  static const zones::Name o = *zones::Name::from_text("bench.test");
  return o;
}

std::shared_ptr<const zones::Zone> load(const std::string& text) {
  horizon::Diagnostics diag;
  auto z = zones::load_zone_text(text, origin(), "bench.test.zone", diag);
  if (!z) std::abort();
  return z;
}

void BM_ZoneFileLoad(benchmark::State& state) {
  const std::string text = bench_zone_text(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(load(text));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ZoneFileLoad)->Arg(100000)->Unit(benchmark::kMillisecond);

void BM_OneBigRRset(benchmark::State& state) {
  // One owner with range(0) A records: the builder's duplicate check must not walk them all per record.
  std::string t =
      "$ORIGIN bench.test.\n$TTL 300\n@ SOA ns1.bench.test. hostmaster.bench.test. 1 3600 900 1209600 300\n"
      "@ NS ns1.bench.test.\nns1 A 10.255.255.1\n";
  for (int64_t i = 0; i < state.range(0); ++i)
    t += "big A 10." + std::to_string((i >> 16) & 255) + "." + std::to_string((i >> 8) & 255) + "." +
         std::to_string(i & 255) + "\n";
  for (auto _ : state) benchmark::DoNotOptimize(load(t));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_OneBigRRset)->Arg(1000)->Arg(30000)->Unit(benchmark::kMillisecond);

void BM_RepeatedRecords(benchmark::State& state) {
  // Sixteen records at one owner (the builder's walk limit), the whole set repeated range(0) times:
  // every repeat is a duplicate to merge.
  std::string t =
      "$ORIGIN bench.test.\n$TTL 300\n@ SOA ns1.bench.test. hostmaster.bench.test. 1 3600 900 1209600 300\n"
      "@ NS ns1.bench.test.\nns1 A 10.255.255.1\n";
  for (int64_t r = 0; r < state.range(0); ++r)
    for (int i = 0; i < 16; ++i) t += "edge A 10.0.0." + std::to_string(i) + "\n";
  for (auto _ : state) benchmark::DoNotOptimize(load(t));
  state.SetItemsProcessed(state.iterations() * state.range(0) * 16);
}
BENCHMARK(BM_RepeatedRecords)->Arg(2000)->Unit(benchmark::kMillisecond);

void BM_Precompile(benchmark::State& state) {
  auto zone = load(bench_zone_text(static_cast<int>(state.range(0))));
  zones::Snapshot snap;
  snap.views.add_view("internal", {*horizon::IpPrefix::parse("127.0.0.0/8")});
  snap.views.add_view("external", {*horizon::IpPrefix::parse("0.0.0.0/0")});
  for (const char* name : {"internal", "external"}) {
    zones::ViewData vd;
    vd.name = name;
    vd.zones.add(zone);
    snap.view_data.push_back(std::move(vd));
  }
  for (auto _ : state) {
    if (!query::precompile_answers(snap)) std::abort();
    benchmark::DoNotOptimize(snap.answers.get());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Precompile)->Arg(100000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
