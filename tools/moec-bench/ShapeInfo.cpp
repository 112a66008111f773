//===- ShapeInfo.cpp - Shape files, routing and FLOPs of an MoE layer -----===//

#include "tools/moec-bench/ShapeInfo.h"

#include "tools/moec-run/Npy.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <numeric>
#include <sstream>

namespace moec::bench {
namespace {

// A JSON reader for the one shape this tool needs: a top-level object whose
// scalar members are kept as text; nested arrays and objects are parsed (so
// a malformed file is still an error) and skipped.
class JsonReader {
public:
  explicit JsonReader(const std::string &text) : text_(text) {}

  bool readObject(std::map<std::string, std::string> *out) {
    skipSpace();
    if (!consume('{'))
      return fail("the file is not a JSON object");
    skipSpace();
    if (consume('}'))
      return finish();
    while (true) {
      std::string key, value;
      skipSpace();
      if (!readString(&key))
        return fail("expected a member name");
      skipSpace();
      if (!consume(':'))
        return fail("expected ':' after \"" + key + "\"");
      bool scalar = false;
      if (!readValue(&value, &scalar))
        return false;
      if (scalar)
        (*out)[key] = value;
      skipSpace();
      if (consume('}'))
        return finish();
      if (!consume(','))
        return fail("expected ',' or '}' after \"" + key + "\"");
    }
  }

  const std::string &error() const { return error_; }

private:
  bool finish() {
    skipSpace();
    return pos_ == text_.size() || fail("trailing text after the object");
  }
  bool fail(const std::string &what) {
    if (error_.empty())
      error_ = what + " (at byte " + std::to_string(pos_) + ")";
    return false;
  }
  void skipSpace() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_])))
      ++pos_;
  }
  bool consume(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool readString(std::string *out) {
    if (!consume('"'))
      return false;
    while (pos_ < text_.size()) {
      char c = text_[pos_++];
      if (c == '"')
        return true;
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (pos_ >= text_.size())
        break;
      char e = text_[pos_++];
      switch (e) {
      case 'n': out->push_back('\n'); break;
      case 't': out->push_back('\t'); break;
      case 'r': out->push_back('\r'); break;
      case 'b': out->push_back('\b'); break;
      case 'f': out->push_back('\f'); break;
      case 'u':
        // Shape files are ASCII; other code points are kept as '?'.
        if (pos_ + 4 > text_.size())
          return fail("truncated \\u escape");
        pos_ += 4;
        out->push_back('?');
        break;
      default: out->push_back(e); break; // \" \\ \/
      }
    }
    return fail("unterminated string");
  }
  bool readValue(std::string *out, bool *scalar) {
    skipSpace();
    if (pos_ >= text_.size())
      return fail("expected a value");
    char c = text_[pos_];
    *scalar = true;
    if (c == '"')
      return readString(out) || fail("bad string");
    if (c == '{' || c == '[') {
      *scalar = false;
      char close = c == '{' ? '}' : ']';
      ++pos_;
      skipSpace();
      if (consume(close))
        return true;
      while (true) {
        std::string ignored;
        bool nested = false;
        if (c == '{') {
          skipSpace();
          if (!readString(&ignored))
            return fail("expected a member name");
          skipSpace();
          if (!consume(':'))
            return fail("expected ':'");
        }
        if (!readValue(&ignored, &nested))
          return false;
        skipSpace();
        if (consume(close))
          return true;
        if (!consume(','))
          return fail(std::string("expected ',' or '") + close + "'");
      }
    }
    size_t start = pos_;
    while (pos_ < text_.size() &&
           (std::isalnum(static_cast<unsigned char>(text_[pos_])) ||
            text_[pos_] == '-' || text_[pos_] == '+' || text_[pos_] == '.'))
      ++pos_;
    if (pos_ == start)
      return fail("expected a value");
    *out = text_.substr(start, pos_ - start);
    return true;
  }

  const std::string &text_;
  size_t pos_ = 0;
  std::string error_;
};

