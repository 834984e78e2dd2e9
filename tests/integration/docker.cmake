# The cluster in Docker containers (deploy/): builds the image, runs
# deploy/docker-compose.yml with three roomds plus two roomd-only projects,
# and checks chat, kills, crashes and a registry restart through the
# published port. Skipped (exit 77) without a Docker engine or with
# CHAT_SKIP_DOCKER=1. Only in the plain pass: the image compiles its own
# build, so the sanitizer pass would run the same thing twice.
if(CHAT_SANITIZE)
    return()
endif()
# Debian's python3 (with python3-websockets), not whatever python3 is first
# on PATH.
find_program(CHAT_DEBIAN_PYTHON3 python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(NOT CHAT_DEBIAN_PYTHON3)
    find_program(CHAT_DEBIAN_PYTHON3 python3 REQUIRED)
endif()
add_test(NAME docker_cluster_chats_and_survives_kills_crashes_and_registry_restarts
    COMMAND ${CHAT_DEBIAN_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/integration/docker_cluster.py)
set_tests_properties(docker_cluster_chats_and_survives_kills_crashes_and_registry_restarts
    PROPERTIES TIMEOUT 1500 SKIP_RETURN_CODE 77 LABELS docker
    ENVIRONMENT "CHAT_SOURCE_DIR=${CMAKE_SOURCE_DIR};CHAT_DOCKER_TEST_BUDGET_S=1380")
