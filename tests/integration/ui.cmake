# The web UI, the client protocol and deploy/cluster, tested from outside
# with Debian's Python packages (python3-websockets, python3-selenium,
# chromium): each test starts its own cluster with deploy/cluster on free
# ports and the programs of this build tree, and always stops it.
find_program(CHAT_PYTHON3 python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(NOT CHAT_PYTHON3)
    message(WARNING "/usr/bin/python3 not found: ui integration tests are not registered")
    return()
endif()

# They need every program of the cluster; until all have landed, skip them.
foreach(component registry roomd gateway)
    if(NOT EXISTS ${CMAKE_SOURCE_DIR}/${component}/CMakeLists.txt)
        message(STATUS "ui integration tests wait for ${component}/: not registered")
        return()
    endif()
endforeach()

function(chat_add_python_test name script timeout)
    add_test(NAME ${name}
             COMMAND ${CHAT_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/integration/${script})
    set_tests_properties(${name} PROPERTIES
        TIMEOUT ${timeout}
        RESOURCE_LOCK chat_cluster
        ENVIRONMENT "CHAT_CLUSTER_BIN=${CMAKE_BINARY_DIR}/bin;PYTHONDONTWRITEBYTECODE=1")
endfunction()

chat_add_python_test(integration_ui_protocol test_protocol.py 300)
chat_add_python_test(integration_ui_browser test_browser.py 420)
chat_add_python_test(integration_ui_browser_directory test_browser_directory.py 420)
chat_add_python_test(integration_ui_edge test_edge.py 300)
chat_add_python_test(integration_ui_cluster test_cluster.py 300)
# bench/bench-medians and bench/bench-ab on a deploy/cluster cluster.
if(TARGET chat-bench)
    chat_add_python_test(integration_ui_bench_scripts test_bench_scripts.py 420)
endif()
