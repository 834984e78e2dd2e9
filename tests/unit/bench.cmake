chat_add_test(NAME unit_bench_hist SOURCES unit/test_bench_hist.c LIBS bench_core TIMEOUT 30)
chat_add_test(NAME unit_bench_baseline SOURCES unit/test_bench_baseline.c LIBS bench_core TIMEOUT 120)
chat_add_test(NAME unit_bench_scan SOURCES unit/test_bench_scan.c LIBS bench_core TIMEOUT 30)
chat_add_test(NAME unit_bench_track SOURCES unit/test_bench_track.c LIBS bench_core TIMEOUT 30)
chat_add_test(NAME unit_bench_report SOURCES unit/test_bench_report.c
              LIBS bench_core PkgConfig::CJSON TIMEOUT 30)
chat_add_test(NAME unit_bench_conn SOURCES unit/test_bench_conn.c LIBS bench_core TIMEOUT 30)
chat_add_test(NAME unit_bench_metrics SOURCES unit/test_bench_metrics.c LIBS bench_core TIMEOUT 30)
