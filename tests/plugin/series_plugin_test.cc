// Labelled series (ABI 1.2) through the C ABI: a plugin in C (series.c) opens, updates and
// closes the series of label values it is sent, and /metrics, which promtool accepts, and
// /stats show them, escaped, bounded, and gone once closed.

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <string>

#include "daemon_process.h"
#include "metrics_client.h"
#include "net_client.h"

namespace portd::itest {
namespace {

const std::string kConfig =
    std::string("[server]\nworkers = 1\n[admin]\naddress = \"127.0.0.1:0\"\n") +
    "[[plugin]]\npath = \"" + PLUGIN_SERIES + "\"\n" +
    "[[listener]]\nname = \"s\"\nprotocol = \"udp\"\n"
    "address = \"127.0.0.1:0\"\nhandler = \"series\"\n";

std::string ask(int fd, const Daemon& d, const std::string& command) {
  if (!sendDatagram(fd, d.listener("s"), command)) {
    return "(not sent)";
  }
  return receiveDatagram(fd).value_or("(no answer)");
}

std::string body(const Daemon& d) {
  const std::string m = metrics(d.admin());
  const size_t at = m.find("\r\n\r\n");
  return at == std::string::npos ? "" : m.substr(at + 4);
}

// The statuses and the limit of <portd/handler.h>, which this black-box test does not include.
const std::string kEnomem = "-3";     // PORTD_ENOMEM
const std::string kEinval = "-2";     // PORTD_EINVAL
constexpr size_t kMaxValueLen = 128;  // kMaxValueLen

const std::string kLabels = R"(listener="s",handler="series",protocol="udp")";

TEST(SeriesPlugin, OpenAddSetCloseThroughTheCAbi) {
  Daemon d;
  ASSERT_TRUE(d.start(kConfig));
  Fd fd = bindUdp(Endpoint::loopback(AF_INET));
  // A value with each character the exposition format escapes.
  const std::string odd = "a\"b\\c\nd";
  ASSERT_EQ(ask(fd.get(), d, "open alpha"), "0");
  ASSERT_EQ(ask(fd.get(), d, "open " + odd), "0");
  EXPECT_EQ(ask(fd.get(), d, "open third"), kEnomem) << "max_values is 2";
  EXPECT_EQ(ask(fd.get(), d, "add alpha 5"), "0");
  EXPECT_EQ(ask(fd.get(), d, "add alpha 2"), "0");
  EXPECT_EQ(ask(fd.get(), d, "set alpha 0.125"), "0");
  EXPECT_EQ(ask(fd.get(), d, "add " + odd + " 1"), "0");

  std::string m = body(d);
  EXPECT_EQ(sample(m, "portd_handler_client_events_total{" + kLabels +
                          R"(,name="requests",client="alpha"})"),
            7)
      << m;
  EXPECT_EQ(sample(m, "portd_handler_client_value{" + kLabels +
                          R"(,name="level_seconds",client="alpha"})"),
            0.125);
  EXPECT_EQ(sample(m, "portd_handler_client_events_total{" + kLabels +
                          R"(,name="requests",client="a\"b\\c\nd"})"),
            1)
      << m;
  std::string why;
  EXPECT_TRUE(promtoolAccepts(m, &why)) << why << m;
  const std::string stats = adminBody(d.admin(), "/stats");
  EXPECT_NE(stats.find(R"("handler_series")"), std::string::npos) << stats;
  EXPECT_NE(stats.find(R"("requests" : 7)"), std::string::npos) << stats;
  EXPECT_NE(stats.find(R"("a\"b\\c\nd")"), std::string::npos) << stats;

  // Closed: gone from both; the id is stale, and the freed place takes a new value.
  ASSERT_EQ(ask(fd.get(), d, "close alpha"), "0");
  m = body(d);
  EXPECT_EQ(m.find("client=\"alpha\""), std::string::npos) << m;
  EXPECT_EQ(adminBody(d.admin(), "/stats").find("alpha"), std::string::npos);
  EXPECT_EQ(ask(fd.get(), d, "open third"), "0");
  // Refused values: too long, and not UTF-8.
  ASSERT_EQ(ask(fd.get(), d, "close third"), "0");
  EXPECT_EQ(ask(fd.get(), d, "open " + std::string(kMaxValueLen + 1, 'x')), kEinval);
  EXPECT_EQ(ask(fd.get(), d, "open \xff\xfe"), kEinval);
  EXPECT_TRUE(promtoolAccepts(body(d), &why)) << why;
  EXPECT_TRUE(d.stop());
}

}  // namespace
}  // namespace portd::itest
