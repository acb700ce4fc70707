# Test tiers, registered by file name convention so adding a test never
# needs a CMake edit:
#   tests/unit/test_*.c          label unit         (no network)
#   tests/integration/test_*.*   label integration  (DynamoDB Local fixture)
#   tests/fault/test_*.*         label fault        (local test doubles)
# C tests are cmocka programs linked with the library. Script tests (.sh,
# .py) get DDBPIPE_BIN, DDBPIPE_SOURCE_DIR, DDBPIPE_BUILD_DIR and, for
# integration, DDBPIPE_TEST_ENDPOINT_FILE (holds the endpoint URL).
set(DDBPIPE_PY /usr/bin/python3) # Debian's python: has botocore/boto3 from apt
set(DDBPIPE_ENDPOINT_FILE ${CMAKE_BINARY_DIR}/ddblocal.endpoint)
set(DDBPIPE_TEST_ENV
    DDBPIPE_BIN=$<TARGET_FILE:ddbpipe>
    DDBPIPE_SOURCE_DIR=${CMAKE_SOURCE_DIR}
    DDBPIPE_BUILD_DIR=${CMAKE_BINARY_DIR}
    DDBPIPE_SHARED_DIR=${CMAKE_SOURCE_DIR}/../shared
    DDBPIPE_TEST_ENDPOINT_FILE=${DDBPIPE_ENDPOINT_FILE})

# Test helper programs (doubles written in C, small tools) in tests/tools/*.c
file(GLOB DDBPIPE_TEST_TOOLS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/tools/*.c)
foreach(src ${DDBPIPE_TEST_TOOLS})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/src)
  target_link_libraries(${name} PRIVATE ddbpipe_lib)
endforeach()

function(ddbpipe_register_tier tier)
  file(GLOB tests CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/${tier}/test_*.c
       ${CMAKE_SOURCE_DIR}/tests/${tier}/test_*.sh ${CMAKE_SOURCE_DIR}/tests/${tier}/test_*.py)
  foreach(src ${tests})
    get_filename_component(name ${src} NAME_WE)
    get_filename_component(ext ${src} EXT)
    set(tname ${tier}.${name})
    if(ext STREQUAL ".c")
      if(NOT CMOCKA_FOUND)
        continue()
      endif()
      add_executable(${tier}_${name} ${src})
      target_include_directories(${tier}_${name} PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/tests)
      target_link_libraries(${tier}_${name} PRIVATE ddbpipe_lib PkgConfig::CMOCKA)
      # Test helpers format results into fixed buffers with snprintf on purpose (a cut result fails its
      # assertion); GCC's -O3 truncation guess about them is not a finding (Release builds failed on it).
      target_compile_options(${tier}_${name} PRIVATE $<$<C_COMPILER_ID:GNU>:-Wno-format-truncation>)
      add_test(NAME ${tname} COMMAND ${tier}_${name})
    elseif(ext STREQUAL ".sh")
      add_test(NAME ${tname} COMMAND bash ${src})
    else()
      add_test(NAME ${tname} COMMAND ${DDBPIPE_PY} ${src})
    endif()
    set_tests_properties(${tname} PROPERTIES LABELS ${tier} ENVIRONMENT "${DDBPIPE_TEST_ENV}"
                         TIMEOUT 600 SKIP_RETURN_CODE 77 WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
    if(tier STREQUAL "integration")
      set_tests_properties(${tname} PROPERTIES FIXTURES_REQUIRED ddblocal)
    endif()
  endforeach()
endfunction()

ddbpipe_register_tier(unit)
ddbpipe_register_tier(fault)
ddbpipe_register_tier(integration)

# The Kafka scale-out and replication tests run several ddbpipe processes beside a 3-broker cluster,
# and the adaptive-rate test measures a share of a granted rate against a Python double: they run
# alone, so they neither starve nor are starved by other tests' deadlines on 2 cores.
foreach(t integration.test_kafka_scaleout integration.test_kafka_replication fault.test_sink_adaptive)
  if(TEST ${t})
    set_tests_properties(${t} PROPERTIES RUN_SERIAL TRUE)
  endif()
endforeach()

# DynamoDB Local fixture: started once for the integration tier, stopped by
# the cleanup test (and by a watchdog if ctest itself dies).
add_test(NAME fixture.ddblocal_start
         COMMAND bash ${CMAKE_SOURCE_DIR}/scripts/ddblocal.sh start ${DDBPIPE_ENDPOINT_FILE})
add_test(NAME fixture.ddblocal_stop
         COMMAND bash ${CMAKE_SOURCE_DIR}/scripts/ddblocal.sh stop ${DDBPIPE_ENDPOINT_FILE})
set_tests_properties(fixture.ddblocal_start PROPERTIES FIXTURES_SETUP ddblocal LABELS integration)
set_tests_properties(fixture.ddblocal_stop PROPERTIES FIXTURES_CLEANUP ddblocal LABELS integration)

include(${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz.cmake OPTIONAL)
