chat_add_test(NAME unit_registry_placement SOURCES unit/test_registry_placement.c
              LIBS registry_core TIMEOUT 30)
chat_add_test(NAME unit_registry_fsm SOURCES unit/test_registry_fsm.c
              LIBS registry_core chat_test_support TIMEOUT 60)
