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
# tests/run on a new machine: a clean container of deploy/base-image's image
# installs the packages, builds both passes and runs a few quick tests
# (integration/docker_fresh_machine.py). A package missing from tests/run's
# list fails here. Skipped like the test above.
add_test(NAME docker_fresh_machine_installs_builds_and_tests_both_passes
    COMMAND ${CHAT_DEBIAN_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/integration/docker_fresh_machine.py)
set_tests_properties(docker_fresh_machine_installs_builds_and_tests_both_passes
    PROPERTIES TIMEOUT 1000 SKIP_RETURN_CODE 77 LABELS docker
    ENVIRONMENT "CHAT_SOURCE_DIR=${CMAKE_SOURCE_DIR};CHAT_FRESH_BUDGET_S=900")
# deploy/stack.yml on a one-node swarm (integration/docker_swarm.py): deploy,
# chat through the ingress, scale roomds to 3, a killed roomd task comes
# back as the same node with its rooms, stack rm leaves nothing.
add_test(NAME docker_swarm_stack_scales_roomds_and_brings_a_killed_task_back
    COMMAND ${CHAT_DEBIAN_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/integration/docker_swarm.py)
set_tests_properties(docker_swarm_stack_scales_roomds_and_brings_a_killed_task_back
    PROPERTIES TIMEOUT 900 SKIP_RETURN_CODE 77 LABELS docker
    ENVIRONMENT "CHAT_SOURCE_DIR=${CMAKE_SOURCE_DIR};CHAT_DOCKER_TEST_BUDGET_S=840")
