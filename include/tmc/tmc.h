/* libtmc public API: for programs that want to look at libtmc from the inside.
 * Everything here is optional; a program does not need it to run under libtmc.
 * Link nothing: the symbols come from libtmc.so when it is preloaded; declare them weak
 * (or use dlsym) to run without it. */
#ifndef TMC_TMC_H
#define TMC_TMC_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A snapshot of libtmc's statistics; fields are defined in tmc/stats.def. */
struct tmc_stats {
#define TMC_STAT(name, kind, unit, doc) uint64_t name;
#include "tmc/stats.def"
#undef TMC_STAT
};

/* "0.1.0" */
const char* tmc_version(void);

/* 1 if libtmc manages the heap (TMC_ENABLE=1 and start-up succeeded), 0 if it is a plain
 * pass-through allocator. */
int tmc_is_active(void);

/* 1 if p points into libtmc's managed heap (memory libtmc may compress), else 0. */
int tmc_is_managed(const void* p);

/* Fills *out with a snapshot; returns 0 on success. */
int tmc_stats_get(struct tmc_stats* out);

#ifdef __cplusplus
}
#endif

#endif /* TMC_TMC_H */
