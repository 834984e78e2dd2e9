add_library(rd_cluster STATIC integration/rd_cluster.c)
target_link_libraries(rd_cluster PUBLIC chat_test_support PkgConfig::CRITERION)
target_include_directories(rd_cluster PUBLIC integration)
target_compile_definitions(rd_cluster PRIVATE CHAT_BIN_DIR="${CMAKE_BINARY_DIR}/bin")
chat_target_warnings(rd_cluster)
target_compile_options(rd_cluster PRIVATE -Wno-missing-prototypes -Wno-strict-prototypes)

chat_add_test(NAME integration_roomd_flow SOURCES integration/test_roomd_flow.c
              LIBS rd_cluster TIMEOUT 240)
chat_add_test(NAME integration_roomd_failover SOURCES integration/test_roomd_failover.c
              LIBS rd_cluster TIMEOUT 300)
chat_add_test(NAME integration_roomd_robustness SOURCES integration/test_roomd_robustness.c
              LIBS rd_cluster TIMEOUT 240)
