if(TARGET gateway)
    chat_add_test(NAME integ_gateway_alone SOURCES integration/test_gateway_alone.c
                  LIBS chat_test_support TIMEOUT 240)
    chat_add_test(NAME integ_gateway_fake SOURCES integration/test_gateway_fake.c
                  LIBS chat_test_support TIMEOUT 240)
endif()
# The rest needs the real cluster: registry and roomd binaries.
if(TARGET gateway AND TARGET registry AND TARGET roomd)
    chat_add_test(NAME integ_gateway_cluster
                  SOURCES integration/test_gateway_cluster.c integration/gw_cluster.c
                  LIBS chat_test_support TIMEOUT 900)
    chat_add_test(NAME integ_gateway_directory
                  SOURCES integration/test_gateway_directory.c integration/gw_cluster.c
                  LIBS chat_test_support TIMEOUT 900)
endif()
