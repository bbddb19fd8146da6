# portd_add_plugin(<target> [NO_LIB_PREFIX] <source>...)
#
# Builds a portd handler plugin: a MODULE library (for dlopen, never linked against) that
# links portd::sdk and exports nothing but what handler.h marks PORTD_EXPORT, i.e.
# portd_plugin_entry(). With NO_LIB_PREFIX the file is <target>.so instead of lib<target>.so.
function(portd_add_plugin target)
  cmake_parse_arguments(PARSE_ARGV 1 _portd "NO_LIB_PREFIX" "" "")
  if(NOT _portd_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "portd_add_plugin(${target}): no source files")
  endif()
  add_library(${target} MODULE ${_portd_UNPARSED_ARGUMENTS})
  target_link_libraries(${target} PRIVATE portd::sdk)
  set_target_properties(${target} PROPERTIES
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    POSITION_INDEPENDENT_CODE ON)
  if(_portd_NO_LIB_PREFIX)
    set_target_properties(${target} PROPERTIES PREFIX "")
  endif()
endfunction()
