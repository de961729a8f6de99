// Debian's version ordering, exactly as dpkg orders versions (deb-version(7)).
#pragma once

#include <string_view>

namespace postured::patch {

// Compares two Debian versions "[epoch:]upstream[-revision]" the way `dpkg --compare-versions`
// does. Returns <0, 0 or >0 as `a` sorts before, equal to or after `b`. A malformed epoch counts as 0.
int compare_dpkg_versions(std::string_view a, std::string_view b);

// dpkg's verrevcmp on one version part: '~' sorts before everything, even the end of the part;
// letters sort before other characters; runs of digits compare numerically.
int compare_dpkg_version_parts(std::string_view a, std::string_view b);

}  // namespace postured::patch
