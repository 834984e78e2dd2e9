# Warnings, sanitizers and the test helper shared by every target.

option(CHAT_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(CHAT_WERROR "Treat warnings as errors" ON)
option(CHAT_FUZZ "Build the libFuzzer harnesses of tests/fuzzers (clang; implies CHAT_SANITIZE)" OFF)

# Fuzzing: every target gets libFuzzer's coverage instrumentation, so the
# harnesses are guided through our code; only the harnesses link libFuzzer.
if(CHAT_FUZZ)
    if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
        message(FATAL_ERROR "CHAT_FUZZ needs clang (-DCMAKE_C_COMPILER=clang)")
    endif()
    set(CHAT_SANITIZE ON)
    add_compile_options(-fsanitize=fuzzer-no-link)
endif()

set(CHAT_WARNINGS -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes
    -Wmissing-prototypes -Wno-unused-parameter)
if(CHAT_WERROR)
    list(APPEND CHAT_WARNINGS -Werror)
endif()

if(CHAT_SANITIZE)
    add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                        -fno-sanitize-recover=undefined)
    add_link_options(-fsanitize=address,undefined)
endif()

# chat_target_warnings(target): our own code is held to the full warning set;
# generated protobuf-c sources are not.
function(chat_target_warnings target)
    target_compile_options(${target} PRIVATE ${CHAT_WARNINGS})
endfunction()

# chat_add_test(NAME name SOURCES ... LIBS ... [TIMEOUT s] [LABELS ...])
# A Criterion test executable registered with ctest. Every test has a timeout.
function(chat_add_test)
    cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
    if(NOT T_TIMEOUT)
        set(T_TIMEOUT 120)
    endif()
    add_executable(${T_NAME} ${T_SOURCES})
    set_target_properties(${T_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
    chat_target_warnings(${T_NAME})
    # Criterion's headers trip a few of our stricter warnings.
    target_compile_options(${T_NAME} PRIVATE -Wno-missing-prototypes -Wno-strict-prototypes)
    target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} PkgConfig::CRITERION)
    target_compile_definitions(${T_NAME} PRIVATE
        CHAT_BIN_DIR="${CMAKE_BINARY_DIR}/bin"
        CHAT_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
    add_test(NAME ${T_NAME} COMMAND ${T_NAME} --jobs 1 --timeout ${T_TIMEOUT})
    set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT})
    if(T_LABELS)
        set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}")
    endif()
endfunction()
