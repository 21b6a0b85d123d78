#include "userspace/core/security.h"

#include <sys/stat.h>

#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace xfp {
namespace {

constexpr uint16_t kSeDaclPresent = 0x0004;
constexpr uint16_t kSeSelfRelative = 0x8000;
constexpr uint8_t kAccessAllowedAce = 0;
constexpr uint8_t kAccessDeniedAce = 1;
constexpr uint8_t kInheritOnlyAce = 0x08;
constexpr uint32_t kGenericAll = 0x10000000;

uint16_t le16(const Bytes& b, size_t off) {
  return static_cast<uint16_t>(b[off] | (b[off + 1] << 8));
}
uint32_t le32(const Bytes& b, size_t off) {
  return static_cast<uint32_t>(b[off]) | (static_cast<uint32_t>(b[off + 1]) << 8) |
         (static_cast<uint32_t>(b[off + 2]) << 16) | (static_cast<uint32_t>(b[off + 3]) << 24);
}
void put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v));
  b.push_back(static_cast<uint8_t>(v >> 8));
}
void put32(Bytes& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) {
    b.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
}

Bytes makeSid(uint64_t authority, const std::vector<uint32_t>& subs) {
  Bytes sid;
  sid.push_back(1);
  sid.push_back(static_cast<uint8_t>(subs.size()));
  for (int i = 5; i >= 0; --i) {
    sid.push_back(static_cast<uint8_t>(authority >> (8 * i)));
  }
  for (uint32_t s : subs) {
    put32(sid, s);
  }
  return sid;
}

// Length of the SID at `off`, or 0 if it does not fit in `b`.
size_t sidLength(const Bytes& b, size_t off) {
  if (off + 8 > b.size() || b[off] != 1 || b[off + 1] > 15) {
    return 0;
  }
  const size_t len = 8 + 4 * static_cast<size_t>(b[off + 1]);
  return off + len <= b.size() ? len : 0;
}

struct Ace {
  uint8_t type;
  uint8_t flags;
  uint32_t mask;
  Bytes sid;
};

Result<std::vector<Ace>> parseAcl(const Bytes& sd, size_t off) {
  auto bad = [](const std::string& why) {
    return fail(status::kInvalidSecurityDescriptor, "invalid security descriptor: " + why);
  };
  if (off + 8 > sd.size()) {
    return bad("DACL header out of bounds");
  }
  const uint16_t aclSize = le16(sd, off + 2);
  const uint16_t count = le16(sd, off + 4);
  if (aclSize < 8 || off + aclSize > sd.size()) {
    return bad("DACL size out of bounds");
  }
  std::vector<Ace> aces;
  size_t pos = off + 8;
  for (uint16_t i = 0; i < count; ++i) {
    if (pos + 8 > off + aclSize) {
      return bad(fmt::format("ACE {} out of bounds", i));
    }
    const uint16_t aceSize = le16(sd, pos + 2);
    if (aceSize < 8 || pos + aceSize > off + aclSize) {
      return bad(fmt::format("ACE {} size invalid", i));
    }
    Ace ace{sd[pos], sd[pos + 1], le32(sd, pos + 4), {}};
    if (ace.type == kAccessAllowedAce || ace.type == kAccessDeniedAce) {
      const size_t sl = sidLength(sd, pos + 8);
      if (sl == 0 || 8 + sl > aceSize) {
        return bad(fmt::format("ACE {} SID invalid", i));
      }
      ace.sid.assign(sd.begin() + static_cast<long>(pos + 8),
                     sd.begin() + static_cast<long>(pos + 8 + sl));
    }
    aces.push_back(std::move(ace));
    pos += aceSize;
  }
  return aces;
}

}  // namespace

Bytes cgroupSid(uint64_t cgroupId) {
  const auto low = static_cast<uint32_t>(cgroupId);
  const auto high = static_cast<uint32_t>(cgroupId >> 32);
  return high == 0 ? makeSid(15, {2, low}) : makeSid(15, {2, low, high});
}

Result<Bytes> cgroupSidFromPath(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return fail(status::kInvalidParameter, "cgroup \"" + path + "\" is not a directory");
  }
  return cgroupSid(static_cast<uint64_t>(st.st_ino));
}

