chat_add_test(NAME integration_registry SOURCES integration/test_registry.c
              LIBS chat_test_support TIMEOUT 180)
chat_add_test(NAME integration_chatctl SOURCES integration/test_chatctl.c
              LIBS chat_test_support PkgConfig::CJSON TIMEOUT 120)
chat_add_test(NAME integration_registry_quorum
              SOURCES integration/test_registry_quorum.c integration/reg_cluster.c
              LIBS chat_test_support PkgConfig::CJSON TIMEOUT 300)
chat_add_test(NAME integration_registry_clients
              SOURCES integration/test_registry_clients.c integration/reg_cluster.c
              LIBS chat_test_support PkgConfig::CJSON TIMEOUT 180)
# The seeded fault test; CHAT_FAULT_SECONDS=600 for the long version.
chat_add_test(NAME integration_registry_faults
              SOURCES integration/test_registry_faults.c integration/reg_cluster.c
              LIBS chat_test_support TIMEOUT 300)