bool readText(const std::string &path, std::string *out) {
  std::ifstream file(path, std::ios::binary);
  if (!file)
    return false;
  std::ostringstream text;
  text << file.rdbuf();
  *out = text.str();
  return true;
}

std::string directoryOf(const std::string &path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// Reads a .npy of `want` float32/float64 values into doubles.
bool readVector(const std::string &path, size_t want,
                std::vector<double> *out, std::string *error) {
  npy::Array array;
  if (!npy::read(path, &array, error))
    return false;
  if (array.dtype() != MOERT_DTYPE_F32 && array.dtype() != MOERT_DTYPE_F64) {
    *error = "expected float32 or float64 values";
    return false;
  }
  if (array.elementCount() != want) {
    *error = "holds " + std::to_string(array.elementCount()) +
             " values, expected " + std::to_string(want);
    return false;
  }
  out->resize(want);
  for (size_t i = 0; i < want; ++i)
    (*out)[i] = array.elementAsDouble(i);
  return true;
}

} // namespace

bool loadShapeInfo(const std::string &path, ShapeInfo *out,
                   std::string *error) {
  std::string text;
  if (!readText(path, &text)) {
    *error = path + ": cannot read the shape file";
    return false;
  }
  JsonReader reader(text);
  std::map<std::string, std::string> &raw = out->raw;
  if (!reader.readObject(&raw)) {
    *error = path + ": " + reader.error();
    return false;
  }
  auto integer = [&](const char *key, int64_t *value, bool required,
                     int64_t minimum) {
    auto found = raw.find(key);
    if (found == raw.end()) {
      if (required)
        *error = path + ": \"" + key + "\" is missing";
      return !required;
    }
    char *end = nullptr;
    long long parsed = std::strtoll(found->second.c_str(), &end, 10);
    if (end == found->second.c_str() || *end != '\0' || parsed < minimum) {
      *error = path + ": \"" + key + "\" must be an integer >= " +
               std::to_string(minimum) + ", got '" + found->second + "'";
      return false;
    }
    *value = parsed;
    return true;
  };
  ShapeInfo &s = *out;
  if (!integer("hidden", &s.hidden, true, 1) ||
      !integer("inter", &s.inter, true, 1) ||
      !integer("experts", &s.experts, true, 1) ||
      !integer("top_k", &s.topK, true, 1) ||
      !integer("shared_experts", &s.sharedExperts, false, 0) ||
      !integer("shared_inter", &s.sharedInter, false, 0) ||
      !integer("matrices_per_expert", &s.matricesPerExpert, false, 2) ||
      !integer("groups", &s.groups, false, 1) ||
      !integer("topk_groups", &s.topkGroups, false, 1))
    return false;
  if (s.topK > s.experts) {
    *error = path + ": \"top_k\" (" + std::to_string(s.topK) +
             ") exceeds \"experts\" (" + std::to_string(s.experts) + ")";
    return false;
  }
  if (s.sharedExperts > 0 && s.sharedInter == 0)
    s.sharedInter = s.inter;
  if (raw.count("name"))
    s.name = raw["name"];
  if (raw.count("input"))
    s.input = raw["input"];
  if (raw.count("router_name"))
    s.routerName = raw["router_name"];
  std::string routing = raw.count("routing") ? raw["routing"] : "softmax_topk";
  if (routing == "softmax_topk") {
    s.routing = Routing::SoftmaxTopK;
  } else if (routing == "sigmoid_grouped_topk") {
    s.routing = Routing::SigmoidGroupedTopK;
    if (s.experts % s.groups != 0 || s.topkGroups > s.groups ||
        s.topK > s.topkGroups * (s.experts / s.groups)) {
      *error = path + ": \"groups\"/\"topk_groups\" (" +
               std::to_string(s.groups) + "/" + std::to_string(s.topkGroups) +
               ") do not fit " + std::to_string(s.experts) + " experts, top-" +
               std::to_string(s.topK);
      return false;
    }
  } else {
    *error = path + ": \"routing\" must be \"softmax_topk\" or "
                    "\"sigmoid_grouped_topk\", got '" + routing + "'";
    return false;
  }
  std::string dir = directoryOf(path);
  if (raw.count("router_weight")) {
    std::string file = dir + "/" + raw["router_weight"];
    std::string why;
    if (!readVector(file, static_cast<size_t>(s.hidden * s.experts), &s.router,
                    &why)) {
      *error = path + ": \"router_weight\" " + file + ": " + why;
      return false;
    }
  }
  if (raw.count("router_bias")) {
    std::string file = dir + "/" + raw["router_bias"];
    std::string why;
    if (!readVector(file, static_cast<size_t>(s.experts), &s.routerBias,
                    &why)) {
      *error = path + ": \"router_bias\" " + file + ": " + why;
      return false;
    }
  }
  return true;
}

