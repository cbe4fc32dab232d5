# Findre2 — RE2. vcpkg (and RE2 built with CMake) ship a re2Config.cmake; Debian's libre2-dev
# ships only re2.pc, so the library is found directly there.
#
# Defines re2::re2, re2_FOUND.
find_package(re2 CONFIG QUIET)
if(re2_FOUND AND TARGET re2::re2)
  return()
endif()

include(FindPackageHandleStandardArgs)
find_path(re2_INCLUDE_DIR NAMES re2/re2.h)
find_library(re2_LIBRARY NAMES re2)
find_package_handle_standard_args(re2 REQUIRED_VARS re2_LIBRARY re2_INCLUDE_DIR)

if(re2_FOUND AND NOT TARGET re2::re2)
  find_package(Threads REQUIRED)
  add_library(re2::re2 UNKNOWN IMPORTED)
  set_target_properties(re2::re2 PROPERTIES
    IMPORTED_LOCATION "${re2_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${re2_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES Threads::Threads)
endif()
mark_as_advanced(re2_INCLUDE_DIR re2_LIBRARY)
