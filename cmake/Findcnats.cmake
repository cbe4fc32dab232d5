# Findcnats — nats.c. Debian's libnats-dev 3.4.1 ships a cnats-config.cmake that references
# libnats_static.a, which the package does not contain, so its config fails to load. Under
# vcpkg (whose config is complete) the config is used; elsewhere the library is found directly.
#
# Defines cnats::nats (shared), cnats_FOUND, cnats_VERSION.
if(DEFINED VCPKG_TOOLCHAIN OR DEFINED VCPKG_INSTALLED_DIR)
  find_package(cnats CONFIG QUIET)
  if(cnats_FOUND AND TARGET cnats::nats)
    return()
  endif()
endif()

include(FindPackageHandleStandardArgs)
find_path(cnats_INCLUDE_DIR NAMES nats/nats.h nats.h)
find_library(cnats_LIBRARY NAMES nats)
if(cnats_INCLUDE_DIR AND EXISTS "${cnats_INCLUDE_DIR}/nats/version.h")
  file(STRINGS "${cnats_INCLUDE_DIR}/nats/version.h" _nats_version_line
       REGEX "^#define NATS_VERSION_STRING")
  string(REGEX REPLACE ".*\"([0-9.]+).*\".*" "\\1" cnats_VERSION "${_nats_version_line}")
endif()
find_package_handle_standard_args(cnats
  REQUIRED_VARS cnats_LIBRARY cnats_INCLUDE_DIR
  VERSION_VAR cnats_VERSION)

if(cnats_FOUND AND NOT TARGET cnats::nats)
  add_library(cnats::nats UNKNOWN IMPORTED)
  set_target_properties(cnats::nats PROPERTIES
    IMPORTED_LOCATION "${cnats_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${cnats_INCLUDE_DIR}")
endif()
mark_as_advanced(cnats_INCLUDE_DIR cnats_LIBRARY)
