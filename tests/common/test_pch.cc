// The translation unit that builds dpu_test_pch's precompiled header (tests/CMakeLists.txt), which
// every dpu_add_test target reuses. It defines nothing.
