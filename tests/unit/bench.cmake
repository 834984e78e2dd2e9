chat_add_test(NAME unit_bench_hist SOURCES unit/test_bench_hist.c LIBS bench_core TIMEOUT 30)
chat_add_test(NAME unit_bench_baseline SOURCES unit/test_bench_baseline.c LIBS bench_core TIMEOUT 120)
