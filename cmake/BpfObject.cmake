# BPF objects and their skeletons. xfp_bpf_object(NAME <obj> SOURCE <file.bpf.c>) compiles the
# source with clang into <build>/bpf/<obj>.bpf.o (with a depfile for header changes), generates
# <obj>.skel.h with bpftool and exposes it as the INTERFACE target <obj>_skel.
# Anchor: libbpf-bootstrap tools/cmake/FindBpfObject.cmake; one custom command per output
# (bpftrace cmake/BuildBPF.cmake) so parallel builds never race on a shared file.

find_program(XFP_BPF_CLANG NAMES clang-14 clang REQUIRED)
find_program(XFP_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)

# clang -target bpf does not search the host's multiarch directories (<asm/types.h> lives in
# /usr/include/x86_64-linux-gnu on Debian): ask the host clang for its system include list once.
if(NOT DEFINED XFP_BPF_SYS_INCLUDES)
  execute_process(
    COMMAND ${XFP_BPF_CLANG} -v -E -x c /dev/null
    OUTPUT_VARIABLE _xfp_out
    ERROR_VARIABLE _xfp_err)
  string(REGEX MATCH "#include <...> search starts here:\n(.*)End of search list" _xfp_m
               "${_xfp_err}")
  string(REPLACE "\n" ";" _xfp_lines "${CMAKE_MATCH_1}")
  set(_xfp_incs "")
  foreach(_xfp_line IN LISTS _xfp_lines)
    string(STRIP "${_xfp_line}" _xfp_line)
    if(_xfp_line)
      list(APPEND _xfp_incs "-idirafter" "${_xfp_line}")
    endif()
  endforeach()
  set(XFP_BPF_SYS_INCLUDES "${_xfp_incs}" CACHE INTERNAL "clang system include flags for BPF")
endif()

function(xfp_bpf_object)
  cmake_parse_arguments(ARG "" "NAME;SOURCE" "" ${ARGN})
  if(NOT ARG_NAME OR NOT ARG_SOURCE)
    message(FATAL_ERROR "xfp_bpf_object(NAME <obj> SOURCE <file.bpf.c>)")
  endif()
  get_filename_component(_src "${ARG_SOURCE}" ABSOLUTE)
  set(_outdir "${CMAKE_CURRENT_BINARY_DIR}")
  set(_obj "${_outdir}/${ARG_NAME}.bpf.o")
  set(_dep "${_outdir}/${ARG_NAME}.bpf.d")
  set(_skeldir "${_outdir}/skel")
  set(_skel "${_skeldir}/${ARG_NAME}.skel.h")

  add_custom_command(
    OUTPUT "${_obj}"
    COMMAND ${XFP_BPF_CLANG} -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Wextra -Werror
            -I${PROJECT_SOURCE_DIR}/bpf/include -I${PROJECT_SOURCE_DIR}/bpf
            ${XFP_BPF_SYS_INCLUDES} -MD -MF "${_dep}" -MT "${_obj}" -c "${_src}" -o "${_obj}"
    DEPENDS "${_src}"
    DEPFILE "${_dep}"
    COMMENT "BPF ${ARG_NAME}.bpf.o"
    COMMAND_EXPAND_LISTS
    VERBATIM)

  add_custom_command(
    OUTPUT "${_skel}"
    COMMAND ${CMAKE_COMMAND} -E make_directory "${_skeldir}"
    COMMAND ${XFP_BPFTOOL} gen skeleton "${_obj}" name ${ARG_NAME} > "${_skel}.tmp"
    COMMAND ${CMAKE_COMMAND} -E rename "${_skel}.tmp" "${_skel}"
    DEPENDS "${_obj}"
    COMMENT "BPF skeleton ${ARG_NAME}.skel.h"
    VERBATIM)

  add_custom_target(${ARG_NAME}_skel_gen DEPENDS "${_skel}" "${_obj}")
  add_library(${ARG_NAME}_skel INTERFACE)
  add_dependencies(${ARG_NAME}_skel ${ARG_NAME}_skel_gen)
  target_include_directories(${ARG_NAME}_skel INTERFACE "${_skeldir}")
  target_link_libraries(${ARG_NAME}_skel INTERFACE PkgConfig::LIBBPF)
  # Consumers (tests) find the object through this property or the XFP_BPF_OBJ_<name> define.
  set_target_properties(${ARG_NAME}_skel PROPERTIES INTERFACE_XFP_BPF_OBJECT "${_obj}")
  target_compile_definitions(${ARG_NAME}_skel INTERFACE "XFP_BPF_OBJ_${ARG_NAME}=\"${_obj}\"")
endfunction()
