# Sanitizers for the tests and tools: cmake -DTMC_SANITIZER=address,undefined
# (scripts/run_sanitizers.sh, docs/sanitizers.md). libtmc.so is never instrumented.
#
# tmc_sanitize(<target> [PRELOADED | NONE]) says how one target is built:
#   (no keyword)  every sanitizer of TMC_SANITIZER. For code that runs without the preload:
#                 the unit tests and the core they link, tmcctl, tmc_loadgen. ASan's runtime
#                 is linked into the executable (gcc's -static-libasan, clang's default), so
#                 that such a program still starts when it inherits LD_PRELOAD=libtmc.so: its
#                 own malloc then comes first and libtmc manages nothing in it.
#   PRELOADED     only the sanitizers that bring no allocator (undefined, and the like). For
#                 programs that run under LD_PRELOAD=libtmc.so, whose heap libtmc must serve:
#                 address, leak, thread, memory and hwaddress replace malloc themselves.
#   NONE          none of them: libtmc.so and the core copy it links (and a target that
#                 sets sanitizer flags of its own).
# With TMC_SANITIZER set, configuring fails when a target was given no such choice
# (tmc_check_sanitized, called at the end of the top-level CMakeLists.txt).

set(TMC_SANITIZERS_FULL "")
set(TMC_SANITIZERS_PRELOADED "")
if(TMC_SANITIZER)
  string(REPLACE "," ";" TMC_SANITIZERS_FULL "${TMC_SANITIZER}")
  set(TMC_SANITIZERS_PRELOADED ${TMC_SANITIZERS_FULL})
  list(REMOVE_ITEM TMC_SANITIZERS_PRELOADED address leak thread memory hwaddress)
  string(REPLACE ";" "," _full "${TMC_SANITIZERS_FULL}")
  string(REPLACE ";" "," _preloaded "${TMC_SANITIZERS_PRELOADED}")
  if(NOT _preloaded)
    set(_preloaded "none")
  endif()
  message(STATUS "Sanitizers: ${_full} for tests and tools, ${_preloaded} for programs run "
                 "under the preload, none for libtmc.so")
endif()

function(tmc_sanitize target)
  cmake_parse_arguments(PARSE_ARGV 1 S "PRELOADED;NONE" "" "")
  if(S_NONE)
    set(mode none)
    set(sanitizers "")
  elseif(S_PRELOADED)
    set(mode preloaded)
    set(sanitizers ${TMC_SANITIZERS_PRELOADED})
  else()
    set(mode full)
    set(sanitizers ${TMC_SANITIZERS_FULL})
  endif()
  set_property(TARGET ${target} PROPERTY TMC_SANITIZE ${mode})
  if(NOT sanitizers)
    return()
  endif()
  string(REPLACE ";" "," list "${sanitizers}")
  # A report ends the program (as ASan's do by default), so a test cannot pass over one.
  target_compile_options(${target} PRIVATE
    -fsanitize=${list} -fno-sanitize-recover=all -fno-omit-frame-pointer)
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "STATIC_LIBRARY")
    return()  # instrumented; the executables that link it bring the runtime
  endif()
  target_link_options(${target} PRIVATE -fsanitize=${list})
  if(type STREQUAL "EXECUTABLE" AND "address" IN_LIST sanitizers AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_link_options(${target} PRIVATE -static-libasan)
  endif()
endfunction()

# Every target that compiles code must have gone through tmc_sanitize().
function(tmc_check_sanitized)
  if(NOT TMC_SANITIZER)
    return()
  endif()
  set(dirs ${CMAKE_SOURCE_DIR})
  set(missing "")
  while(dirs)
    list(POP_FRONT dirs dir)
    get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
    list(APPEND dirs ${subdirs})
    get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
    foreach(t IN LISTS targets)
      get_target_property(type ${t} TYPE)
      get_target_property(mode ${t} TMC_SANITIZE)
      if(type MATCHES "EXECUTABLE|LIBRARY$" AND NOT type STREQUAL "INTERFACE_LIBRARY" AND NOT mode)
        list(APPEND missing ${t})
      endif()
    endforeach()
  endwhile()
  if(missing)
    message(FATAL_ERROR "TMC_SANITIZER=${TMC_SANITIZER}: no tmc_sanitize() for ${missing} "
                        "(cmake/sanitizers.cmake says which form to use)")
  endif()
endfunction()
