// What the daemon gives back when it goes idle between cycles. A cycle runs SQLCipher, OpenSSL's
// libcrypto (SQLCipher's crypto), mbedTLS and zlib for a few hundred milliseconds every 15 minutes;
// in between, their code pages and the heap a report needed only make the agent look big on a till.
#pragma once

namespace postured {

// Gives memory the process does not need while it waits back to the system. Linux: the heap's free
// pages (malloc_trim), then MADV_PAGEOUT on every read-only file mapping (programs and libraries),
// which drops the pages only this process maps; the kernel leaves pages that other processes map
// too (libc), and what is dropped is read back from the page cache at the next use. Windows: the
// working set is emptied (SetProcessWorkingSetSize with -1, -1), the same idea. Best effort.
void release_idle_memory();

}  // namespace postured
