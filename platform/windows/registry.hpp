// The Windows registry and the local account policy of the machine the agent runs on, behind the
// portable interfaces of core/registry_view.hpp. Used by the Windows Host (registry(),
// account_policy()) and by the Windows tests.
#pragma once

#include "core/registry_view.hpp"

namespace postured::windows {

// Limits, each with why.
inline constexpr std::size_t kMaxRegistryValueBytes = 1u << 20;  // policy values are small; a huge blob is not read
inline constexpr std::size_t kMaxRegistrySubkeys = 200000;       // CBS Packages holds a few thousand

// The live registry (RegOpenKeyExW, RegQueryValueExW, RegEnumKeyExW with KEY_WOW64_64KEY or
// KEY_WOW64_32KEY). One process-wide object; it holds no handles between calls.
const RegistryView& live_registry();

// The live local account policy: NetUserModalsGet levels 0 and 3 for the password and lockout
// settings, NetUserEnum level 20 for the built-in Guest (RID 501) and Administrator (RID 500).
const AccountPolicyView& live_account_policy();

}  // namespace postured::windows
