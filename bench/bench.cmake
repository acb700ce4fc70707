# Benchmark programs (not tests): see bench/run_sink_bench.sh and docs/benchmarks.md.
add_executable(null_endpoint ${CMAKE_SOURCE_DIR}/bench/null_endpoint.c)
add_executable(gen_records ${CMAKE_SOURCE_DIR}/bench/gen_records.c)
add_executable(floor_client ${CMAKE_SOURCE_DIR}/bench/floor_client.c)
target_link_libraries(floor_client PRIVATE PkgConfig::CRYPTO)
add_executable(kafka_drain ${CMAKE_SOURCE_DIR}/bench/kafka_drain.c)
target_link_libraries(kafka_drain PRIVATE PkgConfig::RDKAFKA)
