# The smoke run of chat-bench needs the whole cluster.
if(TARGET chat-bench AND TARGET gateway AND TARGET registry AND TARGET roomd)
    chat_add_test(NAME integ_bench_smoke
                  SOURCES integration/test_bench_smoke.c integration/gw_cluster.c
                  LIBS chat_test_support TIMEOUT 600)
endif()
