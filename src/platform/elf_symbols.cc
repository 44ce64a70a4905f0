#include "platform/elf_symbols.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>

#include <cstdint>
#include <cstring>

namespace tmc::platform {
namespace {

uint32_t gnu_hash(const char* s) {
  uint32_t h = 5381;
  for (; *s; ++s) h = h * 33 + static_cast<unsigned char>(*s);
  return h;
}

// glibc rewrites most dynamic-section pointers to absolute addresses when it loads an
// object; other loaders leave them relative. Accept both.
uintptr_t absolute(const link_map* map, uintptr_t v) { return v < map->l_addr ? v + map->l_addr : v; }

}  // namespace

void* find_symbol_in_object_of(const void* anchor, const char* name) {
  Dl_info info;
  link_map* map = nullptr;
  if (dladdr1(anchor, &info, reinterpret_cast<void**>(&map), RTLD_DL_LINKMAP) == 0 || map == nullptr)
    return nullptr;
  const ElfW(Sym)* symtab = nullptr;
  const char* strtab = nullptr;
  const uint32_t* hash = nullptr;
  for (const ElfW(Dyn)* d = map->l_ld; d->d_tag != DT_NULL; ++d) {
    if (d->d_tag == DT_SYMTAB) symtab = reinterpret_cast<const ElfW(Sym)*>(absolute(map, d->d_un.d_ptr));
    if (d->d_tag == DT_STRTAB) strtab = reinterpret_cast<const char*>(absolute(map, d->d_un.d_ptr));
    if (d->d_tag == DT_GNU_HASH) hash = reinterpret_cast<const uint32_t*>(absolute(map, d->d_un.d_ptr));
  }
  if (symtab == nullptr || strtab == nullptr || hash == nullptr) return nullptr;

  // Layout: nbuckets, symoffset, bloom_size, bloom_shift, bloom[bloom_size] (words),
  // buckets[nbuckets], chain[]. Chain entries hold the hash with bit 0 marking the end.
  uint32_t nbuckets = hash[0], symoffset = hash[1], bloom_size = hash[2];
  const auto* buckets = reinterpret_cast<const uint32_t*>(
      reinterpret_cast<const ElfW(Addr)*>(hash + 4) + bloom_size);
  const uint32_t* chain = buckets + nbuckets;
  uint32_t h = gnu_hash(name);
  uint32_t index = buckets[h % nbuckets];
  if (index < symoffset) return nullptr;
  for (;; ++index) {
    uint32_t entry = chain[index - symoffset];
    const ElfW(Sym)& sym = symtab[index];
    if ((entry | 1) == (h | 1) && sym.st_shndx != SHN_UNDEF && strcmp(strtab + sym.st_name, name) == 0)
      return reinterpret_cast<void*>(map->l_addr + sym.st_value);
    if (entry & 1) return nullptr;
  }
}

bool code_range_of(const void* anchor, uintptr_t* lo, uintptr_t* hi) {
  struct Search {
    uintptr_t anchor, lo, hi;
    bool found;
  } search{reinterpret_cast<uintptr_t>(anchor), 0, 0, false};
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* arg) {
        auto* s = static_cast<Search*>(arg);
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_LOAD || (ph.p_flags & PF_X) == 0) continue;
          uintptr_t start = info->dlpi_addr + ph.p_vaddr;
          if (s->anchor >= start && s->anchor < start + ph.p_memsz) {
            *s = Search{s->anchor, start, start + ph.p_memsz, true};
            return 1;
          }
        }
        return 0;
      },
      &search);
  *lo = search.lo;
  *hi = search.hi;
  return search.found;
}

}  // namespace tmc::platform
