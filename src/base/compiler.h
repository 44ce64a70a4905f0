// Compiler attributes shared by every layer: branch hints and hot/cold markers.
// The malloc fast path depends on these to stay a forward plus a counter.
#pragma once

#define TMC_LIKELY(x) __builtin_expect(!!(x), 1)
#define TMC_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define TMC_COLD [[gnu::noinline, gnu::cold]]
#define TMC_ALWAYS_INLINE [[gnu::always_inline]] inline
#define TMC_EXPORT [[gnu::visibility("default")]]
