# Debian packages built by CPack: `postured` (the agent and posturectl) and `posture-console`.
#   cmake --build build --target package      (or: cpack --config build/CPackConfig.cmake)
# packaging/README.md describes what each package holds and why; scripts/package-test installs them.
# The programs' own install() lines sit next to their targets (agent/daemon, agent/cli, console/server);
# everything else a package holds is installed here. Tests and examples install nothing.
include(GNUInstallDirs)
# The Windows installer is packaging/windows/postured.nsi, built outside CMake; the rest is Debian's.
if(WIN32)
  return()
endif()

# mbedTLS 3.6 comes from trixie; linked statically, the packages install on plain bookworm (with
# bookworm-backports for SQLCipher 4.6) instead of pulling trixie's libmbedtls21 onto every terminal.
# The cost: a mbedTLS security release means rebuilding these packages (packaging/README.md).
option(POSTURED_STATIC_MBEDTLS "Link mbedTLS statically (see packaging/README.md)" ON)
if(POSTURED_STATIC_MBEDTLS AND TARGET MbedTLS::mbedtls_static)
  # Every target links MbedTLS::mbedtls|mbedx509|mbedcrypto; pointing those imported targets at the
  # static archives changes all of them at once. Their link interfaces keep the archives in order.
  foreach(library IN ITEMS mbedcrypto mbedx509 mbedtls)
    get_target_property(configurations MbedTLS::${library}_static IMPORTED_CONFIGURATIONS)
    foreach(configuration IN LISTS configurations)
      get_target_property(archive MbedTLS::${library}_static IMPORTED_LOCATION_${configuration})
      set_target_properties(MbedTLS::${library} PROPERTIES IMPORTED_LOCATION_${configuration} "${archive}")
      set_property(TARGET MbedTLS::${library} PROPERTY IMPORTED_SONAME_${configuration})
    endforeach()
  endforeach()
endif()

# Full RELRO for every program, as Debian's hardening=+bindnow builds them: the GOT is read-only
# once the program has started (lintian: hardening-no-bindnow). Debian's GCC already adds PIE,
# partial RELRO and the stack protector.
string(APPEND CMAKE_EXE_LINKER_FLAGS " -Wl,-z,relro,-z,now")

set(packaging_dir ${PROJECT_SOURCE_DIR}/packaging)
set(packaging_build_dir ${PROJECT_BINARY_DIR}/packaging)
set(postured_package_version_release 1)  # Debian revision of this upstream version's packages
set(postured_package_version ${PROJECT_VERSION}-${postured_package_version_release})

# Paths the programs use by default (agent/core/config.hpp, console/server/main.cpp), so fixed here
# rather than derived from CMAKE_INSTALL_PREFIX.
set(agent_config_dir /etc/postured)
set(console_config_dir /etc/posture-console)
# Debian 12 still ships units below /lib (files must not move between / and /usr in bookworm).
set(systemd_unit_dir /lib/systemd/system)

# --- agent ---------------------------------------------------------------------------------------
install(FILES ${PROJECT_SOURCE_DIR}/config/postured.toml DESTINATION ${agent_config_dir} COMPONENT agent)
# Check policies (checks.policies) and cache minimization policies ([[cache]] policy) are two formats.
install(FILES ${PROJECT_SOURCE_DIR}/config/policies/pos-linux-baseline.toml
        DESTINATION ${CMAKE_INSTALL_DATADIR}/postured/policies COMPONENT agent)
install(FILES ${PROJECT_SOURCE_DIR}/config/policies/pci-loyalty.toml
              ${PROJECT_SOURCE_DIR}/config/policies/gdpr-receipts.toml
        DESTINATION ${CMAKE_INSTALL_DATADIR}/postured/cache-policies COMPONENT agent)
install(FILES ${PROJECT_SOURCE_DIR}/config/patch-baseline.example.toml
        DESTINATION ${CMAKE_INSTALL_DATADIR}/postured/baselines COMPONENT agent)
install(FILES ${packaging_dir}/systemd/postured.service DESTINATION ${systemd_unit_dir} COMPONENT agent)
install(FILES ${packaging_dir}/debian/copyright DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/postured COMPONENT agent)
install(FILES ${packaging_dir}/debian/postured/lintian-overrides DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides
        RENAME postured COMPONENT agent)
install(FILES ${PROJECT_SOURCE_DIR}/config/README.md DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/postured
        RENAME configuration.md COMPONENT agent)

# --- console -------------------------------------------------------------------------------------
install(FILES ${PROJECT_SOURCE_DIR}/config/console.toml DESTINATION ${console_config_dir} COMPONENT console)
install(FILES ${packaging_dir}/systemd/posture-console.service DESTINATION ${systemd_unit_dir} COMPONENT console)
install(FILES ${packaging_dir}/debian/copyright DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/posture-console
        COMPONENT console)
