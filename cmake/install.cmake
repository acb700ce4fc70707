# Install rules (`make install PREFIX=... DESTDIR=...`, i.e. cmake --install),
# the pkg-config file, the CMake package config and the Debian package (CPack).
#   bin/ddbpipe
#   lib/libddbpipe.so.MAJOR (SONAME), .so.VERSION, .so (dev link), libddbpipe.a
#   include/ddbpipe/ddbpipe.h, include/ddbpipe/version.h (generated)
#   lib/pkgconfig/ddbpipe.pc, lib/cmake/ddbpipe/ddbpipe{Config,ConfigVersion,Targets}.cmake

# Module names for Requires.private and the package config.
set(DDBPIPE_PC_REQUIRES "")
set(DDBPIPE_PKG_DEPS_STR "")
foreach(dep ${DDBPIPE_PKG_DEPS})
  string(REGEX REPLACE "^[^=]*=" "" mod "${dep}")
  string(APPEND DDBPIPE_PC_REQUIRES " ${mod}")
  string(APPEND DDBPIPE_PKG_DEPS_STR " ${dep}")
endforeach()
string(STRIP "${DDBPIPE_PC_REQUIRES}" DDBPIPE_PC_REQUIRES)
string(STRIP "${DDBPIPE_PKG_DEPS_STR}" DDBPIPE_PKG_DEPS_STR)

# ddbpipe.pc records the install prefix, which `cmake --install --prefix P`
# (and CPack) may choose after configuring: the file is written at install
# time from a template that still has @prefix@ in it.
set(DDBPIPE_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
set(DDBPIPE_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
set(prefix "@prefix@")
configure_file(${CMAKE_SOURCE_DIR}/cmake/ddbpipe.pc.in ${CMAKE_BINARY_DIR}/ddbpipe.pc.in @ONLY)
unset(prefix)
set(DDBPIPE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/ddbpipe)
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/ddbpipeConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/ddbpipeConfig.cmake INSTALL_DESTINATION ${DDBPIPE_CMAKE_DIR})
# 0.x: a minor release may change the ABI, so only the same MAJOR.MINOR matches.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(DDBPIPE_COMPAT SameMinorVersion)
else()
  set(DDBPIPE_COMPAT SameMajorVersion)
endif()
write_basic_package_version_file(${CMAKE_BINARY_DIR}/ddbpipeConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY ${DDBPIPE_COMPAT})

if(TARGET ddbpipe)
  install(TARGETS ddbpipe RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT ddbpipe)
endif()
set(DDBPIPE_INSTALL_LIBS ddbpipe_lib)
if(TARGET ddbpipe_shared)
  list(PREPEND DDBPIPE_INSTALL_LIBS ddbpipe_shared)
endif()
install(TARGETS ${DDBPIPE_INSTALL_LIBS} EXPORT ddbpipeTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT ddbpipe
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT ddbpipe
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${CMAKE_SOURCE_DIR}/include/ddbpipe/ddbpipe.h ${CMAKE_BINARY_DIR}/include/ddbpipe/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ddbpipe COMPONENT ddbpipe)
install(CODE "set(prefix \"\${CMAKE_INSTALL_PREFIX}\")
configure_file(\"${CMAKE_BINARY_DIR}/ddbpipe.pc.in\" \"${CMAKE_BINARY_DIR}/pkgconfig/ddbpipe.pc\" @ONLY)
file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig\" TYPE FILE
     FILES \"${CMAKE_BINARY_DIR}/pkgconfig/ddbpipe.pc\")" COMPONENT ddbpipe)
install(EXPORT ddbpipeTargets NAMESPACE ddbpipe:: DESTINATION ${DDBPIPE_CMAKE_DIR} COMPONENT ddbpipe)
install(FILES ${CMAKE_BINARY_DIR}/ddbpipeConfig.cmake ${CMAKE_BINARY_DIR}/ddbpipeConfigVersion.cmake
        DESTINATION ${DDBPIPE_CMAKE_DIR} COMPONENT ddbpipe)
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT ddbpipe)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/examples/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples
        COMPONENT ddbpipe OPTIONAL)

# A live install into a system prefix (no DESTDIR, as root) refreshes the
# linker cache so libddbpipe.so.MAJOR is found at once (/usr/local/lib).
install(CODE "if(\"\$ENV{DESTDIR}\" STREQUAL \"\" AND EXISTS /sbin/ldconfig AND
   CMAKE_INSTALL_PREFIX MATCHES \"^/usr(/local)?/?$\")
  execute_process(COMMAND id -u OUTPUT_VARIABLE _uid OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(_uid STREQUAL \"0\")
    execute_process(COMMAND /sbin/ldconfig)
  endif()
endif()" COMPONENT ddbpipe)

# ddbpipe(1): troff generated from docs/ddbpipe.1.md by go-md2man
# (scripts/gen-man.sh says why that tool).
find_program(DDBPIPE_GO_MD2MAN go-md2man)
if(DDBPIPE_GO_MD2MAN)
  add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/man/ddbpipe.1
                     COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
                     COMMAND bash ${CMAKE_SOURCE_DIR}/scripts/gen-man.sh ${CMAKE_SOURCE_DIR}/docs/ddbpipe.1.md
                             ${CMAKE_BINARY_DIR}/man/ddbpipe.1 ${PROJECT_VERSION}
                     DEPENDS ${CMAKE_SOURCE_DIR}/docs/ddbpipe.1.md ${CMAKE_SOURCE_DIR}/scripts/gen-man.sh
                     COMMENT "Generating ddbpipe.1 from docs/ddbpipe.1.md" VERBATIM)
  add_custom_target(ddbpipe_man ALL DEPENDS ${CMAKE_BINARY_DIR}/man/ddbpipe.1)
  install(FILES ${CMAKE_BINARY_DIR}/man/ddbpipe.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT ddbpipe)
else()
  message(WARNING "go-md2man not found: no man page (apt-get install go-md2man, or scripts/install-deps.sh)")
endif()
install(FILES ${CMAKE_SOURCE_DIR}/completions/ddbpipe.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME ddbpipe COMPONENT ddbpipe)

# Debian package: `cmake --build build --target package` (or `make deb`)
# writes build/ddbpipe_VERSION_ARCH.deb, installing under /usr. Its Depends
# come from dpkg-shlibdeps (libcurl4, libssl3, libyaml-0-2, libmicrohttpd12, librdkafka1,
# libc6); the headers, libddbpipe.a, ddbpipe.pc and the CMake config are in
# the same package (one package keeps it simple; the -dev packages of the
# dependencies are needed only to build against it).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ddbpipe)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "stream changes into and out of Amazon DynamoDB")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "stream changes into and out of Amazon DynamoDB\n ddbpipe writes change streams (JSON lines: plain rows, Feldera, Debezium,\n DynamoDB Streams records) into DynamoDB tables and reads tables and their\n change feeds out as JSON lines; it also runs Flink-style SQL on DynamoDB.\n Includes libddbpipe (shared and static), its headers and pkg-config file.")
set(CPACK_PACKAGE_CONTACT "ddbpipe maintainers <ddbpipe-maintainers@localhost>")
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_OUTPUT_FILE_PREFIX ${CMAKE_BINARY_DIR})
include(CPack)
