// RPM's version ordering, exactly as rpm orders versions (rpmvercmp.c, rpmver.c).
#pragma once

#include <string_view>

namespace postured::patch {

// rpm's rpmvercmp on one version or release string: alphanumeric segments compare one by one (digit
// runs numerically, letter runs by ASCII, a digit run is newer than a letter run); other characters
// only separate segments; '~' sorts before everything, even the end; '^' sorts after the end but
// before any further segment. Returns -1, 0 or 1.
int rpmvercmp(std::string_view a, std::string_view b);

// Compares "[epoch:]version[-release]" the way rpm.vercmp() does: the epoch (missing = 0), then the
// version, then the release (after the last '-'; missing = empty), each with rpmvercmp. Returns -1, 0 or 1.
int compare_rpm_versions(std::string_view a, std::string_view b);

}  // namespace postured::patch