Result<Bytes> sidFromString(const std::string& text) {
  if (text.rfind("cgroup:", 0) == 0) {
    return cgroupSidFromPath(text.substr(7));
  }
  if (text == "WD") {
    return makeSid(1, {0});
  }
  if (text == "BA") {
    return makeSid(5, {32, 544});
  }
  if (text == "SY") {
    return makeSid(5, {18});
  }
  if (text.size() < 4 || (text[0] != 'S' && text[0] != 's') || text[1] != '-') {
    return fail(status::kInvalidParameter, "invalid SID \"" + text + "\"");
  }
  std::vector<uint64_t> parts;
  const char* p = text.data() + 2;
  const char* end = text.data() + text.size();
  while (p < end) {
    uint64_t v = 0;
    auto [next, ec] = std::from_chars(p, end, v);
    if (ec != std::errc() || (next != end && *next != '-')) {
      return fail(status::kInvalidParameter, "invalid SID \"" + text + "\"");
    }
    parts.push_back(v);
    p = next == end ? end : next + 1;
  }
  if (parts.size() < 2 || parts[0] != 1 || parts.size() - 2 > 15 || parts[1] >= (1ULL << 48)) {
    return fail(status::kInvalidParameter, "invalid SID \"" + text + "\"");
  }
  std::vector<uint32_t> subs;
  for (size_t i = 2; i < parts.size(); ++i) {
    if (parts[i] > 0xFFFFFFFFULL) {
      return fail(status::kInvalidParameter, "invalid SID \"" + text + "\"");
    }
    subs.push_back(static_cast<uint32_t>(parts[i]));
  }
  return makeSid(parts[1], subs);
}

std::string sidToString(const Bytes& sid) {
  if (sidLength(sid, 0) == 0) {
    return "(invalid SID)";
  }
  uint64_t authority = 0;
  for (int i = 0; i < 6; ++i) {
    authority = (authority << 8) | sid[2 + i];
  }
  std::string out = fmt::format("S-1-{}", authority);
  for (int i = 0; i < sid[1]; ++i) {
    out += fmt::format("-{}", le32(sid, 8 + 4 * static_cast<size_t>(i)));
  }
  return out;
}

std::vector<Bytes> tokenSids(const Token& token) {
  std::vector<Bytes> sids;
  sids.push_back(makeSid(22, {1, token.uid}));
  for (uint32_t g : token.gids) {
    sids.push_back(makeSid(22, {2, g}));
  }
  sids.push_back(makeSid(1, {0}));  // Everyone
  if (token.uid == 0) {
    sids.push_back(makeSid(5, {32, 544}));
  }
  return sids;
}

Result<Bytes> securityDescriptorFromSddl(const std::string& sddl) {
  Bytes owner;
  Bytes group;
  std::vector<Ace> aces;
  bool haveDacl = false;
  size_t i = 0;
  auto bad = [&](const std::string& why) {
    return fail(status::kInvalidSecurityDescriptor,
                fmt::format("invalid SDDL \"{}\" at offset {}: {}", sddl, i, why));
  };
  auto readSid = [&]() -> Result<Bytes> {
    size_t j = i;
    while (j < sddl.size() && sddl[j] != ':' && sddl[j] != '(' &&
           !(j + 1 < sddl.size() && sddl[j + 1] == ':' && j > i)) {
      ++j;
    }
    auto sid = sidFromString(sddl.substr(i, j - i));
    i = j;
    return sid;
  };
  while (i < sddl.size()) {
    if (i + 1 >= sddl.size() || sddl[i + 1] != ':') {
      return bad("expected O:, G: or D:");
    }
    const char section = sddl[i];
    i += 2;
    if (section == 'O' || section == 'G') {
      auto sid = readSid();
      if (!sid) {
        return bad(sid.error().message);
      }
      (section == 'O' ? owner : group) = *sid;
    } else if (section == 'D') {
      haveDacl = true;
      while (i < sddl.size() && sddl[i] != '(') {
        ++i;  // DACL flags such as P or AI do not change matching
      }
      while (i < sddl.size() && sddl[i] == '(') {
        const size_t close = sddl.find(')', i);
        if (close == std::string::npos) {
          return bad("unterminated ACE");
        }
        std::vector<std::string> f;
        size_t s = i + 1;
        for (size_t k = s; k <= close; ++k) {
          if (k == close || sddl[k] == ';') {
            f.push_back(sddl.substr(s, k - s));
            s = k + 1;
          }
        }
        if (f.size() != 6 || (f[0] != "A" && f[0] != "D")) {
          return bad("ACE must be (A|D;;mask;;;sid)");
        }
        uint32_t mask = 0;
        if (f[2] == "GA") {
          mask = kGenericAll;
        } else {
          const bool hex = f[2].rfind("0x", 0) == 0 || f[2].rfind("0X", 0) == 0;
          const std::string digits = hex ? f[2].substr(2) : f[2];
          auto [p, ec] =
              std::from_chars(digits.data(), digits.data() + digits.size(), mask, hex ? 16 : 10);
          if (ec != std::errc() || p != digits.data() + digits.size() || digits.empty()) {
            return bad("ACE access mask must be a number or GA");
          }
        }
        auto sid = sidFromString(f[5]);
        if (!sid) {
          return bad(sid.error().message);
        }
        aces.push_back(Ace{f[0] == "A" ? kAccessAllowedAce : kAccessDeniedAce, 0, mask, *sid});
        i = close + 1;
      }
    } else {
      return bad(std::string("unsupported section ") + section + ":");
    }
  }
  // Self-relative layout: header, owner, group, DACL.
  Bytes sd(20, 0);
  sd[0] = 1;
  const uint16_t control = static_cast<uint16_t>(kSeSelfRelative | (haveDacl ? kSeDaclPresent : 0));
  sd[2] = static_cast<uint8_t>(control);
  sd[3] = static_cast<uint8_t>(control >> 8);
  auto setOffset = [&](size_t at, size_t value) {
    for (int k = 0; k < 4; ++k) {
      sd[at + static_cast<size_t>(k)] = static_cast<uint8_t>(value >> (8 * k));
    }
  };
  if (!owner.empty()) {
    setOffset(4, sd.size());
    sd.insert(sd.end(), owner.begin(), owner.end());
  }
  if (!group.empty()) {
    setOffset(8, sd.size());
    sd.insert(sd.end(), group.begin(), group.end());
  }
  if (haveDacl) {
    setOffset(16, sd.size());
    Bytes acl;
    acl.push_back(2);  // ACL_REVISION
    acl.push_back(0);
    put16(acl, 0);  // size, patched below
    put16(acl, static_cast<uint16_t>(aces.size()));
    put16(acl, 0);
    for (const Ace& ace : aces) {
      acl.push_back(ace.type);
      acl.push_back(ace.flags);
      put16(acl, static_cast<uint16_t>(8 + ace.sid.size()));
      put32(acl, ace.mask);
      acl.insert(acl.end(), ace.sid.begin(), ace.sid.end());
    }
    acl[2] = static_cast<uint8_t>(acl.size());
    acl[3] = static_cast<uint8_t>(acl.size() >> 8);
    sd.insert(sd.end(), acl.begin(), acl.end());
  }
  return sd;
}

