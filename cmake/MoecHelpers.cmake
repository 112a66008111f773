# Small CMake helpers shared by moec's directories.

# Adds every immediate subdirectory that has a CMakeLists.txt (component
# directories such as compiler/ and passes/ hold one per component).
function(moec_add_component_dirs)
  file(GLOB _dirs LIST_DIRECTORIES true ${CMAKE_CURRENT_SOURCE_DIR}/*)
  foreach(_dir ${_dirs})
    if(IS_DIRECTORY ${_dir} AND EXISTS ${_dir}/CMakeLists.txt)
      add_subdirectory(${_dir})
    endif()
  endforeach()
endfunction()

# moec_add_dialect(<TdBase> <dialect-name> <TargetPrefix> SOURCES ...):
# TableGen for <TdBase>.td (ops + dialect, in the build tree) and a library
# <TargetPrefix>Dialect linking MLIR.
function(moec_add_dialect td dialect prefix)
  cmake_parse_arguments(ARG "" "" "SOURCES" ${ARGN})
  set(LLVM_TARGET_DEFINITIONS ${td}.td)
  mlir_tablegen(${td}.h.inc -gen-op-decls)
  mlir_tablegen(${td}.cpp.inc -gen-op-defs)
  mlir_tablegen(${td}Dialect.h.inc -gen-dialect-decls -dialect=${dialect})
  mlir_tablegen(${td}Dialect.cpp.inc -gen-dialect-defs -dialect=${dialect})
  add_public_tablegen_target(${prefix}OpsIncGen)
  add_library(${prefix}Dialect ${ARG_SOURCES})
  add_dependencies(${prefix}Dialect ${prefix}OpsIncGen)
  target_link_libraries(${prefix}Dialect PUBLIC MLIR LLVM)
endfunction()

# moec_add_pass_group(<Group> SOURCES ... LINK ...): the group's Passes.td
# declarations and a library Moec<Group>Passes.
function(moec_add_pass_group group)
  cmake_parse_arguments(ARG "" "" "SOURCES;LINK" ${ARGN})
  set(LLVM_TARGET_DEFINITIONS Passes.td)
  mlir_tablegen(Passes.h.inc -gen-pass-decls -name ${group})
  add_public_tablegen_target(Moec${group}PassesIncGen)
  add_library(Moec${group}Passes ${ARG_SOURCES})
  add_dependencies(Moec${group}Passes Moec${group}PassesIncGen)
  target_link_libraries(Moec${group}Passes PUBLIC ${ARG_LINK} MLIR LLVM)
endfunction()
