// Labelled series (ABI 1.2): the table a worker writes and a scrape reads, the host functions
// a handler calls with their limits, and how /metrics and /stats show them.
#include <gtest/gtest.h>
#include <portd/handler.h>
#include <uv.h>

#include <atomic>
#include <cmath>
#include <nlohmann/json.hpp>
#include <portd/handler.hpp>
#include <string>
#include <thread>

#include "admin/metrics.h"
#include "admin/prometheus_text.h"
#include "admin/series_metrics.h"
#include "admin/totals.h"
#include "config/loader.h"
#include "core/loop_context.h"
#include "core/series_table.h"
#include "handlers/abi/abi_handler.h"
#include "handlers/abi/host_api.h"
#include "handlers/bind.h"
#include "handlers/builtin/builtin.h"
#include "net/listener_stats.h"

namespace portd {
namespace {

using core::SeriesTable;

SeriesTable peers(size_t capacity) {
  return SeriesTable("peer", {"received", "lost"}, {"jitter_seconds"}, capacity);
}

TEST(SeriesTable, ARowLivesFromOpenToClose) {
  SeriesTable t = peers(4);
  SeriesTable::Id a = t.open("10.0.0.1:1");
  SeriesTable::Id b = t.open("10.0.0.2:2");
  ASSERT_NE(a.generation, 0u);
  t.add(a, 0, 5);
  t.add(a, 0, 2);
  t.add(a, 1, 1);
  t.set(a, 0, 0.25);
  t.add(b, 0, 1);
  auto rows = t.snapshot();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].value, "10.0.0.1:1");
  EXPECT_EQ(rows[0].counters, (std::vector<uint64_t>{7, 1}));
  EXPECT_EQ(rows[0].gauges, (std::vector<double>{0.25}));
  EXPECT_EQ(rows[1].counters, (std::vector<uint64_t>{1, 0}));
  EXPECT_TRUE(t.close(a));
  rows = t.snapshot();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].value, "10.0.0.2:2");
  EXPECT_EQ(t.live(), 1u);
}

TEST(SeriesTable, AClosedIdIsStaleEvenWhenItsRowIsTakenAgain) {
  SeriesTable t = peers(1);
  SeriesTable::Id old = t.open("a");
  t.add(old, 0, 3);
  ASSERT_TRUE(t.close(old));
  EXPECT_FALSE(t.close(old));
  SeriesTable::Id fresh = t.open("b");
  EXPECT_EQ(fresh.row, old.row);
  t.add(old, 0, 100);  // a handler's bug: must not reach b's figures
  t.set(old, 0, 9.0);
  auto rows = t.snapshot();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].value, "b");
  EXPECT_EQ(rows[0].counters[0], 0u) << "a row starts at 0, whatever it held before";
  EXPECT_EQ(rows[0].gauges[0], 0.0);
}

TEST(SeriesTable, CapacityBoundsTheLiveValuesAndIndexesAreChecked) {
  SeriesTable t = peers(2);
  SeriesTable::Id a = t.open("a");
  ASSERT_NE(t.open("b").generation, 0u);
  EXPECT_EQ(t.open("c").generation, 0u) << "a third value while two are live";
  t.add(a, 2, 1);    // no such counter
  t.set(a, 1, 1.0);  // no such gauge
  t.set(a, 0, std::nan(""));
  t.set(a, 0, INFINITY);
  t.add(SeriesTable::Id{7, 1}, 0, 1);  // no such row
  auto rows = t.snapshot();
  EXPECT_EQ(rows[0].counters, (std::vector<uint64_t>{0, 0}));
  EXPECT_EQ(rows[0].gauges[0], 0.0) << "a value that is not finite is ignored";
  ASSERT_TRUE(t.close(a));
  EXPECT_NE(t.open("c").generation, 0u) << "a closed value makes room";
}

