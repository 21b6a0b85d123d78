#include "compiler/boxes.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "compiler/fast_path_fields.h"
#include "userspace/core/layers.h"

namespace xfp::compiler {
namespace {

using u128 = unsigned __int128;

struct FieldSpace {
  fastpath::FieldWords words;
  int bits = 0;  // value width: 32 * (count - 1) + bitsInTopWord
  [[nodiscard]] u128 max() const { return bits >= 128 ? ~u128{0} : (u128{1} << bits) - 1; }
  [[nodiscard]] uint32_t word(u128 v, int i) const {
    return static_cast<uint32_t>(v >> (32 * (words.count - 1 - i)));
  }
};

u128 toNumber(const Value& v) {
  if (v.isUnsigned()) {
    return v.asUnsigned();
  }
  u128 n = 0;
  for (uint8_t b : v.asBytes()) {  // byte arrays: big-endian numbers
    n = (n << 8) | b;
  }
  return n;
}

// Interval [lo, hi] over the field's words -> boxes (lexicographic decomposition).
void splitInterval(
    const FieldSpace& fs, u128 lo, u128 hi, int word, Box prefix, std::vector<Box>& out) {
  const int n = fs.words.count;
  const int restBits = 32 * (n - 1 - word);
  const u128 restMax = restBits == 0 ? 0 : (u128{1} << restBits) - 1;
  const uint32_t lo0 = static_cast<uint32_t>(lo >> restBits);
  const uint32_t hi0 = static_cast<uint32_t>(hi >> restBits);
  const uint8_t slot = fs.words.slot[word];
  const uint32_t wordMax = word == 0 ? static_cast<uint32_t>(fs.max() >> restBits) : 0xFFFFFFFFu;
  auto withRange = [&](uint32_t a, uint32_t b) {
    Box box = prefix;
    if (!(a == 0 && b == wordMax)) {
      box.push_back(Term{slot, XFP_TERM_RANGE, a, b});
    }
    return box;
  };
  if (word == n - 1) {
    out.push_back(withRange(lo0, hi0));
    return;
  }
  const u128 loRest = lo & restMax;
  const u128 hiRest = hi & restMax;
  if (lo0 == hi0) {
    splitInterval(fs, loRest, hiRest, word + 1, withRange(lo0, lo0), out);
    return;
  }
  uint32_t first = lo0;
  if (loRest != 0) {
    splitInterval(fs, loRest, restMax, word + 1, withRange(lo0, lo0), out);
    first = lo0 + 1;
  }
  uint32_t last = hi0;
  const bool tail = hiRest != restMax;
  if (tail) {
    last = hi0 - 1;
  }
  if (first <= last) {  // lo0 < hi0 here, so neither lo0 + 1 nor hi0 - 1 wraps
    out.push_back(withRange(first, last));
  }
  if (tail) {
    splitInterval(fs, 0, hiRest, word + 1, withRange(hi0, hi0), out);
  }
}

void addInterval(const FieldSpace& fs, u128 lo, u128 hi, std::vector<Box>& out) {
  if (lo <= hi) {
    splitInterval(fs, lo, hi, 0, {}, out);
  }
}

// Masked tests (FLAGS_*): per word.
Box maskBox(const FieldSpace& fs, u128 mask, u128 value) {
  Box box;
  for (int i = 0; i < fs.words.count; ++i) {
    const uint32_t m = fs.word(mask, i);
    if (m != 0) {
      box.push_back(Term{fs.words.slot[i], XFP_TERM_MASK, m, fs.word(value, i) & m});
    }
  }
  return box;
}

// One condition on a supplied field -> boxes over its words (presence not included).
std::vector<Box> conditionBoxes(const FieldSpace& fs, const Condition& c) {
  std::vector<Box> out;
  const ConditionValue& cv = c.value;
  const u128 max = fs.max();
  if (const V4AddrMask* m = cv.v4Mask()) {
    const u128 lo = m->addr & m->mask;
    addInterval(fs, lo, lo | (~m->mask & 0xFFFFFFFFu), out);
    return out;
  }
  if (const V6AddrMask* m = cv.v6Mask()) {
    const int free = 128 - m->prefixLength;
    const u128 low = free >= 128 ? ~u128{0} : (u128{1} << free) - 1;
    u128 a = 0;
    for (uint8_t b : m->addr) {
      a = (a << 8) | b;
    }
    addInterval(fs, a & ~low, (a & ~low) | low, out);
    return out;
  }
  if (const RangeValue* r = cv.range()) {
    addInterval(fs, toNumber(r->low), toNumber(r->high), out);
    return out;
  }
  const u128 v = toNumber(*cv.plain());
  switch (c.matchType) {
    case MatchType::Equal:
      addInterval(fs, v, v, out);
      break;
    case MatchType::Greater:
      if (v < max) {
        addInterval(fs, v + 1, max, out);
      }
      break;
    case MatchType::Less:
      if (v > 0) {
        addInterval(fs, 0, v - 1, out);
      }
      break;
    case MatchType::GreaterOrEqual:
      addInterval(fs, v, max, out);
      break;
    case MatchType::LessOrEqual:
      addInterval(fs, 0, v, out);
      break;
    case MatchType::NotEqual:
      if (v > 0) {
        addInterval(fs, 0, v - 1, out);
      }
      if (v < max) {
        addInterval(fs, v + 1, max, out);
      }
      break;
    case MatchType::FlagsAllSet:
      out.push_back(maskBox(fs, v, v));
      break;
    case MatchType::FlagsNoneSet:
      out.push_back(maskBox(fs, v, 0));
      break;
    case MatchType::FlagsAnySet:
      for (int bit = 0; bit < fs.bits; ++bit) {
        if (((v >> bit) & 1) != 0) {
          out.push_back(maskBox(fs, u128{1} << bit, u128{1} << bit));
        }
      }
      break;
    default:
      break;  // string match types never reach supplied fields (checked at add)
  }
  return out;
}

// ANDs two boxes; false when the result is empty.
bool conjoin(const Box& a, const Box& b, Box& out) {
  std::map<std::pair<uint8_t, uint8_t>, Term> merged;
  for (const Box* box : {&a, &b}) {
    for (const Term& t : *box) {
      auto key = std::make_pair(t.slot, t.op);
      auto it = merged.find(key);
      if (it == merged.end()) {
        merged.emplace(key, t);
        continue;
      }
      Term& m = it->second;
      if (t.op == XFP_TERM_RANGE) {
        m.a = std::max(m.a, t.a);
        m.b = std::min(m.b, t.b);
        if (m.a > m.b) {
          return false;
        }
      } else {
        if (((m.b ^ t.b) & m.a & t.a) != 0) {
          return false;  // two masked tests that require different bits
        }
        m.b = (m.b & m.a) | (t.b & t.a);
        m.a |= t.a;
      }
    }
  }
  out.clear();
  for (const auto& [key, t] : merged) {
    out.push_back(t);
  }
  return true;
}

}  // namespace

Result<std::vector<Box>> filterBoxes(int ls, const Filter& filter) {
  const LayerInfo& layer = *layerByKey(filter.layerKey);
  // Conditions grouped by field (OR within a group).
  std::map<uint16_t, std::vector<const Condition*>> groups;
  for (const Condition& c : filter.conditions) {
    groups[layer.fieldByKey(c.fieldKey)->index].push_back(&c);
  }
  std::vector<Box> result{Box{}};  // the empty conjunction: everything
  for (const auto& [index, conds] : groups) {
    const FieldInfo& field = layer.fields[index];
    FieldSpace fs{fastpath::fieldWords(ls, field), 0};
    fs.bits = 32 * (fs.words.count - 1) + fs.words.bitsInTopWord;
    std::vector<Box> alternatives;
    for (const Condition* c : conds) {
      const bool emptyCondition = c->value.type() == DataType::Empty;
      if (fs.words.kind == fastpath::FieldWords::Kind::AlwaysEmpty) {
        if (emptyCondition) {
          alternatives.push_back(Box{});  // EMPTY == EMPTY: always true
        }
        continue;  // any other test against FWP_EMPTY is false
      }
      if (emptyCondition) {
        if (fs.words.presentBit != 0) {
          alternatives.push_back(
              Box{Term{XFP_SLOT_PRESENT, XFP_TERM_MASK, fs.words.presentBit, 0}});
        }
        continue;  // a field that is always supplied is never EMPTY
      }
      for (Box& b : conditionBoxes(fs, *c)) {
        if (fs.words.presentBit != 0) {
          Box withPresence;
          if (conjoin(
                  b,
                  Box{Term{
                      XFP_SLOT_PRESENT, XFP_TERM_MASK, fs.words.presentBit, fs.words.presentBit}},
                  withPresence)) {
            alternatives.push_back(std::move(withPresence));
          }
        } else {
          alternatives.push_back(std::move(b));
        }
      }
    }
    std::sort(alternatives.begin(), alternatives.end());
    alternatives.erase(std::unique(alternatives.begin(), alternatives.end()), alternatives.end());
    std::vector<Box> next;
    for (const Box& left : result) {
      for (const Box& right : alternatives) {
        Box both;
        if (conjoin(left, right, both)) {
          next.push_back(std::move(both));
        }
      }
      if (next.size() > kMaxBoxesPerFilter) {
        return fail(status::kOutOfBounds,
                    fmt::format("filter {} \"{}\" expands to more than {} boxes at {}: too "
                                "complex for the fast path",
                                filter.filterId,
                                filter.displayData.name.value_or(""),
                                kMaxBoxesPerFilter,
                                layer.fullName()));
      }
    }
    result = std::move(next);
    if (result.empty()) {
      break;  // the filter never matches
    }
  }
  return result;
}

}  // namespace xfp::compiler