int64_t expertsTouched(const ShapeInfo &shape, const float *x,
                       int64_t tokens) {
  const int64_t h = shape.hidden, e = shape.experts, k = shape.topK;
  std::vector<char> touched(static_cast<size_t>(e), 0);
  int64_t count = 0;
  std::vector<double> logits(e), select(e), groupScore(shape.groups);
  std::vector<int64_t> order(e), groupOrder(shape.groups);
  const int64_t perGroup = e / shape.groups;
  for (int64_t t = 0; t < tokens && count < e; ++t) {
    std::fill(logits.begin(), logits.end(), 0.0);
    const float *row = x + t * h;
    for (int64_t i = 0; i < h; ++i) {
      const double xi = row[i];
      const double *w = shape.router.data() + i * e;
      for (int64_t j = 0; j < e; ++j)
        logits[j] += xi * w[j];
    }
    if (shape.routing == Routing::SoftmaxTopK) {
      select = logits; // softmax is monotone: top-k of the logits
    } else {
      for (int64_t j = 0; j < e; ++j)
        select[j] = 1.0 / (1.0 + std::exp(-logits[j])) +
                    (shape.routerBias.empty() ? 0.0 : shape.routerBias[j]);
      // Group score: the sum of the group's two best selection scores.
      for (int64_t g = 0; g < shape.groups; ++g) {
        double best = -INFINITY, second = -INFINITY;
        for (int64_t j = g * perGroup; j < (g + 1) * perGroup; ++j) {
          if (select[j] > best) {
            second = best;
            best = select[j];
          } else if (select[j] > second) {
            second = select[j];
          }
        }
        groupScore[g] = perGroup == 1 ? best : best + second;
      }
      std::iota(groupOrder.begin(), groupOrder.end(), 0);
      std::partial_sort(groupOrder.begin(),
                        groupOrder.begin() + shape.topkGroups, groupOrder.end(),
                        [&](int64_t a, int64_t b) {
                          return groupScore[a] > groupScore[b];
                        });
      std::vector<char> keep(shape.groups, 0);
      for (int64_t g = 0; g < shape.topkGroups; ++g)
        keep[groupOrder[g]] = 1;
      for (int64_t j = 0; j < e; ++j)
        if (!keep[j / perGroup])
          select[j] = -INFINITY;
    }
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](int64_t a, int64_t b) { return select[a] > select[b]; });
    for (int64_t j = 0; j < k; ++j)
      if (!touched[order[j]]) {
        touched[order[j]] = 1;
        ++count;
      }
  }
  return count;
}

double layerFlops(const ShapeInfo &shape, int64_t tokens) {
  const double t = static_cast<double>(tokens);
  const double h = static_cast<double>(shape.hidden);
  const double m = static_cast<double>(shape.matricesPerExpert);
  return 2.0 * t * h *
         (static_cast<double>(shape.experts) +
          static_cast<double>(shape.topK) * m * static_cast<double>(shape.inter) +
          static_cast<double>(shape.sharedExperts) * m *
              static_cast<double>(shape.sharedInter));
}

double uniformExpertsTouched(const ShapeInfo &shape, int64_t tokens) {
  const double e = static_cast<double>(shape.experts);
  return e * (1.0 - std::pow(1.0 - static_cast<double>(shape.topK) / e,
                             static_cast<double>(tokens)));
}

} // namespace moec::bench
