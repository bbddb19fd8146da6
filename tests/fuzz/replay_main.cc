// main() for the replay executables: runs a fuzz target's LLVMFuzzerTestOneInput() once over
// every file named on the command line, and over every regular file of every directory named,
// as libFuzzer's StandaloneFuzzTargetMain does. Built with any compiler, so that every build of
// the suite (gcc, ASan/UBSan, TSan) replays the corpora; a target that finds an input wrong
// aborts, which fails the test.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path arg(argv[i]);
    std::error_code ec;
    if (std::filesystem::is_directory(arg, ec)) {
      for (const auto& entry : std::filesystem::directory_iterator(arg)) {
        // Dotfiles are the corpus folder's own (.gitattributes), not inputs.
        if (entry.is_regular_file() && !entry.path().filename().string().starts_with(".")) {
          files.push_back(entry.path());
        }
      }
    } else if (std::filesystem::is_regular_file(arg, ec)) {
      files.push_back(arg);
    } else {
      std::fprintf(stderr, "replay: %s is neither a file nor a directory\n", argv[i]);
      return 2;
    }
  }
  // A corpus that went missing must not pass as an empty one.
  if (files.empty()) {
    std::fprintf(stderr, "replay: no input files (usage: %s FILE_OR_DIR...)\n", argv[0]);
    return 2;
  }
  // Sorted, so that a failure is reproduced in the same order on every machine.
  std::sort(files.begin(), files.end());
  for (const std::filesystem::path& file : files) {
    // Named before it runs: if the target aborts, the last name printed is the culprit.
    std::fprintf(stderr, "replay: %s\n", file.c_str());
    const std::string data = readFile(file);
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(data.data()), data.size());
  }
  std::fprintf(stderr, "replay: %zu inputs, no failure\n", files.size());
  return 0;
}
