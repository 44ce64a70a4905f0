// Looks a symbol up in one loaded shared object's dynamic symbol table, by reading its
// ELF GNU hash table directly.
//
// Why not dlopen/dlsym: libtmc needs jemalloc's own `malloc` while defining `malloc`
// itself, and must do so inside the first malloc call. dlopen(RTLD_NOLOAD) runs pending
// constructors of other libraries (out of order, from inside malloc), and dlsym on a
// dependency's link_map crashes because glibc sets up search lists only for dlopen'ed
// objects. Reading the table touches no loader state and never allocates.
#pragma once

#include <cstdint>

namespace tmc::platform {

// Returns the address of the defined function or object `name` in the shared object that
// contains `anchor` (any address inside it), or nullptr.
void* find_symbol_in_object_of(const void* anchor, const char* name);

// The executable segment [*lo, *hi) of the loaded object that contains `anchor`. False if
// no loaded object contains it. Takes the loader's lock: not for use inside malloc.
bool code_range_of(const void* anchor, uintptr_t* lo, uintptr_t* hi);

}  // namespace tmc::platform
