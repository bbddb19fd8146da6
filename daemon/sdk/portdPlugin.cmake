# portd_add_plugin(<target> [NO_LIB_PREFIX] <source>...)
#
# Builds a portd handler plugin: a MODULE library (for dlopen, never linked against) that
# links portd::sdk and exports portd_plugin_entry() and nothing else. With NO_LIB_PREFIX the
# file is <target>.so instead of lib<target>.so.
#
# Whoever includes this file sets portd_PLUGIN_VERSION_SCRIPT to the SDK's plugin.map before:
# portdConfig.cmake for an installed SDK, daemon/sdk/CMakeLists.txt in portd's own tree. It is
# kept in a global property because the function may be called from another directory, where
# that variable is not set.
if(NOT portd_PLUGIN_VERSION_SCRIPT)
  message(FATAL_ERROR "portdPlugin.cmake: portd_PLUGIN_VERSION_SCRIPT is not set")
endif()
set_property(GLOBAL PROPERTY portd_PLUGIN_VERSION_SCRIPT "${portd_PLUGIN_VERSION_SCRIPT}")

function(portd_add_plugin target)
  cmake_parse_arguments(PARSE_ARGV 1 _portd "NO_LIB_PREFIX" "" "")
  if(NOT _portd_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "portd_add_plugin(${target}): no source files")
  endif()
  get_property(_portd_map GLOBAL PROPERTY portd_PLUGIN_VERSION_SCRIPT)
  add_library(${target} MODULE ${_portd_UNPARSED_ARGUMENTS})
  target_link_libraries(${target} PRIVATE portd::sdk)
  # Hidden visibility lets the compiler call the plugin's own functions directly; the version
  # script is what guarantees the export list, for the std:: templates that hidden visibility
  # does not reach.
  set_target_properties(${target} PROPERTIES
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    POSITION_INDEPENDENT_CODE ON
    LINK_DEPENDS "${_portd_map}")
  target_link_options(${target} PRIVATE "LINKER:--version-script=${_portd_map}")
  # A single-configuration project that chose no CMAKE_BUILD_TYPE would build the plugin
  # without any optimisation: a plugin runs on every packet of its listeners, so it gets -O2
  # then, unless the project's own compiler flags already pick a level. An explicit build
  # type (Debug included) is left alone.
  if(NOT "${CMAKE_C_FLAGS} ${CMAKE_CXX_FLAGS}" MATCHES "(^| )-O")
    target_compile_options(${target} PRIVATE $<$<STREQUAL:$<CONFIG>,>:-O2>)
  endif()
  if(_portd_NO_LIB_PREFIX)
    set_target_properties(${target} PROPERTIES PREFIX "")
  endif()
endfunction()