TEST(SeriesTable, ValuesAreBoundedUtf8) {
  EXPECT_TRUE(SeriesTable::validValue("127.0.0.1:40112"));
  EXPECT_TRUE(SeriesTable::validValue("[2001:db8::1]:5201"));
  EXPECT_TRUE(SeriesTable::validValue("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_TRUE(SeriesTable::validValue("quote\" backslash\\ newline\n"));
  EXPECT_TRUE(SeriesTable::validValue(std::string(128, 'x')));
  EXPECT_FALSE(SeriesTable::validValue(std::string(129, 'x')));
  EXPECT_FALSE(SeriesTable::validValue(""));
  EXPECT_FALSE(SeriesTable::validValue("\xff"));
  EXPECT_FALSE(SeriesTable::validValue("\xc0\x80"));          // overlong NUL
  EXPECT_FALSE(SeriesTable::validValue("\xed\xa0\x80"));      // a surrogate
  EXPECT_FALSE(SeriesTable::validValue("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(SeriesTable::validValue("ab\xe2\x82"));        // cut short
  EXPECT_FALSE(SeriesTable::validValue("\x80"));
}

// The seqlock: a reader never sees one value's label with another value's figures, however the
// writer opens and closes rows meanwhile. Each value "vN" only ever gets N added; a row read
// while its value changed shows 0 or N, never another number. (Under TSan this also proves
// that nothing here is a data race.)
TEST(SeriesTable, AReaderNeverMixesTwoValuesOfARow) {
  SeriesTable t("peer", {"n"}, {"g"}, 4);
  std::atomic<bool> done{false};
  std::atomic<uint64_t> mixed{0};
  std::atomic<uint64_t> seen{0};
  std::thread reader([&] {
    while (!done.load()) {
      for (const SeriesTable::Row& row : t.snapshot()) {
        const uint64_t n = std::stoull(row.value.substr(1));
        if ((row.counters[0] != 0 && row.counters[0] != n) ||
            (row.gauges[0] != 0 && row.gauges[0] != static_cast<double>(n))) {
          ++mixed;
        }
        ++seen;
      }
    }
  });
  std::vector<SeriesTable::Id> open;
  for (uint64_t n = 1; n <= 100000 || seen.load() < 1000; ++n) {
    if (open.size() == 4) {
      t.close(open.front());
      open.erase(open.begin());
    }
    const SeriesTable::Id id = t.open("v" + std::to_string(n));
    t.add(id, 0, n);
    t.set(id, 0, static_cast<double>(n));
    open.push_back(id);
  }
  done = true;
  reader.join();
  EXPECT_EQ(mixed.load(), 0u);
  EXPECT_GT(seen.load(), 0u);
}

TEST(PrometheusText, LabelValuesAreEscaped) {
  EXPECT_EQ(admin::escapeLabelValue("a\"b\\c\nd\te"), "a\\\"b\\\\c\\nd\te");
  EXPECT_EQ(admin::escapeLabelValue("127.0.0.1:1"), "127.0.0.1:1");
}

// ---- /metrics and /stats ----

std::shared_ptr<const config::Config> oneListener() {
  handlers::Registry r;
  handlers::registerBuiltins(r);
  return handlers::loadAndBind(
      "[[listener]]\nname = \"s\"\nprotocol = \"udp\"\naddress = \"127.0.0.1:0\"\n"
      "handler = \"stream\"\n",
      "m.toml", r);
}

std::shared_ptr<SeriesTable> table(size_t capacity = 4) {
  return std::make_shared<SeriesTable>("peer", std::vector<std::string>{"received", "lost"},
                                       std::vector<std::string>{"jitter_seconds"}, capacity);
}

bool has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(SeriesMetrics, OneFamilyPerLabelWithEachValueSummedOverWorkers) {
  admin::ServerState state(oneListener(), 2);
  auto w0 = table();
  auto w1 = table();
  state.worker(0).listeners["s"]->series.add(w0);
  state.worker(1).listeners["s"]->series.add(w1);
  SeriesTable::Id a = w0->open("10.0.0.1:1");
  w0->add(a, 0, 10);
  w0->set(a, 0, 0.5);
  SeriesTable::Id b = w0->open("odd \"peer\"\\\n");
  w0->add(b, 1, 2);
  // The same value open on the other worker too: one series, counters summed, largest gauge.
  SeriesTable::Id a1 = w1->open("10.0.0.1:1");
  w1->add(a1, 0, 5);
  w1->set(a1, 0, 0.25);

  const std::string m = admin::renderPrometheus(state);
  const std::string l = R"(listener="s",handler="stream",protocol="udp")";
  EXPECT_TRUE(has(m, "# TYPE portd_handler_peer_events_total counter")) << m;
  EXPECT_TRUE(has(m, "# TYPE portd_handler_peer_value gauge")) << m;
  EXPECT_TRUE(
      has(m, "portd_handler_peer_events_total{" + l + R"(,name="received",peer="10.0.0.1:1"} 15)"))
      << m;
  EXPECT_TRUE(
      has(m, "portd_handler_peer_value{" + l + R"(,name="jitter_seconds",peer="10.0.0.1:1"} 0.5)"))
      << m;
  EXPECT_TRUE(
      has(m, "portd_handler_peer_events_total{" + l + R"(,name="lost",peer="odd \"peer\"\\\n"} 2)"))
      << m;
  EXPECT_EQ(m.find("# TYPE portd_handler_peer_events_total"),
            m.rfind("# TYPE portd_handler_peer_events_total"))
      << "one family header";

  const nlohmann::json stats = nlohmann::json::parse(admin::renderStatsJson(state));
  const nlohmann::json& peer = stats["listeners"][0]["handler_series"]["peer"];
  EXPECT_EQ(peer["10.0.0.1:1"]["received"], 15) << stats.dump(2);
  EXPECT_EQ(peer["10.0.0.1:1"]["jitter_seconds"], 0.5);
  EXPECT_EQ(peer["odd \"peer\"\\\n"]["lost"], 2) << "the key is the value, unescaped";

  // A closed value leaves both at once.
  w0->close(b);
  EXPECT_EQ(admin::renderPrometheus(state).find("odd"), std::string::npos);
  EXPECT_EQ(admin::renderStatsJson(state).find("odd"), std::string::npos);
}

// ---- the host functions, as a C handler calls them ----

struct Declared {
  const portd_host_api* host = nullptr;
  portd_worker* worker = nullptr;
  int set = -1;
  int errors[16] = {};
};
Declared g_declared;

const char* const kCounters[] = {"received", "lost"};
const char* const kGauges[] = {"jitter_seconds"};

void* declaringCreate(const portd_host_api* host, portd_worker* w, const void*) {
  Declared& d = g_declared;
  d = Declared{host, w};
  const char* const many[PORTD_SERIES_MAX_COLUMNS + 1] = {
      "c0",  "c1",  "c2",  "c3",  "c4",  "c5",  "c6",  "c7",  "c8",  "c9",  "c10",
      "c11", "c12", "c13", "c14", "c15", "c16", "c17", "c18", "c19", "c20", "c21",
      "c22", "c23", "c24", "c25", "c26", "c27", "c28", "c29", "c30", "c31", "c32"};
  const char* const dup[] = {"x", "x"};
  const char* const bad[] = {"has space"};
  int i = 0;
  d.errors[i++] = host->series_declare(w, "Peer", 4, kCounters, 2, kGauges, 1);  // upper case
  d.errors[i++] = host->series_declare(w, "name", 4, kCounters, 2, kGauges, 1);  // portd's own
  d.errors[i++] = host->series_declare(w, "9peer", 4, kCounters, 2, kGauges, 1);
  d.errors[i++] = host->series_declare(w, "peer", 0, kCounters, 2, kGauges, 1);
  d.errors[i++] =
      host->series_declare(w, "peer", PORTD_SERIES_MAX_VALUES + 1, kCounters, 2, kGauges, 1);
  d.errors[i++] =
      host->series_declare(w, "peer", 4, many, PORTD_SERIES_MAX_COLUMNS + 1, nullptr, 0);
  d.errors[i++] = host->series_declare(w, "peer", 4, dup, 2, nullptr, 0);
  d.errors[i++] = host->series_declare(w, "peer", 4, bad, 1, nullptr, 0);
  d.errors[i++] = host->series_declare(w, "peer", 4, nullptr, 2, nullptr, 0);
  d.errors[i++] = host->series_declare(w, "peer", 4, nullptr, 0, nullptr, 0);
  d.set = host->series_declare(w, "peer", 2, kCounters, 2, kGauges, 1);
  d.errors[i++] = host->series_declare(w, "peer", 2, kCounters, 2, kGauges, 1);  // again
  static int instance;
  return &instance;
}

int noData(void*, portd_conn_t, const void*, size_t) { return 0; }

struct HostFixture : ::testing::Test {
  void SetUp() override { ASSERT_EQ(uv_loop_init(&loop), 0); }
  void TearDown() override {
    uv_run(&loop, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop), 0);
  }
  uv_loop_t loop;
};

TEST_F(HostFixture, DeclareOpenAddSetCloseWithTheirLimits) {
  portd_handler_def def{};
  def.size = sizeof def;
  def.option_size = sizeof(portd_option_def);
  def.name = "series";
  def.protocols = PORTD_TCP;
  def.on_data = noData;
  def.create = declaringCreate;
  auto factory = handlers::abi::makeFactory(def);
  auto config = factory->configure(config::Options({}));
  net::ListenerStats stats;
  const std::string listener = "l";
  {
    core::LoopContext ctx(&loop, 0);
    auto instance = config->createInstance({ctx, listener, stats});
    const Declared& d = g_declared;
    for (int e = 0; e < 11; ++e) {
      EXPECT_EQ(d.errors[e], PORTD_EINVAL) << "declaration " << e;
    }
    ASSERT_EQ(d.set, 0);
    const portd_host_api* h = d.host;
    EXPECT_EQ(h->series_declare(d.worker, "late", 2, kCounters, 2, nullptr, 0), PORTD_EINVAL)
        << "only in create()";

    portd_series_t a = 0, b = 0, c = 0;
    ASSERT_EQ(h->series_open(d.worker, d.set, "10.0.0.1:1", 10, &a), PORTD_OK);
    ASSERT_EQ(h->series_open(d.worker, d.set, "10.0.0.2:2", 10, &b), PORTD_OK);
    EXPECT_NE(a, 0u);
    EXPECT_EQ(h->series_open(d.worker, d.set, "10.0.0.3:3", 10, &c), PORTD_ENOMEM);
    EXPECT_EQ(h->series_open(d.worker, d.set, "", 0, &c), PORTD_EINVAL);
    EXPECT_EQ(h->series_open(d.worker, d.set, "\xff", 1, &c), PORTD_EINVAL);
    const std::string long_value(PORTD_SERIES_MAX_VALUE_LEN + 1, 'x');
    EXPECT_EQ(h->series_open(d.worker, d.set, long_value.data(), long_value.size(), &c),
              PORTD_EINVAL);
    EXPECT_EQ(h->series_open(d.worker, 1, "x", 1, &c), PORTD_EINVAL) << "no such set";
    h->series_add(d.worker, a, 0, 3);
    h->series_add(d.worker, a, 1, 1);
    h->series_add(d.worker, a, 5, 1);  // no such counter: nothing
    h->series_add(d.worker, 0, 0, 1);  // never an id: nothing
    h->series_set(d.worker, a, 0, 0.002);
    h->series_add(d.worker, b, 0, 1);
    EXPECT_EQ(h->series_close(d.worker, b), PORTD_OK);
    EXPECT_EQ(h->series_close(d.worker, b), PORTD_ECLOSED);
    h->series_add(d.worker, b, 0, 1);  // stale: nothing

    auto tables = stats.series.tables();
    ASSERT_EQ(tables.size(), 1u);
    auto rows = tables[0]->snapshot();
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].value, "10.0.0.1:1");
    EXPECT_EQ(rows[0].counters, (std::vector<uint64_t>{3, 1}));
    EXPECT_EQ(rows[0].gauges, (std::vector<double>{0.002}));

    // From a thread that is not the worker's: refused, and nothing changes.
    int other_open = 0, other_close = 0;
    std::thread([&] {
      portd_series_t x = 0;
      other_open = h->series_open(d.worker, d.set, "y", 1, &x);
      other_close = h->series_close(d.worker, a);
    }).join();
    EXPECT_EQ(other_open, PORTD_EWRONGTHREAD);
    EXPECT_EQ(other_close, PORTD_EWRONGTHREAD);

    instance.reset();
    EXPECT_TRUE(stats.series.tables().empty()) << "an instance's series leave with it";
  }
}

// The C++ layer on a portd older than ABI 1.2: its host table ends before series_declare, so
// LabelledSeries is unavailable and every call does nothing (and calls nothing).
TEST(LabelledSeries, IsUnavailableOnAnOlderPortd) {
  portd_host_api older = *handlers::abi::hostApi();
  // The functions stay in place: only the size says they are not there, as it would for a
  // plugin reading past an older portd's table. (Called, series_declare would refuse the null
  // worker, and the constructor would throw.)
  older.size = offsetof(portd_host_api, series_declare);
  sdk::LabelledSeries s(sdk::Worker(&older, nullptr), "peer", 4, kCounters, kGauges);
  EXPECT_FALSE(s.available());
  const portd_series_t id = s.open("10.0.0.1:1");
  EXPECT_EQ(id, 0u);
  s.add(id, 0);
  s.set(id, 0, 1.0);
  s.close(id);
}

}  // namespace
}  // namespace portd
