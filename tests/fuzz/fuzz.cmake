# libFuzzer targets: tests/fuzz/fuzz_*.c, each defining
# LLVMFuzzerTestOneInput, built only with -DDDBPIPE_FUZZ=ON and clang:
#   CC=clang cmake -S . -B build-fuzz -DDDBPIPE_FUZZ=ON && cmake --build build-fuzz
# scripts/fuzz-smoke.sh (make fuzz, and part of make test) runs each one.
if(NOT DDBPIPE_FUZZ)
  return()
endif()
if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "DDBPIPE_FUZZ needs clang: CC=clang cmake -DDDBPIPE_FUZZ=ON ...")
endif()
# The library is instrumented for coverage too, so the fuzzer sees inside
# the parsers; ASan+UBSan catch what a crash alone would not.
target_compile_options(ddbpipe_obj PRIVATE -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
target_link_options(ddbpipe_lib INTERFACE -fsanitize=address,undefined)
file(GLOB DDBPIPE_FUZZ_TARGETS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_*.c)
foreach(src ${DDBPIPE_FUZZ_TARGETS})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/tests)
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(${name} PRIVATE ddbpipe_lib)
endforeach()