Result<void> validateSecurityDescriptor(const Bytes& sd) {
  auto bad = [](const std::string& why) {
    return fail(status::kInvalidSecurityDescriptor, "invalid security descriptor: " + why);
  };
  if (sd.size() < 20 || sd[0] != 1) {
    return bad("too short or wrong revision");
  }
  const uint16_t control = le16(sd, 2);
  if ((control & kSeSelfRelative) == 0) {
    return bad("not self-relative");
  }
  for (size_t at : {size_t{4}, size_t{8}}) {
    const uint32_t off = le32(sd, at);
    if (off != 0 && sidLength(sd, off) == 0) {
      return bad("owner/group SID out of bounds");
    }
  }
  const uint32_t daclOff = le32(sd, 16);
  if ((control & kSeDaclPresent) != 0 && daclOff != 0) {
    auto aces = parseAcl(sd, daclOff);
    if (!aces) {
      return tl::unexpected(aces.error());
    }
  }
  return {};
}

std::string securityDescriptorToSddl(const Bytes& sd) {
  if (!validateSecurityDescriptor(sd)) {
    return "(invalid SD)";
  }
  std::string out;
  if (const uint32_t o = le32(sd, 4); o != 0) {
    out += "O:" + sidToString(Bytes(sd.begin() + o, sd.begin() + o + sidLength(sd, o)));
  }
  if (const uint32_t g = le32(sd, 8); g != 0) {
    out += "G:" + sidToString(Bytes(sd.begin() + g, sd.begin() + g + sidLength(sd, g)));
  }
  const uint32_t daclOff = le32(sd, 16);
  if ((le16(sd, 2) & kSeDaclPresent) != 0) {
    out += "D:";
    if (daclOff != 0) {
      const auto aces = parseAcl(sd, daclOff);  // a local: *temporary would dangle in the loop
      for (const Ace& ace : *aces) {
        out += fmt::format("({};;0x{:x};;;{})",
                           ace.type == kAccessDeniedAce ? "D" : "A",
                           ace.mask,
                           sidToString(ace.sid));
      }
    }
  }
  return out;
}

bool accessCheck(const Token& token, const Bytes& sd, uint32_t desired) {
  if (!validateSecurityDescriptor(sd)) {
    return false;
  }
  const uint16_t control = le16(sd, 2);
  const uint32_t daclOff = le32(sd, 16);
  if ((control & kSeDaclPresent) == 0 || daclOff == 0) {
    return true;  // no DACL / NULL DACL: everyone is granted everything
  }
  const std::vector<Bytes> sids = tokenSids(token);
  auto holds = [&](const Bytes& sid) {
    for (const Bytes& s : sids) {
      if (s == sid) {
        return true;
      }
    }
    return false;
  };
  uint32_t granted = 0;
  const auto aces = parseAcl(sd, daclOff);  // a local: *temporary would dangle in the loop
  if (!aces) {
    return false;
  }
  for (const Ace& ace : *aces) {
    if ((ace.flags & kInheritOnlyAce) != 0 || ace.sid.empty() || !holds(ace.sid)) {
      continue;
    }
    const uint32_t mask = (ace.mask & kGenericAll) != 0 ? 0xFFFFFFFFu : ace.mask;
    if (ace.type == kAccessDeniedAce) {
      if ((mask & desired & ~granted) != 0) {
        return false;
      }
    } else if (ace.type == kAccessAllowedAce) {
      granted |= mask;
      if ((granted & desired) == desired) {
        return true;
      }
    }
  }
  return (granted & desired) == desired;
}

}  // namespace xfp
