# The Debian package: `cpack -G DEB` in the build directory writes libtmc_<version>-<release>_<arch>.deb
# with what cmake/install.cmake installs, under /usr. Build everything first
# (`cmake --build build`): cpack installs what the build produced.
#
#   cpack -G DEB                                  the package
#   cpack -G DEB -D CPACK_PACKAGE_VERSION=0.1.1   the same with another version (upgrade tests)

set(CPACK_PACKAGE_NAME libtmc)
set(CPACK_PACKAGE_VENDOR "libtmc")
set(CPACK_PACKAGE_CONTACT "libtmc maintainers <libtmc@invalid>" CACHE STRING
  "Maintainer field of the Debian package")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "transparent compressing allocator (LD_PRELOAD)")
# Debian wants the long description in lines of at most 80 columns.
set(CPACK_PACKAGE_DESCRIPTION
  "libtmc replaces a program's allocator with jemalloc and compresses heap pages
left untouched for a while (TMC_COLD_AGE) into an in-process pool, bringing
them back through userfaultfd when they are touched again. Load it with
LD_PRELOAD=libtmc.so; tmcctl shows its statistics. Members of group
userfaultfd (created by this package) may use /dev/userfaultfd, which is what
a service running as an ordinary user needs.")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# Debug information stays in the build tree; the package gets stripped objects.
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Library dependencies from what libtmc.so and tmcctl actually link (dpkg-shlibdeps);
# passwd for groupadd/groupdel in the maintainer scripts.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd")
# triggers: ldconfig runs after the library is installed or removed (ld.so.cache lists it,
# so LD_PRELOAD=libtmc.so finds it by name).
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_SOURCE_DIR}/packaging/deb/postinst
  ${CMAKE_SOURCE_DIR}/packaging/deb/postrm ${CMAKE_SOURCE_DIR}/packaging/deb/triggers)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

# The package's changelog (Debian policy: /usr/share/doc/<package>/changelog.Debian.gz,
# compressed with no timestamp in it, gzip -n), signed by the maintainer above.
configure_file(${CMAKE_SOURCE_DIR}/packaging/deb/changelog.in ${CMAKE_BINARY_DIR}/changelog.Debian @ONLY)
find_program(TMC_GZIP gzip REQUIRED)
add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/changelog.Debian.gz
  COMMAND sh -c "${TMC_GZIP} -9nc changelog.Debian > changelog.Debian.gz"
  WORKING_DIRECTORY ${CMAKE_BINARY_DIR}
  DEPENDS ${CMAKE_BINARY_DIR}/changelog.Debian
  VERBATIM)
add_custom_target(debian_changelog ALL DEPENDS ${CMAKE_BINARY_DIR}/changelog.Debian.gz)
install(FILES ${CMAKE_BINARY_DIR}/changelog.Debian.gz DESTINATION ${CMAKE_INSTALL_DOCDIR})

include(CPack)
