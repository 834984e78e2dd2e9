if(TARGET gateway)
    chat_add_test(NAME integ_gateway_alone SOURCES integration/test_gateway_alone.c
                  LIBS chat_test_support TIMEOUT 240)
endif()
