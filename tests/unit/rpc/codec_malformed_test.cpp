// Malformed client messages, one test per class of bad input: each decode fails with the FWP_E_*
// status WFP gives for that kind of fault and a message that starts with the field's path.
#include <string>

#include <gtest/gtest.h>

#include "tests/unit/rpc/codec_test_util.h"

namespace xfp::rpc {
namespace {

using namespace xfp::rpc::testing;  // NOLINT(google-build-using-namespace)

// `r` failed with `code`, its message starts with "<field>: " and contains `text`.
template <typename T>
void expectFails(const Result<T>& r,
                 uint32_t code,
                 const std::string& field,
                 const std::string& text = "") {
  ASSERT_FALSE(r.has_value()) << "expected " << statusName(code) << " at " << field;
  EXPECT_EQ(statusName(r.error().status), statusName(code)) << r.error().message;
  EXPECT_EQ(r.error().message.rfind(field + ": ", 0), 0U)
      << "message \"" << r.error().message << "\" does not name " << field;
  EXPECT_NE(r.error().message.find(text), std::string::npos)
      << "message \"" << r.error().message << "\" lacks \"" << text << "\"";
}

// A filter that decodes: the base every test breaks one field of.
v1::Filter goodFilter() {
  Filter f;
  f.key = g("11111111-2222-3333-4444-555555555555");
  f.displayData.name = "good";
  f.layerKey = g("22222222-2222-3333-4444-555555555555");
  f.weight = Value::uint8(3);
  f.conditions = {{f.key, MatchType::Equal, Value::uint8(6)},
                  {f.key, MatchType::Equal, Value::uint16(22)},
                  {f.key, MatchType::Equal, Value::byteArray16({})}};
  f.action.type = ActionType::Permit;
  return toProto(f);
}

v1::Value* condValue(v1::Filter& m, int i) {
  return m.mutable_conditions(i)->mutable_value()->mutable_value();
}

TEST(RpcCodecMalformed, TheBaseFilterDecodes) {
  auto r = fromProto(goodFilter());
  ASSERT_TRUE(r.has_value()) << r.error().message;
}

TEST(RpcCodecMalformed, GuidOfWrongLength) {
  v1::Filter m = goodFilter();
  m.set_key(std::string(15, 'k'));
  expectFails(fromProto(m), status::kInvalidParameter, "filter.key", "a GUID is 16 bytes, got 15");

  m = goodFilter();
  m.mutable_conditions(1)->set_field_key(std::string(17, 'k'));
  expectFails(fromProto(m), status::kInvalidParameter, "filter.conditions[1].field_key", "got 17");

  m = goodFilter();
  m.mutable_action()->set_callout_key("x");
  expectFails(fromProto(m), status::kInvalidParameter, "filter.action.callout_key", "got 1");

  // A present optional key must be a GUID: empty would be ambiguous between none and zero.
  m = goodFilter();
  m.set_provider_key("");
  expectFails(fromProto(m), status::kInvalidParameter, "filter.provider_key", "got 0");

  v1::CalloutEnumTemplate ct;
  ct.set_layer_key(std::string(3, '\0'));
  expectFails(fromProto(ct), status::kInvalidParameter, "callout_enum_template.layer_key");

  v1::FilterSubscription sub;
  sub.mutable_enum_template()->mutable_provider_context_template()->set_provider_key("ab");
  expectFails(fromProto(sub),
              status::kInvalidParameter,
              "filter_subscription.enum_template.provider_context_template.provider_key");

  v1::SessionOptions so;
  so.set_session_key(std::string(8, '\1'));
  expectFails(fromProto(so), status::kInvalidParameter, "session_options.session_key");

  expectFails(guidFromBytes(std::string(20, 'x'), "delete_provider"),
              status::kInvalidParameter,
              "delete_provider");
}

TEST(RpcCodecMalformed, UnknownDataType) {
  for (const uint32_t t : {19U, 0xFFU, 0x103U, 0xFFFFFFFFU}) {
    v1::Filter m = goodFilter();
    condValue(m, 0)->set_type(t);
    condValue(m, 0)->clear_u();
    expectFails(fromProto(m),
                status::kInvalidEnumerator,
                "filter.conditions[0].value",
                "unknown FWP_DATA_TYPE " + std::to_string(t));
  }
  v1::Filter m = goodFilter();
  m.mutable_weight()->set_type(77);
  expectFails(fromProto(m), status::kInvalidEnumerator, "filter.weight");
}

TEST(RpcCodecMalformed, DataTypeAValueCannotHave) {
  // Condition-value-only types belong in their own oneof members.
  v1::Filter m = goodFilter();
  condValue(m, 0)->set_type(static_cast<uint32_t>(DataType::V4AddrMask));
  expectFails(fromProto(m),
              status::kTypeMismatch,
              "filter.conditions[0].value",
              "FWP_V4_ADDR_MASK is a condition value type");
  m = goodFilter();
  m.mutable_weight()->set_type(static_cast<uint32_t>(DataType::Range));
  m.mutable_weight()->clear_u();
  expectFails(fromProto(m), status::kTypeMismatch, "filter.weight");
  // xfp's tokens are FWP_TOKEN_ACCESS_INFORMATION_TYPE only.
  m = goodFilter();
  condValue(m, 0)->set_type(static_cast<uint32_t>(DataType::TokenInformation));
  condValue(m, 0)->clear_u();
  expectFails(
      fromProto(m), status::kInvalidParameter, "filter.conditions[0].value", "not supported");
}

TEST(RpcCodecMalformed, ValueInTheWrongMember) {
  struct Case {
    DataType type;
    void (*set)(v1::Value&);
    const char* text;
  };
  const Case cases[] = {
      {DataType::Uint16,
       [](v1::Value& v) { v.set_b(std::string("\x00\x16", 2)); },
       "FWP_UINT16 is carried in u, but b"},
      {DataType::Uint16, [](v1::Value& v) { v.set_s("22"); }, "but s is set"},
      {DataType::Uint8, [](v1::Value& v) { v.set_i(-1); }, "but i is set"},
      {DataType::Uint8, [](v1::Value& v) { v.mutable_token(); }, "but token is set"},
      {DataType::Int32, [](v1::Value& v) { v.set_u(5); }, "FWP_INT32 is carried in i, but u"},
      {DataType::Double, [](v1::Value& v) { v.set_i(5); }, "FWP_DOUBLE is carried in d, but i"},
      {DataType::Float, [](v1::Value& v) { v.set_b("x"); }, "carried in d"},
      {DataType::Empty, [](v1::Value& v) { v.set_d(-0.0); }, "FWP_EMPTY carries no data, but d"},
      {DataType::ByteBlob, [](v1::Value& v) { v.set_s("text"); }, "carried in b, but s"},
      {DataType::Sid, [](v1::Value& v) { v.set_u(1); }, "carried in b"},
      {DataType::UnicodeString, [](v1::Value& v) { v.set_u(1); }, "but u is set"},
      {DataType::UnicodeString,
       [](v1::Value& v) {
         v.set_s("a");
         v.set_b(std::string("a\0", 2));
       },
       "not both"},
      {DataType::TokenAccessInformation,
       [](v1::Value& v) {
         v.mutable_token();
         v.set_b("x");
       },
       "carried in token, but b"},
  };
  for (const Case& c : cases) {
    v1::Filter m = goodFilter();
    v1::Value* v = condValue(m, 1);
    v->Clear();
    v->set_type(static_cast<uint32_t>(c.type));
    c.set(*v);
    expectFails(fromProto(m), status::kTypeMismatch, "filter.conditions[1].value", c.text);
  }
  // A token value without its token: WFP's NULL member.
  v1::Value v;
  v.set_type(static_cast<uint32_t>(DataType::TokenAccessInformation));
  expectFails(fromProto(v), status::kNullPointer, "value", "needs token");
}

TEST(RpcCodecMalformed, NumberOutOfItsTypesRange) {
  struct Case {
    DataType type;
    uint64_t u;
    int64_t i;
    double d;
  };
  const Case cases[] = {
      {DataType::Uint8, 256, 0, 0},
      {DataType::Uint16, 65536, 0, 0},
      {DataType::Uint32, 0x100000000ULL, 0, 0},
      {DataType::Int8, 0, 128, 0},
      {DataType::Int8, 0, -129, 0},
      {DataType::Int16, 0, -32769, 0},
      {DataType::Int32, 0, 0x80000000LL, 0},
      {DataType::Float, 0, 0, 1e300},
      {DataType::Float, 0, 0, -3.5e38},
  };
  for (const Case& c : cases) {
    v1::Filter m = goodFilter();
    v1::Value* v = condValue(m, 2);
    v->Clear();
    v->set_type(static_cast<uint32_t>(c.type));
    v->set_u(c.u);
    v->set_i(c.i);
    v->set_d(c.d);
    expectFails(fromProto(m),
                status::kOutOfBounds,
                "filter.conditions[2].value",
                std::string("does not fit ") + std::string(dataTypeName(c.type)));
  }
  v1::Sublayer s;
  s.set_weight(0x10000);
  expectFails(fromProto(s), status::kOutOfBounds, "sublayer.weight", "65536");
}

TEST(RpcCodecMalformed, ByteArrayOfWrongLength) {
  v1::Filter m = goodFilter();
  condValue(m, 2)->set_b("abc");
  const auto r = fromProto(m);
  expectFails(r, status::kInvalidParameter, "filter.conditions[2].value");
  EXPECT_EQ(r.error().message,
            "filter.conditions[2].value: FWP_BYTE_ARRAY16_TYPE needs 16 bytes, got 3");

  m = goodFilter();
  condValue(m, 2)->set_b("");
  expectFails(fromProto(m), status::kInvalidParameter, "filter.conditions[2].value", "got 0");

  m = goodFilter();
  condValue(m, 2)->set_type(static_cast<uint32_t>(DataType::ByteArray6));
  condValue(m, 2)->set_b(std::string(7, 'm'));
  expectFails(fromProto(m),
              status::kInvalidParameter,
              "filter.conditions[2].value",
              "FWP_BYTE_ARRAY6_TYPE needs 6 bytes, got 7");

  // Inside a range, the end is named.
  m = goodFilter();
  v1::Range* range = m.mutable_conditions(2)->mutable_value()->mutable_range();
  *range->mutable_low() = toProto(Value::byteArray16({}));
  *range->mutable_high() = toProto(Value::byteArray16({}));
  range->mutable_high()->set_b(std::string(15, '\xff'));
  expectFails(fromProto(m), status::kInvalidParameter, "filter.conditions[2].value.range.high");
}

TEST(RpcCodecMalformed, Ipv6AddressMaskShape) {
  v1::Filter m = goodFilter();
  v1::V6AddrMask* v6 = m.mutable_conditions(0)->mutable_value()->mutable_v6_mask();
  v6->set_addr(std::string(4, '\x0a'));  // an IPv4 address where IPv6 belongs
  v6->set_prefix_length(24);
  expectFails(fromProto(m),
              status::kInvalidParameter,
              "filter.conditions[0].value.v6_mask.addr",
              "an IPv6 address is 16 bytes, got 4");

  for (const uint32_t prefix : {129U, 255U, 256U, 0xFFFFFFFFU}) {
    m = goodFilter();
    v6 = m.mutable_conditions(0)->mutable_value()->mutable_v6_mask();
    v6->set_addr(std::string(16, '\xfd'));
    v6->set_prefix_length(prefix);
    expectFails(fromProto(m),
                status::kInvalidNetMask,
                "filter.conditions[0].value.v6_mask.prefix_length",
                std::to_string(prefix) + " > 128");
  }
}

TEST(RpcCodecMalformed, AbsurdSizes) {
  const std::string big(kMaxFieldBytes + 1, 'x');
  v1::Filter m = goodFilter();
  m.set_provider_data(big);
  expectFails(fromProto(m), status::kOutOfBounds, "filter.provider_data", "at most 1048576");

  m = goodFilter();
  m.mutable_display_data()->set_name(big);
  expectFails(fromProto(m), status::kOutOfBounds, "filter.display_data.name");

  m = goodFilter();
  condValue(m, 1)->Clear();
  condValue(m, 1)->set_type(static_cast<uint32_t>(DataType::ByteBlob));
  condValue(m, 1)->set_b(big);
  expectFails(fromProto(m), status::kOutOfBounds, "filter.conditions[1].value");

  m = goodFilter();
  condValue(m, 1)->Clear();
  condValue(m, 1)->set_type(static_cast<uint32_t>(DataType::UnicodeString));
  condValue(m, 1)->set_s(big);
  expectFails(fromProto(m), status::kOutOfBounds, "filter.conditions[1].value");

  m = goodFilter();
  for (size_t i = m.conditions_size(); i <= kMaxConditions; ++i) {
    *m.add_conditions() = m.conditions(0);
  }
  expectFails(fromProto(m), status::kOutOfBounds, "filter.conditions", "1025 conditions");
  m.mutable_conditions()->RemoveLast();
  EXPECT_TRUE(fromProto(m).has_value());  // the limit itself is fine

  v1::Value token;
  token.set_type(static_cast<uint32_t>(DataType::TokenAccessInformation));
  for (size_t i = 0; i <= kMaxTokenGroups; ++i) {
    token.mutable_token()->add_gids(static_cast<uint32_t>(i));
  }
  expectFails(fromProto(token), status::kOutOfBounds, "value.token.gids", "65537 groups");

  v1::ProviderContext c;
  c.set_data_buffer(big);
  expectFails(fromProto(c), status::kOutOfBounds, "provider_context.data_buffer");
}

TEST(RpcCodecMalformed, InvalidUtf8) {
  // Overlong NUL, a lone continuation byte, an encoded surrogate, above U+10FFFF, cut short, 0xFF.
  const std::string bad[] = {
      "a\xC0\x80", "\x80", "ok \xED\xA0\x80", "\xF4\x90\x80\x80", "caf\xC3", "\xE2\x82", "\xFF"};
  for (const std::string& s : bad) {
    v1::Filter m = goodFilter();
    m.mutable_display_data()->set_name(s);
    expectFails(
        fromProto(m), status::kInvalidParameter, "filter.display_data.name", "invalid UTF-8");

    m = goodFilter();
    condValue(m, 1)->Clear();
    condValue(m, 1)->set_type(static_cast<uint32_t>(DataType::UnicodeString));
    condValue(m, 1)->set_s(s);
    expectFails(fromProto(m), status::kInvalidParameter, "filter.conditions[1].value", "UTF-8");
  }
  v1::Filter m = goodFilter();
  m.mutable_display_data()->set_description("fine \xF0\x9F\x98\x80 then \xC3\x28");
  expectFails(
      fromProto(m), status::kInvalidParameter, "filter.display_data.description", "at byte 15");

  v1::Provider p;
  p.set_service_name("x\xFE");
  expectFails(fromProto(p), status::kInvalidParameter, "provider.service_name");

  v1::SessionInfo info;
  info.set_username("\xC1\xBF");
  expectFails(fromProto(info), status::kInvalidParameter, "session_info.username");

  // UTF-16LE in b must be whole code units.
  v1::Value v;
  v.set_type(static_cast<uint32_t>(DataType::UnicodeString));
  v.set_b("abc");
  expectFails(fromProto(v), status::kInvalidParameter, "value", "even number of bytes, got 3");
}

TEST(RpcCodecMalformed, EnumeratorsOutOfRange) {
  v1::Filter m = goodFilter();
  m.mutable_conditions(2)->set_match_type(kMatchTypeMax);
  expectFails(fromProto(m),
              status::kInvalidEnumerator,
              "filter.conditions[2].match_type",
              "FWP_MATCH_TYPE 13 is out of range");

  for (const uint32_t t : {0U, 0x1003U, 0x4000U, 0xFFFFFFFFU}) {
    m = goodFilter();
    m.mutable_action()->set_type(t);
    expectFails(
        fromProto(m), status::kInvalidActionType, "filter.action.type", "not an FWP_ACTION_TYPE");
  }
  m = goodFilter();
  m.clear_action();  // an absent action is all zero: no action type
  expectFails(fromProto(m), status::kInvalidActionType, "filter.action.type");

  m = goodFilter();
  m.mutable_origin()->set_lifetime(4);
  expectFails(fromProto(m), status::kInvalidEnumerator, "filter.origin.lifetime", "lifetime 4");
  v1::Callout c;
  c.mutable_origin()->set_lifetime(0xFFFFFFFF);
  expectFails(fromProto(c), status::kInvalidEnumerator, "callout.origin.lifetime");

  v1::FilterEnumTemplate t;
  t.set_enum_type(2);
  expectFails(fromProto(t), status::kInvalidEnumerator, "filter_enum_template.enum_type");
  v1::FilterSubscription sub;
  sub.mutable_enum_template()->add_filter_conditions()->set_match_type(99);
  expectFails(fromProto(sub),
              status::kInvalidEnumerator,
              "filter_subscription.enum_template.filter_conditions[0].match_type");
}

// An absent origin is the core default, not lifetime 0 (built-in): a client claims nothing.
TEST(RpcCodecMalformed, AbsentOriginIsNotBuiltIn) {
  v1::Filter m = goodFilter();
  m.clear_origin();
  auto f = fromProto(m);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->origin.lifetime, Lifetime::Static);
  m.mutable_origin()->set_lifetime(0);
  f = fromProto(m);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->origin.lifetime, Lifetime::BuiltIn);
}

// The daemon names the request member the object came in.
TEST(RpcCodecMalformed, CallerChosenRoot) {
  v1::Filter m = goodFilter();
  m.set_layer_key("short");
  expectFails(fromProto(m, "add_filter"), status::kInvalidParameter, "add_filter.layer_key");
  v1::Value v;
  v.set_type(1);
  v.set_u(1000);
  expectFails(fromProto(v, "add_filter.weight"), status::kOutOfBounds, "add_filter.weight");
}

}  // namespace
}  // namespace xfp::rpc
