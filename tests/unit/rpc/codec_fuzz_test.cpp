// Fuzz-ish: many random byte strings (pure noise, and mutations of good encodings, which parse
// far more often and so reach the decoder) through ParseFromString and fromProto. The decoder
// must only ever return a value or an error with a status and a field-naming message -- never
// crash, assert or trip the sanitizers -- and what it accepts must re-encode stably. Bounded
// count, fixed seed: the same inputs every run.
#include <google/protobuf/stubs/logging.h>

#include <bit>
#include <iterator>
#include <random>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "tests/unit/rpc/codec_test_util.h"

namespace xfp::rpc {
namespace {

using namespace xfp::rpc::testing;  // NOLINT(google-build-using-namespace)

// The only statuses fromProto gives.
const std::set<uint32_t> kDecodeStatuses = {status::kInvalidParameter,
                                            status::kInvalidEnumerator,
                                            status::kTypeMismatch,
                                            status::kOutOfBounds,
                                            status::kInvalidNetMask,
                                            status::kInvalidActionType,
                                            status::kNullPointer};

struct Tally {
  int unparsed = 0;
  int decoded = 0;
  int refused = 0;
};

// One input: parse, decode, and check the outcome. Returns false on the first broken property
// (the caller stops so one bug does not print thousands of failures).
template <typename M>
bool feed(const std::string& bytes, std::string_view root, Tally& tally) {
  M m;
  if (!m.ParseFromString(bytes)) {
    ++tally.unparsed;
    return true;
  }
  auto r = fromProto(m, root);
  if (!r) {
    ++tally.refused;
    EXPECT_TRUE(kDecodeStatuses.contains(r.error().status))
        << statusName(r.error().status) << ": " << r.error().message;
    EXPECT_EQ(r.error().message.rfind(std::string(root), 0), 0U) << r.error().message;
    return kDecodeStatuses.contains(r.error().status) &&
           r.error().message.rfind(std::string(root), 0) == 0;
  }
  ++tally.decoded;
  // Accepted: its encoding decodes again to the same encoding.
  const std::string once = toProto(*r).SerializeAsString();
  auto again = fromProto(overWire(toProto(*r)), root);
  EXPECT_TRUE(again.has_value()) << again.error().message;
  if (!again) {
    return false;
  }
  EXPECT_EQ(toProto(*again).SerializeAsString(), once);
  return toProto(*again).SerializeAsString() == once;
}

std::string randomBytes(std::mt19937_64& rng, size_t maxLength) {
  std::string s(std::uniform_int_distribution<size_t>(0, maxLength)(rng), '\0');
  for (char& c : s) {
    c = static_cast<char>(rng());
  }
  return s;
}

// 1-3 edits of a good encoding: flip a bit, overwrite, insert or delete a byte, or (rarely)
// truncate. Few edits, mostly in place: most inputs still parse and reach the decoder.
std::string mutate(std::string s, std::mt19937_64& rng) {
  const int edits = std::uniform_int_distribution<int>(1, 3)(rng);
  for (int e = 0; e < edits && !s.empty(); ++e) {
    const size_t at = std::uniform_int_distribution<size_t>(0, s.size() - 1)(rng);
    switch (rng() % 9) {
      case 4:
      case 5:
      case 6:
      case 7:
        s[at] = static_cast<char>(s[at] ^ (1 << (rng() % 8)));
        break;
      case 0:
        s[at] = static_cast<char>(s[at] ^ (1 << (rng() % 8)));
        break;
      case 1:
        s[at] = static_cast<char>(rng());
        break;
      case 2:
        s.insert(s.begin() + static_cast<std::ptrdiff_t>(at), static_cast<char>(rng()));
        break;
      case 3:
        s.erase(at, 1);
        break;
      default:
        s.resize(at);
        break;
    }
  }
  return s;
}

// Good filters with every condition value form and member, for the mutations to start from.
std::vector<std::string> seedFilters() {
  const Guid k = g("11111111-2222-3333-4444-555555555555");
  Filter f;
  f.key = k;
  f.displayData = {"seed", "d\xC3\xA9"};
  f.providerKey = k;
  f.providerData = {1, 2};
  f.layerKey = k;
  f.subLayerKey = k;
  f.weight = Value::uint64(99);
  f.conditions = {
      {k, MatchType::Equal, Value::uint8(6)},
      {k, MatchType::Range, RangeValue{Value::int32(-5), Value::int32(5)}},
      {k, MatchType::Equal, V4AddrMask{0x0A000000, 0xFF000000}},
      {k, MatchType::Equal, V6AddrMask{{0xfd}, 64}},
      {k, MatchType::Prefix, Value::unicodeString(u"x\U0001F600")},
      {k, MatchType::Equal, Value::unicodeString(std::u16string{char16_t{0xD800}})},
      {k, MatchType::Equal, Value::byteArray16({})},
      {k, MatchType::Equal, Value::byteArray6({})},
      {k, MatchType::Equal, Value::float64(2.5)},
      {k, MatchType::Equal, Value::float32(-1.0F)},
      {k, MatchType::Equal, Value::token(Token{1000, {1, 2}})},
      {k, MatchType::Equal, Value::securityDescriptor({1, 0, 4, 0x80})},
  };
  f.action = {ActionType::CalloutInspection, k, k};
  f.rawContext = 5;
  f.filterId = 7;
  f.effectiveWeight = 8;
  f.origin = {Lifetime::Dynamic, 3};
  std::vector<std::string> out = {toProto(f).SerializeAsString()};
  f.conditions.resize(2);
  f.weight = Value();
  out.push_back(toProto(f).SerializeAsString());
  return out;
}

TEST(RpcCodecFuzz, RandomBytesAsFilters) {
  // Parsing noise makes protobuf log (invalid UTF-8 in string fields); the outcome is what counts.
  google::protobuf::LogSilencer quiet;
  std::mt19937_64 rng(0x5EED0F11u);
  Tally tally;
  for (int i = 0; i < 20000; ++i) {
    ASSERT_TRUE(feed<v1::Filter>(randomBytes(rng, 200), "filter", tally)) << "input " << i;
  }
  EXPECT_EQ(tally.unparsed + tally.decoded + tally.refused, 20000);
}

TEST(RpcCodecFuzz, MutatedFilters) {
  google::protobuf::LogSilencer quiet;
  std::mt19937_64 rng(0xF117E125u);
  const std::vector<std::string> seeds = seedFilters();
  Tally tally;
  for (int i = 0; i < 12000; ++i) {
    const std::string& seed = seeds[static_cast<size_t>(i) % seeds.size()];
    ASSERT_TRUE(feed<v1::Filter>(mutate(seed, rng), "filter", tally)) << "input " << i;
  }
  // The mutations must reach the decoder both ways, or this test proves little.
  EXPECT_GT(tally.decoded, 1000) << tally.unparsed << " unparsed, " << tally.refused << " refused";
  EXPECT_GT(tally.refused, 200) << tally.unparsed << " unparsed, " << tally.decoded << " decoded";
}

// Values built field by field: every type number near the known ones, any mix of members, sizes
// around the fixed lengths. Reaches each type's member checks far more often than bytes do.
TEST(RpcCodecFuzz, RandomValues) {
  std::mt19937_64 rng(0x0FA1DE5u);
  const uint32_t types[] = {0,  1,  2,    3,     4,     5,     6,     7,         8,
                            9,  10, 11,   12,    13,    14,    15,    16,        17,
                            18, 19, 0xFF, 0x100, 0x101, 0x102, 0x103, 0xFFFFFFFF};
  Tally tally;
  for (int i = 0; i < 20000; ++i) {
    v1::Value v;
    v.set_type(types[rng() % std::size(types)]);
    const uint64_t members = rng();
    if ((members & 0x01) != 0) {
      v.set_u((members & 0x100) != 0 ? rng() : rng() % 300);
    }
    if ((members & 0x02) != 0) {
      v.set_i(static_cast<int64_t>((members & 0x200) != 0 ? rng() : rng() % 300) - 150);
    }
    if ((members & 0x04) != 0) {
      v.set_d(std::bit_cast<double>(rng()));
    }
    if ((members & 0x08) != 0) {
      v.set_b(randomBytes(rng, 20));
    }
    if ((members & 0x10) != 0) {
      v.set_s(randomBytes(rng, 8));
    }
    if ((members & 0x20) != 0) {
      v.mutable_token()->set_uid(static_cast<uint32_t>(rng()));
      v.mutable_token()->add_gids(static_cast<uint32_t>(rng()));
    }
    v1::Filter f;
    f.mutable_action()->set_type(static_cast<uint32_t>(ActionType::Block));
    *f.add_conditions()->mutable_value()->mutable_value() = v;
    // In memory, not over the wire: invalid UTF-8 in `s` must meet the decoder, not the parser.
    auto r = fromProto(f);
    if (r) {
      ++tally.decoded;
      continue;
    }
    ++tally.refused;
    ASSERT_TRUE(kDecodeStatuses.contains(r.error().status)) << r.error().message;
    ASSERT_EQ(r.error().message.rfind("filter.conditions[0].value", 0), 0U) << r.error().message;
  }
  EXPECT_GT(tally.decoded, 200);
  EXPECT_GT(tally.refused, 500);
}

// The other messages a client sends objects in, briefly.
TEST(RpcCodecFuzz, MutatedTemplatesAndSessions) {
  google::protobuf::LogSilencer quiet;
  std::mt19937_64 rng(0x7E3B1A7Eu);
  engine::FilterSubscription sub;
  sub.enumTemplate = engine::FilterEnumTemplate{};
  sub.enumTemplate->providerKey = g("11111111-2222-3333-4444-555555555555");
  sub.enumTemplate->providerContextTemplate = engine::ProviderContextTemplate{};
  sub.enumTemplate->filterConditions = {{Guid{}, MatchType::Equal, Value::uint16(80)}};
  sub.enumTemplate->calloutKey = Guid{};
  const std::string subSeed = toProto(sub).SerializeAsString();
  engine::SessionInfo info;
  info.options.displayData.name = "s";
  info.options.username = "root";
  const std::string infoSeed = toProto(info).SerializeAsString();
  Provider p;
  p.serviceName = "svc";
  p.providerData = {1};
  const std::string providerSeed = toProto(p).SerializeAsString();
  Tally tally;
  for (int i = 0; i < 5000; ++i) {
    ASSERT_TRUE(feed<v1::FilterSubscription>(mutate(subSeed, rng), "filter_subscription", tally));
    ASSERT_TRUE(feed<v1::SessionInfo>(mutate(infoSeed, rng), "session_info", tally));
    ASSERT_TRUE(feed<v1::Provider>(mutate(providerSeed, rng), "provider", tally));
    ASSERT_TRUE(feed<v1::ProviderContext>(randomBytes(rng, 64), "provider_context", tally));
  }
  EXPECT_GT(tally.decoded, 100);
}

}  // namespace
}  // namespace xfp::rpc
