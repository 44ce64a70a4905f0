# What `cmake --install` puts where (GNUInstallDirs), and the man pages it installs.
# Included from the top-level CMakeLists.txt after the tmc and tmcctl targets exist.
#
#   <libdir>/libtmc.so                 the preload, under the name LD_PRELOAD uses
#   <libdir>/pkgconfig/libtmc.pc       where the headers and the preload are
#   <bindir>/tmcctl
#   <includedir>/tmc/                  tmc.h, stats.def (tmc.h includes it), ctl_protocol.h
#   <mandir>/man7/libtmc.7.gz, man1/tmcctl.1.gz
#   <datarootdir>/doc/libtmc/          README.md, options, statistics, systemd drop-ins
#   <prefix>/lib/udev/rules.d/         the rule giving /dev/userfaultfd to group userfaultfd

# On a multiarch system (Debian) the library goes to lib/<triplet> under any prefix:
# GNUInstallDirs picks it only for /usr, but Debian's ld.so.conf lists
# /usr/local/lib/<triplet> too, and one relative path keeps the package (/usr) and a
# source install (/usr/local) alike.
if(CMAKE_LIBRARY_ARCHITECTURE AND NOT DEFINED CACHE{CMAKE_INSTALL_LIBDIR})
  set(CMAKE_INSTALL_LIBDIR "lib/${CMAKE_LIBRARY_ARCHITECTURE}" CACHE PATH
    "Object code libraries (lib/<multiarch triplet> on multiarch systems)")
endif()
include(GNUInstallDirs)

# libtmc.so keeps its unversioned SONAME and file name: nothing links against it (tmc.h
# says "link nothing"), and LD_PRELOAD=libtmc.so, or the full path, must stay the same
# across upgrades. dpkg replaces the file by a rename, so running programs keep theirs.
install(TARGETS tmc LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS tmcctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES include/tmc/tmc.h include/tmc/stats.def include/tmc/ctl_protocol.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tmc)

# The .pc file is written at install time, when CMAKE_INSTALL_PREFIX is the real one (cpack
# installs with /usr, a plain build is configured with /usr/local): pkg-config users get
# absolute paths, and pkg-config drops -I/usr/include as a system directory, which matters
# since -I/usr/include breaks C++'s #include_next of C headers.
install(CODE "
  set(TMC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  set(CMAKE_INSTALL_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
  set(CMAKE_INSTALL_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
  set(PROJECT_VERSION \"${PROJECT_VERSION}\")
  configure_file(\"${CMAKE_SOURCE_DIR}/packaging/libtmc.pc.in\" \"${CMAKE_BINARY_DIR}/libtmc.pc\" @ONLY)")
install(FILES ${CMAKE_BINARY_DIR}/libtmc.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# Man pages, generated at build time from the options and statistics tables and from
# tmcctl's own usage text (scripts/gen_docs.py --man): nothing to keep in step by hand.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
set(TMC_MAN_DIR ${CMAKE_BINARY_DIR}/man)
add_custom_command(
  OUTPUT ${TMC_MAN_DIR}/libtmc.7 ${TMC_MAN_DIR}/tmcctl.1
    ${TMC_MAN_DIR}/libtmc.7.gz ${TMC_MAN_DIR}/tmcctl.1.gz
  COMMAND Python3::Interpreter ${CMAKE_SOURCE_DIR}/scripts/gen_docs.py
    --man ${TMC_MAN_DIR} --tmcctl $<TARGET_FILE:tmcctl>
    --version ${PROJECT_VERSION} --libdir ${CMAKE_INSTALL_LIBDIR} --docdir ${CMAKE_INSTALL_DOCDIR}
  DEPENDS ${CMAKE_SOURCE_DIR}/scripts/gen_docs.py ${CMAKE_SOURCE_DIR}/scripts/man_pages.py
    ${CMAKE_SOURCE_DIR}/src/control/options.def
    ${CMAKE_SOURCE_DIR}/include/tmc/stats.def tmcctl
  COMMENT "Generating man pages libtmc.7 and tmcctl.1")
add_custom_target(man ALL DEPENDS ${TMC_MAN_DIR}/libtmc.7.gz ${TMC_MAN_DIR}/tmcctl.1.gz)
install(FILES ${TMC_MAN_DIR}/libtmc.7.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man7)
install(FILES ${TMC_MAN_DIR}/tmcctl.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

install(FILES README.md docs/options.md docs/stats.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY packaging/systemd/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/systemd)
# Debian's policy wants the copyright file in the package's doc directory (the changelog is
# written in cmake/package.cmake, which knows the maintainer).
install(FILES packaging/deb/copyright DESTINATION ${CMAKE_INSTALL_DOCDIR})
# Read by lintian only; says why libtmc.so has no version in its name (see the file).
install(FILES packaging/deb/lintian-overrides DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/lintian/overrides
  RENAME libtmc)

# udev reads rules from /usr/lib/udev/rules.d (and /etc): right for the package's /usr
# prefix; a /usr/local install puts the rule where udev does not look (README says what
# to copy instead).
set(TMC_UDEV_RULES_DIR "lib/udev/rules.d" CACHE PATH
  "Where the /dev/userfaultfd rule goes, relative to the prefix or absolute")
install(FILES packaging/udev/70-libtmc-userfaultfd.rules DESTINATION ${TMC_UDEV_RULES_DIR})
