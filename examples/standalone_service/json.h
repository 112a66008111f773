//===- json.h - the small JSON reader and writer of the example service ---===//
//
// Enough JSON for one request per line: a strict RFC 8259 parser into a
// tree of values, and helpers to write strings and numbers. Numbers keep
// their text so that int64 values are read exactly.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_EXAMPLES_STANDALONE_SERVICE_JSON_H
#define MOEC_EXAMPLES_STANDALONE_SERVICE_JSON_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace json {

struct Value {
  enum Kind { Null, Bool, Number, String, Array, Object };
  Kind kind = Null;
  bool boolean = false;
  double number = 0;  // Number: the nearest double
  std::string text;   // Number: the literal as written; String: the decoded string
  std::vector<Value> items;                           // Array
  std::vector<std::pair<std::string, Value>> members; // Object, in order

  // The member called `key`, or nullptr.
  const Value *find(const std::string &key) const;
};

// Parses one JSON text (surrounding whitespace allowed, nothing else). On
// failure returns false and sets `error` to "at byte N: what". Nesting is
// limited to `maxDepth` arrays/objects.
bool parse(const std::string &text, Value *out, std::string *error, int maxDepth = 64);

// Exact integer value of a Number without fraction or exponent.
bool asInt64(const Value &value, int64_t *out);

// `text` as a JSON string literal, quotes included (invalid UTF-8 is passed
// through; control characters are escaped).
std::string quote(const std::string &text);
// A compact re-serialization of `value` (used to echo request ids).
std::string serialize(const Value &value);

} // namespace json

#endif // MOEC_EXAMPLES_STANDALONE_SERVICE_JSON_H
