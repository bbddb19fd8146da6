// Every request in corpus/ is malformed or ambiguous about where it ends (the material of
// request smuggling), or over a limit. Each must get its status (400 Bad Request unless the
// file's name says another: NAME.413.http) and the connection must close, so that nothing
// after it is read as another request.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "http_client.h"

namespace portd::itest {
namespace {

std::vector<std::string> corpusFiles() {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(PORTD_HTTP_CORPUS)) {
    if (entry.path().extension() == ".http") {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

// The status a corpus file must get: NAME.STATUS.http, or 400.
int expectedStatus(const std::string& file) {
  const std::string stem = std::filesystem::path(file).stem().string();
  const size_t dot = stem.rfind('.');
  return dot == std::string::npos ? 400 : std::stoi(stem.substr(dot + 1));
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class HttpCorpusTest : public HttpTest {
 protected:
  void SetUp() override {
    startDaemon("",
                "[[listener.options.route]]\npath = \"/\"\nmatch = \"prefix\"\nbody = \"ok\"\n");
  }
};

TEST_F(HttpCorpusTest, EveryMalformedRequestGetsItsStatusAndTheConnectionCloses) {
  const std::vector<std::string> files = corpusFiles();
  ASSERT_GE(files.size(), 40u) << "the corpus is missing from " << PORTD_HTTP_CORPUS;
  for (const std::string& file : files) {
    SCOPED_TRACE(std::filesystem::path(file).filename().string());
    std::string request = readFile(file);
    ASSERT_FALSE(request.empty());
    Fd c = connect();
    ASSERT_TRUE(sendAll(c.get(), request));
    ReadToClose r = readUntilClose(c.get());
    auto responses = parseResponses(r.data);
    EXPECT_EQ(responses.size(), 1u) << r.data;
    if (!responses.empty()) {
      EXPECT_EQ(responses[0].status, expectedStatus(file)) << r.data;
      EXPECT_EQ(responses[0].header("Connection"), "close");
    }
    EXPECT_EQ(r.how, PeerClose::kEof);
  }
}

// The same requests behind a good one on the same connection: the good one is answered, the bad
// one refused, whatever the parser's state was left in by the first.
TEST_F(HttpCorpusTest, MalformedRequestBehindAGoodOne) {
  for (const std::string& file : corpusFiles()) {
    SCOPED_TRACE(std::filesystem::path(file).filename().string());
    Fd c = connect();
    ASSERT_TRUE(sendAll(c.get(), getRequest("/first") + readFile(file)));
    ReadToClose r = readUntilClose(c.get());
    auto responses = parseResponses(r.data);
    ASSERT_EQ(responses.size(), 2u) << r.data;
    EXPECT_EQ(responses[0].status, 200);
    EXPECT_EQ(responses[0].body, "ok");
    EXPECT_EQ(responses[1].status, expectedStatus(file));
    EXPECT_EQ(r.how, PeerClose::kEof);
  }
}

// Sanity check of the fixture: a well-formed request on the same listener is answered and the
// connection stays open, so the 400s above are about the requests.
TEST_F(HttpCorpusTest, WellFormedRequestIsAnswered) {
  Fd c = connect();
  ASSERT_TRUE(sendAll(c.get(), getRequest("/")));
  auto r = readResponses(c.get(), 1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 200);
  EXPECT_EQ(readUntilClose(c.get(), 100ms).how, PeerClose::kStillOpen);
}

}  // namespace
}  // namespace portd::itest
