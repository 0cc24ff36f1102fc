#ifndef DEVCTL_CGIT2_SHIM_H
#define DEVCTL_CGIT2_SHIM_H
// libgit2 (Debian libgit2-dev), found with pkg-config: `devctl manifests` reads the git index.
#include <git2.h>
#endif
