// Windows SIDs and self-relative security descriptors as used by the ALE_USER_ID family of
// conditions (wfp-model.md §2.7): parse and format SIDs, build a descriptor from an SDDL subset,
// validate a self-relative descriptor, and the DACL access check that decides a match.
#pragma once

#include <string>
#include <vector>

#include "userspace/core/result.h"
#include "userspace/core/value.h"

namespace xfp {

// "S-1-22-1-1000" <-> binary SID. Aliases accepted on input: WD (Everyone), BA
// (Administrators), SY (LocalSystem).
Result<Bytes> sidFromString(const std::string& text);
std::string sidToString(const Bytes& sid);

// The SIDs of a Linux identity: S-1-22-1-<uid>, S-1-22-2-<gid> for every gid, Everyone, and
// Administrators (S-1-5-32-544) when uid is 0.
std::vector<Bytes> tokenSids(const Token& token);

// The SID xfp gives a cgroup v2 directory (its inode number, the id BPF reports): the
// AppContainer form S-1-15-2-<id> (two sub-authorities, low then high 32 bits, when the id does
// not fit one). ALE_PACKAGE_ID of a process is the SID of its cgroup (docs/ale.md).
Bytes cgroupSid(uint64_t cgroupId);
// "cgroup:<path>" -> the SID of that cgroup directory (it must exist).
Result<Bytes> cgroupSidFromPath(const std::string& path);

// Builds a self-relative descriptor from SDDL: [O:sid][G:sid]D:[flags](A|D;;mask;;;sid)...
// The mask is a number (0x1 = FWP_ACTRL_MATCH_FILTER) or GA (generic all).
Result<Bytes> securityDescriptorFromSddl(const std::string& sddl);
std::string securityDescriptorToSddl(const Bytes& sd);

// Checks that `sd` is a well-formed self-relative descriptor; errors carry
// status::kInvalidSecurityDescriptor (ERROR_INVALID_SECURITY_DESCR).
Result<void> validateSecurityDescriptor(const Bytes& sd);

// True iff the DACL of `sd` grants every bit of `desired` to `token` (deny ACEs apply in order
// to bits not yet granted; no DACL grants everything; an empty DACL grants nothing).
bool accessCheck(const Token& token, const Bytes& sd, uint32_t desired);

}  // namespace xfp
