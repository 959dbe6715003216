// Two builds of the library in one process, for side-by-side timing of a change made inside it:
// each loaded with dlopen (RTLD_LOCAL, so their symbols stay apart). Harnesses that include this
// carry a NO_LINK marker so build.sh does not link them against libsepconv.
#pragma once
#include <dlfcn.h>
#include <sepconv/sepconv.h>

#include <cstdio>
#include <cstdlib>

namespace dev {
struct Lib {
  int (*set_threads)(int);
  int (*fwd)(int, const sepconv_conv2d*, const float*, const float*, const float*, float*);
  int (*bwd)(int, const sepconv_conv2d*, int, const float*, const float*, const float*, float*, float*, float*);
  explicit Lib(const char* path) {
    void* h = path ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : nullptr;
    if (!h) {
      std::fprintf(stderr, "dlopen %s: %s\n", path ? path : "(LIB_A / LIB_B unset)", path ? dlerror() : "");
      std::exit(1);
    }
    set_threads = (decltype(set_threads))dlsym(h, "sepconv_set_num_threads");
    fwd = (decltype(fwd))dlsym(h, "sepconv_conv2d_forward");
    bwd = (decltype(bwd))dlsym(h, "sepconv_conv2d_backward");
  }
};
inline void ok(int rc, const char* what) {
  if (rc) {
    std::fprintf(stderr, "%s failed: %d\n", what, rc);
    std::exit(1);
  }
}
}  // namespace dev
