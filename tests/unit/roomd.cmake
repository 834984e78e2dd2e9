chat_add_test(NAME unit_roomd_store SOURCES unit/test_roomd_store.c
              LIBS roomd_core chat_test_support TIMEOUT 60)
chat_add_test(NAME unit_roomd_room SOURCES unit/test_roomd_room.c
              LIBS roomd_core chat_test_support TIMEOUT 60)
chat_add_test(NAME unit_roomd_dedup SOURCES unit/test_roomd_dedup.c
              LIBS roomd_core TIMEOUT 30)
chat_add_test(NAME unit_roomd_host SOURCES unit/test_roomd_host.c
              LIBS roomd_core chat_test_support TIMEOUT 60)
chat_add_test(NAME unit_roomd_link SOURCES unit/test_roomd_link.c
              LIBS roomd_core chat_test_support TIMEOUT 60)
