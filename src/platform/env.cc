#include "platform/env.h"

#include <sys/auxv.h>
#include <unistd.h>

#include <cstring>

extern "C" char** environ;

namespace tmc::platform {

const char* env_get(const char* name) {
  if (getauxval(AT_SECURE) != 0) return nullptr;
  if (environ == nullptr) return nullptr;
  size_t len = strlen(name);
  for (char** e = environ; *e != nullptr; ++e) {
    if (strncmp(*e, name, len) == 0 && (*e)[len] == '=') return *e + len + 1;
  }
  return nullptr;
}

}  // namespace tmc::platform
