#include "test/unit/cuda_kernels/PtxasLog.h"

#include <cctype>
#include <cstdlib>
#include <sstream>

namespace moec_test {
namespace {

// The integer right before `phrase` in `line` ("12 bytes spill stores"), or -1.
long numberBefore(const std::string &line, const std::string &phrase) {
  const size_t at = line.find(phrase);
  if (at == std::string::npos)
    return -1;
  size_t end = at;
  while (end > 0 && std::isspace(static_cast<unsigned char>(line[end - 1])))
    --end;
  size_t begin = end;
  while (begin > 0 && std::isdigit(static_cast<unsigned char>(line[begin - 1])))
    --begin;
  if (begin == end)
    return -1;
  return std::strtol(line.substr(begin, end - begin).c_str(), nullptr, 10);
}

// The text between the first pair of single quotes after `key`, or "".
std::string quotedAfter(const std::string &line, const std::string &key) {
  const size_t at = line.find(key);
  if (at == std::string::npos)
    return "";
  const size_t open = line.find('\'', at + key.size());
  if (open == std::string::npos)
    return "";
  const size_t close = line.find('\'', open + 1);
  if (close == std::string::npos)
    return "";
  return line.substr(open + 1, close - open - 1);
}

std::string trim(const std::string &s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b])))
    ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1])))
    --e;
  return s.substr(b, e - b);
}

class Collector {
public:
  FunctionResources &get(const std::string &name) {
    for (FunctionResources &f : functions)
      if (f.name == name)
        return f;
    functions.push_back(FunctionResources{});
    functions.back().name = name;
    return functions.back();
  }
  std::vector<FunctionResources> functions;
};

void applyProperties(FunctionResources &f, const std::string &line) {
  const long stack = numberBefore(line, "bytes stack frame");
  const long stores = numberBefore(line, "bytes spill stores");
  const long loads = numberBefore(line, "bytes spill loads");
  if (stack >= 0)
    f.stack_bytes = stack;
  if (stores >= 0)
    f.spill_store_bytes = stores;
  if (loads >= 0)
    f.spill_load_bytes = loads;
  f.has_properties = true;
}

} // namespace

std::vector<FunctionResources> parsePtxasLog(const std::string &log) {
  Collector c;
  std::string entry, properties; // names of the current entry / properties block
  std::istringstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    const std::string compiling = quotedAfter(line, "Compiling entry function");
    if (!compiling.empty()) {
      entry = compiling;
      FunctionResources &f = c.get(entry);
      f.is_entry = true;
      f.arch = quotedAfter(line, "' for");
      continue;
    }
    const size_t props = line.find("Function properties for");
    if (props != std::string::npos) {
      properties = trim(line.substr(props + std::string("Function properties for").size()));
      c.get(properties);
      continue;
    }
    const bool spill_warning = line.find("spilled") != std::string::npos;
    if (spill_warning) {
      const std::string name = quotedAfter(line, "function");
      if (!name.empty() && line.find("bytes spill") != std::string::npos) {
        FunctionResources &f = c.get(name);
        const long stores = numberBefore(line, "bytes spill stores");
        const long loads = numberBefore(line, "bytes spill loads");
        if (stores > f.spill_store_bytes)
          f.spill_store_bytes = stores;
        if (loads > f.spill_load_bytes)
          f.spill_load_bytes = loads;
        continue;
      }
    }
    if (line.find("bytes stack frame") != std::string::npos ||
        line.find("bytes spill stores") != std::string::npos) {
      const std::string &owner = !properties.empty() ? properties : entry;
      if (!owner.empty())
        applyProperties(c.get(owner), line);
      continue;
    }
    const long registers = numberBefore(line, "registers");
    if (registers >= 0 && line.find("Used") != std::string::npos && !entry.empty())
      c.get(entry).registers = static_cast<int>(registers);
  }
  return c.functions;
}

std::vector<FunctionResources> functionsWithSpills(const std::vector<FunctionResources> &functions) {
  std::vector<FunctionResources> out;
  for (const FunctionResources &f : functions)
    if (f.spill_store_bytes != 0 || f.spill_load_bytes != 0)
      out.push_back(f);
  return out;
}

} // namespace moec_test
