chat_add_test(NAME unit_common_text SOURCES unit/test_common_text.c LIBS chat_common TIMEOUT 30)
chat_add_test(NAME unit_common_config SOURCES unit/test_common_config.c LIBS chat_common TIMEOUT 30)
chat_add_test(NAME unit_common_wire SOURCES unit/test_common_wire.c LIBS chat_common TIMEOUT 30)
chat_add_test(NAME unit_common_error SOURCES unit/test_common_error.c LIBS chat_common TIMEOUT 30)
