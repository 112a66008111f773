//===- json.cpp - a strict, small JSON parser ------------------------------===//

#include "json.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace json {

const Value *Value::find(const std::string &key) const {
  for (const auto &member : members)
    if (member.first == key)
      return &member.second;
  return nullptr;
}

namespace {

class Parser {
public:
  Parser(const std::string &text, int maxDepth) : s(text), maxDepth(maxDepth) {}

  bool document(Value *out) {
    skipSpace();
    if (!value(out, 0))
      return false;
    skipSpace();
    if (pos != s.size())
      return fail("unexpected text after the value");
    return true;
  }

  std::string error;

private:
  const std::string &s;
  size_t pos = 0;
  int maxDepth;

  bool fail(const std::string &what) {
    error = "at byte " + std::to_string(pos) + ": " + what;
    return false;
  }

  void skipSpace() {
    while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\n' || s[pos] == '\r'))
      ++pos;
  }

  bool literal(const char *word) {
    size_t n = std::char_traits<char>::length(word);
    if (s.compare(pos, n, word) != 0)
      return false;
    pos += n;
    return true;
  }

  bool value(Value *out, int depth) {
    if (pos >= s.size())
      return fail("unexpected end of input");
    char c = s[pos];
    if (c == '{' || c == '[') {
      if (depth >= maxDepth)
        return fail("nested deeper than " + std::to_string(maxDepth) + " levels");
      return c == '{' ? object(out, depth + 1) : array(out, depth + 1);
    }
    if (c == '"') {
      out->kind = Value::String;
      return string(&out->text);
    }
    if (c == '-' || (c >= '0' && c <= '9'))
      return number(out);
    if (literal("true")) {
      out->kind = Value::Bool;
      out->boolean = true;
      return true;
    }
    if (literal("false")) {
      out->kind = Value::Bool;
      out->boolean = false;
      return true;
    }
    if (literal("null")) {
      out->kind = Value::Null;
      return true;
    }
    return fail(std::string("unexpected character '") + c + "'");
  }

  bool object(Value *out, int depth) {
    out->kind = Value::Object;
    ++pos; // '{'
    skipSpace();
    if (pos < s.size() && s[pos] == '}') {
      ++pos;
      return true;
    }
    while (true) {
      skipSpace();
      if (pos >= s.size() || s[pos] != '"')
        return fail("expected a member name in quotes");
      std::string key;
      if (!string(&key))
        return false;
      skipSpace();
      if (pos >= s.size() || s[pos] != ':')
        return fail("expected ':' after a member name");
      ++pos;
      skipSpace();
      out->members.emplace_back(std::move(key), Value());
      if (!value(&out->members.back().second, depth))
        return false;
      skipSpace();
      if (pos < s.size() && s[pos] == ',') {
        ++pos;
        continue;
      }
      if (pos < s.size() && s[pos] == '}') {
        ++pos;
        return true;
      }
      return fail("expected ',' or '}' in an object");
    }
  }

  bool array(Value *out, int depth) {
    out->kind = Value::Array;
    ++pos; // '['
    skipSpace();
    if (pos < s.size() && s[pos] == ']') {
      ++pos;
      return true;
    }
    while (true) {
      skipSpace();
      out->items.emplace_back();
      if (!value(&out->items.back(), depth))
        return false;
      skipSpace();
      if (pos < s.size() && s[pos] == ',') {
        ++pos;
        continue;
      }
      if (pos < s.size() && s[pos] == ']') {
        ++pos;
        return true;
      }
      return fail("expected ',' or ']' in an array");
    }
  }

  static bool isDigit(char c) { return c >= '0' && c <= '9'; }

  // -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
  bool number(Value *out) {
    size_t start = pos;
    if (s[pos] == '-')
      ++pos;
    if (pos >= s.size() || !isDigit(s[pos]))
      return fail("expected a digit");
    if (s[pos] == '0')
      ++pos;
    else
      while (pos < s.size() && isDigit(s[pos]))
        ++pos;
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      if (pos >= s.size() || !isDigit(s[pos]))
        return fail("expected a digit after '.'");
      while (pos < s.size() && isDigit(s[pos]))
        ++pos;
    }
    if (pos < s.size() && (s[pos] == 'e' || s[pos] == 'E')) {
      ++pos;
      if (pos < s.size() && (s[pos] == '+' || s[pos] == '-'))
        ++pos;
      if (pos >= s.size() || !isDigit(s[pos]))
        return fail("expected a digit in the exponent");
      while (pos < s.size() && isDigit(s[pos]))
        ++pos;
    }
    out->kind = Value::Number;
    out->text = s.substr(start, pos - start);
    // Correctly rounded (glibc); overflow gives +-inf, which the service
    // refuses for non-float inputs and passes on for float ones.
    out->number = std::strtod(out->text.c_str(), nullptr);
    return true;
  }

