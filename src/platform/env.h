// Reads environment variables without allocating, usable from the first malloc call
// (before libc is fully initialised). Like secure_getenv, returns nothing in a
// set-user-ID or set-group-ID process, so TMC_* variables cannot steer a privileged program.
#pragma once

namespace tmc::platform {

// Returns the value of `name` or nullptr. The pointer is into the process environment.
const char* env_get(const char* name);

}  // namespace tmc::platform