install(FILES ${packaging_dir}/debian/posture-console/lintian-overrides
        DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides RENAME posture-console COMPONENT console)

# --- compressed documentation (Debian wants man pages and changelogs gzip -9n: no name, no time) ---
find_program(GZIP_PROGRAM gzip REQUIRED)
set(packaged_docs)
# man page source (packaging/man) | installed folder | component
set(man_pages
    "postured.8|man8|agent"
    "posturectl.1|man1|agent"
    "posture-console.8|man8|console")
foreach(entry IN LISTS man_pages)
  string(REPLACE "|" ";" fields "${entry}")
  list(GET fields 0 page)
  list(GET fields 1 section_dir)
  list(GET fields 2 component)
  set(output ${packaging_build_dir}/man/${page}.gz)
  add_custom_command(OUTPUT ${output}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${packaging_build_dir}/man
    COMMAND ${GZIP_PROGRAM} -9n -c ${packaging_dir}/man/${page} > ${output}
    DEPENDS ${packaging_dir}/man/${page}
    VERBATIM)
  list(APPEND packaged_docs ${output})
  install(FILES ${output} DESTINATION ${CMAKE_INSTALL_MANDIR}/${section_dir} COMPONENT ${component})
endforeach()

foreach(package IN ITEMS postured posture-console)
  set(debian_package ${package})
  configure_file(${packaging_dir}/debian/changelog.in ${packaging_build_dir}/${package}/changelog.Debian @ONLY)
  set(output ${packaging_build_dir}/${package}/changelog.Debian.gz)
  add_custom_command(OUTPUT ${output}
    COMMAND ${GZIP_PROGRAM} -9n -c ${packaging_build_dir}/${package}/changelog.Debian > ${output}
    DEPENDS ${packaging_build_dir}/${package}/changelog.Debian
    VERBATIM)
  list(APPEND packaged_docs ${output})
endforeach()
install(FILES ${packaging_build_dir}/postured/changelog.Debian.gz
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/postured COMPONENT agent)
install(FILES ${packaging_build_dir}/posture-console/changelog.Debian.gz
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/posture-console COMPONENT console)
add_custom_target(package_docs ALL DEPENDS ${packaged_docs})

# --- CPack ---------------------------------------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME postured)
set(CPACK_PACKAGE_VENDOR "postured")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "postured maintainers <maintainers@users.noreply.r-seed-efc4d916.example>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL agent console)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${postured_package_version_release})
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Maintainer scripts 0755, conffiles 0644, as dpkg-deb and lintian expect.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_AGENT_PACKAGE_NAME postured)
set(CPACK_DEBIAN_AGENT_PACKAGE_SECTION admin)
# adduser: postinst makes the `postured` group. The rest, libsqlcipher1 included (4.6 from
# bookworm-backports is the only build of that soname for Debian 12; the agent checks the cipher
# version at run time), comes from dpkg-shlibdeps.
set(CPACK_DEBIAN_AGENT_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_AGENT_PACKAGE_CONTROL_EXTRA
    ${packaging_dir}/debian/postured/conffiles ${packaging_dir}/debian/postured/postinst
    ${packaging_dir}/debian/postured/prerm ${packaging_dir}/debian/postured/postrm)
# Description lines stay within 80 columns (lintian).
set(CPACK_DEBIAN_AGENT_DESCRIPTION "posture agent for point-of-sale terminals
postured keeps the POS software's local customer caches encrypted with
SQLCipher and hands each cache's key only to the program that owns it,
minimizes and purges what those caches keep, finds card numbers where they
must not be, checks the device's hardening and patch level, and reports to
posture-console over mutual TLS. posturectl runs the same checks for a
technician.

Warning: purging this package (dpkg --purge) deletes /etc/postured and
/var/lib/postured, including the device master key. Caches the agent
encrypted can no longer be opened after that, by anyone. Copy
/var/lib/postured/keys away first if they must stay readable.")

set(CPACK_DEBIAN_CONSOLE_PACKAGE_NAME posture-console)
set(CPACK_DEBIAN_CONSOLE_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_CONSOLE_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_CONSOLE_PACKAGE_CONTROL_EXTRA
    ${packaging_dir}/debian/posture-console/conffiles ${packaging_dir}/debian/posture-console/postinst
    ${packaging_dir}/debian/posture-console/prerm ${packaging_dir}/debian/posture-console/postrm)
set(CPACK_DEBIAN_CONSOLE_DESCRIPTION "central console for postured agents
posture-console receives the posture reports of postured agents over mutual
TLS, runs their enrollment CA, keeps reports in SQLite or PostgreSQL and
serves the operator API and the fleet dashboard to central IT.

Warning: purging this package deletes /etc/posture-console and
/var/lib/posture-console: the CA, the console database and the operator
tokens. Every agent must enroll again with a new CA.")

include(CPack)