  static int hexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool hex4(unsigned *out) {
    if (pos + 4 > s.size())
      return fail("truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      int h = hexValue(s[pos + i]);
      if (h < 0)
        return fail("bad hex digit in a \\u escape");
      v = v * 16 + static_cast<unsigned>(h);
    }
    pos += 4;
    *out = v;
    return true;
  }

  static void appendUtf8(std::string *out, unsigned cp) {
    if (cp < 0x80) {
      *out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      *out += static_cast<char>(0xc0 | (cp >> 6));
      *out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      *out += static_cast<char>(0xe0 | (cp >> 12));
      *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      *out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      *out += static_cast<char>(0xf0 | (cp >> 18));
      *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      *out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  bool string(std::string *out) {
    ++pos; // opening quote
    while (true) {
      if (pos >= s.size())
        return fail("unterminated string");
      char c = s[pos++];
      if (c == '"')
        return true;
      if (static_cast<unsigned char>(c) < 0x20)
        return fail("control character in a string");
      if (c != '\\') {
        *out += c;
        continue;
      }
      if (pos >= s.size())
        return fail("unterminated escape");
      char e = s[pos++];
      switch (e) {
      case '"': *out += '"'; break;
      case '\\': *out += '\\'; break;
      case '/': *out += '/'; break;
      case 'b': *out += '\b'; break;
      case 'f': *out += '\f'; break;
      case 'n': *out += '\n'; break;
      case 'r': *out += '\r'; break;
      case 't': *out += '\t'; break;
      case 'u': {
        unsigned cp = 0;
        if (!hex4(&cp))
          return false;
        // A surrogate pair encodes one code point above U+FFFF.
        if (cp >= 0xd800 && cp < 0xdc00 && s.compare(pos, 2, "\\u") == 0) {
          pos += 2;
          unsigned low = 0;
          if (!hex4(&low))
            return false;
          if (low < 0xdc00 || low >= 0xe000)
            return fail("unpaired surrogate in a \\u escape");
          cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        } else if (cp >= 0xd800 && cp < 0xe000) {
          return fail("unpaired surrogate in a \\u escape");
        }
        appendUtf8(out, cp);
        break;
      }
      default: return fail(std::string("unknown escape '\\") + e + "'");
      }
    }
  }
};

} // namespace

bool parse(const std::string &text, Value *out, std::string *error, int maxDepth) {
  *out = Value();
  Parser parser(text, maxDepth);
  if (parser.document(out))
    return true;
  if (error)
    *error = parser.error;
  return false;
}

bool asInt64(const Value &value, int64_t *out) {
  if (value.kind != Value::Number ||
      value.text.find_first_of(".eE") != std::string::npos)
    return false;
  errno = 0;
  char *end = nullptr;
  long long v = std::strtoll(value.text.c_str(), &end, 10);
  if (errno == ERANGE || end == nullptr || *end != '\0')
    return false;
  *out = v;
  return true;
}

std::string quote(const std::string &text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\n': out += "\\n"; break;
    case '\r': out += "\\r"; break;
    case '\t': out += "\\t"; break;
    default:
      if (static_cast<unsigned char>(c) < 0x20) {
        char buffer[8];
        std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
        out += buffer;
      } else {
        out += c;
      }
    }
  }
  return out + "\"";
}

std::string serialize(const Value &value) {
  switch (value.kind) {
  case Value::Null: return "null";
  case Value::Bool: return value.boolean ? "true" : "false";
  case Value::Number: return value.text;
  case Value::String: return quote(value.text);
  case Value::Array: {
    std::string out = "[";
    for (size_t i = 0; i < value.items.size(); ++i)
      out += (i ? "," : "") + serialize(value.items[i]);
    return out + "]";
  }
  case Value::Object: {
    std::string out = "{";
    for (size_t i = 0; i < value.members.size(); ++i)
      out += (i ? "," : "") + quote(value.members[i].first) + ":" +
             serialize(value.members[i].second);
    return out + "}";
  }
  }
  return "null";
}

} // namespace json
