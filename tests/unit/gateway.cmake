if(TARGET gateway_core)
    chat_add_test(NAME unit_gateway_wsframe SOURCES unit/test_gateway_wsframe.c LIBS chat_common TIMEOUT 30)
    chat_add_test(NAME unit_gateway_units SOURCES unit/test_gateway_units.c LIBS gateway_core TIMEOUT 30)
    chat_add_test(NAME unit_gateway_json SOURCES unit/test_gateway_json.c LIBS gateway_core TIMEOUT 30)
    chat_add_test(NAME unit_gateway_catalog SOURCES unit/test_gateway_catalog.c LIBS gateway_core
                  TIMEOUT 120)
    chat_add_test(NAME unit_gateway_origin SOURCES unit/test_gateway_origin.c LIBS gateway_core TIMEOUT 30)
endif()
